#pragma once
// The engine behind lazarus::Session: one communicator, its regions and its job's versions.
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <vector>

#include "backends/mpi/communicator.hpp"
#include "lazarus/options.hpp"
#include "runtime/engine/background_writer.hpp"
#include "runtime/collective.hpp"
#include "runtime/levels/global_flush.hpp"
#include "runtime/levels/local_commit.hpp"
#include "runtime/levels/recovery_plan.hpp"
#include "runtime/format/manifest.hpp"
#include "runtime/heartbeat/launcher_link.hpp"
#include "runtime/region_registry.hpp"

namespace lazarus::detail {

class Engine {
 public:
  using Clock = std::chrono::steady_clock;

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
  // Collective. True on every rank once the launcher asked any rank to stop (and from then on).
  bool should_stop();
  // Collective. Returns once every started checkpoint is committed at every level it goes to.
  void wait();
  // Collective; the Session's end. Multi-level: copies the newest local version to the global level
  // if it is not there yet, and waits for it.
  void finish();

 private:
  // Collective. Restores `version` when every rank's piece verifies; else returns the agreed failure
  // (memory untouched).
  Outcome try_restore(std::uint64_t version);
  // Collective. The complete versions in the (global) job folder, as rank 0 sees them, oldest first.
  std::vector<std::uint64_t> listed_versions();
  void log(const std::string& line) const;

  // --- Checkpoint paths ---
  // Collective. 1 + the highest version number at every level (and of what is still in flight).
  std::uint64_t next_version();
  std::filesystem::path version_dir_for(std::uint64_t version) const;
  // Collective. Commits `version`, whose files every rank wrote (`mine`: this rank's record), at the
  // level it was written to; starts its copy to the global level when due.
  void commit_written(std::uint64_t version, const RankRecord& mine, Clock::time_point started);
  // Async: copies the regions into staging memory (waiting for room first) and queues the write.
  void stage(std::uint64_t version);
  // Collective. Commits background work: checkpoints written in the background, oldest first, and
  // copies to the global level. `finished`: what every rank has finished; `oldest`: waits for the
  // oldest checkpoint in flight; `all`: waits for everything.
  enum class Settle { finished, oldest, all };
  void settle_background(Settle how);
  // Sync mode: the regions as written, device regions replaced by their host shadows, filled by
  // `captures` as the writer goes. Returns regions_ itself when no region is on a device.
  const RegionRegistry& start_device_captures(std::vector<std::unique_ptr<backends::DeviceCapture>>& captures);

  // --- Multi-level (options_.local_dir set) ---
  bool multilevel() const noexcept { return !options_.local_dir.empty(); }
  void start_flush(const Manifest& manifest);
  // Collective. Every node's inventory, at rank 0 (empty elsewhere).
  Inventory gather_inventory();
  // Collective. Versions to try, newest first, each with where it is complete.
  struct Candidate {
    std::uint64_t version = 0;
    int local_holder = -1;  // a rank whose node holds the local manifest; -1: not complete locally
    bool global = false;    // complete at the global level
  };
  std::vector<Candidate> candidates(const Inventory& inventory);
  // Collective. Restores `candidate.version` from the node-local levels, rebuilding lost files.
  // Returns the agreed failure; `why` says why the version could not be assembled (memory untouched).
  Outcome try_restore_local(const Candidate& candidate, const Inventory& inventory, std::string& why);
  Outcome assemble_and_restore_local(const Candidate& candidate, const Inventory& inventory, std::string& why);
  std::optional<std::uint64_t> restore_newest_multilevel();

  backends::Communicator comm_;
  Options options_;
  std::filesystem::path job_dir_;
  RegionRegistry regions_;
  Clock::time_point last_checkpoint_;
  double checkpoint_cost_ = 0;  // rank 0: seconds the last checkpoint() took (the Young/Daly cost)
  int workers_ = 0;             // compression threads besides the writing one
  std::shared_ptr<LauncherLink> launcher_;  // null unless started by `lazarus run`
  bool any_launcher_ = false;               // some rank has a launcher link: should_stop() must agree
  bool stop_agreed_ = false;                // should_stop() returned true

  std::filesystem::path local_job_dir_;  // multi-level only
  NodeMap nodes_;
  GlobalFlush flush_;
  std::optional<Manifest> newest_local_;  // the last version this session committed locally
  std::uint64_t newest_flushed_ = 0;      // the last version this session started copying to the global level
  bool placement_warned_ = false;

  // Async mode. pending_ before writer_: the writer stops (and lets go of the staged copies) first.
  std::deque<std::shared_ptr<StagedCheckpoint>> pending_;  // submitted, not committed; oldest first
  std::size_t staged_bytes_ = 0;                          // held by pending_
  std::vector<backends::StagingBuffer> spare_buffers_;    // staging memory kept for reuse
  std::vector<backends::PinnedBuffer> spare_pinned_;      // the same for device regions
  std::map<std::string, backends::PinnedBuffer> device_shadows_;  // sync mode: host copies of device regions
  RegionRegistry device_view_;
  std::uint64_t last_submitted_ = 0;
  std::unique_ptr<BackgroundWriter> writer_;
};

}  // namespace lazarus::detail
