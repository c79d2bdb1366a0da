#include "runtime/region_registry.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "lazarus/errors.hpp"
#include "runtime/checked_arithmetic.hpp"
#include "runtime/names.hpp"

namespace lazarus::detail {

void RegionRegistry::add(Region region) {
  if (auto problem = name_problem(region.name)) {
    throw MismatchError(fmt::format("cannot protect region '{}': {}", region.name, *problem));
  }
  auto same_name = [&](const Region& r) { return r.name == region.name; };
  if (std::any_of(regions_.begin(), regions_.end(), same_name)) {
    throw MismatchError(fmt::format("cannot protect region '{}': a region of that name is already protected",
                                    region.name));
  }
  const auto elements = checked_product(region.shape);
  if (!elements) {
    throw MismatchError(fmt::format("cannot protect region '{}': shape [{}] holds more than 2^64 elements",
                                    region.name, fmt::join(region.shape, ", ")));
  }
  if (*elements != region.count) {
    throw MismatchError(fmt::format("cannot protect region '{}': shape [{}] holds {} elements, the data {}",
                                    region.name, fmt::join(region.shape, ", "), *elements, region.count));
  }
  if (!checked_product(region.count, element_size(region.type))) {
    throw MismatchError(fmt::format("cannot protect region '{}': {} elements of {} bytes are more than 2^64 bytes",
                                    region.name, region.count, element_size(region.type)));
  }
  if (region.data == nullptr && region.count > 0) {
    throw MismatchError(fmt::format("cannot protect region '{}': null data pointer", region.name));
  }
  regions_.push_back(std::move(region));
}

void RegionRegistry::remove(const std::string& name) {
  auto found = std::find_if(regions_.begin(), regions_.end(), [&](const Region& r) { return r.name == name; });
  if (found == regions_.end()) throw MismatchError(fmt::format("cannot unprotect '{}': no such region", name));
  regions_.erase(found);
}

std::size_t RegionRegistry::total_bytes() const noexcept {
  std::size_t total = 0;
  for (const auto& region : regions_) total += region.bytes();
  return total;
}

}  // namespace lazarus::detail
