#include "launcher/supervision/fault_plan.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "launcher/cli/usage_error.hpp"
#include "runtime/fault_injection.hpp"

namespace lazarus::launcher {
namespace {

double parse_seconds(const std::string& spec, std::string text) {
  if (!text.empty() && text.back() == 's') text.pop_back();
  double value = -1;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size() || !std::isfinite(value) || value < 0) {
    throw UsageError(fmt::format("--inject '{}': after= needs seconds, e.g. after=3s", spec));
  }
  return value;
}

int parse_int(const std::string& spec, const std::string& key, const std::string& text) {
  int value = -1;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size() || value < 0) {
    throw UsageError(fmt::format("--inject '{}': {}= needs a non-negative integer", spec, key));
  }
  return value;
}

int parse_count(const std::string& spec, const std::string& key, const std::string& text) {
  const int value = parse_int(spec, key, text);
  if (value == 0) throw UsageError(fmt::format("--inject '{}': {}= counts from 1", spec, key));
  return value;
}

}  // namespace

Fault parse_fault(const std::string& spec) {
  std::istringstream words(spec);
  std::string verb;
  words >> verb;
  std::map<std::string, std::string> fields;
  for (std::string word; words >> word;) {
    const auto equals = word.find('=');
    if (equals == std::string::npos) throw UsageError(fmt::format("--inject '{}': '{}' is not key=value", spec, word));
    if (!fields.emplace(word.substr(0, equals), word.substr(equals + 1)).second) {
      throw UsageError(fmt::format("--inject '{}': '{}' is given twice", spec, word.substr(0, equals)));
    }
  }
  auto take = [&](const std::string& key) -> std::optional<std::string> {
    auto found = fields.find(key);
    if (found == fields.end()) return std::nullopt;
    std::string value = found->second;
    fields.erase(found);
    return value;
  };
  Fault fault;
  fault.text = spec;
  if (verb == "kill" || verb == "stop") {
    auto rank = take("rank");
    auto node = take("node");
    auto after = take("after");
    auto after_checkpoint = take("after-checkpoint");
    if (!after && !after_checkpoint) {
      throw UsageError(fmt::format("--inject '{}': needs after=SECONDS or after-checkpoint=VERSION", spec));
    }
    if (after) fault.after_seconds = parse_seconds(spec, *after);
    if (after_checkpoint) fault.after_checkpoint = static_cast<unsigned long long>(parse_int(spec, "after-checkpoint", *after_checkpoint));
    if (rank && !node) {
      fault.action = verb == "kill" ? Fault::Action::kill : Fault::Action::stop;
      fault.rank = parse_int(spec, "rank", *rank);
    } else if (node && !rank && verb == "kill") {
      fault.action = Fault::Action::kill_node;
      fault.node = *node;
    } else {
      throw UsageError(fmt::format("--inject '{}': give rank=R (kill, stop) or node=NAME (kill)", spec));
    }
  } else if (verb == "crash") {
    fault.action = Fault::Action::crash;
    auto point = take("point");
    auto rank = take("rank");
    if (!point || !rank) throw UsageError(fmt::format("--inject '{}': crash needs point=P and rank=R", spec));
    fault.point = *point;
    const auto points = detail::known_fault_points();
    if (std::find(points.begin(), points.end(), fault.point) == points.end()) {
      throw UsageError(fmt::format("--inject '{}': unknown point '{}' ({})", spec, fault.point, fmt::join(points, ", ")));
    }
    fault.rank = parse_int(spec, "rank", *rank);
    // Versions and attempts count from 1: a 0 would never fire, and the fault would silently not happen.
    if (auto version = take("version")) fault.version = static_cast<unsigned long long>(parse_count(spec, "version", *version));
    if (auto attempt = take("attempt")) fault.attempt = parse_count(spec, "attempt", *attempt);
  } else {
    throw UsageError(fmt::format("--inject '{}': unknown fault '{}' (kill, stop or crash)", spec, verb));
  }
  if (!fields.empty()) throw UsageError(fmt::format("--inject '{}': unknown key '{}'", spec, fields.begin()->first));
  return fault;
}

}  // namespace lazarus::launcher
