// Engine, continued: asynchronous checkpoints (staging, the commit of what the background writer
// finished) and the capture of device regions. See docs/design.md, "The compression pipeline and
// asynchronous checkpoints".
#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "lazarus/errors.hpp"
#include "runtime/engine/engine.hpp"

namespace lazarus::detail {

namespace {

// A buffer of exactly `bytes` from `pool` (kept from an earlier checkpoint, so already faulted in or
// pinned), or a new one.
template <class Buffer>
Buffer take_from(std::vector<Buffer>& pool, std::size_t bytes) {
  const auto spare = std::find_if(pool.begin(), pool.end(), [&](const Buffer& b) { return b.size() == bytes; });
  if (spare == pool.end()) return Buffer(bytes);
  Buffer buffer = std::move(*spare);
  pool.erase(spare);
  return buffer;
}

// Moves `buffers` into `pool` while the memory kept (`kept`, counting both pools) stays within `limit`;
// the rest is released.
template <class Buffer>
void keep_for_reuse(std::vector<Buffer>& buffers, std::vector<Buffer>& pool, std::size_t& kept, std::size_t limit) {
  for (auto& buffer : buffers) {
    if (kept + buffer.size() > limit) break;
    kept += buffer.size();
    pool.push_back(std::move(buffer));
  }
}

}  // namespace

const RegionRegistry& Engine::start_device_captures(std::vector<std::unique_ptr<backends::DeviceCapture>>& captures) {
  const auto& all = regions_.all();
  if (std::none_of(all.begin(), all.end(), [](const Region& r) { return r.device; })) return regions_;
  device_view_ = RegionRegistry();
  for (const Region& region : all) {
    if (!region.device) {
      device_view_.add(region);
      continue;
    }
    auto& shadow = device_shadows_[region.name];
    if (shadow.size() != region.bytes()) shadow = backends::PinnedBuffer(region.bytes());
    captures.push_back(std::make_unique<backends::DeviceCapture>(region.data, shadow.data(), region.bytes()));
    Region view = region;
    view.data = shadow.data();
    view.ready = [capture = captures.back().get()](std::size_t end) { capture->wait_for(end); };
    device_view_.add(std::move(view));
  }
  return device_view_;
}

void Engine::stage(std::uint64_t version) {
  const std::size_t bytes = regions_.total_bytes();
  // The budget holds at least one checkpoint; beyond it, wait for the oldest in flight to commit.
  const std::size_t budget = std::max(bytes, options_.staging_bytes);
  for (;;) {
    const bool need_room = !pending_.empty() && staged_bytes_ + bytes > budget;
    if (comm_.max(need_room ? 1 : 0) == 0) break;
    settle_background(Settle::oldest);
  }
  auto staged = std::make_shared<StagedCheckpoint>();
  staged->version = version;
  staged->version_dir = version_dir_for(version);
  staged->bytes = bytes;
  run_collectively(comm_, [&] {
    for (const Region& region : regions_.all()) {
      Region copy{region.name, region.type, nullptr, region.count, region.shape, region.device, {}};
      if (region.device) {  // straight from the device into pinned memory, all of it before returning
        backends::PinnedBuffer buffer = take_from(spare_pinned_, region.bytes());
        backends::DeviceCapture(region.data, buffer.data(), region.bytes()).wait_all();
        copy.data = buffer.data();
        staged->pinned.push_back(std::move(buffer));
      } else {
        backends::StagingBuffer buffer = take_from(spare_buffers_, region.bytes());
        if (region.bytes() > 0) std::memcpy(buffer.data(), region.data, region.bytes());
        copy.data = buffer.data();
        staged->buffers.push_back(std::move(buffer));
      }
      staged->regions.add(std::move(copy));
    }
  });
  writer_->submit(staged);
  pending_.push_back(std::move(staged));
  staged_bytes_ += bytes;
  last_submitted_ = version;
}

void Engine::settle_background(Settle how) {
  while (!pending_.empty()) {  // the same on every rank: checkpoints are submitted collectively
    const std::shared_ptr<StagedCheckpoint> oldest = pending_.front();
    const bool finished = writer_->finished(*oldest, how != Settle::finished);
    if (comm_.max(finished ? 0 : 1) != 0) break;  // some rank is still writing: commit later
    Outcome written = agree(comm_, oldest->outcome);
    pending_.pop_front();
    staged_bytes_ -= oldest->bytes;
    // Keep the staging memory for the next checkpoints, up to the budget's worth.
    std::size_t kept = 0;
    for (const auto& spare : spare_buffers_) kept += spare.size();
    for (const auto& spare : spare_pinned_) kept += spare.size();
    const std::size_t limit = std::max(options_.staging_bytes, regions_.total_bytes());
    keep_for_reuse(oldest->buffers, spare_buffers_, kept, limit);
    keep_for_reuse(oldest->pinned, spare_pinned_, kept, limit);
    if (!written.ok()) {
      written.message = fmt::format("checkpoint version {}, written in the background, failed: {}", oldest->version,
                                    written.message);
      throw_if_failed(written);
    }
    commit_written(oldest->version, oldest->record, Clock::now());
    if (how == Settle::oldest) break;
  }
  if (multilevel()) {
    if (auto committed = flush_.settle(comm_, how == Settle::all)) {
      log(fmt::format("version {} committed at the global level", *committed));
    }
  }
}


}  // namespace lazarus::detail
