#pragma once
// Synchronous checkpoints: every rank writes its file (device regions captured into pinned host
// shadows while the writer goes), then the level commits the version, before checkpoint() returns.
#include <map>
#include <string>
#include <vector>

#include "backends/cuda/device_memory.hpp"
#include "runtime/engine/checkpoint_writer.hpp"

namespace lazarus::detail {

class SyncWriter final : public CheckpointWriter {
 public:
  SyncWriter(EngineContext& context, StorageLevel& level) : context_(context), level_(level) {}

  void checkpoint(std::uint64_t version, Clock::time_point started) override;
  void settle(Settle) override {}
  bool idle() const override { return true; }
  std::size_t in_flight() const override { return 0; }
  std::uint64_t last_submitted() const override { return 0; }
  std::uint64_t last_committed() const override { return last_committed_; }

 private:
  // The regions as written, device regions replaced by their host shadows, filled by `captures` as
  // the writer goes. Returns the context's registry itself when no region is on a device.
  const RegionRegistry& start_device_captures(std::vector<std::unique_ptr<backends::DeviceCapture>>& captures);

  EngineContext& context_;
  StorageLevel& level_;
  std::map<std::string, backends::PinnedBuffer> device_shadows_;  // host copies of device regions
  RegionRegistry device_view_;
  std::uint64_t last_committed_ = 0;
};

}  // namespace lazarus::detail
