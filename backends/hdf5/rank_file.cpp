#include "backends/hdf5/rank_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <numeric>
#include <optional>
#include <span>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "backends/hdf5/chunk_compressor.hpp"
#include "backends/hdf5/h5_filters.hpp"
#include "backends/hdf5/h5_types.hpp"
#include "backends/hdf5/rank_file_layout.hpp"
#include "backends/posix/durable_io.hpp"
#include "backends/xxhash/xxh3.hpp"
#include "backends/zstd/zstd_filter.hpp"
#include "lazarus/errors.hpp"

namespace lazarus::backends {
namespace {

using namespace rank_file_layout;

template <class Exception>
void write_attribute(hid_t object, const char* name, hid_t type, const void* value, std::string_view where) {
  H5Dataspace space(h5_check<Exception>(H5Screate(H5S_SCALAR), where));
  H5Attribute attribute(
      h5_check<Exception>(H5Acreate2(object, name, type, space.get(), H5P_DEFAULT, H5P_DEFAULT), where));
  h5_check<Exception>(H5Awrite(attribute.get(), type, value), where);
}

void write_string_attribute(hid_t object, const char* name, const std::string& value, std::string_view where) {
  H5Datatype type(h5_check<IoError>(H5Tcopy(H5T_C_S1), where));
  h5_check<IoError>(H5Tset_size(type.get(), std::max<std::size_t>(value.size(), 1)), where);
  h5_check<IoError>(H5Tset_strpad(type.get(), H5T_STR_NULLPAD), where);
  write_attribute<IoError>(object, name, type.get(), value.c_str(), where);
}

// Large checkpoints write the image's bytes to disk as they are produced; every this many bytes the
// kernel is asked to start writing them back (sync_file_range), so that fsync finds little left.
constexpr std::uint64_t kWritebackStepBytes = std::uint64_t{8} << 20;

// The core driver grows its image by at most this much at a time. It zeroes every new step in full,
// so one step as large as the uncompressed data would touch memory that compression saved; realloc
// moves the pages of a large image instead of copying them.
constexpr std::size_t kImageStepBytes = std::size_t{16} << 20;

// The image the core driver holds, read in place rather than copied with H5Fget_file_image:
// H5Fget_vfd_handle hands out the driver's memory pointer. While the file is open, HDF5 keeps the
// superblock's status flags set ("open for writing"), and H5Fget_file_image clears them in its copy;
// `head` is the start of the superblock with them cleared likewise, to be written (and hashed) in
// place of the image's first bytes. Only for superblock versions 0 and 1, which carry no checksum
// (Lazarus writes version 0); `bytes` is null otherwise, and the caller copies.
struct CoreImage {
  const std::byte* bytes = nullptr;
  std::array<std::byte, 24> head{};  // superblock bytes 0..23; status flags are bytes 20..23
};

CoreImage core_image(hid_t file) {
  CoreImage image;
  void* handle = nullptr;
  if (H5Fget_vfd_handle(file, H5P_DEFAULT, &handle) < 0 || handle == nullptr) return image;
  const auto* bytes = *static_cast<const std::byte* const*>(handle);
  if (bytes == nullptr) return image;
  constexpr unsigned char kSignature[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
  if (std::memcmp(bytes, kSignature, sizeof kSignature) != 0) return image;
  H5F_info2_t info{};
  if (H5Fget_info2(file, &info) < 0 || info.super.version > 1) return image;
  // Signature and version (9 bytes), 11 bytes of versions and sizes, then 4 bytes of status flags.
  std::memcpy(image.head.data(), bytes, image.head.size());
  std::fill(image.head.begin() + 20, image.head.end(), std::byte{0});
  image.bytes = bytes;
  return image;
}

}  // namespace

std::vector<hsize_t> chunk_shape_for(const std::vector<std::size_t>& shape, std::size_t element_bytes,
                                     std::size_t chunk_bytes) {
  const std::size_t target_elements = std::max<std::size_t>(1, chunk_bytes / std::max<std::size_t>(1, element_bytes));
  std::vector<hsize_t> chunk(shape.size(), 1);
  std::size_t inner = 1;  // elements in one chunk from the dimensions already placed
  for (std::size_t i = shape.size(); i-- > 0;) {
    const std::size_t extent = std::max<std::size_t>(1, shape[i]);
    if (inner * extent <= target_elements) {
      chunk[i] = extent;
      inner *= extent;
    } else {
      chunk[i] = std::max<std::size_t>(1, target_elements / inner);
      break;  // outer dimensions stay 1
    }
  }
  return chunk;
}

RankFileWriter::RankFileWriter(std::filesystem::path path, const RankFileHeader& header,
                               StorageSettings settings, std::size_t expected_bytes)
    : path_(std::move(path)), settings_(settings) {
  ensure_zstd_filter_registered();
  H5QuietErrors quiet;
  const std::string where = fmt::format("cannot create checkpoint file {}", path_.string());
  H5PropertyList access(h5_check<IoError>(H5Pcreate(H5P_FILE_ACCESS), where));
  const std::size_t increment = std::min(expected_bytes + (std::size_t{1} << 20), kImageStepBytes);
  h5_check<IoError>(H5Pset_fapl_core(access.get(), increment, /*backing_store=*/0), where);
  file_ = H5File(h5_check<IoError>(H5Fcreate(path_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access.get()), where));
  out_ = open_file(path_, O_WRONLY | O_CREAT | O_TRUNC);
  const hid_t root = file_.get();
  write_attribute<IoError>(root, kFormatAttribute, H5T_NATIVE_INT, &header.format_version, where);
  write_string_attribute(root, kJobAttribute, header.job, where);
  write_attribute<IoError>(root, kVersionAttribute, H5T_NATIVE_UINT64, &header.version, where);
  write_attribute<IoError>(root, kRankAttribute, H5T_NATIVE_INT, &header.rank, where);
  write_attribute<IoError>(root, kNranksAttribute, H5T_NATIVE_INT, &header.nranks, where);
}

void RankFileWriter::write(const RegionPayload& region) { write_region(region, false); }

std::uint64_t RankFileWriter::write_and_hash(const RegionPayload& region) { return write_region(region, true); }

std::uint64_t RankFileWriter::write_region(const RegionPayload& region, bool hash) {
  H5QuietErrors quiet;
  const std::string where = fmt::format("cannot write region '{}' to {}", region.name, path_.string());
  const hid_t type = h5_native_type(region.type);
  const std::size_t elements = region.bytes / element_size(region.type);

  H5Dataspace space;
  H5PropertyList create(h5_check<IoError>(H5Pcreate(H5P_DATASET_CREATE), where));
  std::vector<hsize_t> chunk;  // empty: contiguous
  if (region.shape.empty()) {
    space = H5Dataspace(h5_check<IoError>(H5Screate(H5S_SCALAR), where));
  } else {
    std::vector<hsize_t> dims(region.shape.begin(), region.shape.end());
    space = H5Dataspace(h5_check<IoError>(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), where));
    // Empty datasets and uncompressed checkpoints stay contiguous: filters need chunks.
    if (elements > 0 && settings_.compression_level > 0) {
      chunk = chunk_shape_for(region.shape, element_size(region.type), settings_.chunk_bytes);
      h5_check<IoError>(H5Pset_chunk(create.get(), static_cast<int>(chunk.size()), chunk.data()), where);
      h5_check<IoError>(H5Pset_shuffle(create.get()), where);
      const unsigned level = static_cast<unsigned>(settings_.compression_level);
      h5_check<IoError>(H5Pset_filter(create.get(), kZstdFilterId, H5Z_FLAG_MANDATORY, 1, &level), where);
    }
  }
  // Never fill: every byte is written right after.
  h5_check<IoError>(H5Pset_fill_time(create.get(), H5D_FILL_TIME_NEVER), where);
  H5Dataset dataset(h5_check<IoError>(H5Dcreate2(file_.get(), region.name.c_str(), type, space.get(), H5P_DEFAULT,
                                                 create.get(), H5P_DEFAULT),
                                      where));
  std::uint64_t checksum = region.checksum;
  if (region.ready && chunk.empty()) region.ready(region.bytes);  // written in one piece below
  if (!chunk.empty()) {
    const std::uint64_t hashed = write_chunks(dataset.get(), region, chunk, hash, where);
    if (hash) checksum = hashed;
  } else {
    if (elements > 0) h5_check<IoError>(H5Dwrite(dataset.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, region.data), where);
    if (hash) checksum = xxh3_64(region.data, region.bytes);
  }
  write_attribute<IoError>(dataset.get(), kChecksumAttribute, H5T_NATIVE_UINT64, &checksum, where);
  write_string_attribute(dataset.get(), kElementTypeAttribute, std::string(to_string(region.type)), where);
  if (region.device) write_string_attribute(dataset.get(), kOriginAttribute, "device", where);
  return checksum;
}

std::uint64_t RankFileWriter::write_chunks(hid_t dataset, const RegionPayload& region,
                                           const std::vector<hsize_t>& chunk, bool hash, const std::string& where) {
  const auto slabs = slab_chunks(std::vector<hsize_t>(region.shape.begin(), region.shape.end()), chunk);
  if (!slabs) {  // not a shape chunk_shape_for makes: let HDF5's filter pipeline do it
    if (region.ready) region.ready(region.bytes);
    h5_check<IoError>(H5Dwrite(dataset, h5_native_type(region.type), H5S_ALL, H5S_ALL, H5P_DEFAULT, region.data), where);
    return hash ? xxh3_64(region.data, region.bytes) : 0;
  }
  // Chunks come in memory order, so one streaming hash over them is the hash of the whole region.
  Xxh3Stream hash_state;
  const std::size_t element_bytes = element_size(region.type);
  const std::size_t chunk_bytes = slabs->chunk_elements * element_bytes;
  const auto* data = static_cast<const std::byte*>(region.data);
  ChunkCompressor compressor(settings_.workers, chunk_bytes, element_bytes, settings_.compression_level);
  compressor.run(
      slabs->count,
      [&](std::size_t index) {  // on a worker: where chunk `index` lies
        std::vector<hsize_t> offset;
        std::size_t keep = 0;
        const std::size_t first = slabs->locate(index, offset, keep);
        if (region.ready) region.ready((first + keep) * element_bytes);
        return ChunkSource{data + first * element_bytes, keep * element_bytes};
      },
      [&](std::size_t index, std::span<const std::byte> frame) {  // on this thread, in chunk order
        std::vector<hsize_t> offset;
        std::size_t keep = 0;
        const std::byte* source = data + slabs->locate(index, offset, keep) * element_bytes;
        if (hash) hash_state.update(source, keep * element_bytes);
        const std::string chunk_where = fmt::format("{}: chunk at {}", where, describe_offset(offset));
        h5_check<IoError>(H5Dwrite_chunk(dataset, H5P_DEFAULT, 0, offset.data(), frame.size(), frame.data()),
                          chunk_where);
        unsigned filter_mask = 0;
        haddr_t address = HADDR_UNDEF;
        hsize_t stored = 0;
        h5_check<IoError>(H5Dget_chunk_info_by_coord(dataset, offset.data(), &filter_mask, &address, &stored),
                          chunk_where);
        if (address == HADDR_UNDEF || stored != frame.size()) {
          throw IoError(fmt::format("{}: HDF5 stored {} bytes at {}, expected {}", chunk_where, stored, address,
                                    frame.size()));
        }
        write_extent(frame.data(), {address, frame.size()});
      });
  return hash ? hash_state.digest() : 0;
}

void RankFileWriter::write_extent(const std::byte* data, Extent extent) {
  std::uint64_t done = 0;
  while (done < extent.bytes) {
    const ssize_t n = ::pwrite(out_.get(), data + done, extent.bytes - done, static_cast<off_t>(extent.offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw IoError(fmt::format("cannot write {}: {}", path_.string(), errno_text(errno)));
    }
    done += static_cast<std::uint64_t>(n);
  }
  streamed_.push_back(extent);
  not_kicked_ += extent.bytes;
  if (not_kicked_ >= kWritebackStepBytes) {
#ifdef __linux__
    // Only starts writeback of what is dirty; fsync in finish() still waits for all of it and
    // reports any error.
    ::sync_file_range(out_.get(), 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
    not_kicked_ = 0;
  }
}

WrittenFile RankFileWriter::finish() {
  H5QuietErrors quiet;
  const std::string where = fmt::format("cannot build checkpoint file {}", path_.string());
  h5_check<IoError>(H5Fflush(file_.get(), H5F_SCOPE_LOCAL), where);
  const auto size = static_cast<std::size_t>(h5_check<IoError>(H5Fget_file_image(file_.get(), nullptr, 0), where));
  std::sort(streamed_.begin(), streamed_.end(), [](const Extent& a, const Extent& b) { return a.offset < b.offset; });
  CoreImage in_place = core_image(file_.get());
  std::size_t head_bytes = in_place.head.size();
  if (size < head_bytes || (!streamed_.empty() && streamed_.front().offset < head_bytes)) in_place.bytes = nullptr;
  const std::byte* image = in_place.bytes;
  std::unique_ptr<std::byte[]> copy;
  if (image == nullptr) {
    copy = std::make_unique_for_overwrite<std::byte[]>(size);
    h5_check<IoError>(H5Fget_file_image(file_.get(), copy.get(), size), where);
    image = copy.get();
    head_bytes = 0;
    streamed_.clear();  // write all of the copy
  }
  // Everything the chunks did not cover yet: superblock, object headers, chunk index, attributes.
  std::vector<Extent> gaps;
  std::uint64_t covered = 0;
  for (const Extent& extent : streamed_) {
    if (extent.offset < covered || extent.offset + extent.bytes > size) {
      throw IoError(fmt::format("{}: chunk at {} (+{}) overlaps another or lies past the image's {} bytes", where,
                                extent.offset, extent.bytes, size));
    }
    if (extent.offset > covered) gaps.push_back({covered, extent.offset - covered});
    covered = extent.offset + extent.bytes;
  }
  if (covered < size) gaps.push_back({covered, size - covered});
  for (Extent gap : gaps) {
    if (gap.offset < head_bytes) {  // the first gap starts at 0: the superblock
      write_extent(in_place.head.data(), {0, head_bytes});
      gap = {head_bytes, gap.bytes - head_bytes};
    }
    if (gap.bytes > 0) write_extent(image + gap.offset, gap);
  }
#ifdef __linux__
  ::sync_file_range(out_.get(), 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
  // The checksum of the bytes written, taken while the tail goes to disk.
  Xxh3Stream hash;
  hash.update(in_place.head.data(), head_bytes);
  hash.update(image + head_bytes, size - head_bytes);
  const WrittenFile written{size, hash.digest()};
  if (::fsync(out_.get()) != 0) throw IoError(fmt::format("cannot fsync {}: {}", path_.string(), errno_text(errno)));
  if (::close(out_.release()) != 0) throw IoError(fmt::format("cannot close {}: {}", path_.string(), errno_text(errno)));
  h5_check<IoError>(file_.close(), where);
  return written;
}

}  // namespace lazarus::backends
