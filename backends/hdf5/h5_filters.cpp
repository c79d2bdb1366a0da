#include "backends/hdf5/h5_filters.hpp"

#include <mutex>

#include "backends/hdf5/h5_handle.hpp"
#include "backends/zstd/zstd_filter.hpp"
#include "lazarus/errors.hpp"

namespace lazarus::backends {

void ensure_zstd_filter_registered() {
  static std::once_flag once;
  std::call_once(once, [] {
    H5QuietErrors quiet;
    // H5Zfilter_avail may itself load a plugin from HDF5_PLUGIN_PATH; either way the format is the same.
    if (H5Zfilter_avail(kZstdFilterId) > 0) return;
    h5_check<IoError>(H5Zregister(zstd_filter_class()), "cannot register the zstd HDF5 filter (32015)");
  });
}

}  // namespace lazarus::backends
