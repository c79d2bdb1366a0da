#pragma once
// For the tests of launcher parts that run other programs (srun, squeue, scancel): a fake program
// written as a shell script, a file that another process writes (polled, since it may be started
// detached), and the processes still running with a given command line (what a time limit must not
// leave behind).
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace lazarus::testing {

// Writes an executable `#!/bin/sh` script with `body` at `path` and returns `path`.
inline std::filesystem::path write_script(const std::filesystem::path& path, const std::string& body) {
  {
    std::ofstream out(path);
    out << "#!/bin/sh\n" << body;
    if (!out) throw std::runtime_error("cannot write " + path.string());
  }  // closed before anyone runs it (an open writer makes exec fail with ETXTBSY)
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  return path;
}

// The whole file, or "" when it does not exist.
inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// The file's text once it holds a whole line (ends with '\n'), or what it holds after `limit`.
inline std::string wait_for_line(const std::filesystem::path& path,
                                 std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  std::string text;
  while (std::chrono::steady_clock::now() < deadline) {
    text = read_text(path);
    if (!text.empty() && text.back() == '\n') return text;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return text;
}

// The processes, not zombies, whose command line is exactly `argv` (give the command an argument
// no other process has, such as `sleep 30.4711`).
inline std::vector<pid_t> live_processes_running(const std::vector<std::string>& argv) {
  std::string wanted;
  for (const auto& argument : argv) wanted += argument + '\0';
  std::vector<pid_t> found;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (read_text(entry.path() / "cmdline") != wanted) continue;
    // /proc/PID/stat: "PID (COMM) STATE ...", COMM may hold spaces or parentheses.
    const std::string stat = read_text(entry.path() / "stat");
    const auto close = stat.rfind(')');
    if (close == std::string::npos || close + 2 >= stat.size() || stat[close + 2] == 'Z') continue;
    found.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return found;
}

// The same, once none is left or about a second passed: a SIGKILLed process needs a moment to leave
// /proc.
inline std::vector<pid_t> processes_left_running(const std::vector<std::string>& argv) {
  std::vector<pid_t> left = live_processes_running(argv);
  for (int i = 0; i < 100 && !left.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    left = live_processes_running(argv);
  }
  return left;
}

}  // namespace lazarus::testing
