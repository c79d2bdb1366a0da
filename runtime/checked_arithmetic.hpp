#pragma once
// Sizes computed from user or file input (shapes, element counts, byte sizes): a product that does
// not fit in 64 bits is reported as such, never wrapped into a small, plausible number.
#include <cstdint>
#include <optional>
#include <span>

namespace lazarus::detail {

// a * b, or nullopt when it does not fit.
inline std::optional<std::uint64_t> checked_product(std::uint64_t a, std::uint64_t b) noexcept {
  std::uint64_t product = 0;
  if (__builtin_mul_overflow(a, b, &product)) return std::nullopt;
  return product;
}

// The product of `extents` (1 for none), or nullopt when it does not fit. An extent of 0 makes 0,
// whatever the others are.
inline std::optional<std::uint64_t> checked_product(std::span<const std::size_t> extents) noexcept {
  for (const std::size_t extent : extents) {
    if (extent == 0) return 0;
  }
  std::uint64_t product = 1;
  for (const std::size_t extent : extents) {
    const auto next = checked_product(product, extent);
    if (!next) return std::nullopt;
    product = *next;
  }
  return product;
}

}  // namespace lazarus::detail
