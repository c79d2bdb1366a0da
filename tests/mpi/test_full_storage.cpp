// A full file system during a checkpoint (issue: the failed version's partial files used to stay
// behind and keep the file system full). Runs in its own mount namespace on a 12 MiB tmpfs mounted
// at LAZARUS_TEST_SMALL_FS (tests/mpi/with_small_fs.sh). Each version is 4 MiB (4 ranks x 1 MiB of
// incompressible data); a ballast file leaves room for one version only. The failed checkpoint must
// throw IoError on every rank naming its folder, leave nothing behind, keep the previous version
// restorable, and the next checkpoint must succeed once the ballast is gone.
#include <gtest/gtest.h>

#include <sys/statvfs.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>

#include "backends/hdf5/h5_types.hpp"
#include "mpi_test_support.hpp"

namespace lazarus::testing {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kValuesPerRank = (1 << 20) / sizeof(std::uint64_t);

fs::path small_fs() {
  const char* path = std::getenv("LAZARUS_TEST_SMALL_FS");
  if (path == nullptr) throw std::runtime_error("LAZARUS_TEST_SMALL_FS is not set: run through with_small_fs.sh");
  return path;
}

std::uint64_t free_bytes(const fs::path& path) {
  struct statvfs info {};
  if (::statvfs(path.c_str(), &info) != 0) throw std::runtime_error("statvfs failed");
  return static_cast<std::uint64_t>(info.f_bavail) * info.f_frsize;
}

std::vector<std::uint64_t> noise(int rank, std::uint64_t seed) {
  std::mt19937_64 generator(seed * 1000 + static_cast<std::uint64_t>(rank));
  std::vector<std::uint64_t> values(kValuesPerRank);
  for (auto& value : values) value = generator();
  return values;
}

// Every file under `dir`, as paths relative to it (rank 0 looks).
std::vector<std::string> files_under(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) names.push_back(fs::relative(entry.path(), dir).string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

struct Case {
  const char* name;
  Mode mode;
  bool multilevel;  // the node-local level is the small file system; the global level is elsewhere
};

class FullStorage : public ::testing::TestWithParam<Case> {};

TEST_P(FullStorage, AFailedCheckpointRemovesWhatItWroteAndTheNextOneSucceeds) {
  const Case& c = GetParam();
  SharedScratchDir scratch;  // the global level of the multi-level case
  const fs::path root = small_fs() / c.name;
  const fs::path ballast = small_fs() / (std::string(c.name) + ".ballast");
  if (world_rank() == 0) fs::create_directories(root);
  MPI_Barrier(MPI_COMM_WORLD);

  Options options = options_in(c.multilevel ? scratch.path() : root, "full");
  options.keep = 1;
  options.mode = c.mode;
  if (c.multilevel) {
    ::setenv("LAZARUS_NODE", ("n" + std::to_string(world_rank())).c_str(), 1);
    options.local_dir = root / "%N";
    options.redundancy = Redundancy::none;  // the level's files alone fill it
    options.flush_every = 0;
  }
  const fs::path level = c.multilevel ? root : root / "full";

  std::vector<std::uint64_t> data = noise(world_rank(), 1);
  auto session_owner = std::make_unique<Session>(MPI_COMM_WORLD, options);
  Session& session = *session_owner;
  session.protect("data", data);
  EXPECT_EQ(session.checkpoint(), 1u);
  session.wait();

  // Leave room for less than one more version.
  if (world_rank() == 0) {
    const std::uint64_t fill = free_bytes(small_fs()) - 3 * (1 << 20);
    std::ofstream(ballast, std::ios::binary) << std::string(fill, 'b');
  }
  MPI_Barrier(MPI_COMM_WORLD);
  std::uint64_t free_before = world_rank() == 0 ? free_bytes(small_fs()) : 0;
  std::vector<std::string> files_before = world_rank() == 0 ? files_under(level) : std::vector<std::string>{};

  overwrite(data, noise(world_rank(), 2));
  const auto failed = throw_on_ranks<IoError>([&] {
    session.checkpoint();
    session.wait();  // async: the background write's failure surfaces at the next collective call
  });
  EXPECT_EQ(failed.ranks, world_size());
  EXPECT_NE(failed.message.find("v0000000002"), std::string::npos) << failed.message;
  EXPECT_NE(failed.message.find("No space left on device"), std::string::npos) << failed.message;
  if (world_rank() == 0) {
    EXPECT_EQ(files_under(level), files_before) << "the failed version left files behind";
    EXPECT_GE(free_bytes(small_fs()) + (64 << 10), free_before) << "the failed version still holds space";
  }

  // The program goes on: version 1 still restores ...
  EXPECT_EQ(session.restore(), 1u);
  EXPECT_EQ(data, noise(world_rank(), 1));
  // ... and once there is room, the next checkpoint succeeds and retention removes version 1.
  if (world_rank() == 0) fs::remove(ballast);
  MPI_Barrier(MPI_COMM_WORLD);
  overwrite(data, noise(world_rank(), 3));
  const std::uint64_t next = session.checkpoint();
  session.wait();
  EXPECT_GT(next, 1u);
  EXPECT_EQ(session.versions(), std::vector<std::uint64_t>{next});
  overwrite(data, noise(world_rank(), 4));
  EXPECT_EQ(session.restore(), next);
  EXPECT_EQ(data, noise(world_rank(), 3));
  session_owner.reset();  // the Session's end (multi-level: a copy to the global level) needs the folders
  MPI_Barrier(MPI_COMM_WORLD);
  if (world_rank() == 0) fs::remove_all(root);
}

// Issue 13, item 15: the last checkpoint of a program, written in the background, fails on the full
// file system. wait() reports it on every rank; without wait(), the Session's end printed a warning
// and the program exited with status 0, as if its last checkpoint were safe. Now it prints the error
// and the process exits with kExitCheckpointLost once the program ends: the test below without wait()
// is run by mpi.test_full_storage_session_end (tests/mpi/CMakeLists.txt), which expects that status.
// Either way version 1 stays the newest complete version, and version 2 leaves nothing behind.
void fail_the_last_checkpoint(bool call_wait) {
  if (!backends::h5_library_is_threadsafe()) GTEST_SKIP() << "async checkpoints need a thread-safe HDF5";
  const fs::path root = small_fs() / "last";
  const fs::path ballast = small_fs() / "last.ballast";
  if (world_rank() == 0) fs::create_directories(root);
  MPI_Barrier(MPI_COMM_WORLD);
  Options options = options_in(root, "last");
  options.keep = 1;
  options.mode = Mode::async;
  std::vector<std::uint64_t> data = noise(world_rank(), 1);
  auto session = std::make_unique<Session>(MPI_COMM_WORLD, options);
  session->protect("data", data);
  EXPECT_EQ(session->checkpoint(), 1u);
  session->wait();
  if (world_rank() == 0) {  // room for less than one more version
    const std::uint64_t fill = free_bytes(small_fs()) - 3 * (1 << 20);
    std::ofstream(ballast, std::ios::binary) << std::string(fill, 'b');
  }
  MPI_Barrier(MPI_COMM_WORLD);
  overwrite(data, noise(world_rank(), 2));
  EXPECT_EQ(session->checkpoint(), 2u);  // staged: the failure shows later
  if (call_wait) {
    const auto failed = throw_on_ranks<IoError>([&] { session->wait(); });
    EXPECT_EQ(failed.ranks, world_size());
    EXPECT_NE(failed.message.find("checkpoint version 2, written in the background, failed"), std::string::npos)
        << failed.message;
    EXPECT_NE(failed.message.find("No space left on device"), std::string::npos) << failed.message;
  }
  session.reset();  // the program's end: with wait() called, nothing is left to report
  MPI_Barrier(MPI_COMM_WORLD);
  if (world_rank() == 0) {
    EXPECT_EQ(files_under(root / "last"), (std::vector<std::string>{"v0000000001/manifest.json",
                                                                    "v0000000001/rank-00000.h5",
                                                                    "v0000000001/rank-00001.h5",
                                                                    "v0000000001/rank-00002.h5",
                                                                    "v0000000001/rank-00003.h5"}));
    fs::remove(ballast);
    fs::remove_all(root);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

TEST(FullStorageAtTheEnd, AFailedLastBackgroundWriteIsReportedByWait) { fail_the_last_checkpoint(true); }

// Ends with exit status kExitCheckpointLost (74): run only by mpi.test_full_storage_session_end.
TEST(FullStorageAtTheEnd, DISABLED_AFailedLastBackgroundWriteWithoutWaitSetsTheExitStatus) {
  fail_the_last_checkpoint(false);
}

// Async cases only where this build can run async checkpoints: with a HDF5 that is not thread-safe
// (the Open MPI parallel build) Session refuses async mode, which test_async checks.
std::vector<Case> cases() {
  std::vector<Case> all{{"sync_global", Mode::sync, false}, {"sync_local", Mode::sync, true}};
  if (backends::h5_library_is_threadsafe()) {
    all.push_back({"async_global", Mode::async, false});
    all.push_back({"async_local", Mode::async, true});
  }
  return all;
}

INSTANTIATE_TEST_SUITE_P(Levels, FullStorage, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace lazarus::testing
