#pragma once
// Carrying out a RecoveryPlan (runtime/levels/recovery_plan.hpp): after it, every rank's file of the
// version lies in the local folder of the node the rank now runs on, so that the usual verified
// restore (runtime/format/rank_piece.hpp) can read it there. Rebuilt files stay, so the replacement node holds
// its pieces from then on.
#include <filesystem>
#include <string>
#include <vector>

#include "backends/mpi/communicator.hpp"
#include "runtime/levels/local_commit.hpp"
#include "runtime/levels/recovery_plan.hpp"
#include "runtime/format/manifest.hpp"

namespace lazarus::detail {

// Collective. Fetches, copies or rebuilds what `plan` says; every input is checked against the
// manifest's checksums first. Returns the sources found missing or damaged, the same on every rank
// (empty: every rank's file is in place; plan again without them otherwise). Throws the same Error on
// every rank when a file cannot be written.
std::vector<Source> carry_out_recovery(const backends::Communicator& comm, const NodeMap& nodes,
                                       const RecoveryPlan& plan, const Manifest& manifest,
                                       const std::filesystem::path& local_job_dir);

// Collective. The union of every rank's `mine`, on every rank (sorted, without repeats).
std::vector<Source> share_sources(const backends::Communicator& comm, const std::vector<Source>& mine);

}  // namespace lazarus::detail
