#include "runtime/engine.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <thread>
#include <map>
#include <set>
#include <system_error>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "backends/hdf5/h5_types.hpp"
#include "lazarus/errors.hpp"
#include "runtime/commit_protocol.hpp"
#include "runtime/fault_injection.hpp"
#include "runtime/manifest.hpp"
#include "runtime/restore.hpp"
#include "runtime/checkpoint_interval.hpp"
#include "runtime/local_restore.hpp"
#include "runtime/version_catalog.hpp"

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
}

void Engine::log(const std::string& line) const {
  if (options_.verbose && comm_.rank() == 0) std::fprintf(stderr, "lazarus: %s\n", line.c_str());
}

std::vector<std::uint64_t> Engine::listed_versions(bool complete) {
  std::vector<std::uint64_t> listed;
  run_collectively(comm_, [&] {
    if (comm_.rank() != 0) return;
    const VersionScan scan = scan_versions(job_dir_);
    listed = complete ? scan.complete : std::vector<std::uint64_t>{scan.highest()};
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

backends::StagingBuffer Engine::take_buffer(std::size_t bytes) {
  for (auto spare = spare_buffers_.begin(); spare != spare_buffers_.end(); ++spare) {
    if (spare->size() != bytes) continue;
    backends::StagingBuffer buffer = std::move(*spare);
    spare_buffers_.erase(spare);
    return buffer;
  }
  return backends::StagingBuffer(bytes);
}

backends::PinnedBuffer Engine::take_pinned(std::size_t bytes) {
  for (auto spare = spare_pinned_.begin(); spare != spare_pinned_.end(); ++spare) {
    if (spare->size() != bytes) continue;
    backends::PinnedBuffer buffer = std::move(*spare);
    spare_pinned_.erase(spare);
    return buffer;
  }
  return backends::PinnedBuffer(bytes);
}

const RegionRegistry& Engine::start_device_captures(std::vector<std::unique_ptr<backends::DeviceCapture>>& captures) {
  const auto& all = regions_.all();
  if (std::none_of(all.begin(), all.end(), [](const Region& r) { return r.device; })) return regions_;
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

void Engine::stage(std::uint64_t version) {
  const std::size_t bytes = regions_.total_bytes();
  // The budget holds at least one checkpoint; beyond it, wait for the oldest in flight to commit.
  const std::size_t budget = std::max(bytes, options_.staging_bytes);
  for (;;) {
    const bool need_room = !pending_.empty() && staged_bytes_ + bytes > budget;
    if (comm_.max(need_room ? 1 : 0) == 0) break;
    settle_background(Settle::oldest);
  }
  auto staged = std::make_shared<StagedCheckpoint>();
  staged->version = version;
  staged->version_dir = version_dir_for(version);
  staged->bytes = bytes;
  run_collectively(comm_, [&] {
    for (const Region& region : regions_.all()) {
      Region copy{region.name, region.type, nullptr, region.count, region.shape, region.device, {}};
      if (region.device) {  // straight from the device into pinned memory, all of it before returning
        backends::PinnedBuffer buffer = take_pinned(region.bytes());
        backends::DeviceCapture(region.data, buffer.data(), region.bytes()).wait_all();
        copy.data = buffer.data();
        staged->pinned.push_back(std::move(buffer));
      } else {
        backends::StagingBuffer buffer = take_buffer(region.bytes());
        if (region.bytes() > 0) std::memcpy(buffer.data(), region.data, region.bytes());
        copy.data = buffer.data();
        staged->buffers.push_back(std::move(buffer));
      }
      staged->regions.add(std::move(copy));
    }
  });
  writer_->submit(staged);
  pending_.push_back(std::move(staged));
  staged_bytes_ += bytes;
  last_submitted_ = version;
}

void Engine::settle_background(Settle how) {
  while (!pending_.empty()) {  // the same on every rank: checkpoints are submitted collectively
    const std::shared_ptr<StagedCheckpoint> oldest = pending_.front();
    const bool finished = writer_->finished(*oldest, how != Settle::finished);
    if (comm_.max(finished ? 0 : 1) != 0) break;  // some rank is still writing: commit later
    Outcome written = agree(comm_, oldest->outcome);
    pending_.pop_front();
    staged_bytes_ -= oldest->bytes;
    // Keep the staging memory for the next checkpoints, up to the budget's worth.
    std::size_t kept = 0;
    for (const auto& spare : spare_buffers_) kept += spare.size();
    const std::size_t keep_up_to = std::max(options_.staging_bytes, regions_.total_bytes());
    for (auto& buffer : oldest->buffers) {
      if (kept + buffer.size() > keep_up_to) break;
      kept += buffer.size();
      spare_buffers_.push_back(std::move(buffer));
    }
    for (const auto& pinned : spare_pinned_) kept += pinned.size();
    for (auto& buffer : oldest->pinned) {
      if (kept + buffer.size() > keep_up_to) break;
      kept += buffer.size();
      spare_pinned_.push_back(std::move(buffer));
    }
    if (!written.ok()) {
      written.message = fmt::format("checkpoint version {}, written in the background, failed: {}", oldest->version,
                                    written.message);
      throw_if_failed(written);
    }
    commit_written(oldest->version, oldest->record, Clock::now());
    if (how == Settle::oldest) break;
  }
  if (multilevel()) {
    if (auto committed = flush_.settle(comm_, how == Settle::all)) {
      log(fmt::format("version {} committed at the global level", *committed));
    }
  }
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
  const auto candidates = listed_versions(true);
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
  const auto candidates = listed_versions(true);
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

}  // namespace lazarus::detail

namespace lazarus::detail {

void Engine::wait() { settle_background(Settle::all); }

void Engine::finish() {
  if (!multilevel() && options_.mode == Mode::sync) return;  // nothing is ever left to do
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) {
    std::fprintf(stderr, "lazarus: warning: the Session ended after MPI_Finalize: checkpoints still in flight (%zu) "
                 "were not committed, and the newest version was not copied to the global level\n", pending_.size());
    return;
  }
  settle_background(Settle::all);
  // The newest local version reaches the global level when the job ends normally.
  if (newest_local_ && newest_local_->version > newest_flushed_) start_flush(*newest_local_);
  settle_background(Settle::all);
}

void Engine::start_flush(const Manifest& manifest) {
  if (flush_.pending()) flush_.settle(comm_, /*wait=*/true);  // one copy at a time
  flush_.start(version_directory(local_job_dir_, manifest.version), job_dir_, manifest, comm_.rank(), options_.keep);
  newest_flushed_ = manifest.version;
}

Inventory Engine::gather_inventory() {
  std::string mine;
  run_collectively(comm_, [&] {
    if (nodes_.is_leader(comm_.rank())) mine = serialize_node_inventory(scan_node_folder(local_job_dir_));
  });
  const auto texts = comm_.gather(mine, 0);
  Inventory inventory;
  for (std::size_t rank = 0; rank < texts.size(); ++rank) {
    if (nodes_.is_leader(static_cast<int>(rank))) {
      inventory[nodes_.node_of(static_cast<int>(rank))] = parse_node_inventory(texts[rank]);
    }
  }
  return inventory;
}

std::vector<Engine::Candidate> Engine::candidates(const Inventory& inventory) {
  std::vector<std::uint64_t> flat;  // version, local holder + 1, global; three numbers per candidate
  run_collectively(comm_, [&] {
    if (comm_.rank() != 0) return;
    std::map<std::uint64_t, Candidate> found;
    for (const auto& [node, versions] : inventory) {
      for (const auto& [version, held] : versions) {
        if (!held.manifest) continue;
        Candidate& candidate = found[version];
        candidate.version = version;
        if (candidate.local_holder < 0) candidate.local_holder = nodes_.leader_of(node);
      }
    }
    for (const std::uint64_t version : scan_versions(job_dir_).complete) {
      found[version].version = version;
      found[version].global = true;
    }
    for (auto it = found.rbegin(); it != found.rend(); ++it) {
      flat.insert(flat.end(), {it->second.version, static_cast<std::uint64_t>(it->second.local_holder + 1),
                               it->second.global ? 1u : 0u});
    }
  });
  flat = comm_.broadcast(std::move(flat), 0);
  std::vector<Candidate> list;
  for (std::size_t i = 0; i + 2 < flat.size(); i += 3) {
    list.push_back({flat[i], static_cast<int>(flat[i + 1]) - 1, flat[i + 2] != 0});
  }
  return list;
}

Outcome Engine::try_restore_local(const Candidate& candidate, const Inventory& inventory, std::string& why) {
  const auto version_dir = version_directory(local_job_dir_, candidate.version);
  std::string text;
  Outcome read = agree(comm_, capture([&] {
                         if (comm_.rank() == candidate.local_holder) text = serialize_manifest(read_manifest(version_dir));
                       }));
  if (!read.ok()) {
    why = read.message;
    return {};
  }
  text = comm_.broadcast(std::move(text), candidate.local_holder);
  Manifest manifest;
  try {  // every rank parses the same text: all fail alike
    manifest = parse_manifest(text, (version_dir / kManifestFileName).string());
  } catch (const CorruptCheckpoint& problem) {
    why = problem.what();
    return {};
  }
  std::map<std::string, NodeHoldings> holdings;  // rank 0 only
  for (const auto& [node, versions] : inventory) {
    if (auto found = versions.find(candidate.version); found != versions.end()) holdings[node] = found->second;
  }
  std::set<Source> bad;
  for (int round = 0; round < 8; ++round) {
    std::string plan_text;
    if (comm_.rank() == 0) {
      std::string reason;
      if (auto plan = plan_recovery(manifest, holdings, nodes_.rank_nodes(), bad, reason)) plan_text = serialize_plan(*plan);
      else plan_text = "!" + reason;
    }
    plan_text = comm_.broadcast(std::move(plan_text), 0);
    if (plan_text.starts_with("!")) {
      why = plan_text.substr(1);
      return {};
    }
    const RecoveryPlan plan = parse_plan(plan_text);
    auto damaged = carry_out_recovery(comm_, nodes_, plan, manifest, local_job_dir_);
    if (damaged.empty()) {
      VerifiedPiece piece;
      const Outcome verified =
          capture([&] { piece = verify_rank_piece(version_dir, manifest, comm_.rank(), comm_.size(), regions_); });
      std::vector<Source> mine;
      const Recovery& own = plan.ranks.at(static_cast<std::size_t>(comm_.rank()));
      if (!verified.ok() && verified.kind == ErrorKind::corrupt && own.kind == Recovery::Kind::in_place) {
        mine.push_back(own.source);  // this node's own copy is damaged: plan around it
      }
      damaged = share_sources(comm_, mine);
      if (damaged.empty()) {
        const Outcome agreed = agree(comm_, verified);
        if (!agreed.ok()) return agreed;
        fault_point("during_restore", comm_.rank(), candidate.version);
        const Outcome applied = agree(comm_, capture([&] { piece.apply(); }));
        if (!applied.ok()) return applied;
        last_checkpoint_ = Clock::now();
        const auto rebuilt = describe_rebuilt(plan);
        const std::string detail = rebuilt.empty() ? "every rank read its own node-local file"
                                                   : fmt::format("rebuilt: {}", fmt::join(rebuilt, "; "));
        if (comm_.rank() == 0 && (options_.verbose || !rebuilt.empty())) {
          std::fprintf(stderr, "lazarus: restoring version %llu from node-local storage; %s\n",
                       static_cast<unsigned long long>(candidate.version), detail.c_str());
        }
        if (launcher_) launcher_->report_restore(candidate.version, "local", detail);
        return {};
      }
    }
    if (comm_.rank() == 0) {
      for (const Source& source : damaged) {
        std::fprintf(stderr, "lazarus: %s on node %s is missing or damaged; planning around it\n", source.file.c_str(),
                     source.node.c_str());
      }
    }
    bad.insert(damaged.begin(), damaged.end());
  }
  why = "too many damaged copies";
  return {};
}

std::optional<std::uint64_t> Engine::restore_newest_multilevel() {
  const auto start = Clock::now();
  flush_.settle(comm_, /*wait=*/true);
  const Inventory inventory = gather_inventory();
  const auto list = candidates(inventory);
  if (list.empty()) {
    if (launcher_) launcher_->report_restore(0);
    return std::nullopt;
  }
  std::vector<std::pair<std::uint64_t, std::string>> unusable;  // local versions that could not be assembled
  std::string last_problem;
  for (const Candidate& candidate : list) {
    if (candidate.local_holder >= 0) {
      std::string why;
      const Outcome outcome = try_restore_local(candidate, inventory, why);
      if (outcome.ok() && why.empty()) {
        log(fmt::format("restored checkpoint version {} from the node-local level in {:.3f} s", candidate.version,
                        seconds_since(start)));
        return candidate.version;
      }
      if (!outcome.ok() && outcome.kind != ErrorKind::corrupt && outcome.kind != ErrorKind::no_checkpoint) {
        throw_if_failed(outcome);
      }
      unusable.emplace_back(candidate.version, fmt::format("version {} ({})", candidate.version,
                                                           outcome.ok() ? why : outcome.message));
    }
    if (!candidate.global) continue;
    const Outcome outcome = try_restore(candidate.version);
    if (outcome.ok()) {
      std::vector<std::string> newer;
      for (const auto& [version, line] : unusable) {
        if (version > candidate.version) newer.push_back(line);
      }
      const std::string detail =
          newer.empty() ? std::string() : fmt::format("newer node-local versions could not be rebuilt: {}", fmt::join(newer, "; "));
      if (comm_.rank() == 0 && !newer.empty()) {
        std::fprintf(stderr, "lazarus: %s; restored version %llu from the global level\n", detail.c_str(),
                     static_cast<unsigned long long>(candidate.version));
      }
      if (launcher_) launcher_->report_restore(candidate.version, "global", detail);
      log(fmt::format("restored checkpoint version {} from the global level in {:.3f} s", candidate.version,
                      seconds_since(start)));
      return candidate.version;
    }
    if (outcome.kind != ErrorKind::corrupt && outcome.kind != ErrorKind::no_checkpoint) throw_if_failed(outcome);
    if (comm_.rank() == 0) {
      std::fprintf(stderr, "lazarus: checkpoint version %llu of job '%s' is unusable at the global level: %s\n",
                   static_cast<unsigned long long>(candidate.version), options_.job.c_str(), outcome.message.c_str());
      if (outcome.kind == ErrorKind::corrupt) set_aside_version(job_dir_, candidate.version);
    }
    last_problem = outcome.message;
  }
  throw CorruptCheckpoint(fmt::format("none of the {} checkpoint versions of job '{}' could be restored from any level "
                                      "({})",
                                      list.size(), options_.job,
                                      last_problem.empty() && !unusable.empty() ? unusable.front().second : last_problem));
}

}  // namespace lazarus::detail
