#pragma once
// XXH3-64 of a whole file. The manifest records one per rank file, so that any flipped, missing or
// extra byte of a checkpoint file is detected before HDF5 parses it.
#include <cstdint>
#include <filesystem>

namespace lazarus::backends {

// Throws IoError when the file cannot be read.
std::uint64_t xxh3_of_file(const std::filesystem::path& path);

}  // namespace lazarus::backends
