// Slurm hostlist expressions (SLURM_JOB_NODELIST, --nodelist): expand_hostlist either throws
// std::invalid_argument or returns a bounded list of plain host names, which expand to themselves.
// The limit on names is 5000 here, not the real million: the same checks, without spending most of
// the time building a million names (about a second each time under ASan).
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "launcher/resources/hostlist.hpp"

namespace {
constexpr std::size_t kMaxHosts = 5000;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view expression(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> hosts;
  try {
    hosts = lazarus::launcher::expand_hostlist(expression, kMaxHosts);
  } catch (const std::invalid_argument&) {
    return 0;
  }
  if (hosts.empty() || hosts.size() > kMaxHosts) lazarus::fuzz::fail("too many or no names");
  std::string joined;
  for (const std::string& host : hosts) {
    // A name is never empty, never longer than the limit, and holds no hostlist syntax.
    if (host.empty() || host.size() > lazarus::launcher::kMaxHostNameBytes ||
        host.find_first_of(",[]") != std::string::npos) {
      lazarus::fuzz::fail("a bad host name: '" + host + "'");
    }
    if (hosts.size() <= 64) joined += (joined.empty() ? "" : ",") + host;
  }
  // Plain names joined by commas are a hostlist of themselves.
  if (hosts.size() <= 64 && lazarus::launcher::expand_hostlist(joined) != hosts) {
    lazarus::fuzz::fail("the names do not expand to themselves: " + joined);
  }
  return 0;
}
