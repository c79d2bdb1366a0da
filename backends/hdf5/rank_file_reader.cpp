#include "backends/hdf5/rank_file_reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>
#include <memory>
#include <numeric>
#include <optional>

#include <fmt/format.h>
#include <xxhash.h>

#include "backends/hdf5/byte_shuffle.hpp"
#include "backends/hdf5/h5_filters.hpp"
#include "backends/hdf5/h5_types.hpp"
#include "backends/hdf5/rank_file_layout.hpp"
#include "backends/posix/durable_io.hpp"
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
  ChunkDecoder(const SlabChunks& slabs, std::size_t element_bytes)
      : element_bytes_(element_bytes),
        chunk_elements_(slabs.chunk_elements),
        plain_(std::make_unique_for_overwrite<std::byte[]>(chunk_elements_ * element_bytes)) {}

  std::size_t chunk_bytes() const noexcept { return chunk_elements_ * element_bytes_; }
  std::size_t frame_capacity() const noexcept { return zstd_frame_bound(chunk_bytes()); }

  // Decodes `frame` and writes its first `keep` elements to `out`, adding them to `hash` (when not
  // null). Throws CorruptCheckpoint.
  void decode(std::span<const std::byte> frame, std::byte* out, std::size_t keep, XXH3_state_t* hash,
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
      if (hash != nullptr) XXH3_64bits_update(hash, piece, count * element_bytes_);
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
  const ChunkDecoder decoder(slabs, element_bytes);
  auto frame = std::make_unique_for_overwrite<std::byte[]>(decoder.frame_capacity());
  HashState hash = new_hash_state();  // slab chunks come in memory order: one streaming hash
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
                   hash.get(), chunk_where);
  }
  return XXH3_64bits_digest(hash.get());
}

// Keeps the kernel reading up to kReadAheadBytes beyond `position` of a file of `size` bytes;
// `advised` tracks how far it was asked to. Linux reads at most its readahead window (read_ahead_kb)
// per POSIX_FADV_WILLNEED, so the advice goes out in steps of kAdviceBytes. Advice only: errors are
// of no consequence.
void advise_read_ahead(int fd, std::uint64_t position, std::uint64_t& advised, std::uint64_t size) {
  constexpr std::uint64_t kReadAheadBytes = std::uint64_t{64} << 20;
  constexpr std::uint64_t kAdviceBytes = std::uint64_t{4} << 20;
  const std::uint64_t until = std::min(size, position + kReadAheadBytes);
  while (advised < until) {
    const std::uint64_t step = std::min(kAdviceBytes, size - advised);
    ::posix_fadvise(fd, static_cast<off_t>(advised), static_cast<off_t>(step), POSIX_FADV_WILLNEED);
    advised += step;
  }
}

// Reads a file front to back, once, hashing every byte: `take` hands out the bytes of one extent
// (after hashing whatever lay before it), `finish` hashes the rest. The kernel is asked to read
// ahead of the position, so that the disk works while the caller decodes what it was handed.
class SequentialHashedReader {
 public:
  // `fd` (of `path`, `size` bytes) stays open while this reader lives; the kernel was already asked
  // to read its first `advised` bytes.
  SequentialHashedReader(const std::filesystem::path& path, int fd, std::uint64_t size, std::uint64_t advised,
                         std::size_t buffer_bytes)
      : path_(path), fd_(fd), hash_(new_hash_state()), buffer_bytes_(buffer_bytes),
        buffer_(std::make_unique_for_overwrite<std::byte[]>(buffer_bytes)), size_(size), advised_(advised) {
    ::posix_fadvise(fd_, 0, 0, POSIX_FADV_SEQUENTIAL);
  }

  std::uint64_t size() const noexcept { return size_; }

  // The `bytes` (at most the buffer's size) at `offset`, which must not lie before the position.
  // Valid until the next call. Throws CorruptCheckpoint.
  std::span<const std::byte> take(std::uint64_t offset, std::size_t bytes) {
    skip_to(offset);
    read_into_buffer(bytes);
    return {buffer_.get(), bytes};
  }

  // Hashes the rest of the file; returns the XXH3-64 of all of it.
  std::uint64_t finish() {
    skip_to(size_);
    return XXH3_64bits_digest(hash_.get());
  }

 private:
  void skip_to(std::uint64_t offset) {
    while (position_ < offset) read_into_buffer(static_cast<std::size_t>(std::min<std::uint64_t>(offset - position_, buffer_bytes_)));
  }

  void read_into_buffer(std::size_t bytes) {
    if (position_ + bytes > size_) {
      throw CorruptCheckpoint(fmt::format("{}: {} bytes at {} lie past its end ({} bytes)", path_.string(), bytes,
                                          position_, size_));
    }
    advise_read_ahead(fd_, position_, advised_, size_);
    std::size_t done = 0;
    while (done < bytes) {
      const ssize_t n = ::pread(fd_, buffer_.get() + done, bytes - done, static_cast<off_t>(position_ + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw CorruptCheckpoint(fmt::format("cannot read {}: {}", path_.string(), errno_text(errno)));
      if (n == 0) throw CorruptCheckpoint(fmt::format("{} ended early, at {} bytes", path_.string(), position_ + done));
      done += static_cast<std::size_t>(n);
    }
    XXH3_64bits_update(hash_.get(), buffer_.get(), bytes);
    position_ += bytes;
  }

  std::filesystem::path path_;
  int fd_;
  HashState hash_;
  std::size_t buffer_bytes_;
  std::unique_ptr<std::byte[]> buffer_;
  std::uint64_t size_ = 0;
  std::uint64_t position_ = 0;  // bytes read and hashed so far
  std::uint64_t advised_ = 0;   // bytes the kernel was asked to read ahead
};

}  // namespace

RankFileReader::RankFileReader(std::filesystem::path path) : path_(std::move(path)) {
  ensure_zstd_filter_registered();
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw CorruptCheckpoint(fmt::format("cannot open {}: {}", path_.string(), errno_text(errno)));
  fd_ = FileDescriptor(fd);
  struct stat status {};
  if (::fstat(fd_.get(), &status) != 0) {
    throw CorruptCheckpoint(fmt::format("cannot stat {}: {}", path_.string(), errno_text(errno)));
  }
  size_ = static_cast<std::uint64_t>(status.st_size);
  H5QuietErrors quiet;
  file_ = H5File(h5_check<CorruptCheckpoint>(H5Fopen(path_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT),
                                             fmt::format("cannot open checkpoint file {}", path_.string())));
}

void RankFileReader::start_reading() { advise_read_ahead(fd_.get(), 0, read_ahead_until_, size_); }

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
  if (bytes == 0) return XXH3_64bits(destination, 0);
  H5Dataset dataset(h5_check<CorruptCheckpoint>(H5Dopen2(file_.get(), name.c_str(), H5P_DEFAULT), where));
  if (const auto slabs = direct_chunk_layout(dataset.get(), stored)) {
    const auto checksum = read_chunks_directly(dataset.get(), *slabs, stored, static_cast<std::byte*>(destination), where);
    if (checksum) return *checksum;
  }
  h5_check<CorruptCheckpoint>(
      H5Dread(dataset.get(), h5_native_type(stored.type), H5S_ALL, H5S_ALL, H5P_DEFAULT, destination), where);
  return XXH3_64bits(destination, bytes);
}

std::uint64_t RankFileReader::load(std::span<RegionLoad> loads) const {
  H5QuietErrors quiet;
  // Plan: where every chunk of every region in the direct-chunk form lies in the file. Anything else
  // (scalars, uncompressed data, other writers' layouts) is read with read() after the pass.
  struct Piece {
    std::uint64_t address = 0;
    std::size_t frame_bytes = 0;
    std::size_t load = 0;   // index into `loads`
    std::size_t first = 0;  // first element in the destination
    std::size_t keep = 0;   // elements that lie inside the dataset
    std::vector<hsize_t> offset;
  };
  struct Plan {
    std::optional<ChunkDecoder> decoder;
    std::size_t element_bytes = 0;
    HashState hash;
    std::size_t next_first = 0;  // the hash streams while chunks arrive in memory order
    bool in_order = true;
  };
  std::vector<Piece> pieces;
  std::vector<Plan> plans(loads.size());
  std::vector<std::size_t> read_after;
  std::size_t largest_frame = std::size_t{1} << 20;
  for (std::size_t i = 0; i < loads.size(); ++i) {
    const RegionLoad& load = loads[i];
    const StoredRegion stored = describe(load.name);
    const std::string where = fmt::format("cannot read region '{}' from {}", load.name, path_.string());
    if (stored.bytes != load.bytes) {
      throw CorruptCheckpoint(fmt::format("{}: holds {} bytes, expected {}", where, stored.bytes, load.bytes));
    }
    H5Dataset dataset(h5_check<CorruptCheckpoint>(H5Dopen2(file_.get(), load.name.c_str(), H5P_DEFAULT), where));
    const auto slabs = load.bytes == 0 ? std::nullopt : direct_chunk_layout(dataset.get(), stored);
    if (!slabs) {
      read_after.push_back(i);
      continue;
    }
    Plan& plan = plans[i];
    plan.element_bytes = element_size(stored.type);
    plan.decoder.emplace(*slabs, plan.element_bytes);
    plan.hash = new_hash_state();
    std::vector<Piece> chunks;
    for (std::size_t index = 0; index < slabs->count; ++index) {
      Piece piece;
      piece.load = i;
      piece.first = slabs->locate(index, piece.offset, piece.keep);
      unsigned skipped_filters = 0;
      haddr_t address = HADDR_UNDEF;
      hsize_t frame_bytes = 0;
      h5_check<CorruptCheckpoint>(H5Dget_chunk_info_by_coord(dataset.get(), piece.offset.data(), &skipped_filters,
                                                              &address, &frame_bytes),
                                  fmt::format("{}: chunk at {}", where, describe_offset(piece.offset)));
      if (skipped_filters != 0) break;  // not how Lazarus writes: read() takes the whole region
      if (address == HADDR_UNDEF || frame_bytes == 0 || frame_bytes > plan.decoder->frame_capacity()) {
        throw CorruptCheckpoint(fmt::format("{}: chunk at {} is {} bytes at {}, not a zstd frame of a {}-byte chunk",
                                            where, describe_offset(piece.offset), frame_bytes, address,
                                            plan.decoder->chunk_bytes()));
      }
      piece.address = address;
      piece.frame_bytes = static_cast<std::size_t>(frame_bytes);
      largest_frame = std::max(largest_frame, piece.frame_bytes);
      chunks.push_back(std::move(piece));
    }
    if (chunks.size() != slabs->count) {
      plans[i] = Plan{};
      read_after.push_back(i);
      continue;
    }
    std::move(chunks.begin(), chunks.end(), std::back_inserter(pieces));
  }
  std::sort(pieces.begin(), pieces.end(), [](const Piece& a, const Piece& b) { return a.address < b.address; });

  // The pass: every byte of the file read once and hashed; each chunk decoded while it is in cache.
  SequentialHashedReader file(path_, fd_.get(), size_, read_ahead_until_, largest_frame);
  std::uint64_t end_of_previous = 0;
  for (const Piece& piece : pieces) {
    const std::string where = fmt::format("cannot read region '{}' from {}: chunk at {}", loads[piece.load].name,
                                          path_.string(), describe_offset(piece.offset));
    if (piece.address < end_of_previous) throw CorruptCheckpoint(where + " overlaps another chunk");
    end_of_previous = piece.address + piece.frame_bytes;
    Plan& plan = plans[piece.load];
    std::byte* const out = loads[piece.load].destination + piece.first * plan.element_bytes;
    if (piece.first != plan.next_first) plan.in_order = false;
    plan.next_first = piece.first + piece.keep;
    plan.decoder->decode(file.take(piece.address, piece.frame_bytes), out, piece.keep,
                         plan.in_order ? plan.hash.get() : nullptr, where);
  }
  const std::uint64_t file_checksum = file.finish();

  for (std::size_t i = 0; i < loads.size(); ++i) {
    RegionLoad& load = loads[i];
    if (!plans[i].decoder) continue;
    load.checksum = plans[i].in_order ? XXH3_64bits_digest(plans[i].hash.get()) : XXH3_64bits(load.destination, load.bytes);
  }
  for (const std::size_t i : read_after) loads[i].checksum = read(loads[i].name, loads[i].destination, loads[i].bytes);
  return file_checksum;
}

}  // namespace lazarus::backends
