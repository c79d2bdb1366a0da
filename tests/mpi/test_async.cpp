// Asynchronous checkpoints (Options::mode = async) with 4 ranks: checkpoint() returns once the
// regions are copied, the application may overwrite them at once, and the version commits in the
// background with the guarantees of a synchronous one. A build whose HDF5 is not thread-safe (the
// Open MPI parallel build) must refuse async mode instead: there the tests check that refusal.
#include <mpi.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "mpi_test_support.hpp"

namespace {

namespace fs = std::filesystem;
using lazarus::ConfigError;
using lazarus::IoError;
using lazarus::Mode;
using lazarus::Options;
using lazarus::Session;
using lazarus::testing::overwrite;
using lazarus::testing::samples;
using lazarus::testing::SharedScratchDir;
using lazarus::testing::throw_on_ranks;
using lazarus::testing::world_rank;
using lazarus::testing::world_size;

constexpr std::size_t kValues = 200000;  // 1.6 MB per rank: several chunks

Options async_options(const fs::path& dir) {
  Options options = lazarus::testing::options_in(dir);
  options.mode = Mode::async;
  return options;
}

// Whether this build runs async checkpoints; if not, checks that it refuses them clearly, on every rank.
bool async_supported(const fs::path& dir) {
  const auto [ranks, message] = throw_on_ranks<ConfigError>([&] { Session probe(MPI_COMM_WORLD, async_options(dir)); });
  if (ranks == 0) return true;
  EXPECT_EQ(ranks, world_size());
  EXPECT_NE(message.find("not thread-safe"), std::string::npos) << message;
  return false;
}

bool complete(const fs::path& dir, std::uint64_t version) {
  const std::string digits = std::to_string(version);
  return fs::exists(dir / "test" / ("v" + std::string(10 - digits.size(), '0') + digits) / "manifest.json");
}

TEST(Async, RestoresTheValuesCapturedWhenCheckpointReturned) {
  SharedScratchDir scratch;
  if (!async_supported(scratch.path())) return;
  {
    Session session(MPI_COMM_WORLD, async_options(scratch.path()));
    std::vector<double> field(kValues);
    session.protect("field", std::span<double>(field));
    for (std::uint64_t version = 1; version <= 3; ++version) {
      overwrite(field, samples<double>(kValues, world_rank(), version));
      ASSERT_EQ(session.checkpoint(), version);
      field.assign(field.size(), -1.0);  // the application moves on at once
    }
    session.wait();
    EXPECT_EQ(session.versions(), (std::vector<std::uint64_t>{1, 2, 3}));
  }
  Session session(MPI_COMM_WORLD, async_options(scratch.path()));
  std::vector<double> field(kValues, 0.0);
  session.protect("field", std::span<double>(field));
  EXPECT_EQ(session.restore(2), 2u);
  EXPECT_EQ(field, samples<double>(kValues, world_rank(), 2));
  EXPECT_EQ(session.restore(), std::optional<std::uint64_t>(3));
  EXPECT_EQ(field, samples<double>(kValues, world_rank(), 3));
}

TEST(Async, WithTheDefaultBudgetOneCheckpointIsInFlightAtATime) {
  SharedScratchDir scratch;
  if (!async_supported(scratch.path())) return;
  Session session(MPI_COMM_WORLD, async_options(scratch.path()));
  std::vector<double> field(kValues);
  session.protect("field", std::span<double>(field));
  for (std::uint64_t version = 1; version <= 5; ++version) {
    overwrite(field, samples<double>(kValues, world_rank(), version));
    ASSERT_EQ(session.checkpoint(), version);
    // The budget holds one checkpoint: this one could only be staged once the previous committed.
    if (version > 1) EXPECT_TRUE(complete(scratch.path(), version - 1)) << "version " << version - 1;
  }
  session.wait();
  EXPECT_TRUE(complete(scratch.path(), 5));
}

TEST(Async, ABudgetOfThreeCheckpointsLetsThreeBeInFlight) {
  SharedScratchDir scratch;
  if (!async_supported(scratch.path())) return;
  Options options = async_options(scratch.path());
  options.staging_bytes = 3 * kValues * sizeof(double);
  Session session(MPI_COMM_WORLD, options);
  std::vector<double> field(kValues);
  session.protect("field", std::span<double>(field));
  for (std::uint64_t version = 1; version <= 8; ++version) {
    overwrite(field, samples<double>(kValues, world_rank(), version));
    ASSERT_EQ(session.checkpoint(), version);
    if (version > 3) EXPECT_TRUE(complete(scratch.path(), version - 3)) << "version " << version - 3;
  }
  session.wait();
  EXPECT_EQ(session.versions().size(), 8u);
}

TEST(Async, TheSessionsEndCommitsWhatIsStillInFlight) {
  SharedScratchDir scratch;
  if (!async_supported(scratch.path())) return;
  {
    Session session(MPI_COMM_WORLD, async_options(scratch.path()));
    std::vector<double> field = samples<double>(kValues, world_rank(), 7);
    session.protect("field", std::span<double>(field));
    session.checkpoint();
  }  // the program would exit here
  MPI_Barrier(MPI_COMM_WORLD);
  EXPECT_TRUE(complete(scratch.path(), 1));
}

TEST(Async, AFailedBackgroundWriteIsReportedOnEveryRankAndKeepsThePreviousVersion) {
  SharedScratchDir scratch;
  if (!async_supported(scratch.path())) return;
  Session session(MPI_COMM_WORLD, async_options(scratch.path()));
  std::vector<double> field = samples<double>(kValues, world_rank(), 1);
  session.protect("field", std::span<double>(field));
  session.checkpoint();
  session.wait();
  rlimit saved{};
  if (world_rank() == 2) {  // rank 2 may write 4 KiB files at most: EFBIG, as on a full disk
    std::signal(SIGXFSZ, SIG_IGN);
    getrlimit(RLIMIT_FSIZE, &saved);
    rlimit small = saved;
    small.rlim_cur = 4096;
    setrlimit(RLIMIT_FSIZE, &small);
  }
  overwrite(field, samples<double>(kValues, world_rank(), 2));
  EXPECT_EQ(session.checkpoint(), 2u);  // staged: the failure shows later
  const auto [ranks, message] = throw_on_ranks<IoError>([&] { session.wait(); });
  if (world_rank() == 2) setrlimit(RLIMIT_FSIZE, &saved);
  EXPECT_EQ(ranks, world_size());
  EXPECT_NE(message.find("version 2"), std::string::npos) << message;
  EXPECT_NE(message.find("background"), std::string::npos) << message;
  EXPECT_NE(message.find("rank-00002.h5"), std::string::npos) << message;
  EXPECT_EQ(session.versions(), (std::vector<std::uint64_t>{1}));
  field.assign(field.size(), 0.0);
  EXPECT_EQ(session.restore(), std::optional<std::uint64_t>(1));
  EXPECT_EQ(field, samples<double>(kValues, world_rank(), 1));
}

// Issue 13, item 15: numbering goes on past the versions this Session committed in the background or
// restored, once the job's folder is removed (after a restore, it started again at 1).
TEST(Async, AJobFolderRemovedWhileTheJobRunsNeverRestartsNumbering) {
  SharedScratchDir scratch;
  if (!async_supported(scratch.path())) return;
  std::vector<double> field = samples<double>(kValues, world_rank(), 1);
  auto remove_job_folder = [&] {
    MPI_Barrier(MPI_COMM_WORLD);
    if (world_rank() == 0) fs::remove_all(scratch.path() / "test");
    MPI_Barrier(MPI_COMM_WORLD);
  };
  {
    Session session(MPI_COMM_WORLD, async_options(scratch.path()));
    session.protect("field", std::span<double>(field));
    EXPECT_EQ(session.checkpoint(), 1u);
    session.wait();
    remove_job_folder();
    EXPECT_EQ(session.checkpoint(), 2u);
    session.wait();
    EXPECT_EQ(session.versions(), (std::vector<std::uint64_t>{2}));
  }
  Session session(MPI_COMM_WORLD, async_options(scratch.path()));
  session.protect("field", std::span<double>(field));
  EXPECT_EQ(session.restore(), std::optional<std::uint64_t>(2));
  remove_job_folder();
  EXPECT_EQ(session.checkpoint(), 3u);
  session.wait();
  EXPECT_EQ(session.versions(), (std::vector<std::uint64_t>{3}));
}

TEST(Async, WorksWithNodeLocalLevelsToo) {
  SharedScratchDir scratch;
  if (!async_supported(scratch.path())) return;
  ::setenv("LAZARUS_NODE", world_rank() < 2 ? "n0" : "n1", 1);
  Options options = async_options(scratch.path() / "global");
  options.local_dir = scratch.path() / "local" / (world_rank() < 2 ? "n0" : "n1");
  options.flush_every = 2;
  {
    Session session(MPI_COMM_WORLD, options);
    std::vector<double> field(kValues);
    session.protect("field", std::span<double>(field));
    for (std::uint64_t version = 1; version <= 3; ++version) {
      overwrite(field, samples<double>(kValues, world_rank(), version));
      ASSERT_EQ(session.checkpoint(), version);
      field.assign(field.size(), -1.0);
    }
    session.wait();
    EXPECT_EQ(session.versions(), (std::vector<std::uint64_t>{1, 2, 3}));
  }
  MPI_Barrier(MPI_COMM_WORLD);
  EXPECT_TRUE(complete(scratch.path() / "global", 2));  // every 2nd version
  EXPECT_TRUE(complete(scratch.path() / "global", 3));  // and the newest, at the Session's end
  Session session(MPI_COMM_WORLD, options);
  std::vector<double> field(kValues, 0.0);
  session.protect("field", std::span<double>(field));
  EXPECT_EQ(session.restore(), std::optional<std::uint64_t>(3));
  EXPECT_EQ(field, samples<double>(kValues, world_rank(), 3));
  ::unsetenv("LAZARUS_NODE");
}

}  // namespace
