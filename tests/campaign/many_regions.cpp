// many_regions: a restartable MPI program with many protected regions, for the fault campaign.
//
//   mpirun -np 4 many_regions [--steps S] [--checkpoint-every K] [--pause-ms MS] [--single-level]
//
// Each rank protects 60 or more regions: a scalar, a vector, a 2-D and a 3-D array of every element type,
// 4-D and 5-D arrays, opaque bytes (empty, one byte, odd sizes), empty regions, sizes that differ by
// rank, a region that only rank 0 has, and one field of 20 000 doubles. Every step changes a few
// elements of every region, by integer arithmetic only (floats are updated with exactly representable
// values), so the state after S steps depends on S alone. Like heat2d, it restores the newest
// checkpoint at start, checkpoints every K steps, calls Session::should_stop() every 10 steps (progress
// for `lazarus run`, and a final checkpoint when the launcher asks), and ends with
// `checksum: <16 hex digits>`, a hash of every region of every rank: an interrupted and resumed run
// must print the same one as an uninterrupted run with the same rank count.
// `--single-level` clears LAZARUS_LOCAL_DIR, so that under `lazarus run` (which always sets it) the
// job checkpoints to the global level only.
#include <mpi.h>
#include <xxhash.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <lazarus/lazarus.hpp>

namespace {

struct Settings {
  std::int64_t steps = 2000;
  std::int64_t checkpoint_every = 50;
  int pause_ms = 0;
  bool single_level = false;
};

constexpr std::int64_t kStopCheckEvery = 10;

// A deterministic 64-bit mix (splitmix64's finalizer).
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// One protected region of any type: its storage, and how a step changes it.
class Region {
 public:
  virtual ~Region() = default;
  virtual void protect(lazarus::Session& session) = 0;
  virtual void step(std::int64_t step) = 0;
  virtual std::uint64_t hash() const = 0;
};

template <class T>
class Array final : public Region {
 public:
  Array(std::string name, std::vector<std::size_t> shape, std::uint64_t seed)
      : name_(std::move(name)), shape_(std::move(shape)), seed_(seed) {
    std::size_t count = 1;
    for (std::size_t extent : shape_) count *= extent;
    data_.resize(count);
    for (std::size_t i = 0; i < count; ++i) data_[i] = value(mix(seed_ + i));
  }
  void protect(lazarus::Session& session) override { session.protect(name_, data_, shape_); }
  void step(std::int64_t step) override {
    if (data_.empty()) return;
    // A few elements per step, chosen by the step: after a restore the same ones change.
    for (std::uint64_t k = 0; k < 3; ++k) {
      const std::uint64_t r = mix(seed_ ^ (static_cast<std::uint64_t>(step) * 4 + k));
      T& x = data_[r % data_.size()];
      if constexpr (std::is_floating_point_v<T>) {
        x = static_cast<T>(static_cast<double>(r % 1024) / 8.0 - static_cast<double>(x) / 2.0);  // exact in f32 and f64
      } else {
        using U = std::make_unsigned_t<T>;
        x = static_cast<T>(static_cast<U>(static_cast<U>(x) * U(5) + static_cast<U>(r)));
      }
    }
  }
  std::uint64_t hash() const override {
    return XXH3_64bits_withSeed(data_.data(), data_.size() * sizeof(T), XXH3_64bits(name_.data(), name_.size()));
  }

 private:
  static T value(std::uint64_t r) {
    if constexpr (std::is_floating_point_v<T>) {
      return static_cast<T>(static_cast<double>(r % 4096) / 16.0);
    } else {
      return static_cast<T>(r);
    }
  }
  std::string name_;
  std::vector<std::size_t> shape_;
  std::uint64_t seed_;
  std::vector<T> data_;
};

template <class T>
class Scalar final : public Region {
 public:
  Scalar(std::string name, std::uint64_t seed) : name_(std::move(name)), seed_(seed) {
    value_ = static_cast<T>(seed % 97);
  }
  void protect(lazarus::Session& session) override { session.protect(name_, value_); }
  void step(std::int64_t step) override {
    if (step % 7 != static_cast<std::int64_t>(seed_ % 7)) return;
    if constexpr (std::is_floating_point_v<T>) {
      value_ = static_cast<T>(static_cast<double>(step % 512) / 4.0);
    } else {
      using U = std::make_unsigned_t<T>;
      value_ = static_cast<T>(static_cast<U>(static_cast<U>(value_) * U(3) + U(1)));
    }
  }
  std::uint64_t hash() const override {
    return XXH3_64bits_withSeed(&value_, sizeof value_, XXH3_64bits(name_.data(), name_.size()));
  }

 private:
  std::string name_;
  std::uint64_t seed_;
  T value_{};
};

class Bytes final : public Region {
 public:
  Bytes(std::string name, std::size_t size, std::uint64_t seed) : name_(std::move(name)), seed_(seed), data_(size) {
    for (std::size_t i = 0; i < size; ++i) data_[i] = static_cast<unsigned char>(mix(seed + i));
  }
  void protect(lazarus::Session& session) override { session.protect_bytes(name_, data_.data(), data_.size()); }
  void step(std::int64_t step) override {
    if (data_.empty()) return;
    const std::uint64_t r = mix(seed_ ^ static_cast<std::uint64_t>(step));
    data_[r % data_.size()] ^= static_cast<unsigned char>(r >> 32);
  }
  std::uint64_t hash() const override {
    return XXH3_64bits_withSeed(data_.data(), data_.size(), XXH3_64bits(name_.data(), name_.size()));
  }

 private:
  std::string name_;
  std::uint64_t seed_;
  std::vector<unsigned char> data_;
};

// The regions of one rank. Names say what each is; sizes differ by rank where noted.
std::vector<std::unique_ptr<Region>> make_regions(int rank) {
  std::vector<std::unique_ptr<Region>> regions;
  std::uint64_t seed = 1000003ULL * static_cast<std::uint64_t>(rank + 1);
  const auto r = static_cast<std::size_t>(rank);
  auto add_type = [&]<class T>(const char* type, T) {
    const std::string t(type);
    regions.push_back(std::make_unique<Scalar<T>>("scalar_" + t, ++seed));
    const std::size_t length = 1 + 37 * r + seed % 300;
    regions.push_back(std::make_unique<Array<T>>("vector_" + t, std::vector<std::size_t>{length}, ++seed));
    regions.push_back(std::make_unique<Array<T>>("matrix_" + t, std::vector<std::size_t>{13, 7 + r}, ++seed));
    regions.push_back(std::make_unique<Array<T>>("cube_" + t, std::vector<std::size_t>{3, 5, 4}, ++seed));
    regions.push_back(std::make_unique<Array<T>>("empty_" + t, std::vector<std::size_t>{0}, ++seed));
  };
  add_type("i8", std::int8_t{});
  add_type("u8", std::uint8_t{});
  add_type("i16", std::int16_t{});
  add_type("u16", std::uint16_t{});
  add_type("i32", std::int32_t{});
  add_type("u32", std::uint32_t{});
  add_type("i64", std::int64_t{});
  add_type("u64", std::uint64_t{});
  add_type("f32", float{});
  add_type("f64", double{});
  regions.push_back(std::make_unique<Array<double>>("field", std::vector<std::size_t>{20000}, ++seed));
  regions.push_back(std::make_unique<Array<float>>("tensor4", std::vector<std::size_t>{2, 3, 4, 5}, ++seed));
  regions.push_back(std::make_unique<Array<std::int32_t>>("tensor5", std::vector<std::size_t>{2, 2, 3, 2, 4}, ++seed));
  regions.push_back(std::make_unique<Array<std::uint16_t>>("long_rows", std::vector<std::size_t>{2, 3000}, ++seed));
  for (std::size_t size : {std::size_t{0}, std::size_t{1}, std::size_t{100}, 5000 + r, std::size_t{65537}}) {
    regions.push_back(std::make_unique<Bytes>("bytes_" + std::to_string(size == 5000 + r ? 5000 : size), size, ++seed));
  }
  if (rank == 0) regions.push_back(std::make_unique<Array<std::int64_t>>("rank0_only", std::vector<std::size_t>{64}, ++seed));
  return regions;
}

[[noreturn]] void fail(int rank, const char* what) {
  if (rank != 0) std::this_thread::sleep_for(std::chrono::seconds(2));
  std::fprintf(stderr, "many_regions: error: %s\n", what);
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::abort();
}

void say(int rank, const std::string& line) {
  if (rank != 0) return;
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

int run(const Settings& s, int rank) {
  lazarus::Options options = lazarus::Options::from_env();
  if (s.single_level) options.local_dir.clear();
  lazarus::Session session(MPI_COMM_WORLD, options);
  auto regions = make_regions(rank);
  std::int64_t step = 0;
  session.protect("step", step);
  for (auto& region : regions) region->protect(session);
  int count = static_cast<int>(regions.size()) + 1;
  MPI_Allreduce(MPI_IN_PLACE, &count, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  say(rank, "many_regions: " + std::to_string(count) + " regions per rank (at least), " + std::to_string(s.steps) +
                " steps, checkpoint every " + std::to_string(s.checkpoint_every));

  if (const auto version = session.restore()) {
    say(rank, "resumed from checkpoint version " + std::to_string(*version) + " at step " + std::to_string(step));
  } else {
    say(rank, "starting from scratch");
  }
  std::uint64_t version = 0;
  std::int64_t checkpointed_at = -1;
  const auto checkpoint = [&] {
    version = session.checkpoint();
    checkpointed_at = step;
    say(rank, "checkpoint version " + std::to_string(version) + " at step " + std::to_string(step));
  };
  while (step < s.steps) {
    ++step;
    for (auto& region : regions) region->step(step);
    if (s.pause_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(s.pause_ms));
    if (s.checkpoint_every > 0 && step % s.checkpoint_every == 0 && step < s.steps) checkpoint();
    if (step % kStopCheckEvery == 0 && step < s.steps && session.should_stop()) {
      if (checkpointed_at != step) checkpoint();
      say(rank, "stopping at step " + std::to_string(step) + " on the launcher's request (final checkpoint version " +
                    std::to_string(version) + ")");
      return 0;
    }
  }

  std::vector<std::uint64_t> hashes;
  for (const auto& region : regions) hashes.push_back(region->hash());
  std::uint64_t mine = XXH3_64bits(hashes.data(), hashes.size() * sizeof(std::uint64_t));
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  std::vector<std::uint64_t> all(static_cast<std::size_t>(size));
  MPI_Gather(&mine, 1, MPI_UINT64_T, all.data(), 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
  if (rank == 0) {
    char line[64];
    std::snprintf(line, sizeof line, "checksum: %016llx",
                  static_cast<unsigned long long>(XXH3_64bits(all.data(), all.size() * sizeof(std::uint64_t))));
    say(rank, line);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  Settings s;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--steps" && has_value) {
      s.steps = std::atoll(argv[++i]);
    } else if (arg == "--checkpoint-every" && has_value) {
      s.checkpoint_every = std::atoll(argv[++i]);
    } else if (arg == "--pause-ms" && has_value) {
      s.pause_ms = std::atoi(argv[++i]);
    } else if (arg == "--single-level") {
      s.single_level = true;
    } else {
      if (rank == 0) std::fprintf(stderr, "many_regions: unknown argument '%s'\n", arg.c_str());
      MPI_Finalize();
      return 2;
    }
  }
  int status = 0;
  try {
    status = run(s, rank);
  } catch (const std::exception& e) {
    fail(rank, e.what());
  }
  MPI_Finalize();
  return status;
}
