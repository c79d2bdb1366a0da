#pragma once
// Asynchronous checkpoints (docs/configuration.md, "Asynchronous checkpoints"): checkpoint() copies
// the protected regions into staging memory and hands them to this writer, whose thread writes and
// fsyncs the rank file exactly as a synchronous checkpoint would (write_rank_piece: no MPI call).
// Committing the version (agreement, manifest) stays with the application's thread, at its next
// collective call: the writer never calls MPI.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "backends/cuda/device_memory.hpp"
#include "backends/mpi/communicator.hpp"
#include "backends/posix/staging_buffer.hpp"
#include "lazarus/options.hpp"
#include "runtime/collective.hpp"
#include "runtime/format/manifest.hpp"
#include "runtime/region_registry.hpp"

namespace lazarus::detail {

// One checkpoint between checkpoint() and its commit.
struct StagedCheckpoint {
  std::uint64_t version = 0;
  std::filesystem::path version_dir;  // where the rank file goes (global or node-local level)
  RegionRegistry regions;             // the staged copies: same names, types and shapes
  std::vector<backends::StagingBuffer> buffers;
  std::vector<backends::PinnedBuffer> pinned;  // staged copies of device regions
  std::size_t bytes = 0;
  // Set by the writer once `finished`.
  bool finished = false;
  RankRecord record;
  Outcome outcome;  // ok, or why the write failed
};

class BackgroundWriter {
 public:
  // `comm` gives the rank and size for the file header only; it must outlive the writer.
  BackgroundWriter(const backends::Communicator& comm, const Options& options, int workers);
  ~BackgroundWriter();  // writes what was submitted, then stops (never throws)
  BackgroundWriter(const BackgroundWriter&) = delete;
  BackgroundWriter& operator=(const BackgroundWriter&) = delete;

  void submit(std::shared_ptr<StagedCheckpoint> checkpoint);
  // Whether `checkpoint` was written (or failed); with `wait`, once it is.
  bool finished(const StagedCheckpoint& checkpoint, bool wait);

 private:
  void run();

  const backends::Communicator& comm_;
  Options options_;
  int workers_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::shared_ptr<StagedCheckpoint>> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace lazarus::detail
