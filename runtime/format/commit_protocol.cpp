#include "runtime/format/commit_protocol.hpp"

#include <chrono>
#include <cstdio>
#include <system_error>

#include <fmt/format.h>

#include "backends/hdf5/rank_file.hpp"
#include "backends/posix/durable_io.hpp"
#include "lazarus/errors.hpp"
#include "runtime/collective.hpp"
#include "runtime/fault_injection.hpp"
#include "runtime/format/manifest.hpp"
#include "runtime/format/version_catalog.hpp"

namespace lazarus::detail {
namespace {

std::int64_t unix_milliseconds_now() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

RankRecord write_rank_piece(const backends::Communicator& comm, const Options& options,
                            const std::filesystem::path& version_dir, std::uint64_t version,
                            const RegionRegistry& regions, int workers) {
  std::error_code error;
  std::filesystem::create_directories(version_dir, error);
  if (error) throw IoError(fmt::format("cannot create {}: {}", version_dir.string(), error.message()));
  fault_point("before_write", comm.rank(), version);

  RankRecord record;
  record.rank = comm.rank();
  record.file = rank_file_name(comm.rank());
  const backends::RankFileHeader header{kFormatVersion, options.job, version, comm.rank(), comm.size()};
  backends::RankFileWriter writer(version_dir / record.file, header,
                                  {options.compression_level, options.chunk_bytes, workers}, regions.total_bytes());
  for (const Region& region : regions.all()) {
    backends::RegionPayload payload{region.name,    region.type, region.shape,  region.data,
                                    region.bytes(), 0,           region.device, region.ready};
    payload.checksum = writer.write_and_hash(payload);
    record.regions.push_back({region.name, region.type, region.shape, payload.bytes, payload.checksum, region.device});
    if (record.regions.size() == 1) fault_point("during_write", comm.rank(), version);
  }
  if (regions.all().empty()) fault_point("during_write", comm.rank(), version);
  const backends::WrittenFile written = writer.finish();
  record.file_bytes = written.bytes;
  record.file_xxh3 = written.xxh3;
  fault_point("after_write", comm.rank(), version);
  return record;
}

Manifest manifest_of_records(const Options& options, std::uint64_t version, int nranks,
                             const std::vector<std::string>& records) {
  Manifest manifest;
  manifest.job = options.job;
  manifest.version = version;
  manifest.nranks = nranks;
  manifest.created_unix_ms = unix_milliseconds_now();
  manifest.compression_level = options.compression_level;
  manifest.chunk_bytes = options.chunk_bytes;
  for (const auto& text : records) manifest.ranks.push_back(parse_rank_record(text));
  return manifest;
}

void publish_version(const Manifest& manifest, const PublishTarget& target) {
  const auto version_dir = version_directory(target.job_dir, manifest.version);
  const auto point = [&](const char* when) {
    if (target.rank >= 0) fault_point(fmt::format("{}_{}", when, target.fault_stem), target.rank, manifest.version);
  };
  // Every file's directory entry, and the version folder's own, must be durable before the manifest
  // names them.
  backends::fsync_directory(version_dir);
  backends::fsync_directory(target.job_dir);
  write_manifest(version_dir, manifest, [&] { point("during"); });
  point("after");
  if (target.keep <= 0) return;
  const RetentionReport report = apply_retention(target.job_dir, target.keep, manifest.version);
  for (const auto& problem : report.problems) std::fprintf(stderr, "lazarus: warning: %s\n", problem.c_str());
}

void publish_collectively(const backends::Communicator& comm, bool publishes, std::uint64_t version,
                          const std::function<Manifest()>& manifest_here, const PublishTarget& target) {
  run_collectively(comm, [&] {
    if (publishes) publish_version(manifest_here(), target);
  });
  if (!publishes) fault_point(fmt::format("after_{}", target.fault_stem), comm.rank(), version);
}

void abandon_version(const backends::Communicator& comm, bool removes, const std::filesystem::path& job_dir,
                     std::uint64_t version) {
  comm.barrier();  // every rank has stopped writing into the folder
  if (!removes) return;
  const auto version_dir = version_directory(job_dir, version);
  // The manifest first: a crash while removing never leaves a complete-looking version behind.
  std::error_code error;
  std::filesystem::remove(version_dir / kManifestFileName, error);
  std::filesystem::remove_all(version_dir, error);
  if (error) {
    std::fprintf(stderr, "lazarus: warning: cannot remove %s, left by a failed checkpoint: %s\n",
                 version_dir.string().c_str(), error.message().c_str());
  }
}

CommitStatistics finish_commit(const backends::Communicator& comm, const Options& options,
                               const std::filesystem::path& job_dir, std::uint64_t version, const RankRecord& mine) {
  const auto records = comm.gather(serialize_rank_record(mine), 0);
  if (comm.rank() != 0) fault_point("during_commit", comm.rank(), version);  // waiting for the manifest
  publish_collectively(
      comm, comm.rank() == 0, version, [&] { return manifest_of_records(options, version, comm.size(), records); },
      {job_dir, options.keep, comm.rank()});
  CommitStatistics statistics;
  for (const auto& region : mine.regions) statistics.bytes += region.bytes;
  statistics.file_bytes = mine.file_bytes;
  return statistics;
}

}  // namespace lazarus::detail
