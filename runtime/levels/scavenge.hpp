#pragma once
// Saving what the node-local levels hold when a job ends or gives up: the newest version complete at
// the node-local level is copied to the global level, each rank's file taken from wherever an intact
// copy is (its own node, a partner copy, or rebuilt from XOR parity). Run by `lazarus run`, which can
// read every logical node's folder; not collective.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

namespace lazarus::detail {

struct ScavengeReport {
  std::optional<std::uint64_t> version;  // copied to the global level
  std::string note;                      // what happened, for the event log
};

// `local_job_dirs`: node name -> that node's local job folder. Does nothing when the global level
// already holds that version or a newer one. Never throws: problems end up in the note.
ScavengeReport scavenge(const std::map<std::string, std::filesystem::path>& local_job_dirs,
                        const std::filesystem::path& global_job_dir, int keep) noexcept;

// The newest version with a node-local manifest in any of `local_job_dirs` and that manifest's
// creation time (seconds since 1970); {0, nullopt} when there is none.
std::pair<std::uint64_t, std::optional<double>> newest_local_version(
    const std::map<std::string, std::filesystem::path>& local_job_dirs) noexcept;

}  // namespace lazarus::detail
