// `lazarus run --inject SPEC` (launcher/supervision/fault_plan.hpp) on arbitrary text: parse_fault
// either throws UsageError or returns a fault that keeps the text as given, whose values are in range,
// that took each key at most once, and that the same fault written in its plain form parses back to.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <map>
#include <sstream>
#include <string>

#include <fmt/format.h>

#include "fuzz_support.hpp"
#include "launcher/cli/usage_error.hpp"
#include "launcher/supervision/fault_plan.hpp"

namespace {

using lazarus::fuzz::fail;
using lazarus::launcher::Fault;

bool same_fault(const Fault& a, const Fault& b) {
  return a.action == b.action && a.rank == b.rank && a.node == b.node && a.after_seconds == b.after_seconds &&
         a.after_checkpoint == b.after_checkpoint && a.point == b.point && a.version == b.version &&
         a.attempt == b.attempt && a.fired == b.fired;
}

// The fault as a spec with every field spelled out.
std::string plain_form(const Fault& fault) {
  switch (fault.action) {
    case Fault::Action::kill:
    case Fault::Action::stop:
    case Fault::Action::kill_node: {
      const std::string target =
          fault.action == Fault::Action::kill_node ? "node=" + fault.node : fmt::format("rank={}", fault.rank);
      std::string spec = fmt::format("{} {} after={}", fault.action == Fault::Action::stop ? "stop" : "kill", target,
                                     fault.after_seconds);
      if (fault.after_checkpoint != 0) spec += fmt::format(" after-checkpoint={}", fault.after_checkpoint);
      return spec;
    }
    case Fault::Action::crash: {
      std::string spec = fmt::format("crash point={} rank={} attempt={}", fault.point, fault.rank, fault.attempt);
      if (fault.version) spec += fmt::format(" version={}", *fault.version);
      return spec;
    }
  }
  fail("a fault with no action");
}

// How often each key=value key appears among the words after the verb.
std::map<std::string, int> key_counts(const std::string& spec) {
  std::istringstream words(spec);
  std::string word;
  words >> word;
  std::map<std::string, int> counts;
  while (words >> word) ++counts[word.substr(0, word.find('='))];
  return counts;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string spec(reinterpret_cast<const char*>(data), size);
  Fault fault;
  try {
    fault = lazarus::launcher::parse_fault(spec);
  } catch (const lazarus::launcher::UsageError&) {
    return 0;
  }
  if (fault.text != spec) fail("the fault does not keep its text");
  if (!std::isfinite(fault.after_seconds) || fault.after_seconds < 0) fail("after= out of range");
  if (fault.action == Fault::Action::kill_node ? fault.rank != -1 : fault.rank < 0) fail("rank out of range");
  for (const auto& [key, count] : key_counts(spec)) {
    if (count > 1) fail(fmt::format("'{}' was given {} times and accepted", key, count));
  }
  const std::string plain = plain_form(fault);
  if (!same_fault(lazarus::launcher::parse_fault(plain), fault)) fail("'" + plain + "' is another fault");
  return 0;
}
