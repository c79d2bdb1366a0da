#pragma once
// What the engine's parts share, one per Session: the communicator, the options, the protected
// regions and the link to `lazarus run`. The storage level and the checkpoint writer hold a reference.
#include <chrono>
#include <memory>
#include <string>

#include "backends/mpi/communicator.hpp"
#include "lazarus/options.hpp"
#include "runtime/heartbeat/launcher_link.hpp"
#include "runtime/region_registry.hpp"

namespace lazarus::detail {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct EngineContext {
  explicit EngineContext(MPI_Comm communicator) : comm(communicator) {}

  backends::Communicator comm;
  Options options;
  RegionRegistry regions;
  int workers = 0;                          // compression threads besides the writing one
  std::shared_ptr<LauncherLink> launcher;  // null unless started by `lazarus run`

  // Rank 0, with Options::verbose: one line on stderr.
  void log(const std::string& line) const;
  // Rank 0: "lazarus: warning: <line>" on stderr.
  void warn(const std::string& line) const;
};

}  // namespace lazarus::detail
