#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

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

}  // namespace
}  // namespace lazarus::detail
