#include "runtime/format/commit_protocol.hpp"

#include <chrono>
#include <cstdio>
#include <system_error>

#include <fmt/format.h>
#include <xxhash.h>

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

CommitStatistics commit_version(const backends::Communicator& comm, const Options& options,
                                const std::filesystem::path& job_dir, std::uint64_t version,
                                const RegionRegistry& regions, int workers) {
  const auto version_dir = version_directory(job_dir, version);
  RankRecord mine;
  run_collectively(comm, [&] { mine = write_rank_piece(comm, options, version_dir, version, regions, workers); });
  return finish_commit(comm, options, job_dir, version, mine);
}

CommitStatistics finish_commit(const backends::Communicator& comm, const Options& options,
                               const std::filesystem::path& job_dir, std::uint64_t version, const RankRecord& mine) {
  const auto version_dir = version_directory(job_dir, version);
  const auto records = comm.gather(serialize_rank_record(mine), 0);
  if (comm.rank() != 0) fault_point("during_commit", comm.rank(), version);  // waiting for the manifest
  run_collectively(comm, [&] {
    if (comm.rank() != 0) return;
    const Manifest manifest = manifest_of_records(options, version, comm.size(), records);
    // Every rank file's directory entry, and the version folder's own, must be durable first.
    backends::fsync_directory(version_dir);
    backends::fsync_directory(job_dir);
    write_manifest(version_dir, manifest, [&] { fault_point("during_commit", 0, version); });
  });
  fault_point("after_commit", comm.rank(), version);

  if (comm.rank() == 0) {
    const RetentionReport report = apply_retention(job_dir, options.keep, version);
    for (const auto& problem : report.problems) std::fprintf(stderr, "lazarus: warning: %s\n", problem.c_str());
  }
  CommitStatistics statistics;
  for (const auto& region : mine.regions) statistics.bytes += region.bytes;
  statistics.file_bytes = mine.file_bytes;
  return statistics;
}

}  // namespace lazarus::detail
