#include "launcher/supervision/event_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "backends/posix/durable_io.hpp"

namespace lazarus::launcher {

EventLog::EventLog(const std::filesystem::path& file, std::chrono::steady_clock::time_point start)
    : path_(file), file_(nullptr, &std::fclose), start_(start) {
  // Private to the user (0700 folder, 0600 file): the events name the heartbeat listener's port.
  if (file.has_parent_path()) backends::create_private_directory(file.parent_path());
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd >= 0) file_.reset(::fdopen(fd, "a"));
  if (!file_) {
    const std::string why = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    throw std::runtime_error(fmt::format("cannot open the events file {}: {}", file.string(), why));
  }
}

double EventLog::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void EventLog::record(const std::string& event, nlohmann::json fields, const std::string& human) {
  const double elapsed = elapsed_seconds();
  fields["event"] = event;
  fields["elapsed_s"] = std::round(elapsed * 1000.0) / 1000.0;
  fields["unix_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  // Paths and arguments are bytes on Linux: text that is not UTF-8 is written as U+FFFD rather than
  // ending the launcher (nlohmann::json throws on it by default).
  const std::string line = fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::fwrite(line.data(), 1, line.size(), file_.get());
  std::fflush(file_.get());
  std::fprintf(stderr, "lazarus: [%7.3f s] %s\n", elapsed, human.c_str());
  std::fflush(stderr);
}

}  // namespace lazarus::launcher
