#include "launcher/supervision/node_pool.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include "launcher/cli/usage_error.hpp"

namespace lazarus::launcher {

NodePool NodePool::logical(int count, const std::filesystem::path& local_root) {
  NodePool pool;
  pool.logical_ = true;
  for (int i = 1; i <= count; ++i) {
    const std::string name = fmt::format("n{}", i);
    pool.nodes_.push_back({name, Node::State::spare, local_root / name});
  }
  return pool;
}

NodePool NodePool::hosts(const std::vector<std::string>& names) {
  NodePool pool;
  for (const auto& name : names) pool.nodes_.push_back({name, Node::State::spare, {}});
  return pool;
}

void NodePool::assign(int ranks, int ranks_per_node, int spares) {
  ranks_per_node_ = ranks_per_node;
  const int needed = (ranks + ranks_per_node - 1) / ranks_per_node;
  const int available = static_cast<int>(nodes_.size()) - spares;
  if (spares < 0 || available < needed) {
    throw UsageError(fmt::format(
        "{} ranks at {} per node need {} nodes, but only {} of the {} nodes are not held back as spares "
        "(more ranks than slots)",
        ranks, ranks_per_node, needed, std::max(available, 0), nodes_.size()));
  }
  placement_.clear();
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    nodes_[i].state = static_cast<int>(i) < needed ? Node::State::hosting : Node::State::spare;
    if (nodes_[i].state == Node::State::hosting) placement_.push_back(i);
  }
}

std::vector<const Node*> NodePool::hosting() const {
  std::vector<const Node*> result;
  for (std::size_t index : placement_) result.push_back(&nodes_[index]);
  return result;
}

std::size_t NodePool::spares_left() const {
  std::size_t count = 0;
  for (const auto& node : nodes_) count += node.state == Node::State::spare;
  return count;
}

const Node& NodePool::node_of_rank(int rank) const {
  return nodes_[placement_.at(static_cast<std::size_t>(rank / ranks_per_node_))];
}

bool NodePool::healthy(const Node& node) const {
  if (!logical_) return true;
  return std::filesystem::is_directory(node.local_dir) && ::access(node.local_dir.c_str(), W_OK) == 0;
}

void NodePool::prepare_local_dirs() const {
  if (!logical_) return;
  for (const Node* node : hosting()) std::filesystem::create_directories(node->local_dir);
}

std::optional<std::string> NodePool::replace(const std::string& name) {
  for (std::size_t position = 0; position < placement_.size(); ++position) {
    Node& failed = nodes_[placement_[position]];
    if (failed.name != name) continue;
    failed.state = Node::State::down;
    for (std::size_t i = 0; i < nodes_.size(); ++i) {
      if (nodes_[i].state != Node::State::spare) continue;
      nodes_[i].state = Node::State::hosting;
      placement_[position] = i;
      return nodes_[i].name;
    }
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace lazarus::launcher
