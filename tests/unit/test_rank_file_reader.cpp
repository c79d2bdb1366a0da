// RankFileReader::load, the one-pass read that restore uses: files written by RankFileWriter come
// back byte for byte with the right region and whole-file checksums, in every storage form the writer
// produces (chunked + compressed with edge chunks, uncompressed, scalar, empty), and damage is caught.
#include "backends/hdf5/rank_file_reader.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <xxhash.h>

#include "backends/posix/file_checksum.hpp"
#include "lazarus/errors.hpp"
#include "test_scratch_dir.hpp"

namespace {

namespace fs = std::filesystem;
using lazarus::CorruptCheckpoint;
using lazarus::ElementType;
using lazarus::backends::RankFileHeader;
using lazarus::backends::RankFileReader;
using lazarus::backends::RankFileWriter;
using lazarus::backends::RegionLoad;
using lazarus::backends::RegionPayload;
using lazarus::backends::StorageSettings;
using lazarus::backends::WrittenFile;

struct Region {
  std::string name;
  ElementType type;
  std::vector<std::size_t> shape;
  std::vector<std::byte> bytes;
};

// Smooth doubles (they compress), so chunks differ in size and the file is not just the data.
Region field(std::string name, std::vector<std::size_t> shape) {
  std::size_t count = 1;
  for (const std::size_t extent : shape) count *= extent;
  std::vector<double> values(count);
  for (std::size_t i = 0; i < count; ++i) values[i] = std::sin(0.001 * static_cast<double>(i)) + 0.25 * (i % 7);
  Region region{std::move(name), ElementType::f64, std::move(shape), std::vector<std::byte>(count * sizeof(double))};
  std::memcpy(region.bytes.data(), values.data(), region.bytes.size());
  return region;
}

Region random_bytes(std::string name, std::size_t count, std::uint32_t seed) {
  std::mt19937 generator(seed);
  Region region{std::move(name), ElementType::u32, {count}, std::vector<std::byte>(count * 4)};
  for (std::size_t i = 0; i < count; ++i) {
    const std::uint32_t value = generator();
    std::memcpy(region.bytes.data() + 4 * i, &value, 4);
  }
  return region;
}

Region scalar(std::string name, std::int64_t value) {
  Region region{std::move(name), ElementType::i64, {}, std::vector<std::byte>(sizeof value)};
  std::memcpy(region.bytes.data(), &value, sizeof value);
  return region;
}

WrittenFile write_file(const fs::path& path, const std::vector<Region>& regions, StorageSettings settings) {
  std::size_t total = 0;
  for (const Region& region : regions) total += region.bytes.size();
  RankFileWriter writer(path, RankFileHeader{1, "job", 7, 0, 1}, settings, total);
  for (const Region& region : regions) {
    writer.write_and_hash(RegionPayload{region.name, region.type, region.shape, region.bytes.data(),
                                        region.bytes.size(), 0});
  }
  return writer.finish();
}

// Loads every region into fresh buffers; checks the data, the region checksums and the file checksum.
void expect_loads_back(const fs::path& path, const std::vector<Region>& regions, const WrittenFile& written) {
  std::vector<std::vector<std::byte>> buffers;
  std::vector<RegionLoad> loads;
  for (const Region& region : regions) buffers.emplace_back(region.bytes.size(), std::byte{0x5a});
  for (std::size_t i = 0; i < regions.size(); ++i) {
    loads.push_back({regions[i].name, buffers[i].data(), regions[i].bytes.size(), 0});
  }
  RankFileReader reader(path);
  reader.start_reading();
  EXPECT_EQ(reader.load(loads), written.xxh3);
  EXPECT_EQ(written.xxh3, lazarus::backends::xxh3_of_file(path));
  for (std::size_t i = 0; i < regions.size(); ++i) {
    EXPECT_EQ(buffers[i], regions[i].bytes) << regions[i].name;
    EXPECT_EQ(loads[i].checksum, XXH3_64bits(regions[i].bytes.data(), regions[i].bytes.size())) << regions[i].name;
  }
}

TEST(RankFileReaderLoad, ReadsCompressedChunkedRegionsWithEdgeChunksAndScalars) {
  lazarus::testing::ScratchDir dir;
  // 64 KiB chunks: the 300 × 97 doubles of "field" make chunks of 84 rows, the last one short; the
  // 1-D regions end in partial chunks too.
  const std::vector<Region> regions{field("field", {300, 97}), random_bytes("noise", 100'003, 1), scalar("step", 42),
                                    field("line", {70'001}), Region{"empty", ElementType::f32, {0}, {}}};
  const fs::path path = dir.path() / "rank.h5";
  const WrittenFile written = write_file(path, regions, StorageSettings{1, std::size_t{64} << 10});
  expect_loads_back(path, regions, written);
}

TEST(RankFileReaderLoad, ReadsUncompressedFilesToo) {
  lazarus::testing::ScratchDir dir;
  const std::vector<Region> regions{field("field", {300, 97}), scalar("step", -3), random_bytes("noise", 5000, 2)};
  const fs::path path = dir.path() / "rank.h5";
  const WrittenFile written = write_file(path, regions, StorageSettings{0, std::size_t{64} << 10});
  expect_loads_back(path, regions, written);
}

TEST(RankFileReaderLoad, ADamagedChunkIsNeverReportedAsGoodData) {
  lazarus::testing::ScratchDir dir;
  const std::vector<Region> regions{field("field", {300, 97})};
  const fs::path path = dir.path() / "rank.h5";
  const WrittenFile written = write_file(path, regions, StorageSettings{1, std::size_t{64} << 10});
  // Flip one byte in the middle of the file: inside the chunk data, well past the superblock.
  {
    const int fd = ::open(path.c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    const off_t middle = static_cast<off_t>(written.bytes / 2);
    unsigned char byte = 0;
    ASSERT_EQ(::pread(fd, &byte, 1, middle), 1);
    byte ^= 0x10;
    ASSERT_EQ(::pwrite(fd, &byte, 1, middle), 1);
    ::close(fd);
  }
  std::vector<std::byte> buffer(regions[0].bytes.size());
  std::vector<RegionLoad> loads{{"field", buffer.data(), buffer.size(), 0}};
  RankFileReader reader(path);
  // Either the frame no longer decodes, or it decodes to other bytes: then both checksums differ.
  try {
    const std::uint64_t file_checksum = reader.load(loads);
    EXPECT_NE(file_checksum, written.xxh3);
    EXPECT_NE(loads[0].checksum, XXH3_64bits(regions[0].bytes.data(), regions[0].bytes.size()));
  } catch (const CorruptCheckpoint& error) {
    EXPECT_NE(std::string(error.what()).find("rank.h5"), std::string::npos) << error.what();
  }
}

TEST(RankFileReaderLoad, RejectsARegionOfAnotherSize) {
  lazarus::testing::ScratchDir dir;
  const std::vector<Region> regions{field("field", {30, 10})};
  const fs::path path = dir.path() / "rank.h5";
  write_file(path, regions, StorageSettings{});
  std::vector<std::byte> buffer(8);
  std::vector<RegionLoad> loads{{"field", buffer.data(), buffer.size(), 0}};
  EXPECT_THROW(RankFileReader(path).load(loads), CorruptCheckpoint);
}

}  // namespace
