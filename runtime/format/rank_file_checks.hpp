#pragma once
// The checks a restore makes on one rank file, shared by the restore (rank_piece.cpp) and
// `lazarus verify` (verification.cpp). Each throws CorruptCheckpoint naming the file (and the region).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "runtime/format/manifest.hpp"

namespace lazarus::backends {
class RankFileReader;
struct RankFileHeader;
struct StoredRegion;
}  // namespace lazarus::backends

namespace lazarus::detail {

// `file` exists and is exactly `expected_bytes` long.
void check_file_size(const std::filesystem::path& file, std::uint64_t expected_bytes);
// A whole-file XXH3-64 taken by the caller matches the manifest's.
void check_file_checksum(const std::filesystem::path& file, std::uint64_t expected_xxh3, std::uint64_t actual_xxh3);
// `file` exists, is exactly `expected_bytes` long and its whole-file XXH3-64 is `expected_xxh3`.
void check_file_intact(const std::filesystem::path& file, std::uint64_t expected_bytes, std::uint64_t expected_xxh3);
// The file's root attributes name the manifest's job and version, `rank` and the manifest's rank count.
void check_file_header(const backends::RankFileHeader& header, const std::filesystem::path& file,
                       const Manifest& manifest, int rank);
// The names at the file's root are exactly the regions `record` lists: a dataset the record does not
// list means the manifest left a region out.
void check_file_names(const std::vector<std::string>& names, const std::filesystem::path& file,
                      const RankRecord& record);
// A rank file's part of the one validation of a version, once its size and checksum matched: its
// header (check_file_header), its names (check_file_names) and the description of every region
// `record` lists (check_region_description), whether protected or not. Restore and `lazarus verify`
// both run it. Without `problems`: throws CorruptCheckpoint at the first problem. With it: adds every
// problem there instead, and returns the regions described as recorded (whose data may be read).
std::vector<const RegionRecord*> check_rank_file_contents(const backends::RankFileReader& reader,
                                                          const std::filesystem::path& file, const Manifest& manifest,
                                                          const RankRecord& record,
                                                          std::vector<std::string>* problems = nullptr);
// Dataset `expected.name`, stored as `in_file` says, has the manifest's element type, shape and
// checksum attribute.
void check_region_description(const backends::StoredRegion& in_file, const std::filesystem::path& file,
                              const RegionRecord& expected);
// The same, described by `reader`.
void check_region_description(const backends::RankFileReader& reader, const std::filesystem::path& file,
                              const RegionRecord& expected);
// The XXH3-64 of a region's data as read matches the manifest's.
void check_region_checksum(const std::filesystem::path& file, const RegionRecord& expected, std::uint64_t actual_xxh3);
// check_region_description, then the data, read into `destination` (`bytes` long), hash to the
// manifest's XXH3-64.
void check_region(const backends::RankFileReader& reader, const std::filesystem::path& file,
                  const RegionRecord& expected, std::byte* destination, std::size_t bytes);

}  // namespace lazarus::detail
