#pragma once
// Reading one rank's piece of a version back, in two steps so that protected memory changes only
// once every rank's file is known to be intact:
//   verify_rank_piece: read the whole rank file into memory, check its size and whole-file checksum,
//     and only then let HDF5 parse it (from that memory) and check it against the manifest and the
//     protected regions; nothing is decoded yet;
//   apply (after every rank verified): decode each region straight into its protected memory and
//     check its checksum.
#include <cstddef>
#include <filesystem>
#include <memory>
#include <vector>

#include "backends/cuda/device_memory.hpp"
#include "backends/hdf5/rank_file_reader.hpp"
#include "backends/posix/file_checksum.hpp"
#include "runtime/format/manifest.hpp"
#include "runtime/region_registry.hpp"

namespace lazarus::detail {

class VerifiedPiece {
 public:
  // Decodes every region into its protected memory and checks each against the manifest's checksum.
  // Throws CorruptCheckpoint only when a file whose checksum matched does not decode to the data that
  // were checkpointed (the data were damaged in memory while the checkpoint was written, or a bug);
  // protected memory is then partly overwritten.
  void apply() const;
  std::size_t bytes() const noexcept;

 private:
  friend VerifiedPiece verify_rank_piece(const std::filesystem::path&, const Manifest&, int, int,
                                         const RegionRegistry&);
  std::filesystem::path file_;
  backends::HashedFile contents_;                   // the rank file, checksum verified
  std::unique_ptr<backends::RankFileReader> reader_;  // HDF5's view of `contents_`
  backends::LoadPlan plan_;
  std::vector<RegionRecord> expected_;  // the manifest's record of each region, in plan order
  // Device regions decode into pinned host memory first, then go to the device.
  struct DeviceTarget {
    const Region* region;
    backends::PinnedBuffer host;
  };
  std::vector<DeviceTarget> device_targets_;
};

// Local. `manifest` passed parse_version_manifest. Throws MismatchError when the protected regions (or
// the rank count `nranks`) do not match what `manifest` stores (checked first, before any file is
// read); CorruptCheckpoint when this rank's file is missing, truncated, unreadable, fails its checksum
// or disagrees with the manifest (check_rank_file_contents; the file is named). Protected memory is
// not touched.
VerifiedPiece verify_rank_piece(const std::filesystem::path& version_dir, const Manifest& manifest, int rank,
                                int nranks, const RegionRegistry& regions);

}  // namespace lazarus::detail
