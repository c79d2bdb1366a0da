#pragma once
// The global level (L3) of a multi-level checkpoint: every Nth node-local version is copied to
// LAZARUS_DIR in the background, rank by rank, while the application runs on. The copy commits there
// exactly like a single-level checkpoint (files durable first, then rank 0 publishes the manifest),
// but the commit waits for a later collective call (checkpoint(), wait(), restore(), the Session's end):
// MPI is only ever called from the application's thread. A crash or an error during the copy leaves
// the global level at its previous complete version; after an error, what was copied is removed.
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>

#include "backends/mpi/communicator.hpp"
#include "runtime/format/manifest.hpp"

namespace lazarus::detail {

class GlobalFlush {
 public:
  GlobalFlush() = default;
  ~GlobalFlush();  // waits for the copy (never throws)
  GlobalFlush(const GlobalFlush&) = delete;
  GlobalFlush& operator=(const GlobalFlush&) = delete;

  // Local. Starts copying this rank's file of `manifest`'s version from `local_version_dir` to
  // `global_job_dir`, in the background. At most one version at a time: settle() the previous first.
  void start(const std::filesystem::path& local_version_dir, const std::filesystem::path& global_job_dir,
             const Manifest& manifest, int rank, int keep);

  // The version being copied or waiting for its commit, if any.
  std::optional<std::uint64_t> pending() const noexcept { return pending_; }

  // Collective. When every rank's copy has finished (or `wait`: once they have), commits the version
  // at the global level and returns it; a copy that failed on any rank is reported on rank 0's stderr
  // and dropped (the global level keeps its previous version). Returns nullopt when nothing was
  // committed. Throws the same error on every rank when the commit itself fails.
  std::optional<std::uint64_t> settle(const backends::Communicator& comm, bool wait);

 private:
  void copy(std::filesystem::path from, std::filesystem::path to, int fd, std::uint64_t bytes, std::uint64_t xxh3,
            int rank, std::uint64_t version);

  std::optional<std::uint64_t> pending_;
  Manifest manifest_;  // as committed globally (no placement)
  std::filesystem::path global_job_dir_;
  int keep_ = 1;
  std::thread worker_;
  std::atomic<int> state_{0};  // kRunning, kDone or kFailed
  std::string problem_;        // set before state_ becomes kFailed
};

}  // namespace lazarus::detail
