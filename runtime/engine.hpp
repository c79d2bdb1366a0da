#pragma once
// The engine behind lazarus::Session: one communicator, its regions and its job's versions.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <vector>

#include "backends/mpi/communicator.hpp"
#include "lazarus/options.hpp"
#include "runtime/collective.hpp"
#include "runtime/launcher_link.hpp"
#include "runtime/region_registry.hpp"

namespace lazarus::detail {

class Engine {
 public:
  // Collective. `make_options` runs on every rank inside the agreement, so that a ConfigError on one
  // rank (a bad environment variable) fails every rank alike.
  Engine(MPI_Comm comm, const std::function<Options()>& make_options);

  RegionRegistry& regions() noexcept { return regions_; }
  const Options& options() const noexcept { return options_; }
  const backends::Communicator& comm() const noexcept { return comm_; }

  std::uint64_t checkpoint();
  std::optional<std::uint64_t> restore_newest();
  std::uint64_t restore_exactly(std::uint64_t version);
  std::vector<std::uint64_t> complete_versions();
  bool need_checkpoint();

 private:
  // Collective. Restores `version` when every rank's piece verifies; else returns the agreed failure
  // (memory untouched).
  Outcome try_restore(std::uint64_t version);
  // Rank 0's view of the job folder, shared with every rank.
  std::vector<std::uint64_t> listed_versions(bool complete);
  void log(const std::string& line) const;

  backends::Communicator comm_;
  Options options_;
  std::filesystem::path job_dir_;
  RegionRegistry regions_;
  std::chrono::steady_clock::time_point last_checkpoint_;
  std::shared_ptr<LauncherLink> launcher_;  // null unless started by `lazarus run`
};

}  // namespace lazarus::detail
