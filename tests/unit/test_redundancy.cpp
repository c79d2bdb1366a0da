// XOR parity of a multi-level checkpoint's group (runtime/levels/redundancy.hpp): xor_layout's segment size
// (the largest file cut into k-1 segments, at least one byte), XorLayout::offset (a member's segments
// in stripe order, its own stripe skipped), and xor_rebuild bringing back any one member's file byte
// for byte from the others' files and parity pieces, for groups of 2, 3 and 4 with files of different
// sizes (1 byte, empty, sizes not divisible by k-1). The parity pieces are computed here, byte by byte,
// as the header documents them, not with compute_xor_parity (which needs MPI).
#include "runtime/levels/redundancy.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace lazarus::detail {
namespace {

using Bytes = std::vector<std::byte>;

Bytes random_bytes(std::size_t size, std::uint32_t seed) {
  std::mt19937 generator(seed);
  Bytes bytes(size);
  for (auto& byte : bytes) byte = static_cast<std::byte>(generator() & 0xff);
  return bytes;
}

// Stripe t's parity piece: the XOR over every member j != t of member j's segment for stripe t (at
// layout.offset(j, t) of its file zero-padded to the group's largest), segment_bytes long.
std::vector<Bytes> parity_pieces(const XorLayout& layout, const std::vector<Bytes>& files) {
  std::vector<Bytes> parity(files.size(), Bytes(static_cast<std::size_t>(layout.segment_bytes)));
  for (int stripe = 0; stripe < layout.members; ++stripe) {
    for (int member = 0; member < layout.members; ++member) {
      if (member == stripe) continue;
      const Bytes& file = files[static_cast<std::size_t>(member)];
      for (std::uint64_t i = 0; i < layout.segment_bytes; ++i) {
        const std::uint64_t at = layout.offset(member, stripe) + i;
        if (at < file.size()) parity[static_cast<std::size_t>(stripe)][i] ^= file[at];
      }
    }
  }
  return parity;
}

std::vector<std::span<const std::byte>> spans_of(const std::vector<Bytes>& pieces) {
  std::vector<std::span<const std::byte>> spans;
  for (const auto& piece : pieces) spans.emplace_back(piece.data(), piece.size());
  return spans;
}

std::string describe(const std::vector<std::size_t>& sizes) {
  std::string text = "group of " + std::to_string(sizes.size()) + " with files of";
  for (const auto size : sizes) text += " " + std::to_string(size);
  return text + " bytes";
}

// Builds files of `sizes`, their parity, and checks that each member, taken as the missing one, is
// rebuilt exactly from the others. The missing member's own file and parity are replaced by junk, so
// that a rebuild that reads them fails.
void expect_every_member_rebuilt(const std::vector<std::size_t>& sizes, std::uint32_t seed) {
  SCOPED_TRACE(describe(sizes));
  const int members = static_cast<int>(sizes.size());
  std::vector<Bytes> files;
  std::uint64_t largest = 0;
  for (std::size_t m = 0; m < sizes.size(); ++m) {
    files.push_back(random_bytes(sizes[m], seed + static_cast<std::uint32_t>(m)));
    largest = std::max<std::uint64_t>(largest, sizes[m]);
  }
  const XorLayout layout = xor_layout(members, largest);
  const std::vector<Bytes> parity = parity_pieces(layout, files);
  for (int missing = 0; missing < members; ++missing) {
    SCOPED_TRACE("member " + std::to_string(missing) + " missing");
    std::vector<Bytes> known_files = files;
    std::vector<Bytes> known_parity = parity;
    known_files[static_cast<std::size_t>(missing)] = random_bytes(sizes[static_cast<std::size_t>(missing)], 99);
    known_parity[static_cast<std::size_t>(missing)] = random_bytes(static_cast<std::size_t>(layout.segment_bytes), 98);
    const backends::StagingBuffer rebuilt =
        xor_rebuild(layout, missing, sizes[static_cast<std::size_t>(missing)], spans_of(known_files),
                    spans_of(known_parity));
    ASSERT_EQ(rebuilt.size(), sizes[static_cast<std::size_t>(missing)]);
    const Bytes got(rebuilt.data(), rebuilt.data() + rebuilt.size());
    EXPECT_TRUE(got == files[static_cast<std::size_t>(missing)]) << "the rebuilt file differs from the original";
  }
}

TEST(XorLayout, SegmentsCutTheLargestFileIntoKMinusOnePieces) {
  EXPECT_EQ(xor_layout(2, 10).segment_bytes, 10u);
  EXPECT_EQ(xor_layout(3, 10).segment_bytes, 5u);
  EXPECT_EQ(xor_layout(4, 10).segment_bytes, 4u);  // rounded up: 3 x 4 >= 10
  EXPECT_EQ(xor_layout(4, 12).segment_bytes, 4u);
  EXPECT_EQ(xor_layout(4, 13).segment_bytes, 5u);
  EXPECT_EQ(xor_layout(3, 1).segment_bytes, 1u);
  EXPECT_EQ(xor_layout(5, 1ULL << 40).segment_bytes, 1ULL << 38);
  EXPECT_EQ(xor_layout(4, 10).members, 4);
}

TEST(XorLayout, EmptyFilesStillHaveOneByteSegments) {
  EXPECT_EQ(xor_layout(2, 0).segment_bytes, 1u);
  EXPECT_EQ(xor_layout(4, 0).segment_bytes, 1u);
}

TEST(XorLayout, AMembersSegmentsFollowEachOtherInStripeOrderSkippingItsOwn) {
  const XorLayout layout = xor_layout(4, 12);  // segments of 4 bytes
  // Member 0 has no segment in stripe 0; its segments for stripes 1, 2, 3 are at 0, 4, 8.
  EXPECT_EQ(layout.offset(0, 1), 0u);
  EXPECT_EQ(layout.offset(0, 2), 4u);
  EXPECT_EQ(layout.offset(0, 3), 8u);
  // Member 2: stripes 0, 1, 3.
  EXPECT_EQ(layout.offset(2, 0), 0u);
  EXPECT_EQ(layout.offset(2, 1), 4u);
  EXPECT_EQ(layout.offset(2, 3), 8u);
  // Member 3: stripes 0, 1, 2.
  EXPECT_EQ(layout.offset(3, 0), 0u);
  EXPECT_EQ(layout.offset(3, 1), 4u);
  EXPECT_EQ(layout.offset(3, 2), 8u);
}

TEST(XorLayout, TwoMembersEachKeepTheOthersWholeFile) {
  const XorLayout layout = xor_layout(2, 7);
  EXPECT_EQ(layout.segment_bytes, 7u);
  EXPECT_EQ(layout.offset(0, 1), 0u);
  EXPECT_EQ(layout.offset(1, 0), 0u);
}

TEST(XorRebuild, GroupsOfTwo) {
  expect_every_member_rebuilt({1000, 1}, 1);
  expect_every_member_rebuilt({0, 17}, 2);
  expect_every_member_rebuilt({5, 5}, 3);
  expect_every_member_rebuilt({4096, 4095}, 4);
}

TEST(XorRebuild, GroupsOfThree) {
  expect_every_member_rebuilt({1, 0, 1001}, 10);     // 1001 is odd: the last segment is padded
  expect_every_member_rebuilt({1000, 999, 1001}, 11);
  expect_every_member_rebuilt({7, 7, 7}, 12);
  expect_every_member_rebuilt({3, 65537, 40000}, 13);
}

TEST(XorRebuild, GroupsOfFour) {
  expect_every_member_rebuilt({1, 0, 4097, 100}, 20);  // 4097 is not a multiple of 3
  expect_every_member_rebuilt({10, 11, 12, 13}, 21);
  expect_every_member_rebuilt({2, 2, 2, 1}, 22);
  expect_every_member_rebuilt({100000, 99999, 1, 33333}, 23);
}

TEST(XorRebuild, AGroupOfEmptyFiles) {
  expect_every_member_rebuilt({0, 0}, 30);
  expect_every_member_rebuilt({0, 0, 0}, 31);
}

TEST(XorRebuild, ALargerGroup) { expect_every_member_rebuilt({123, 4567, 8, 0, 1, 999, 1000}, 40); }

TEST(XorRebuild, AFlippedParityBitFlipsTheMatchingByteOfTheRebuiltFile) {
  // Member 1 of 3 is rebuilt; a bit flipped in byte 3 of stripe 2's parity lands in member 1's
  // segment for stripe 2 (at offset(1, 2)), byte 3, and nowhere else.
  const std::vector<Bytes> files = {random_bytes(30, 50), random_bytes(25, 51), random_bytes(11, 52)};
  const XorLayout layout = xor_layout(3, 30);
  std::vector<Bytes> parity = parity_pieces(layout, files);
  parity[2][3] ^= std::byte{0x10};
  const backends::StagingBuffer rebuilt = xor_rebuild(layout, 1, 25, spans_of(files), spans_of(parity));
  ASSERT_EQ(rebuilt.size(), 25u);
  const std::uint64_t flipped = layout.offset(1, 2) + 3;
  for (std::size_t i = 0; i < 25; ++i) {
    const std::byte expected = i == flipped ? (files[1][i] ^ std::byte{0x10}) : files[1][i];
    EXPECT_EQ(rebuilt.data()[i], expected) << "byte " << i;
  }
}

TEST(XorRebuild, ParityPiecesOfTheDocumentedSize) {
  // Sanity of the pieces the other tests use: each is segment_bytes long, and for two members the
  // parity stripe 0 keeps is member 1's file, zero-padded.
  const std::vector<Bytes> files = {random_bytes(9, 60), random_bytes(4, 61)};
  const XorLayout layout = xor_layout(2, 9);
  const std::vector<Bytes> parity = parity_pieces(layout, files);
  ASSERT_EQ(parity[0].size(), 9u);
  Bytes padded = files[1];
  padded.resize(9);
  EXPECT_TRUE(parity[0] == padded);
  EXPECT_TRUE(parity[1] == files[0]);
}

}  // namespace
}  // namespace lazarus::detail
