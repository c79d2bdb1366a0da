#pragma once
// Who is at the other end of a heartbeat connection. A rank on the launcher's machine connects over
// a Unix socket, where the kernel tells the launcher the peer's pid and user (SO_PEERCRED): its hello
// must name that pid, that process must run as the launcher's user, carry the job's token in the
// environment it was started with, and be the rank it claims for the launch (OMPI_COMM_WORLD_RANK and
// friends). Only such a verified pid is ever signalled (docs/security.md).
#include <sys/types.h>

#include <optional>
#include <string>

#include "runtime/heartbeat/heartbeat_protocol.hpp"

namespace lazarus::launcher {

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
};

// Why `hello`, received from a peer with `credentials`, is not a rank of this job, or nullopt when it is.
std::optional<std::string> impostor_reason(const PeerCredentials& credentials, const detail::Message& hello,
                                           const std::string& token);

// Whether `pid` is a live process started by this job (its environment carries `token`): checked again
// right before a signal, since a pid is reused once its process is gone.
bool started_by_job(pid_t pid, const std::string& token);

}  // namespace lazarus::launcher
