#include "backends/posix/isolated_call.hpp"

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include <fmt/format.h>

#include "backends/posix/durable_io.hpp"
#include "lazarus/errors.hpp"

namespace lazarus::backends {

IsolatedResult run_isolated(const std::function<std::string()>& work, std::chrono::seconds timeout) {
  int pipe_fds[2] = {-1, -1};
  if (::pipe(pipe_fds) != 0) throw IoError(fmt::format("cannot create a pipe: {}", errno_text(errno)));
  FileDescriptor reading(pipe_fds[0]);
  FileDescriptor writing(pipe_fds[1]);
  const pid_t child = ::fork();
  if (child < 0) throw IoError(fmt::format("cannot start a child process: {}", errno_text(errno)));
  if (child == 0) {  // the child: do the work, hand back its text, and leave without running destructors
    std::string output;
    int status = 0;
    try {
      output = work();
    } catch (const std::exception& error) {
      output = error.what();
      status = 3;
    }
    for (std::size_t done = 0; done < output.size();) {
      const ssize_t n = ::write(writing.get(), output.data() + done, output.size() - done);
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    ::_exit(status);
  }
  writing = FileDescriptor();  // the parent keeps only the reading end: EOF once the child is gone
  IsolatedResult result;
  std::string output;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd poll_fd{reading.get(), POLLIN, 0};
    const int ready = ::poll(&poll_fd, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;  // the deadline is checked above
    char buffer[65536];
    const ssize_t n = ::read(reading.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the child has finished or died
    output.append(buffer, static_cast<std::size_t>(n));
  }
  if (timed_out) ::kill(child, SIGKILL);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    result.failure = fmt::format("no answer after {} s (it hung)", timeout.count());
  } else if (WIFSIGNALED(status)) {
    result.failure = fmt::format("it crashed (signal {}, {})", WTERMSIG(status), ::strsignal(WTERMSIG(status)));
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    result.output = std::move(output);
  } else {
    result.failure = output.empty() ? fmt::format("it failed (exit status {})", WEXITSTATUS(status)) : output;
  }
  return result;
}

}  // namespace lazarus::backends
