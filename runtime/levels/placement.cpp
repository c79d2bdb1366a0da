#include "runtime/levels/placement.hpp"

#include <mpi.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <string_view>

#include <fmt/format.h>

#include "lazarus/errors.hpp"

namespace lazarus::detail {

std::pair<int, int> Placement::xor_group_of(int rank) const {
  for (std::size_t g = 0; g < xor_groups.size(); ++g) {
    const auto& members = xor_groups[g];
    const auto found = std::find(members.begin(), members.end(), rank);
    if (found != members.end()) return {static_cast<int>(g), static_cast<int>(found - members.begin())};
  }
  return {-1, -1};
}

std::string this_node_name() {
  for (const char* variable : {"LAZARUS_NODE", "SLURMD_NODENAME"}) {
    if (const char* node = std::getenv(variable); node != nullptr && *node != '\0') return node;
  }
  char name[MPI_MAX_PROCESSOR_NAME] = {};
  int length = 0;
  if (MPI_Get_processor_name(name, &length) != MPI_SUCCESS) return "unknown";
  return std::string(name, static_cast<std::size_t>(length));
}

std::filesystem::path expand_node_name(const std::filesystem::path& local_dir, const std::string& node) {
  std::string text = local_dir.string();
  constexpr std::string_view kPattern = "%N";
  if (text.find(kPattern) == std::string::npos) return local_dir;
  // The name becomes one folder: a '/' or ".." would put the node's files somewhere else.
  if (node.empty() || node == "." || node == ".." || node.find('/') != std::string::npos) {
    throw ConfigError(fmt::format("Options::local_dir (LAZARUS_LOCAL_DIR) {} has %N, but this node's name '{}' "
                                  "(LAZARUS_NODE, SLURMD_NODENAME or the host name) cannot be a folder name",
                                  text, node));
  }
  for (auto at = text.find(kPattern); at != std::string::npos; at = text.find(kPattern, at + node.size())) {
    text.replace(at, kPattern.size(), node);
  }
  return text;
}

Placement plan_placement(const std::vector<std::string>& rank_nodes, Redundancy redundancy, int xor_group,
                         std::vector<std::string>& warnings) {
  Placement placement;
  placement.rank_nodes = rank_nodes;
  placement.redundancy = redundancy;
  const int nranks = static_cast<int>(rank_nodes.size());
  placement.partner.assign(static_cast<std::size_t>(nranks), -1);
  placement.parity.assign(static_cast<std::size_t>(nranks), PieceRecord{});

  // Nodes in order of their first rank, and the ranks on each, in rank order.
  std::vector<std::vector<int>> nodes;
  std::map<std::string, std::size_t> index_of;
  for (int rank = 0; rank < nranks; ++rank) {
    const auto [entry, added] = index_of.try_emplace(rank_nodes[static_cast<std::size_t>(rank)], nodes.size());
    if (added) nodes.emplace_back();
    nodes[entry->second].push_back(rank);
  }
  if (redundancy != Redundancy::none && nodes.size() < 2) {
    warnings.push_back(fmt::format("all {} ranks run on one node ({}): node-local checkpoints have no {} on another "
                                   "node, and a lost node is recovered from the global level only",
                                   nranks, rank_nodes.empty() ? "none" : rank_nodes.front(),
                                   redundancy == Redundancy::partner ? "partner copy" : "XOR parity"));
    return placement;
  }
  if (redundancy == Redundancy::partner) {
    for (std::size_t n = 0; n < nodes.size(); ++n) {
      const auto& next = nodes[(n + 1) % nodes.size()];
      for (std::size_t position = 0; position < nodes[n].size(); ++position) {
        placement.partner[static_cast<std::size_t>(nodes[n][position])] = next[position % next.size()];
      }
    }
  } else if (redundancy == Redundancy::xor_parity) {
    // Node groups of `xor_group`; a rest of one node joins the last group.
    std::vector<std::vector<std::size_t>> node_groups;
    for (std::size_t n = 0; n < nodes.size(); ++n) {
      if (n % static_cast<std::size_t>(xor_group) == 0 && nodes.size() - n >= 2) node_groups.emplace_back();
      node_groups.back().push_back(n);
    }
    for (const auto& group_nodes : node_groups) {
      std::size_t widest = 0;
      for (std::size_t n : group_nodes) widest = std::max(widest, nodes[n].size());
      for (std::size_t position = 0; position < widest; ++position) {
        std::vector<int> members;
        for (std::size_t n : group_nodes) {
          if (position < nodes[n].size()) members.push_back(nodes[n][position]);
        }
        if (members.size() >= 2) {
          placement.xor_groups.push_back(std::move(members));
        } else {
          warnings.push_back(fmt::format("rank {} has no XOR group (its node has more ranks than the others in its "
                                         "group): its node-local data are recovered from the global level only",
                                         members.front()));
        }
      }
    }
  }
  return placement;
}

std::string partner_file_name(int rank) { return fmt::format("partner-rank-{:05}.h5", rank); }
std::string parity_file_name(int rank) { return fmt::format("parity-rank-{:05}.bin", rank); }

std::string to_string(Redundancy redundancy) {
  switch (redundancy) {
    case Redundancy::none: return "none";
    case Redundancy::partner: return "partner";
    case Redundancy::xor_parity: return "xor";
  }
  return "none";
}

}  // namespace lazarus::detail
