#include "runtime/levels/scavenge.hpp"

#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "backends/posix/durable_io.hpp"
#include "backends/posix/file_checksum.hpp"
#include "backends/xxhash/xxh3.hpp"
#include "lazarus/errors.hpp"
#include "runtime/format/commit_protocol.hpp"
#include "runtime/format/version_catalog.hpp"
#include "runtime/levels/recovery_plan.hpp"
#include "runtime/levels/redundancy.hpp"

namespace lazarus::detail {
namespace {

// The bytes of `source`, or nullopt when missing or not matching what `manifest` records of it.
std::optional<backends::HashedFile> read_source(const std::map<std::string, std::filesystem::path>& dirs,
                                                const Manifest& manifest, const Source& source) {
  try {
    const FileRecord expected = file_record(manifest, source.file);
    auto file = backends::read_and_hash_file(version_directory(dirs.at(source.node), manifest.version) / source.file,
                                             expected.bytes);
    if (file.xxh3 == expected.xxh3) return file;
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

}  // namespace

std::pair<std::uint64_t, std::optional<double>> newest_local_version(
    const std::map<std::string, std::filesystem::path>& local_job_dirs) noexcept {
  std::pair<std::uint64_t, std::optional<double>> newest{0, std::nullopt};
  for (const auto& [node, dir] : local_job_dirs) {
    try {
      const auto complete = scan_versions(dir).complete;
      for (auto version = complete.rbegin(); version != complete.rend() && *version > newest.first; ++version) {
        try {
          const Manifest manifest = read_version_manifest(version_directory(dir, *version), *version);
          newest = {*version, static_cast<double>(manifest.created_unix_ms) / 1000.0};
          break;
        } catch (const std::exception&) {
        }
      }
    } catch (const std::exception&) {
    }
  }
  return newest;
}

ScavengeReport scavenge(const std::map<std::string, std::filesystem::path>& local_job_dirs,
                        const std::filesystem::path& global_job_dir, int keep) noexcept {
  ScavengeReport report;
  std::filesystem::path started;  // the global version folder this scavenge began to fill
  try {
    const std::uint64_t version = newest_local_version(local_job_dirs).first;
    if (version == 0) {
      report.note = "no node-local version to save";
      return report;
    }
    const auto global = scan_versions(global_job_dir).complete;
    if (!global.empty() && global.back() >= version) {
      report.note = fmt::format("the global level already holds version {}", global.back());
      return report;
    }
    // The manifest from any node that holds it; what every node holds of the version.
    std::optional<Manifest> manifest;
    std::map<std::string, NodeHoldings> holdings;
    for (const auto& [node, dir] : local_job_dirs) {
      const NodeInventory inventory = scan_node_folder(dir);
      const auto found = inventory.find(version);
      if (found == inventory.end()) continue;
      holdings[node] = found->second;
      if (!manifest && found->second.manifest) {
        try {
          manifest = read_version_manifest(version_directory(dir, version), version);
        } catch (const std::exception&) {
        }
      }
    }
    if (!manifest) throw CorruptCheckpoint(fmt::format("no readable manifest of version {}", version));
    // Every rank counts as elsewhere: each file is taken from a node that holds it.
    const std::vector<std::string> nowhere(manifest->ranks.size(), std::string());
    const auto version_dir = version_directory(global_job_dir, version);
    std::set<Source> bad;
    for (int round = 0; round < 8; ++round) {
      std::string why;
      const auto plan = plan_recovery(*manifest, holdings, nowhere, bad, why);
      if (!plan) throw CorruptCheckpoint(fmt::format("version {} cannot be assembled: {}", version, why));
      std::set<Source> damaged;
      std::filesystem::create_directories(version_dir);
      started = version_dir;
      for (const RankRecord& record : manifest->ranks) {
        const Recovery& recovery = plan->ranks.at(static_cast<std::size_t>(record.rank));
        std::optional<backends::HashedFile> file;
        backends::StagingBuffer rebuilt;
        std::span<const std::byte> bytes;
        if (recovery.kind == Recovery::Kind::xor_rebuild) {
          const Placement& placement = *manifest->placement;
          const auto& members = placement.xor_groups.at(static_cast<std::size_t>(placement.xor_group_of(record.rank).first));
          std::vector<backends::HashedFile> inputs;
          std::vector<std::span<const std::byte>> files(members.size());
          std::vector<std::span<const std::byte>> parity(members.size());
          for (std::size_t m = 0; m < members.size(); ++m) {
            if (static_cast<int>(m) == recovery.member) continue;
            auto member_file = read_source(local_job_dirs, *manifest, *recovery.member_files[m]);
            auto member_parity = read_source(local_job_dirs, *manifest, *recovery.member_parity[m]);
            if (!member_file) damaged.insert(*recovery.member_files[m]);
            if (!member_parity) damaged.insert(*recovery.member_parity[m]);
            if (!member_file || !member_parity) continue;
            files[m] = {member_file->bytes.data(), member_file->bytes.size()};
            parity[m] = {member_parity->bytes.data(), member_parity->bytes.size()};
            inputs.push_back(std::move(*member_file));
            inputs.push_back(std::move(*member_parity));
          }
          if (!damaged.empty()) break;
          rebuilt = xor_rebuild(xor_layout_of(*manifest, record.rank), recovery.member, record.file_bytes, files, parity);
          bytes = {rebuilt.data(), rebuilt.size()};
          if (backends::xxh3_64(bytes) != record.file_xxh3) {
            throw CorruptCheckpoint(fmt::format("rank {}'s file rebuilt from XOR parity fails its checksum", record.rank));
          }
        } else {
          file = read_source(local_job_dirs, *manifest, recovery.source);
          if (!file) {
            damaged.insert(recovery.source);
            break;
          }
          bytes = {file->bytes.data(), file->bytes.size()};
        }
        backends::write_file_durably(version_dir / record.file, bytes);
      }
      if (!damaged.empty()) {
        bad.insert(damaged.begin(), damaged.end());
        continue;
      }
      Manifest global_manifest = *manifest;
      global_manifest.placement.reset();
      publish_version(global_manifest, {global_job_dir, keep});
      report.version = version;
      report.note = fmt::format("version {} copied from the node-local level to the global level", version);
      return report;
    }
    throw CorruptCheckpoint("too many damaged copies");
  } catch (const std::exception& error) {
    report.note = fmt::format("nothing saved from the node-local level: {}", error.what());
    // What was copied is incomplete: removed, so that a full file system is not kept full by it.
    std::error_code ignored;
    if (!started.empty() && !std::filesystem::exists(started / kManifestFileName, ignored)) {
      std::filesystem::remove_all(started, ignored);
    }
  }
  return report;
}

}  // namespace lazarus::detail
