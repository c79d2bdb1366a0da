#pragma once
// The regions a rank has protected: memory Lazarus saves on checkpoint() and fills on restore().
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "lazarus/element_type.hpp"

namespace lazarus::detail {

struct Region {
  std::string name;
  ElementType type = ElementType::u8;
  void* data = nullptr;
  std::size_t count = 0;            // elements
  std::vector<std::size_t> shape;   // empty: a scalar
  bool device = false;              // `data` is CUDA device memory (protect_device)
  // For a host copy still arriving (a device capture): returns once bytes [0, n) of `data` are there.
  std::function<void(std::size_t)> ready;
  std::size_t bytes() const { return count * element_size(type); }
};

class RegionRegistry {
 public:
  // Throws MismatchError for an invalid or duplicate name, a shape whose product is not `count`, or
  // null data with a non-zero count.
  void add(Region region);
  // Throws MismatchError when no region has that name.
  void remove(const std::string& name);
  // Regions in the order they were protected.
  const std::vector<Region>& all() const noexcept { return regions_; }
  std::size_t total_bytes() const noexcept;

 private:
  std::vector<Region> regions_;
};

}  // namespace lazarus::detail
