#include "runtime/fault_injection.hpp"

#include <algorithm>
#include <csignal>
#include <iterator>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include <unistd.h>

namespace lazarus::detail {
namespace {

struct FaultSpec {
  std::string point;
  std::optional<int> rank;
  std::optional<std::uint64_t> version;
};

std::optional<FaultSpec> parse(const char* text) {
  if (text == nullptr || *text == '\0') return std::nullopt;
  FaultSpec spec;
  std::string_view rest(text);
  bool first = true;
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    if (first) {
      spec.point = std::string(item);
      first = false;
    } else if (item.starts_with("rank=")) {
      spec.rank = std::stoi(std::string(item.substr(5)));
    } else if (item.starts_with("version=")) {
      spec.version = std::stoull(std::string(item.substr(8)));
    } else {
      std::fprintf(stderr, "lazarus: ignoring unknown LAZARUS_FAULT item '%.*s'\n", static_cast<int>(item.size()),
                   item.data());
    }
  }
  const auto points = known_fault_points();
  if (std::find(points.begin(), points.end(), spec.point) == points.end()) {
    std::fprintf(stderr, "lazarus: LAZARUS_FAULT names no known point: '%s' (ignored)\n", spec.point.c_str());
    return std::nullopt;
  }
  return spec;
}

}  // namespace

std::span<const std::string_view> known_fault_points() noexcept {
  static constexpr std::string_view kPoints[] = {
      "before_write",   "during_write", "after_write",         "during_commit",      "after_commit",
      "during_restore", "during_flush", "during_flush_commit", "after_flush_commit", "during_rebuild",
      "after_rebuild"};
  return kPoints;
}

void fault_point(std::string_view point, int rank, std::uint64_t version) {
  static const std::optional<FaultSpec> spec = [] {
    try {
      return parse(std::getenv("LAZARUS_FAULT"));
    } catch (const std::exception&) {
      std::fprintf(stderr, "lazarus: ignoring malformed LAZARUS_FAULT\n");
      return std::optional<FaultSpec>{};
    }
  }();
  if (!spec || spec->point != point) return;
  if (spec->rank && *spec->rank != rank) return;
  if (spec->version && *spec->version != version) return;
  std::fprintf(stderr, "lazarus: LAZARUS_FAULT: rank %d killing itself at %s of version %llu\n", rank,
               spec->point.c_str(), static_cast<unsigned long long>(version));
  std::fflush(stderr);
  ::kill(::getpid(), SIGKILL);
}

}  // namespace lazarus::detail
