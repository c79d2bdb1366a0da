#include "backends/hdf5/rank_file.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <numeric>
#include <span>

#include <fmt/format.h>
#include <xxhash.h>

#include "backends/hdf5/h5_filters.hpp"
#include "backends/hdf5/h5_types.hpp"
#include "backends/posix/durable_io.hpp"
#include "backends/zstd/zstd_filter.hpp"
#include "lazarus/errors.hpp"

namespace lazarus::backends {
namespace {

// Attribute names; docs/file-format.md lists them.
constexpr const char* kFormatAttribute = "lazarus_format_version";
constexpr const char* kJobAttribute = "lazarus_job";
constexpr const char* kVersionAttribute = "lazarus_version";
constexpr const char* kRankAttribute = "lazarus_rank";
constexpr const char* kNranksAttribute = "lazarus_nranks";
constexpr const char* kChecksumAttribute = "lazarus_xxh3_64";
constexpr const char* kElementTypeAttribute = "lazarus_element_type";

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
  // One allocation as large as the uncompressed data (plus metadata): pages never written cost nothing.
  const std::size_t increment = expected_bytes + (std::size_t{1} << 20);
  h5_check<IoError>(H5Pset_fapl_core(access.get(), increment, /*backing_store=*/0), where);
  file_ = H5File(h5_check<IoError>(H5Fcreate(path_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, access.get()), where));
  const hid_t root = file_.get();
  write_attribute<IoError>(root, kFormatAttribute, H5T_NATIVE_INT, &header.format_version, where);
  write_string_attribute(root, kJobAttribute, header.job, where);
  write_attribute<IoError>(root, kVersionAttribute, H5T_NATIVE_UINT64, &header.version, where);
  write_attribute<IoError>(root, kRankAttribute, H5T_NATIVE_INT, &header.rank, where);
  write_attribute<IoError>(root, kNranksAttribute, H5T_NATIVE_INT, &header.nranks, where);
}

void RankFileWriter::write(const RegionPayload& region) {
  H5QuietErrors quiet;
  const std::string where = fmt::format("cannot write region '{}' to {}", region.name, path_.string());
  const hid_t type = h5_native_type(region.type);
  const std::size_t elements = region.bytes / element_size(region.type);

  H5Dataspace space;
  H5PropertyList create(h5_check<IoError>(H5Pcreate(H5P_DATASET_CREATE), where));
  if (region.shape.empty()) {
    space = H5Dataspace(h5_check<IoError>(H5Screate(H5S_SCALAR), where));
  } else {
    std::vector<hsize_t> dims(region.shape.begin(), region.shape.end());
    space = H5Dataspace(h5_check<IoError>(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), where));
    // Empty datasets and uncompressed checkpoints stay contiguous: filters need chunks.
    if (elements > 0 && settings_.compression_level > 0) {
      std::vector<hsize_t> chunk = chunk_shape_for(region.shape, element_size(region.type), settings_.chunk_bytes);
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
  if (elements > 0) {
    h5_check<IoError>(H5Dwrite(dataset.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, region.data), where);
  }
  write_attribute<IoError>(dataset.get(), kChecksumAttribute, H5T_NATIVE_UINT64, &region.checksum, where);
  write_string_attribute(dataset.get(), kElementTypeAttribute, std::string(to_string(region.type)), where);
}

WrittenFile RankFileWriter::finish() {
  H5QuietErrors quiet;
  const std::string where = fmt::format("cannot build checkpoint file {}", path_.string());
  h5_check<IoError>(H5Fflush(file_.get(), H5F_SCOPE_LOCAL), where);
  const ssize_t size = h5_check<IoError>(H5Fget_file_image(file_.get(), nullptr, 0), where);
  auto image = std::make_unique_for_overwrite<std::byte[]>(static_cast<std::size_t>(size));
  h5_check<IoError>(H5Fget_file_image(file_.get(), image.get(), static_cast<std::size_t>(size)), where);
  h5_check<IoError>(file_.close(), where);
  const std::span<const std::byte> bytes(image.get(), static_cast<std::size_t>(size));
  write_file_durably(path_, bytes);
  return {bytes.size(), XXH3_64bits(bytes.data(), bytes.size())};
}

RankFileReader::RankFileReader(std::filesystem::path path) : path_(std::move(path)) {
  ensure_zstd_filter_registered();
  H5QuietErrors quiet;
  file_ = H5File(h5_check<CorruptCheckpoint>(H5Fopen(path_.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT),
                                             fmt::format("cannot open checkpoint file {}", path_.string())));
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

void RankFileReader::read(const std::string& name, void* destination, std::size_t bytes) const {
  const StoredRegion stored = describe(name);
  H5QuietErrors quiet;
  const std::string where = fmt::format("cannot read region '{}' from {}", name, path_.string());
  if (stored.bytes != bytes) {
    throw CorruptCheckpoint(fmt::format("{}: holds {} bytes, expected {}", where, stored.bytes, bytes));
  }
  if (bytes == 0) return;
  H5Dataset dataset(h5_check<CorruptCheckpoint>(H5Dopen2(file_.get(), name.c_str(), H5P_DEFAULT), where));
  h5_check<CorruptCheckpoint>(
      H5Dread(dataset.get(), h5_native_type(stored.type), H5S_ALL, H5S_ALL, H5P_DEFAULT, destination), where);
}

std::vector<std::string> RankFileReader::dataset_names() const {
  H5QuietErrors quiet;
  std::vector<std::string> names;
  auto collect = [](hid_t, const char* name, const H5L_info_t*, void* out) -> herr_t {
    static_cast<std::vector<std::string>*>(out)->emplace_back(name);
    return 0;
  };
  h5_check<CorruptCheckpoint>(H5Literate(file_.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect, &names),
                              fmt::format("cannot list datasets of {}", path_.string()));
  return names;
}

}  // namespace lazarus::backends
