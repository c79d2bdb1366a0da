#include "launcher/supervision/peer_identity.hpp"

#include <unistd.h>

#include <array>

#include <fmt/format.h>

#include "launcher/process/process_tools.hpp"

namespace lazarus::launcher {
namespace {

// Where launchers put a process's rank in its environment, most specific first: under mpirun inside a
// Slurm allocation SLURM_PROCID is the batch step's (0 for every rank), so it comes last.
constexpr std::array kRankVariables{"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"};

}  // namespace

bool started_by_job(pid_t pid, const std::string& token) {
  return process_alive(pid) && environment_variable(pid, "LAZARUS_LAUNCHER_TOKEN") == token;
}

std::optional<std::string> impostor_reason(const PeerCredentials& credentials, const detail::Message& hello,
                                           const std::string& token) {
  if (credentials.uid != ::geteuid()) {
    return fmt::format("the peer runs as user {}, not as the launcher's user", credentials.uid);
  }
  if (hello.pid != credentials.pid) {
    return fmt::format("the hello names pid {}, but the peer is pid {}", hello.pid, credentials.pid);
  }
  if (!started_by_job(credentials.pid, token)) return "the peer process was not started by this job";
  for (const char* variable : kRankVariables) {
    const auto value = environment_variable(credentials.pid, variable);
    if (!value) continue;
    if (*value != std::to_string(hello.rank)) {
      return fmt::format("the hello claims rank {}, but the peer process is rank {} ({})", hello.rank, *value, variable);
    }
    return std::nullopt;
  }
  return std::nullopt;  // a launch that names no rank: the token and the pid are what is known
}

}  // namespace lazarus::launcher
