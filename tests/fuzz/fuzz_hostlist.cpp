// Slurm hostlist expressions (SLURM_JOB_NODELIST, --nodelist): expand_hostlist either throws
// std::invalid_argument or returns a bounded list of plain host names, which expand to themselves.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>

#include "launcher/resources/hostlist.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view expression(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> hosts;
  try {
    hosts = lazarus::launcher::expand_hostlist(expression);
  } catch (const std::invalid_argument&) {
    return 0;
  }
  if (hosts.empty() || hosts.size() > lazarus::launcher::kMaxHostlistHosts) std::abort();
  std::string joined;
  for (const std::string& host : hosts) {
    // A name is never empty, never longer than the limit, and holds no hostlist syntax.
    if (host.empty() || host.size() > lazarus::launcher::kMaxHostNameBytes ||
        host.find_first_of(",[]") != std::string::npos) {
      std::abort();
    }
    if (hosts.size() <= 64) joined += (joined.empty() ? "" : ",") + host;
  }
  // Plain names joined by commas are a hostlist of themselves.
  if (hosts.size() <= 64 && lazarus::launcher::expand_hostlist(joined) != hosts) std::abort();
  return 0;
}
