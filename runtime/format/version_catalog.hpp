#pragma once
// Where versions live and which exist: `<dir>/<job>/v<10 digits>/`, one `rank-<5 digits>.h5` per
// rank and, once complete, `manifest.json`. Also the retention policy that deletes old versions.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lazarus::detail {

std::filesystem::path version_directory(const std::filesystem::path& job_dir, std::uint64_t version);
std::string rank_file_name(int rank);
// The highest version number (10^18 - 1, 18 digits). Above it a name is not a version, and a job
// that holds it cannot checkpoint any more: numbering never wraps past 2^64 to 0.
inline constexpr std::uint64_t kLastVersion = 999'999'999'999'999'999ULL;
// The version a folder name stands for ("v0000000012" -> 12), or nullopt for other names and for
// numbers outside 1 to kLastVersion.
std::optional<std::uint64_t> parse_version_directory_name(std::string_view name);

struct VersionScan {
  std::vector<std::uint64_t> complete;    // a manifest is in place (not yet verified), ascending
  std::vector<std::uint64_t> incomplete;  // a folder without a manifest, ascending
  std::uint64_t other = 0;                // the highest version name held by something not a folder
  // The highest version number taken, by a version of either kind or by anything else of that name
  // (a file named v0000000001 would make that version impossible to create); 0 when none.
  std::uint64_t highest() const;
};

// Lists the versions under `job_dir` (empty when it does not exist). Throws IoError when it cannot be read.
VersionScan scan_versions(const std::filesystem::path& job_dir);

inline constexpr const char* kSetAsideManifestFileName = "manifest.corrupt";

// Takes a complete version that failed verification out of the catalogue without deleting anything:
// its manifest is renamed manifest.corrupt, so that it no longer counts as complete (nor towards
// `keep`) and retention leaves its folder alone for a person to inspect. Renaming the file back
// re-admits it. Returns what went wrong, if anything; never throws.
std::optional<std::string> set_aside_version(const std::filesystem::path& job_dir, std::uint64_t version) noexcept;

struct RetentionReport {
  std::vector<std::uint64_t> removed_complete;
  std::vector<std::uint64_t> removed_incomplete;
  std::vector<std::string> problems;  // what could not be removed, and why
};

// Called once `newest` is complete: removes the oldest complete versions beyond `keep` and every
// incomplete version older than `newest` (abandoned by a crash or a failed checkpoint), except the
// versions set aside as corrupt. A complete
// version is first made incomplete (its manifest removed, the folder fsync'd), so that a crash while
// deleting never leaves a complete-looking version with missing files. Never throws.
RetentionReport apply_retention(const std::filesystem::path& job_dir, int keep, std::uint64_t newest) noexcept;

}  // namespace lazarus::detail
