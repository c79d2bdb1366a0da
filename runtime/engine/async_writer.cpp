#include "runtime/engine/async_writer.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "backends/hdf5/h5_types.hpp"
#include "lazarus/errors.hpp"

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

AsyncWriter::AsyncWriter(EngineContext& context, StorageLevel& level) : context_(context), level_(level) {
  run_collectively(context_.comm, [] {
    if (backends::h5_library_is_threadsafe()) return;
    throw ConfigError("Options::mode (LAZARUS_MODE) is async, but this Lazarus is built with an HDF5 library that "
                      "is not thread-safe (the Open MPI parallel build): asynchronous checkpoints write from a "
                      "thread of their own; use sync, or build with the serial HDF5");
  });
  writer_ = std::make_unique<BackgroundWriter>(context_.comm, context_.options, context_.workers);
}

void AsyncWriter::checkpoint(std::uint64_t version, Clock::time_point started) {
  const backends::Communicator& comm = context_.comm;
  const RegionRegistry& regions = context_.regions;
  const std::size_t bytes = regions.total_bytes();
  // The budget holds at least one checkpoint; beyond it, wait for the oldest in flight to commit.
  const std::size_t budget = std::max(bytes, context_.options.staging_bytes);
  for (;;) {
    const bool need_room = !pending_.empty() && staged_bytes_ + bytes > budget;
    if (comm.max(need_room ? 1 : 0) == 0) break;
    settle(Settle::oldest);
  }
  auto staged = std::make_shared<StagedCheckpoint>();
  staged->version = version;
  staged->version_dir = level_.version_dir(version);
  staged->bytes = bytes;
  run_collectively(comm, [&] {
    for (const Region& region : regions.all()) {
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
  context_.log(fmt::format("checkpoint version {} staged in {:.3f} s; written in the background", version,
                           seconds_since(started)));
}

void AsyncWriter::settle(Settle how) {
  const backends::Communicator& comm = context_.comm;
  while (!pending_.empty()) {  // the same on every rank: checkpoints are submitted collectively
    const std::shared_ptr<StagedCheckpoint> oldest = pending_.front();
    const bool finished = writer_->finished(*oldest, how != Settle::finished);
    if (comm.max(finished ? 0 : 1) != 0) break;  // some rank is still writing: commit later
    Outcome written = agree(comm, oldest->outcome);
    pending_.pop_front();
    staged_bytes_ -= oldest->bytes;
    // Keep the staging memory for the next checkpoints, up to the budget's worth.
    std::size_t kept = 0;
    for (const auto& spare : spare_buffers_) kept += spare.size();
    for (const auto& spare : spare_pinned_) kept += spare.size();
    const std::size_t limit = std::max(context_.options.staging_bytes, context_.regions.total_bytes());
    keep_for_reuse(oldest->buffers, spare_buffers_, kept, limit);
    keep_for_reuse(oldest->pinned, spare_pinned_, kept, limit);
    if (!written.ok()) {
      level_.abandon(oldest->version);
      written.message = fmt::format("checkpoint version {}, written in the background, failed: {}", oldest->version,
                                    written.message);
      throw_if_failed(written);
    }
    commit_or_abandon(level_, oldest->version, oldest->record, Clock::now());
    last_committed_ = oldest->version;
    if (how == Settle::oldest) break;
  }
}

}  // namespace lazarus::detail
