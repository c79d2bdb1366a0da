// Checkpoint and restore through the public API with 4 ranks: every type and shape, several versions,
// restore(version), versions(), retention, need_checkpoint().
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstring>
#include <thread>

#include "mpi_test_support.hpp"

namespace lazarus::testing {
namespace {

// One protected region of each element type with its own shape; filled for a version, compared after.
// Fills `target` in place once it has its size, so that a protected buffer keeps its address.
template <class T>
void put(std::vector<T>& target, const std::vector<T>& values) {
  if (target.size() == values.size()) {
    std::copy(values.begin(), values.end(), target.begin());
  } else {
    target = values;
  }
}

struct AllTypes {
  std::vector<std::int8_t> i8;
  std::vector<std::uint8_t> u8;
  std::vector<std::int16_t> i16;
  std::vector<std::uint16_t> u16;
  std::vector<std::int32_t> i32;
  std::vector<std::uint32_t> u32;
  std::vector<std::int64_t> i64;
  std::vector<std::uint64_t> u64;
  std::vector<float> f32;
  std::vector<double> f64;
  std::vector<double> empty;
  std::array<unsigned char, 77> opaque{};
  double scalar = 0;
  std::int32_t counter = 0;

  void fill(std::uint64_t version) {
    const int rank = world_rank();
    put(i8, samples<std::int8_t>(1001, rank, version));              // 1-D, odd length
    put(u8, samples<std::uint8_t>(70000, rank, version));             // 1-D, several chunks
    put(i16, samples<std::int16_t>(3 * 41 * 17, rank, version));      // 3-D
    put(u16, samples<std::uint16_t>(129 * 257, rank, version));       // 2-D, partial edge chunks
    put(i32, samples<std::int32_t>(40000, rank, version));
    put(u32, samples<std::uint32_t>(7, rank, version));
    put(i64, samples<std::int64_t>(300 * 70, rank, version));         // 2-D
    put(u64, samples<std::uint64_t>(12345, rank, version));
    put(f32, samples<float>(2 * 3 * 5 * 7 * 11, rank, version));      // 5-D
    put(f64, samples<double>(100 * 101, rank, version));              // 2-D
    empty.clear();
    for (std::size_t i = 0; i < opaque.size(); ++i) opaque[i] = static_cast<unsigned char>(i * 31 + rank + version);
    scalar = 3.25 * static_cast<double>(version) + rank;
    counter = static_cast<std::int32_t>(version * 10 + static_cast<std::uint64_t>(rank));
  }

  void clear() {
    std::fill(i8.begin(), i8.end(), 0);
    std::fill(u8.begin(), u8.end(), 0);
    std::fill(i16.begin(), i16.end(), 0);
    std::fill(u16.begin(), u16.end(), 0);
    std::fill(i32.begin(), i32.end(), 0);
    std::fill(u32.begin(), u32.end(), 0);
    std::fill(i64.begin(), i64.end(), 0);
    std::fill(u64.begin(), u64.end(), 0);
    std::fill(f32.begin(), f32.end(), 0.0f);
    std::fill(f64.begin(), f64.end(), 0.0);
    opaque.fill(0);
    scalar = 0;
    counter = 0;
  }

  void protect_in(Session& session) {
    session.protect("i8", i8);
    session.protect("u8", u8);
    session.protect("i16", i16, {3, 41, 17});
    session.protect("u16", u16, {129, 257});
    session.protect("i32", i32);
    session.protect("u32", std::span(u32));
    session.protect("i64", i64, {300, 70});
    session.protect("u64", u64);
    session.protect("f32", f32, {2, 3, 5, 7, 11});
    session.protect("f64", f64, {100, 101});
    session.protect("empty", empty);
    session.protect_bytes("opaque", opaque.data(), opaque.size());
    session.protect("scalar", scalar);
    session.protect("counter", counter);
  }

  // Bitwise comparison with what fill(version) produces.
  void expect_version(std::uint64_t version) const {
    AllTypes expected;
    expected.fill(version);
    auto same = [](const auto& a, const auto& b) {
      return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(a[0])) == 0;
    };
    EXPECT_TRUE(same(i8, expected.i8));
    EXPECT_TRUE(same(u8, expected.u8));
    EXPECT_TRUE(same(i16, expected.i16));
    EXPECT_TRUE(same(u16, expected.u16));
    EXPECT_TRUE(same(i32, expected.i32));
    EXPECT_TRUE(same(u32, expected.u32));
    EXPECT_TRUE(same(i64, expected.i64));
    EXPECT_TRUE(same(u64, expected.u64));
    EXPECT_TRUE(same(f32, expected.f32));
    EXPECT_TRUE(same(f64, expected.f64));
    EXPECT_TRUE(same(opaque, expected.opaque));
    EXPECT_EQ(scalar, expected.scalar);
    EXPECT_EQ(counter, expected.counter);
  }
};

TEST(RoundTrip, RestoresEveryTypeAndShapeBitExact) {
  SharedScratchDir scratch;
  AllTypes data;
  data.fill(1);
  Session session(MPI_COMM_WORLD, options_in(scratch.path()));
  data.protect_in(session);
  const std::uint64_t version = session.checkpoint();
  EXPECT_EQ(version, 1u);
  data.clear();
  const auto restored = session.restore();
  ASSERT_TRUE(restored.has_value());
  EXPECT_EQ(*restored, 1u);
  data.expect_version(1);
}

TEST(RoundTrip, RestoresWithoutCompressionToo) {
  SharedScratchDir scratch;
  AllTypes data;
  data.fill(4);
  Options options = options_in(scratch.path());
  options.compression_level = 0;
  Session session(MPI_COMM_WORLD, options);
  data.protect_in(session);
  session.checkpoint();
  data.clear();
  EXPECT_EQ(session.restore(), std::optional<std::uint64_t>(1));
  data.expect_version(4);
}

TEST(RoundTrip, ANewSessionRestoresTheNewestVersionAndEachOlderOneOnRequest) {
  SharedScratchDir scratch;
  AllTypes data;
  {
    Session writer(MPI_COMM_WORLD, options_in(scratch.path()));
    data.fill(1);
    data.protect_in(writer);
    for (std::uint64_t v = 1; v <= 3; ++v) {
      data.fill(v);
      EXPECT_EQ(writer.checkpoint(), v);
    }
  }
  Session reader(MPI_COMM_WORLD, options_in(scratch.path()));
  data.fill(0);
  data.protect_in(reader);
  EXPECT_EQ(reader.versions(), (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_EQ(reader.restore(), std::optional<std::uint64_t>(3));
  data.expect_version(3);
  for (std::uint64_t v = 1; v <= 3; ++v) {
    data.clear();
    EXPECT_EQ(reader.restore(v), v);
    data.expect_version(v);
  }
}

TEST(RoundTrip, RetentionKeepsTheNewestVersionsOnly) {
  SharedScratchDir scratch;
  Options options = options_in(scratch.path());
  options.keep = 2;
  Session session(MPI_COMM_WORLD, options);
  std::vector<double> field = samples<double>(5000, world_rank(), 0);
  session.protect("field", field);
  for (int i = 0; i < 5; ++i) session.checkpoint();
  EXPECT_EQ(session.versions(), (std::vector<std::uint64_t>{4, 5}));
  MPI_Barrier(MPI_COMM_WORLD);
  EXPECT_FALSE(std::filesystem::exists(scratch.path() / "test" / "v0000000003"));
  EXPECT_TRUE(std::filesystem::exists(scratch.path() / "test" / "v0000000004" / "manifest.json"));
}

TEST(RoundTrip, RestoreWithoutAnyCheckpointReturnsNothing) {
  SharedScratchDir scratch;
  Session session(MPI_COMM_WORLD, options_in(scratch.path()));
  double value = 42;
  session.protect("value", value);
  EXPECT_EQ(session.restore(), std::nullopt);
  EXPECT_TRUE(session.versions().empty());
  EXPECT_THROW(session.restore(1), NoCheckpoint);
  EXPECT_EQ(value, 42);
}

TEST(RoundTrip, RanksMayProtectDifferentRegions) {
  SharedScratchDir scratch;
  Session session(MPI_COMM_WORLD, options_in(scratch.path()));
  std::vector<int> mine(static_cast<std::size_t>(100 + world_rank()), world_rank());
  session.protect("rank_" + std::to_string(world_rank()), mine);
  session.checkpoint();
  std::fill(mine.begin(), mine.end(), -1);
  EXPECT_EQ(session.restore(), std::optional<std::uint64_t>(1));
  EXPECT_EQ(mine, std::vector<int>(mine.size(), world_rank()));
}

TEST(NeedCheckpoint, FollowsTheIntervalOnEveryRankAlike) {
  SharedScratchDir scratch;
  Options options = options_in(scratch.path());
  options.interval_seconds = 0.3;
  Session session(MPI_COMM_WORLD, options);
  int value = 1;
  session.protect("value", value);
  EXPECT_FALSE(session.need_checkpoint());
  // Only rank 0's clock counts: the others do not wait, yet must get the same answer.
  if (world_rank() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(400));
  EXPECT_TRUE(session.need_checkpoint());
  session.checkpoint();
  EXPECT_FALSE(session.need_checkpoint());

  Session never(MPI_COMM_WORLD, options_in(scratch.path(), "never"));
  if (world_rank() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(never.need_checkpoint());
}

}  // namespace
}  // namespace lazarus::testing
