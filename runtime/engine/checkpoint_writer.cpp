#include "runtime/engine/checkpoint_writer.hpp"

#include "lazarus/errors.hpp"
#include "runtime/engine/async_writer.hpp"
#include "runtime/engine/sync_writer.hpp"

namespace lazarus::detail {

std::unique_ptr<CheckpointWriter> make_checkpoint_writer(EngineContext& context, StorageLevel& level) {
  if (context.options.mode == Mode::async) return std::make_unique<AsyncWriter>(context, level);
  return std::make_unique<SyncWriter>(context, level);
}

void commit_or_abandon(StorageLevel& level, std::uint64_t version, const RankRecord& mine, Clock::time_point started) {
  try {
    level.commit(version, mine, started);
  } catch (const Error&) {
    level.abandon(version);
    throw;
  }
}

}  // namespace lazarus::detail
