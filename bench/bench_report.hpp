#pragma once
// The JSON document checkpoint_bench prints: the machine, the run, per-method figures and Lazarus's
// ratios to the fwrite+fsync baseline next to their targets (and, for the multi-level methods, to
// the single global level).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace lazarus::bench {

struct MethodResult {
  std::vector<double> write_seconds;  // durable write, slowest rank, one per repetition
  std::vector<double> read_seconds;   // cold read back, slowest rank, one per repetition
  std::vector<double> write_cpu_seconds;  // CPU time of the busiest rank in each write
  std::vector<double> read_cpu_seconds;   // and in each read
  std::uint64_t bytes_on_disk = 0;    // all ranks' files of the last repetition
  bool verified = true;               // every read returned the bytes written, on every rank
  // async only: the part of each write that blocks the application (checkpoint() alone), slowest
  // rank; write_seconds is then the time until committed (checkpoint() + wait()).
  std::vector<double> blocking_seconds;
  // The warm-up write before the repetitions (not in the medians), where a method has one.
  std::vector<double> warmup_write_seconds;
  std::vector<double> warmup_blocking_seconds;
};

struct RunDescription {
  std::string kind;
  int ranks = 0;
  std::size_t bytes_per_rank = 0;
  std::vector<std::size_t> shape;
  int reps = 0;
  std::filesystem::path dir;
  int compression_level = 0;
  std::size_t chunk_bytes = 0;
  std::string cache_drop;
  double settle_seconds = 0;
  std::filesystem::path local_dir;  // the multi-level methods' node-local folder; empty: none ran
  int threads = 0;                  // Options::threads of the Lazarus methods (0 = automatic)
  std::size_t staging_bytes = 0;    // Options::staging_bytes of the async method (0 = one checkpoint)
};

// Checkpoint-time ratio Lazarus / fwrite+fsync must stay at or below, per data kind; restore-time
// ratio Lazarus / fread.
double checkpoint_target(const std::string& kind);
inline constexpr double kRestoreTarget = 1.2;
// Multi-level (l1partner, l1xor) against the single global level (lazarus) in the same run: node-local
// checkpoint time / global checkpoint time, and restore after a node loss / restore from the global level.
inline constexpr double kLocalCheckpointTarget = 0.5;
inline constexpr double kNodeLossRestoreTarget = 0.7;
// Asynchronous checkpoints, same run: the time checkpoint() blocks (async) / a plain memcpy of the
// protected bytes; the time until the version is committed (async) / the synchronous checkpoint's
// durable time (lazarus); and, for field2d, the synchronous checkpoint / fwrite+fsync (the pipelined
// compression's target, stricter than checkpoint_target("field2d")).
inline constexpr double kAsyncBlockingTarget = 1.5;
inline constexpr double kAsyncCommittedTarget = 1.2;
inline constexpr double kSyncField2dPipelineTarget = 0.5;

// Call on rank 0 (machine facts are rank 0's).
nlohmann::json make_report(const RunDescription& run, const std::map<std::string, MethodResult>& results);

}  // namespace lazarus::bench
