#pragma once
// The node-local levels of a multi-level checkpoint (docs/configuration.md, "Levels"): every rank
// writes its file under its node's LAZARUS_LOCAL_DIR (L1), its redundancy goes to other nodes (L2),
// and once all of that is durable, one rank per node writes the version's manifest into that node's
// folder. A version is complete at the local level when some node holds its manifest: manifests are
// written only after every piece on every node was durable.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "backends/mpi/communicator.hpp"
#include "lazarus/options.hpp"
#include "runtime/format/manifest.hpp"
#include "runtime/region_registry.hpp"

namespace lazarus::detail {

// Which node every rank runs on. Collective to make.
class NodeMap {
 public:
  NodeMap() = default;
  explicit NodeMap(std::vector<std::string> rank_nodes) : rank_nodes_(std::move(rank_nodes)) {}
  static NodeMap gather(const backends::Communicator& comm);

  const std::vector<std::string>& rank_nodes() const noexcept { return rank_nodes_; }
  const std::string& node_of(int rank) const { return rank_nodes_.at(static_cast<std::size_t>(rank)); }
  // The lowest rank on `node` (the one that writes and reads that node's shared files); -1: none.
  int leader_of(const std::string& node) const;
  bool is_leader(int rank) const { return leader_of(node_of(rank)) == rank; }

 private:
  std::vector<std::string> rank_nodes_;
};

struct LocalCommit {
  Manifest manifest;  // with its placement
  std::uint64_t bytes = 0;       // this rank's uncompressed bytes
  std::uint64_t file_bytes = 0;  // this rank's file
  std::vector<std::string> warnings;  // placement warnings (no partner on another node, ...)
};

// Collective. Commits `version` at the node-local level once every rank's file of it is durable in
// its node's folder under `local_job_dir` (`mine`: this rank's record): redundancy, then each node's
// manifest, published by one rank per node. Retention keeps `options.keep` complete local versions
// and never removes `protect` (a version still being copied to the global level; 0: none). Throws
// the same error on every rank when any fails; the previous local version stays complete.
LocalCommit finish_local_commit(const backends::Communicator& comm, const Options& options, const NodeMap& nodes,
                                const std::filesystem::path& local_job_dir, std::uint64_t version,
                                const RankRecord& mine, std::uint64_t protect);

}  // namespace lazarus::detail
