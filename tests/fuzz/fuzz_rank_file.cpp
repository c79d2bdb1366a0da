// Restore's read of a rank file (runtime/format/rank_piece.hpp: verify_rank_piece, then apply) and
// `lazarus verify`'s (runtime/format/verification.hpp: verify_version), against one small valid
// checkpoint written once at start-up: version 7 of job "fuzz", one rank, a compressed 2-D region
// with an edge chunk, a 1-D region, a scalar and an empty region, in 4 KiB chunks.
//
// The input is a mode byte, then edits of 4 bytes each: [what, a, b, c].
//  mode 0, the file damaged (the manifest as written): each edit flips (what 0), sets (1), truncates
//    at (2) or inserts (3) a byte at offset a + 256 b. A file whose bytes differ from the original must
//    be refused before HDF5 sees it (CorruptCheckpoint); one that is the original restores exactly.
//  mode 1, the data damaged before the checksum was taken: the same edits, but only flips and sets,
//    only inside the stored zstd frames, and the manifest records the damaged file's size and checksum,
//    so HDF5 and the chunk decoder parse it. verify may refuse it; apply must then restore the
//    original data or throw CorruptCheckpoint (never crash, never write out of bounds).
//  mode 2, the manifest's record edited (the file intact): each edit changes one field of the record
//    (file size or checksum, a region's name, type, shape, size or checksum, or the version) or
//    drops a region, and the manifest goes through the text of version 7's manifest
//    (serialize_manifest, parse_version_manifest: an edited version number is refused there). A
//    restore that accepts it must have a record that agrees with the file, and restores exactly;
//    verify_version on it (when the file's size and checksum are the recorded ones; it looks inside
//    in a child process) passes only a record of every region as written, none left out.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <xxhash.h>
#include <zstd.h>

#include "backends/hdf5/rank_file.hpp"
#include "fuzz_support.hpp"
#include "lazarus/errors.hpp"
#include "runtime/format/manifest.hpp"
#include "runtime/format/rank_piece.hpp"
#include "runtime/format/verification.hpp"
#include "runtime/format/version_catalog.hpp"
#include "runtime/region_registry.hpp"

namespace {

using lazarus::fuzz::fail;
namespace backends = lazarus::backends;
namespace detail = lazarus::detail;
using lazarus::ElementType;
using Bytes = std::vector<std::byte>;

struct Contents {
  std::string name;
  ElementType type;
  std::vector<std::size_t> shape;
  Bytes bytes;
};

template <class T>
Contents region_of(std::string name, std::vector<std::size_t> shape, T (*value)(std::size_t)) {
  std::size_t count = 1;
  for (const std::size_t extent : shape) count *= extent;
  Contents contents{std::move(name), lazarus::element_type_of<T>(), std::move(shape), Bytes(count * sizeof(T))};
  for (std::size_t i = 0; i < count; ++i) {
    const T v = value(i);
    std::memcpy(contents.bytes.data() + i * sizeof(T), &v, sizeof(T));
  }
  return contents;
}

// The checkpoint every input starts from.
struct Checkpoint {
  std::filesystem::path job_dir;
  std::filesystem::path version_dir;
  std::vector<Contents> regions;
  detail::Manifest manifest;
  Bytes file;                                       // the rank file as written
  std::vector<std::pair<std::size_t, std::size_t>> frames;  // [offset, size) of each stored zstd frame

  Checkpoint() {
    job_dir = lazarus::fuzz::scratch_dir() / "fuzz";
    version_dir = detail::version_directory(job_dir, 7);
    std::filesystem::create_directories(version_dir);
    regions.push_back(region_of<double>("field", {40, 30}, [](std::size_t i) { return 0.5 * static_cast<double>(i % 97); }));
    regions.push_back(region_of<std::uint32_t>("noise", {1000}, [](std::size_t i) {
      return static_cast<std::uint32_t>(i * 2654435761u);
    }));
    regions.push_back(region_of<std::int64_t>("step", {}, [](std::size_t) { return std::int64_t{42}; }));
    regions.push_back(region_of<float>("empty", {0}, [](std::size_t) { return 0.0f; }));

    detail::RankRecord record{0, "rank-00000.h5", 0, 0, {}};
    const auto path = version_dir / record.file;
    backends::RankFileWriter writer(path, backends::RankFileHeader{detail::kFormatVersion, "fuzz", 7, 0, 1},
                                    backends::StorageSettings{1, 4096, 0}, 16384);
    for (const Contents& region : regions) {
      const std::uint64_t xxh3 = XXH3_64bits(region.bytes.data(), region.bytes.size());
      writer.write(backends::RegionPayload{region.name, region.type, region.shape, region.bytes.data(),
                                           region.bytes.size(), xxh3, false, {}});
      record.regions.push_back({region.name, region.type, region.shape, region.bytes.size(), xxh3, false});
    }
    const backends::WrittenFile written = writer.finish();
    record.file_bytes = written.bytes;
    record.file_xxh3 = written.xxh3;
    manifest.job = "fuzz";
    manifest.version = 7;
    manifest.nranks = 1;
    manifest.compression_level = 1;
    manifest.chunk_bytes = 4096;
    manifest.ranks.push_back(record);

    std::ifstream in(path, std::ios::binary);
    for (std::istreambuf_iterator<char> it(in), end; it != end; ++it) file.push_back(static_cast<std::byte>(*it));
    if (file.size() != written.bytes) fail("the seed file does not read back");
    // The chunks are zstd frames; nothing else in a small HDF5 file starts with their magic number.
    for (std::size_t at = 0; at + 4 <= file.size(); ++at) {
      if (std::memcmp(file.data() + at, "\x28\xb5\x2f\xfd", 4) != 0) continue;
      const std::size_t size = ZSTD_findFrameCompressedSize(file.data() + at, file.size() - at);
      if (ZSTD_isError(size)) continue;
      frames.emplace_back(at, size);
      at += size - 1;
    }
    if (frames.size() < 3) fail(fmt::format("found {} zstd frames in the seed file", frames.size()));
  }

  std::filesystem::path rank_file() const { return version_dir / manifest.ranks[0].file; }
};

const Checkpoint& checkpoint() {
  static const Checkpoint instance;
  return instance;
}

struct Edit {
  std::uint8_t what, a, b, c;
  std::size_t offset() const { return a + 256u * b; }
};

std::vector<Edit> edits_of(const std::uint8_t* data, std::size_t size) {
  std::vector<Edit> edits;
  for (std::size_t i = 0; i + 4 <= size; i += 4) edits.push_back({data[i], data[i + 1], data[i + 2], data[i + 3]});
  return edits;
}

void write_file(const std::filesystem::path& path, std::span<const std::byte> bytes) {
  lazarus::fuzz::write_new_file(path, {reinterpret_cast<const char*>(bytes.data()), bytes.size()});
}

// Protected memory for the seed's regions, filled with a pattern that is none of the data.
struct Memory {
  std::vector<Bytes> buffers;
  detail::RegionRegistry registry;
  explicit Memory(const Checkpoint& seed) {
    for (const Contents& region : seed.regions) buffers.emplace_back(region.bytes.size(), std::byte{0xa5});
    for (std::size_t i = 0; i < seed.regions.size(); ++i) {
      const Contents& region = seed.regions[i];
      const std::size_t count = region.bytes.size() / lazarus::element_size(region.type);
      registry.add(detail::Region{region.name, region.type, buffers[i].empty() ? nullptr : buffers[i].data(), count,
                                  region.shape, false, {}});
    }
  }
  bool holds(const Checkpoint& seed) const {
    for (std::size_t i = 0; i < seed.regions.size(); ++i) {
      if (buffers[i] != seed.regions[i].bytes) return false;
    }
    return true;
  }
};

// verify_rank_piece, then apply when it passed. Returns whether the restore went through (and then
// checks the data); a refusal may only be CorruptCheckpoint or MismatchError.
bool restore(const detail::Manifest& manifest, const Checkpoint& seed) {
  Memory memory(seed);
  std::optional<detail::VerifiedPiece> piece;
  try {
    piece = detail::verify_rank_piece(seed.version_dir, manifest, 0, 1, memory.registry);
  } catch (const lazarus::CorruptCheckpoint&) {
    return false;
  } catch (const lazarus::MismatchError&) {
    return false;
  }
  try {
    piece->apply();
  } catch (const lazarus::CorruptCheckpoint&) {
    return false;
  }
  if (!memory.holds(seed)) fail("a restore that went through brought back other data");
  return true;
}

void damaged_file(const std::vector<Edit>& edits, const Checkpoint& seed) {
  Bytes file = seed.file;
  for (const Edit& edit : edits) {
    if (file.empty()) break;
    const std::size_t at = edit.offset() % file.size();
    switch (edit.what % 4) {
      case 0: file[at] ^= std::byte{edit.c == 0 ? std::uint8_t{1} : edit.c}; break;
      case 1: file[at] = std::byte{edit.c}; break;
      case 2: file.resize(at); break;
      default: file.insert(file.begin() + static_cast<std::ptrdiff_t>(at), std::byte{edit.c}); break;
    }
  }
  write_file(seed.rank_file(), file);
  if (restore(seed.manifest, seed) != (file == seed.file)) {
    fail(file == seed.file ? "the intact file was refused" : "a damaged file was accepted");
  }
}

void damaged_data(const std::vector<Edit>& edits, const Checkpoint& seed) {
  std::size_t frame_bytes = 0;
  for (const auto& [offset, size] : seed.frames) frame_bytes += size;
  Bytes file = seed.file;
  for (const Edit& edit : edits) {
    std::size_t at = edit.offset() % frame_bytes;
    for (const auto& [offset, size] : seed.frames) {
      if (at < size) {
        at += offset;
        break;
      }
      at -= size;
    }
    if (edit.what % 2 == 0) file[at] ^= std::byte{edit.c == 0 ? std::uint8_t{1} : edit.c};
    else file[at] = std::byte{edit.c};
  }
  write_file(seed.rank_file(), file);
  detail::Manifest manifest = seed.manifest;
  manifest.ranks[0].file_bytes = file.size();
  manifest.ranks[0].file_xxh3 = XXH3_64bits(file.data(), file.size());
  restore(manifest, seed);
}

void edited_record(const std::vector<Edit>& edits, const Checkpoint& seed) {
  write_file(seed.rank_file(), seed.file);
  detail::Manifest edited = seed.manifest;
  for (const Edit& edit : edits) {
    detail::RankRecord& record = edited.ranks[0];
    detail::RegionRecord* region =
        record.regions.empty() ? nullptr : &record.regions[edit.a % record.regions.size()];
    const auto delta = static_cast<std::int8_t>(edit.c);
    switch (edit.what % 11) {
      case 0: record.file_bytes += static_cast<std::uint64_t>(delta); break;
      case 1: record.file_xxh3 ^= std::uint64_t{1} << (edit.b % 64); break;
      case 2: if (region) region->name += static_cast<char>('a' + edit.c % 26); break;
      case 3: if (region) region->type = static_cast<ElementType>(edit.c % 11); break;
      case 4: if (region) region->shape.push_back(edit.c); break;
      case 5: if (region && !region->shape.empty()) region->shape.pop_back(); break;
      case 6: if (region && !region->shape.empty()) region->shape[edit.b % region->shape.size()] += static_cast<std::size_t>(delta); break;
      case 7: if (region) region->bytes += static_cast<std::uint64_t>(delta) << (edit.b % 64); break;
      case 8: if (region) region->xxh3 ^= std::uint64_t{1} << (edit.b % 64); break;
      case 9: if (region) record.regions.erase(record.regions.begin() + (region - record.regions.data())); break;
      default: edited.version += static_cast<std::uint64_t>(delta); break;
    }
  }
  // The record reaches a restore only through the text of version 7's manifest.
  detail::Manifest manifest;
  try {
    manifest = detail::parse_version_manifest(detail::serialize_manifest(edited), "edited", seed.manifest.version);
  } catch (const lazarus::CorruptCheckpoint&) {
    return;
  }
  const detail::RankRecord& record = manifest.ranks[0];
  if (restore(manifest, seed) && record != seed.manifest.ranks[0]) {
    // Accepted with a record that differs: only in what a restore does not rely on is that right.
    for (const Contents& region : seed.regions) {
      const auto& original = seed.manifest.ranks[0].regions;
      const auto wanted = std::find_if(original.begin(), original.end(), [&](auto& r) { return r.name == region.name; });
      const auto used = std::find_if(record.regions.begin(), record.regions.end(), [&](auto& r) { return r.name == region.name; });
      if (used == record.regions.end() || *used != *wanted) {
        fail(fmt::format("a record that misdescribes region '{}' was accepted", region.name));
      }
    }
    if (record.file_bytes != seed.manifest.ranks[0].file_bytes || record.file_xxh3 != seed.manifest.ranks[0].file_xxh3) {
      fail("a record with another file size or checksum was accepted");
    }
  }
  if (record.file_bytes != seed.file.size() || record.file_xxh3 != seed.manifest.ranks[0].file_xxh3) {
    return;  // the region checks need a file that passes its checksum
  }
  const std::string text = detail::serialize_manifest(manifest);
  lazarus::fuzz::write_new_file(seed.version_dir / detail::kManifestFileName, text);
  const detail::VersionReport report = detail::verify_version(seed.job_dir, manifest.version);
  if (report.intact()) {
    const auto& original = seed.manifest.ranks[0].regions;
    for (const detail::RegionRecord& region : record.regions) {
      if (std::find(original.begin(), original.end(), region) == original.end()) {
        fail(fmt::format("verify_version passed a record that misdescribes region '{}'", region.name));
      }
    }
    // One validation for both: a record that leaves a region of the file out is no intact version.
    if (record.regions.size() != original.size()) fail("verify_version passed a record that leaves a region out");
  }
  std::filesystem::remove(seed.version_dir / detail::kManifestFileName);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Checkpoint& seed = checkpoint();
  if (size == 0) return 0;
  const std::vector<Edit> edits = edits_of(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0: damaged_file(edits, seed); break;
    case 1: damaged_data(edits, seed); break;
    default: edited_record(edits, seed); break;
  }
  return 0;
}
