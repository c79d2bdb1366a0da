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

// One region to load: where its `bytes` go.
struct RegionLoad {
  std::string name;
  std::byte* destination = nullptr;
  std::size_t bytes = 0;
};

// Where every region's chunks lie in a rank file held in memory, checked, ready for
// RankFileReader::load. Made by RankFileReader::plan_load.
class LoadPlan {
 public:
  // How region `i` (in the order given to plan_load) is stored, as described once by plan_load.
  const StoredRegion& stored(std::size_t i) const { return regions_.at(i).stored; }

 private:
  friend class RankFileReader;
  struct Chunk {
    std::span<const std::byte> frame;  // the stored zstd frame, in the file's memory
    std::size_t first = 0;             // its first element in the destination
    std::size_t keep = 0;              // how many of its elements lie inside the dataset
    std::string where;                 // for messages
  };
  struct Region {
    RegionLoad load;
    StoredRegion stored;
    std::size_t element_bytes = 0;
    std::size_t chunk_elements = 0;
    std::vector<Chunk> chunks;  // empty: read with H5Dread (scalars, uncompressed, other layouts)
  };
  std::vector<Region> regions_;
};

class RankFileReader {
 public:
  // Opens `path` read-only. Throws CorruptCheckpoint when it is not a readable HDF5 file.
  explicit RankFileReader(std::filesystem::path path);
  // Opens the file held in `image` (the bytes of `path`, which only names it in messages); `image`
  // must outlive the reader and is read in place, never copied. Throws CorruptCheckpoint.
  RankFileReader(std::filesystem::path path, std::span<const std::byte> image);
  RankFileHeader header() const;
  // Every name at the file's root (a Lazarus rank file holds one dataset per region there and nothing
  // else), in name order. Throws CorruptCheckpoint.
  std::vector<std::string> names() const;
  // Describes dataset `name`. Throws CorruptCheckpoint when absent or malformed.
  StoredRegion describe(const std::string& name) const;
  // Reads dataset `name` (all of it, `bytes` long) into `destination`. Throws CorruptCheckpoint.
  // Returns the XXH3-64 of the bytes read, taken chunk by chunk while each is still in cache.
  std::uint64_t read(const std::string& name, void* destination, std::size_t bytes) const;

  // For a reader of a file in memory: finds and checks where every chunk of every region in `loads`
  // lies, without touching any destination. Throws CorruptCheckpoint (a region of another size, a
  // chunk index pointing outside the file).
  LoadPlan plan_load(std::vector<RegionLoad> loads) const;
  // Decodes every region of `plan` straight from the file's memory into its destination and returns
  // the XXH3-64 of each, in order, taken piece by piece while in cache. Throws CorruptCheckpoint (a
  // frame that does not decode), having written part of the destinations.
  std::vector<std::uint64_t> load(const LoadPlan& plan) const;

 private:
  std::filesystem::path path_;
  std::span<const std::byte> image_;  // the file's bytes, when opened from memory
  H5File file_;
};

}  // namespace lazarus::backends
