#pragma once
// Integers read from JSON text that Lazarus did not necessarily write itself (a manifest, the texts
// ranks exchange): nlohmann's get<T>() narrows silently (4294967296 becomes 0 as an int, -1 becomes
// 2^64 - 1) and turns a number beyond 64 bits, held as a double, into T with undefined behaviour.
#include <cstdint>
#include <stdexcept>
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace lazarus::detail {

// `value` as a T. Throws std::invalid_argument when it is not an integer (a fraction, a string),
// std::out_of_range when it does not fit in T; both name `what`.
template <class T>
T json_integer(const nlohmann::json& value, std::string_view what) {
  if (value.is_number_unsigned()) {
    if (const auto n = value.get<std::uint64_t>(); std::in_range<T>(n)) return static_cast<T>(n);
  } else if (value.is_number_integer()) {
    if (const auto n = value.get<std::int64_t>(); std::in_range<T>(n)) return static_cast<T>(n);
  } else {
    throw std::invalid_argument(fmt::format("{} is {}, not an integer", what, value.dump()));
  }
  throw std::out_of_range(fmt::format("{} is {}, out of range", what, value.dump()));
}

}  // namespace lazarus::detail
