#pragma once

namespace lazarus::backends {

// Registers Lazarus's zstd filter (id 32015) with the HDF5 library in this process, unless a filter
// with that id is already available (for instance the same plugin loaded from HDF5_PLUGIN_PATH).
// Idempotent and thread-safe. Throws IoError when HDF5 refuses it.
void ensure_zstd_filter_registered();

}  // namespace lazarus::backends
