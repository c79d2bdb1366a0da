#include "launcher/resources/hostlist.hpp"

#include <charconv>
#include <stdexcept>

#include <fmt/format.h>

namespace lazarus::launcher {
namespace {

[[noreturn]] void malformed(std::string_view expression, std::string_view why) {
  throw std::invalid_argument(fmt::format("bad hostlist expression '{}': {}", expression, why));
}

// Splits at the commas that are not inside brackets.
std::vector<std::string_view> top_level_items(std::string_view expression) {
  std::vector<std::string_view> items;
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < expression.size(); ++i) {
    const char c = expression[i];
    if (c == '[' && ++depth > 1) malformed(expression, "nested '['");
    if (c == ']' && --depth < 0) malformed(expression, "']' without '['");
    if (c == ',' && depth == 0) {
      items.push_back(expression.substr(start, i - start));
      start = i + 1;
    }
  }
  if (depth != 0) malformed(expression, "'[' without ']'");
  items.push_back(expression.substr(start));
  return items;
}

std::string too_many_hosts(std::size_t max_hosts) { return fmt::format("it names more than {} hosts", max_hosts); }

// Refuses a name of `length` characters, before it is built, when it is too long.
void check_name_length(std::size_t length, std::string_view expression) {
  if (length > kMaxHostNameBytes) {
    malformed(expression, fmt::format("a host name longer than {} characters", kMaxHostNameBytes));
  }
}

std::uint64_t number_in(std::string_view digits, std::string_view expression) {
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || error != std::errc{} || end != digits.data() + digits.size()) {
    malformed(expression, fmt::format("'{}' is not a number", digits));
  }
  return value;
}

// "1-3,07,10-11" -> 1 2 3 07 10 11 (each with the width of the number it came from).
std::vector<std::string> expand_ranges(std::string_view ranges, std::string_view expression, std::size_t max_hosts) {
  std::vector<std::string> values;
  std::size_t start = 0;
  while (start <= ranges.size()) {
    const std::size_t comma = std::min(ranges.find(',', start), ranges.size());
    const std::string_view range = ranges.substr(start, comma - start);
    const std::size_t dash = range.find('-');
    const std::string_view low_text = range.substr(0, dash);
    check_name_length(low_text.size(), expression);  // its width pads every number of the range
    const std::uint64_t low = number_in(low_text, expression);
    const std::uint64_t high = dash == std::string_view::npos ? low : number_in(range.substr(dash + 1), expression);
    if (high < low) malformed(expression, fmt::format("range '{}' goes down", range));
    if (high - low >= max_hosts - values.size()) malformed(expression, too_many_hosts(max_hosts));
    for (std::uint64_t value = low;; ++value) {  // `value <= high` would never end at the largest number
      values.push_back(fmt::format("{:0{}}", value, low_text.size()));
      if (value == high) break;
    }
    start = comma + 1;
  }
  return values;
}

// One item: text and bracket groups, expanded left to right (the last group varies fastest).
std::vector<std::string> expand_item(std::string_view item, std::string_view expression, std::size_t max_hosts) {
  if (item.empty()) malformed(expression, "an empty host name");
  std::vector<std::string> names{""};
  std::size_t position = 0;
  while (position < item.size()) {
    const std::size_t open = item.find('[', position);
    const std::string_view text = item.substr(position, open - position);
    for (auto& name : names) {
      check_name_length(name.size() + text.size(), expression);
      name += text;
    }
    if (open == std::string_view::npos) break;
    const std::size_t close = item.find(']', open);
    const auto values = expand_ranges(item.substr(open + 1, close - open - 1), expression, max_hosts);
    if (names.size() > max_hosts / values.size()) malformed(expression, too_many_hosts(max_hosts));
    std::vector<std::string> grown;
    grown.reserve(names.size() * values.size());
    for (const auto& name : names) {
      for (const auto& value : values) {
        check_name_length(name.size() + value.size(), expression);
        grown.push_back(name + value);
      }
    }
    names = std::move(grown);
    position = close + 1;
  }
  return names;
}

}  // namespace

std::vector<std::string> expand_hostlist(std::string_view expression, std::size_t max_hosts) {
  std::vector<std::string> hosts;
  for (std::string_view item : top_level_items(expression)) {
    auto names = expand_item(item, expression, max_hosts);
    if (names.size() > max_hosts - hosts.size()) malformed(expression, too_many_hosts(max_hosts));
    for (auto& name : names) hosts.push_back(std::move(name));
  }
  return hosts;
}

}  // namespace lazarus::launcher
