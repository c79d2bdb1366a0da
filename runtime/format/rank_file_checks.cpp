#include "runtime/format/rank_file_checks.hpp"

#include <algorithm>
#include <functional>
#include <system_error>

#include <fmt/format.h>

#include "backends/hdf5/rank_file_reader.hpp"
#include "backends/posix/file_checksum.hpp"
#include "lazarus/errors.hpp"

namespace lazarus::detail {

void check_file_size(const std::filesystem::path& file, std::uint64_t expected_bytes) {
  std::error_code error;
  const auto size = std::filesystem::file_size(file, error);
  if (error == std::errc::no_such_file_or_directory) throw CorruptCheckpoint(fmt::format("{} is missing", file.string()));
  if (error) throw CorruptCheckpoint(fmt::format("cannot stat {}: {}", file.string(), error.message()));
  if (size != expected_bytes) {
    throw CorruptCheckpoint(fmt::format("{} is {} bytes but the manifest records {} (truncated or overwritten)",
                                        file.string(), size, expected_bytes));
  }
}

void check_file_checksum(const std::filesystem::path& file, std::uint64_t expected_xxh3, std::uint64_t actual_xxh3) {
  if (actual_xxh3 != expected_xxh3) {
    throw CorruptCheckpoint(fmt::format("{}: file checksum mismatch (manifest {:016x}, file {:016x})", file.string(),
                                        expected_xxh3, actual_xxh3));
  }
}

void check_file_intact(const std::filesystem::path& file, std::uint64_t expected_bytes, std::uint64_t expected_xxh3) {
  check_file_size(file, expected_bytes);
  std::uint64_t checksum = 0;
  try {
    checksum = backends::xxh3_of_file(file);
  } catch (const IoError& io) {
    throw CorruptCheckpoint(io.what());
  }
  check_file_checksum(file, expected_xxh3, checksum);
}

void check_file_header(const backends::RankFileHeader& header, const std::filesystem::path& file,
                       const Manifest& manifest, int rank) {
  if (header.rank != rank || header.version != manifest.version || header.nranks != manifest.nranks ||
      header.job != manifest.job) {
    throw CorruptCheckpoint(fmt::format("{} belongs to job '{}' version {} rank {} of {}, not to this version",
                                        file.string(), header.job, header.version, header.rank, header.nranks));
  }
}

void check_file_names(const std::vector<std::string>& names, const std::filesystem::path& file,
                      const RankRecord& record) {
  for (const std::string& name : names) {
    const bool listed = std::any_of(record.regions.begin(), record.regions.end(),
                                    [&](const RegionRecord& region) { return region.name == name; });
    if (!listed) {
      throw CorruptCheckpoint(fmt::format("{} holds '{}', which the manifest does not list for rank {} (a region left "
                                          "out of the manifest?)",
                                          file.string(), name, record.rank));
    }
  }
  // A listed region without its dataset is reported by its description.
}

std::vector<const RegionRecord*> check_rank_file_contents(const backends::RankFileReader& reader,
                                                          const std::filesystem::path& file, const Manifest& manifest,
                                                          const RankRecord& record, std::vector<std::string>* problems) {
  std::vector<const RegionRecord*> described;
  auto check = [&](const std::function<void()>& step) {
    if (!problems) {
      step();
      return true;
    }
    try {
      step();
      return true;
    } catch (const Error& problem) {
      problems->emplace_back(problem.what());
      return false;
    }
  };
  check([&] { check_file_header(reader.header(), file, manifest, record.rank); });
  check([&] { check_file_names(reader.names(), file, record); });
  for (const RegionRecord& region : record.regions) {
    if (check([&] { check_region_description(reader, file, region); })) described.push_back(&region);
  }
  return described;
}

void check_region_description(const backends::RankFileReader& reader, const std::filesystem::path& file,
                              const RegionRecord& expected) {
  check_region_description(reader.describe(expected.name), file, expected);
}

void check_region_description(const backends::StoredRegion& in_file, const std::filesystem::path& file,
                              const RegionRecord& expected) {
  if (in_file.type != expected.type || in_file.shape != expected.shape || in_file.checksum != expected.xxh3) {
    throw CorruptCheckpoint(fmt::format("region '{}' in {} disagrees with the manifest", expected.name, file.string()));
  }
}

void check_region_checksum(const std::filesystem::path& file, const RegionRecord& expected, std::uint64_t actual_xxh3) {
  if (actual_xxh3 != expected.xxh3) {
    throw CorruptCheckpoint(fmt::format("region '{}' in {}: checksum mismatch (stored {:016x}, read {:016x})",
                                        expected.name, file.string(), expected.xxh3, actual_xxh3));
  }
}

void check_region(const backends::RankFileReader& reader, const std::filesystem::path& file,
                  const RegionRecord& expected, std::byte* destination, std::size_t bytes) {
  check_region_description(reader, file, expected);
  check_region_checksum(file, expected, reader.read(expected.name, destination, bytes));
}

}  // namespace lazarus::detail
