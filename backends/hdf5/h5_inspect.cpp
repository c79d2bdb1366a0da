#include "backends/hdf5/h5_inspect.hpp"

#include <hdf5.h>

#include <array>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "backends/hdf5/h5_handle.hpp"
#include "backends/zstd/zstd_filter.hpp"
#include "lazarus/errors.hpp"

namespace lazarus::backends {
namespace {

using H5Object = H5Handle<H5Oclose>;

std::string layout_name(H5D_layout_t layout) {
  switch (layout) {
    case H5D_COMPACT: return "compact";
    case H5D_CONTIGUOUS: return "contiguous";
    case H5D_CHUNKED: return "chunked";
#if H5_VERSION_GE(1, 10, 0)
    case H5D_VIRTUAL: return "virtual";
#endif
    default: return "unknown";
  }
}

DatasetStorage storage_of(hid_t dataset, const std::string& name, const std::string& where) {
  DatasetStorage storage;
  storage.name = name;
  storage.stored_bytes = H5Dget_storage_size(dataset);
  H5PropertyList create(h5_check<CorruptCheckpoint>(H5Dget_create_plist(dataset), where));
  const H5D_layout_t layout = H5Pget_layout(create.get());
  h5_check<CorruptCheckpoint>(static_cast<int>(layout), where);
  storage.layout = layout_name(layout);
  if (layout == H5D_CHUNKED) {
    std::array<hsize_t, H5S_MAX_RANK> chunk{};
    const int rank = h5_check<CorruptCheckpoint>(H5Pget_chunk(create.get(), H5S_MAX_RANK, chunk.data()), where);
    storage.chunk.assign(chunk.begin(), chunk.begin() + rank);
  }
  const int count = h5_check<CorruptCheckpoint>(H5Pget_nfilters(create.get()), where);
  for (int i = 0; i < count; ++i) {
    unsigned flags = 0;
    std::array<unsigned, 16> values{};
    std::size_t value_count = values.size();
    std::array<char, 256> filter_name{};
    unsigned config = 0;
    const H5Z_filter_t id = h5_check<CorruptCheckpoint>(
        H5Pget_filter2(create.get(), static_cast<unsigned>(i), &flags, &value_count, values.data(), filter_name.size(),
                       filter_name.data(), &config),
        where);
    FilterStage stage;
    stage.id = static_cast<int>(id);
    stage.name = filter_name.data();
    const auto kept = static_cast<std::ptrdiff_t>(std::min(value_count, values.size()));
    stage.values.assign(values.begin(), values.begin() + kept);
    storage.filters.push_back(std::move(stage));
  }
  return storage;
}

}  // namespace

bool is_hdf5_file(const std::filesystem::path& path) noexcept {
  H5QuietErrors quiet;
  return H5Fis_hdf5(path.c_str()) > 0;
}

std::vector<DatasetStorage> inspect_dataset_storage(const std::filesystem::path& path) {
  H5QuietErrors quiet;
  H5File file(h5_check<CorruptCheckpoint>(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT),
                                          fmt::format("cannot open {}", path.string())));
  std::vector<std::string> names;
  auto collect = [](hid_t, const char* name, const H5L_info_t*, void* out) -> herr_t {
    static_cast<std::vector<std::string>*>(out)->emplace_back(name);
    return 0;
  };
  h5_check<CorruptCheckpoint>(H5Literate(file.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect, &names),
                              fmt::format("cannot list datasets of {}", path.string()));
  std::vector<DatasetStorage> datasets;
  for (const auto& name : names) {
    const std::string where = fmt::format("dataset '{}' in {}", name, path.string());
    H5Object object(h5_check<CorruptCheckpoint>(H5Oopen(file.get(), name.c_str(), H5P_DEFAULT), where));
    if (H5Iget_type(object.get()) != H5I_DATASET) continue;  // a group or a named type: not ours
    datasets.push_back(storage_of(object.get(), name, where));
  }
  return datasets;
}

std::string describe_filters(const std::vector<FilterStage>& filters) {
  if (filters.empty()) return "none";
  std::vector<std::string> parts;
  for (const auto& filter : filters) {
    const std::string level = filter.values.empty() ? std::string() : fmt::format("({})", filter.values.front());
    switch (filter.id) {
      case H5Z_FILTER_SHUFFLE: parts.emplace_back("shuffle"); break;
      case H5Z_FILTER_DEFLATE: parts.push_back("deflate" + level); break;
      case H5Z_FILTER_FLETCHER32: parts.emplace_back("fletcher32"); break;
      case H5Z_FILTER_SZIP: parts.emplace_back("szip"); break;
      case H5Z_FILTER_NBIT: parts.emplace_back("nbit"); break;
      case H5Z_FILTER_SCALEOFFSET: parts.emplace_back("scaleoffset"); break;
      case kZstdFilterId: parts.push_back("zstd" + level); break;
      default:
        const std::string values =
            filter.values.empty() ? std::string() : fmt::format("({})", fmt::join(filter.values, ","));
        parts.push_back(fmt::format("{}#{}{}", filter.name.empty() ? "filter" : filter.name, filter.id, values));
    }
  }
  return fmt::format("{}", fmt::join(parts, "+"));
}

}  // namespace lazarus::backends
