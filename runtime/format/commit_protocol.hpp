#pragma once
// How a version becomes complete (docs/file-format.md, "Commit protocol"):
//   1. every rank writes its regions to <version>/rank-R.h5 and fsyncs it;
//   2. the ranks agree that every write succeeded (else all throw, the version stays incomplete);
//   3. rank 0 fsyncs the version folder and the job folder, then writes manifest.json atomically
//      (temporary, fsync, rename, fsync): the rename is the instant the version becomes complete;
//   4. the ranks agree on rank 0's result; rank 0 applies retention.
// A crash at any instant leaves either the previous or the new version as the newest complete one.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "backends/mpi/communicator.hpp"
#include "lazarus/options.hpp"
#include "runtime/format/manifest.hpp"
#include "runtime/region_registry.hpp"

namespace lazarus::detail {

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

// Collective. Writes and commits `version` (which must not exist yet) under `job_dir`. Throws the same
// lazarus::Error on every rank when any rank fails; the previous complete version is then unchanged.
CommitStatistics commit_version(const backends::Communicator& comm, const Options& options,
                                const std::filesystem::path& job_dir, std::uint64_t version,
                                const RegionRegistry& regions, int workers);

// Collective. Steps 2 to 4 above, once every rank's file is known to be durable (`mine` is this
// rank's record): gather, manifest, retention.
CommitStatistics finish_commit(const backends::Communicator& comm, const Options& options,
                               const std::filesystem::path& job_dir, std::uint64_t version, const RankRecord& mine);

}  // namespace lazarus::detail
