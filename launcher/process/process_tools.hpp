#pragma once
// Starting a job in a process session of its own, and making sure every process of it is gone.
#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lazarus::launcher {

// A child process started with setsid(): it leads a new session, and every process it starts
// (mpirun's daemons, the ranks) stays in that session unless it calls setsid() itself.
class SessionLeader {
 public:
  // Starts `argv` with the current environment plus `extra_environment`. Throws std::runtime_error.
  SessionLeader(const std::vector<std::string>& argv, const std::map<std::string, std::string>& extra_environment);
  ~SessionLeader();  // kills and reaps what is left
  SessionLeader(const SessionLeader&) = delete;
  SessionLeader& operator=(const SessionLeader&) = delete;

  pid_t pid() const { return pid_; }
  // The leader's wait status once it has ended (waitpid WNOHANG), nullopt while it runs.
  std::optional<int> poll_exit();
  // SIGKILLs every process of the job (job_processes(): what a rank daemonized with setsid() too),
  // reaps the leader, and waits until none is left or `limit` passed. Returns the pids still alive.
  std::vector<pid_t> kill_all(std::chrono::milliseconds limit);
  // The live processes of the job but the leader: its session, and every descendant of this process
  // (the launcher is a subreaper, so a process that leaves the session with setsid() and loses its
  // parent is reparented to it, and stays found).
  std::vector<pid_t> job_processes() const;

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// Makes this process the reaper of its orphaned descendants (a rank whose mpirun died), so that no
// zombie outlives the launcher, and reaps those already dead. Both never fail.
void become_subreaper() noexcept;
void reap_orphans(pid_t except) noexcept;

// Pids of the live processes whose session id is `session` (from /proc).
std::vector<pid_t> processes_in_session(pid_t session);
// The value of `name` in the environment `pid` was started with (/proc/PID/environ); nullopt when
// it has none, or the process is gone or not ours to read.
std::optional<std::string> environment_variable(pid_t pid, const std::string& name);
// The process's command name (/proc/PID/comm), "?" when it is gone.
std::string command_name(pid_t pid);
// True when `pid` exists and is not a zombie.
bool process_alive(pid_t pid);
// A dead-but-unreaped process's wait status, read from /proc/PID/stat while it is a zombie.
std::optional<int> zombie_wait_status(pid_t pid);
// "signal 9 (Killed)" or "exit code 3".
std::string describe_wait_status(int status);

}  // namespace lazarus::launcher
