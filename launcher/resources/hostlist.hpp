#pragma once
// Slurm's hostlist expressions ("n[1-3,7],gpu[01-04]"), as in SLURM_JOB_NODELIST, expanded to host
// names in Slurm's order (what `scontrol show hostnames` prints).
#include <string>
#include <string_view>
#include <vector>

namespace lazarus::launcher {

// Expands `expression`: comma-separated items, each a name with any number of bracketed range lists
// ("a[1-2]b[3,5]" is a1b3 a1b5 a2b3 a2b5). A range keeps the zero padding of its first number
// ("[08-10]" is 08 09 10). Text after a bracket group ("n[1-2]-ib") is accepted, though Slurm itself
// neither writes nor accepts it. Throws std::invalid_argument, naming the expression, for unbalanced
// brackets, an empty item, or a range that is not "low-high" with low <= high.
std::vector<std::string> expand_hostlist(std::string_view expression);

}  // namespace lazarus::launcher
