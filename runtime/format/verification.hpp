#pragma once
// Checking stored checkpoints without touching protected memory, for the `lazarus` command only (not
// linked into applications): a whole version checked file by file as a restore would
// (rank_file_checks.hpp), with every problem collected, and the catalogue of a job's versions with
// their sizes. `lazarus verify` and `lazarus list` are thin views of these.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "runtime/format/manifest.hpp"

namespace lazarus::detail {

// --- A whole version ---

struct VersionReport {
  std::uint64_t version = 0;
  int nranks = 0;                  // from the manifest; 0 when it could not be read
  bool set_aside = false;          // checked against manifest.corrupt (the version was set aside)
  std::uint64_t data_bytes = 0;    // uncompressed region bytes read back and hashed
  std::uint64_t file_bytes = 0;    // rank-file bytes hashed
  std::vector<std::string> problems;  // every problem found, each naming its file and region
  bool intact() const { return problems.empty(); }
};

// Checks version `version` of the job in `job_dir` as a restore would, on every rank's file: the
// manifest (parse_version_manifest: its checksum, its structure, and that it is this version's), then
// for each rank file its size and whole-file XXH3-64, and inside it what a restore checks
// (check_rank_file_contents: header, no dataset the manifest does not list, every listed region's
// description) and every listed region's data read back and hashed. Collects all problems instead of
// stopping at the first. A version set aside (manifest.corrupt) is checked against that manifest.
// HDF5 parses each rank file in a child process (fork: for single-threaded tools, not for MPI ranks),
// whether or not its checksum matched: HDF5 may crash, hang or read out of bounds on damaged or
// crafted metadata, and whoever can write the folder can make the checksums match; that is then
// reported as a problem. Throws NoCheckpoint when the folder does not exist or holds neither
// manifest (an incomplete version); IoError when the folder cannot be read or no child can be started.
VersionReport verify_version(const std::filesystem::path& job_dir, std::uint64_t version);

// --- The catalogue ---

struct VersionSummary {
  std::uint64_t version = 0;
  std::string state;               // "complete", "incomplete", "set-aside" or "invalid-manifest"
  std::string problem;             // why the manifest (manifest.json or manifest.corrupt) does not verify
  std::optional<Manifest> manifest;  // when it verifies; the totals below then come from it
  int nranks = 0;                  // without a manifest: the rank files present
  std::uint64_t data_bytes = 0;    // uncompressed bytes of every region of every rank
  std::uint64_t file_bytes = 0;    // the rank files' sizes as recorded; without a manifest: as found
  std::vector<std::string> regions;  // region names, each once, in the order first met
};

// What one version folder holds, from its manifest (not verified against the data) or, without one,
// from the rank files present. `version_dir` is named v<10 digits>, and a manifest of another version
// is invalid there; for another name the version number is the manifest's (0 without one). Throws IoError when the folder cannot be read.
VersionSummary summarize_version(const std::filesystem::path& version_dir);

// Every version folder under `job_dir`, ascending (see summarize_version). Cheap: reads manifests and
// lists folders, never the data. Throws IoError when `job_dir` cannot be listed.
std::vector<VersionSummary> list_versions(const std::filesystem::path& job_dir);

}  // namespace lazarus::detail
