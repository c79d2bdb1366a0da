#include "launcher/process/process_tools.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <cstdlib>
#include <thread>

#include <fmt/format.h>

#include "backends/posix/durable_io.hpp"

extern char** environ;

namespace lazarus::launcher {
namespace {

// Fields of /proc/PID/stat after the command name (which may contain spaces and parentheses).
// Empty when the process is gone (reading the file of a vanishing process fails with ESRCH).
std::vector<std::string> stat_fields(pid_t pid) {
  const std::string path = fmt::format("/proc/{}/stat", pid);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  char buffer[4096];
  const ssize_t n = ::read(fd, buffer, sizeof buffer - 1);
  ::close(fd);
  if (n <= 0) return {};
  const std::string text(buffer, static_cast<std::size_t>(n));
  const auto close = text.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream rest(text.substr(close + 2));
  std::vector<std::string> fields;
  for (std::string field; rest >> field;) fields.push_back(field);
  return fields;  // fields[0] is the state (stat field 3)
}

struct ProcessEntry {
  pid_t pid = 0;
  pid_t parent = 0;
  pid_t session = 0;
};

// Every live process (zombies left out), from one pass over /proc.
std::vector<ProcessEntry> live_processes() {
  std::vector<ProcessEntry> processes;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::strtol(name.c_str(), nullptr, 10));
    const auto fields = stat_fields(pid);  // state, ppid, pgrp, session, ...
    if (fields.size() > 3 && fields[0] != "Z" && fields[0] != "X") {
      processes.push_back({pid, static_cast<pid_t>(std::strtol(fields[1].c_str(), nullptr, 10)),
                           static_cast<pid_t>(std::strtol(fields[3].c_str(), nullptr, 10))});
    }
  }
  return processes;
}

// The descendants of `ancestor` among `processes`: its children, their children...
std::vector<pid_t> descendants_among(const std::vector<ProcessEntry>& processes, pid_t ancestor) {
  std::vector<pid_t> found;
  std::vector<pid_t> frontier{ancestor};
  while (!frontier.empty()) {
    const pid_t parent = frontier.back();
    frontier.pop_back();
    for (const ProcessEntry& process : processes) {
      if (process.parent == parent && process.pid != ancestor) {
        found.push_back(process.pid);
        frontier.push_back(process.pid);
      }
    }
  }
  return found;
}

}  // namespace

SessionLeader::SessionLeader(const std::vector<std::string>& argv,
                             const std::map<std::string, std::string>& extra_environment) {
  if (argv.empty()) throw std::runtime_error("nothing to run");
  // Everything the child needs is prepared before fork(): only async-signal-safe calls after it.
  std::vector<std::string> environment_strings;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string_view item(*entry);
    const auto name = item.substr(0, item.find('='));
    if (!extra_environment.contains(std::string(name))) environment_strings.emplace_back(item);
  }
  for (const auto& [name, value] : extra_environment) environment_strings.push_back(name + "=" + value);
  std::vector<char*> environment_pointers;
  for (auto& entry : environment_strings) environment_pointers.push_back(entry.data());
  environment_pointers.push_back(nullptr);
  std::vector<std::string> arguments = argv;
  std::vector<char*> argument_pointers;
  for (auto& argument : arguments) argument_pointers.push_back(argument.data());
  argument_pointers.push_back(nullptr);

  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error(fmt::format("fork failed: {}", std::strerror(errno)));
  if (pid_ == 0) {
    ::setsid();
    // If the launcher itself is killed, mpirun goes too (and takes its ranks down).
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::execvpe(argument_pointers[0], argument_pointers.data(), environment_pointers.data());
    const char message[] = "lazarus: cannot execute the launch command\n";
    [[maybe_unused]] auto ignored = ::write(2, message, sizeof message - 1);
    ::_exit(127);
  }
}

SessionLeader::~SessionLeader() { kill_all(std::chrono::milliseconds(2000)); }

std::optional<int> SessionLeader::poll_exit() {
  if (status_ || pid_ <= 0) return status_;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) status_ = status;
  return status_;
}

std::vector<pid_t> SessionLeader::job_processes() const {
  if (pid_ <= 0) return {};
  const auto processes = live_processes();
  std::vector<pid_t> found = descendants_among(processes, ::getpid());
  for (const ProcessEntry& process : processes) {
    if (process.session == pid_ && std::find(found.begin(), found.end(), process.pid) == found.end()) {
      found.push_back(process.pid);
    }
  }
  std::erase(found, pid_);
  return found;
}

std::vector<pid_t> SessionLeader::kill_all(std::chrono::milliseconds limit) {
  if (pid_ <= 0) return {};
  const auto deadline = std::chrono::steady_clock::now() + limit;
  std::vector<pid_t> alive;
  for (;;) {
    alive = job_processes();
    if (process_alive(pid_)) alive.push_back(pid_);
    ::kill(-pid_, SIGKILL);  // the leader's process group
    for (pid_t pid : alive) ::kill(pid, SIGKILL);
    poll_exit();
    reap_orphans(status_ ? -1 : pid_);
    if (alive.empty() && status_) break;
    if (std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return alive;
}

void become_subreaper() noexcept { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }

void reap_orphans(pid_t except) noexcept {
  siginfo_t info{};
  // Peek first (WNOWAIT), so that the session leader's status stays for poll_exit().
  while (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid != 0) {
    if (info.si_pid == except) break;
    ::waitpid(info.si_pid, nullptr, WNOHANG);
    info = {};
  }
}

std::vector<pid_t> processes_in_session(pid_t session) {
  std::vector<pid_t> found;
  for (const ProcessEntry& process : live_processes()) {
    if (process.session == session) found.push_back(process.pid);
  }
  return found;
}

std::optional<std::string> environment_variable(pid_t pid, const std::string& name) {
  const std::string path = fmt::format("/proc/{}/environ", pid);
  backends::FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return std::nullopt;
  // The environment block is bounded by the kernel (ARG_MAX-like limits); read it whole, in pieces.
  std::string block;
  char buffer[65536];
  for (ssize_t n; (n = ::read(fd.get(), buffer, sizeof buffer)) > 0;) block.append(buffer, static_cast<std::size_t>(n));
  const std::string prefix = name + "=";
  for (std::size_t start = 0; start < block.size();) {
    const std::size_t end = std::min(block.find('\0', start), block.size());
    const std::string_view entry(block.data() + start, end - start);
    if (entry.starts_with(prefix)) return std::string(entry.substr(prefix.size()));
    start = end + 1;
  }
  return std::nullopt;
}

std::string command_name(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/comm", pid));
  std::string name;
  if (!std::getline(in, name)) return "?";
  return name;
}

bool process_alive(pid_t pid) {
  const auto fields = stat_fields(pid);
  return !fields.empty() && fields[0] != "Z" && fields[0] != "X";
}

std::optional<int> zombie_wait_status(pid_t pid) {
  const auto fields = stat_fields(pid);
  // Field 52 (exit_code) is fields[49]; present since Linux 3.5.
  if (fields.size() < 50 || fields[0] != "Z") return std::nullopt;
  return static_cast<int>(std::strtol(fields[49].c_str(), nullptr, 10));
}

std::string describe_wait_status(int status) {
  if (WIFSIGNALED(status)) return fmt::format("signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  if (WIFEXITED(status)) return fmt::format("exit code {}", WEXITSTATUS(status));
  return fmt::format("wait status {}", status);
}

}  // namespace lazarus::launcher
