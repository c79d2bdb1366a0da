#include "runtime/levels/global_flush.hpp"

#include <fcntl.h>

#include <cstdio>

#include <fmt/format.h>

#include "backends/posix/durable_io.hpp"
#include "backends/posix/file_checksum.hpp"
#include "lazarus/errors.hpp"
#include "runtime/collective.hpp"
#include "runtime/format/commit_protocol.hpp"
#include "runtime/fault_injection.hpp"
#include "runtime/format/version_catalog.hpp"

namespace lazarus::detail {
namespace {

constexpr int kRunning = 0;
constexpr int kDone = 1;
constexpr int kFailed = 2;

}  // namespace

GlobalFlush::~GlobalFlush() {
  if (worker_.joinable()) worker_.join();
}

void GlobalFlush::start(const std::filesystem::path& local_version_dir, const std::filesystem::path& global_job_dir,
                        const Manifest& manifest, int rank, int keep) {
  if (worker_.joinable()) worker_.join();
  manifest_ = manifest;
  manifest_.placement.reset();
  global_job_dir_ = global_job_dir;
  keep_ = keep;
  pending_ = manifest.version;
  problem_.clear();
  const RankRecord& record = manifest.ranks.at(static_cast<std::size_t>(rank));
  const auto from = local_version_dir / record.file;
  const auto to = version_directory(global_job_dir, manifest.version) / record.file;
  // Opened here, so that local retention may remove the file while the copy still reads it.
  int fd = -1;
  try {
    fd = backends::open_file(from, O_RDONLY).release();
  } catch (const Error& error) {
    problem_ = error.what();
    state_ = kFailed;
    return;
  }
  state_ = kRunning;
  worker_ = std::thread([this, from, to, fd, bytes = record.file_bytes, xxh3 = record.file_xxh3, rank,
                         version = manifest.version] { copy(from, to, fd, bytes, xxh3, rank, version); });
}

void GlobalFlush::copy(std::filesystem::path from, std::filesystem::path to, int fd, std::uint64_t bytes,
                       std::uint64_t xxh3, int rank, std::uint64_t version) {
  const backends::FileDescriptor owned(fd);
  try {
    const backends::HashedFile file = backends::read_and_hash_file(fd, from, bytes);
    if (file.xxh3 != xxh3) throw IoError(fmt::format("{} no longer matches its checksum", from.string()));
    std::error_code error;
    std::filesystem::create_directories(to.parent_path(), error);
    if (error) throw IoError(fmt::format("cannot create {}: {}", to.parent_path().string(), error.message()));
    backends::write_file_durably(to, {file.bytes.data(), file.bytes.size()});
    fault_point("during_flush", rank, version);
    state_ = kDone;
  } catch (const std::exception& error) {
    problem_ = error.what();
    state_ = kFailed;
  }
}

std::optional<std::uint64_t> GlobalFlush::settle(const backends::Communicator& comm, bool wait) {
  // Every rank takes part while any has something pending: ranks agree on that first.
  const bool mine_pending = pending_.has_value();
  if (comm.max(mine_pending ? 1 : 0) == 0) return std::nullopt;
  if (wait && worker_.joinable()) worker_.join();
  const int state = pending_ ? state_.load() : kDone;
  const auto unfinished = comm.max(state == kRunning ? 1 : 0);
  if (unfinished != 0) return std::nullopt;  // try again at the next collective call
  if (worker_.joinable()) worker_.join();
  const auto failed = comm.max_with_rank(state == kFailed ? 1 : 0);
  const std::uint64_t version = comm.max(pending_.value_or(0));
  pending_.reset();
  if (failed.value != 0) {
    const std::string problem = comm.broadcast(problem_, failed.rank);
    if (comm.rank() == 0) {
      std::fprintf(stderr, "lazarus: warning: version %llu was not copied to the global level (rank %d: %s); the "
                   "global level keeps its previous version\n", static_cast<unsigned long long>(version), failed.rank,
                   problem.c_str());
    }
    abandon_version(comm, comm.rank() == 0, global_job_dir_, version);  // a full file system stays usable
    return std::nullopt;
  }
  try {
    publish_collectively(comm, comm.rank() == 0, version, [&] { return manifest_; },
                         {global_job_dir_, keep_, comm.rank(), "flush_commit"});
  } catch (const Error&) {
    abandon_version(comm, comm.rank() == 0, global_job_dir_, version);
    throw;
  }
  return version;
}

}  // namespace lazarus::detail
