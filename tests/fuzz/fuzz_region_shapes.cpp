// What protect() accepts (RegionRegistry::add, runtime/region_registry.hpp) for arbitrary names,
// element types, counts and shapes. The input is a name, a newline, then little-endian 64-bit words:
// the element count, the type, and the shape's extents (as many as are left, at most 40). The registry
// must accept exactly what a plain model accepts: a name the names rule allows (names.hpp: 1 to 255
// characters from [A-Za-z0-9_.+-], not starting with '.' or '-'), and a shape whose product, computed
// without wrapping, is the count, with count × element size below 2^64. Whatever it refuses, it
// refuses with MismatchError; a second protect() of the same name is always refused.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "fuzz_support.hpp"
#include "lazarus/errors.hpp"
#include "runtime/region_registry.hpp"

namespace {

using lazarus::ElementType;
using lazarus::fuzz::fail;

bool name_allowed(std::string_view name) {
  if (name.empty() || name.size() > 255 || name.front() == '.' || name.front() == '-') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-' || c == '+';
  });
}

// The product of `shape` if it fits in 64 bits (128-bit steps: no wrap can hide an overflow).
bool product_fits(const std::vector<std::size_t>& shape, std::uint64_t& product) {
  unsigned __int128 value = 1;
  bool zero = std::find(shape.begin(), shape.end(), std::size_t{0}) != shape.end();
  if (zero) {
    product = 0;
    return true;
  }
  for (std::size_t extent : shape) {
    value *= extent;
    if (value > UINT64_MAX) return false;
  }
  product = static_cast<std::uint64_t>(value);
  return true;
}

std::uint64_t word(std::string_view bytes, std::size_t index) {
  std::uint64_t value = 0;
  std::memcpy(&value, bytes.data() + 8 * index, 8);
  return value;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t newline = input.find('\n');
  if (newline == std::string_view::npos) return 0;
  const std::string name(input.substr(0, newline));
  const std::string_view words = input.substr(newline + 1);
  const std::size_t count_of_words = std::min<std::size_t>(words.size() / 8, 42);
  if (count_of_words < 2) return 0;

  lazarus::detail::Region region;
  region.name = name;
  region.count = word(words, 0);
  region.type = static_cast<ElementType>(word(words, 1) % (static_cast<std::uint64_t>(ElementType::bytes) + 1));
  for (std::size_t i = 2; i < count_of_words; ++i) region.shape.push_back(word(words, i));
  static char memory[1];  // never read: add() only records where the data is
  region.data = memory;

  std::uint64_t product = 0;
  const bool fits = product_fits(region.shape, product);
  const auto element_bytes = static_cast<unsigned __int128>(lazarus::element_size(region.type));
  const bool expected = name_allowed(name) && fits && product == region.count &&
                        element_bytes * region.count <= UINT64_MAX;

  lazarus::detail::RegionRegistry registry;
  bool accepted = false;
  try {
    registry.add(region);
    accepted = true;
  } catch (const lazarus::MismatchError&) {
  }
  if (accepted != expected) {
    fail(fmt::format("protect('{}', {} elements of type {}, {} extents) was {}, the model says {}", name.substr(0, 40),
                     region.count, static_cast<int>(region.type), region.shape.size(),
                     accepted ? "accepted" : "refused", expected ? "accept" : "refuse"));
  }
  if (accepted) {
    if (registry.total_bytes() != static_cast<std::size_t>(element_bytes * region.count)) fail("total_bytes is wrong");
    try {
      registry.add(region);
      fail("a second region of the same name was accepted");
    } catch (const lazarus::MismatchError&) {
    }
  }
  return 0;
}
