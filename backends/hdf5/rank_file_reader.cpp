#include "backends/hdf5/rank_file_reader.hpp"

#include <hdf5_hl.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <numeric>
#include <optional>

#include <fmt/format.h>

#include "backends/hdf5/byte_shuffle.hpp"
#include "backends/hdf5/h5_filters.hpp"
#include "backends/hdf5/h5_types.hpp"
#include "backends/hdf5/rank_file_layout.hpp"
#include "backends/xxhash/xxh3.hpp"
#include "backends/zstd/zstd_filter.hpp"
#include "lazarus/errors.hpp"

namespace lazarus::backends {
namespace {

using namespace rank_file_layout;

template <class T>
T read_attribute(hid_t object, const char* name, hid_t type, std::string_view where) {
  H5Attribute attribute(h5_check<CorruptCheckpoint>(H5Aopen(object, name, H5P_DEFAULT), where));
  T value{};
  h5_check<CorruptCheckpoint>(H5Aread(attribute.get(), type, &value), where);
  return value;
}

std::string read_string_attribute(hid_t object, const char* name, std::string_view where) {
  H5Attribute attribute(h5_check<CorruptCheckpoint>(H5Aopen(object, name, H5P_DEFAULT), where));
  H5Datatype stored(h5_check<CorruptCheckpoint>(H5Aget_type(attribute.get()), where));
  if (H5Tget_class(stored.get()) != H5T_STRING || H5Tis_variable_str(stored.get()) > 0) {
    throw CorruptCheckpoint(fmt::format("{}: attribute {} is not a fixed-length string", where, name));
  }
  std::string value(H5Tget_size(stored.get()), '\0');
  h5_check<CorruptCheckpoint>(H5Aread(attribute.get(), stored.get(), value.data()), where);
  value.resize(std::strlen(value.c_str()));
  return value;
}

// The chunks of a dataset stored the way RankFileWriter stores them: shuffle + zstd, the native type,
// slab chunks (see rank_file_layout.hpp). nullopt for a dataset in any other form (valid HDF5 that
// another writer made); H5Dread then reads it.
std::optional<SlabChunks> direct_chunk_layout(hid_t dataset, const StoredRegion& stored) {
  if (stored.shape.empty()) return std::nullopt;
  H5PropertyList create(H5Dget_create_plist(dataset));
  if (create.get() < 0 || H5Pget_layout(create.get()) != H5D_CHUNKED || H5Pget_nfilters(create.get()) != 2) {
    return std::nullopt;
  }
  const H5Z_filter_t expected_filters[2] = {H5Z_FILTER_SHUFFLE, kZstdFilterId};
  for (unsigned i = 0; i < 2; ++i) {
    unsigned flags = 0;
    std::size_t values = 0;
    unsigned config = 0;
    if (H5Pget_filter2(create.get(), i, &flags, &values, nullptr, 0, nullptr, &config) != expected_filters[i]) {
      return std::nullopt;
    }
  }
  H5Datatype file_type(H5Dget_type(dataset));
  if (file_type.get() < 0 || H5Tequal(file_type.get(), h5_native_type(stored.type)) <= 0) return std::nullopt;
  const auto rank = static_cast<int>(stored.shape.size());
  std::vector<hsize_t> chunk(stored.shape.size());
  if (H5Pget_chunk(create.get(), rank, chunk.data()) != rank) return std::nullopt;
  return slab_chunks(std::vector<hsize_t>(stored.shape.begin(), stored.shape.end()), chunk);
}

// Turns stored chunks (one zstd frame of the shuffled chunk each) back into data, through one
// reusable buffer.
class ChunkDecoder {
  static constexpr std::size_t kHashPieceBytes = std::size_t{256} << 10;

 public:
  ChunkDecoder(std::size_t chunk_elements, std::size_t element_bytes)
      : element_bytes_(element_bytes),
        chunk_elements_(chunk_elements),
        plain_(std::make_unique_for_overwrite<std::byte[]>(chunk_elements_ * element_bytes)) {}

  std::size_t chunk_bytes() const noexcept { return chunk_elements_ * element_bytes_; }
  std::size_t frame_capacity() const noexcept { return zstd_frame_bound(chunk_bytes()); }

  // Decodes `frame` and writes its first `keep` elements to `out`, adding them to `hash` (when not
  // null). Throws CorruptCheckpoint.
  void decode(std::span<const std::byte> frame, std::byte* out, std::size_t keep, Xxh3Stream* hash,
              const std::string& where) const {
    if (!zstd_decompress_frame(frame, {plain_.get(), chunk_bytes()})) {
      throw CorruptCheckpoint(fmt::format("{}: not one valid zstd frame of {} bytes", where, chunk_bytes()));
    }
    // Unshuffled a piece at a time, each hashed while it is still in the core's cache: a chunk is
    // larger than that cache. Elements [first, first + n) of a shuffled chunk are the chunk itself
    // shifted by `first` (byte j of element i sits at j * elements + i).
    const std::size_t piece_elements = std::max<std::size_t>(1, kHashPieceBytes / element_bytes_);
    for (std::size_t first = 0; first < keep; first += piece_elements) {
      const std::size_t count = std::min(piece_elements, keep - first);
      std::byte* const piece = out + first * element_bytes_;
      unshuffle_bytes(plain_.get() + first, chunk_elements_, element_bytes_, piece, count);
      if (hash != nullptr) hash->update(piece, count * element_bytes_);
    }
  }

 private:
  std::size_t element_bytes_;
  std::size_t chunk_elements_;
  std::unique_ptr<std::byte[]> plain_;
};

// Reads a dataset in the direct-chunk form with H5Dread_chunk, decoding straight into `destination`.
// Returns the XXH3-64 of the bytes written there, or nullopt for a chunk stored with a filter skipped
// (valid HDF5, but not how Lazarus writes; H5Dread then reads the dataset again).
std::optional<std::uint64_t> read_chunks_directly(hid_t dataset, const SlabChunks& slabs, const StoredRegion& stored,
                                   std::byte* destination, const std::string& where) {
  const std::size_t element_bytes = element_size(stored.type);
  const ChunkDecoder decoder(slabs.chunk_elements, element_bytes);
  auto frame = std::make_unique_for_overwrite<std::byte[]>(decoder.frame_capacity());
  Xxh3Stream hash;  // slab chunks come in memory order: one streaming hash
  std::vector<hsize_t> offset;
  for (std::size_t index = 0; index < slabs.count; ++index) {
    std::size_t keep = 0;
    const std::size_t first = slabs.locate(index, offset, keep);
    const std::string chunk_where = fmt::format("{}: chunk at {}", where, describe_offset(offset));
    hsize_t frame_bytes = 0;
    h5_check<CorruptCheckpoint>(H5Dget_chunk_storage_size(dataset, offset.data(), &frame_bytes), chunk_where);
    if (frame_bytes == 0 || frame_bytes > decoder.frame_capacity()) {
      throw CorruptCheckpoint(fmt::format("{} is {} bytes, not a zstd frame of a {}-byte chunk", chunk_where,
                                          frame_bytes, decoder.chunk_bytes()));
    }
    std::uint32_t skipped_filters = 0;
    h5_check<CorruptCheckpoint>(H5Dread_chunk(dataset, H5P_DEFAULT, offset.data(), &skipped_filters, frame.get()),
                                chunk_where);
    if (skipped_filters != 0) return std::nullopt;
    decoder.decode({frame.get(), static_cast<std::size_t>(frame_bytes)}, destination + first * element_bytes, keep,
                   &hash, chunk_where);
  }
  return hash.digest();
}

}  // namespace

RankFileReader::RankFileReader(std::filesystem::path path) : path_(std::move(path)) {
  ensure_zstd_filter_registered();
  H5QuietErrors quiet;
  file_ = H5File(h5_check<CorruptCheckpoint>(H5Fopen(path_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT),
                                             fmt::format("cannot open checkpoint file {}", path_.string())));
}

RankFileReader::RankFileReader(std::filesystem::path path, std::span<const std::byte> image)
    : path_(std::move(path)), image_(image) {
  ensure_zstd_filter_registered();
  H5QuietErrors quiet;
  // HDF5 reads the caller's memory in place (no copy) and never frees or changes it.
  constexpr unsigned kInPlace = H5LT_FILE_IMAGE_DONT_COPY | H5LT_FILE_IMAGE_DONT_RELEASE;
  file_ = H5File(h5_check<CorruptCheckpoint>(
      H5LTopen_file_image(const_cast<std::byte*>(image.data()), image.size(), kInPlace),
      fmt::format("cannot open checkpoint file {} (in memory)", path_.string())));
}

RankFileHeader RankFileReader::header() const {
  H5QuietErrors quiet;
  const std::string where = fmt::format("bad file attributes in {}", path_.string());
  const hid_t root = file_.get();
  RankFileHeader header;
  header.format_version = read_attribute<int>(root, kFormatAttribute, H5T_NATIVE_INT, where);
  header.job = read_string_attribute(root, kJobAttribute, where);
  header.version = read_attribute<std::uint64_t>(root, kVersionAttribute, H5T_NATIVE_UINT64, where);
  header.rank = read_attribute<int>(root, kRankAttribute, H5T_NATIVE_INT, where);
  header.nranks = read_attribute<int>(root, kNranksAttribute, H5T_NATIVE_INT, where);
  return header;
}

std::vector<std::string> RankFileReader::names() const {
  H5QuietErrors quiet;
  std::vector<std::string> names;
  auto collect = [](hid_t, const char* name, const H5L_info_t*, void* out) -> herr_t {
    static_cast<std::vector<std::string>*>(out)->emplace_back(name);
    return 0;
  };
  h5_check<CorruptCheckpoint>(H5Literate(file_.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect, &names),
                              fmt::format("cannot list the datasets of {}", path_.string()));
  return names;
}

StoredRegion RankFileReader::describe(const std::string& name) const {
  H5QuietErrors quiet;
  const std::string where = fmt::format("region '{}' in {}", name, path_.string());
  if (H5Lexists(file_.get(), name.c_str(), H5P_DEFAULT) <= 0) {
    throw CorruptCheckpoint(fmt::format("{}: dataset missing", where));
  }
  H5Dataset dataset(h5_check<CorruptCheckpoint>(H5Dopen2(file_.get(), name.c_str(), H5P_DEFAULT), where));
  H5Datatype type(h5_check<CorruptCheckpoint>(H5Dget_type(dataset.get()), where));
  H5Dataspace space(h5_check<CorruptCheckpoint>(H5Dget_space(dataset.get()), where));
  StoredRegion stored;
  stored.name = name;
  stored.type = element_type_from_string(read_string_attribute(dataset.get(), kElementTypeAttribute, where));
  if (element_type_of_h5(type.get()) != (stored.type == ElementType::bytes ? ElementType::u8 : stored.type)) {
    throw CorruptCheckpoint(fmt::format("{}: HDF5 type disagrees with its element-type attribute", where));
  }
  const int rank = h5_check<CorruptCheckpoint>(H5Sget_simple_extent_ndims(space.get()), where);
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  h5_check<CorruptCheckpoint>(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr), where);
  if (H5Sget_simple_extent_type(space.get()) != H5S_SCALAR) stored.shape.assign(dims.begin(), dims.end());
  const std::size_t elements =
      std::accumulate(stored.shape.begin(), stored.shape.end(), std::size_t{1}, std::multiplies<>());
  stored.bytes = elements * element_size(stored.type);
  stored.checksum = read_attribute<std::uint64_t>(dataset.get(), kChecksumAttribute, H5T_NATIVE_UINT64, where);
  return stored;
}

std::uint64_t RankFileReader::read(const std::string& name, void* destination, std::size_t bytes) const {
  const StoredRegion stored = describe(name);
  H5QuietErrors quiet;
  const std::string where = fmt::format("cannot read region '{}' from {}", name, path_.string());
  if (stored.bytes != bytes) {
    throw CorruptCheckpoint(fmt::format("{}: holds {} bytes, expected {}", where, stored.bytes, bytes));
  }
  if (bytes == 0) return xxh3_64(destination, 0);
  H5Dataset dataset(h5_check<CorruptCheckpoint>(H5Dopen2(file_.get(), name.c_str(), H5P_DEFAULT), where));
  if (const auto slabs = direct_chunk_layout(dataset.get(), stored)) {
    const auto checksum = read_chunks_directly(dataset.get(), *slabs, stored, static_cast<std::byte*>(destination), where);
    if (checksum) return *checksum;
  }
  h5_check<CorruptCheckpoint>(
      H5Dread(dataset.get(), h5_native_type(stored.type), H5S_ALL, H5S_ALL, H5P_DEFAULT, destination), where);
  return xxh3_64(destination, bytes);
}

LoadPlan RankFileReader::plan_load(std::vector<RegionLoad> loads) const {
  if (image_.empty()) throw Error(fmt::format("{}: plan_load needs the file in memory", path_.string()));
  H5QuietErrors quiet;
  LoadPlan plan;
  for (RegionLoad& load : loads) {
    const StoredRegion stored = describe(load.name);
    const std::string where = fmt::format("cannot read region '{}' from {}", load.name, path_.string());
    if (stored.bytes != load.bytes) {
      throw CorruptCheckpoint(fmt::format("{}: holds {} bytes, expected {}", where, stored.bytes, load.bytes));
    }
    LoadPlan::Region region{std::move(load), stored, element_size(stored.type), {}, {}};
    H5Dataset dataset(h5_check<CorruptCheckpoint>(H5Dopen2(file_.get(), region.load.name.c_str(), H5P_DEFAULT), where));
    const auto slabs = region.load.bytes == 0 ? std::nullopt : direct_chunk_layout(dataset.get(), stored);
    if (slabs) {
      region.chunk_elements = slabs->chunk_elements;
      const std::size_t frame_capacity = zstd_frame_bound(slabs->chunk_elements * region.element_bytes);
      std::vector<hsize_t> offset;
      for (std::size_t index = 0; index < slabs->count; ++index) {
        LoadPlan::Chunk chunk;
        chunk.first = slabs->locate(index, offset, chunk.keep);
        unsigned skipped_filters = 0;
        haddr_t address = HADDR_UNDEF;
        hsize_t frame_bytes = 0;
        const std::string chunk_where = fmt::format("{}: chunk at {}", where, describe_offset(offset));
        h5_check<CorruptCheckpoint>(
            H5Dget_chunk_info_by_coord(dataset.get(), offset.data(), &skipped_filters, &address, &frame_bytes),
            chunk_where);
        if (skipped_filters != 0) {  // not how Lazarus writes: H5Dread takes the whole region
          region.chunks.clear();
          break;
        }
        if (address == HADDR_UNDEF || frame_bytes == 0 || frame_bytes > frame_capacity ||
            address > image_.size() || frame_bytes > image_.size() - address) {
          throw CorruptCheckpoint(fmt::format("{} is {} bytes at {}: not a zstd frame of a {}-byte chunk inside the "
                                              "{}-byte file",
                                              chunk_where, frame_bytes, address,
                                              slabs->chunk_elements * region.element_bytes, image_.size()));
        }
        chunk.frame = image_.subspan(static_cast<std::size_t>(address), static_cast<std::size_t>(frame_bytes));
        chunk.where = chunk_where;
        region.chunks.push_back(std::move(chunk));
      }
    }
    plan.regions_.push_back(std::move(region));
  }
  return plan;
}

std::vector<std::uint64_t> RankFileReader::load(const LoadPlan& plan) const {
  std::vector<std::uint64_t> checksums;
  for (const LoadPlan::Region& region : plan.regions_) {
    const RegionLoad& load = region.load;
    if (region.chunks.empty()) {
      checksums.push_back(read(load.name, load.destination, load.bytes));
      continue;
    }
    const ChunkDecoder decoder(region.chunk_elements, region.element_bytes);
    Xxh3Stream hash;  // slab chunks come in memory order: one streaming hash
    for (const LoadPlan::Chunk& chunk : region.chunks) {
      decoder.decode(chunk.frame, load.destination + chunk.first * region.element_bytes, chunk.keep, &hash,
                     chunk.where);
    }
    checksums.push_back(hash.digest());
  }
  return checksums;
}

}  // namespace lazarus::backends
