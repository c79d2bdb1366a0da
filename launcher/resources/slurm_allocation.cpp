#include "launcher/resources/slurm_allocation.hpp"

#include <charconv>
#include <cstdlib>
#include <stdexcept>

#include <fmt/format.h>

#include "launcher/process/captured_command.hpp"
#include "launcher/resources/hostlist.hpp"

namespace lazarus::launcher {
namespace {

std::optional<std::string> environment(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

// The leading number of "4", "2(x3)" or "2(x3),1": Slurm's task counts.
std::optional<int> leading_count(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  int value = 0;
  const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (error != std::errc{} || end == text->data() || value <= 0) return std::nullopt;
  return value;
}

}  // namespace

std::optional<SlurmAllocation> slurm_allocation_from_environment() {
  const auto job_id = environment("SLURM_JOB_ID");
  const auto nodelist = environment("SLURM_JOB_NODELIST");
  if (!job_id || !nodelist) return std::nullopt;
  SlurmAllocation allocation;
  allocation.job_id = *job_id;
  allocation.nodelist = *nodelist;
  allocation.nodes = expand_hostlist(*nodelist);
  allocation.tasks = leading_count(environment("SLURM_NTASKS"));
  allocation.tasks_per_node = leading_count(environment("SLURM_NTASKS_PER_NODE"));
  if (!allocation.tasks_per_node) allocation.tasks_per_node = leading_count(environment("SLURM_TASKS_PER_NODE"));
  return allocation;
}

std::optional<double> parse_slurm_time_left(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  if (text == "UNLIMITED" || text == "NOT_SET") return std::nullopt;
  const auto bad = [&] { return std::invalid_argument(fmt::format("cannot read Slurm's time left '{}'", text)); };
  long days = 0;
  std::string_view clock = text;
  if (const auto dash = text.find('-'); dash != std::string_view::npos) {
    const auto [end, error] = std::from_chars(text.data(), text.data() + dash, days);
    if (error != std::errc{} || end != text.data() + dash) throw bad();
    clock = text.substr(dash + 1);
  }
  std::vector<long> fields;
  while (true) {
    const auto colon = clock.find(':');
    const auto part = clock.substr(0, colon);
    long value = 0;
    const auto [end, error] = std::from_chars(part.data(), part.data() + part.size(), value);
    if (part.empty() || error != std::errc{} || end != part.data() + part.size() || value < 0) throw bad();
    fields.push_back(value);
    if (colon == std::string_view::npos) break;
    clock = clock.substr(colon + 1);
  }
  const bool with_days = text.find('-') != std::string_view::npos;
  if (fields.size() > 3 || (!with_days && fields.size() < 2)) throw bad();
  // With days: "D-HH", "D-HH:MM", "D-HH:MM:SS"; without: "M:SS" or "H:MM:SS".
  long hours = 0, minutes = 0, seconds = 0;
  if (with_days) {
    hours = fields[0];
    minutes = fields.size() > 1 ? fields[1] : 0;
    seconds = fields.size() > 2 ? fields[2] : 0;
  } else if (fields.size() == 2) {
    minutes = fields[0];
    seconds = fields[1];
  } else {
    hours = fields[0];
    minutes = fields[1];
    seconds = fields[2];
  }
  return static_cast<double>(((days * 24 + hours) * 60 + minutes) * 60 + seconds);
}

std::optional<double> query_time_left(const std::string& squeue, const std::string& job_id,
                                      std::chrono::milliseconds limit) {
  const auto result = run_captured({squeue, "--noheader", "--jobs", job_id, "--format", "%L"}, limit);
  if (!result.succeeded()) return std::nullopt;
  try {
    return parse_slurm_time_left(result.output);
  } catch (const std::invalid_argument&) {
    return std::nullopt;
  }
}

}  // namespace lazarus::launcher
