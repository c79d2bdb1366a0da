#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "launcher/supervision/node_pool.hpp"
#include "launcher/cli/usage_error.hpp"
#include "tests/unit/test_scratch_dir.hpp"

namespace lazarus::launcher {
namespace {

using lazarus::testing::ScratchDir;

std::vector<std::string> names_of(const std::vector<const Node*>& nodes) {
  std::vector<std::string> names;
  for (const Node* node : nodes) names.push_back(node->name);
  return names;
}

const Node& node_named(const NodePool& pool, const std::string& name) {
  for (const Node& node : pool.nodes()) {
    if (node.name == name) return node;
  }
  throw std::runtime_error("no node " + name);
}

TEST(NodePool, LogicalNamesNodesWithTheirOwnFolders) {
  const std::filesystem::path root = "/tmp/lazarus-root";
  const NodePool pool = NodePool::logical(4, root);
  EXPECT_TRUE(pool.logical());
  ASSERT_EQ(pool.nodes().size(), 4u);
  for (int i = 0; i < 4; ++i) {
    const Node& node = pool.nodes()[static_cast<std::size_t>(i)];
    EXPECT_EQ(node.name, "n" + std::to_string(i + 1));
    EXPECT_EQ(node.local_dir, root / node.name);
    EXPECT_EQ(node.state, Node::State::spare);  // nothing assigned yet
  }
}

TEST(NodePool, AssignHostsTheFirstNodesAndKeepsTheRestSpare) {
  NodePool pool = NodePool::logical(4, "/tmp/lazarus-root");
  pool.assign(4, 2, 1);
  EXPECT_EQ(pool.ranks_per_node(), 2);
  EXPECT_EQ(names_of(pool.hosting()), (std::vector<std::string>{"n1", "n2"}));
  EXPECT_EQ(node_named(pool, "n1").state, Node::State::hosting);
  EXPECT_EQ(node_named(pool, "n2").state, Node::State::hosting);
  EXPECT_EQ(node_named(pool, "n3").state, Node::State::spare);
  EXPECT_EQ(node_named(pool, "n4").state, Node::State::spare);
  EXPECT_EQ(pool.spares_left(), 2u);
}

TEST(NodePool, AssignRoundsAPartialNodeUp) {
  NodePool pool = NodePool::logical(3, "/tmp/lazarus-root");
  pool.assign(3, 2, 0);
  EXPECT_EQ(names_of(pool.hosting()), (std::vector<std::string>{"n1", "n2"}));
  EXPECT_EQ(pool.node_of_rank(2).name, "n2");
}

TEST(NodePool, PlacesRanksInBlocks) {
  NodePool pool = NodePool::logical(4, "/tmp/lazarus-root");
  pool.assign(4, 2, 1);
  EXPECT_EQ(pool.node_of_rank(0).name, "n1");
  EXPECT_EQ(pool.node_of_rank(1).name, "n1");
  EXPECT_EQ(pool.node_of_rank(2).name, "n2");
  EXPECT_EQ(pool.node_of_rank(3).name, "n2");
}

TEST(NodePool, AssignThrowsWhenRanksExceedTheSlots) {
  NodePool pool = NodePool::logical(4, "/tmp/lazarus-root");
  EXPECT_THROW(pool.assign(9, 2, 0), UsageError);  // 5 nodes needed, 4 there
  EXPECT_THROW(pool.assign(8, 2, 1), UsageError);  // 4 needed, only 3 not held back
  EXPECT_THROW(pool.assign(2, 1, 5), UsageError);  // more spares than nodes
  EXPECT_NO_THROW(pool.assign(8, 2, 0));
}

TEST(NodePool, AssignThrowsForNegativeSpares) {
  NodePool pool = NodePool::logical(2, "/tmp/lazarus-root");
  EXPECT_THROW(pool.assign(2, 1, -1), UsageError);
}

TEST(NodePool, ReplacePutsTheFirstSpareInTheFailedNodesPosition) {
  NodePool pool = NodePool::logical(4, "/tmp/lazarus-root");
  pool.assign(4, 2, 1);
  const auto spare = pool.replace("n1");
  ASSERT_TRUE(spare.has_value());
  EXPECT_EQ(*spare, "n3");
  EXPECT_EQ(node_named(pool, "n1").state, Node::State::down);
  EXPECT_EQ(node_named(pool, "n3").state, Node::State::hosting);
  EXPECT_EQ(names_of(pool.hosting()), (std::vector<std::string>{"n3", "n2"}));
  EXPECT_EQ(pool.node_of_rank(0).name, "n3");
  EXPECT_EQ(pool.node_of_rank(1).name, "n3");
  EXPECT_EQ(pool.node_of_rank(2).name, "n2");
  EXPECT_EQ(pool.spares_left(), 1u);
}

TEST(NodePool, ReplaceReturnsNulloptOnceNoSpareIsLeft) {
  NodePool pool = NodePool::logical(4, "/tmp/lazarus-root");
  pool.assign(4, 2, 1);
  EXPECT_EQ(pool.replace("n1"), std::optional<std::string>("n3"));
  EXPECT_EQ(pool.replace("n2"), std::optional<std::string>("n4"));
  EXPECT_EQ(pool.spares_left(), 0u);
  EXPECT_EQ(pool.replace("n3"), std::nullopt);
  EXPECT_EQ(node_named(pool, "n3").state, Node::State::down);  // still marked down
  EXPECT_EQ(node_named(pool, "n1").state, Node::State::down);  // a down node is never promoted
}

TEST(NodePool, ReplaceIgnoresANodeThatHostsNothing) {
  NodePool pool = NodePool::logical(4, "/tmp/lazarus-root");
  pool.assign(4, 2, 1);
  EXPECT_EQ(pool.replace("n4"), std::nullopt);  // a spare, not in the placement
  EXPECT_EQ(pool.replace("nowhere"), std::nullopt);
  EXPECT_EQ(pool.spares_left(), 2u);
  EXPECT_EQ(names_of(pool.hosting()), (std::vector<std::string>{"n1", "n2"}));
}

TEST(NodePool, PrepareCreatesTheHostingNodesFoldersOnly) {
  ScratchDir scratch;
  NodePool pool = NodePool::logical(3, scratch.path());
  pool.assign(2, 1, 1);
  pool.prepare_local_dirs();
  EXPECT_TRUE(std::filesystem::is_directory(scratch.path() / "n1"));
  EXPECT_TRUE(std::filesystem::is_directory(scratch.path() / "n2"));
  EXPECT_FALSE(std::filesystem::exists(scratch.path() / "n3"));
}

TEST(NodePool, LogicalNodeIsUnhealthyOnceItsFolderIsRemoved) {
  ScratchDir scratch;
  NodePool pool = NodePool::logical(2, scratch.path());
  pool.assign(2, 1, 0);
  pool.prepare_local_dirs();
  EXPECT_TRUE(pool.healthy(node_named(pool, "n1")));
  EXPECT_TRUE(pool.healthy(node_named(pool, "n2")));
  std::filesystem::remove_all(scratch.path() / "n1");
  EXPECT_FALSE(pool.healthy(node_named(pool, "n1")));
  EXPECT_TRUE(pool.healthy(node_named(pool, "n2")));
}

TEST(NodePool, RealHostsAreNotLogicalAndAssumedHealthy) {
  NodePool pool = NodePool::hosts({"a", "b"});
  EXPECT_FALSE(pool.logical());
  ASSERT_EQ(pool.nodes().size(), 2u);
  EXPECT_EQ(pool.nodes()[0].name, "a");
  EXPECT_EQ(pool.nodes()[1].name, "b");
  EXPECT_TRUE(pool.nodes()[0].local_dir.empty());
  pool.assign(1, 1, 1);
  EXPECT_EQ(names_of(pool.hosting()), (std::vector<std::string>{"a"}));
  EXPECT_EQ(pool.spares_left(), 1u);
  EXPECT_TRUE(pool.healthy(node_named(pool, "a")));
  EXPECT_NO_THROW(pool.prepare_local_dirs());  // nothing to create
}

}  // namespace
}  // namespace lazarus::launcher
