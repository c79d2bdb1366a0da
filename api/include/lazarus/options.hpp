#pragma once
#include <cstddef>
#include <filesystem>
#include <string>

namespace lazarus {

// How a Session checkpoints. Every field can also be set through the LAZARUS_* variable named beside
// it; Options::from_env() overlays the environment on the defaults. docs/configuration.md lists them.
// How node-local checkpoints survive the loss of a node (L2).
enum class Redundancy {
  none,     // node-local copies only: a lost node's data come from the global level
  partner,  // each rank's file is also stored on a rank of another node (2x local space)
  xor_parity,  // XOR parity across groups of `xor_group` nodes (1/(k-1) extra space)
};

// When checkpoint() returns (docs/configuration.md, "Asynchronous checkpoints").
enum class Mode {
  sync,   // once the version is committed
  async,  // once the protected regions are copied; the rest happens in the background
};

struct Options {
  std::filesystem::path dir = "./lazarus-ckpt";  // LAZARUS_DIR: checkpoint root (one folder per job)
  std::string job = "default";                    // LAZARUS_JOB: job name, a folder under dir
  int keep = 2;                                   // LAZARUS_KEEP: complete versions retained (>= 1)
  int compression_level = 1;                      // LAZARUS_COMPRESS: zstd level 1..22, 0 = none
  double interval_seconds = 0.0;                  // LAZARUS_INTERVAL: need_checkpoint() period, 0 = never
  double mtbf_seconds = 0.0;                      // LAZARUS_MTBF: mean time between failures, for the
                                                  // Young/Daly period of need_checkpoint(); 0 = unused
  std::size_t chunk_bytes = std::size_t{4} << 20;  // LAZARUS_CHUNK_BYTES: HDF5 chunk size target
  bool verbose = false;                           // LAZARUS_VERBOSE: one line per checkpoint/restore
  Mode mode = Mode::sync;                         // LAZARUS_MODE: sync | async
  std::size_t staging_bytes = 0;                  // LAZARUS_STAGING_BYTES: async staging budget; 0 = one checkpoint
  int threads = 0;                                // LAZARUS_THREADS: compression threads per rank; 0 = automatic

  // Multi-level checkpoints (docs/configuration.md, "Levels"). With `local_dir` empty, every version
  // goes straight to `dir`, as a single global level.
  std::filesystem::path local_dir;                // LAZARUS_LOCAL_DIR: node-local root (L1), e.g. /dev/shm
  Redundancy redundancy = Redundancy::partner;    // LAZARUS_REDUNDANCY: partner | xor | none (L2)
  int xor_group = 4;                              // LAZARUS_XOR_GROUP: nodes per XOR parity group (>= 2)
  int flush_every = 10;                           // LAZARUS_FLUSH_EVERY: every Nth version also goes to dir (L3)

  // Defaults overlaid by the LAZARUS_* environment variables. Throws ConfigError naming the variable
  // and the bad value.
  static Options from_env();

  // Throws ConfigError when a field is out of range.
  void validate() const;
};

}  // namespace lazarus
