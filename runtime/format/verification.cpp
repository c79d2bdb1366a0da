#include "runtime/format/verification.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <system_error>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backends/hdf5/rank_file_reader.hpp"
#include "backends/posix/file_checksum.hpp"
#include "backends/posix/isolated_call.hpp"
#include "lazarus/errors.hpp"
#include "runtime/format/rank_file_checks.hpp"
#include "runtime/format/version_catalog.hpp"

namespace lazarus::detail {
namespace {

bool path_exists(const std::filesystem::path& path) {
  std::error_code error;
  return std::filesystem::exists(path, error);
}

// The manifest a version is checked against: manifest.json, or manifest.corrupt for a version set
// aside. Throws NoCheckpoint when there is neither, CorruptCheckpoint when it does not verify.
Manifest manifest_of(const std::filesystem::path& folder, bool& set_aside) {
  set_aside = false;
  if (path_exists(folder / kManifestFileName)) return read_manifest(folder);
  const auto corrupt = folder / kSetAsideManifestFileName;
  if (!path_exists(corrupt)) {
    throw NoCheckpoint(fmt::format("{} has no manifest: the version is incomplete (never committed)", folder.string()));
  }
  set_aside = true;
  return read_manifest_file(corrupt);
}

// The checks inside one rank file: its header, then every region's description and data.
void look_inside(const std::filesystem::path& file, const Manifest& manifest, const RankRecord& record,
                 VersionReport& report) {
  std::unique_ptr<backends::RankFileReader> reader;
  try {
    reader = std::make_unique<backends::RankFileReader>(file);
    check_file_header(reader->header(), file, manifest, record.rank);
  } catch (const Error& problem) {
    report.problems.emplace_back(problem.what());
    if (!reader) return;
  }
  for (const RegionRecord& expected : record.regions) {
    try {
      auto buffer = std::make_unique_for_overwrite<std::byte[]>(expected.bytes);
      check_region(*reader, file, expected, buffer.get(), expected.bytes);
      report.data_bytes += expected.bytes;
    } catch (const Error& problem) {
      report.problems.emplace_back(problem.what());
    }
  }
}

// look_inside for a file that failed its checksum: its HDF5 metadata may be damaged, and HDF5 can
// crash or hang on that, so the checks run in a child process whose fate is reported instead.
void look_inside_damaged(const std::filesystem::path& file, const Manifest& manifest, const RankRecord& record,
                         VersionReport& report) {
  const auto result = backends::run_isolated(
      [&] {
        VersionReport inside;
        look_inside(file, manifest, record, inside);
        return nlohmann::json{{"problems", inside.problems}, {"data_bytes", inside.data_bytes}}.dump();
      },
      std::chrono::seconds(30));
  if (!result.output) {
    report.problems.push_back(fmt::format("{}: HDF5 could not read the damaged file: {}", file.string(), result.failure));
    return;
  }
  const auto inside = nlohmann::json::parse(*result.output);
  for (const auto& problem : inside.at("problems")) report.problems.push_back(problem.get<std::string>());
  report.data_bytes += inside.at("data_bytes").get<std::uint64_t>();
}

void verify_rank_file(const std::filesystem::path& folder, const Manifest& manifest, const RankRecord& record,
                      VersionReport& report) {
  const auto file = folder / record.file;
  bool intact = true;
  try {
    check_file_intact(file, record.file_bytes, record.file_xxh3);
  } catch (const CorruptCheckpoint& problem) {
    report.problems.emplace_back(problem.what());
    if (!path_exists(file)) return;
    intact = false;
  }
  std::error_code error;
  report.file_bytes += std::filesystem::file_size(file, error);
  // Even when the file's own checksum failed, look inside: the region checks tell which data are hit.
  if (intact) {
    look_inside(file, manifest, record, report);
  } else {
    look_inside_damaged(file, manifest, record, report);
  }
}

void summarize_manifest(Manifest manifest, VersionSummary& summary) {
  summary.nranks = manifest.nranks;
  for (const RankRecord& record : manifest.ranks) {
    summary.file_bytes += record.file_bytes;
    for (const RegionRecord& region : record.regions) {
      summary.data_bytes += region.bytes;
      if (std::find(summary.regions.begin(), summary.regions.end(), region.name) == summary.regions.end()) {
        summary.regions.push_back(region.name);
      }
    }
  }
  if (summary.version == 0) summary.version = manifest.version;
  summary.manifest = std::move(manifest);
}

// A version without a (readable) manifest: what rank files there are, and their size on disk.
void summarize_files(const std::filesystem::path& folder, VersionSummary& summary) {
  std::error_code error;
  std::filesystem::directory_iterator entries(folder, error);
  if (error) throw IoError(fmt::format("cannot list {}: {}", folder.string(), error.message()));
  for (const auto& entry : entries) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with("rank-") || !name.ends_with(".h5") || !entry.is_regular_file(error)) continue;
    ++summary.nranks;
    summary.file_bytes += entry.file_size(error);
  }
}

}  // namespace

VersionReport verify_version(const std::filesystem::path& job_dir, std::uint64_t version) {
  VersionReport report;
  report.version = version;
  const auto folder = version_directory(job_dir, version);
  std::error_code error;
  if (!std::filesystem::is_directory(folder, error)) {
    throw NoCheckpoint(fmt::format("version {} does not exist ({} is not a folder)", version, folder.string()));
  }
  Manifest manifest;
  try {
    manifest = manifest_of(folder, report.set_aside);
  } catch (const CorruptCheckpoint& problem) {
    report.problems.emplace_back(problem.what());
    return report;
  }
  report.nranks = manifest.nranks;
  if (manifest.version != version) {
    report.problems.push_back(fmt::format("{}: the manifest records version {}, not {}", folder.string(),
                                          manifest.version, version));
  }
  for (const RankRecord& record : manifest.ranks) verify_rank_file(folder, manifest, record, report);
  return report;
}

VersionSummary summarize_version(const std::filesystem::path& version_dir) {
  VersionSummary summary;
  summary.version = parse_version_directory_name(version_dir.filename().string()).value_or(0);
  bool set_aside = false;
  try {
    summarize_manifest(manifest_of(version_dir, set_aside), summary);
    summary.state = set_aside ? "set-aside" : "complete";
    return summary;
  } catch (const NoCheckpoint&) {
    summary.state = "incomplete";
  } catch (const Error& problem) {  // CorruptCheckpoint, or an element type this build does not know
    summary.problem = problem.what();
    summary.state = path_exists(version_dir / kManifestFileName) ? "invalid-manifest" : "set-aside";
  }
  summarize_files(version_dir, summary);
  return summary;
}

std::vector<VersionSummary> list_versions(const std::filesystem::path& job_dir) {
  const VersionScan scan = scan_versions(job_dir);
  std::vector<std::uint64_t> versions = scan.complete;
  versions.insert(versions.end(), scan.incomplete.begin(), scan.incomplete.end());
  std::sort(versions.begin(), versions.end());
  std::vector<VersionSummary> summaries;
  for (const std::uint64_t version : versions) summaries.push_back(summarize_version(version_directory(job_dir, version)));
  return summaries;
}

}  // namespace lazarus::detail
