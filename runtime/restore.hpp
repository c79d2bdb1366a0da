#pragma once
// Reading one rank's piece of a version back: first into staging buffers, checked against the
// protected regions and verified byte for byte; only then (apply) copied into protected memory.
#include <cstddef>
#include <filesystem>
#include <memory>
#include <vector>

#include "backends/posix/staging_buffer.hpp"
#include "runtime/manifest.hpp"
#include "runtime/region_registry.hpp"

namespace lazarus::detail {

class StagedPiece {
 public:
  // Copies every staged region into its protected memory. Never fails.
  void apply() const noexcept;
  std::size_t bytes() const noexcept;

 private:
  friend StagedPiece stage_rank_piece(const std::filesystem::path&, const Manifest&, int, int,
                                      const RegionRegistry&);
  struct Staged {
    const Region* target;
    backends::StagingBuffer data;
  };
  std::vector<Staged> regions_;
};

// Local. Throws MismatchError when the protected regions (or the rank count `nranks`) do not match
// what `manifest` stores; CorruptCheckpoint when this rank's file is missing, truncated, unreadable
// or any region's bytes do not match their checksum (the file is named). Protected memory is not
// touched.
StagedPiece stage_rank_piece(const std::filesystem::path& version_dir, const Manifest& manifest, int rank,
                             int nranks, const RegionRegistry& regions);

}  // namespace lazarus::detail
