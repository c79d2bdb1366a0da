#pragma once
// Where a multi-level checkpoint's pieces live: which node each rank ran on, and where each rank's
// redundancy is kept (L2, see docs/configuration.md "Levels"). Computed from the node names when a
// version is written and recorded in its node-local manifest, so that a restart on other nodes knows
// where to look.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "lazarus/options.hpp"

namespace lazarus::detail {

// A stored piece that is not a rank file (an XOR parity piece): its size and checksum.
struct PieceRecord {
  std::uint64_t bytes = 0;
  std::uint64_t xxh3 = 0;
  friend bool operator==(const PieceRecord&, const PieceRecord&) = default;
};

struct Placement {
  std::vector<std::string> rank_nodes;  // the node each rank ran on
  Redundancy redundancy = Redundancy::none;
  std::vector<int> partner;                  // partner: the rank that keeps a copy of rank r's file; -1: none
  std::vector<std::vector<int>> xor_groups;  // xor: groups of ranks, each on a different node
  std::vector<PieceRecord> parity;           // xor: each rank's parity piece (bytes 0: in no group)
  friend bool operator==(const Placement&, const Placement&) = default;

  // The XOR group of `rank` and its index in it; nullopt-like {-1, -1} when in none.
  std::pair<int, int> xor_group_of(int rank) const;
};

// This process's node: LAZARUS_NODE (set by `lazarus run` for each logical node), else
// SLURMD_NODENAME (set by Slurm in every task: several Slurm nodes may share one host, which the host
// name cannot tell apart), else the host name MPI reports. The one source of the node's name: the
// placement, `%N` in the node-local folder and the launcher's hello all use it.
std::string this_node_name();

// `local_dir` (Options::local_dir) with every `%N` replaced by `node`, so that one value given to
// every rank names a folder per node. Throws ConfigError when `%N` is there and `node` cannot be one
// path component (empty, ".", "..", or with a '/').
std::filesystem::path expand_node_name(const std::filesystem::path& local_dir, const std::string& node);

// The placement for ranks on `rank_nodes`. Nodes are numbered in order of their first rank; a rank's
// partner is the rank with the same position on the next node (wrapping around); XOR groups take
// `xor_group` consecutive nodes (a smaller rest joins the last group) and, in each, the ranks with the
// same position on their node. With one node there is no partner and no group: `warnings` says so.
Placement plan_placement(const std::vector<std::string>& rank_nodes, Redundancy redundancy, int xor_group,
                         std::vector<std::string>& warnings);

// File names in a node-local version folder.
std::string partner_file_name(int rank);  // the copy of `rank`'s file kept for it: partner-rank-00002.h5
std::string parity_file_name(int rank);   // `rank`'s XOR parity piece: parity-rank-00002.bin

std::string to_string(Redundancy redundancy);

}  // namespace lazarus::detail
