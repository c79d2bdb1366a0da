#include "runtime/engine/engine_context.hpp"

#include <cstdio>

namespace lazarus::detail {

void EngineContext::log(const std::string& line) const {
  if (options.verbose && comm.rank() == 0) std::fprintf(stderr, "lazarus: %s\n", line.c_str());
}

void EngineContext::warn(const std::string& line) const {
  if (comm.rank() == 0) std::fprintf(stderr, "lazarus: warning: %s\n", line.c_str());
}

}  // namespace lazarus::detail
