#include "launcher/process/captured_command.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "backends/posix/durable_io.hpp"

extern char** environ;

namespace lazarus::launcher {
namespace {

using Clock = std::chrono::steady_clock;

struct Running {
  pid_t pid = -1;
  backends::FileDescriptor output;  // the read end of the child's stdout and stderr
  CommandResult result;
  bool done = false;
};

// Spawns `command` in a new process group with stdout and stderr into a pipe (`capture`) or to
// /dev/null; pid -1 when it fails.
Running spawn(const std::vector<std::string>& command, bool capture) {
  Running running;
  if (command.empty()) return running;
  std::array<int, 2> pipe_ends{-1, -1};
  if (capture && ::pipe2(pipe_ends.data(), O_CLOEXEC) != 0) return running;
  backends::FileDescriptor read_end(pipe_ends[0]);
  backends::FileDescriptor write_end(pipe_ends[1]);
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawnattr_init(&attributes);
  if (capture) {
    ::posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDOUT_FILENO);
    ::posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDERR_FILENO);
  } else {
    ::posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    ::posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  }
  ::posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  ::posix_spawnattr_setpgroup(&attributes, 0);
  std::vector<std::string> arguments = command;
  std::vector<char*> argv;
  for (auto& argument : arguments) argv.push_back(argument.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int error = ::posix_spawnp(&pid, argv[0], &actions, &attributes, argv.data(), environ);
  ::posix_spawn_file_actions_destroy(&actions);
  ::posix_spawnattr_destroy(&attributes);
  if (error != 0) {
    running.result.output = std::string("cannot start ") + command.front() + ": " + std::strerror(error);
    return running;
  }
  running.pid = pid;
  running.output = std::move(read_end);
  return running;
}

void drain(Running& running) {
  std::array<char, 4096> buffer{};
  for (;;) {
    const ssize_t n = ::read(running.output.get(), buffer.data(), buffer.size());
    if (n > 0) {
      running.result.output.append(buffer.data(), static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return;  // 0: every writer closed it; EAGAIN: nothing more for now
  }
}

}  // namespace

bool CommandResult::succeeded() const {
  return !timed_out && wait_status && WIFEXITED(*wait_status) && WEXITSTATUS(*wait_status) == 0;
}

std::vector<CommandResult> run_captured_all(const std::vector<std::vector<std::string>>& commands,
                                            std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  std::vector<Running> running;
  for (const auto& command : commands) {
    running.push_back(spawn(command, true));
    Running& started = running.back();
    if (started.pid < 0) {
      started.done = true;
    } else {
      ::fcntl(started.output.get(), F_SETFL, O_NONBLOCK);
    }
  }
  for (;;) {
    std::vector<pollfd> watched;
    for (auto& r : running) {
      if (r.done) continue;
      drain(r);
      int status = 0;
      if (::waitpid(r.pid, &status, WNOHANG) == r.pid) {
        drain(r);  // what it wrote before it ended
        ::kill(-r.pid, SIGKILL);  // what it left in the background (the group outlives its leader)
        r.result.wait_status = status;
        r.done = true;
        continue;
      }
      watched.push_back({r.output.get(), POLLIN, 0});
    }
    if (watched.empty()) break;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    // Wakes on output; an exit without output is seen at the next 20 ms turn.
    ::poll(watched.data(), watched.size(), static_cast<int>(std::min<long>(left.count(), 20)));
  }
  std::vector<CommandResult> results;
  for (auto& r : running) {
    if (!r.done) {
      ::kill(-r.pid, SIGKILL);  // the command and whatever it started
      ::waitpid(r.pid, nullptr, 0);
      r.result.timed_out = true;
    }
    results.push_back(std::move(r.result));
  }
  return results;
}

CommandResult run_captured(const std::vector<std::string>& command, std::chrono::milliseconds limit) {
  return run_captured_all({command}, limit).front();
}

void start_detached(const std::vector<std::string>& command) { spawn(command, false); }

}  // namespace lazarus::launcher
