#include "lazarus/options.hpp"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>

#include <fmt/format.h>

#include "lazarus/errors.hpp"
#include "runtime/names.hpp"

namespace lazarus {
namespace {

std::optional<std::string> environment(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

// What each field allows, in words: in validate()'s messages, and in from_env()'s for a value too
// large for the field's type.
constexpr std::string_view kKeepAllowed = "at least 1";
constexpr std::string_view kCompressAllowed = "0 (none) to 22 (zstd's maximum)";
constexpr std::string_view kSecondsAllowed = "a finite number, at least 0";
constexpr std::string_view kChunkAllowed = "4 KiB to 1 GiB";
constexpr std::string_view kStagingAllowed = "less than 16 EiB (2^64 bytes)";
constexpr std::string_view kThreadsAllowed = "0 (automatic) to 256";
constexpr std::string_view kXorGroupAllowed = "at least 2";
constexpr std::string_view kFlushEveryAllowed = "at least 0 (0: only at the end of the job)";

// The value as the user gave it, quoted; cut when very long (a 300-digit number, say), so that the
// message stays readable and still shows what was given.
std::string shown(std::string_view value) {
  constexpr std::size_t kShown = 40;
  if (value.size() <= kShown) return fmt::format("'{}'", value);
  return fmt::format("'{}...' ({} characters)", value.substr(0, kShown), value.size());
}

[[noreturn]] void bad_value(const char* variable, const std::string& value, std::string_view why) {
  throw ConfigError(fmt::format("{}={}: {}", variable, shown(value), why));
}

[[noreturn]] void out_of_range(const char* variable, const std::string& value, std::string_view allowed) {
  bad_value(variable, value, fmt::format("out of range: it must be {}", allowed));
}

// An int; validate() checks the field's own range, `allowed` (in words) is for a value beyond int's.
int parse_int(const char* variable, const std::string& text, std::string_view allowed) {
  int value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || end != text.data() + text.size() || (error != std::errc{} && error != std::errc::result_out_of_range)) {
    bad_value(variable, text, "not an integer");
  }
  if (error == std::errc::result_out_of_range) out_of_range(variable, text, allowed);
  return value;
}

// Bytes with an optional binary suffix: 4194304, 4096K, 4M, 1G (also KiB/MiB/GiB).
std::size_t parse_bytes(const char* variable, const std::string& text, std::string_view allowed) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  const std::string suffix = text.substr(digits);
  unsigned shift = 0;
  if (suffix.empty() || suffix == "B") shift = 0;
  else if (suffix == "K" || suffix == "KiB") shift = 10;
  else if (suffix == "M" || suffix == "MiB") shift = 20;
  else if (suffix == "G" || suffix == "GiB") shift = 30;
  else bad_value(variable, text, "not a byte count (examples: 4194304, 4M, 512K)");
  std::uint64_t number = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + digits, number);
  if (digits == 0 || end != text.data() + digits) bad_value(variable, text, "not a byte count (examples: 4194304, 4M, 512K)");
  if (error == std::errc::result_out_of_range || number > (std::numeric_limits<std::size_t>::max() >> shift)) {
    out_of_range(variable, text, allowed);
  }
  return static_cast<std::size_t>(number) << shift;
}

// A finite number of seconds, at least 0.
double parse_seconds(const char* variable, const std::string& text) {
  double value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || end != text.data() + text.size() || (error != std::errc{} && error != std::errc::result_out_of_range)) {
    bad_value(variable, text, "not a number of seconds");
  }
  if (error == std::errc::result_out_of_range || !std::isfinite(value) || value < 0) {
    out_of_range(variable, text, kSecondsAllowed);
  }
  return value;
}

bool parse_flag(const char* variable, const std::string& text) {
  if (text == "1" || text == "true" || text == "yes" || text == "on") return true;
  if (text == "0" || text == "false" || text == "no" || text == "off" || text.empty()) return false;
  bad_value(variable, text, "not a boolean (use 1/0, true/false, yes/no, on/off)");
}

}  // namespace

Options Options::from_env() {
  Options options;
  if (auto value = environment("LAZARUS_DIR")) {
    if (value->empty()) bad_value("LAZARUS_DIR", *value, "empty path");
    options.dir = *value;
  }
  if (auto value = environment("LAZARUS_JOB")) options.job = *value;
  if (auto value = environment("LAZARUS_KEEP")) options.keep = parse_int("LAZARUS_KEEP", *value, kKeepAllowed);
  if (auto value = environment("LAZARUS_COMPRESS")) {
    options.compression_level = parse_int("LAZARUS_COMPRESS", *value, kCompressAllowed);
  }
  if (auto value = environment("LAZARUS_INTERVAL")) {
    options.interval_seconds = parse_seconds("LAZARUS_INTERVAL", *value);
  }
  if (auto value = environment("LAZARUS_CHUNK_BYTES")) options.chunk_bytes = parse_bytes("LAZARUS_CHUNK_BYTES", *value, kChunkAllowed);
  if (auto value = environment("LAZARUS_VERBOSE")) options.verbose = parse_flag("LAZARUS_VERBOSE", *value);
  if (auto value = environment("LAZARUS_MTBF")) options.mtbf_seconds = parse_seconds("LAZARUS_MTBF", *value);
  if (auto value = environment("LAZARUS_MODE")) {
    if (*value == "sync") options.mode = Mode::sync;
    else if (*value == "async") options.mode = Mode::async;
    else bad_value("LAZARUS_MODE", *value, "not one of sync, async");
  }
  if (auto value = environment("LAZARUS_STAGING_BYTES")) {
    options.staging_bytes = parse_bytes("LAZARUS_STAGING_BYTES", *value, kStagingAllowed);
  }
  if (auto value = environment("LAZARUS_THREADS")) options.threads = parse_int("LAZARUS_THREADS", *value, kThreadsAllowed);
  if (auto value = environment("LAZARUS_LOCAL_DIR")) options.local_dir = *value;
  if (auto value = environment("LAZARUS_REDUNDANCY")) {
    if (*value == "partner") options.redundancy = Redundancy::partner;
    else if (*value == "xor") options.redundancy = Redundancy::xor_parity;
    else if (*value == "none") options.redundancy = Redundancy::none;
    else bad_value("LAZARUS_REDUNDANCY", *value, "not one of partner, xor, none");
  }
  if (auto value = environment("LAZARUS_XOR_GROUP")) options.xor_group = parse_int("LAZARUS_XOR_GROUP", *value, kXorGroupAllowed);
  if (auto value = environment("LAZARUS_FLUSH_EVERY")) {
    options.flush_every = parse_int("LAZARUS_FLUSH_EVERY", *value, kFlushEveryAllowed);
  }
  try {
    options.validate();
  } catch (const ConfigError& error) {
    throw ConfigError(std::string(error.what()) + " (from the LAZARUS_* environment)");
  }
  return options;
}

void Options::validate() const {
  if (dir.empty()) throw ConfigError("Options::dir (LAZARUS_DIR) is empty");
  if (auto problem = detail::name_problem(job)) {
    throw ConfigError(fmt::format("Options::job (LAZARUS_JOB) '{}' is not a valid job name: {}", job, *problem));
  }
  if (keep < 1) throw ConfigError(fmt::format("Options::keep (LAZARUS_KEEP) is {}; it must be {}", keep, kKeepAllowed));
  if (compression_level < 0 || compression_level > 22) {
    throw ConfigError(fmt::format(
        "Options::compression_level (LAZARUS_COMPRESS) is {}; it must be {}", compression_level, kCompressAllowed));
  }
  if (!std::isfinite(interval_seconds) || interval_seconds < 0) {
    throw ConfigError(fmt::format("Options::interval_seconds (LAZARUS_INTERVAL) is {}; it must be {}",
                                  interval_seconds, kSecondsAllowed));
  }
  constexpr std::size_t kMinChunk = std::size_t{4} << 10;
  constexpr std::size_t kMaxChunk = std::size_t{1} << 30;
  if (chunk_bytes < kMinChunk || chunk_bytes > kMaxChunk) {
    throw ConfigError(fmt::format("Options::chunk_bytes (LAZARUS_CHUNK_BYTES) is {}; it must be {}", chunk_bytes,
                                  kChunkAllowed));
  }
  if (!std::isfinite(mtbf_seconds) || mtbf_seconds < 0) {
    throw ConfigError(fmt::format("Options::mtbf_seconds (LAZARUS_MTBF) is {}; it must be {}", mtbf_seconds,
                                  kSecondsAllowed));
  }
  if (mtbf_seconds > 0 && interval_seconds > 0) {
    throw ConfigError(fmt::format("Options::interval_seconds (LAZARUS_INTERVAL, {}) and Options::mtbf_seconds "
                                  "(LAZARUS_MTBF, {}) are both set: need_checkpoint() takes a fixed period or the "
                                  "Young/Daly period from the MTBF, not both",
                                  interval_seconds, mtbf_seconds));
  }
  if (threads < 0 || threads > 256) {
    throw ConfigError(fmt::format("Options::threads (LAZARUS_THREADS) is {}; it must be {}", threads, kThreadsAllowed));
  }
  if (xor_group < 2) {
    throw ConfigError(fmt::format("Options::xor_group (LAZARUS_XOR_GROUP) is {}; it must be {}", xor_group, kXorGroupAllowed));
  }
  if (flush_every < 0) {
    throw ConfigError(fmt::format("Options::flush_every (LAZARUS_FLUSH_EVERY) is {}; it must be {}", flush_every,
                                  kFlushEveryAllowed));
  }
  if (!local_dir.empty() && (local_dir / "").lexically_normal() == (dir / "").lexically_normal()) {
    throw ConfigError(fmt::format("Options::local_dir (LAZARUS_LOCAL_DIR) is the same folder as Options::dir "
                                  "(LAZARUS_DIR), {}: the node-local level must be a folder of its own",
                                  dir.string()));
  }
}

}  // namespace lazarus
