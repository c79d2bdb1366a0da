#pragma once
// The data a benchmark rank checkpoints: three kinds that span the compressibility of real state,
// from a smooth 1-D profile to incompressible bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lazarus::bench {

enum class DataKind { smooth, field2d, random };

// "smooth", "field2d", "random"; throws std::invalid_argument for anything else.
DataKind parse_data_kind(std::string_view name);
std::string_view to_string(DataKind kind);

// "268435456", "256M", "256MiB", "1G", "512k": binary multiples (K = 1024). Throws
// std::invalid_argument when malformed or zero.
std::size_t parse_byte_size(std::string_view text);

// One rank's buffer: 8-byte elements (doubles, or the raw 64-bit words of `random`) and the shape
// they are protected with (1-D, or {rows, columns} for field2d). The element count may be a little
// below the requested bytes / 8 where the 2-D grid does not divide it exactly.
struct RankData {
  std::vector<double> values;  // `random` stores its 64-bit words here bit for bit
  std::vector<std::size_t> shape;
  std::size_t bytes() const noexcept { return values.size() * sizeof(double); }
};

// Deterministic for (kind, bytes, rank): every rank gets different values.
//   smooth:  u[i] = sin(0.001 i) * cos(0.0007 i) + 0.01 * rank
//   field2d: sin(x) * cos(y) on a near-square rows x columns grid, x spanning 4 periods and y 3,
//            shifted by rank
//   random:  splitmix64 words seeded by rank (incompressible)
RankData generate_rank_data(DataKind kind, std::size_t bytes, int rank);

}  // namespace lazarus::bench
