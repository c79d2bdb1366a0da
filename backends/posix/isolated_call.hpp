#pragma once
// Running code that may crash or hang on bad input (HDF5 parsing a damaged file: one flipped metadata
// byte can make it crash or loop) in a child process, so that the caller survives and can say what
// happened. For single-threaded tools (`lazarus verify`), not for MPI ranks.
#include <chrono>
#include <functional>
#include <optional>
#include <string>

namespace lazarus::backends {

struct IsolatedResult {
  std::optional<std::string> output;  // what `work` returned, when the child finished normally
  std::string failure;                // otherwise: why not ("killed by signal 11", "no answer after 10 s")
};

// Runs `work` in a forked child and returns its result, or why there is none. Throws IoError when no
// child can be started.
IsolatedResult run_isolated(const std::function<std::string()>& work, std::chrono::seconds timeout);

}  // namespace lazarus::backends
