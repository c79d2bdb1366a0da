#pragma once
// Asynchronous checkpoints: checkpoint() copies the regions into staging memory (device regions
// straight into pinned memory), hands them to the background writer and returns; the next
// collective call commits what every rank finished, oldest first. A staging budget bounds the
// memory in flight. See docs/design.md, "The compression pipeline and asynchronous checkpoints".
#include <deque>
#include <memory>
#include <vector>

#include "runtime/engine/background_writer.hpp"
#include "runtime/engine/checkpoint_writer.hpp"

namespace lazarus::detail {

class AsyncWriter final : public CheckpointWriter {
 public:
  // Throws ConfigError when the HDF5 library cannot be called from a second thread.
  AsyncWriter(EngineContext& context, StorageLevel& level);

  void checkpoint(std::uint64_t version, Clock::time_point started) override;
  void settle(Settle how) override;
  bool idle() const override { return pending_.empty(); }
  std::size_t in_flight() const override { return pending_.size(); }
  std::uint64_t last_submitted() const override { return last_submitted_; }
  std::uint64_t last_committed() const override { return last_committed_; }

 private:
  EngineContext& context_;
  StorageLevel& level_;
  // pending_ before writer_: the writer stops (and lets go of the staged copies) first.
  std::deque<std::shared_ptr<StagedCheckpoint>> pending_;  // submitted, not committed; oldest first
  std::size_t staged_bytes_ = 0;                          // held by pending_
  std::vector<backends::StagingBuffer> spare_buffers_;    // staging memory kept for reuse
  std::vector<backends::PinnedBuffer> spare_pinned_;      // the same for device regions
  std::uint64_t last_submitted_ = 0;
  std::uint64_t last_committed_ = 0;
  std::unique_ptr<BackgroundWriter> writer_;
};

}  // namespace lazarus::detail
