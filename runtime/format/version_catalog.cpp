#include "runtime/format/version_catalog.hpp"

#include <algorithm>
#include <charconv>
#include <system_error>

#include <fmt/format.h>

#include "backends/posix/durable_io.hpp"
#include "lazarus/errors.hpp"
#include "runtime/format/manifest.hpp"

namespace lazarus::detail {

std::filesystem::path version_directory(const std::filesystem::path& job_dir, std::uint64_t version) {
  return job_dir / fmt::format("v{:010}", version);
}

std::string rank_file_name(int rank) { return fmt::format("rank-{:05}.h5", rank); }

std::optional<std::uint64_t> parse_version_directory_name(std::string_view name) {
  if (name.size() < 2 || name.front() != 'v') return std::nullopt;
  std::uint64_t version = 0;
  const char* begin = name.data() + 1;
  const char* end = name.data() + name.size();
  auto [stop, error] = std::from_chars(begin, end, version);
  if (error != std::errc{} || stop != end || version == 0 || version > kLastVersion) return std::nullopt;
  // Only the names Lazarus writes itself: "v5" or "v00000000005" are somebody else's folders.
  if (version_directory("", version).string() != name) return std::nullopt;
  return version;
}

std::uint64_t VersionScan::highest() const {
  std::uint64_t top = other;
  if (!complete.empty()) top = std::max(top, complete.back());
  if (!incomplete.empty()) top = std::max(top, incomplete.back());
  return top;
}

VersionScan scan_versions(const std::filesystem::path& job_dir) {
  VersionScan scan;
  std::error_code error;
  std::filesystem::directory_iterator entries(job_dir, error);
  if (error == std::errc::no_such_file_or_directory) return scan;
  if (error) throw IoError(fmt::format("cannot list {}: {}", job_dir.string(), error.message()));
  for (const auto& entry : entries) {
    auto version = parse_version_directory_name(entry.path().filename().string());
    if (!version) continue;
    if (!entry.is_directory(error) || entry.is_symlink(error)) {  // not a version, but its number is taken
      scan.other = std::max(scan.other, *version);
      continue;
    }
    const bool has_manifest = std::filesystem::exists(entry.path() / kManifestFileName, error);
    (has_manifest ? scan.complete : scan.incomplete).push_back(*version);
  }
  std::sort(scan.complete.begin(), scan.complete.end());
  std::sort(scan.incomplete.begin(), scan.incomplete.end());
  return scan;
}

std::optional<std::string> set_aside_version(const std::filesystem::path& job_dir, std::uint64_t version) noexcept {
  try {
    const auto folder = version_directory(job_dir, version);
    std::error_code error;
    std::filesystem::rename(folder / kManifestFileName, folder / kSetAsideManifestFileName, error);
    if (error) return fmt::format("cannot set version {} aside: {}", version, error.message());
    backends::fsync_directory(folder);
    return std::nullopt;
  } catch (const std::exception& error) {
    return std::string(error.what());
  }
}

RetentionReport apply_retention(const std::filesystem::path& job_dir, int keep, std::uint64_t newest) noexcept {
  RetentionReport report;
  try {
    const VersionScan scan = scan_versions(job_dir);
    auto remove_folder = [&](std::uint64_t version) {
      std::error_code error;
      std::filesystem::remove_all(version_directory(job_dir, version), error);
      if (error) report.problems.push_back(fmt::format("cannot remove version {}: {}", version, error.message()));
      return !error;
    };
    // Versions newer than `newest` may be written right now by nobody else in this job; leave them.
    std::vector<std::uint64_t> complete;
    std::copy_if(scan.complete.begin(), scan.complete.end(), std::back_inserter(complete),
                 [&](std::uint64_t v) { return v <= newest; });
    const std::size_t excess =
        complete.size() > static_cast<std::size_t>(keep) ? complete.size() - static_cast<std::size_t>(keep) : 0;
    for (std::size_t i = 0; i < excess; ++i) {
      const auto folder = version_directory(job_dir, complete[i]);
      std::error_code error;
      std::filesystem::remove(folder / kManifestFileName, error);
      if (error) {
        report.problems.push_back(fmt::format("cannot retire version {}: {}", complete[i], error.message()));
        continue;
      }
      backends::fsync_directory(folder);
      if (remove_folder(complete[i])) report.removed_complete.push_back(complete[i]);
    }
    for (std::uint64_t version : scan.incomplete) {
      std::error_code error;
      const bool set_aside =
          std::filesystem::exists(version_directory(job_dir, version) / kSetAsideManifestFileName, error);
      if (version < newest && !set_aside && remove_folder(version)) report.removed_incomplete.push_back(version);
    }
    backends::fsync_directory(job_dir);
  } catch (const std::exception& error) {
    report.problems.emplace_back(error.what());
  }
  return report;
}

}  // namespace lazarus::detail
