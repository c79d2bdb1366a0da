#include "runtime/region_registry.hpp"

#include <algorithm>
#include <numeric>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "lazarus/errors.hpp"
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
  const std::size_t elements =
      std::accumulate(region.shape.begin(), region.shape.end(), std::size_t{1}, std::multiplies<>());
  if (elements != region.count) {
    throw MismatchError(fmt::format("cannot protect region '{}': shape [{}] holds {} elements, the data {}",
                                    region.name, fmt::join(region.shape, ", "), elements, region.count));
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
