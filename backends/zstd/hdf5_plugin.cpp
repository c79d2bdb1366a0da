// The two entry points HDF5 looks up when it dlopens a filter plugin found on HDF5_PLUGIN_PATH.
// H5PLextern.h declares them extern "C" and exported; they only hand out the filter class, so the
// plugin still calls no H5* function and does not link libhdf5.
#include <H5PLextern.h>

#include "backends/zstd/zstd_filter.hpp"

extern "C" {

H5PL_type_t H5PLget_plugin_type() { return H5PL_TYPE_FILTER; }

const void* H5PLget_plugin_info() { return lazarus::backends::zstd_filter_class(); }

}  // extern "C"
