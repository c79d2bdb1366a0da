#include "runtime/format/rank_piece.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "lazarus/errors.hpp"
#include "runtime/format/rank_file_checks.hpp"

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

void VerifiedPiece::apply() const {
  const std::vector<std::uint64_t> checksums = reader_->load(plan_);
  for (const DeviceTarget& target : device_targets_) {
    backends::copy_to_device(target.region->data, target.host.data(), target.host.size());
  }
  try {
    for (std::size_t i = 0; i < expected_.size(); ++i) check_region_checksum(file_, expected_[i], checksums[i]);
  } catch (const CorruptCheckpoint& problem) {
    throw CorruptCheckpoint(fmt::format("{} although the file's checksum matched: the data were damaged before "
                                        "they were written; protected memory is partly overwritten",
                                        problem.what()));
  }
}

std::size_t VerifiedPiece::bytes() const noexcept {
  std::size_t total = 0;
  for (const auto& region : expected_) total += region.bytes;
  return total;
}

VerifiedPiece verify_rank_piece(const std::filesystem::path& version_dir, const Manifest& manifest, int rank,
                                int nranks, const RegionRegistry& regions) {
  if (manifest.nranks != nranks) {
    throw MismatchError(fmt::format("checkpoint version {} was written by {} ranks; this job runs {}",
                                    manifest.version, manifest.nranks, nranks));
  }
  const RankRecord& record = manifest.ranks.at(static_cast<std::size_t>(rank));
  VerifiedPiece piece;
  for (const Region& region : regions.all()) piece.expected_.push_back(stored_record_for(region, record, manifest.version));

  piece.file_ = version_dir / record.file;
  check_file_size(piece.file_, record.file_bytes);
  try {
    piece.contents_ = backends::read_and_hash_file(piece.file_, record.file_bytes);
  } catch (const IoError& problem) {
    throw CorruptCheckpoint(problem.what());
  }
  check_file_checksum(piece.file_, record.file_xxh3, piece.contents_.xxh3);
  // Only now may HDF5 parse the file: damaged metadata can crash or hang the library.
  piece.reader_ = std::make_unique<backends::RankFileReader>(
      piece.file_, std::span<const std::byte>(piece.contents_.bytes.data(), piece.contents_.bytes.size()));
  check_rank_file_contents(*piece.reader_, piece.file_, manifest, record);
  std::vector<backends::RegionLoad> loads;
  for (std::size_t i = 0; i < regions.all().size(); ++i) {
    const Region& region = regions.all()[i];
    std::byte* destination = static_cast<std::byte*>(region.data);
    if (region.device) {
      piece.device_targets_.push_back({&region, backends::PinnedBuffer(region.bytes())});
      destination = piece.device_targets_.back().host.data();
    }
    loads.push_back({region.name, destination, region.bytes()});
  }
  // Each dataset is described once, by the plan.
  piece.plan_ = piece.reader_->plan_load(std::move(loads));
  for (std::size_t i = 0; i < piece.expected_.size(); ++i) {
    check_region_description(piece.plan_.stored(i), piece.file_, piece.expected_[i]);
  }
  return piece;
}

}  // namespace lazarus::detail
