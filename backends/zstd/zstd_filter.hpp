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
#include <span>

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

// The filter's two halves on caller-owned buffers, for code that writes and reads chunks directly
// (H5Dwrite_chunk / H5Dread_chunk) without HDF5's filter pipeline. The filter callback itself runs
// through these, so both paths produce and accept exactly the same frames.
//
// Capacity a frame of `bytes` input bytes may need.
std::size_t zstd_frame_bound(std::size_t bytes) noexcept;
// Compresses `source` into one frame recording its content size, at `level` (clamped to zstd's
// range like the filter's cd_values[0]). Returns the frame's size, or 0 on failure (for instance
// `destination` smaller than zstd_frame_bound).
std::size_t zstd_compress_frame(int level, std::span<const std::byte> source,
                                std::span<std::byte> destination) noexcept;
// Decompresses `frame`, which must be exactly one frame recording a content size of exactly
// destination.size() bytes (the filter's checks). Returns false on anything else.
bool zstd_decompress_frame(std::span<const std::byte> frame, std::span<std::byte> destination) noexcept;

}  // namespace lazarus::backends
