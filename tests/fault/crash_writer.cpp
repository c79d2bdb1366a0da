// The MPI program behind the crash-consistency tests.
//   crash_writer write DIR       checkpoints versions 1, 2, 3 of a per-rank field (LAZARUS_FAULT kills
//                                a rank somewhere in version 3)
//   crash_writer check DIR V...  restores, and exits 0 only when the restored version is one of V...
//                                and every rank holds exactly that version's data (never a mix); then
//                                checkpoints once more to show the job can go on past the wreckage
//   crash_writer restore DIR V...   the same check, and the job ends there, without a checkpoint
#include <mpi.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <lazarus/lazarus.hpp>

namespace {

constexpr std::size_t kValues = 300000;  // 2.4 MB per rank, several chunks

void fill(std::vector<double>& field, int rank, std::uint64_t version) {
  for (std::size_t i = 0; i < field.size(); ++i) {
    field[i] = std::sin(0.001 * static_cast<double>(i) + rank) + 1000.0 * static_cast<double>(version);
  }
}

// The environment's options (LAZARUS_LOCAL_DIR etc. for the multi-level cases), with the test's own
// folder, job, retention and chunk size.
lazarus::Options options_for(const char* dir) {
  lazarus::Options options = lazarus::Options::from_env();
  options.dir = dir;
  options.job = "crash";
  options.keep = 5;
  options.chunk_bytes = 256 << 10;
  return options;
}

int write(const char* dir, int rank) {
  lazarus::Session session(MPI_COMM_WORLD, options_for(dir));
  std::vector<double> field(kValues);
  session.protect("field", field);
  for (std::uint64_t version = 1; version <= 3; ++version) {
    fill(field, rank, version);
    session.checkpoint();
    if (rank == 0) std::printf("committed version %llu\n", static_cast<unsigned long long>(version));
    std::fflush(stdout);
  }
  return 0;
}

int check(const char* dir, int rank, const std::vector<std::uint64_t>& acceptable, bool goes_on) {
  lazarus::Session session(MPI_COMM_WORLD, options_for(dir));
  std::vector<double> field(kValues, -1.0);
  session.protect("field", field);
  const auto restored = session.restore();
  int ok = 1;
  if (!restored) {
    if (rank == 0) std::fprintf(stderr, "check: nothing restored\n");
    ok = 0;
  } else {
    bool allowed = false;
    for (auto v : acceptable) allowed = allowed || v == *restored;
    if (!allowed) {
      if (rank == 0) std::fprintf(stderr, "check: restored version %llu, not an acceptable one\n", static_cast<unsigned long long>(*restored));
      ok = 0;
    }
    std::vector<double> expected(kValues);
    fill(expected, rank, *restored);
    if (field != expected) {
      std::fprintf(stderr, "check: rank %d holds data that is not version %llu's\n", rank,
                   static_cast<unsigned long long>(*restored));
      ok = 0;
    }
    if (rank == 0) std::printf("restored version %llu\n", static_cast<unsigned long long>(*restored));
  }
  if (restored && goes_on) {
    // The job goes on: a new version lands past every folder left behind, and retention removes
    // the abandoned incomplete one.
    const std::uint64_t next = session.checkpoint();
    if (next <= 3) {
      if (rank == 0) std::fprintf(stderr, "check: new version %llu reuses an old number\n", static_cast<unsigned long long>(next));
      ok = 0;
    }
    session.wait();  // in async mode (LAZARUS_MODE=async) the new version commits in the background
    const auto versions = session.versions();
    if (versions.empty() || versions.back() != next) ok = 0;
  }
  int all_ok = 0;
  MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  return all_ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  int status = 2;
  try {
    const std::string mode = argc > 2 ? argv[1] : "";
    if (mode == "write") {
      status = write(argv[2], rank);
    } else if ((mode == "check" || mode == "restore") && argc > 3) {
      std::vector<std::uint64_t> acceptable;
      for (int i = 3; i < argc; ++i) acceptable.push_back(std::strtoull(argv[i], nullptr, 10));
      status = check(argv[2], rank, acceptable, mode == "check");
    } else if (rank == 0) {
      std::fprintf(stderr, "usage: crash_writer write DIR | check DIR VERSION... | restore DIR VERSION...\n");
    }
  } catch (const lazarus::Error& error) {
    std::fprintf(stderr, "crash_writer: rank %d: %s\n", rank, error.what());
    status = 1;
  }
  MPI_Finalize();
  return status;
}
