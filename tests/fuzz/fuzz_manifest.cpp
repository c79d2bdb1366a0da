// The manifest parser (runtime/format/manifest.hpp) on arbitrary text. For every input:
//  - parse_manifest on the text as given, and once more with its checksum recomputed (what a
//    manifest written by a buggy or foreign writer looks like), so that the fuzzer gets past the
//    checksum to every field. Each either returns a manifest or throws CorruptCheckpoint; the
//    re-signed text is never refused for its checksum;
//  - a manifest accepted names rank files inside its version folder, and must be faithful: written back (serialize_manifest), it holds the values the
//    text holds (no number narrowed, wrapped or truncated, no list taken from an object) and parses
//    back to itself;
//  - a manifest accepted lists each region once per rank, with a size that follows from its shape, and
//    parse_version_manifest takes it for its own version only;
//  - read_manifest on the text as a version folder's manifest.json agrees with parse_manifest;
//  - parse_rank_record (a rank's record as gathered at rank 0) returns a faithful record or throws
//    lazarus::Error.
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <xxhash.h>

#include "fuzz_support.hpp"
#include "lazarus/errors.hpp"
#include "runtime/format/manifest.hpp"

namespace {

using nlohmann::json;
using lazarus::fuzz::fail;
namespace detail = lazarus::detail;

constexpr const char* kChecksumKey = "checksum_xxh3_64";

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

// Fails when `given` (the input's JSON) does not hold every value of `written` (what Lazarus writes for
// what it parsed), apart from the fields Lazarus derives and does not read back.
void expect_faithful(const json& given, const json& written, const std::string& where) {
  static const std::set<std::string> kDerived = {kChecksumKey, "library_version", "compression", "filter_id",
                                                 "shuffle"};
  if (written.is_object()) {
    if (!given.is_object()) fail(where + ": an object was read from " + given.dump());
    for (const auto& [key, value] : written.items()) {
      if (kDerived.contains(key)) continue;
      if (!given.contains(key)) fail(fmt::format("{}: '{}' was read from nothing", where, key));
      expect_faithful(given.at(key), value, where + "." + key);
    }
  } else if (written.is_array()) {
    if (!given.is_array() || given.size() != written.size()) {
      fail(fmt::format("{}: {} was read from {}", where, written.dump(), given.dump()));
    }
    for (std::size_t i = 0; i < written.size(); ++i) expect_faithful(given[i], written[i], fmt::format("{}[{}]", where, i));
  } else if (where.ends_with("xxh3_64") && given.is_string() && written.is_string()) {
    if (lower(given.get<std::string>()) != written.get<std::string>()) {
      fail(fmt::format("{}: checksum {} was read from {}", where, written.dump(), given.dump()));
    }
  } else if (given != written) {
    fail(fmt::format("{}: {} was read from {}", where, written.dump(), given.dump()));
  }
}

// The text with its checksum recomputed as Lazarus does, or "" when it is not a JSON object.
std::string resigned(std::string_view text) {
  json body = json::parse(text, nullptr, false);
  if (body.is_discarded() || !body.is_object()) return "";
  body.erase(kChecksumKey);
  const std::string compact = body.dump();
  body[kChecksumKey] = fmt::format("{:016x}", XXH3_64bits(compact.data(), compact.size()));
  return body.dump(1);
}

void check_manifest(std::string_view text, bool resigned_text) {
  detail::Manifest manifest;
  try {
    manifest = detail::parse_manifest(text, "fuzz");
  } catch (const lazarus::CorruptCheckpoint& error) {
    if (resigned_text && std::string_view(error.what()).find("does not match its checksum") != std::string_view::npos) {
      fail("a re-signed manifest failed its checksum");
    }
    return;
  }
  // Restore reads, and the levels copy and write, <version folder>/<file>: it must stay in there.
  for (const detail::RankRecord& record : manifest.ranks) {
    if (record.file.empty() || record.file == "." || record.file == ".." || record.file.find('/') != std::string::npos) {
      fail("a manifest names a rank file outside its version folder: " + record.file);
    }
  }
  // Readers look regions up by name, and size buffers by `bytes`: one entry per name, sizes that follow
  // from the shape.
  for (const detail::RankRecord& record : manifest.ranks) {
    std::set<std::string> names;
    for (const detail::RegionRecord& region : record.regions) {
      if (!names.insert(region.name).second) fail("a manifest lists region '" + region.name + "' twice for one rank");
      std::uint64_t bytes = lazarus::element_size(region.type);
      for (const std::size_t extent : region.shape) bytes *= extent;  // accepted: cannot overflow
      if (bytes != region.bytes) fail("a manifest's region size does not follow from its shape: " + region.name);
    }
  }
  // Its own version's manifest, and no other's.
  if (detail::parse_version_manifest(text, "fuzz", manifest.version) != manifest) fail("parse_version_manifest differs");
  try {
    detail::parse_version_manifest(text, "fuzz", manifest.version + 1);
    fail("a manifest was taken for another version's");
  } catch (const lazarus::CorruptCheckpoint&) {
  }
  const std::string written = detail::serialize_manifest(manifest);
  expect_faithful(json::parse(text), json::parse(written), "manifest");
  if (detail::parse_manifest(written, "written back") != manifest) fail("the manifest written back parses differently");
}

// read_manifest on the text as <scratch>/v/manifest.json: the same outcome as parse_manifest.
void check_read_manifest(std::string_view text) {
  const auto folder = lazarus::fuzz::scratch_dir() / "v";
  std::filesystem::create_directories(folder);
  lazarus::fuzz::write_new_file(folder / detail::kManifestFileName, text);
  std::optional<detail::Manifest> parsed;
  std::optional<detail::Manifest> read;
  try {
    parsed = detail::parse_manifest(text, "fuzz");
  } catch (const lazarus::CorruptCheckpoint&) {
  }
  try {
    read = detail::read_manifest(folder);
  } catch (const lazarus::CorruptCheckpoint&) {
  }
  if (parsed != read) fail("read_manifest and parse_manifest disagree");
}

void check_rank_record(std::string_view text) {
  detail::RankRecord record;
  try {
    record = detail::parse_rank_record(text);
  } catch (const lazarus::Error&) {
    return;
  }
  const std::string written = detail::serialize_rank_record(record);
  expect_faithful(json::parse(text), json::parse(written), "rank record");
  if (detail::parse_rank_record(written) != record) fail("the rank record written back parses differently");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check_manifest(text, false);
  if (const std::string signed_text = resigned(text); !signed_text.empty()) check_manifest(signed_text, true);
  check_read_manifest(text);
  check_rank_record(text);
  return 0;
}
