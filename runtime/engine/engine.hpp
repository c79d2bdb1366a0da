#pragma once
// The engine behind lazarus::Session: one communicator, its regions and its job's versions. It
// chooses once where versions go (a StorageLevel: the global level alone, or node-local levels too)
// and how checkpoint() writes (a CheckpointWriter: sync or async), and drives both.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/engine/checkpoint_writer.hpp"
#include "runtime/engine/engine_context.hpp"
#include "runtime/engine/storage_level.hpp"

namespace lazarus::detail {

class Engine {
 public:
  using Clock = detail::Clock;

  // Collective. `make_options` runs on every rank inside the agreement, so that a ConfigError on one
  // rank (a bad environment variable) fails every rank alike.
  Engine(MPI_Comm comm, const std::function<Options()>& make_options);

  RegionRegistry& regions() noexcept { return context_.regions; }
  const Options& options() const noexcept { return context_.options; }
  const backends::Communicator& comm() const noexcept { return context_.comm; }

  std::uint64_t checkpoint();
  std::optional<std::uint64_t> restore_newest();
  std::uint64_t restore_exactly(std::uint64_t version);
  std::vector<std::uint64_t> complete_versions();
  bool need_checkpoint();
  // Collective. True on every rank once the launcher asked any rank to stop (and from then on).
  bool should_stop();
  // Collective. Returns once every started checkpoint is committed at every level it goes to.
  void wait();
  // Collective; the Session's end: waits for what is in flight and, with node-local levels, copies the
  // newest local version to the global level if it is not there yet (a copy that fails is printed on
  // stderr). Returns why checkpoints were lost, the same on every rank: a checkpoint in flight that
  // could not be committed (one message each). Throws nothing else than what goes wrong unexpectedly.
  std::vector<std::string> finish();

 private:
  // Collective. Commits what the writer and the level finished in the background (`how`).
  void settle(Settle how);
  // Collective. A progress point: commits what finished in the background, if anything is in flight.
  void settle_if_in_flight();

  EngineContext context_;
  std::unique_ptr<StorageLevel> level_;
  std::unique_ptr<CheckpointWriter> writer_;  // after level_: destroyed first
  Clock::time_point last_checkpoint_;
  std::uint64_t restored_ = 0;  // the version the last restore took (0: none)
  std::uint64_t numbered_ = 0;  // the highest version number this Session found, committed or restored
  double checkpoint_cost_ = 0;  // rank 0: seconds the last checkpoint() took (the Young/Daly cost)
  bool any_launcher_ = false;   // some rank has a launcher link: should_stop() must agree
  bool stop_agreed_ = false;    // should_stop() returned true
};

}  // namespace lazarus::detail
