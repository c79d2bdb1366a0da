#pragma once
// One rank's piece of one checkpoint version: an HDF5 file with a dataset per region. This is the
// only code that writes or reads those files; docs/file-format.md describes what it produces.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "backends/hdf5/h5_handle.hpp"
#include "lazarus/element_type.hpp"

namespace lazarus::backends {

// File-level attributes (on the root group).
struct RankFileHeader {
  int format_version = 0;
  std::string job;
  std::uint64_t version = 0;
  int rank = 0;
  int nranks = 0;
};

// A region as written: its bytes and its description.
struct RegionPayload {
  std::string name;
  ElementType type = ElementType::u8;
  std::vector<std::size_t> shape;  // empty: a scalar
  const void* data = nullptr;
  std::size_t bytes = 0;
  std::uint64_t checksum = 0;  // XXH3-64 of the uncompressed bytes
};

struct StorageSettings {
  int compression_level = 1;  // 0: no filters
  std::size_t chunk_bytes = std::size_t{4} << 20;
};

// Chunk dimensions for a dataset of `shape` holding elements of `element_bytes`: whole trailing
// dimensions while they fit in `chunk_bytes`, then a slice of the next one. Exposed for tests.
std::vector<hsize_t> chunk_shape_for(const std::vector<std::size_t>& shape, std::size_t element_bytes,
                                     std::size_t chunk_bytes);

class RankFileWriter {
 public:
  // Creates (truncates) `path`. Throws IoError.
  RankFileWriter(std::filesystem::path path, const RankFileHeader& header, StorageSettings settings);
  // Writes one region as a dataset with its attributes. Throws IoError.
  void write(const RegionPayload& region);
  // Closes the file and fsyncs it; returns its size in bytes. Throws IoError.
  std::uint64_t finish();

 private:
  std::filesystem::path path_;
  StorageSettings settings_;
  H5File file_;
};

// A region as stored, from the dataset's type, dataspace and attributes.
struct StoredRegion {
  std::string name;
  ElementType type = ElementType::u8;
  std::vector<std::size_t> shape;  // empty: a scalar
  std::size_t bytes = 0;
  std::uint64_t checksum = 0;
};

class RankFileReader {
 public:
  // Opens `path` read-only. Throws CorruptCheckpoint when it is not a readable HDF5 file.
  explicit RankFileReader(std::filesystem::path path);
  RankFileHeader header() const;
  // Describes dataset `name`. Throws CorruptCheckpoint when absent or malformed.
  StoredRegion describe(const std::string& name) const;
  // Reads dataset `name` (all of it, `bytes` long) into `destination`. Throws CorruptCheckpoint.
  void read(const std::string& name, void* destination, std::size_t bytes) const;
  // Names of all datasets at the root.
  std::vector<std::string> dataset_names() const;

 private:
  std::filesystem::path path_;
  H5File file_;
};

}  // namespace lazarus::backends
