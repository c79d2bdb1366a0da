// Where a multi-level checkpoint's redundancy lives: plan_placement's partner ring (the same position
// on the next node, wrapping around, also with unequal or interleaved nodes), its XOR groups (k
// consecutive nodes by position, a rest of one node joining the last group, every member on another
// node), the one-node and Redundancy::none cases, Placement::xor_group_of, the node-local file names,
// and a Manifest's placement through serialize_manifest / parse_manifest (absent, round trip, and the
// lists that must match nranks). The node's name (LAZARUS_NODE, else SLURMD_NODENAME) and `%N` in
// the node-local folder.
#include "runtime/levels/placement.hpp"

#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <xxhash.h>

#include "lazarus/errors.hpp"
#include "runtime/format/manifest.hpp"
#include "runtime/format/version_catalog.hpp"
#include "../scoped_environment.hpp"

namespace lazarus::detail {
namespace {

using lazarus::testing::ScopedVariable;

// `ranks_per_node[n]` ranks on node "n<n>", in rank order.
std::vector<std::string> consecutive_nodes(const std::vector<int>& ranks_per_node) {
  std::vector<std::string> rank_nodes;
  for (std::size_t n = 0; n < ranks_per_node.size(); ++n) {
    for (int i = 0; i < ranks_per_node[n]; ++i) rank_nodes.push_back("n" + std::to_string(n));
  }
  return rank_nodes;
}

// Every partner is on another node than the rank it keeps a copy for.
void expect_partners_on_other_nodes(const Placement& placement) {
  for (std::size_t rank = 0; rank < placement.partner.size(); ++rank) {
    const int partner = placement.partner[rank];
    ASSERT_GE(partner, 0) << "rank " << rank;
    ASSERT_LT(partner, static_cast<int>(placement.rank_nodes.size())) << "rank " << rank;
    EXPECT_NE(placement.rank_nodes[static_cast<std::size_t>(partner)], placement.rank_nodes[rank]) << "rank " << rank;
  }
}

// Every group has at least two members, each on a different node, and no rank is in two groups.
void expect_groups_on_distinct_nodes(const Placement& placement) {
  std::set<int> seen;
  for (const auto& group : placement.xor_groups) {
    EXPECT_GE(group.size(), 2u);
    std::set<std::string> nodes;
    for (const int member : group) {
      EXPECT_TRUE(seen.insert(member).second) << "rank " << member << " is in two groups";
      EXPECT_TRUE(nodes.insert(placement.rank_nodes.at(static_cast<std::size_t>(member))).second)
          << "two members of a group on node " << placement.rank_nodes.at(static_cast<std::size_t>(member));
    }
  }
}

TEST(PlanPlacement, RecordsTheRankNodesAndTheRedundancy) {
  std::vector<std::string> warnings;
  const auto rank_nodes = consecutive_nodes({2, 2});
  const Placement placement = plan_placement(rank_nodes, Redundancy::partner, 4, warnings);
  EXPECT_EQ(placement.rank_nodes, rank_nodes);
  EXPECT_EQ(placement.redundancy, Redundancy::partner);
  EXPECT_EQ(placement.parity, std::vector<PieceRecord>(4)) << "one empty parity record per rank";
  EXPECT_TRUE(warnings.empty());
}

TEST(PlanPlacement, PartnerIsTheSamePositionOnTheNextNodeWrappingAround) {
  // n0: ranks 0 1, n1: ranks 2 3, n2: ranks 4 5.
  std::vector<std::string> warnings;
  const Placement placement = plan_placement(consecutive_nodes({2, 2, 2}), Redundancy::partner, 4, warnings);
  EXPECT_EQ(placement.partner, (std::vector<int>{2, 3, 4, 5, 0, 1}));
  EXPECT_TRUE(placement.xor_groups.empty());
  EXPECT_TRUE(warnings.empty());
  expect_partners_on_other_nodes(placement);
}

TEST(PlanPlacement, TwoNodesArePartnersOfEachOther) {
  std::vector<std::string> warnings;
  const Placement placement = plan_placement(consecutive_nodes({3, 3}), Redundancy::partner, 4, warnings);
  EXPECT_EQ(placement.partner, (std::vector<int>{3, 4, 5, 0, 1, 2}));
  EXPECT_TRUE(warnings.empty());
}

TEST(PlanPlacement, NodesAreNumberedInOrderOfTheirFirstRank) {
  // Ranks alternate between the nodes; "b" holds rank 0, so it is the first node.
  std::vector<std::string> warnings;
  const Placement placement =
      plan_placement({"b", "a", "b", "a", "c", "c"}, Redundancy::partner, 4, warnings);
  // b: 0 2, a: 1 3, c: 4 5; b -> a -> c -> b.
  EXPECT_EQ(placement.partner, (std::vector<int>{1, 4, 3, 5, 0, 2}));
  expect_partners_on_other_nodes(placement);
}

TEST(PlanPlacement, PartnersWithUnequalRankCountsWrapOnTheSmallerNode) {
  // n0: ranks 0 1 2, n1: rank 3, n2: ranks 4 5.
  std::vector<std::string> warnings;
  const Placement placement = plan_placement(consecutive_nodes({3, 1, 2}), Redundancy::partner, 4, warnings);
  EXPECT_EQ(placement.partner, (std::vector<int>{3, 3, 3, 4, 0, 1}));
  EXPECT_TRUE(warnings.empty());
  expect_partners_on_other_nodes(placement);
}

TEST(PlanPlacement, PartnersOnManyUnequalNodesAreAlwaysElsewhere) {
  std::vector<std::string> warnings;
  const Placement placement = plan_placement(consecutive_nodes({1, 4, 2, 5, 1, 3}), Redundancy::partner, 4, warnings);
  expect_partners_on_other_nodes(placement);
  EXPECT_TRUE(warnings.empty());
}

TEST(PlanPlacement, OneNodeHasNoPartnerAndSaysSo) {
  std::vector<std::string> warnings;
  const Placement placement = plan_placement(consecutive_nodes({4}), Redundancy::partner, 4, warnings);
  EXPECT_EQ(placement.partner, std::vector<int>(4, -1));
  EXPECT_TRUE(placement.xor_groups.empty());
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("one node"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("n0"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("partner"), std::string::npos) << warnings[0];
}

TEST(PlanPlacement, OneNodeHasNoXorGroupAndSaysSo) {
  std::vector<std::string> warnings;
  const Placement placement = plan_placement(consecutive_nodes({3}), Redundancy::xor_parity, 2, warnings);
  EXPECT_EQ(placement.partner, std::vector<int>(3, -1));
  EXPECT_TRUE(placement.xor_groups.empty());
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("XOR"), std::string::npos) << warnings[0];
}

TEST(PlanPlacement, XorGroupsTakeKConsecutiveNodesByPosition) {
  // 6 nodes of 2 ranks (n0: 0 1, n1: 2 3, ..., n5: 10 11), groups of 3 nodes.
  std::vector<std::string> warnings;
  const Placement placement =
      plan_placement(consecutive_nodes({2, 2, 2, 2, 2, 2}), Redundancy::xor_parity, 3, warnings);
  EXPECT_EQ(placement.xor_groups,
            (std::vector<std::vector<int>>{{0, 2, 4}, {1, 3, 5}, {6, 8, 10}, {7, 9, 11}}));
  EXPECT_EQ(placement.partner, std::vector<int>(12, -1)) << "xor keeps no partner copies";
  EXPECT_TRUE(warnings.empty());
  expect_groups_on_distinct_nodes(placement);
}

TEST(PlanPlacement, ARestOfOneNodeJoinsTheLastGroup) {
  // 5 nodes of one rank each, groups of 2: {0 1} and {2 3 4}, not a lone {4}.
  std::vector<std::string> warnings;
  const Placement placement = plan_placement(consecutive_nodes({1, 1, 1, 1, 1}), Redundancy::xor_parity, 2, warnings);
  EXPECT_EQ(placement.xor_groups, (std::vector<std::vector<int>>{{0, 1}, {2, 3, 4}}));
  EXPECT_TRUE(warnings.empty());
}

TEST(PlanPlacement, ARestOfTwoNodesMakesAGroupOfItsOwn) {
  // 8 nodes, groups of 3: {0 1 2} {3 4 5} {6 7}.
  std::vector<std::string> warnings;
  const Placement placement = plan_placement(consecutive_nodes({1, 1, 1, 1, 1, 1, 1, 1}), Redundancy::xor_parity, 3,
                                             warnings);
  EXPECT_EQ(placement.xor_groups, (std::vector<std::vector<int>>{{0, 1, 2}, {3, 4, 5}, {6, 7}}));
  EXPECT_TRUE(warnings.empty());
}

TEST(PlanPlacement, FewerNodesThanTheGroupSizeMakeOneGroup) {
  std::vector<std::string> warnings;
  const Placement placement = plan_placement(consecutive_nodes({2, 2, 2}), Redundancy::xor_parity, 4, warnings);
  EXPECT_EQ(placement.xor_groups, (std::vector<std::vector<int>>{{0, 2, 4}, {1, 3, 5}}));
  EXPECT_TRUE(warnings.empty());
}

TEST(PlanPlacement, ARankAloneAtItsPositionIsInNoGroupAndSaysSo) {
  // n0: ranks 0 1 2, n1: rank 3. Only position 0 has two members.
  std::vector<std::string> warnings;
  const Placement placement = plan_placement(consecutive_nodes({3, 1}), Redundancy::xor_parity, 2, warnings);
  EXPECT_EQ(placement.xor_groups, (std::vector<std::vector<int>>{{0, 3}}));
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_NE(warnings[0].find("rank 1"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[1].find("rank 2"), std::string::npos) << warnings[1];
  EXPECT_EQ(placement.xor_group_of(1), std::make_pair(-1, -1));
  EXPECT_EQ(placement.xor_group_of(2), std::make_pair(-1, -1));
}

TEST(PlanPlacement, XorGroupsOfUnequalNodesStayOnDistinctNodes) {
  std::vector<std::string> warnings;
  const Placement placement = plan_placement(consecutive_nodes({2, 3, 1, 2, 2}), Redundancy::xor_parity, 2, warnings);
  expect_groups_on_distinct_nodes(placement);
  // Nodes {0 1} and {2 3 4}: positions 0 and 1 of n0 n1, then of n2 n3 n4; n1's third rank (4) is alone.
  EXPECT_EQ(placement.xor_groups, (std::vector<std::vector<int>>{{0, 2}, {1, 3}, {5, 6, 8}, {7, 9}}));
  EXPECT_EQ(warnings.size(), 1u);
}

TEST(PlanPlacement, NoRedundancyGivesNoPartnersNoGroupsAndNoWarning) {
  for (const auto& rank_nodes : {consecutive_nodes({2, 2, 2}), consecutive_nodes({4})}) {
    std::vector<std::string> warnings;
    const Placement placement = plan_placement(rank_nodes, Redundancy::none, 2, warnings);
    EXPECT_EQ(placement.redundancy, Redundancy::none);
    EXPECT_EQ(placement.partner, std::vector<int>(rank_nodes.size(), -1));
    EXPECT_TRUE(placement.xor_groups.empty());
    EXPECT_TRUE(warnings.empty());
  }
}

TEST(Placement, XorGroupOfGivesTheGroupAndTheIndexInIt) {
  Placement placement;
  placement.xor_groups = {{0, 2, 4}, {1, 3, 5}, {6, 8, 10}};
  EXPECT_EQ(placement.xor_group_of(0), std::make_pair(0, 0));
  EXPECT_EQ(placement.xor_group_of(4), std::make_pair(0, 2));
  EXPECT_EQ(placement.xor_group_of(3), std::make_pair(1, 1));
  EXPECT_EQ(placement.xor_group_of(8), std::make_pair(2, 1));
  EXPECT_EQ(placement.xor_group_of(7), std::make_pair(-1, -1));
  EXPECT_EQ(Placement{}.xor_group_of(0), std::make_pair(-1, -1));
}

TEST(Placement, NodeLocalFileNames) {
  EXPECT_EQ(partner_file_name(2), "partner-rank-00002.h5");
  EXPECT_EQ(parity_file_name(2), "parity-rank-00002.bin");
  EXPECT_EQ(partner_file_name(12345), "partner-rank-12345.h5");
  EXPECT_EQ(parity_file_name(0), "parity-rank-00000.bin");
  EXPECT_NE(partner_file_name(7), rank_file_name(7));
}

TEST(Placement, RedundancyNames) {
  EXPECT_EQ(to_string(Redundancy::none), "none");
  EXPECT_EQ(to_string(Redundancy::partner), "partner");
  EXPECT_EQ(to_string(Redundancy::xor_parity), "xor");
}

// Several Slurm nodes may share one host (in tests): Slurm's name for the node tells them apart.
TEST(NodeName, IsSlurmsNodeNameWhenLazarusNodeIsUnset) {
  ScopedVariable lazarus_node("LAZARUS_NODE", std::nullopt);
  ScopedVariable slurm_node("SLURMD_NODENAME", "cn042");
  EXPECT_EQ(this_node_name(), "cn042");
}

TEST(NodeName, LazarusNodeComesBeforeSlurmsNodeName) {
  ScopedVariable lazarus_node("LAZARUS_NODE", "n3");
  ScopedVariable slurm_node("SLURMD_NODENAME", "cn042");
  EXPECT_EQ(this_node_name(), "n3");
}

TEST(NodeName, AnEmptyLazarusNodeCountsAsUnset) {
  ScopedVariable lazarus_node("LAZARUS_NODE", "");
  ScopedVariable slurm_node("SLURMD_NODENAME", "cn042");
  EXPECT_EQ(this_node_name(), "cn042");
}

TEST(ExpandNodeName, ReplacesEveryPercentNWithTheNode) {
  EXPECT_EQ(expand_node_name("/tmp/lazarus/%N", "cn042"), std::filesystem::path("/tmp/lazarus/cn042"));
  EXPECT_EQ(expand_node_name("/scratch/%N/ckpt-%N", "n1"), std::filesystem::path("/scratch/n1/ckpt-n1"));
  EXPECT_EQ(expand_node_name("rel/%N", "n1"), std::filesystem::path("rel/n1"));
}

TEST(ExpandNodeName, LeavesAFolderWithoutPercentNAlone) {
  EXPECT_EQ(expand_node_name("/dev/shm", "cn042"), std::filesystem::path("/dev/shm"));
  EXPECT_EQ(expand_node_name("/dev/shm/%n", "cn042"), std::filesystem::path("/dev/shm/%n"));
  EXPECT_EQ(expand_node_name("/dev/shm", ""), std::filesystem::path("/dev/shm")) << "no %N: the name is not needed";
}

TEST(ExpandNodeName, ANameThatIsNotOneFolderIsAConfigError) {
  for (const std::string node : {"", ".", "..", "a/b", "/"}) {
    EXPECT_THROW(expand_node_name("/tmp/lazarus/%N", node), ConfigError) << "'" << node << "'";
  }
  try {
    expand_node_name("/tmp/lazarus/%N", "a/b");
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find("LAZARUS_LOCAL_DIR"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("'a/b'"), std::string::npos) << error.what();
  }
}

// A manifest of `rank_nodes.size()` ranks with the placement plan_placement gives.
Manifest manifest_with_placement(const std::vector<std::string>& rank_nodes, Redundancy redundancy, int xor_group) {
  Manifest manifest;
  manifest.job = "heat";
  manifest.version = 7;
  manifest.nranks = static_cast<int>(rank_nodes.size());
  manifest.created_unix_ms = 1790000000250;
  manifest.compression_level = 3;
  manifest.chunk_bytes = 1 << 20;
  for (int rank = 0; rank < manifest.nranks; ++rank) {
    manifest.ranks.push_back({rank, rank_file_name(rank), 1000u + static_cast<std::uint64_t>(rank),
                              0x0123456789abcdefULL + static_cast<std::uint64_t>(rank), {}});
  }
  std::vector<std::string> warnings;
  manifest.placement = plan_placement(rank_nodes, redundancy, xor_group, warnings);
  for (const auto& group : manifest.placement->xor_groups) {
    for (const int member : group) {
      manifest.placement->parity[static_cast<std::size_t>(member)] = {
          500, 0xfedcba9876543210ULL - static_cast<std::uint64_t>(member)};
    }
  }
  return manifest;
}

// Manifest text after an edit, with its checksum recomputed (as docs/file-format.md describes), so
// that only the edit itself can make it fail.
std::string resealed(nlohmann::json body) {
  body.erase("checksum_xxh3_64");
  const std::string compact = body.dump();
  body["checksum_xxh3_64"] = fmt::format("{:016x}", XXH3_64bits(compact.data(), compact.size()));
  return body.dump(1);
}

TEST(ManifestPlacement, XorPlacementRoundTrips) {
  const Manifest manifest = manifest_with_placement(consecutive_nodes({2, 2, 2}), Redundancy::xor_parity, 3);
  ASSERT_FALSE(manifest.placement->xor_groups.empty());
  const Manifest parsed = parse_manifest(serialize_manifest(manifest), "test");
  ASSERT_TRUE(parsed.placement.has_value());
  EXPECT_EQ(*parsed.placement, *manifest.placement);
  EXPECT_EQ(parsed, manifest);
}

TEST(ManifestPlacement, PartnerPlacementRoundTrips) {
  const Manifest manifest = manifest_with_placement({"b", "a", "b", "a"}, Redundancy::partner, 4);
  const Manifest parsed = parse_manifest(serialize_manifest(manifest), "test");
  ASSERT_TRUE(parsed.placement.has_value());
  EXPECT_EQ(parsed.placement->redundancy, Redundancy::partner);
  EXPECT_EQ(parsed.placement->partner, (std::vector<int>{1, 0, 3, 2}));  // b: 0 2, a: 1 3
  EXPECT_EQ(parsed, manifest);
}

TEST(ManifestPlacement, NoRedundancyPlacementRoundTrips) {
  const Manifest manifest = manifest_with_placement(consecutive_nodes({1}), Redundancy::none, 2);
  const Manifest parsed = parse_manifest(serialize_manifest(manifest), "test");
  ASSERT_TRUE(parsed.placement.has_value());
  EXPECT_EQ(parsed, manifest);
}

TEST(ManifestPlacement, AManifestWithoutPlacementParsesWithNone) {
  Manifest manifest = manifest_with_placement(consecutive_nodes({2, 2}), Redundancy::partner, 4);
  manifest.placement.reset();
  const std::string text = serialize_manifest(manifest);
  EXPECT_EQ(text.find("placement"), std::string::npos);
  const Manifest parsed = parse_manifest(text, "test");
  EXPECT_FALSE(parsed.placement.has_value());
  EXPECT_EQ(parsed, manifest);
}

TEST(ManifestPlacement, ListsThatDoNotMatchNranksAreCorrupt) {
  const Manifest good = manifest_with_placement(consecutive_nodes({2, 2}), Redundancy::partner, 4);
  {
    Manifest manifest = good;
    manifest.placement->rank_nodes.pop_back();
    EXPECT_THROW(parse_manifest(serialize_manifest(manifest), "test"), CorruptCheckpoint);
  }
  {
    Manifest manifest = good;
    manifest.placement->rank_nodes.push_back("n9");
    EXPECT_THROW(parse_manifest(serialize_manifest(manifest), "test"), CorruptCheckpoint);
  }
  {
    Manifest manifest = good;
    manifest.placement->partner.pop_back();
    EXPECT_THROW(parse_manifest(serialize_manifest(manifest), "test"), CorruptCheckpoint);
  }
  {
    Manifest manifest = good;
    manifest.placement->parity.push_back({});
    EXPECT_THROW(parse_manifest(serialize_manifest(manifest), "test"), CorruptCheckpoint);
  }
}

TEST(ManifestPlacement, PartnerOutOfRangeIsCorrupt) {
  const Manifest good = manifest_with_placement(consecutive_nodes({2, 2}), Redundancy::partner, 4);
  for (const int partner : {4, 100, -2}) {
    Manifest manifest = good;
    manifest.placement->partner[1] = partner;
    EXPECT_THROW(parse_manifest(serialize_manifest(manifest), "test"), CorruptCheckpoint) << "partner " << partner;
  }
  Manifest manifest = good;
  manifest.placement->partner[1] = -1;  // none is allowed
  EXPECT_EQ(parse_manifest(serialize_manifest(manifest), "test"), manifest);
}

TEST(ManifestPlacement, XorGroupMemberOutOfRangeIsCorrupt) {
  Manifest manifest = manifest_with_placement(consecutive_nodes({1, 1, 1}), Redundancy::xor_parity, 3);
  ASSERT_EQ(manifest.placement->xor_groups.size(), 1u);
  manifest.placement->xor_groups[0].push_back(3);
  EXPECT_THROW(parse_manifest(serialize_manifest(manifest), "test"), CorruptCheckpoint);
}

// Issue 13, item 12: a one-member XOR group in a checksum-valid manifest divided by zero (SIGFPE) in
// every rank's restore and in the launcher's scavenge. Every structural field is checked on reading.
TEST(ManifestPlacement, XorGroupsAndPartnersThatPlanningCannotMakeAreCorrupt) {
  const Manifest good = manifest_with_placement(consecutive_nodes({1, 1, 1, 1}), Redundancy::xor_parity, 2);
  ASSERT_EQ(good.placement->xor_groups, (std::vector<std::vector<int>>{{0, 1}, {2, 3}}));
  auto refusal = [](const Manifest& manifest) -> std::string {
    try {
      parse_manifest(serialize_manifest(manifest), "test");
    } catch (const CorruptCheckpoint& error) {
      return error.what();
    }
    return "";
  };
  Manifest manifest = good;
  manifest.placement->xor_groups = {{0}, {2, 3}};
  EXPECT_NE(refusal(manifest).find("XOR group 0 has 1 member(s)"), std::string::npos) << refusal(manifest);
  manifest.placement->xor_groups = {{}, {2, 3}};
  EXPECT_NE(refusal(manifest).find("XOR group 0 has 0 member(s)"), std::string::npos) << refusal(manifest);
  manifest.placement->xor_groups = {{0, 1}, {1, 2}};
  EXPECT_NE(refusal(manifest).find("rank 1 is in two XOR groups"), std::string::npos) << refusal(manifest);
  manifest.placement->xor_groups = {{0, 0}, {2, 3}};
  EXPECT_NE(refusal(manifest).find("rank 0 is in two XOR groups"), std::string::npos) << refusal(manifest);
  manifest = good;
  manifest.placement->rank_nodes[1] = manifest.placement->rank_nodes[0];
  EXPECT_NE(refusal(manifest).find("XOR group 0 has two ranks on node"), std::string::npos) << refusal(manifest);
  Manifest partners = manifest_with_placement({"b", "a", "b", "a"}, Redundancy::partner, 4);
  partners.placement->partner[2] = 2;
  EXPECT_NE(refusal(partners).find("rank 2 is its own partner"), std::string::npos) << refusal(partners);
  EXPECT_EQ(refusal(good), "");
}

TEST(ManifestPlacement, UnknownRedundancyIsCorrupt) {
  const Manifest manifest = manifest_with_placement(consecutive_nodes({1, 1}), Redundancy::partner, 2);
  nlohmann::json body = nlohmann::json::parse(serialize_manifest(manifest));
  body["placement"]["redundancy"] = "mirror";
  EXPECT_THROW(parse_manifest(resealed(std::move(body)), "test"), CorruptCheckpoint);
}

TEST(ManifestPlacement, AResealedManifestStillParses) {
  // The control for the test above: resealing an unedited manifest keeps it valid.
  const Manifest manifest = manifest_with_placement(consecutive_nodes({1, 1}), Redundancy::partner, 2);
  EXPECT_EQ(parse_manifest(resealed(nlohmann::json::parse(serialize_manifest(manifest))), "test"), manifest);
}

}  // namespace
}  // namespace lazarus::detail
