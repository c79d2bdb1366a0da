// How restore reads a rank file: read_and_hash_file brings it into memory with its whole-file checksum,
// RankFileReader opens it there, plan_load and load decode it. Files written by RankFileWriter come
// back byte for byte with the right checksums in every storage form the writer produces (chunked +
// compressed with edge chunks, uncompressed, scalar, empty), and damage is caught.
#include "backends/hdf5/rank_file_reader.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <span>
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
using lazarus::backends::HashedFile;
using lazarus::backends::read_and_hash_file;
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

// What load() produced: the buffers and the checksum of each region.
struct Loaded {
  std::vector<std::vector<std::byte>> buffers;
  std::vector<std::uint64_t> checksums;
};

Loaded load_all(const fs::path& path, std::span<const std::byte> image, const std::vector<Region>& regions) {
  Loaded loaded;
  std::vector<RegionLoad> loads;
  for (const Region& region : regions) loaded.buffers.emplace_back(region.bytes.size(), std::byte{0x5a});
  for (std::size_t i = 0; i < regions.size(); ++i) {
    loads.push_back({regions[i].name, loaded.buffers[i].data(), regions[i].bytes.size()});
  }
  const RankFileReader reader(path, image);
  loaded.checksums = reader.load(reader.plan_load(std::move(loads)));
  return loaded;
}

// Reads the file into memory and loads every region; checks the data and all checksums.
void expect_loads_back(const fs::path& path, const std::vector<Region>& regions, const WrittenFile& written) {
  const HashedFile file = read_and_hash_file(path, written.bytes);
  EXPECT_EQ(file.xxh3, written.xxh3);
  EXPECT_EQ(file.xxh3, lazarus::backends::xxh3_of_file(path));
  const Loaded loaded = load_all(path, {file.bytes.data(), file.bytes.size()}, regions);
  ASSERT_EQ(loaded.checksums.size(), regions.size());
  for (std::size_t i = 0; i < regions.size(); ++i) {
    EXPECT_EQ(loaded.buffers[i], regions[i].bytes) << regions[i].name;
    EXPECT_EQ(loaded.checksums[i], XXH3_64bits(regions[i].bytes.data(), regions[i].bytes.size())) << regions[i].name;
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

TEST(RankFileReaderLoad, ADamagedChunkFailsItsChecksumsOrDoesNotDecode) {
  lazarus::testing::ScratchDir dir;
  const std::vector<Region> regions{field("field", {300, 97})};
  const fs::path path = dir.path() / "rank.h5";
  const WrittenFile written = write_file(path, regions, StorageSettings{1, std::size_t{64} << 10});
  HashedFile file = read_and_hash_file(path, written.bytes);
  // One flipped bit in the middle of the file: inside the chunk data, well past the superblock.
  file.bytes.data()[written.bytes / 2] ^= std::byte{0x10};
  EXPECT_NE(XXH3_64bits(file.bytes.data(), file.bytes.size()), written.xxh3);
  try {
    const Loaded loaded = load_all(path, {file.bytes.data(), file.bytes.size()}, regions);
    EXPECT_NE(loaded.checksums.at(0), XXH3_64bits(regions[0].bytes.data(), regions[0].bytes.size()));
  } catch (const CorruptCheckpoint& error) {
    EXPECT_NE(std::string(error.what()).find("rank.h5"), std::string::npos) << error.what();
  }
}

TEST(RankFileReaderLoad, RejectsARegionOfAnotherSizeBeforeWritingAnything) {
  lazarus::testing::ScratchDir dir;
  const std::vector<Region> regions{field("field", {30, 10})};
  const fs::path path = dir.path() / "rank.h5";
  const WrittenFile written = write_file(path, regions, StorageSettings{});
  const HashedFile file = read_and_hash_file(path, written.bytes);
  const RankFileReader reader(path, {file.bytes.data(), file.bytes.size()});
  std::vector<std::byte> buffer(8, std::byte{0x5a});
  EXPECT_THROW(reader.plan_load({{"field", buffer.data(), buffer.size()}}), CorruptCheckpoint);
  EXPECT_EQ(buffer, std::vector<std::byte>(8, std::byte{0x5a}));
}

TEST(ReadAndHashFile, RejectsAFileOfAnotherSize) {
  lazarus::testing::ScratchDir dir;
  const std::vector<Region> regions{scalar("step", 1)};
  const fs::path path = dir.path() / "rank.h5";
  const WrittenFile written = write_file(path, regions, StorageSettings{});
  EXPECT_THROW(read_and_hash_file(path, written.bytes + 1), lazarus::IoError);
  EXPECT_THROW(read_and_hash_file(dir.path() / "missing.h5", 10), lazarus::IoError);
}

}  // namespace
