#pragma once
// CLI11 checks for numeric options. CLI11's own ones print a value that does not fit the option's type
// whole ("Could not convert: --max-restarts = <300 digits>"), or wrap it ("--version -1" became
// 18446744073709551615), and write bounds as 0.100000. These show the value as given, cut after 40
// characters, and the range allowed. They run before CLI11 converts the text.
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

namespace lazarus::launcher {

// `value` quoted, cut after 40 characters (with its length then).
inline std::string shown_value(std::string_view value) {
  constexpr std::size_t kShown = 40;
  if (value.size() <= kShown) return fmt::format("'{}'", value);
  return fmt::format("'{}...' ({} characters)", value.substr(0, kShown), value.size());
}

// A whole number from `min` to `max`.
inline CLI::Validator integer_in(std::int64_t min, std::int64_t max) {
  return CLI::Validator(
      [min, max](std::string& text) -> std::string {
        std::int64_t value = 0;
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (text.empty() || end != text.data() + text.size() ||
            (error != std::errc{} && error != std::errc::result_out_of_range)) {
          return fmt::format("{} is not a whole number", shown_value(text));
        }
        if (error == std::errc::result_out_of_range || value < min || value > max) {
          return fmt::format("{} is out of range: it must be {} to {}", shown_value(text), min, max);
        }
        return {};
      },
      fmt::format("INT in [{} - {}]", min, max));
}

// A number (of seconds, say) from `min` to `max`.
inline CLI::Validator number_in(double min, double max) {
  return CLI::Validator(
      [min, max](std::string& text) -> std::string {
        double value = 0;
        const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
        if (text.empty() || end != text.data() + text.size() ||
            (error != std::errc{} && error != std::errc::result_out_of_range)) {
          return fmt::format("{} is not a number", shown_value(text));
        }
        if (error == std::errc::result_out_of_range || !(value >= min && value <= max)) {
          return fmt::format("{} is out of range: it must be {} to {}", shown_value(text), min, max);
        }
        return {};
      },
      fmt::format("NUMBER in [{} - {}]", min, max));
}

}  // namespace lazarus::launcher
