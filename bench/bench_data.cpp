#include "bench/bench_data.hpp"

#include <bit>
#include <cctype>
#include <cmath>
#include <numbers>
#include <stdexcept>

namespace lazarus::bench {
namespace {

std::uint64_t splitmix64(std::uint64_t& state) noexcept {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// rows x columns with rows * columns <= elements, as close to square as an exact divisor allows
// (a divisor within a factor 4 of the square root), otherwise the square that fits.
std::vector<std::size_t> near_square_grid(std::size_t elements) {
  const auto side = static_cast<std::size_t>(std::sqrt(static_cast<double>(elements)));
  for (std::size_t rows = side; rows > 0 && rows * 4 >= side; --rows) {
    if (elements % rows == 0) return {rows, elements / rows};
  }
  return {side, side};
}

}  // namespace

DataKind parse_data_kind(std::string_view name) {
  if (name == "smooth") return DataKind::smooth;
  if (name == "field2d") return DataKind::field2d;
  if (name == "random") return DataKind::random;
  throw std::invalid_argument("unknown data kind '" + std::string(name) + "' (smooth, field2d, random)");
}

std::string_view to_string(DataKind kind) {
  switch (kind) {
    case DataKind::smooth: return "smooth";
    case DataKind::field2d: return "field2d";
    case DataKind::random: return "random";
  }
  return "?";
}

std::size_t parse_byte_size(std::string_view text) {
  const auto bad = [&] { return std::invalid_argument("bad byte size '" + std::string(text) + "' (e.g. 4096, 64K, 256M, 1G)"); };
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits > 15) throw bad();
  std::size_t value = std::stoull(std::string(text.substr(0, digits)));
  std::string suffix;
  for (char c : text.substr(digits)) suffix += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (suffix.ends_with("IB")) suffix.resize(suffix.size() - 2);
  else if (suffix.size() > 1 && suffix.ends_with("B")) suffix.resize(suffix.size() - 1);
  int shift = 0;
  if (suffix == "" || suffix == "B") shift = 0;
  else if (suffix == "K") shift = 10;
  else if (suffix == "M") shift = 20;
  else if (suffix == "G") shift = 30;
  else if (suffix == "T") shift = 40;
  else throw bad();
  if (value == 0 || value > (std::size_t{1} << (63 - shift))) throw bad();
  return value << shift;
}

RankData generate_rank_data(DataKind kind, std::size_t bytes, int rank) {
  const std::size_t elements = bytes / sizeof(double);
  if (elements == 0) throw std::invalid_argument("need at least 8 bytes per rank");
  RankData data;
  switch (kind) {
    case DataKind::smooth: {
      data.values.resize(elements);
      const double offset = 0.01 * rank;
      for (std::size_t i = 0; i < elements; ++i) {
        const auto x = static_cast<double>(i);
        data.values[i] = std::sin(0.001 * x) * std::cos(0.0007 * x) + offset;
      }
      data.shape = {elements};
      break;
    }
    case DataKind::field2d: {
      data.shape = near_square_grid(elements);
      const std::size_t rows = data.shape[0];
      const std::size_t columns = data.shape[1];
      data.values.resize(rows * columns);
      constexpr double two_pi = 2 * std::numbers::pi;
      const double dx = 4 * two_pi / static_cast<double>(columns);  // 4 periods along a row
      const double dy = 3 * two_pi / static_cast<double>(rows);     // 3 periods down a column
      const double shift = 0.37 * rank;
      std::vector<double> sin_x(columns);
      for (std::size_t j = 0; j < columns; ++j) sin_x[j] = std::sin(shift + dx * static_cast<double>(j));
      for (std::size_t i = 0; i < rows; ++i) {
        const double cos_y = std::cos(shift + dy * static_cast<double>(i));
        double* row = data.values.data() + i * columns;
        for (std::size_t j = 0; j < columns; ++j) row[j] = sin_x[j] * cos_y;
      }
      break;
    }
    case DataKind::random: {
      data.values.resize(elements);
      std::uint64_t state = 0x5EED0000ull + static_cast<std::uint64_t>(rank);
      for (auto& value : data.values) value = std::bit_cast<double>(splitmix64(state));
      data.shape = {elements};
      break;
    }
  }
  return data;
}

}  // namespace lazarus::bench
