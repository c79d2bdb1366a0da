#pragma once
// The nodes a job may use: those that host ranks, the spares held back, and those marked down. Ranks
// are placed on the hosting nodes in blocks of ranks_per_node, in order.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace lazarus::launcher {

struct Node {
  enum class State { hosting, spare, down };
  std::string name;
  State state = State::spare;
  std::filesystem::path local_dir;  // logical nodes: the node's own local storage
};

class NodePool {
 public:
  // Logical nodes n1..n<count> on this host, each with `<local_root>/<name>` as its local folder.
  static NodePool logical(int count, const std::filesystem::path& local_root);
  // Real hosts, by name.
  static NodePool hosts(const std::vector<std::string>& names);

  // Chooses the hosting nodes for `ranks` ranks: the first ceil(ranks / ranks_per_node) nodes, the
  // others are spares; at least `spares` must remain. Throws UsageError when there are too few nodes.
  void assign(int ranks, int ranks_per_node, int spares);

  bool logical() const { return logical_; }
  int ranks_per_node() const { return ranks_per_node_; }
  const std::vector<Node>& nodes() const { return nodes_; }
  std::vector<const Node*> hosting() const;
  std::size_t spares_left() const;
  // The node hosting `rank`.
  const Node& node_of_rank(int rank) const;
  // Logical nodes: the local folder exists and is writable. Real hosts: assumed up.
  bool healthy(const Node& node) const;
  // Creates the local folders of the hosting logical nodes.
  void prepare_local_dirs() const;
  // Marks `name` down and promotes the first spare into its place (same position in the placement).
  // Returns the spare's name, or nullopt when no spare is left (the node is still marked down).
  std::optional<std::string> replace(const std::string& name);

 private:
  std::vector<Node> nodes_;
  std::vector<std::size_t> placement_;  // indices into nodes_ of the hosting nodes, in rank order
  bool logical_ = false;
  int ranks_per_node_ = 1;
};

}  // namespace lazarus::launcher
