// Protects a vector, checkpoints it, zeroes it, restores it and compares: the smallest real use of an
// installed Lazarus. Usage: mpirun -np 2 lazarus_consumer <checkpoint-dir>. Exit 0 only on success.
#include <lazarus/lazarus.hpp>
#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <vector>

namespace {

int run(const char* dir, int rank) {
  lazarus::Options options;
  options.dir = dir;
  options.job = "consumer";
  lazarus::Session session(MPI_COMM_WORLD, options);

  std::vector<double> field(1000);
  for (std::size_t i = 0; i < field.size(); ++i) field[i] = rank * 1.0e4 + static_cast<double>(i) * 0.5;
  const std::vector<double> expected = field;
  session.protect("field", field);

  const std::uint64_t written = session.checkpoint();
  std::fill(field.begin(), field.end(), 0.0);
  const std::optional<std::uint64_t> restored = session.restore();
  if (!restored || *restored != written) {
    std::fprintf(stderr, "rank %d: wrote version %llu but restore() returned %s\n", rank,
                 static_cast<unsigned long long>(written), restored ? "another version" : "nothing");
    return 1;
  }
  const auto diff = std::mismatch(field.begin(), field.end(), expected.begin());
  if (diff.first != field.end()) {
    std::fprintf(stderr, "rank %d: restored field[%td] = %g, expected %g\n", rank,
                 diff.first - field.begin(), *diff.first, *diff.second);
    return 2;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  int rc = 0;
  if (argc != 2) {
    if (rank == 0) std::fprintf(stderr, "usage: %s <checkpoint-dir>\n", argv[0]);
    rc = 64;
  } else {
    try {
      rc = run(argv[1], rank);
    } catch (const lazarus::Error& e) {
      std::fprintf(stderr, "rank %d: lazarus::Error: %s\n", rank, e.what());
      rc = 3;
    }
  }
  int worst = 0;
  MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (rank == 0 && worst == 0) std::printf("consumer: Lazarus %s round trip OK\n", LAZARUS_VERSION_STRING);
  MPI_Finalize();
  return worst;
}
