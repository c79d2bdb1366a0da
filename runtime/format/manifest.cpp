#include "runtime/format/manifest.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <system_error>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backends/posix/durable_io.hpp"
#include "backends/xxhash/xxh3.hpp"
#include "lazarus/errors.hpp"
#include "lazarus/version.hpp"
#include "runtime/checked_arithmetic.hpp"
#include "runtime/format/version_catalog.hpp"
#include "runtime/json_integer.hpp"
#include "runtime/names.hpp"

namespace lazarus::detail {
namespace {

using nlohmann::json;

constexpr const char* kFormatName = "lazarus-checkpoint-manifest";
constexpr const char* kChecksumKey = "checksum_xxh3_64";

std::string hex64(std::uint64_t value) { return fmt::format("{:016x}", value); }

std::uint64_t parse_hex64(const std::string& text) {
  // Digits only: std::stoull alone would also take a sign, spaces or "0x".
  if (text.size() != 16 || !std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isxdigit(c); })) {
    throw std::invalid_argument("checksum '" + text + "' is not 16 hex digits");
  }
  return std::stoull(text, nullptr, 16);
}

// Numbers are checked before narrowing: one out of range, negative where it cannot be, or with a
// fraction is refused, never wrapped around or cut.
template <class T>
T integer_at(const json& j, const char* key) {
  return json_integer<T>(j.at(key), key);
}

// A list, and only a list (iterating over an object or a number would also "work").
const json& list_at(const json& j, const char* key) {
  const json& value = j.at(key);
  if (!value.is_array()) throw std::invalid_argument(fmt::format("{} is not a list", key));
  return value;
}

template <class T>
std::vector<T> integers(const json& list, const char* what) {
  if (!list.is_array()) throw std::invalid_argument(fmt::format("{} is not a list", what));
  std::vector<T> values;
  for (const json& value : list) values.push_back(json_integer<T>(value, what));
  return values;
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
  region.shape = integers<std::size_t>(j.at("shape"), "shape");
  region.bytes = integer_at<std::uint64_t>(j, "bytes");
  region.xxh3 = parse_hex64(j.at("xxh3_64").get<std::string>());
  region.device = j.value("origin", std::string("host")) == "device";
  // The size follows from the type and shape; a record that says otherwise contradicts itself.
  const auto elements = checked_product(region.shape);
  const auto size = elements ? checked_product(*elements, element_size(region.type)) : std::nullopt;
  if (!size) throw std::out_of_range(fmt::format("region '{}' has a shape too large to hold", region.name));
  if (*size != region.bytes) {
    throw std::invalid_argument(fmt::format("region '{}' records {} bytes, but its type and shape make {}", region.name,
                                            region.bytes, *size));
  }
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
  record.rank = integer_at<int>(j, "rank");
  record.file = j.at("file").get<std::string>();
  // The file is joined to version folders, to read it and to write copies of it: only the name the
  // format gives this rank's file is accepted, never one that could lead elsewhere.
  if (auto problem = name_problem(record.file)) {
    throw std::invalid_argument(fmt::format("file '{}' is not a file name: {}", record.file, *problem));
  }
  if (record.file != rank_file_name(record.rank)) {
    throw std::invalid_argument(
        fmt::format("file '{}' is not rank {}'s file name ({})", record.file, record.rank, rank_file_name(record.rank)));
  }
  record.file_bytes = integer_at<std::uint64_t>(j, "file_bytes");
  record.file_xxh3 = parse_hex64(j.at("file_xxh3_64").get<std::string>());
  for (const auto& region : list_at(j, "regions")) {
    record.regions.push_back(region_from_json(region));
    // Readers look a region up by its name: a second entry of that name would be one nobody checks.
    const std::string& name = record.regions.back().name;
    if (std::count_if(record.regions.begin(), record.regions.end(), [&](const RegionRecord& r) { return r.name == name; }) > 1) {
      throw std::invalid_argument(fmt::format("rank {} lists region '{}' twice", record.rank, name));
    }
  }
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
  placement.partner = integers<int>(j.at("partner"), "partner");
  for (const auto& group : list_at(j, "xor_groups")) placement.xor_groups.push_back(integers<int>(group, "xor_groups"));
  for (const auto& piece : list_at(j, "parity")) {
    placement.parity.push_back({integer_at<std::uint64_t>(piece, "bytes"), parse_hex64(piece.at("xxh3_64").get<std::string>())});
  }
  const auto n = static_cast<std::size_t>(nranks);
  if (placement.rank_nodes.size() != n || placement.partner.size() != n || placement.parity.size() != n) {
    throw std::invalid_argument("placement does not list every rank");
  }
  // The recovery plan divides by group sizes and indexes by ranks: every structural field is checked
  // here, the one place a placement is read, as plan_placement() would have made it.
  for (std::size_t rank = 0; rank < n; ++rank) {
    const int partner = placement.partner[rank];
    if (partner < -1 || partner >= nranks) throw std::invalid_argument("partner rank out of range");
    if (partner == static_cast<int>(rank)) throw std::invalid_argument(fmt::format("rank {} is its own partner", rank));
  }
  std::vector<bool> grouped(n, false);
  for (std::size_t g = 0; g < placement.xor_groups.size(); ++g) {
    const auto& group = placement.xor_groups[g];
    if (group.size() < 2) {
      throw std::invalid_argument(fmt::format("XOR group {} has {} member(s); a group has two or more", g, group.size()));
    }
    std::vector<std::string_view> nodes;
    for (const int member : group) {
      if (member < 0 || member >= nranks) throw std::invalid_argument("XOR group member out of range");
      const auto m = static_cast<std::size_t>(member);
      if (grouped[m]) throw std::invalid_argument(fmt::format("rank {} is in two XOR groups", member));
      grouped[m] = true;
      const std::string_view node = placement.rank_nodes[m];
      if (std::find(nodes.begin(), nodes.end(), node) != nodes.end()) {
        throw std::invalid_argument(fmt::format("XOR group {} has two ranks on node '{}'", g, node));
      }
      nodes.push_back(node);
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
    manifest.format_version = integer_at<int>(body, "format_version");
    if (manifest.format_version > kFormatVersion) {
      throw CorruptCheckpoint(fmt::format("manifest {} has format version {}; this Lazarus reads up to {}", source,
                                          manifest.format_version, kFormatVersion));
    }
    manifest.job = body.at("job").get<std::string>();
    manifest.version = integer_at<std::uint64_t>(body, "version");
    manifest.nranks = integer_at<int>(body, "nranks");
    manifest.created_unix_ms = integer_at<std::int64_t>(body, "created_unix_ms");
    manifest.compression_level = integer_at<int>(body.at("storage"), "level");
    manifest.chunk_bytes = integer_at<std::size_t>(body.at("storage"), "chunk_bytes");
    for (const auto& record : list_at(body, "ranks")) manifest.ranks.push_back(rank_from_json(record));
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

Manifest parse_version_manifest(std::string_view text, const std::string& source, std::uint64_t version) {
  Manifest manifest = parse_manifest(text, source);
  if (manifest.version != version) {
    throw CorruptCheckpoint(fmt::format("manifest {} records version {}, not {}: the folder holds another version's "
                                        "manifest (a copy of another version?)",
                                        source, manifest.version, version));
  }
  return manifest;
}

Manifest read_version_manifest(const std::filesystem::path& version_dir, std::uint64_t version) {
  return parse_version_manifest(read_manifest_text(version_dir), (version_dir / kManifestFileName).string(), version);
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
