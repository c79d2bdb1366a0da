// Writes one checkpoint with values that outside readers (h5dump, h5py) can predict, through the public
// API only. Run: mpirun -np 2 write_known_checkpoint <dir>. Rank r writes <dir>/interop/v*/rank-r.h5.
//
// The values, which check_h5dump.sh and check_h5py.py compute again (keep the three in step):
//   int8 ... uint64, float32, float64: 64 elements each.
//     integers: [0] lowest, [1] max, [2] r + 1, [3] -(r + 2) (signed) or max - r (unsigned), and
//               [i >= 4] the low bits of the uint64 (i * 0x9E3779B97F4A7C15 + r * 0xD1B54A32D192ED03)
//               (two's complement for the signed types).
//     floats:   [0] lowest, [1] max, [2] smallest normal, [3] smallest subnormal, [4] +inf, [5] -inf,
//               [6] -0.0, [7] epsilon, [i >= 8] (i - 40) * 0.375 + r * 1000 + 1 / 3 (computed in double,
//               then rounded to the element type).
//   field:  float64, shape {301, 67} (chunks end partial): field[i][j] = r * 1e5 + i + j / 128.
//   step:   int64 scalar, 7777 + r.
//   time:   float64 scalar, 0.1 * (r + 1).
//   blob:   protect_bytes, "LAZARUS-INTEROP-RANK-<r>:" followed by the bytes 0..255.
#include <lazarus/lazarus.hpp>
#include <mpi.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

namespace {

constexpr std::size_t kCount = 64;

template <class T>
std::vector<T> known_values(int rank) {
  using limits = std::numeric_limits<T>;
  std::vector<T> v(kCount);
  const auto r = static_cast<std::uint64_t>(rank);
  if constexpr (std::is_integral_v<T>) {
    v[0] = limits::lowest();
    v[1] = limits::max();
    v[2] = static_cast<T>(rank + 1);
    if constexpr (std::is_signed_v<T>) {
      v[3] = static_cast<T>(-(rank + 2));
    } else {
      v[3] = static_cast<T>(limits::max() - r);
    }
    for (std::size_t i = 4; i < kCount; ++i) {
      // Unsigned arithmetic wraps; the narrowing conversion keeps the low bits (C++20: modular).
      v[i] = static_cast<T>(i * 0x9E3779B97F4A7C15ULL + r * 0xD1B54A32D192ED03ULL);
    }
  } else {
    v[0] = limits::lowest();
    v[1] = limits::max();
    v[2] = limits::min();
    v[3] = limits::denorm_min();
    v[4] = limits::infinity();
    v[5] = -limits::infinity();
    v[6] = T(-0.0);
    v[7] = limits::epsilon();
    for (std::size_t i = 8; i < kCount; ++i) {
      v[i] = static_cast<T>((static_cast<double>(i) - 40.0) * 0.375 + rank * 1000.0 + 1.0 / 3.0);
    }
  }
  return v;
}

int write(const std::filesystem::path& dir, int rank) {
  lazarus::Options options;
  options.dir = dir;
  options.job = "interop";
  options.compression_level = 3;
  options.chunk_bytes = 16 << 10;  // several chunks for `field`, the last ones partial

  auto i8 = known_values<std::int8_t>(rank);
  auto u8 = known_values<std::uint8_t>(rank);
  auto i16 = known_values<std::int16_t>(rank);
  auto u16 = known_values<std::uint16_t>(rank);
  auto i32 = known_values<std::int32_t>(rank);
  auto u32 = known_values<std::uint32_t>(rank);
  auto i64 = known_values<std::int64_t>(rank);
  auto u64 = known_values<std::uint64_t>(rank);
  auto f32 = known_values<float>(rank);
  auto f64 = known_values<double>(rank);

  constexpr std::size_t kRows = 301, kCols = 67;
  std::vector<double> field(kRows * kCols);
  for (std::size_t i = 0; i < kRows; ++i) {
    for (std::size_t j = 0; j < kCols; ++j) {
      field[i * kCols + j] = rank * 1e5 + static_cast<double>(i) + static_cast<double>(j) / 128.0;
    }
  }
  std::int64_t step = 7777 + rank;
  double time = 0.1 * (rank + 1);
  std::string blob = "LAZARUS-INTEROP-RANK-" + std::to_string(rank) + ":";
  for (int b = 0; b < 256; ++b) blob.push_back(static_cast<char>(b));

  lazarus::Session session(MPI_COMM_WORLD, options);
  session.protect("int8", i8);
  session.protect("uint8", u8);
  session.protect("int16", i16);
  session.protect("uint16", u16);
  session.protect("int32", i32);
  session.protect("uint32", u32);
  session.protect("int64", i64);
  session.protect("uint64", u64);
  session.protect("float32", f32);
  session.protect("float64", f64);
  session.protect("field", field, {kRows, kCols});
  session.protect("step", step);
  session.protect("time", time);
  session.protect_bytes("blob", blob.data(), blob.size());
  const std::uint64_t version = session.checkpoint();
  if (rank == 0) {
    std::printf("write_known_checkpoint: wrote version %llu of job 'interop' under %s\n",
                static_cast<unsigned long long>(version), dir.c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0;
  int size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int rc = 0;
  if (argc != 2 || size != 2) {
    if (rank == 0) std::fprintf(stderr, "usage: mpirun -np 2 %s <dir>  (got %d ranks)\n", argv[0], size);
    rc = 64;
  } else {
    const std::filesystem::path dir = argv[1];
    if (rank == 0) {
      // A fresh folder: the readers expect exactly one version.
      std::error_code ec;
      std::filesystem::remove_all(dir / "interop", ec);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    try {
      rc = write(dir, rank);
    } catch (const lazarus::Error& e) {
      std::fprintf(stderr, "rank %d: lazarus::Error: %s\n", rank, e.what());
      rc = 1;
    }
  }
  int worst = 0;
  MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Finalize();
  return worst;
}
