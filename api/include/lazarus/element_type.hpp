#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

namespace lazarus {

// The element types a region may hold; each is stored as the matching HDF5 native type.
// `bytes` is opaque data (protect_bytes), stored as unsigned 8-bit integers.
enum class ElementType : std::uint8_t { i8, u8, i16, u16, i32, u32, i64, u64, f32, f64, bytes };

template <class T>
concept Storable = std::is_arithmetic_v<T> && !std::is_same_v<T, bool> && !std::is_const_v<T> &&
                   (sizeof(T) == 1 || sizeof(T) == 2 || sizeof(T) == 4 || sizeof(T) == 8) &&
                   !std::is_same_v<T, long double>;

template <Storable T>
constexpr ElementType element_type_of() {
  if constexpr (std::is_floating_point_v<T>) {
    return sizeof(T) == 4 ? ElementType::f32 : ElementType::f64;
  } else if constexpr (std::is_signed_v<T>) {
    switch (sizeof(T)) {
      case 1: return ElementType::i8;
      case 2: return ElementType::i16;
      case 4: return ElementType::i32;
      default: return ElementType::i64;
    }
  } else {
    switch (sizeof(T)) {
      case 1: return ElementType::u8;
      case 2: return ElementType::u16;
      case 4: return ElementType::u32;
      default: return ElementType::u64;
    }
  }
}

std::size_t element_size(ElementType type);
std::string_view to_string(ElementType type);  // "i8", "f64", "bytes", ...
ElementType element_type_from_string(std::string_view name);  // throws lazarus::Error when unknown

}  // namespace lazarus
