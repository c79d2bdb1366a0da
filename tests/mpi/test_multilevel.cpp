// Multi-level checkpoints with 4 ranks on logical nodes (LAZARUS_NODE per rank): node-local files,
// partner copies and XOR parity, the end-of-session copy to the global level, and restarts after a
// node's folder is lost, with ranks moved onto a spare node. The global level is deleted before the
// restarts that must come from the node-local level, so that it cannot stand in for it. `%N` in the
// node-local folder, and Slurm's node name (SLURMD_NODENAME) as the node when LAZARUS_NODE is unset.
#include <mpi.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "mpi_test_support.hpp"

namespace {

namespace fs = std::filesystem;
using lazarus::Options;
using lazarus::Redundancy;
using lazarus::Session;
using lazarus::testing::sample;
using lazarus::testing::SharedScratchDir;
using lazarus::testing::world_rank;

// Each rank's field; sizes differ per rank (XOR pads to the largest).
std::vector<double> field_of(int rank, std::uint64_t version) {
  std::vector<double> field(20000 + 3000 * static_cast<std::size_t>(rank));
  for (std::size_t i = 0; i < field.size(); ++i) field[i] = sample<double>(i, rank, version);
  return field;
}

class MultiLevel : public ::testing::Test {
 protected:
  // Places this rank on `node` (its local folder local/<node>) for the Sessions made after.
  Options on_node(const std::string& node, Redundancy redundancy, int flush_every) {
    ::setenv("LAZARUS_NODE", node.c_str(), 1);
    Options options = lazarus::testing::options_in(scratch_.path() / "global", "ml");
    options.local_dir = scratch_.path() / "local" / node;
    options.redundancy = redundancy;
    options.xor_group = 4;
    options.flush_every = flush_every;
    return options;
  }
  // Versions 1..count of every rank's field, checkpointed by one Session (which, at its end, copies
  // the newest to the global level).
  void checkpoint_versions(const Options& options, std::uint64_t count) {
    Session session(MPI_COMM_WORLD, options);
    std::vector<double> field;
    for (std::uint64_t version = 1; version <= count; ++version) {
      field = field_of(world_rank(), version);
      session.protect("field", std::span<double>(field));
      ASSERT_EQ(session.checkpoint(), version);
      session.unprotect("field");
    }
  }
  // A new Session restores; returns the version, and checks this rank's field is that version's.
  std::uint64_t restore_and_check(const Options& options) {
    Session session(MPI_COMM_WORLD, options);
    std::vector<double> field(field_of(world_rank(), 1).size(), -1.0);
    session.protect("field", std::span<double>(field));
    const auto restored = session.restore();
    EXPECT_TRUE(restored.has_value());
    if (!restored) return 0;
    EXPECT_EQ(field, field_of(world_rank(), *restored)) << "rank " << world_rank();
    return *restored;
  }
  void on_rank0(const std::function<void()>& action) {
    MPI_Barrier(MPI_COMM_WORLD);
    if (world_rank() == 0) action();
    MPI_Barrier(MPI_COMM_WORLD);
  }
  fs::path local_version(const std::string& node, std::uint64_t version) {
    return scratch_.path() / "local" / node / "ml" / fmt_version(version);
  }
  fs::path global_version(std::uint64_t version) { return scratch_.path() / "global" / "ml" / fmt_version(version); }
  static std::string fmt_version(std::uint64_t version) {
    std::string digits = std::to_string(version);
    return "v" + std::string(10 - digits.size(), '0') + digits;
  }
  void TearDown() override {
    ::unsetenv("LAZARUS_NODE");
    ::unsetenv("SLURMD_NODENAME");
  }

  SharedScratchDir scratch_;
};

TEST_F(MultiLevel, PartnerCopiesRebuildALostNodeOnItsSpare) {
  const std::string node = world_rank() < 2 ? "n0" : "n1";
  checkpoint_versions(on_node(node, Redundancy::partner, 0), 2);
  // The session's end copied the newest version to the global level.
  on_rank0([&] {
    EXPECT_TRUE(fs::exists(global_version(2) / "manifest.json"));
    EXPECT_TRUE(fs::exists(local_version("n1", 2) / "partner-rank-00000.h5"));
    EXPECT_TRUE(fs::exists(local_version("n0", 2) / "partner-rank-00002.h5"));
    fs::remove_all(scratch_.path() / "local" / "n0");  // node n0 is lost
    fs::remove_all(scratch_.path() / "global");
  });
  // Ranks 0 and 1 restart on spare n2.
  const std::string now = world_rank() < 2 ? "n2" : "n1";
  EXPECT_EQ(restore_and_check(on_node(now, Redundancy::partner, 0)), 2u);
  on_rank0([&] {
    EXPECT_TRUE(fs::exists(local_version("n2", 2) / "rank-00000.h5")) << "not rebuilt onto the spare";
    EXPECT_TRUE(fs::exists(local_version("n2", 2) / "manifest.json"));
  });
}

TEST_F(MultiLevel, XorParityRebuildsALostNode) {
  const std::string node = "n" + std::to_string(world_rank());  // four nodes, one XOR group of four
  checkpoint_versions(on_node(node, Redundancy::xor_parity, 0), 3);
  on_rank0([&] {
    EXPECT_TRUE(fs::exists(local_version("n2", 3) / "parity-rank-00002.bin"));
    EXPECT_FALSE(fs::exists(local_version("n2", 3) / "partner-rank-00001.h5"));
    fs::remove_all(scratch_.path() / "local" / "n2");
    fs::remove_all(scratch_.path() / "global");
  });
  const std::string now = world_rank() == 2 ? "n4" : node;
  EXPECT_EQ(restore_and_check(on_node(now, Redundancy::xor_parity, 0)), 3u);
  on_rank0([&] { EXPECT_TRUE(fs::exists(local_version("n4", 3) / "rank-00002.h5")); });
}

TEST_F(MultiLevel, TwoLostNodesOfAPartnerPairFallBackToTheGlobalLevel) {
  // Partners: n0 -> n1 -> n2 -> n3 -> n0. Version 2 goes to the global level (every 2nd), version 3
  // stays node-local (its end-of-session copy is removed, as if the job had died first).
  const std::string node = "n" + std::to_string(world_rank());
  checkpoint_versions(on_node(node, Redundancy::partner, 2), 3);
  on_rank0([&] {
    EXPECT_TRUE(fs::exists(global_version(2) / "manifest.json"));
    fs::remove_all(global_version(3));
    fs::remove_all(scratch_.path() / "local" / "n0");  // rank 0's file and its partner copy (on n1)
    fs::remove_all(scratch_.path() / "local" / "n1");
  });
  const std::string now = world_rank() == 0 ? "n4" : world_rank() == 1 ? "n5" : node;
  EXPECT_EQ(restore_and_check(on_node(now, Redundancy::partner, 2)), 2u);
}

TEST_F(MultiLevel, ADamagedLocalFileIsReplacedByItsPartnerCopy) {
  const std::string node = world_rank() < 2 ? "n0" : "n1";
  checkpoint_versions(on_node(node, Redundancy::partner, 0), 2);
  on_rank0([&] {
    fs::remove_all(scratch_.path() / "global");
    const fs::path file = local_version("n0", 2) / "rank-00001.h5";
    std::fstream stream(file, std::ios::in | std::ios::out | std::ios::binary);
    stream.seekp(static_cast<std::streamoff>(fs::file_size(file) / 2));
    stream.put('\x5a');
  });
  EXPECT_EQ(restore_and_check(on_node(node, Redundancy::partner, 0)), 2u);
}

TEST_F(MultiLevel, NewVersionsNumberPastEveryLevel) {
  const std::string node = world_rank() < 2 ? "n0" : "n1";
  checkpoint_versions(on_node(node, Redundancy::partner, 1), 4);
  on_rank0([&] { fs::remove_all(scratch_.path() / "local"); });
  Session session(MPI_COMM_WORLD, on_node(node, Redundancy::partner, 1));
  std::vector<double> field = field_of(world_rank(), 9);
  session.protect("field", std::span<double>(field));
  EXPECT_EQ(session.versions().back(), 4u);  // only the global level is left
  EXPECT_EQ(session.checkpoint(), 5u);
}

// Issue 13, item 15: every level lost the versions this Session committed (the node folders and the
// global job folder removed while it ran): numbering goes on past them instead of starting at 1.
TEST_F(MultiLevel, NumberingGoesOnWhenEveryLevelLostTheSessionsVersions) {
  const std::string node = world_rank() < 2 ? "n0" : "n1";
  Session session(MPI_COMM_WORLD, on_node(node, Redundancy::partner, 1));
  std::vector<double> field = field_of(world_rank(), 1);
  session.protect("field", std::span<double>(field));
  EXPECT_EQ(session.checkpoint(), 1u);
  EXPECT_EQ(session.checkpoint(), 2u);
  session.wait();
  on_rank0([&] {
    fs::remove_all(scratch_.path() / "local");
    fs::remove_all(scratch_.path() / "global" / "ml");
  });
  EXPECT_EQ(session.checkpoint(), 3u);
  session.wait();
  EXPECT_EQ(session.versions(), (std::vector<std::uint64_t>{3}));
}

// One LAZARUS_LOCAL_DIR for every rank, as srun gives it: `%N` names a folder per node.
TEST_F(MultiLevel, PercentNInTheLocalDirNamesAFolderPerNode) {
  const std::string node = world_rank() < 2 ? "n0" : "n1";
  ::setenv("LAZARUS_NODE", node.c_str(), 1);
  ::setenv("LAZARUS_LOCAL_DIR", (scratch_.path() / "local" / "%N").c_str(), 1);
  Options options = Options::from_env();
  ::unsetenv("LAZARUS_LOCAL_DIR");
  options.dir = scratch_.path() / "global";
  options.job = "ml";
  options.flush_every = 0;
  {
    Session session(MPI_COMM_WORLD, options);
    EXPECT_EQ(session.options().local_dir, scratch_.path() / "local" / node);
    std::vector<double> field = field_of(world_rank(), 1);
    session.protect("field", std::span<double>(field));
    ASSERT_EQ(session.checkpoint(), 1u);
  }
  on_rank0([&] {
    EXPECT_TRUE(fs::exists(local_version("n0", 1) / "rank-00000.h5"));
    EXPECT_TRUE(fs::exists(local_version("n0", 1) / "rank-00001.h5"));
    EXPECT_TRUE(fs::exists(local_version("n1", 1) / "rank-00002.h5"));
    EXPECT_TRUE(fs::exists(local_version("n1", 1) / "rank-00003.h5"));
    EXPECT_TRUE(fs::exists(local_version("n1", 1) / "partner-rank-00000.h5"));
    EXPECT_FALSE(fs::exists(scratch_.path() / "local" / "%N")) << "%N taken literally";
    fs::remove_all(scratch_.path() / "global");
  });
  EXPECT_EQ(restore_and_check(options), 1u);
}

// Several Slurm nodes may share one host: without LAZARUS_NODE, Slurm's node name places the ranks,
// so that rank 0's partner copy goes to the other Slurm node although both are this host.
TEST_F(MultiLevel, SlurmsNodeNameIsTheNodeWithoutLazarusNode) {
  ::unsetenv("LAZARUS_NODE");
  const std::string node = world_rank() < 2 ? "cn1" : "cn2";
  ::setenv("SLURMD_NODENAME", node.c_str(), 1);
  Options options = lazarus::testing::options_in(scratch_.path() / "global", "ml");
  options.local_dir = scratch_.path() / "local" / "%N";
  options.flush_every = 0;
  checkpoint_versions(options, 1);
  on_rank0([&] {
    EXPECT_TRUE(fs::exists(local_version("cn1", 1) / "rank-00000.h5"));
    EXPECT_TRUE(fs::exists(local_version("cn2", 1) / "rank-00003.h5"));
    EXPECT_TRUE(fs::exists(local_version("cn2", 1) / "partner-rank-00000.h5")) << "the ranks were not on two nodes";
  });
}

}  // namespace
