#pragma once
// XXH3-64 of a whole file. The manifest records one per rank file, so that any flipped, missing or
// extra byte of a checkpoint file is detected before HDF5 parses it.
#include <cstdint>
#include <filesystem>

#include "backends/posix/staging_buffer.hpp"

namespace lazarus::backends {

// Throws IoError when the file cannot be read.
std::uint64_t xxh3_of_file(const std::filesystem::path& path);

// A whole file in memory with the XXH3-64 of its bytes.
struct HashedFile {
  StagingBuffer bytes;
  std::uint64_t xxh3 = 0;
};

// Reads all of `path`, which must be `expected_bytes` long, into memory, hashing it on the way: one
// front-to-back pass, with the kernel asked to read well ahead so that the disk keeps working while
// the memory is faulted in and each piece is hashed. Throws IoError when the file cannot be read or
// its size is not `expected_bytes`.
HashedFile read_and_hash_file(const std::filesystem::path& path, std::uint64_t expected_bytes);
// The same for a file already open as `fd` (`path` names it in messages).
HashedFile read_and_hash_file(int fd, const std::filesystem::path& path, std::uint64_t expected_bytes);

}  // namespace lazarus::backends
