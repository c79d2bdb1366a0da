#include "runtime/engine/engine.hpp"

#include <algorithm>
#include <cstdio>
#include <system_error>
#include <thread>

#include <fmt/format.h>

#include "backends/hdf5/h5_types.hpp"
#include "lazarus/errors.hpp"
#include "runtime/engine/checkpoint_interval.hpp"
#include "runtime/format/commit_protocol.hpp"
#include "runtime/fault_injection.hpp"
#include "runtime/format/manifest.hpp"
#include "runtime/levels/placement.hpp"
#include "runtime/format/rank_piece.hpp"
#include "runtime/format/version_catalog.hpp"

namespace lazarus::detail {
namespace {

using Clock = std::chrono::steady_clock;

// Compression threads per rank besides the writing one: the option, or the host's cores shared
// among its ranks (the writing thread takes one), at least one so that writing overlaps compression.
int compression_workers(int threads, int ranks_on_host) {
  if (threads > 0) return threads - 1 > 0 ? threads - 1 : 1;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, cores / std::max(1, ranks_on_host) - 1);
}

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

}  // namespace

Engine::Engine(MPI_Comm comm, const std::function<Options()>& make_options)
    : comm_(comm), last_checkpoint_(Clock::now()) {
  run_collectively(comm_, [&] {
    options_ = make_options();
    // `%N` first, so that every use of local_dir (and Session::options()) sees this node's folder.
    if (!options_.local_dir.empty()) options_.local_dir = expand_node_name(options_.local_dir, this_node_name());
    options_.validate();
    job_dir_ = options_.dir / options_.job;
    std::error_code error;
    if (multilevel()) {
      local_job_dir_ = options_.local_dir / options_.job;
      std::filesystem::create_directories(local_job_dir_, error);
      if (error) {
        throw IoError(fmt::format("cannot create node-local checkpoint folder {} (LAZARUS_LOCAL_DIR): {}",
                                  local_job_dir_.string(), error.message()));
      }
    }
    if (options_.mode == Mode::async && !backends::h5_library_is_threadsafe()) {
      throw ConfigError("Options::mode (LAZARUS_MODE) is async, but this Lazarus is built with an HDF5 library that "
                        "is not thread-safe (the Open MPI parallel build): asynchronous checkpoints write from a "
                        "thread of their own; use sync, or build with the serial HDF5");
    }
    if (comm_.rank() != 0) return;
    std::filesystem::create_directories(job_dir_, error);
    if (error) throw IoError(fmt::format("cannot create checkpoint folder {}: {}", job_dir_.string(), error.message()));
  });
  workers_ = compression_workers(options_.threads, comm_.ranks_on_this_host());
  if (multilevel()) nodes_ = NodeMap::gather(comm_);
  if (options_.mode == Mode::async) writer_ = std::make_unique<BackgroundWriter>(comm_, options_, workers_);
  launcher_ = LauncherLink::acquire();
  // A rank may run without a link (its launcher unreachable) while others have one: agreed once here,
  // so that should_stop() costs nothing in a job the launcher did not start.
  any_launcher_ = comm_.max(launcher_ ? 1u : 0u) != 0;
}

void Engine::log(const std::string& line) const {
  if (options_.verbose && comm_.rank() == 0) std::fprintf(stderr, "lazarus: %s\n", line.c_str());
}

std::vector<std::uint64_t> Engine::listed_versions() {
  std::vector<std::uint64_t> listed;
  run_collectively(comm_, [&] {
    if (comm_.rank() == 0) listed = scan_versions(job_dir_).complete;
  });
  return comm_.broadcast(std::move(listed), 0);
}

std::uint64_t Engine::checkpoint() {
  const auto start = Clock::now();
  settle_background(Settle::finished);
  const std::uint64_t version = next_version();
  if (options_.mode == Mode::async) {
    stage(version);
    if (comm_.rank() == 0) checkpoint_cost_ = seconds_since(start);
    last_checkpoint_ = Clock::now();
    log(fmt::format("checkpoint version {} staged in {:.3f} s; written in the background", version,
                    seconds_since(start)));
    return version;
  }
  RankRecord mine;
  std::vector<std::unique_ptr<backends::DeviceCapture>> captures;
  run_collectively(comm_, [&] {
    const RegionRegistry& written = start_device_captures(captures);
    mine = write_rank_piece(comm_, options_, version_dir_for(version), version, written, workers_);
  });
  commit_written(version, mine, start);
  if (comm_.rank() == 0) checkpoint_cost_ = seconds_since(start);
  return version;
}

std::uint64_t Engine::next_version() {
  // Past every version folder at every level, complete or not, so that leftovers of a crash are never
  // reused, and past what is still being written in the background.
  std::uint64_t highest = 0;
  run_collectively(comm_, [&] {
    if (multilevel()) highest = scan_versions(local_job_dir_).highest();
    if (comm_.rank() == 0) highest = std::max(highest, scan_versions(job_dir_).highest());
  });
  return std::max(comm_.max(highest), last_submitted_) + 1;
}

std::filesystem::path Engine::version_dir_for(std::uint64_t version) const {
  return version_directory(multilevel() ? local_job_dir_ : job_dir_, version);
}

void Engine::commit_written(std::uint64_t version, const RankRecord& mine, Clock::time_point started) {
  if (!multilevel()) {
    const CommitStatistics statistics = finish_commit(comm_, options_, job_dir_, version, mine);
    log(fmt::format("checkpoint version {} committed: {:.1f} MiB on rank 0 ({:.1f} MiB on disk) in {:.3f} s", version,
                    static_cast<double>(statistics.bytes) / (1 << 20),
                    static_cast<double>(statistics.file_bytes) / (1 << 20), seconds_since(started)));
  } else {
    LocalCommit commit =
        finish_local_commit(comm_, options_, nodes_, local_job_dir_, version, mine, flush_.pending().value_or(0));
    if (!placement_warned_ && comm_.rank() == 0) {
      for (const auto& warning : commit.warnings) std::fprintf(stderr, "lazarus: warning: %s\n", warning.c_str());
    }
    placement_warned_ = true;
    newest_local_ = commit.manifest;
    if (options_.flush_every > 0 && version % static_cast<std::uint64_t>(options_.flush_every) == 0) {
      start_flush(commit.manifest);
    }
    log(fmt::format("checkpoint version {} committed at the node-local level ({}): {:.1f} MiB on rank 0 ({:.1f} MiB "
                    "file) in {:.3f} s{}",
                    version, to_string(options_.redundancy), static_cast<double>(commit.bytes) / (1 << 20),
                    static_cast<double>(commit.file_bytes) / (1 << 20), seconds_since(started),
                    newest_flushed_ == version ? "; copying it to the global level" : ""));
  }
  if (options_.mode == Mode::sync) last_checkpoint_ = Clock::now();
  if (launcher_) launcher_->report_checkpoint(version);
}

std::vector<std::uint64_t> Engine::complete_versions() {
  if (!pending_.empty()) settle_background(Settle::finished);
  if (multilevel()) {
    std::vector<std::uint64_t> listed;
    for (const Candidate& candidate : candidates(gather_inventory())) listed.push_back(candidate.version);
    std::reverse(listed.begin(), listed.end());
    return listed;
  }
  std::vector<std::uint64_t> verified;
  run_collectively(comm_, [&] {
    if (comm_.rank() != 0) return;
    // A manifest in place makes a version complete; one that does not parse or verify does not count.
    for (std::uint64_t version : scan_versions(job_dir_).complete) {
      try {
        read_manifest(version_directory(job_dir_, version));
        verified.push_back(version);
      } catch (const CorruptCheckpoint&) {
      } catch (const NoCheckpoint&) {
      }
    }
  });
  return comm_.broadcast(std::move(verified), 0);
}

Outcome Engine::try_restore(std::uint64_t version) {
  const auto version_dir = version_directory(job_dir_, version);
  // Rank 0 reads the manifest once; every rank parses the same text.
  std::string text;
  Outcome read = agree(comm_, capture([&] {
                         if (comm_.rank() == 0) text = serialize_manifest(read_manifest(version_dir));
                       }));
  if (!read.ok()) return read;
  text = comm_.broadcast(std::move(text), 0);
  VerifiedPiece piece;
  Outcome verified = agree(comm_, capture([&] {
                             const Manifest manifest = parse_manifest(text, (version_dir / kManifestFileName).string());
                             piece = verify_rank_piece(version_dir, manifest, comm_.rank(), comm_.size(), regions_);
                           }));
  if (!verified.ok()) return verified;
  fault_point("during_restore", comm_.rank(), version);
  // Every rank's file is intact: only now does protected memory change. Should a verified file not
  // decode to its data (see VerifiedPiece::apply), every rank reports it and the caller falls back
  // to an older version, which overwrites every region again.
  Outcome applied = agree(comm_, capture([&] { piece.apply(); }));
  if (!applied.ok()) return applied;
  last_checkpoint_ = Clock::now();
  return {};
}

std::optional<std::uint64_t> Engine::restore_newest() {
  settle_background(Settle::all);
  if (multilevel()) return restore_newest_multilevel();
  const auto start = Clock::now();
  const auto candidates = listed_versions();
  if (candidates.empty()) {
    if (launcher_) launcher_->report_restore(0);
    return std::nullopt;
  }
  std::string last_problem;
  for (auto version = candidates.rbegin(); version != candidates.rend(); ++version) {
    const Outcome outcome = try_restore(*version);
    if (outcome.ok()) {
      if (launcher_) launcher_->report_restore(*version);
      log(fmt::format("restored checkpoint version {} in {:.3f} s", *version, seconds_since(start)));
      return *version;
    }
    if (outcome.kind != ErrorKind::corrupt && outcome.kind != ErrorKind::no_checkpoint) throw_if_failed(outcome);
    // Reported once, by rank 0, with the failing rank's own message naming the file. A corrupt version
    // is set aside so that it no longer counts towards `keep` (else retention could delete the good
    // version we fall back to).
    if (comm_.rank() == 0) {
      std::fprintf(stderr, "lazarus: checkpoint version %llu of job '%s' is unusable: %s; %s\n",
                   static_cast<unsigned long long>(*version), options_.job.c_str(), outcome.message.c_str(),
                   std::next(version) == candidates.rend() ? "no older version left" : "falling back to an older version");
      if (outcome.kind == ErrorKind::corrupt) {
        if (auto problem = set_aside_version(job_dir_, *version)) {
          std::fprintf(stderr, "lazarus: warning: %s\n", problem->c_str());
        } else {
          std::fprintf(stderr, "lazarus: version %llu set aside: its manifest is now %s\n",
                       static_cast<unsigned long long>(*version), kSetAsideManifestFileName);
        }
      }
    }
    last_problem = outcome.message;
  }
  throw CorruptCheckpoint(fmt::format("none of the {} complete checkpoint versions of job '{}' in {} verifies (last: {})",
                                      candidates.size(), options_.job, options_.dir.string(), last_problem));
}

std::uint64_t Engine::restore_exactly(std::uint64_t version) {
  settle_background(Settle::all);
  if (multilevel()) {
    const Inventory inventory = gather_inventory();
    const auto all = candidates(inventory);
    const auto found = std::find_if(all.begin(), all.end(), [&](const Candidate& c) { return c.version == version; });
    if (found == all.end()) {
      throw NoCheckpoint(fmt::format("checkpoint version {} of job '{}' is complete at no level ({} complete versions)",
                                     version, options_.job, all.size()));
    }
    std::string why;  // why the node-local levels could not provide it
    Outcome outcome;
    if (found->local_holder >= 0) {
      outcome = try_restore_local(*found, inventory, why);
      if (outcome.ok() && why.empty()) return version;
      if (!outcome.ok() && outcome.kind != ErrorKind::corrupt && outcome.kind != ErrorKind::no_checkpoint) {
        throw_if_failed(outcome);  // a mismatch: the global copy would not match either
      }
    }
    if (found->global) {
      outcome = try_restore(version);
    } else if (outcome.ok()) {
      outcome = {ErrorKind::corrupt, fmt::format("version {} cannot be restored from the node-local level: {}", version, why), 0};
    }
    if (outcome.kind == ErrorKind::no_checkpoint) outcome.kind = ErrorKind::corrupt;
    throw_if_failed(outcome);
    if (launcher_) launcher_->report_restore(version, "global");
    return version;
  }
  const auto candidates = listed_versions();
  if (std::find(candidates.begin(), candidates.end(), version) == candidates.end()) {
    throw NoCheckpoint(fmt::format("checkpoint version {} of job '{}' in {} is not complete ({} complete versions)",
                                   version, options_.job, options_.dir.string(), candidates.size()));
  }
  Outcome outcome = try_restore(version);
  if (outcome.kind == ErrorKind::no_checkpoint) outcome.kind = ErrorKind::corrupt;
  throw_if_failed(outcome);
  if (launcher_) launcher_->report_restore(version);
  log(fmt::format("restored checkpoint version {}", version));
  return version;
}

bool Engine::need_checkpoint() {
  if (launcher_) launcher_->report_progress();
  if (!pending_.empty()) settle_background(Settle::finished);  // a progress point for async checkpoints
  std::uint64_t due = 0;
  if (comm_.rank() == 0) {
    const double period =
        options_.mtbf_seconds > 0 ? daly_interval(checkpoint_cost_, options_.mtbf_seconds) : options_.interval_seconds;
    due = (options_.mtbf_seconds > 0 || period > 0) && seconds_since(last_checkpoint_) >= period;
  }
  return comm_.broadcast(due, 0) != 0;
}

bool Engine::should_stop() {
  if (launcher_) launcher_->report_progress();
  if (!pending_.empty()) settle_background(Settle::finished);  // a progress point, as need_checkpoint()
  if (stop_agreed_ || !any_launcher_) return stop_agreed_;       // the same on every rank: no message
  // One rank asked is enough: the maximum makes every rank stop at the same call, none alone.
  const bool asked = launcher_ && launcher_->stop_requested();
  stop_agreed_ = comm_.max(asked ? 1u : 0u) != 0;
  if (stop_agreed_) {
    if (launcher_) launcher_->report_stopping();
    log("stopping: the launcher asked the job to stop");
  }
  return stop_agreed_;
}

void Engine::wait() { settle_background(Settle::all); }

void Engine::finish() {
  if (!multilevel() && options_.mode == Mode::sync) return;  // nothing is ever left to do
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) {
    const bool unflushed = newest_local_ && newest_local_->version > newest_flushed_;
    if (!pending_.empty() || unflushed) {
      std::fprintf(stderr, "lazarus: warning: the Session ended after MPI_Finalize: %zu checkpoint(s) in flight were "
                   "not committed%s\n", pending_.size(),
                   unflushed ? ", and the newest version was not copied to the global level" : "");
    }
    return;
  }
  settle_background(Settle::all);
  // The newest local version reaches the global level when the job ends normally.
  if (newest_local_ && newest_local_->version > newest_flushed_) start_flush(*newest_local_);
  settle_background(Settle::all);
}

}  // namespace lazarus::detail
