#pragma once
// Short helper commands the launcher runs and reads (squeue, scancel, srun probes): output captured,
// a time limit, and nothing left running after it.
#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace lazarus::launcher {

struct CommandResult {
  std::optional<int> wait_status;  // nullopt when it could not be started or was killed at the limit
  bool timed_out = false;
  std::string output;              // stdout and stderr together
  bool succeeded() const;          // exited with status 0 in time
};

// Runs every command at once (PATH lookup), each in a process group of its own with stdout and stderr
// captured, and waits until all have ended or `limit` passed. A command still running then is killed
// with its whole group; one that ended has its group killed too, so that nothing it started in the
// background outlives it. Results are in the order of `commands`. Never throws for a command that
// fails.
std::vector<CommandResult> run_captured_all(const std::vector<std::vector<std::string>>& commands,
                                            std::chrono::milliseconds limit);
CommandResult run_captured(const std::vector<std::string>& command, std::chrono::milliseconds limit);

// Starts `command` and does not wait for it (its output goes nowhere). For a command that may block
// for long on a dead node, such as scancel of a step that ran there; the launcher, a subreaper,
// reaps it later.
void start_detached(const std::vector<std::string>& command);

}  // namespace lazarus::launcher
