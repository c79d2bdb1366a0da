#pragma once
// Slurm's hostlist expressions ("n[1-3,7],gpu[01-04]"), as in SLURM_JOB_NODELIST, expanded to host
// names in Slurm's order (what `scontrol show hostnames` prints).
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace lazarus::launcher {

// Expands `expression`: comma-separated items, each a name with any number of bracketed range lists
// ("a[1-2]b[3,5]" is a1b3 a1b5 a2b3 a2b5). A range keeps the zero padding of its first number
// ("[08-10]" is 08 09 10). Text after a bracket group ("n[1-2]-ib") is accepted, though Slurm itself
// neither writes nor accepts it. Throws std::invalid_argument, naming the expression, for unbalanced
// brackets, an empty item, a range that is not "low-high" with low <= high, more than `max_hosts`
// names in all, or a name longer than kMaxHostNameBytes: a short expression such as
// "n[0-99999][0-99999]" must be an error, not gigabytes of names. (A smaller `max_hosts` lets the
// fuzz target try the limit without building a million names each time.)
inline constexpr std::size_t kMaxHostlistHosts = 1'000'000;
inline constexpr std::size_t kMaxHostNameBytes = 255;
std::vector<std::string> expand_hostlist(std::string_view expression, std::size_t max_hosts = kMaxHostlistHosts);

}  // namespace lazarus::launcher
