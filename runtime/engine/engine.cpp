#include "runtime/engine/engine.hpp"

#include <algorithm>
#include <cstdio>
#include <thread>

#include <fmt/format.h>

#include "lazarus/errors.hpp"
#include "runtime/collective.hpp"
#include "runtime/engine/checkpoint_interval.hpp"
#include "runtime/format/version_catalog.hpp"
#include "runtime/levels/placement.hpp"

namespace lazarus::detail {
namespace {

// Compression threads per rank besides the writing one: the option, or the host's cores shared
// among its ranks (the writing thread takes one), at least one so that writing overlaps compression.
int compression_workers(int threads, int ranks_on_host) {
  if (threads > 0) return threads - 1 > 0 ? threads - 1 : 1;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, cores / std::max(1, ranks_on_host) - 1);
}

}  // namespace

Engine::Engine(MPI_Comm comm, const std::function<Options()>& make_options)
    : context_(comm), last_checkpoint_(Clock::now()) {
  Options& options = context_.options;
  run_collectively(context_.comm, [&] {
    options = make_options();
    // `%N` first, so that every use of local_dir (and Session::options()) sees this node's folder.
    if (!options.local_dir.empty()) options.local_dir = expand_node_name(options.local_dir, this_node_name());
    options.validate();
  });
  context_.workers = compression_workers(options.threads, context_.comm.ranks_on_this_host());
  level_ = make_storage_level(context_);
  writer_ = make_checkpoint_writer(context_, *level_);
  context_.launcher = LauncherLink::acquire();
  // A rank may run without a link (its launcher unreachable) while others have one: agreed once here,
  // so that should_stop() costs nothing in a job the launcher did not start.
  any_launcher_ = context_.comm.max(context_.launcher ? 1u : 0u) != 0;
}

void Engine::settle(Settle how) {
  writer_->settle(how);
  level_->settle(how == Settle::all);
}

void Engine::settle_if_in_flight() {
  if (!writer_->idle()) settle(Settle::finished);
}

std::uint64_t Engine::checkpoint() {
  const auto start = Clock::now();
  settle(Settle::finished);
  // Past every version folder at every level, complete or not, so that leftovers of a crash are never
  // reused; past what is still being written in the background; and past every number this Session
  // found, committed or restored, should the job's folder have been emptied since.
  const std::uint64_t found = level_->highest_version();
  const std::uint64_t held = std::max(writer_->last_committed(), restored_);
  numbered_ = std::max({numbered_, found, held});
  const std::uint64_t highest = std::max(numbered_, writer_->last_submitted());
  if (found < held && highest < kLastVersion) {  // retention keeps the newest version: somebody removed it
    context_.warn(fmt::format("checkpoint version {} of job '{}', which this Session {}, is gone from {} (was the "
                              "job's folder removed while it ran?); the next version is {}: numbers are never reused",
                              held, context_.options.job, held == restored_ ? "restored" : "committed",
                              level_->location(), highest + 1));
  }
  if (highest >= kLastVersion) {  // every rank sees the same number, so every rank throws
    throw Error(fmt::format("rank {}: cannot number a new checkpoint: version {} (the last number) exists "
                            "for job '{}'; remove its folder or use another job name",
                            context_.comm.rank(), highest, context_.options.job));
  }
  const std::uint64_t version = highest + 1;
  writer_->checkpoint(version, start);
  if (context_.comm.rank() == 0) checkpoint_cost_ = seconds_since(start);
  last_checkpoint_ = Clock::now();
  return version;
}

std::vector<std::uint64_t> Engine::complete_versions() {
  settle_if_in_flight();
  return level_->complete_versions();
}

std::optional<std::uint64_t> Engine::restore_newest() {
  settle(Settle::all);
  const auto restored = level_->restore_newest();
  if (restored) {
    last_checkpoint_ = Clock::now();
    restored_ = *restored;
  }
  return restored;
}

std::uint64_t Engine::restore_exactly(std::uint64_t version) {
  settle(Settle::all);
  level_->restore_exactly(version);
  last_checkpoint_ = Clock::now();
  restored_ = version;
  return version;
}

bool Engine::need_checkpoint() {
  if (context_.launcher) context_.launcher->report_progress();
  settle_if_in_flight();  // a progress point for async checkpoints
  std::uint64_t due = 0;
  if (context_.comm.rank() == 0) {
    const Options& options = context_.options;
    const double period =
        options.mtbf_seconds > 0 ? daly_interval(checkpoint_cost_, options.mtbf_seconds) : options.interval_seconds;
    due = (options.mtbf_seconds > 0 || period > 0) && seconds_since(last_checkpoint_) >= period;
  }
  return context_.comm.broadcast(due, 0) != 0;
}

bool Engine::should_stop() {
  const auto& launcher = context_.launcher;
  if (launcher) launcher->report_progress();
  settle_if_in_flight();                                    // a progress point, as need_checkpoint()
  if (stop_agreed_ || !any_launcher_) return stop_agreed_;  // the same on every rank: no message
  // One rank asked is enough: the maximum makes every rank stop at the same call, none alone.
  const bool asked = launcher && launcher->stop_requested();
  stop_agreed_ = context_.comm.max(asked ? 1u : 0u) != 0;
  if (stop_agreed_) {
    if (launcher) launcher->report_stopping();
    context_.log("stopping: the launcher asked the job to stop");
  }
  return stop_agreed_;
}

void Engine::wait() { settle(Settle::all); }

std::vector<std::string> Engine::finish() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) {
    if (level_->unflushed()) {
      std::fprintf(stderr, "lazarus: warning: the Session ended after MPI_Finalize: the newest version was not "
                   "copied to the global level\n");
    }
    if (writer_->idle()) return {};
    return {fmt::format("the Session ended after MPI_Finalize: {} checkpoint(s) in flight were not committed",
                        writer_->in_flight())};
  }
  // A failed version stops neither the newer ones in flight nor the copy of the newest committed one to
  // the global level. Each failure is agreed, so every rank goes the same way.
  std::vector<std::string> lost;
  for (std::size_t left = writer_->in_flight(); left > 0;) {
    try {
      writer_->settle(Settle::all);
    } catch (const Error& error) {
      lost.emplace_back(error.what());
    }
    const std::size_t now = writer_->in_flight();
    if (now >= left) break;  // no progress: do not loop forever
    left = now;
  }
  try {
    level_->finish();
  } catch (const Error& error) {  // the newest version stays at the node-local level: nothing is lost
    std::fprintf(stderr, "lazarus: error while closing the session: %s\n", error.what());
  }
  return lost;
}

}  // namespace lazarus::detail
