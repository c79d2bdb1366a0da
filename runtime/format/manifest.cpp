#include "runtime/format/manifest.hpp"

#include <cerrno>
#include <system_error>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backends/posix/durable_io.hpp"
#include "backends/xxhash/xxh3.hpp"
#include "lazarus/errors.hpp"
#include "lazarus/version.hpp"

namespace lazarus::detail {
namespace {

using nlohmann::json;

constexpr const char* kFormatName = "lazarus-checkpoint-manifest";
constexpr const char* kChecksumKey = "checksum_xxh3_64";

std::string hex64(std::uint64_t value) { return fmt::format("{:016x}", value); }

std::uint64_t parse_hex64(const std::string& text) {
  if (text.size() != 16) throw std::invalid_argument("checksum '" + text + "' is not 16 hex digits");
  std::size_t used = 0;
  const std::uint64_t value = std::stoull(text, &used, 16);
  if (used != text.size()) throw std::invalid_argument("checksum '" + text + "' is not hexadecimal");
  return value;
}

json region_to_json(const RegionRecord& region) {
  json j = {{"name", region.name},
            {"type", std::string(to_string(region.type))},
            {"shape", region.shape},
            {"bytes", region.bytes},
            {"xxh3_64", hex64(region.xxh3)}};
  if (region.device) j["origin"] = "device";
  return j;
}

RegionRecord region_from_json(const json& j) {
  RegionRecord region;
  region.name = j.at("name").get<std::string>();
  region.type = element_type_from_string(j.at("type").get<std::string>());
  region.shape = j.at("shape").get<std::vector<std::size_t>>();
  region.bytes = j.at("bytes").get<std::uint64_t>();
  region.xxh3 = parse_hex64(j.at("xxh3_64").get<std::string>());
  region.device = j.value("origin", std::string("host")) == "device";
  return region;
}

json rank_to_json(const RankRecord& record) {
  json regions = json::array();
  for (const auto& region : record.regions) regions.push_back(region_to_json(region));
  return {{"rank", record.rank}, {"file", record.file}, {"file_bytes", record.file_bytes},
          {"file_xxh3_64", hex64(record.file_xxh3)}, {"regions", regions}};
}

RankRecord rank_from_json(const json& j) {
  RankRecord record;
  record.rank = j.at("rank").get<int>();
  record.file = j.at("file").get<std::string>();
  record.file_bytes = j.at("file_bytes").get<std::uint64_t>();
  record.file_xxh3 = parse_hex64(j.at("file_xxh3_64").get<std::string>());
  for (const auto& region : j.at("regions")) record.regions.push_back(region_from_json(region));
  return record;
}

json placement_to_json(const Placement& placement) {
  json parity = json::array();
  for (const auto& piece : placement.parity) parity.push_back({{"bytes", piece.bytes}, {"xxh3_64", hex64(piece.xxh3)}});
  return {{"redundancy", to_string(placement.redundancy)},
          {"rank_nodes", placement.rank_nodes},
          {"partner", placement.partner},
          {"xor_groups", placement.xor_groups},
          {"parity", parity}};
}

Placement placement_from_json(const json& j, int nranks) {
  Placement placement;
  const auto redundancy = j.at("redundancy").get<std::string>();
  if (redundancy == "partner") placement.redundancy = Redundancy::partner;
  else if (redundancy == "xor") placement.redundancy = Redundancy::xor_parity;
  else if (redundancy == "none") placement.redundancy = Redundancy::none;
  else throw std::invalid_argument("unknown redundancy '" + redundancy + "'");
  placement.rank_nodes = j.at("rank_nodes").get<std::vector<std::string>>();
  placement.partner = j.at("partner").get<std::vector<int>>();
  placement.xor_groups = j.at("xor_groups").get<std::vector<std::vector<int>>>();
  for (const auto& piece : j.at("parity")) {
    placement.parity.push_back({piece.at("bytes").get<std::uint64_t>(), parse_hex64(piece.at("xxh3_64").get<std::string>())});
  }
  const auto n = static_cast<std::size_t>(nranks);
  if (placement.rank_nodes.size() != n || placement.partner.size() != n || placement.parity.size() != n) {
    throw std::invalid_argument("placement does not list every rank");
  }
  for (const int partner : placement.partner) {
    if (partner < -1 || partner >= nranks) throw std::invalid_argument("partner rank out of range");
  }
  for (const auto& group : placement.xor_groups) {
    for (const int member : group) {
      if (member < 0 || member >= nranks) throw std::invalid_argument("XOR group member out of range");
    }
  }
  return placement;
}

json manifest_body(const Manifest& manifest) {
  json ranks = json::array();
  for (const auto& record : manifest.ranks) ranks.push_back(rank_to_json(record));
  json body = {{"format", kFormatName},
          {"format_version", manifest.format_version},
          {"library_version", LAZARUS_VERSION_STRING},
          {"job", manifest.job},
          {"version", manifest.version},
          {"nranks", manifest.nranks},
          {"created_unix_ms", manifest.created_unix_ms},
          {"storage",
           {{"compression", manifest.compression_level > 0 ? "zstd" : "none"},
            {"filter_id", manifest.compression_level > 0 ? 32015 : 0},
            {"shuffle", manifest.compression_level > 0},
            {"level", manifest.compression_level},
            {"chunk_bytes", manifest.chunk_bytes}}},
          {"ranks", ranks}};
  if (manifest.placement) body["placement"] = placement_to_json(*manifest.placement);
  return body;
}

}  // namespace

std::string serialize_rank_record(const RankRecord& record) { return rank_to_json(record).dump(); }

RankRecord parse_rank_record(std::string_view text) {
  try {
    return rank_from_json(json::parse(text));
  } catch (const std::exception& error) {
    throw Error(fmt::format("malformed rank record: {}", error.what()));
  }
}

// The checksum covers the compact dump of the manifest without its checksum field: keys sorted, no
// spaces, integers and ASCII strings only, so any JSON library can recompute it (Python:
// json.dumps(body, sort_keys=True, separators=(",", ":"))).
std::string serialize_manifest(const Manifest& manifest) {
  json body = manifest_body(manifest);
  const std::string compact = body.dump();
  body[kChecksumKey] = hex64(backends::xxh3_64(compact.data(), compact.size()));
  return body.dump(1) + "\n";
}

Manifest parse_manifest(std::string_view text, const std::string& source) {
  try {
    json body = json::parse(text);
    const std::uint64_t recorded = parse_hex64(body.at(kChecksumKey).get<std::string>());
    body.erase(kChecksumKey);
    const std::string compact = body.dump();
    if (backends::xxh3_64(compact.data(), compact.size()) != recorded) {
      throw CorruptCheckpoint(fmt::format("manifest {} does not match its checksum", source));
    }
    if (body.at("format").get<std::string>() != kFormatName) {
      throw CorruptCheckpoint(fmt::format("{} is not a Lazarus manifest", source));
    }
    Manifest manifest;
    manifest.format_version = body.at("format_version").get<int>();
    if (manifest.format_version > kFormatVersion) {
      throw CorruptCheckpoint(fmt::format("manifest {} has format version {}; this Lazarus reads up to {}", source,
                                          manifest.format_version, kFormatVersion));
    }
    manifest.job = body.at("job").get<std::string>();
    manifest.version = body.at("version").get<std::uint64_t>();
    manifest.nranks = body.at("nranks").get<int>();
    manifest.created_unix_ms = body.at("created_unix_ms").get<std::int64_t>();
    manifest.compression_level = body.at("storage").at("level").get<int>();
    manifest.chunk_bytes = body.at("storage").at("chunk_bytes").get<std::size_t>();
    for (const auto& record : body.at("ranks")) manifest.ranks.push_back(rank_from_json(record));
    if (manifest.nranks < 1 || manifest.ranks.size() != static_cast<std::size_t>(manifest.nranks)) {
      throw CorruptCheckpoint(fmt::format("manifest {} lists {} ranks but says nranks = {}", source,
                                          manifest.ranks.size(), manifest.nranks));
    }
    for (std::size_t i = 0; i < manifest.ranks.size(); ++i) {
      if (manifest.ranks[i].rank != static_cast<int>(i)) {
        throw CorruptCheckpoint(fmt::format("manifest {}: rank entries out of order", source));
      }
    }
    if (body.contains("placement")) manifest.placement = placement_from_json(body.at("placement"), manifest.nranks);
    return manifest;
  } catch (const CorruptCheckpoint&) {
    throw;
  } catch (const std::exception& error) {
    throw CorruptCheckpoint(fmt::format("manifest {} is malformed: {}", source, error.what()));
  }
}

void write_manifest(const std::filesystem::path& version_dir, const Manifest& manifest,
                    const std::function<void()>& before_rename) {
  backends::write_file_atomically(version_dir / kManifestFileName, serialize_manifest(manifest), before_rename);
}

std::string read_manifest_text(const std::filesystem::path& version_dir) {
  const auto path = version_dir / kManifestFileName;
  std::error_code error;
  if (!std::filesystem::exists(path, error)) {
    throw NoCheckpoint(fmt::format("{} has no manifest: the version is incomplete", version_dir.string()));
  }
  try {
    return backends::read_whole_file(path);
  } catch (const IoError& io) {
    throw CorruptCheckpoint(io.what());
  }
}

Manifest read_manifest(const std::filesystem::path& version_dir) {
  return parse_manifest(read_manifest_text(version_dir), (version_dir / kManifestFileName).string());
}

Manifest read_manifest_file(const std::filesystem::path& file) {
  std::string text;
  try {
    text = backends::read_whole_file(file);
  } catch (const IoError& io) {
    throw CorruptCheckpoint(io.what());
  }
  return parse_manifest(text, file.string());
}

}  // namespace lazarus::detail
