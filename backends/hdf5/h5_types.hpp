#pragma once
// Mapping between Lazarus element types and HDF5 native types.
#include <hdf5.h>

#include "lazarus/element_type.hpp"

namespace lazarus::backends {

// The HDF5 native type a region of `type` is stored as (not to be closed).
hid_t h5_native_type(ElementType type);

// The element type of a stored dataset's type; throws CorruptCheckpoint for types Lazarus never
// writes. `bytes` regions read back as u8 (the dataset attribute tells them apart).
ElementType element_type_of_h5(hid_t stored_type);

// Whether this HDF5 library may be called from several threads (built thread-safe).
bool h5_library_is_threadsafe();

}  // namespace lazarus::backends
