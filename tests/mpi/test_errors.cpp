// Errors in collective calls: every rank throws the same class, nobody deadlocks, memory is untouched.
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <csignal>
#include <fstream>

#include "backends/cuda/device_memory.hpp"
#include "mpi_test_support.hpp"

namespace lazarus::testing {
namespace {

// Writes version 1 of job "test": 100 doubles named "field" and an int "step" on every rank.
void write_reference_checkpoint(const std::filesystem::path& dir) {
  Session session(MPI_COMM_WORLD, options_in(dir));
  std::vector<double> field = samples<double>(100, world_rank(), 1);
  int step = 7;
  session.protect("field", field);
  session.protect("step", step);
  session.checkpoint();
}

// Counts the ranks on which `call` threw exactly E.
template <class E, class F>
int ranks_throwing(F&& call) {
  return throw_on_ranks<E>(std::forward<F>(call)).ranks;
}

TEST(Mismatch, AnotherSizeThrowsOnEveryRankAndLeavesMemoryAlone) {
  SharedScratchDir scratch;
  write_reference_checkpoint(scratch.path());
  Session session(MPI_COMM_WORLD, options_in(scratch.path()));
  std::vector<double> field(99, -1.0);
  int step = -1;
  session.protect("field", field);
  session.protect("step", step);
  EXPECT_EQ(ranks_throwing<MismatchError>([&] { session.restore(); }), world_size());
  EXPECT_EQ(field, std::vector<double>(99, -1.0));
  EXPECT_EQ(step, -1);
}

TEST(Mismatch, AnotherTypeThrowsOnEveryRank) {
  SharedScratchDir scratch;
  write_reference_checkpoint(scratch.path());
  Session session(MPI_COMM_WORLD, options_in(scratch.path()));
  std::vector<float> field(100, -1.0f);
  session.protect("field", field);
  EXPECT_EQ(ranks_throwing<MismatchError>([&] { session.restore(); }), world_size());
  EXPECT_EQ(field, std::vector<float>(100, -1.0f));
}

TEST(Mismatch, ARegionMissingOnOneRankOnlyThrowsOnEveryRank) {
  SharedScratchDir scratch;
  write_reference_checkpoint(scratch.path());
  Session session(MPI_COMM_WORLD, options_in(scratch.path()));
  std::vector<double> field(100, -1.0);
  double extra = -1;
  session.protect("field", field);
  if (world_rank() == 1) session.protect("not_stored", extra);
  const auto [total, message] = throw_on_ranks<MismatchError>([&] { session.restore(); });
  EXPECT_EQ(total, world_size());
  // Every rank reports the failing rank's own words.
  EXPECT_NE(message.find("rank 1"), std::string::npos) << message;
  EXPECT_NE(message.find("not_stored"), std::string::npos) << message;
  EXPECT_EQ(field, std::vector<double>(100, -1.0)) << "no rank may change memory when one rank fails";
}

TEST(Mismatch, AnotherRankCountThrowsOnEveryRank) {
  SharedScratchDir scratch;
  MPI_Comm half = MPI_COMM_NULL;
  MPI_Comm_split(MPI_COMM_WORLD, world_rank() < 2 ? 0 : 1, world_rank(), &half);
  if (world_rank() < 2) {
    Session session(half, options_in(scratch.path()));
    double value = 1;
    session.protect("value", value);
    session.checkpoint();
  }
  MPI_Comm_free(&half);
  Session session(MPI_COMM_WORLD, options_in(scratch.path()));
  double value = -1;
  session.protect("value", value);
  EXPECT_EQ(ranks_throwing<MismatchError>([&] { session.restore(); }), world_size());
  EXPECT_EQ(value, -1);
}

TEST(Errors, ACheckpointThatOneRankCannotWriteFailsEverywhereAndKeepsThePreviousVersion) {
  SharedScratchDir scratch;
  Session session(MPI_COMM_WORLD, options_in(scratch.path()));
  std::vector<double> field = samples<double>(1000, world_rank(), 1);
  session.protect("field", field);
  EXPECT_EQ(session.checkpoint(), 1u);
  // Rank 2 may write files of 4 KiB at most (a real write error, EFBIG, as a full disk would give).
  rlimit saved{};
  if (world_rank() == 2) {
    std::signal(SIGXFSZ, SIG_IGN);
    getrlimit(RLIMIT_FSIZE, &saved);
    rlimit small = saved;
    small.rlim_cur = 4096;
    setrlimit(RLIMIT_FSIZE, &small);
  }
  overwrite(field, samples<double>(1000, world_rank(), 2));
  const auto [total, message] = throw_on_ranks<IoError>([&] { session.checkpoint(); });
  if (world_rank() == 2) setrlimit(RLIMIT_FSIZE, &saved);
  EXPECT_EQ(total, world_size());
  EXPECT_NE(message.find("rank 2"), std::string::npos) << message;
  EXPECT_NE(message.find("rank-00002.h5"), std::string::npos) << message;
  EXPECT_EQ(session.versions(), (std::vector<std::uint64_t>{1}));
  // The failed checkpoint removed what every rank wrote of version 2 (the other ranks' files too).
  MPI_Barrier(MPI_COMM_WORLD);
  EXPECT_FALSE(std::filesystem::exists(scratch.path() / "test" / "v0000000002")) << "abandoned version not removed";
  // The job goes on: the next checkpoint takes the free number and succeeds.
  EXPECT_EQ(session.checkpoint(), 2u);
  EXPECT_EQ(session.versions(), (std::vector<std::uint64_t>{1, 2}));
  field.assign(field.size(), 0);
  EXPECT_EQ(session.restore(), std::optional<std::uint64_t>(2));
  EXPECT_EQ(field, samples<double>(1000, world_rank(), 2));
}

// Issue 13, item 10: with a folder named after the highest 64-bit number present, every later
// checkpoint returned 0 and went into v0000000000, which restore and versions() never saw. A name past
// the last version is not a version; a job that holds the last version cannot checkpoint, clearly.
TEST(Errors, VersionNumbersNeverWrapAround) {
  SharedScratchDir scratch;
  const std::filesystem::path job = scratch.path() / "test";
  if (world_rank() == 0) std::filesystem::create_directories(job / "v18446744073709551615");
  MPI_Barrier(MPI_COMM_WORLD);
  {
    Session session(MPI_COMM_WORLD, options_in(scratch.path()));
    std::vector<double> field = samples<double>(100, world_rank(), 1);
    session.protect("field", field);
    EXPECT_EQ(session.checkpoint(), 1u);
    EXPECT_EQ(session.versions(), (std::vector<std::uint64_t>{1}));
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (world_rank() == 0) std::filesystem::create_directories(job / "v999999999999999999");
  MPI_Barrier(MPI_COMM_WORLD);
  Session session(MPI_COMM_WORLD, options_in(scratch.path()));
  std::vector<double> field = samples<double>(100, world_rank(), 2);
  session.protect("field", field);
  const auto [ranks, message] = throw_on_ranks<Error>([&] { session.checkpoint(); });
  EXPECT_EQ(ranks, world_size());
  EXPECT_NE(message.find("version 999999999999999999 (the last number) exists"), std::string::npos) << message;
  EXPECT_FALSE(std::filesystem::exists(job / "v0000000000"));
  EXPECT_EQ(session.restore(), std::optional<std::uint64_t>(1));
  EXPECT_EQ(field, samples<double>(100, world_rank(), 1));
}

// Issue 13, item 15: a job folder removed while the job ran was made again by the next checkpoint,
// and numbering started again at 1, although version numbers are never reused. The Session numbers
// past every version it committed or restored, says on stderr that they are gone, and makes the
// folder private again.
TEST(Errors, AJobFolderRemovedWhileTheJobRunsNeverRestartsNumbering) {
  namespace fs = std::filesystem;
  SharedScratchDir scratch;
  const fs::path job = scratch.path() / "test";
  std::vector<double> field = samples<double>(100, world_rank(), 1);
  auto remove_job_folder = [&] {
    MPI_Barrier(MPI_COMM_WORLD);
    if (world_rank() == 0) fs::remove_all(job);
    MPI_Barrier(MPI_COMM_WORLD);
  };
  // What rank 0 prints on stderr during `call` (empty on the other ranks).
  auto stderr_of = [](const auto& call) {
    if (world_rank() == 0) ::testing::internal::CaptureStderr();
    call();
    return world_rank() == 0 ? ::testing::internal::GetCapturedStderr() : std::string();
  };
  {
    Session session(MPI_COMM_WORLD, options_in(scratch.path()));
    session.protect("field", field);
    EXPECT_EQ(session.checkpoint(), 1u);
    EXPECT_EQ(session.checkpoint(), 2u);
    remove_job_folder();
    std::uint64_t next = 0;
    const std::string said = stderr_of([&] { next = session.checkpoint(); });
    EXPECT_EQ(next, 3u);
    EXPECT_EQ(session.versions(), (std::vector<std::uint64_t>{3}));
    if (world_rank() == 0) {
      EXPECT_NE(said.find("checkpoint version 2 of job 'test', which this Session committed, is gone from " +
                          job.string()),
                std::string::npos)
          << said;
      EXPECT_NE(said.find("the next version is 3"), std::string::npos) << said;
      EXPECT_EQ(fs::status(job).permissions() & fs::perms::all, fs::perms::owner_all);
    }
    EXPECT_EQ(session.checkpoint(), 4u);  // said once: the folder holds this Session's versions again
  }
  // The same for a version this Session restored.
  Session session(MPI_COMM_WORLD, options_in(scratch.path()));
  session.protect("field", field);
  EXPECT_EQ(session.restore(), std::optional<std::uint64_t>(4));
  remove_job_folder();
  std::uint64_t next = 0;
  const std::string said = stderr_of([&] { next = session.checkpoint(); });
  EXPECT_EQ(next, 5u);
  if (world_rank() == 0) {
    EXPECT_NE(said.find("checkpoint version 4 of job 'test', which this Session restored, is gone"), std::string::npos)
        << said;
  }
}

TEST(Errors, ABadOptionOnOneRankFailsTheConstructorEverywhere) {
  SharedScratchDir scratch;
  Options options = options_in(scratch.path());
  if (world_rank() == 3) options.keep = 0;
  EXPECT_EQ(ranks_throwing<ConfigError>([&] { Session session(MPI_COMM_WORLD, options); }), world_size());
}

TEST(Errors, ABadEnvironmentVariableOnOneRankFailsTheConstructorEverywhere) {
  SharedScratchDir scratch;
  ::setenv("LAZARUS_DIR", scratch.path().c_str(), 1);
  if (world_rank() == 1) ::setenv("LAZARUS_COMPRESS", "fast", 1);
  const auto [total, message] = throw_on_ranks<ConfigError>([&] { Session session(MPI_COMM_WORLD); });
  ::unsetenv("LAZARUS_COMPRESS");
  ::unsetenv("LAZARUS_DIR");
  EXPECT_EQ(total, world_size());
  EXPECT_NE(message.find("LAZARUS_COMPRESS='fast'"), std::string::npos) << message;
}

// A build without CUDA keeps protect_device and says why it cannot work; a CUDA build refuses host
// memory (or, without a usable device, says that).
TEST(Errors, ProtectDeviceSaysWhyItCannotProtectThis) {
  SharedScratchDir scratch;
  Session session(MPI_COMM_WORLD, options_in(scratch.path()));
  std::vector<double> host(16);
  std::string message;
  try {
    session.protect_device("field", host.data(), host.size());
  } catch (const lazarus::Error& error) {
    message = error.what();
  }
  if (!lazarus::backends::cuda_built()) {
    EXPECT_NE(message.find("built without CUDA"), std::string::npos) << message;
  } else {
    EXPECT_TRUE(message.find("no CUDA device") != std::string::npos ||
                message.find("not CUDA device memory") != std::string::npos)
        << message;
  }
}

TEST(Errors, BadRegionNamesAndDuplicatesAreRejected) {
  SharedScratchDir scratch;
  Session session(MPI_COMM_WORLD, options_in(scratch.path()));
  double value = 0;
  EXPECT_THROW(session.protect("", value), MismatchError);
  EXPECT_THROW(session.protect("../escape", value), MismatchError);
  EXPECT_THROW(session.protect("a/b", value), MismatchError);
  session.protect("value", value);
  EXPECT_THROW(session.protect("value", value), MismatchError);
  EXPECT_THROW(session.unprotect("unknown"), MismatchError);
  std::vector<double> grid(12);
  EXPECT_THROW(session.protect("grid", grid, {5, 3}), MismatchError);
  session.unprotect("value");
  EXPECT_NO_THROW(session.protect("value", value));
}

}  // namespace
}  // namespace lazarus::testing
