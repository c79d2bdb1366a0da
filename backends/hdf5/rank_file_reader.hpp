#pragma once
// Reading one rank's file of one checkpoint version back (rank_file.hpp writes it).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "backends/hdf5/h5_handle.hpp"
#include "backends/hdf5/rank_file.hpp"
#include "backends/posix/durable_io.hpp"
#include "lazarus/element_type.hpp"

namespace lazarus::backends {

// A region as stored, from the dataset's type, dataspace and attributes.
struct StoredRegion {
  std::string name;
  ElementType type = ElementType::u8;
  std::vector<std::size_t> shape;  // empty: a scalar
  std::size_t bytes = 0;
  std::uint64_t checksum = 0;
};

// One region for RankFileReader::load: where its `bytes` go; `checksum` receives their XXH3-64.
struct RegionLoad {
  std::string name;
  std::byte* destination = nullptr;
  std::size_t bytes = 0;
  std::uint64_t checksum = 0;
};

class RankFileReader {
 public:
  // Opens `path` read-only. Throws CorruptCheckpoint when it is not a readable HDF5 file.
  explicit RankFileReader(std::filesystem::path path);
  // Has the kernel start reading the file from the disk, ahead of load(), so that the caller can
  // prepare its destinations meanwhile.
  void start_reading();
  RankFileHeader header() const;
  // Describes dataset `name`. Throws CorruptCheckpoint when absent or malformed.
  StoredRegion describe(const std::string& name) const;
  // Reads dataset `name` (all of it, `bytes` long) into `destination`. Throws CorruptCheckpoint.
  // Returns the XXH3-64 of the bytes read, taken chunk by chunk while each is still in cache.
  std::uint64_t read(const std::string& name, void* destination, std::size_t bytes) const;
  // Reads every region of `loads` into its destination and sets its `checksum`, in one front-to-back
  // pass over the file that also takes the XXH3-64 of the whole file, which it returns. Every byte
  // comes from the disk once and is decoded while in cache, with the kernel reading ahead meanwhile:
  // much faster than hashing the file and then calling read(). Throws CorruptCheckpoint (a
  // damaged file may also throw before the pass ends: check its whole-file checksum to tell).
  std::uint64_t load(std::span<RegionLoad> loads) const;

 private:
  std::filesystem::path path_;
  FileDescriptor fd_;       // for load()'s own reads
  std::uint64_t size_ = 0;  // of the file when opened
  std::uint64_t read_ahead_until_ = 0;  // how far the kernel was asked to read ahead
  H5File file_;
};

}  // namespace lazarus::backends
