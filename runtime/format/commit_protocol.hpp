#pragma once
// How a version becomes complete (docs/file-format.md, "Commit protocol"):
//   1. every rank writes its regions to <version>/rank-R.h5 and fsyncs it;
//   2. the ranks agree that every write succeeded (else the version is abandoned and all throw);
//   3. the publishing rank (rank 0; at a node-local level, one rank per node) publishes the version:
//      it fsyncs the version folder and the job folder, then writes manifest.json atomically
//      (temporary, fsync, rename, fsync): the rename is the instant the version becomes complete;
//      then it applies retention;
//   4. the ranks agree on the publisher's result.
// A crash at any instant leaves either the previous or the new version as the newest complete one.
// Step 3 is publish_version(), the one place where a version becomes complete: every level and mode,
// the copy to the global level, the rebuild of a lost node's files and the launcher's scavenge go
// through it. A checkpoint that fails at step 2 or 4 is abandoned (abandon_version): what it wrote is
// removed, and every rank throws.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "backends/mpi/communicator.hpp"
#include "lazarus/options.hpp"
#include "runtime/format/manifest.hpp"
#include "runtime/region_registry.hpp"

namespace lazarus::detail {

// Where a version is published, and as what.
struct PublishTarget {
  std::filesystem::path job_dir;  // the level's job folder; the version folder is inside it
  int keep = 0;                   // complete versions retention keeps afterwards; 0: no retention
  int rank = -1;                  // the publishing rank, for its fault points; -1: none fire (the launcher)
  // The fault points' stem: `during_<stem>` between the durable temporary and the rename, and
  // `after_<stem>` once the manifest is in place, before retention.
  const char* fault_stem = "commit";
};

// Local. Step 3: makes `manifest.version` complete in `target.job_dir`, whose version folder holds
// every file the manifest names, durably written. Throws IoError; the version then stays incomplete.
void publish_version(const Manifest& manifest, const PublishTarget& target);

// Collective. publish_version(manifest_here()) on the ranks where `publishes` holds, agreed on by
// every rank: all throw the same error when one fails (building the manifest included). The other
// ranks then pass their own `after_<stem>` point of `version`.
void publish_collectively(const backends::Communicator& comm, bool publishes, std::uint64_t version,
                          const std::function<Manifest()>& manifest_here, const PublishTarget& target);

// Collective. Abandons `version` after a failed checkpoint at the level whose job folder is
// `job_dir`: each rank where `removes` holds removes the version's folder (every rank's files in
// it), so that a full file system is not kept full by the failed attempt. Never throws; what could
// not be removed is printed and left to retention.
void abandon_version(const backends::Communicator& comm, bool removes, const std::filesystem::path& job_dir,
                     std::uint64_t version);

struct CommitStatistics {
  std::uint64_t bytes = 0;       // uncompressed bytes of this rank's regions
  std::uint64_t file_bytes = 0;  // bytes of this rank's file
};

// Local (no MPI call: it may run on a background thread). This rank's file of `version` in
// `version_dir` (created if needed), written and fsync'd, chunks compressed by `workers` threads
// besides the calling one; returns what the manifest records of it. Throws IoError.
RankRecord write_rank_piece(const backends::Communicator& comm, const Options& options,
                            const std::filesystem::path& version_dir, std::uint64_t version,
                            const RegionRegistry& regions, int workers);

// The manifest of `version` from every rank's record (serialize_rank_record texts, in rank order).
Manifest manifest_of_records(const Options& options, std::uint64_t version, int nranks,
                             const std::vector<std::string>& records);

// Collective. Steps 2 to 4 above at the global level, once every rank's file is known to be durable
// (`mine` is this rank's record): gather, publish.
CommitStatistics finish_commit(const backends::Communicator& comm, const Options& options,
                               const std::filesystem::path& job_dir, std::uint64_t version, const RankRecord& mine);

}  // namespace lazarus::detail
