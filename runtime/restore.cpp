#include "runtime/restore.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "backends/hdf5/rank_file_reader.hpp"
#include "lazarus/errors.hpp"
#include "runtime/verification.hpp"

namespace lazarus::detail {
namespace {

std::string describe_shape(const std::vector<std::size_t>& shape) {
  return shape.empty() ? std::string("scalar") : fmt::format("[{}]", fmt::join(shape, ", "));
}

const RegionRecord& stored_record_for(const Region& region, const RankRecord& record, std::uint64_t version) {
  auto found = std::find_if(record.regions.begin(), record.regions.end(),
                            [&](const RegionRecord& r) { return r.name == region.name; });
  if (found == record.regions.end()) {
    std::vector<std::string> names;
    for (const auto& r : record.regions) names.push_back(r.name);
    throw MismatchError(fmt::format("region '{}' is not in checkpoint version {} (rank {} stored: {})", region.name,
                                    version, record.rank, names.empty() ? "nothing" : fmt::format("{}", fmt::join(names, ", "))));
  }
  if (found->type != region.type || found->shape != region.shape) {
    throw MismatchError(fmt::format("region '{}' is protected as {} {} but checkpoint version {} stores {} {}",
                                    region.name, to_string(region.type), describe_shape(region.shape), version,
                                    to_string(found->type), describe_shape(found->shape)));
  }
  return *found;
}

}  // namespace

void StagedPiece::apply() const noexcept {
  for (const auto& staged : regions_) std::memcpy(staged.target->data, staged.data.data(), staged.target->bytes());
}

std::size_t StagedPiece::bytes() const noexcept {
  std::size_t total = 0;
  for (const auto& staged : regions_) total += staged.target->bytes();
  return total;
}

StagedPiece stage_rank_piece(const std::filesystem::path& version_dir, const Manifest& manifest, int rank,
                             int nranks, const RegionRegistry& regions) {
  if (manifest.nranks != nranks) {
    throw MismatchError(fmt::format("checkpoint version {} was written by {} ranks; this job runs {}",
                                    manifest.version, manifest.nranks, nranks));
  }
  const RankRecord& record = manifest.ranks.at(static_cast<std::size_t>(rank));
  std::vector<const RegionRecord*> stored;
  for (const Region& region : regions.all()) stored.push_back(&stored_record_for(region, record, manifest.version));

  const auto file = version_dir / record.file;
  check_file_size(file, record.file_bytes);
  try {
    backends::RankFileReader reader(file);
    reader.start_reading();  // the disk reads ahead while the staging memory below is faulted in
    check_file_header(reader.header(), file, manifest, rank);
    for (const RegionRecord* expected : stored) check_region_description(reader, file, *expected);
    StagedPiece piece;
    std::vector<backends::RegionLoad> loads;
    for (const Region& region : regions.all()) {
      piece.regions_.push_back({&region, backends::StagingBuffer(region.bytes())});
      loads.push_back({region.name, piece.regions_.back().data.data(), region.bytes(), 0});
    }
    const std::uint64_t file_checksum = reader.load(loads);
    check_file_checksum(file, record.file_xxh3, file_checksum);
    for (std::size_t i = 0; i < loads.size(); ++i) check_region_checksum(file, *stored[i], loads[i].checksum);
    return piece;
  } catch (const CorruptCheckpoint&) {
    // The one pass over the file stops at the first damage it meets (an unreadable header, a frame
    // that does not decode) before it gets to the file's checksum: report a damaged file as such.
    check_file_intact(file, record.file_bytes, record.file_xxh3);
    throw;
  }
}

}  // namespace lazarus::detail
