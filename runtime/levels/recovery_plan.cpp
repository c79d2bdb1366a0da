#include "runtime/levels/recovery_plan.hpp"

#include <system_error>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lazarus/errors.hpp"
#include "runtime/format/version_catalog.hpp"
#include "runtime/json_integer.hpp"

namespace lazarus::detail {
namespace {

using nlohmann::json;

json source_to_json(const std::optional<Source>& source) {
  if (!source) return nullptr;
  return {{"node", source->node}, {"file", source->file}};
}

std::optional<Source> source_from_json(const json& j) {
  if (j.is_null()) return std::nullopt;
  return Source{j.at("node").get<std::string>(), j.at("file").get<std::string>()};
}

const char* kind_name(Recovery::Kind kind) {
  switch (kind) {
    case Recovery::Kind::in_place: return "in_place";
    case Recovery::Kind::local_copy: return "local_copy";
    case Recovery::Kind::fetch: return "fetch";
    case Recovery::Kind::xor_rebuild: return "xor";
  }
  return "in_place";
}

Recovery::Kind kind_from_name(const std::string& name) {
  if (name == "local_copy") return Recovery::Kind::local_copy;
  if (name == "fetch") return Recovery::Kind::fetch;
  if (name == "xor") return Recovery::Kind::xor_rebuild;
  if (name == "in_place") return Recovery::Kind::in_place;
  throw Error("unknown recovery kind '" + name + "'");
}

// Whether `node` holds `file` at `bytes` bytes, and it is not known to be damaged.
bool holds(const std::map<std::string, NodeHoldings>& holdings, const std::string& node, const std::string& file,
           std::uint64_t bytes, const std::set<Source>& bad) {
  const auto found = holdings.find(node);
  if (found == holdings.end()) return false;
  const auto entry = found->second.files.find(file);
  return entry != found->second.files.end() && entry->second == bytes && !bad.contains(Source{node, file});
}

// The first node, in name order, that holds `file` at `bytes` bytes.
std::optional<Source> find_file(const std::map<std::string, NodeHoldings>& holdings, const std::string& file,
                                std::uint64_t bytes, const std::set<Source>& bad) {
  for (const auto& entry : holdings) {
    if (holds(holdings, entry.first, file, bytes, bad)) return Source{entry.first, file};
  }
  return std::nullopt;
}

}  // namespace

NodeInventory scan_node_folder(const std::filesystem::path& local_job_dir) {
  NodeInventory inventory;
  std::error_code error;
  if (!std::filesystem::is_directory(local_job_dir, error)) return inventory;
  std::filesystem::directory_iterator versions(local_job_dir, error);
  if (error) throw IoError(fmt::format("cannot list {}: {}", local_job_dir.string(), error.message()));
  for (const auto& folder : versions) {
    const auto version = parse_version_directory_name(folder.path().filename().string());
    if (!version || !folder.is_directory(error)) continue;
    NodeHoldings& held = inventory[*version];
    for (const auto& entry : std::filesystem::directory_iterator(folder.path(), error)) {
      if (!entry.is_regular_file(error)) continue;
      const std::string name = entry.path().filename().string();
      if (name == kManifestFileName) held.manifest = true;
      else held.files[name] = entry.file_size(error);
    }
  }
  return inventory;
}

std::string serialize_node_inventory(const NodeInventory& inventory) {
  json versions = json::object();
  for (const auto& [version, held] : inventory) {
    versions[std::to_string(version)] = {{"manifest", held.manifest}, {"files", held.files}};
  }
  return versions.dump();
}

NodeInventory parse_node_inventory(const std::string& text) {
  NodeInventory inventory;
  if (text.empty()) return inventory;
  const json versions = json::parse(text);
  for (auto entry = versions.begin(); entry != versions.end(); ++entry) {
    NodeHoldings& held = inventory[std::stoull(entry.key())];
    held.manifest = entry->at("manifest").get<bool>();
    const json& files = entry->at("files");
    if (!files.is_object()) throw Error("node inventory: files is not an object");
    for (const auto& [file, bytes] : files.items()) held.files[file] = json_integer<std::uint64_t>(bytes, file);
  }
  return inventory;
}

std::optional<RecoveryPlan> plan_recovery(const Manifest& manifest, const std::map<std::string, NodeHoldings>& holdings,
                                          const std::vector<std::string>& rank_nodes_now, const std::set<Source>& bad,
                                          std::string& why) {
  if (!manifest.placement) {
    why = "its manifest has no placement";
    return std::nullopt;
  }
  const Placement& placement = *manifest.placement;
  if (rank_nodes_now.size() != manifest.ranks.size()) {
    why = fmt::format("it was written by {} ranks; this job runs {}", manifest.ranks.size(), rank_nodes_now.size());
    return std::nullopt;
  }
  RecoveryPlan plan;
  plan.version = manifest.version;
  for (const RankRecord& record : manifest.ranks) {
    const std::string& here = rank_nodes_now[static_cast<std::size_t>(record.rank)];
    Recovery recovery;
    // In order: on the rank's node (its file, then a partner copy), then from another node (the same).
    const std::string copy_name = partner_file_name(record.rank);
    const auto on_this_node = [&](const std::string& file) { return holds(holdings, here, file, record.file_bytes, bad); };
    std::optional<Source> elsewhere;
    if (on_this_node(record.file)) {
      recovery.kind = Recovery::Kind::in_place;
      recovery.source = {here, record.file};
    } else if (on_this_node(copy_name)) {
      recovery.kind = Recovery::Kind::local_copy;
      recovery.source = {here, copy_name};
    } else if ((elsewhere = find_file(holdings, record.file, record.file_bytes, bad)) ||
               (elsewhere = find_file(holdings, copy_name, record.file_bytes, bad))) {
      recovery.kind = Recovery::Kind::fetch;
      recovery.source = *elsewhere;
    } else {
      const auto [group, member] = placement.xor_group_of(record.rank);
      bool complete = group >= 0;
      if (complete) {
        const auto& members = placement.xor_groups[static_cast<std::size_t>(group)];
        recovery.kind = Recovery::Kind::xor_rebuild;
        recovery.member = member;
        recovery.member_files.resize(members.size());
        recovery.member_parity.resize(members.size());
        for (std::size_t m = 0; m < members.size() && complete; ++m) {
          if (static_cast<int>(m) == member) continue;
          const RankRecord& other = manifest.ranks.at(static_cast<std::size_t>(members[m]));
          recovery.member_files[m] = find_file(holdings, other.file, other.file_bytes, bad);
          recovery.member_parity[m] = find_file(holdings, parity_file_name(members[m]),
                                                placement.parity.at(static_cast<std::size_t>(members[m])).bytes, bad);
          complete = recovery.member_files[m] && recovery.member_parity[m];
        }
      }
      if (!complete) {
        why = fmt::format("rank {}'s file (node {} at the time) is on no remaining node and cannot be rebuilt "
                          "(redundancy: {})",
                          record.rank, placement.rank_nodes.at(static_cast<std::size_t>(record.rank)),
                          to_string(placement.redundancy));
        return std::nullopt;
      }
    }
    plan.ranks.push_back(std::move(recovery));
  }
  return plan;
}

FileRecord file_record(const Manifest& manifest, const std::string& file) {
  for (const RankRecord& record : manifest.ranks) {
    if (file == record.file || file == partner_file_name(record.rank)) return {record.file_bytes, record.file_xxh3};
    if (manifest.placement && file == parity_file_name(record.rank)) {
      const PieceRecord& piece = manifest.placement->parity.at(static_cast<std::size_t>(record.rank));
      return {piece.bytes, piece.xxh3};
    }
  }
  throw Error(fmt::format("{} is not part of version {}", file, manifest.version));
}

std::string serialize_plan(const RecoveryPlan& plan) {
  json ranks = json::array();
  for (const Recovery& recovery : plan.ranks) {
    json files = json::array();
    json parity = json::array();
    for (const auto& source : recovery.member_files) files.push_back(source_to_json(source));
    for (const auto& source : recovery.member_parity) parity.push_back(source_to_json(source));
    ranks.push_back({{"kind", kind_name(recovery.kind)}, {"source", source_to_json(recovery.source)},
                     {"member", recovery.member}, {"member_files", files}, {"member_parity", parity}});
  }
  return json{{"version", plan.version}, {"ranks", ranks}}.dump();
}

RecoveryPlan parse_plan(const std::string& text) {
  const json j = json::parse(text);
  RecoveryPlan plan;
  plan.version = json_integer<std::uint64_t>(j.at("version"), "version");
  for (const auto& entry : j.at("ranks")) {
    Recovery recovery;
    recovery.kind = kind_from_name(entry.at("kind").get<std::string>());
    const auto own_source = source_from_json(entry.at("source"));
    if (!own_source) throw Error("recovery plan: a rank has no source");
    recovery.source = *own_source;
    recovery.member = json_integer<int>(entry.at("member"), "member");
    for (const auto& source : entry.at("member_files")) recovery.member_files.push_back(source_from_json(source));
    for (const auto& source : entry.at("member_parity")) recovery.member_parity.push_back(source_from_json(source));
    plan.ranks.push_back(std::move(recovery));
  }
  return plan;
}

std::vector<std::string> describe_rebuilt(const RecoveryPlan& plan) {
  std::vector<std::string> lines;
  for (std::size_t rank = 0; rank < plan.ranks.size(); ++rank) {
    const Recovery& recovery = plan.ranks[rank];
    const bool partner = recovery.source.file.starts_with("partner-");
    switch (recovery.kind) {
      case Recovery::Kind::in_place: break;
      case Recovery::Kind::local_copy:
        lines.push_back(fmt::format("rank {}: partner copy on its own node {}", rank, recovery.source.node));
        break;
      case Recovery::Kind::fetch:
        lines.push_back(fmt::format("rank {}: {} from node {}", rank, partner ? "partner copy" : "its file",
                                    recovery.source.node));
        break;
      case Recovery::Kind::xor_rebuild:
        lines.push_back(fmt::format("rank {}: rebuilt from XOR parity of its group", rank));
        break;
    }
  }
  return lines;
}

}  // namespace lazarus::detail
