#pragma once
// A version's manifest: the record, written once by the publishing rank (rank 0; at a node-local
// level, one rank per node) after every rank's data is durable, that makes the version complete. It
// lists every rank's file and regions with their checksums and carries a checksum of its own.
// docs/file-format.md specifies it.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lazarus/element_type.hpp"
#include "runtime/levels/placement.hpp"

namespace lazarus::detail {

inline constexpr int kFormatVersion = 1;
inline constexpr const char* kManifestFileName = "manifest.json";

struct RegionRecord {
  std::string name;
  ElementType type = ElementType::u8;
  std::vector<std::size_t> shape;  // empty: a scalar
  std::uint64_t bytes = 0;
  std::uint64_t xxh3 = 0;  // of the uncompressed bytes
  bool device = false;     // written from CUDA device memory (it may be restored into either kind)
  friend bool operator==(const RegionRecord&, const RegionRecord&) = default;
};

struct RankRecord {
  int rank = 0;
  std::string file;  // relative to the version folder
  std::uint64_t file_bytes = 0;
  std::uint64_t file_xxh3 = 0;  // of the whole file as written
  std::vector<RegionRecord> regions;
  friend bool operator==(const RankRecord&, const RankRecord&) = default;
};

struct Manifest {
  int format_version = kFormatVersion;
  std::string job;
  std::uint64_t version = 0;
  int nranks = 0;
  std::int64_t created_unix_ms = 0;  // milliseconds since 1970 (integers keep the checksum portable)
  int compression_level = 0;
  std::size_t chunk_bytes = 0;
  std::vector<RankRecord> ranks;  // ranks[i].rank == i
  std::optional<Placement> placement;  // node-local (multi-level) versions only
  friend bool operator==(const Manifest&, const Manifest&) = default;
};

// One rank's record as text, to gather it at rank 0.
std::string serialize_rank_record(const RankRecord& record);
RankRecord parse_rank_record(std::string_view text);

// The manifest as JSON text, with its checksum.
std::string serialize_manifest(const Manifest& manifest);
// Parses and verifies manifest text; throws CorruptCheckpoint naming `source` when the JSON is
// malformed, a field is missing or has the wrong type, the checksum does not match, the format
// version is newer than this build understands, or the manifest contradicts itself (rank entries
// missing, repeated or out of order; a region listed twice by one rank; a region's byte count other
// than its shape times its element size; a rank file not named as the format names it).
Manifest parse_manifest(std::string_view text, const std::string& source);
// The manifest of version `version`, from the text of that version folder's manifest: parse_manifest,
// and the version it records is `version` (a folder replaced by a copy of another version is not that
// version). Every reader of a version goes through this (restore at every level, scavenge, `lazarus
// verify` and `list`). Throws CorruptCheckpoint.
Manifest parse_version_manifest(std::string_view text, const std::string& source, std::uint64_t version);

// Writes `<version_dir>/manifest.json` atomically (temporary, fsync, rename, fsync). Throws IoError.
// `before_rename` runs between the durable temporary and the rename (the fault-injection point).
void write_manifest(const std::filesystem::path& version_dir, const Manifest& manifest,
                    const std::function<void()>& before_rename = {});
// Reads and verifies `<version_dir>/manifest.json`. Throws NoCheckpoint when absent, CorruptCheckpoint
// when it does not verify.
Manifest read_manifest(const std::filesystem::path& version_dir);
// read_manifest, checked with parse_version_manifest: `<version_dir>/manifest.json` of version `version`.
Manifest read_version_manifest(const std::filesystem::path& version_dir, std::uint64_t version);
// The text of `<version_dir>/manifest.json`, unparsed (one rank reads it, every rank parses it).
// Throws NoCheckpoint when absent, CorruptCheckpoint when it cannot be read.
std::string read_manifest_text(const std::filesystem::path& version_dir);
// Reads and verifies the manifest in `file` (manifest.json, or a set-aside manifest.corrupt).
// Throws CorruptCheckpoint when it cannot be read or does not verify.
Manifest read_manifest_file(const std::filesystem::path& file);

}  // namespace lazarus::detail
