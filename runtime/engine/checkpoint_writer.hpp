#pragma once
// How checkpoint() writes: synchronously (SyncWriter: write, then commit, before returning) or in the
// background (AsyncWriter: stage a copy, return, commit at a later collective call). Chosen once, when
// the Session starts (make_checkpoint_writer); the engine never asks which one it has. Both write
// through the same rank-file writer and commit through the storage level, and both abandon a
// version whose write or commit failed, so that what it wrote does not fill the file system.
#include <cstdint>
#include <memory>

#include "runtime/engine/engine_context.hpp"
#include "runtime/engine/storage_level.hpp"

namespace lazarus::detail {

// What settle() commits: what every rank finished; the oldest checkpoint in flight (waiting for it);
// everything (waiting for all of it).
enum class Settle { finished, oldest, all };

class CheckpointWriter {
 public:
  virtual ~CheckpointWriter() = default;

  // Collective. Writes `version` of the protected regions: committed on return (sync), or staged
  // and written in the background (async). Throws the same error on every rank when it fails.
  virtual void checkpoint(std::uint64_t version, Clock::time_point started) = 0;
  // Collective. Commits background writes as `how` says (nothing to do for sync). Throws the same
  // error on every rank when a background write failed.
  virtual void settle(Settle how) = 0;
  // Whether every checkpoint handed to the writer is committed (the same on every rank).
  virtual bool idle() const = 0;
  // Checkpoints in flight, not committed.
  virtual std::size_t in_flight() const = 0;
  // The highest version handed to the writer (0: none): the next one must be higher.
  virtual std::uint64_t last_submitted() const = 0;
  // The highest version the writer committed (0: none): a level must still hold it, or a newer one.
  virtual std::uint64_t last_committed() const = 0;
};

std::unique_ptr<CheckpointWriter> make_checkpoint_writer(EngineContext& context, StorageLevel& level);

// Collective. Commits `version` (`mine`: this rank's record) at `level`; on failure abandons it there
// (every rank) and rethrows.
void commit_or_abandon(StorageLevel& level, std::uint64_t version, const RankRecord& mine, Clock::time_point started);

}  // namespace lazarus::detail
