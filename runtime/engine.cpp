#include "runtime/engine.hpp"

#include <cstdio>
#include <system_error>

#include <fmt/format.h>

#include "backends/hdf5/rank_file.hpp"
#include "lazarus/errors.hpp"
#include "runtime/commit_protocol.hpp"
#include "runtime/fault_injection.hpp"
#include "runtime/manifest.hpp"
#include "runtime/restore.hpp"
#include "runtime/version_catalog.hpp"

namespace lazarus::detail {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

}  // namespace

Engine::Engine(MPI_Comm comm, const std::function<Options()>& make_options)
    : comm_(comm), last_checkpoint_(Clock::now()) {
  run_collectively(comm_, [&] {
    options_ = make_options();
    options_.validate();
    job_dir_ = options_.dir / options_.job;
    if (comm_.rank() != 0) return;
    std::error_code error;
    std::filesystem::create_directories(job_dir_, error);
    if (error) throw IoError(fmt::format("cannot create checkpoint folder {}: {}", job_dir_.string(), error.message()));
  });
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
  // Past every version folder, complete or not, so that leftovers of a crash are never reused.
  const std::uint64_t version = listed_versions(false).at(0) + 1;
  const CommitStatistics statistics = commit_version(comm_, options_, job_dir_, version, regions_);
  last_checkpoint_ = Clock::now();
  if (launcher_) launcher_->report_checkpoint(version);
  log(fmt::format("checkpoint version {} committed: {:.1f} MiB on rank 0 ({:.1f} MiB on disk) in {:.3f} s", version,
                  static_cast<double>(statistics.bytes) / (1 << 20),
                  static_cast<double>(statistics.file_bytes) / (1 << 20), seconds_since(start)));
  return version;
}

std::vector<std::uint64_t> Engine::complete_versions() {
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
  std::uint64_t due = 0;
  if (comm_.rank() == 0) due = options_.interval_seconds > 0 && seconds_since(last_checkpoint_) >= options_.interval_seconds;
  return comm_.broadcast(due, 0) != 0;
}

}  // namespace lazarus::detail
