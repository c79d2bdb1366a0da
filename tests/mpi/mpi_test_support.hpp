#pragma once
// Helpers shared by the MPI tests: a scratch folder every rank agrees on, and deterministic data.
#include <mpi.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <lazarus/lazarus.hpp>

namespace lazarus::testing {

inline int world_rank() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

inline int world_size() {
  int size = 0;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

// A fresh folder chosen by rank 0, removed (by rank 0) when the test ends.
class SharedScratchDir {
 public:
  SharedScratchDir() {
    char name[256] = {};
    if (world_rank() == 0) {
      std::string pattern = (std::filesystem::temp_directory_path() / "lazarus-mpi-test-XXXXXX").string();
      if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
      pattern.copy(name, sizeof name - 1);
    }
    MPI_Bcast(name, sizeof name, MPI_CHAR, 0, MPI_COMM_WORLD);
    path_ = name;
  }
  ~SharedScratchDir() {
    MPI_Barrier(MPI_COMM_WORLD);
    if (world_rank() == 0) std::filesystem::remove_all(path_);
  }
  SharedScratchDir(const SharedScratchDir&) = delete;
  SharedScratchDir& operator=(const SharedScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline Options options_in(const std::filesystem::path& dir, std::string job = "test") {
  Options options;
  options.dir = dir;
  options.job = std::move(job);
  options.keep = 10;
  options.chunk_bytes = 64 << 10;  // small chunks: several per region, partial edge chunks
  return options;
}

// Value i of a region on `rank` at `version`: spans the type's range, differs per rank and version.
template <class T>
T sample(std::size_t i, int rank, std::uint64_t version) {
  const double x = std::sin(0.37 * static_cast<double>(i) + rank) * 1000.0 + static_cast<double>(version);
  if constexpr (std::is_floating_point_v<T>) {
    if (i % 97 == 1) return std::numeric_limits<T>::max();
    if (i % 97 == 2) return std::numeric_limits<T>::lowest();
    if (i % 97 == 3) return std::numeric_limits<T>::denorm_min();
    return static_cast<T>(x);
  } else {
    if (i % 97 == 1) return std::numeric_limits<T>::max();
    if (i % 97 == 2) return std::numeric_limits<T>::min();
    using Wide = std::conditional_t<std::is_signed_v<T>, long long, unsigned long long>;
    return static_cast<T>(static_cast<Wide>(static_cast<long long>(x) * 7919 + static_cast<long long>(i)));
  }
}

template <class T>
std::vector<T> samples(std::size_t count, int rank, std::uint64_t version) {
  std::vector<T> values(count);
  for (std::size_t i = 0; i < count; ++i) values[i] = sample<T>(i, rank, version);
  return values;
}

// What a collective call threw across the ranks: how many ranks threw exactly E, and this rank's message.
struct CollectiveThrow {
  int ranks = 0;
  std::string message;
};

template <class E, class F>
CollectiveThrow throw_on_ranks(F&& call) {
  CollectiveThrow result;
  int threw = 0;
  try {
    call();
  } catch (const E& error) {
    threw = 1;
    result.message = error.what();
  }
  MPI_Allreduce(&threw, &result.ranks, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  return result;
}

// Copies `values` into `target` in place: a protected buffer must keep its address.
template <class T>
void overwrite(std::vector<T>& target, const std::vector<T>& values) {
  if (target.size() != values.size()) throw std::logic_error("overwrite: sizes differ");
  std::copy(values.begin(), values.end(), target.begin());
}

}  // namespace lazarus::testing
