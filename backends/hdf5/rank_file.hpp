#pragma once
// One rank's piece of one checkpoint version: an HDF5 file with a dataset per region. RankFileWriter
// is the only code that writes those files (RankFileReader, rank_file_reader.hpp, reads them);
// docs/file-format.md describes what it produces.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backends/hdf5/h5_handle.hpp"
#include "backends/posix/durable_io.hpp"
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
  bool device = false;         // from CUDA device memory: recorded as the dataset's origin
  // When set, `data` is still arriving (a device capture): ready(n) returns once bytes [0, n) are there.
  std::function<void(std::size_t)> ready;
};

struct StorageSettings {
  int compression_level = 1;  // 0: no filters
  std::size_t chunk_bytes = std::size_t{4} << 20;
  int workers = 0;  // compression threads besides the writing one (ChunkCompressor)
};

// Chunk dimensions for a dataset of `shape` holding elements of `element_bytes`: whole trailing
// dimensions while they fit in `chunk_bytes`, then a slice of the next one. Exposed for tests.
std::vector<hsize_t> chunk_shape_for(const std::vector<std::size_t>& shape, std::size_t element_bytes,
                                     std::size_t chunk_bytes);

struct WrittenFile {
  std::uint64_t bytes = 0;
  std::uint64_t xxh3 = 0;  // of the whole file
};

// Builds the file in memory (HDF5's core driver); HDF5 itself never writes to the disk: a full disk or
// any other write error is reported by our own POSIX code, and leaves no half-closed HDF5 file behind
// in the library (HDF5 1.10 crashes at exit on a file whose close failed).
//
// Compressed datasets do not go through HDF5's filter pipeline: this class shuffles and compresses
// each chunk itself (the same bytes the shuffle + zstd filters store) and hands it over with
// H5Dwrite_chunk. Each chunk is also written to `path` at once, at the offset HDF5 gave it in the
// image, and the kernel is asked to start writing it back, so that the disk works while the next
// chunk compresses. finish() adds the rest of the image (the metadata) and fsyncs.
class RankFileWriter {
 public:
  // Creates (truncates) `path`; `expected_bytes` (the regions' total) sizes the in-memory image.
  // Throws IoError.
  RankFileWriter(std::filesystem::path path, const RankFileHeader& header, StorageSettings settings,
                 std::size_t expected_bytes);
  // Adds one region as a dataset with its attributes, `region.checksum` among them. Throws IoError.
  void write(const RegionPayload& region);
  // The same, but takes the XXH3-64 of the region's bytes itself, chunk by chunk while each is in
  // cache for compression (one pass over the data fewer), stores it and returns it;
  // `region.checksum` is ignored. Throws IoError.
  std::uint64_t write_and_hash(const RegionPayload& region);
  // Completes `path` and fsyncs it. Throws IoError.
  WrittenFile finish();

 private:
  struct Extent {
    std::uint64_t offset = 0;
    std::uint64_t bytes = 0;
  };
  std::uint64_t write_region(const RegionPayload& region, bool hash);
  // Writes the region's chunks; returns the XXH3-64 of its bytes when `hash`, else 0.
  std::uint64_t write_chunks(hid_t dataset, const RegionPayload& region, const std::vector<hsize_t>& chunk,
                             bool hash, const std::string& where);
  void write_extent(const std::byte* data, Extent extent);

  std::filesystem::path path_;
  StorageSettings settings_;
  H5File file_;
  FileDescriptor out_;               // `path`, filled chunk by chunk, then with the metadata
  std::vector<Extent> streamed_;     // parts of the image already written to `path`
  std::uint64_t not_kicked_ = 0;     // bytes written since writeback was last started
};

}  // namespace lazarus::backends
