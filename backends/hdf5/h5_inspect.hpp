#pragma once
// How an HDF5 file stores its datasets: layout, chunk shape, filter pipeline and bytes on disk. Used
// by `lazarus inspect`; reading the data themselves is RankFileReader's job (rank_file_reader.hpp).
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace lazarus::backends {

// One stage of a dataset's filter pipeline, in the order HDF5 applies it when writing.
struct FilterStage {
  int id = 0;                    // H5Z_filter_t: 2 shuffle, 32015 zstd, ...
  std::string name;              // as stored in the file ("Zstandard (Lazarus)"), may be empty
  std::vector<unsigned> values;  // client data (cd_values): the zstd level, the deflate level, ...
};

struct DatasetStorage {
  std::string name;
  std::string layout;               // "contiguous", "chunked", "compact" or "virtual"
  std::vector<std::uint64_t> chunk; // chunk dimensions; empty unless chunked
  std::uint64_t stored_bytes = 0;   // H5Dget_storage_size: the bytes the data take in the file
  std::vector<FilterStage> filters;
};

// True when `path` is an HDF5 file (H5Fis_hdf5). Never throws.
bool is_hdf5_file(const std::filesystem::path& path) noexcept;

// Storage of every dataset at the root of `path`, by name. Read-only. Throws CorruptCheckpoint
// naming the file, the dataset and HDF5's error text when the file or a dataset cannot be read.
std::vector<DatasetStorage> inspect_dataset_storage(const std::filesystem::path& path);

// "shuffle+zstd(3)", "deflate(6)", "none": a filter pipeline in a few characters.
std::string describe_filters(const std::vector<FilterStage>& filters);

}  // namespace lazarus::backends
