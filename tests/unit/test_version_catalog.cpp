#include <gtest/gtest.h>

#include <fstream>

#include "runtime/format/manifest.hpp"
#include "runtime/format/version_catalog.hpp"
#include "test_scratch_dir.hpp"

namespace lazarus::detail {
namespace {

// A version folder with one rank file, complete (with a manifest file) or not.
void make_version(const std::filesystem::path& job, std::uint64_t version, bool complete) {
  const auto dir = version_directory(job, version);
  std::filesystem::create_directories(dir);
  std::ofstream(dir / rank_file_name(0)) << "data";
  if (complete) std::ofstream(dir / kManifestFileName) << "{}";
}

TEST(VersionCatalog, NamesVersionFoldersAndRankFiles) {
  EXPECT_EQ(version_directory("/ckpt/job", 12), std::filesystem::path("/ckpt/job/v0000000012"));
  EXPECT_EQ(rank_file_name(3), "rank-00003.h5");
  EXPECT_EQ(rank_file_name(123456), "rank-123456.h5");
  EXPECT_EQ(parse_version_directory_name("v0000000012"), std::optional<std::uint64_t>(12));
  EXPECT_EQ(parse_version_directory_name("v12345678901"), std::optional<std::uint64_t>(12345678901));
  EXPECT_EQ(parse_version_directory_name("v0"), std::nullopt);
  EXPECT_EQ(parse_version_directory_name("v12x"), std::nullopt);
  EXPECT_EQ(parse_version_directory_name("events.jsonl"), std::nullopt);
  EXPECT_EQ(parse_version_directory_name("v"), std::nullopt);
  EXPECT_EQ(parse_version_directory_name("v5"), std::nullopt);
  EXPECT_EQ(parse_version_directory_name("v00000000005"), std::nullopt);
  // Issue 13, item 10: the numbers past the last version are not versions (UINT64_MAX made the next
  // number wrap to 0, and that version was never seen again).
  EXPECT_EQ(parse_version_directory_name("v999999999999999999"), std::optional<std::uint64_t>(kLastVersion));
  EXPECT_EQ(parse_version_directory_name("v1000000000000000000"), std::nullopt);
  EXPECT_EQ(parse_version_directory_name("v18446744073709551615"), std::nullopt);
  EXPECT_EQ(parse_version_directory_name("v18446744073709551616"), std::nullopt);
}

TEST(VersionCatalog, ScanSeparatesCompleteFromIncompleteVersions) {
  testing::ScratchDir scratch;
  make_version(scratch.path(), 1, true);
  make_version(scratch.path(), 2, false);
  make_version(scratch.path(), 10, true);
  std::ofstream(scratch.path() / "v0000000011") << "a file, not a version folder";
  std::filesystem::create_directories(scratch.path() / "notes");
  const VersionScan scan = scan_versions(scratch.path());
  EXPECT_EQ(scan.complete, (std::vector<std::uint64_t>{1, 10}));
  EXPECT_EQ(scan.incomplete, (std::vector<std::uint64_t>{2}));
  // Issue 13, item 2: the file v0000000011 is no version, but its number is taken: the next checkpoint
  // must be 12 (it used to be 11, and creating that folder failed forever).
  EXPECT_EQ(scan.other, 11u);
  EXPECT_EQ(scan.highest(), 11u);
}

TEST(VersionCatalog, ScanOfAMissingJobFolderIsEmpty) {
  testing::ScratchDir scratch;
  const VersionScan scan = scan_versions(scratch.path() / "nothing");
  EXPECT_TRUE(scan.complete.empty());
  EXPECT_EQ(scan.highest(), 0u);
}

TEST(Retention, KeepsTheNewestCompleteVersionsAndDropsAbandonedOnes) {
  testing::ScratchDir scratch;
  for (std::uint64_t v : {1, 2, 4, 5}) make_version(scratch.path(), v, true);
  make_version(scratch.path(), 3, false);  // a crash left it
  make_version(scratch.path(), 6, false);  // newer than the commit: not ours to judge
  const RetentionReport report = apply_retention(scratch.path(), 2, 5);
  EXPECT_TRUE(report.problems.empty());
  EXPECT_EQ(report.removed_complete, (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(report.removed_incomplete, (std::vector<std::uint64_t>{3}));
  const VersionScan scan = scan_versions(scratch.path());
  EXPECT_EQ(scan.complete, (std::vector<std::uint64_t>{4, 5}));
  EXPECT_EQ(scan.incomplete, (std::vector<std::uint64_t>{6}));
}

TEST(Retention, NeverDeletesWhileWithinKeep) {
  testing::ScratchDir scratch;
  make_version(scratch.path(), 1, true);
  make_version(scratch.path(), 2, true);
  const RetentionReport report = apply_retention(scratch.path(), 2, 2);
  EXPECT_TRUE(report.removed_complete.empty());
  EXPECT_EQ(scan_versions(scratch.path()).complete, (std::vector<std::uint64_t>{1, 2}));
}

}  // namespace
}  // namespace lazarus::detail
