#pragma once
// Planning a restart from the node-local levels: what each node's folder still holds (its
// inventory), and, for one version, how every rank gets its file back onto the node it now runs on:
// already there, a partner copy there, fetched from another node, or rebuilt from XOR parity. The
// plan is pure bookkeeping (runtime/levels/recovery.cpp carries it out), so it is unit-tested alone.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "runtime/format/manifest.hpp"

namespace lazarus::detail {

// What one node's local folder holds of one version.
struct NodeHoldings {
  bool manifest = false;
  std::map<std::string, std::uint64_t> files;  // file name -> size in bytes
  friend bool operator==(const NodeHoldings&, const NodeHoldings&) = default;
};
using NodeInventory = std::map<std::uint64_t, NodeHoldings>;       // version -> holdings
using Inventory = std::map<std::string, NodeInventory>;             // node -> its inventory

// Scans one node's local job folder. Throws IoError when it cannot be listed.
NodeInventory scan_node_folder(const std::filesystem::path& local_job_dir);
std::string serialize_node_inventory(const NodeInventory& inventory);
NodeInventory parse_node_inventory(const std::string& text);

// A file on a node.
struct Source {
  std::string node;
  std::string file;
  friend bool operator==(const Source&, const Source&) = default;
  friend auto operator<=>(const Source&, const Source&) = default;
};

// How one rank gets its file of the version.
struct Recovery {
  enum class Kind { in_place, local_copy, fetch, xor_rebuild };
  Kind kind = Kind::in_place;
  Source source;  // in_place, local_copy (a partner copy on the rank's own node), fetch
  // xor_rebuild: the rank's index in its group, and per member the source of its file and of its
  // parity piece (none for the rank itself).
  int member = -1;
  std::vector<std::optional<Source>> member_files;
  std::vector<std::optional<Source>> member_parity;
  friend bool operator==(const Recovery&, const Recovery&) = default;
};

struct RecoveryPlan {
  std::uint64_t version = 0;
  std::vector<Recovery> ranks;  // by rank
  friend bool operator==(const RecoveryPlan&, const RecoveryPlan&) = default;
};

// The plan for `manifest`'s version with the ranks now on `rank_nodes_now`, from what the nodes that
// report (`holdings`: node -> what it holds of this version) still hold, avoiding `bad` sources. A
// file counts only when its size is the manifest's. nullopt, with `why`, when some rank's file cannot
// be had.
std::optional<RecoveryPlan> plan_recovery(const Manifest& manifest, const std::map<std::string, NodeHoldings>& holdings,
                                          const std::vector<std::string>& rank_nodes_now, const std::set<Source>& bad,
                                          std::string& why);

// The size and checksum `manifest` records for a file of a version's node-local folder: a rank file,
// a partner copy (the same as its rank's file) or a parity piece. Throws Error for another name.
struct FileRecord {
  std::uint64_t bytes = 0;
  std::uint64_t xxh3 = 0;
};
FileRecord file_record(const Manifest& manifest, const std::string& file);

std::string serialize_plan(const RecoveryPlan& plan);
RecoveryPlan parse_plan(const std::string& text);

// One line per rank that does not simply read its own file in place: "rank 2: partner copy from n3".
std::vector<std::string> describe_rebuilt(const RecoveryPlan& plan);

}  // namespace lazarus::detail
