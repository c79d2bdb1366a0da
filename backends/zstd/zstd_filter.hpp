#pragma once
// The zstd HDF5 filter (registered id 32015), shared by liblazarus and the standalone HDF5 plugin.
//
// Every chunk is stored as exactly one zstd frame that records its content size: the format of the
// reference plugin (aparamon/HDF5Plugin-Zstandard), so files written here are readable by h5py,
// h5dump and other tools that load that plugin, and the other way round.
//
// This code uses HDF5 headers only (types and macros), never an H5* function, so the plugin built
// from it does not link libhdf5: the same .so then loads into serial h5dump, h5py's bundled HDF5
// and Lazarus's parallel build alike. Registering the filter in-process (H5Zregister) is the job of
// backends/hdf5.

#include <cstddef>

// H5Zpublic.h uses hid_t without including its declaration.
#include <H5Ipublic.h>
#include <H5Zpublic.h>

namespace lazarus::backends {

// Registered with The HDF Group for Zstandard.
inline constexpr H5Z_filter_t kZstdFilterId = 32015;

// The filter's class, for H5Zregister and for H5PLget_plugin_info. Valid for the process's
// lifetime.
const H5Z_class2_t* zstd_filter_class();

// The raw HDF5 filter callback (H5Z_func_t), exposed for direct tests. Forward: compresses the
// first nbytes of *buf at level cd_values[0] (zstd's default when cd_nelmts == 0). Reverse
// (H5Z_FLAG_REVERSE): decompresses one frame. On success *buf is replaced by a malloc'ed buffer of
// *buf_size bytes, the old one is freed, and the number of valid bytes is returned; on failure
// returns 0 and leaves *buf and *buf_size untouched. Never throws.
std::size_t zstd_filter(unsigned flags, std::size_t cd_nelmts, const unsigned cd_values[],
                        std::size_t nbytes, std::size_t* buf_size, void** buf) noexcept;

}  // namespace lazarus::backends
