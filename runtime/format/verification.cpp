#include "runtime/format/verification.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <system_error>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backends/hdf5/rank_file_reader.hpp"
#include "backends/posix/durable_io.hpp"
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
// aside, checked as every reader checks it (parse_version_manifest) when the folder's name gives the
// version. Throws NoCheckpoint when there is neither, CorruptCheckpoint when it does not verify.
Manifest manifest_of(const std::filesystem::path& folder, std::optional<std::uint64_t> version, bool& set_aside) {
  set_aside = false;
  auto file = folder / kManifestFileName;
  if (!path_exists(file)) {
    file = folder / kSetAsideManifestFileName;
    if (!path_exists(file)) {
      throw NoCheckpoint(fmt::format("{} has no manifest: the version is incomplete (never committed)", folder.string()));
    }
    set_aside = true;
  }
  std::string text;
  try {
    text = backends::read_whole_file(file);
  } catch (const IoError& io) {
    throw CorruptCheckpoint(io.what());
  }
  return version ? parse_version_manifest(text, file.string(), *version) : parse_manifest(text, file.string());
}

// What the checks inside one rank file found: the problems, and the region bytes read back and hashed.
struct InsideReport {
  std::vector<std::string> problems;
  std::uint64_t data_bytes = 0;
};

// The checks inside one rank file, in this process: the version's validation of the file
// (check_rank_file_contents, as a restore makes it), then every region described as recorded is read
// back and hashed.
InsideReport look_inside(const std::filesystem::path& file, const Manifest& manifest, const RankRecord& record) {
  InsideReport inside;
  std::unique_ptr<backends::RankFileReader> reader;
  try {
    reader = std::make_unique<backends::RankFileReader>(file);
  } catch (const Error& problem) {
    inside.problems.emplace_back(problem.what());
    return inside;
  }
  for (const RegionRecord* expected : check_rank_file_contents(*reader, file, manifest, record, &inside.problems)) {
    try {
      auto buffer = std::make_unique_for_overwrite<std::byte[]>(expected->bytes);
      check_region_checksum(file, *expected, reader->read(expected->name, buffer.get(), expected->bytes));
      inside.data_bytes += expected->bytes;
    } catch (const Error& problem) {
      inside.problems.emplace_back(problem.what());
    }
  }
  return inside;
}

// look_inside in a child process, for every rank file, whether or not its checksum matched: HDF5 can
// crash, hang or read out of bounds on damaged or crafted metadata, and whoever can write the folder
// can also make the checksums match (docs/design.md, "What the checksums protect against"). The
// child's fate is then reported as the file's problem.
void look_inside_isolated(const std::filesystem::path& file, const Manifest& manifest, const RankRecord& record,
                          VersionReport& report) {
  const auto result = backends::run_isolated(
      [&] {
        const InsideReport inside = look_inside(file, manifest, record);
        // Names read from the file may be any bytes: never let them stop the answer.
        return nlohmann::json{{"problems", inside.problems}, {"data_bytes", inside.data_bytes}}.dump(
            -1, ' ', false, nlohmann::json::error_handler_t::replace);
      },
      std::chrono::seconds(30));
  if (!result.output) {
    report.problems.push_back(fmt::format("{}: HDF5 could not read the file: {}", file.string(), result.failure));
    return;
  }
  try {
    const auto inside = nlohmann::json::parse(*result.output);
    for (const auto& problem : inside.at("problems")) report.problems.push_back(problem.get<std::string>());
    report.data_bytes += inside.at("data_bytes").get<std::uint64_t>();
  } catch (const std::exception& error) {
    report.problems.push_back(fmt::format("{}: the check of the file gave no readable answer: {}", file.string(), error.what()));
  }
}

void verify_rank_file(const std::filesystem::path& folder, const Manifest& manifest, const RankRecord& record,
                      VersionReport& report) {
  const auto file = folder / record.file;
  try {
    check_file_intact(file, record.file_bytes, record.file_xxh3);
  } catch (const CorruptCheckpoint& problem) {
    report.problems.emplace_back(problem.what());
    if (!path_exists(file)) return;
  }
  std::error_code error;
  report.file_bytes += std::filesystem::file_size(file, error);
  // Even when the file's own checksum failed, look inside: the region checks tell which data are hit.
  look_inside_isolated(file, manifest, record, report);
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
    manifest = manifest_of(folder, version, report.set_aside);
  } catch (const CorruptCheckpoint& problem) {
    report.problems.emplace_back(problem.what());
    return report;
  }
  report.nranks = manifest.nranks;
  for (const RankRecord& record : manifest.ranks) verify_rank_file(folder, manifest, record, report);
  return report;
}

VersionSummary summarize_version(const std::filesystem::path& version_dir) {
  VersionSummary summary;
  const auto version = parse_version_directory_name(version_dir.filename().string());
  summary.version = version.value_or(0);
  bool set_aside = false;
  try {
    summarize_manifest(manifest_of(version_dir, version, set_aside), summary);
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
