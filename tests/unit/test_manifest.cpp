#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <xxhash.h>

#include "lazarus/errors.hpp"
#include "runtime/format/manifest.hpp"
#include "test_scratch_dir.hpp"

namespace lazarus::detail {
namespace {

Manifest sample_manifest() {
  Manifest manifest;
  manifest.job = "heat";
  manifest.version = 42;
  manifest.nranks = 2;
  manifest.created_unix_ms = 1790000000250;
  manifest.compression_level = 3;
  manifest.chunk_bytes = 1 << 20;
  manifest.ranks = {
      {0, "rank-00000.h5", 1234, 0x0123456789abcdefULL,
       {{"field", ElementType::f64, {10, 20}, 1600, 0xfedcba9876543210ULL}, {"step", ElementType::i64, {}, 8, 7}}},
      {1, "rank-00001.h5", 999, 1, {{"blob", ElementType::bytes, {5}, 5, 0}}}};
  return manifest;
}

TEST(Manifest, RoundTripsThroughItsText) {
  const Manifest manifest = sample_manifest();
  EXPECT_EQ(parse_manifest(serialize_manifest(manifest), "test"), manifest);
}

TEST(Manifest, RankRecordRoundTrips) {
  const RankRecord record = sample_manifest().ranks[0];
  EXPECT_EQ(parse_rank_record(serialize_rank_record(record)), record);
}

TEST(Manifest, AnyEditBreaksItsChecksum) {
  std::string text = serialize_manifest(sample_manifest());
  const auto at = text.find("1234");
  ASSERT_NE(at, std::string::npos);
  text[at] = '2';  // still valid JSON, another file size
  EXPECT_THROW(parse_manifest(text, "test"), CorruptCheckpoint);
}

TEST(Manifest, MalformedTextIsCorrupt) {
  EXPECT_THROW(parse_manifest("", "test"), CorruptCheckpoint);
  EXPECT_THROW(parse_manifest("{\"version\": 1}", "test"), CorruptCheckpoint);
  std::string text = serialize_manifest(sample_manifest());
  EXPECT_THROW(parse_manifest(text.substr(0, text.size() / 2), "test"), CorruptCheckpoint);
}

TEST(Manifest, WrittenAtomicallyAndReadBack) {
  testing::ScratchDir scratch;
  const Manifest manifest = sample_manifest();
  write_manifest(scratch.path(), manifest);
  EXPECT_FALSE(std::filesystem::exists(scratch.path() / "manifest.json.tmp"));
  EXPECT_EQ(read_manifest(scratch.path()), manifest);
}

// The CorruptCheckpoint message read_manifest throws for `version_dir`, or "" when it reads it.
std::string read_refusal(const std::filesystem::path& version_dir) {
  try {
    read_manifest(version_dir);
  } catch (const CorruptCheckpoint& error) {
    return error.what();
  }
  return "";
}

// Issue 13, item 2: a FIFO in place of manifest.json made restore, verify, list and inspect block
// forever in open(). It is refused at once as damage, like a link that could lead out of the folder.
TEST(Manifest, AManifestThatIsNotARegularFileIsDamageNotAHang) {
  testing::ScratchDir scratch;
  const auto fifo_version = scratch.path() / "fifo";
  std::filesystem::create_directories(fifo_version);
  ASSERT_EQ(::mkfifo((fifo_version / "manifest.json").c_str(), 0600), 0);
  EXPECT_NE(read_refusal(fifo_version).find("is a FIFO, not a regular file"), std::string::npos)
      << read_refusal(fifo_version);
  const auto linked_version = scratch.path() / "linked";
  std::filesystem::create_directories(linked_version);
  write_manifest(scratch.path(), sample_manifest());
  std::filesystem::create_symlink(scratch.path() / "manifest.json", linked_version / "manifest.json");
  EXPECT_NE(read_refusal(linked_version).find("is a symbolic link"), std::string::npos)
      << read_refusal(linked_version);
}

TEST(Manifest, AbsentManifestMeansNoCheckpoint) {
  testing::ScratchDir scratch;
  EXPECT_THROW(read_manifest(scratch.path()), NoCheckpoint);
}

TEST(Manifest, ACrashBeforeTheRenameLeavesNoManifest) {
  testing::ScratchDir scratch;
  struct Crash {};
  EXPECT_THROW(write_manifest(scratch.path(), sample_manifest(), [] { throw Crash{}; }), Crash);
  EXPECT_THROW(read_manifest(scratch.path()), NoCheckpoint);
  EXPECT_TRUE(std::filesystem::exists(scratch.path() / "manifest.json.tmp"));
}

TEST(Manifest, NewerFormatVersionIsRefused) {
  Manifest manifest = sample_manifest();
  manifest.format_version = kFormatVersion + 1;
  EXPECT_THROW(parse_manifest(serialize_manifest(manifest), "test"), CorruptCheckpoint);
}

// The sample manifest's JSON with `edit` applied and its checksum recomputed, as a writer with a bug
// (or another tool) would produce it: the checksum holds, so only the parser's own checks stand
// between the text and a restore.
std::string edited_manifest(const std::function<void(nlohmann::json&)>& edit) {
  nlohmann::json body = nlohmann::json::parse(serialize_manifest(sample_manifest()));
  body.erase("checksum_xxh3_64");
  edit(body);
  const std::string compact = body.dump();
  body["checksum_xxh3_64"] = fmt::format("{:016x}", XXH3_64bits(compact.data(), compact.size()));
  return body.dump(1);
}

// The CorruptCheckpoint message parse_manifest throws for the edited manifest, or "" when it accepts it.
std::string refusal_of(const std::function<void(nlohmann::json&)>& edit) {
  try {
    parse_manifest(edited_manifest(edit), "test");
  } catch (const CorruptCheckpoint& error) {
    return error.what();
  }
  return "";
}

TEST(Manifest, AnEditedManifestWithItsChecksumRecomputedIsAccepted) {
  EXPECT_EQ(refusal_of([](nlohmann::json& body) { body["job"] = "other"; }), "");
}

// Found by fuzz_manifest: a shape extent of 3.9e24 (a JSON number beyond 64 bits, so a double) was
// converted to size_t, which is undefined behaviour. Numbers are now checked before narrowing, like the
// heartbeat protocol's: out of range, negative or fractional values are refused, never wrapped or cut.
TEST(Manifest, NumbersThatDoNotFitTheirFieldAreRefused) {
  using nlohmann::json;
  const std::vector<std::pair<std::string, std::function<void(json&)>>> edits = {
      {"shape", [](json& b) { b["ranks"][0]["regions"][0]["shape"][0] = 3.92e24; }},
      {"shape", [](json& b) { b["ranks"][0]["regions"][0]["shape"][0] = -1; }},
      {"bytes", [](json& b) { b["ranks"][0]["regions"][0]["bytes"] = 1600.5; }},
      {"rank", [](json& b) { b["ranks"][1]["rank"] = 4294967297u; }},  // an int would wrap to 1
      {"nranks", [](json& b) { b["nranks"] = 4294967298u; }},
      {"file_bytes", [](json& b) { b["ranks"][0]["file_bytes"] = -1; }},
      {"version", [](json& b) { b["version"] = 42.0; }},
      {"created_unix_ms", [](json& b) { b["created_unix_ms"] = 9223372036854775808u; }},
      {"level", [](json& b) { b["storage"]["level"] = 2147483648u; }},
  };
  for (const auto& [key, edit] : edits) {
    const std::string refusal = refusal_of(edit);
    EXPECT_NE(refusal.find(key), std::string::npos) << key << ": " << refusal;
  }
}

TEST(Manifest, ChecksumsAreSixteenHexDigitsAndNothingElse) {
  for (const char* bad : {"0x23456789abcdef", "+123456789abcdef", " 123456789abcdef", "-123456789abcdef", "0123456789abcdeg"}) {
    const std::string refusal = refusal_of([&](nlohmann::json& b) { b["ranks"][0]["file_xxh3_64"] = bad; });
    EXPECT_NE(refusal.find("not 16 hex digits"), std::string::npos) << bad << ": " << refusal;
  }
  EXPECT_EQ(refusal_of([](nlohmann::json& b) { b["ranks"][0]["file_xxh3_64"] = "0123456789ABCDEF"; }), "");
}

TEST(Manifest, ListsMustBeLists) {
  EXPECT_NE(refusal_of([](nlohmann::json& b) { b["ranks"] = {{"a", b["ranks"][0]}, {"b", b["ranks"][1]}}; }), "");
  EXPECT_NE(refusal_of([](nlohmann::json& b) { b["ranks"][0]["regions"] = {{"a", b["ranks"][0]["regions"][0]}}; }),
            "");
}

TEST(Manifest, ARegionsSizeMustFollowFromItsTypeAndShape) {
  const std::string refusal = refusal_of([](nlohmann::json& b) { b["ranks"][0]["regions"][0]["bytes"] = 1608; });
  EXPECT_NE(refusal.find("records 1608 bytes, but its type and shape make 1600"), std::string::npos) << refusal;
  EXPECT_NE(refusal_of([](nlohmann::json& b) { b["ranks"][0]["regions"][1]["type"] = "i32"; }), "");
  EXPECT_NE(refusal_of([](nlohmann::json& b) {
              b["ranks"][0]["regions"][0]["shape"] = {4294967296u, 4294967296u};  // 2^64 elements
            }),
            "");
}

// A restore reads <version folder>/<file>, and the node-local levels write copies there: a file
// name must not lead anywhere else.
TEST(Manifest, ARankFileIsAFileOfTheVersionFolder) {
  for (const char* bad : {"../rank-00000.h5", "/etc/passwd", "sub/rank-00000.h5", "", ".."}) {
    const std::string refusal = refusal_of([&](nlohmann::json& b) { b["ranks"][0]["file"] = bad; });
    EXPECT_NE(refusal.find("is not a file name"), std::string::npos) << bad << ": " << refusal;
  }
  RankRecord record = sample_manifest().ranks[0];
  record.file = "../x.h5";
  EXPECT_THROW(parse_rank_record(serialize_rank_record(record)), Error);
}

// Issue 13, item 1: a file name that stays in the folder but is not the one the format gives the
// rank (another rank's file, a partner copy, any other file of the folder) is refused as well.
TEST(Manifest, ARankFileHasTheNameTheFormatGivesThatRank) {
  for (const char* bad : {"rank-00001.h5", "partner-rank-00000.h5", "manifest.json", "rank-0.h5", "x.h5"}) {
    const std::string refusal = refusal_of([&](nlohmann::json& b) { b["ranks"][0]["file"] = bad; });
    EXPECT_NE(refusal.find("is not rank 0's file name (rank-00000.h5)"), std::string::npos) << bad << ": " << refusal;
  }
  RankRecord record = sample_manifest().ranks[1];
  record.file = "rank-00000.h5";
  EXPECT_THROW(parse_rank_record(serialize_rank_record(record)), Error);
}

// Issue 13, item 13: restore looked a region up by name and took its first entry, `lazarus verify`
// checked every entry: a second entry of one name is refused, for every reader alike.
TEST(Manifest, ARegionListedTwiceByOneRankIsRefused) {
  const std::string refusal =
      refusal_of([](nlohmann::json& b) { b["ranks"][0]["regions"].push_back(b["ranks"][0]["regions"][0]); });
  EXPECT_NE(refusal.find("rank 0 lists region 'field' twice"), std::string::npos) << refusal;
  RankRecord record = sample_manifest().ranks[0];
  record.regions.push_back(record.regions[1]);
  EXPECT_THROW(parse_rank_record(serialize_rank_record(record)), Error);
  // One name on two ranks is the normal case.
  EXPECT_EQ(refusal_of([](nlohmann::json& b) { b["ranks"][1]["regions"][0]["name"] = "field"; }), "");
}

// Issue 13, item 13: a version folder replaced by a copy of an older one held that version's
// manifest; restore returned its data under the newer number. The manifest of a version must be
// that version's, whoever reads it.
TEST(Manifest, AVersionFolderHoldsThatVersionsManifestOnly) {
  const std::string text = serialize_manifest(sample_manifest());  // version 42
  EXPECT_EQ(parse_version_manifest(text, "v42", 42), sample_manifest());
  try {
    parse_version_manifest(text, "v43", 43);
    FAIL() << "version 42's manifest was taken for version 43's";
  } catch (const CorruptCheckpoint& error) {
    EXPECT_NE(std::string(error.what()).find("records version 42, not 43"), std::string::npos) << error.what();
  }
  testing::ScratchDir scratch;
  const auto folder = scratch.path() / "v0000000043";
  std::filesystem::create_directories(folder);
  write_manifest(folder, sample_manifest());
  EXPECT_THROW(read_version_manifest(folder, 43), CorruptCheckpoint);
  EXPECT_EQ(read_version_manifest(folder, 42), sample_manifest());
}

}  // namespace
}  // namespace lazarus::detail
