#pragma once
#include <cstddef>
#include <filesystem>
#include <string>

namespace lazarus {

// How a Session checkpoints. Every field can also be set through the LAZARUS_* variable named beside
// it; Options::from_env() overlays the environment on the defaults. docs/configuration.md lists them.
struct Options {
  std::filesystem::path dir = "./lazarus-ckpt";  // LAZARUS_DIR: checkpoint root (one folder per job)
  std::string job = "default";                    // LAZARUS_JOB: job name, a folder under dir
  int keep = 2;                                   // LAZARUS_KEEP: complete versions retained (>= 1)
  int compression_level = 1;                      // LAZARUS_COMPRESS: zstd level 1..22, 0 = none
  double interval_seconds = 0.0;                  // LAZARUS_INTERVAL: need_checkpoint() period, 0 = never
  std::size_t chunk_bytes = std::size_t{4} << 20;  // LAZARUS_CHUNK_BYTES: HDF5 chunk size target
  bool verbose = false;                           // LAZARUS_VERBOSE: one line per checkpoint/restore

  // Defaults overlaid by the LAZARUS_* environment variables. Throws ConfigError naming the variable
  // and the bad value.
  static Options from_env();

  // Throws ConfigError when a field is out of range.
  void validate() const;
};

}  // namespace lazarus
