#include "runtime/engine/storage_level.hpp"

#include "runtime/engine/global_level.hpp"
#include "runtime/engine/multi_level.hpp"

namespace lazarus::detail {

std::unique_ptr<StorageLevel> make_storage_level(EngineContext& context) {
  if (context.options.local_dir.empty()) return std::make_unique<GlobalLevel>(context);
  return std::make_unique<MultiLevel>(context);
}

}  // namespace lazarus::detail
