#pragma once
// The baselines Lazarus is measured against: the same bytes, one file per rank, made durable with
// fsync before the write counts as done.
#include <cstddef>
#include <filesystem>
#include <vector>

namespace lazarus::bench {

// fwrite of the whole buffer, fflush, fsync. Throws lazarus::IoError.
void fwrite_fsync(const std::filesystem::path& file, const void* data, std::size_t bytes);
// fread of the whole file into `destination` (exactly `bytes`). Throws lazarus::IoError.
void fread_all(const std::filesystem::path& file, void* destination, std::size_t bytes);

enum class H5Layout {
  contiguous,      // no filters
  chunked_deflate  // chunks of `chunk_bytes` (Lazarus's chunk shape), shuffle + deflate level 1
};

// One HDF5 file holding one float64 dataset "data" of `shape`, closed then fsync'd. Throws lazarus::IoError.
void h5_write_fsync(const std::filesystem::path& file, const double* data, const std::vector<std::size_t>& shape,
                    H5Layout layout, std::size_t chunk_bytes);
// H5Dread of all of "data" into `destination`. Throws lazarus::IoError.
void h5_read_all(const std::filesystem::path& file, double* destination, std::size_t elements);

}  // namespace lazarus::bench
