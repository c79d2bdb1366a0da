#include "runtime/engine/sync_writer.hpp"

#include <algorithm>

#include "lazarus/errors.hpp"
#include "runtime/collective.hpp"
#include "runtime/format/commit_protocol.hpp"

namespace lazarus::detail {

void SyncWriter::checkpoint(std::uint64_t version, Clock::time_point started) {
  RankRecord mine;
  std::vector<std::unique_ptr<backends::DeviceCapture>> captures;
  try {
    run_collectively(context_.comm, [&] {
      const RegionRegistry& written = start_device_captures(captures);
      mine = write_rank_piece(context_.comm, context_.options, level_.version_dir(version), version, written,
                              context_.workers);
    });
  } catch (const Error&) {
    level_.abandon(version);
    throw;
  }
  commit_or_abandon(level_, version, mine, started);
  last_committed_ = version;
}

const RegionRegistry& SyncWriter::start_device_captures(std::vector<std::unique_ptr<backends::DeviceCapture>>& captures) {
  const auto& all = context_.regions.all();
  if (std::none_of(all.begin(), all.end(), [](const Region& r) { return r.device; })) return context_.regions;
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

}  // namespace lazarus::detail
