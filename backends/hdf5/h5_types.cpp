#include "backends/hdf5/h5_types.hpp"

#include <string>

#include "lazarus/errors.hpp"

namespace lazarus::backends {

hid_t h5_native_type(ElementType type) {
  switch (type) {
    case ElementType::i8: return H5T_NATIVE_INT8;
    case ElementType::u8: return H5T_NATIVE_UINT8;
    case ElementType::i16: return H5T_NATIVE_INT16;
    case ElementType::u16: return H5T_NATIVE_UINT16;
    case ElementType::i32: return H5T_NATIVE_INT32;
    case ElementType::u32: return H5T_NATIVE_UINT32;
    case ElementType::i64: return H5T_NATIVE_INT64;
    case ElementType::u64: return H5T_NATIVE_UINT64;
    case ElementType::f32: return H5T_NATIVE_FLOAT;
    case ElementType::f64: return H5T_NATIVE_DOUBLE;
    case ElementType::bytes: return H5T_NATIVE_UINT8;
  }
  throw Error("unknown element type");
}

ElementType element_type_of_h5(hid_t stored_type) {
  const std::size_t size = H5Tget_size(stored_type);
  switch (H5Tget_class(stored_type)) {
    case H5T_FLOAT:
      if (size == 4) return ElementType::f32;
      if (size == 8) return ElementType::f64;
      break;
    case H5T_INTEGER: {
      const bool is_signed = H5Tget_sign(stored_type) == H5T_SGN_2;
      switch (size) {
        case 1: return is_signed ? ElementType::i8 : ElementType::u8;
        case 2: return is_signed ? ElementType::i16 : ElementType::u16;
        case 4: return is_signed ? ElementType::i32 : ElementType::u32;
        case 8: return is_signed ? ElementType::i64 : ElementType::u64;
        default: break;
      }
      break;
    }
    default: break;
  }
  throw CorruptCheckpoint("dataset has a type Lazarus does not write (class " +
                          std::to_string(static_cast<int>(H5Tget_class(stored_type))) + ", size " +
                          std::to_string(size) + ")");
}

bool h5_library_is_threadsafe() {
  hbool_t threadsafe = 0;
  return H5is_library_threadsafe(&threadsafe) >= 0 && threadsafe;
}

}  // namespace lazarus::backends
