#include "runtime/engine/global_level.hpp"

#include <algorithm>
#include <cstdio>
#include <system_error>

#include <fmt/format.h>

#include "backends/posix/durable_io.hpp"
#include "lazarus/errors.hpp"
#include "runtime/collective.hpp"
#include "runtime/fault_injection.hpp"
#include "runtime/format/commit_protocol.hpp"
#include "runtime/format/rank_piece.hpp"
#include "runtime/format/version_catalog.hpp"

namespace lazarus::detail {

GlobalLevel::GlobalLevel(EngineContext& context)
    : context_(context), job_dir_(context.options.dir / context.options.job) {
  run_collectively(context_.comm, [&] {
    if (context_.comm.rank() == 0) make_job_dir();
  });
}

void GlobalLevel::make_job_dir() const {
  try {
    backends::create_private_directory(job_dir_);  // 0700: docs/operations.md, "Permissions"
  } catch (const IoError& error) {
    throw IoError(fmt::format("cannot create checkpoint folder {}: {}", job_dir_.string(), error.what()));
  }
}

std::uint64_t GlobalLevel::highest_version() {
  std::uint64_t highest = 0;
  run_collectively(context_.comm, [&] {
    if (context_.comm.rank() != 0) return;
    std::error_code error;
    if (!std::filesystem::is_directory(job_dir_, error)) make_job_dir();  // removed during the run
    highest = scan_versions(job_dir_).highest();
  });
  return context_.comm.max(highest);
}

std::filesystem::path GlobalLevel::version_dir(std::uint64_t version) const {
  return version_directory(job_dir_, version);
}

void GlobalLevel::commit(std::uint64_t version, const RankRecord& mine, Clock::time_point started) {
  const CommitStatistics statistics = finish_commit(context_.comm, context_.options, job_dir_, version, mine);
  context_.log(fmt::format("checkpoint version {} committed: {:.1f} MiB on rank 0 ({:.1f} MiB on disk) in {:.3f} s",
                           version, static_cast<double>(statistics.bytes) / (1 << 20),
                           static_cast<double>(statistics.file_bytes) / (1 << 20), seconds_since(started)));
  if (context_.launcher) context_.launcher->report_checkpoint(version);
}

void GlobalLevel::abandon(std::uint64_t version) {
  abandon_version(context_.comm, context_.comm.rank() == 0, job_dir_, version);
}

std::vector<std::uint64_t> GlobalLevel::listed_versions() {
  std::vector<std::uint64_t> listed;
  run_collectively(context_.comm, [&] {
    if (context_.comm.rank() == 0) listed = scan_versions(job_dir_).complete;
  });
  return context_.comm.broadcast(std::move(listed), 0);
}

std::vector<std::uint64_t> GlobalLevel::complete_versions() {
  std::vector<std::uint64_t> verified;
  run_collectively(context_.comm, [&] {
    if (context_.comm.rank() != 0) return;
    // A manifest in place makes a version complete; one that does not parse or verify, or is another
    // version's, does not count.
    for (std::uint64_t version : scan_versions(job_dir_).complete) {
      try {
        read_version_manifest(version_directory(job_dir_, version), version);
        verified.push_back(version);
      } catch (const CorruptCheckpoint&) {
      } catch (const NoCheckpoint&) {
      }
    }
  });
  return context_.comm.broadcast(std::move(verified), 0);
}

Outcome GlobalLevel::try_restore(std::uint64_t version) {
  const backends::Communicator& comm = context_.comm;
  const auto version_dir = version_directory(job_dir_, version);
  // Rank 0 reads the manifest's text once; every rank parses (and so verifies) the same text.
  std::string text;
  Outcome read = agree(comm, capture([&] {
                         if (comm.rank() == 0) text = read_manifest_text(version_dir);
                       }));
  if (!read.ok()) return read;
  text = comm.broadcast(std::move(text), 0);
  VerifiedPiece piece;
  Outcome verified = agree(comm, capture([&] {
                             const Manifest manifest =
                                 parse_version_manifest(text, (version_dir / kManifestFileName).string(), version);
                             piece = verify_rank_piece(version_dir, manifest, comm.rank(), comm.size(), context_.regions);
                           }));
  if (!verified.ok()) return verified;
  fault_point("during_restore", comm.rank(), version);
  // Every rank's file is intact: only now does protected memory change. Should a verified file not
  // decode to its data (see VerifiedPiece::apply), every rank reports it and the caller falls back
  // to an older version, which overwrites every region again.
  return agree(comm, capture([&] { piece.apply(); }));
}

void GlobalLevel::report_unusable(std::uint64_t version, const Outcome& outcome, const std::string& next) {
  if (outcome.kind != ErrorKind::corrupt && outcome.kind != ErrorKind::no_checkpoint &&
      outcome.kind != ErrorKind::mismatch) {
    throw_if_failed(outcome);
  }
  if (context_.comm.rank() != 0) return;
  std::fprintf(stderr, "lazarus: checkpoint version %llu of job '%s' is unusable: %s; %s\n",
               static_cast<unsigned long long>(version), context_.options.job.c_str(), outcome.message.c_str(),
               next.c_str());
  if (outcome.kind != ErrorKind::corrupt) return;
  if (auto problem = set_aside_version(job_dir_, version)) {
    std::fprintf(stderr, "lazarus: warning: %s\n", problem->c_str());
  } else {
    std::fprintf(stderr, "lazarus: version %llu set aside: its manifest is now %s\n",
                 static_cast<unsigned long long>(version), kSetAsideManifestFileName);
  }
}

std::optional<std::uint64_t> GlobalLevel::restore_newest() {
  const auto start = Clock::now();
  const auto candidates = listed_versions();
  if (candidates.empty()) {
    if (context_.launcher) context_.launcher->report_restore(0);
    return std::nullopt;
  }
  std::string last_problem;
  std::optional<Outcome> mismatch;  // the newest version's mismatch with the protected regions
  for (auto version = candidates.rbegin(); version != candidates.rend(); ++version) {
    const Outcome outcome = try_restore(*version);
    if (outcome.ok()) {
      if (context_.launcher) context_.launcher->report_restore(*version);
      context_.log(fmt::format("restored checkpoint version {} in {:.3f} s", *version, seconds_since(start)));
      return *version;
    }
    report_unusable(*version, outcome,
                    std::next(version) == candidates.rend() ? "no older version left" : "falling back to an older version");
    if (outcome.kind == ErrorKind::mismatch && !mismatch) mismatch = outcome;
    last_problem = outcome.message;
  }
  // No version restored: a program that matches none of them hears so (the same on every rank).
  if (mismatch) throw_if_failed(*mismatch);
  throw CorruptCheckpoint(fmt::format("none of the {} complete checkpoint versions of job '{}' in {} verifies (last: {})",
                                      candidates.size(), context_.options.job, context_.options.dir.string(),
                                      last_problem));
}

void GlobalLevel::restore_exactly(std::uint64_t version) {
  const auto candidates = listed_versions();
  if (std::find(candidates.begin(), candidates.end(), version) == candidates.end()) {
    throw NoCheckpoint(fmt::format("checkpoint version {} of job '{}' in {} is not complete ({} complete versions)",
                                   version, context_.options.job, context_.options.dir.string(), candidates.size()));
  }
  Outcome outcome = try_restore(version);
  if (outcome.kind == ErrorKind::no_checkpoint) outcome.kind = ErrorKind::corrupt;
  throw_if_failed(outcome);
  if (context_.launcher) context_.launcher->report_restore(version);
  context_.log(fmt::format("restored checkpoint version {}", version));
}

}  // namespace lazarus::detail
