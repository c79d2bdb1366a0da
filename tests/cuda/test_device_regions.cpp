// Device regions (Session::protect_device) with 4 ranks sharing the machine's GPUs (by local rank).
// Where no CUDA device is usable (CI: the driver is missing), the first test checks that
// protect_device says so, and the others skip, saying why.
#include <cuda_runtime_api.h>
#include <mpi.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "../mpi/mpi_test_support.hpp"

namespace {

namespace fs = std::filesystem;
using lazarus::Error;
using lazarus::MismatchError;
using lazarus::Mode;
using lazarus::Options;
using lazarus::Session;
using lazarus::testing::overwrite;
using lazarus::testing::samples;
using lazarus::testing::SharedScratchDir;
using lazarus::testing::throw_on_ranks;
using lazarus::testing::world_rank;
using lazarus::testing::world_size;

// Why no device is usable here, or nothing.
std::optional<std::string> no_device() {
  int devices = 0;
  const cudaError_t status = cudaGetDeviceCount(&devices);
  if (status != cudaSuccess) return std::string("no usable CUDA device: ") + cudaGetErrorString(status);
  if (devices == 0) return std::string("no CUDA device");
  cudaSetDevice(world_rank() % devices);
  return std::nullopt;
}

#define SKIP_WITHOUT_DEVICE()                                                  \
  if (const auto why = no_device()) GTEST_SKIP() << *why << " (GPU tests need one)"

template <class T>
class DeviceArray {
 public:
  explicit DeviceArray(std::size_t count) : count_(count) {
    if (cudaMalloc(reinterpret_cast<void**>(&data_), count * sizeof(T)) != cudaSuccess) throw std::bad_alloc();
  }
  ~DeviceArray() { cudaFree(data_); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  T* get() const { return data_; }
  void upload(const std::vector<T>& values) {
    ASSERT_EQ(cudaMemcpy(data_, values.data(), count_ * sizeof(T), cudaMemcpyHostToDevice), cudaSuccess);
  }
  std::vector<T> download() const {
    std::vector<T> values(count_);
    EXPECT_EQ(cudaMemcpy(values.data(), data_, count_ * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
    return values;
  }
  void clear() { ASSERT_EQ(cudaMemset(data_, 0, count_ * sizeof(T)), cudaSuccess); }

 private:
  T* data_ = nullptr;
  std::size_t count_;
};

TEST(DeviceRegions, ProtectDeviceRefusesWhatIsNotUsableDeviceMemory) {
  SharedScratchDir scratch;
  Session session(MPI_COMM_WORLD, lazarus::testing::options_in(scratch.path()));
  std::vector<double> host(10);
  if (const auto why = no_device()) {
    const auto [ranks, message] = throw_on_ranks<Error>([&] { session.protect_device("field", host.data(), host.size()); });
    EXPECT_EQ(ranks, world_size());
    EXPECT_NE(message.find("CUDA"), std::string::npos) << message;
    return;
  }
  EXPECT_THROW(session.protect_device("field", host.data(), host.size()), MismatchError);
}

template <class T>
void round_trip_one_type(const fs::path& dir, const std::string& name) {
  const std::size_t count = 70001 + static_cast<std::size_t>(world_rank());  // several chunks, a partial one
  const std::vector<T> values = samples<T>(count, world_rank(), 1);
  DeviceArray<T> device(count);
  device.upload(values);
  Options options = lazarus::testing::options_in(dir, name);
  {
    Session session(MPI_COMM_WORLD, options);
    session.protect_device(name, device.get(), count);
    session.checkpoint();
  }
  device.clear();
  Session session(MPI_COMM_WORLD, options);
  session.protect_device(name, device.get(), count);
  ASSERT_EQ(session.restore(), std::optional<std::uint64_t>(1));
  EXPECT_EQ(device.download(), values) << name;
}

TEST(DeviceRegions, EveryTypeRoundTripsThroughTheDevice) {
  SKIP_WITHOUT_DEVICE();
  SharedScratchDir scratch;
  round_trip_one_type<std::int8_t>(scratch.path(), "i8");
  round_trip_one_type<std::uint8_t>(scratch.path(), "u8");
  round_trip_one_type<std::int16_t>(scratch.path(), "i16");
  round_trip_one_type<std::uint16_t>(scratch.path(), "u16");
  round_trip_one_type<std::int32_t>(scratch.path(), "i32");
  round_trip_one_type<std::uint32_t>(scratch.path(), "u32");
  round_trip_one_type<std::int64_t>(scratch.path(), "i64");
  round_trip_one_type<std::uint64_t>(scratch.path(), "u64");
  round_trip_one_type<float>(scratch.path(), "f32");
  round_trip_one_type<double>(scratch.path(), "f64");
}

TEST(DeviceRegions, DeviceAndHostCheckpointsRestoreIntoEitherKind) {
  SKIP_WITHOUT_DEVICE();
  SharedScratchDir scratch;
  const std::size_t count = 50000;
  const std::vector<double> values = samples<double>(count, world_rank(), 3);
  DeviceArray<double> device(count);
  device.upload(values);
  const Options options = lazarus::testing::options_in(scratch.path());
  {  // version 1 from the device, 2-D
    Session session(MPI_COMM_WORLD, options);
    session.protect_device("field", device.get(), count, {250, 200});
    session.checkpoint();
  }
  // The manifest says where the data came from.
  if (world_rank() == 0) {
    std::ifstream manifest(scratch.path() / "test" / "v0000000001" / "manifest.json");
    std::stringstream text;
    text << manifest.rdbuf();
    EXPECT_NE(text.str().find("\"origin\": \"device\""), std::string::npos);
  }
  std::vector<double> host(count, 0.0);
  {  // into host memory
    Session session(MPI_COMM_WORLD, options);
    session.protect("field", host, {250, 200});
    ASSERT_EQ(session.restore(), std::optional<std::uint64_t>(1));
    EXPECT_EQ(host, values);
    overwrite(host, samples<double>(count, world_rank(), 4));  // in place: the region keeps its address
    session.checkpoint();  // version 2, from the host
  }
  device.clear();
  Session session(MPI_COMM_WORLD, options);
  session.protect_device("field", device.get(), count, {250, 200});
  ASSERT_EQ(session.restore(), std::optional<std::uint64_t>(2));
  EXPECT_EQ(device.download(), samples<double>(count, world_rank(), 4));
}

TEST(DeviceRegions, AsyncCheckpointsHoldTheDeviceValuesWhenCheckpointReturned) {
  SKIP_WITHOUT_DEVICE();
  SharedScratchDir scratch;
  Options options = lazarus::testing::options_in(scratch.path());
  options.mode = Mode::async;
  const std::size_t count = 300000;
  DeviceArray<double> device(count);
  const auto [refused, why] = throw_on_ranks<lazarus::ConfigError>([&] { Session probe(MPI_COMM_WORLD, options); });
  if (refused > 0) GTEST_SKIP() << "async mode is refused in this build: " << why;
  {
    Session session(MPI_COMM_WORLD, options);
    session.protect_device("field", device.get(), count);
    for (std::uint64_t version = 1; version <= 3; ++version) {
      device.upload(samples<double>(count, world_rank(), version));
      ASSERT_EQ(session.checkpoint(), version);
      device.clear();  // overwritten the moment checkpoint() returns
    }
  }
  Session session(MPI_COMM_WORLD, options);
  session.protect_device("field", device.get(), count);
  ASSERT_EQ(session.restore(2), 2u);
  EXPECT_EQ(device.download(), samples<double>(count, world_rank(), 2));
  ASSERT_EQ(session.restore(), std::optional<std::uint64_t>(3));
  EXPECT_EQ(device.download(), samples<double>(count, world_rank(), 3));
}

}  // namespace
