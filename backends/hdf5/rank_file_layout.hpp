#pragma once
// What the writer and the reader of rank files (rank_file.cpp, rank_file_reader.cpp) must agree on
// besides HDF5 itself: attribute names, the chunk layout that lets chunks be compressed from and
// decompressed into the caller's memory directly, and the hash state both take chunk by chunk.
// Internal to backends/hdf5.
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <hdf5.h>

namespace lazarus::backends::rank_file_layout {

// Attribute names; docs/file-format.md lists them.
inline constexpr const char* kFormatAttribute = "lazarus_format_version";
inline constexpr const char* kJobAttribute = "lazarus_job";
inline constexpr const char* kVersionAttribute = "lazarus_version";
inline constexpr const char* kRankAttribute = "lazarus_rank";
inline constexpr const char* kNranksAttribute = "lazarus_nranks";
inline constexpr const char* kChecksumAttribute = "lazarus_xxh3_64";
inline constexpr const char* kElementTypeAttribute = "lazarus_element_type";
inline constexpr const char* kOriginAttribute = "lazarus_origin";  // "device": from CUDA device memory

// Chunks that are each one contiguous run of the row-major data: dimensions before `split` are
// chunked by 1, those after it whole. chunk_shape_for always produces such chunks, which lets a chunk
// be compressed straight from (and decompressed straight into) the caller's memory.
struct SlabChunks {
  std::vector<hsize_t> dims;
  std::vector<hsize_t> chunk;
  std::size_t split = 0;           // the dimension cut into pieces of chunk[split]
  std::size_t inner = 1;           // elements per index step of `split`
  std::size_t steps = 0;           // chunks along `split`
  std::size_t count = 0;           // chunks in all
  std::size_t chunk_elements = 0;  // elements in one (whole) chunk

  // Chunk `index` (row-major over chunk positions): its offset in the dataset, where its data begin
  // in the row-major buffer and how many of its elements lie inside the dataset.
  std::size_t locate(std::size_t index, std::vector<hsize_t>& offset, std::size_t& keep) const {
    std::size_t outer = index / steps;
    const std::size_t step = index % steps;
    offset.assign(dims.size(), 0);
    for (std::size_t d = split; d-- > 0;) {
      offset[d] = outer % dims[d];
      outer /= dims[d];
    }
    offset[split] = step * chunk[split];
    std::size_t first_row = 0;  // row-major index of the chunk's first element, in units of `inner`
    for (std::size_t d = 0; d <= split; ++d) first_row = first_row * dims[d] + offset[d];
    keep = std::min<std::size_t>(chunk[split], dims[split] - offset[split]) * inner;
    return first_row * inner;
  }
};

// The slab layout of a dataset of `dims` cut into `chunk`, or nullopt when the chunks are not slabs.
std::optional<SlabChunks> slab_chunks(std::vector<hsize_t> dims, std::vector<hsize_t> chunk);

// "[0, 512]": a chunk's offset, for messages.
std::string describe_offset(const std::vector<hsize_t>& offset);

}  // namespace lazarus::backends::rank_file_layout
