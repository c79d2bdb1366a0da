#include "backends/hdf5/rank_file_layout.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "lazarus/errors.hpp"

namespace lazarus::backends::rank_file_layout {

std::optional<SlabChunks> slab_chunks(std::vector<hsize_t> dims, std::vector<hsize_t> chunk) {
  if (dims.empty() || dims.size() != chunk.size()) return std::nullopt;
  SlabChunks slabs;
  slabs.split = 0;
  for (std::size_t d = dims.size(); d-- > 0;) {
    if (chunk[d] != dims[d]) {
      slabs.split = d;
      break;
    }
  }
  for (std::size_t d = 0; d < dims.size(); ++d) {
    if (dims[d] == 0 || chunk[d] == 0) return std::nullopt;
    if (d < slabs.split && chunk[d] != 1) return std::nullopt;
    if (d > slabs.split) slabs.inner *= dims[d];
  }
  if (chunk[slabs.split] > dims[slabs.split]) return std::nullopt;
  slabs.steps = (dims[slabs.split] + chunk[slabs.split] - 1) / chunk[slabs.split];
  slabs.count = slabs.steps;
  for (std::size_t d = 0; d < slabs.split; ++d) slabs.count *= dims[d];
  slabs.chunk_elements = chunk[slabs.split] * slabs.inner;
  slabs.dims = std::move(dims);
  slabs.chunk = std::move(chunk);
  return slabs;
}

std::string describe_offset(const std::vector<hsize_t>& offset) {
  return fmt::format("[{}]", fmt::join(offset, ", "));
}

}  // namespace lazarus::backends::rank_file_layout
