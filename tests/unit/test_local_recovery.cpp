// Planning a restart from the node-local levels (runtime/levels/recovery_plan.hpp). plan_recovery: a rank's
// file read in place, a partner copy on its own node, a fetch from another node (its own file before
// a partner copy), an XOR rebuild from the rest of its group, and no plan (with a reason naming the
// rank) when the file cannot be had; files of the wrong size and `bad` sources do not count. Also the
// plan's and a node inventory's text round trips, scan_node_folder on a real folder, and the lines
// describe_rebuilt prints.
#include "runtime/levels/recovery_plan.hpp"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "lazarus/errors.hpp"
#include "runtime/format/manifest.hpp"
#include "runtime/levels/placement.hpp"
#include "runtime/format/version_catalog.hpp"
#include "test_scratch_dir.hpp"

namespace lazarus::detail {

// Plans and recoveries print as their text in failure messages.
void PrintTo(const RecoveryPlan& plan, std::ostream* out) { *out << serialize_plan(plan); }
void PrintTo(const Recovery& recovery, std::ostream* out) { *out << serialize_plan({0, {recovery}}); }

namespace {

using Holdings = std::map<std::string, NodeHoldings>;
using Kind = Recovery::Kind;

constexpr std::uint64_t kParityBytes = 600;

std::uint64_t file_bytes_of(int rank) { return 1000 + 10 * static_cast<std::uint64_t>(rank); }

// `ranks_per_node` ranks on each of `nodes` nodes "n0", "n1", ..., in rank order.
std::vector<std::string> nodes_of(int nodes, int ranks_per_node) {
  std::vector<std::string> rank_nodes;
  for (int n = 0; n < nodes; ++n) {
    for (int i = 0; i < ranks_per_node; ++i) rank_nodes.push_back("n" + std::to_string(n));
  }
  return rank_nodes;
}

// Version 3 of a job on `rank_nodes`, as written with `redundancy`.
Manifest make_manifest(const std::vector<std::string>& rank_nodes, Redundancy redundancy, int xor_group = 3) {
  Manifest manifest;
  manifest.job = "heat";
  manifest.version = 3;
  manifest.nranks = static_cast<int>(rank_nodes.size());
  for (int rank = 0; rank < manifest.nranks; ++rank) {
    manifest.ranks.push_back(
        {rank, rank_file_name(rank), file_bytes_of(rank), 0x1000u + static_cast<std::uint64_t>(rank), {}});
  }
  std::vector<std::string> warnings;
  manifest.placement = plan_placement(rank_nodes, redundancy, xor_group, warnings);
  for (const auto& group : manifest.placement->xor_groups) {
    for (const int member : group) manifest.placement->parity[static_cast<std::size_t>(member)] = {kParityBytes, 0x77};
  }
  return manifest;
}

// What every node holds right after `manifest`'s version was written: each rank's file on its node,
// the partner copy of each on its keeper's node, each group member's parity piece on its node.
Holdings as_written(const Manifest& manifest) {
  const Placement& placement = *manifest.placement;
  Holdings holdings;
  for (const RankRecord& record : manifest.ranks) {
    const auto rank = static_cast<std::size_t>(record.rank);
    NodeHoldings& own = holdings[placement.rank_nodes[rank]];
    own.manifest = true;
    own.files[record.file] = record.file_bytes;
    if (const int keeper = placement.partner[rank]; keeper >= 0) {
      holdings[placement.rank_nodes[static_cast<std::size_t>(keeper)]].files[partner_file_name(record.rank)] =
          record.file_bytes;
    }
    if (placement.xor_group_of(record.rank).first >= 0) {
      own.files[parity_file_name(record.rank)] = placement.parity[rank].bytes;
    }
  }
  return holdings;
}

Source own_file(const std::string& node, int rank) { return {node, rank_file_name(rank)}; }
Source partner_copy(const std::string& node, int rank) { return {node, partner_file_name(rank)}; }
Source parity_piece(const std::string& node, int rank) { return {node, parity_file_name(rank)}; }

Recovery in_place(const std::string& node, int rank) { return {Kind::in_place, own_file(node, rank), -1, {}, {}}; }

std::optional<RecoveryPlan> plan(const Manifest& manifest, const Holdings& holdings,
                                 const std::vector<std::string>& rank_nodes_now, std::string& why,
                                 const std::set<Source>& bad = {}) {
  return plan_recovery(manifest, holdings, rank_nodes_now, bad, why);
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// --- plan_recovery -------------------------------------------------------------------------------

TEST(PlanRecovery, EveryRankOnItsOwnNodeReadsInPlace) {
  const Manifest manifest = make_manifest(nodes_of(3, 2), Redundancy::partner);
  std::string why;
  const auto result = plan(manifest, as_written(manifest), nodes_of(3, 2), why);
  ASSERT_TRUE(result) << why;
  EXPECT_EQ(result->version, 3u);
  ASSERT_EQ(result->ranks.size(), 6u);
  for (int rank = 0; rank < 6; ++rank) {
    EXPECT_EQ(result->ranks[static_cast<std::size_t>(rank)], in_place("n" + std::to_string(rank / 2), rank))
        << "rank " << rank;
  }
  EXPECT_TRUE(describe_rebuilt(*result).empty());
}

TEST(PlanRecovery, ARanksFileAlreadyOnItsNewNodeIsReadInPlace) {
  // An earlier restore wrote rank 2's file onto spare "s", where rank 2 runs now.
  const Manifest manifest = make_manifest(nodes_of(3, 2), Redundancy::partner);
  Holdings holdings = as_written(manifest);
  holdings.erase("n1");
  holdings["s"].files[rank_file_name(2)] = file_bytes_of(2);
  std::string why;
  const auto result = plan(manifest, holdings, {"n0", "n0", "s", "n2", "n2", "n2"}, why);
  ASSERT_TRUE(result) << why;
  EXPECT_EQ(result->ranks[2], in_place("s", 2));
}

TEST(PlanRecovery, APartnerCopyOnTheRanksOwnNodeIsALocalCopy) {
  // n1 is lost; ranks 2 and 3 now run on n2, which keeps their partner copies.
  const Manifest manifest = make_manifest(nodes_of(3, 2), Redundancy::partner);
  Holdings holdings = as_written(manifest);
  holdings.erase("n1");
  std::string why;
  const auto result = plan(manifest, holdings, {"n0", "n0", "n2", "n2", "n2", "n2"}, why);
  ASSERT_TRUE(result) << why;
  EXPECT_EQ(result->ranks[0], in_place("n0", 0));
  EXPECT_EQ(result->ranks[2], (Recovery{Kind::local_copy, partner_copy("n2", 2), -1, {}, {}}));
  EXPECT_EQ(result->ranks[3], (Recovery{Kind::local_copy, partner_copy("n2", 3), -1, {}, {}}));
  EXPECT_EQ(result->ranks[4], in_place("n2", 4));
}

TEST(PlanRecovery, APartnerCopyIsFetchedFromAnotherNode) {
  // n1 is lost and replaced by spare "s"; ranks 2 and 3's copies are on n2.
  const Manifest manifest = make_manifest(nodes_of(3, 2), Redundancy::partner);
  Holdings holdings = as_written(manifest);
  holdings.erase("n1");
  std::string why;
  const auto result = plan(manifest, holdings, {"n0", "n0", "s", "s", "n2", "n2"}, why);
  ASSERT_TRUE(result) << why;
  EXPECT_EQ(result->ranks[1], in_place("n0", 1));
  EXPECT_EQ(result->ranks[2], (Recovery{Kind::fetch, partner_copy("n2", 2), -1, {}, {}}));
  EXPECT_EQ(result->ranks[3], (Recovery{Kind::fetch, partner_copy("n2", 3), -1, {}, {}}));
  EXPECT_EQ(result->ranks[5], in_place("n2", 5));
}

TEST(PlanRecovery, ARanksOwnFileIsFetchedRatherThanAPartnerCopy) {
  // Nothing is lost, but ranks 4 and 5 now run on spare "s": their files are on n2, their partner
  // copies on n0 (whose name comes first).
  const Manifest manifest = make_manifest(nodes_of(3, 2), Redundancy::partner);
  std::string why;
  const auto result = plan(manifest, as_written(manifest), {"n0", "n0", "n1", "n1", "s", "s"}, why);
  ASSERT_TRUE(result) << why;
  EXPECT_EQ(result->ranks[4], (Recovery{Kind::fetch, own_file("n2", 4), -1, {}, {}}));
  EXPECT_EQ(result->ranks[5], (Recovery{Kind::fetch, own_file("n2", 5), -1, {}, {}}));
}

TEST(PlanRecovery, APartnerCopyOnTheRanksOwnNodeIsPreferredToFetchingItsFile) {
  // The order local_recovery.hpp and docs/configuration.md give: the file on the rank's node, a
  // partner copy there, then a fetch from another node. Ranks move one node on (0 1 to n1, 2 3 to
  // n2, 4 5 to n0): each now runs where its partner copy is, and its own file is on another node.
  const Manifest manifest = make_manifest(nodes_of(3, 2), Redundancy::partner);
  std::string why;
  const auto result = plan(manifest, as_written(manifest), {"n1", "n1", "n2", "n2", "n0", "n0"}, why);
  ASSERT_TRUE(result) << why;
  EXPECT_EQ(result->ranks[0], (Recovery{Kind::local_copy, partner_copy("n1", 0), -1, {}, {}}));
  EXPECT_EQ(result->ranks[4], (Recovery{Kind::local_copy, partner_copy("n0", 4), -1, {}, {}}));
}

TEST(PlanRecovery, AMissingFileIsRebuiltFromItsXorGroup) {
  // 3 nodes of 2 ranks, groups {0 2 4} and {1 3 5}; n1 (ranks 2 and 3) is lost, replaced by "s".
  const Manifest manifest = make_manifest(nodes_of(3, 2), Redundancy::xor_parity, 3);
  ASSERT_EQ(manifest.placement->xor_groups, (std::vector<std::vector<int>>{{0, 2, 4}, {1, 3, 5}}));
  Holdings holdings = as_written(manifest);
  holdings.erase("n1");
  std::string why;
  const auto result = plan(manifest, holdings, {"n0", "n0", "s", "s", "n2", "n2"}, why);
  ASSERT_TRUE(result) << why;
  EXPECT_EQ(result->ranks[0], in_place("n0", 0));
  EXPECT_EQ(result->ranks[4], in_place("n2", 4));
  const Recovery expected2{Kind::xor_rebuild,
                           {},
                           1,
                           {own_file("n0", 0), std::nullopt, own_file("n2", 4)},
                           {parity_piece("n0", 0), std::nullopt, parity_piece("n2", 4)}};
  const Recovery expected3{Kind::xor_rebuild,
                           {},
                           1,
                           {own_file("n0", 1), std::nullopt, own_file("n2", 5)},
                           {parity_piece("n0", 1), std::nullopt, parity_piece("n2", 5)}};
  EXPECT_EQ(result->ranks[2], expected2);
  EXPECT_EQ(result->ranks[3], expected3);
}

TEST(PlanRecovery, TheFirstMemberOfAGroupIsRebuiltToo) {
  const Manifest manifest = make_manifest(nodes_of(3, 1), Redundancy::xor_parity, 3);
  Holdings holdings = as_written(manifest);
  holdings.erase("n0");
  std::string why;
  const auto result = plan(manifest, holdings, {"s", "n1", "n2"}, why);
  ASSERT_TRUE(result) << why;
  const Recovery expected{Kind::xor_rebuild,
                          {},
                          0,
                          {std::nullopt, own_file("n1", 1), own_file("n2", 2)},
                          {std::nullopt, parity_piece("n1", 1), parity_piece("n2", 2)}};
  EXPECT_EQ(result->ranks[0], expected);
}

TEST(PlanRecovery, AnXorRebuildNeedsEveryOtherMembersParity) {
  const Manifest manifest = make_manifest(nodes_of(3, 2), Redundancy::xor_parity, 3);
  Holdings holdings = as_written(manifest);
  holdings.erase("n1");
  holdings["n2"].files.erase(parity_file_name(4));
  std::string why;
  EXPECT_FALSE(plan(manifest, holdings, {"n0", "n0", "s", "s", "n2", "n2"}, why));
  EXPECT_TRUE(contains(why, "rank 2")) << why;
}

TEST(PlanRecovery, AnXorRebuildNeedsEveryOtherMembersFile) {
  const Manifest manifest = make_manifest(nodes_of(3, 2), Redundancy::xor_parity, 3);
  Holdings holdings = as_written(manifest);
  holdings.erase("n1");
  holdings["n0"].files.erase(rank_file_name(1));
  std::string why;
  const auto result = plan(manifest, holdings, {"n0", "n0", "s", "s", "n2", "n2"}, why);
  EXPECT_FALSE(result);
  // Rank 1's own file is gone and it cannot be rebuilt either (rank 3 of its group is lost).
  EXPECT_TRUE(contains(why, "rank 1")) << why;
}

TEST(PlanRecovery, TwoLostMembersOfOneGroupCannotBeRebuilt) {
  // Groups of 3 nodes out of 3: losing n1 and n2 leaves rank 0 alone.
  const Manifest manifest = make_manifest(nodes_of(3, 1), Redundancy::xor_parity, 3);
  Holdings holdings = as_written(manifest);
  holdings.erase("n1");
  holdings.erase("n2");
  std::string why;
  EXPECT_FALSE(plan(manifest, holdings, {"n0", "s", "t"}, why));
  EXPECT_TRUE(contains(why, "rank 1")) << why;
  EXPECT_TRUE(contains(why, "n1")) << why << " (the node rank 1 ran on)";
  EXPECT_TRUE(contains(why, "xor")) << why;
}

TEST(PlanRecovery, ARankWithNeitherItsFileNorItsPartnerCopyHasNoPlan) {
  // n1 and n2 are lost: rank 2's file was on n1, its copy on n2.
  const Manifest manifest = make_manifest(nodes_of(3, 2), Redundancy::partner);
  Holdings holdings = as_written(manifest);
  holdings.erase("n1");
  holdings.erase("n2");
  std::string why;
  EXPECT_FALSE(plan(manifest, holdings, {"n0", "n0", "s", "s", "t", "t"}, why));
  EXPECT_TRUE(contains(why, "rank 2")) << why;
  EXPECT_TRUE(contains(why, "partner")) << why;
}

TEST(PlanRecovery, WithoutRedundancyALostNodeHasNoPlan) {
  const Manifest manifest = make_manifest(nodes_of(2, 2), Redundancy::none);
  Holdings holdings = as_written(manifest);
  holdings.erase("n1");
  std::string why;
  EXPECT_FALSE(plan(manifest, holdings, {"n0", "n0", "s", "s"}, why));
  EXPECT_TRUE(contains(why, "rank 2")) << why;
}

TEST(PlanRecovery, AFileOfTheWrongSizeDoesNotCount) {
  const Manifest manifest = make_manifest(nodes_of(3, 2), Redundancy::partner);
  Holdings holdings = as_written(manifest);
  holdings["n0"].files[rank_file_name(0)] = file_bytes_of(0) - 1;  // truncated
  std::string why;
  auto result = plan(manifest, holdings, nodes_of(3, 2), why);
  ASSERT_TRUE(result) << why;
  EXPECT_EQ(result->ranks[0], (Recovery{Kind::fetch, partner_copy("n1", 0), -1, {}, {}}));

  holdings["n1"].files[partner_file_name(0)] = file_bytes_of(0) + 1;
  why.clear();
  result = plan(manifest, holdings, nodes_of(3, 2), why);
  EXPECT_FALSE(result);
  EXPECT_TRUE(contains(why, "rank 0")) << why;
}

TEST(PlanRecovery, AParityPieceOfTheWrongSizeDoesNotCount) {
  const Manifest manifest = make_manifest(nodes_of(3, 2), Redundancy::xor_parity, 3);
  Holdings holdings = as_written(manifest);
  holdings.erase("n1");
  holdings["n0"].files[parity_file_name(0)] = kParityBytes + 1;
  std::string why;
  EXPECT_FALSE(plan(manifest, holdings, {"n0", "n0", "s", "s", "n2", "n2"}, why));
  EXPECT_TRUE(contains(why, "rank 2")) << why;
}

TEST(PlanRecovery, BadSourcesAreAvoided) {
  const Manifest manifest = make_manifest(nodes_of(3, 2), Redundancy::partner);
  Holdings holdings = as_written(manifest);
  std::string why;
  auto result = plan(manifest, holdings, nodes_of(3, 2), why, {own_file("n0", 0)});
  ASSERT_TRUE(result) << why;
  EXPECT_EQ(result->ranks[0], (Recovery{Kind::fetch, partner_copy("n1", 0), -1, {}, {}}));
  EXPECT_EQ(result->ranks[1], in_place("n0", 1));

  // Another whole copy of rank 0's file (on n2) is taken before the partner copy.
  holdings["n2"].files[rank_file_name(0)] = file_bytes_of(0);
  result = plan(manifest, holdings, nodes_of(3, 2), why, {own_file("n0", 0)});
  ASSERT_TRUE(result) << why;
  EXPECT_EQ(result->ranks[0], (Recovery{Kind::fetch, own_file("n2", 0), -1, {}, {}}));

  why.clear();
  result = plan(manifest, holdings, nodes_of(3, 2), why,
                {own_file("n0", 0), own_file("n2", 0), partner_copy("n1", 0)});
  EXPECT_FALSE(result);
  EXPECT_TRUE(contains(why, "rank 0")) << why;
}

TEST(PlanRecovery, BadXorInputsAreAvoided) {
  const Manifest manifest = make_manifest(nodes_of(3, 2), Redundancy::xor_parity, 3);
  Holdings holdings = as_written(manifest);
  holdings.erase("n1");
  const std::vector<std::string> now = {"n0", "n0", "s", "s", "n2", "n2"};
  std::string why;
  EXPECT_FALSE(plan(manifest, holdings, now, why, {parity_piece("n2", 4)}));
  EXPECT_TRUE(contains(why, "rank 2")) << why;

  // A second copy of parity piece 4 elsewhere is used instead.
  holdings["n0"].files[parity_file_name(4)] = kParityBytes;
  why.clear();
  const auto result = plan(manifest, holdings, now, why, {parity_piece("n2", 4)});
  ASSERT_TRUE(result) << why;
  ASSERT_EQ(result->ranks[2].member_parity.size(), 3u);
  EXPECT_EQ(result->ranks[2].member_parity[2], parity_piece("n0", 4));
}

TEST(PlanRecovery, AManifestWithoutPlacementHasNoPlan) {
  Manifest manifest = make_manifest(nodes_of(2, 1), Redundancy::partner);
  const Holdings holdings = as_written(manifest);
  manifest.placement.reset();
  std::string why;
  EXPECT_FALSE(plan(manifest, holdings, nodes_of(2, 1), why));
  EXPECT_TRUE(contains(why, "placement")) << why;
}

TEST(PlanRecovery, ADifferentNumberOfRanksHasNoPlan) {
  const Manifest manifest = make_manifest(nodes_of(3, 2), Redundancy::partner);
  std::string why;
  EXPECT_FALSE(plan(manifest, as_written(manifest), nodes_of(2, 2), why));
  EXPECT_TRUE(contains(why, "6")) << why;
  EXPECT_TRUE(contains(why, "4")) << why;
}

// --- plans and inventories as text ---------------------------------------------------------------

RecoveryPlan plan_of_every_kind() {
  RecoveryPlan result;
  result.version = 12345678901ULL;
  result.ranks = {in_place("n0", 0),
                  {Kind::local_copy, partner_copy("n2", 1), -1, {}, {}},
                  {Kind::fetch, partner_copy("n3", 2), -1, {}, {}},
                  {Kind::fetch, own_file("n0", 3), -1, {}, {}},
                  {Kind::xor_rebuild,
                   {},
                   1,
                   {own_file("n0", 0), std::nullopt, own_file("n2", 6)},
                   {parity_piece("n0", 0), std::nullopt, parity_piece("n2", 6)}}};
  return result;
}

TEST(RecoveryPlanText, EveryKindRoundTrips) {
  const RecoveryPlan original = plan_of_every_kind();
  EXPECT_EQ(parse_plan(serialize_plan(original)), original);
}

TEST(RecoveryPlanText, APlannedXorRebuildRoundTrips) {
  const Manifest manifest = make_manifest(nodes_of(3, 2), Redundancy::xor_parity, 3);
  Holdings holdings = as_written(manifest);
  holdings.erase("n1");
  std::string why;
  const auto result = plan(manifest, holdings, {"n0", "n0", "s", "s", "n2", "n2"}, why);
  ASSERT_TRUE(result) << why;
  EXPECT_EQ(parse_plan(serialize_plan(*result)), *result);
}

TEST(RecoveryPlanText, AnEmptyPlanRoundTrips) {
  const RecoveryPlan empty;
  EXPECT_EQ(parse_plan(serialize_plan(empty)), empty);
}

TEST(RecoveryPlanText, AnUnknownKindIsRefused) {
  std::string text = serialize_plan(plan_of_every_kind());
  const auto at = text.find("\"local_copy\"");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 12, "\"teleport\"");
  EXPECT_THROW(parse_plan(text), Error);
}

// Found while writing fuzz_recovery_plan (and checked there under _GLIBCXX_ASSERTIONS): a rank whose
// source was null was dereferenced as an empty std::optional, undefined behaviour.
TEST(RecoveryPlanText, ARankWithoutASourceIsRefused) {
  const std::string text =
      R"({"ranks":[{"kind":"fetch","member":-1,"member_files":[],"member_parity":[],"source":null}],"version":1})";
  EXPECT_THROW(parse_plan(text), Error);
}

// Found by fuzz_recovery_plan: a file size of 2.04e24 (beyond 64 bits, so a double in JSON) became a
// uint64_t through nlohmann's get<>(), undefined behaviour. Numbers are now checked before narrowing.
TEST(NodeInventoryText, NumbersThatDoNotFitAreRefused) {
  EXPECT_ANY_THROW(parse_node_inventory(R"({"20":{"files":{"rank-00001.h5":2042184467440737095516160},"manifest":false}})"));
  EXPECT_ANY_THROW(parse_node_inventory(R"({"20":{"files":{"rank-00001.h5":-1},"manifest":false}})"));
  EXPECT_ANY_THROW(parse_node_inventory(R"({"20":{"files":[1000],"manifest":false}})"));
  EXPECT_ANY_THROW(parse_plan(R"({"ranks":[],"version":1e30})"));
  EXPECT_ANY_THROW(parse_plan(
      R"({"ranks":[{"kind":"xor","member":4294967296,"member_files":[],"member_parity":[],"source":{"file":"","node":""}}],"version":1})"));
}

TEST(NodeInventoryText, RoundTrips) {
  NodeInventory inventory;
  inventory[3] = {true, {{rank_file_name(0), 1000}, {partner_file_name(1), 1010}, {parity_file_name(0), 600}}};
  inventory[4] = {false, {{rank_file_name(0), 5ULL << 32}}};
  inventory[9999999999ULL] = {true, {}};
  EXPECT_EQ(parse_node_inventory(serialize_node_inventory(inventory)), inventory);
}

TEST(NodeInventoryText, AnEmptyInventoryRoundTrips) {
  EXPECT_TRUE(parse_node_inventory(serialize_node_inventory({})).empty());
  EXPECT_TRUE(parse_node_inventory("").empty());
}

// --- scan_node_folder ----------------------------------------------------------------------------

void write_file(const std::filesystem::path& path, std::size_t bytes) {
  std::ofstream out(path, std::ios::binary);
  out << std::string(bytes, 'x');
}

TEST(ScanNodeFolder, ListsEachVersionsFilesAndManifest) {
  testing::ScratchDir scratch;
  const auto v3 = version_directory(scratch.path(), 3);
  const auto v4 = version_directory(scratch.path(), 4);
  ASSERT_EQ(v3.filename(), "v0000000003");
  std::filesystem::create_directories(v3);
  std::filesystem::create_directories(v4 / "not-a-file");
  write_file(v3 / kManifestFileName, 50);
  write_file(v3 / rank_file_name(0), 1000);
  write_file(v3 / partner_file_name(1), 17);
  write_file(v3 / parity_file_name(0), 0);
  write_file(v4 / rank_file_name(0), 3);  // no manifest: an incomplete version
  // Not versions: other names, and a file with a version's name.
  std::filesystem::create_directories(scratch.path() / "v5");
  write_file(scratch.path() / "v5" / rank_file_name(0), 1);
  std::filesystem::create_directories(scratch.path() / "tmp");
  write_file(scratch.path() / "notes.txt", 4);
  write_file(version_directory(scratch.path(), 6), 4);

  NodeInventory expected;
  expected[3] = {true, {{rank_file_name(0), 1000}, {partner_file_name(1), 17}, {parity_file_name(0), 0}}};
  expected[4] = {false, {{rank_file_name(0), 3}}};
  EXPECT_EQ(scan_node_folder(scratch.path()), expected);
}

TEST(ScanNodeFolder, AnEmptyVersionFolderIsListedEmpty) {
  testing::ScratchDir scratch;
  std::filesystem::create_directories(version_directory(scratch.path(), 8));
  NodeInventory expected;
  expected[8] = {};
  EXPECT_EQ(scan_node_folder(scratch.path()), expected);
}

TEST(ScanNodeFolder, AMissingFolderHoldsNothing) {
  testing::ScratchDir scratch;
  EXPECT_TRUE(scan_node_folder(scratch.path() / "absent").empty());
  EXPECT_TRUE(scan_node_folder(scratch.path()).empty());
}

TEST(ScanNodeFolder, WhatItScansPlansARecovery) {
  // Two nodes' folders, written as a 2-node partner checkpoint; node b is lost, its rank moves to a.
  testing::ScratchDir scratch;
  const Manifest manifest = make_manifest(nodes_of(2, 1), Redundancy::partner);
  const auto a = version_directory(scratch.path() / "n0", 3);
  std::filesystem::create_directories(a);
  write_file(a / kManifestFileName, 10);
  write_file(a / rank_file_name(0), file_bytes_of(0));
  write_file(a / partner_file_name(1), file_bytes_of(1));
  const NodeInventory scanned = parse_node_inventory(serialize_node_inventory(scan_node_folder(scratch.path() / "n0")));
  ASSERT_TRUE(scanned.contains(3));
  std::string why;
  const auto result = plan(manifest, {{"n0", scanned.at(3)}}, {"n0", "n0"}, why);
  ASSERT_TRUE(result) << why;
  EXPECT_EQ(result->ranks[0], in_place("n0", 0));
  EXPECT_EQ(result->ranks[1], (Recovery{Kind::local_copy, partner_copy("n0", 1), -1, {}, {}}));
}

// --- describe_rebuilt ----------------------------------------------------------------------------

TEST(DescribeRebuilt, OneLinePerRankNotReadInPlace) {
  const std::vector<std::string> lines = describe_rebuilt(plan_of_every_kind());
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_TRUE(contains(lines[0], "rank 1: partner copy")) << lines[0];
  EXPECT_TRUE(contains(lines[0], "own node n2")) << lines[0];
  EXPECT_TRUE(contains(lines[1], "rank 2: partner copy from node n3")) << lines[1];
  EXPECT_TRUE(contains(lines[2], "rank 3: its file from node n0")) << lines[2];
  EXPECT_TRUE(contains(lines[3], "rank 4")) << lines[3];
  EXPECT_TRUE(contains(lines[3], "XOR")) << lines[3];
}

TEST(DescribeRebuilt, APlannedFetchOfAPartnerCopyNamesItsNode) {
  const Manifest manifest = make_manifest(nodes_of(3, 2), Redundancy::partner);
  Holdings holdings = as_written(manifest);
  holdings.erase("n1");
  std::string why;
  const auto result = plan(manifest, holdings, {"n0", "n0", "s", "s", "n2", "n2"}, why);
  ASSERT_TRUE(result) << why;
  EXPECT_EQ(describe_rebuilt(*result),
            (std::vector<std::string>{"rank 2: partner copy from node n2", "rank 3: partner copy from node n2"}));
}

}  // namespace
}  // namespace lazarus::detail
