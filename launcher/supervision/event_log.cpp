#include "launcher/supervision/event_log.hpp"

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace lazarus::launcher {

EventLog::EventLog(const std::filesystem::path& file, std::chrono::steady_clock::time_point start)
    : path_(file), file_(nullptr, &std::fclose), start_(start) {
  if (file.has_parent_path()) std::filesystem::create_directories(file.parent_path());
  file_.reset(std::fopen(file.c_str(), "a"));
  if (!file_) throw std::runtime_error(fmt::format("cannot open the events file {}", file.string()));
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
  const std::string line = fields.dump() + "\n";
  std::fwrite(line.data(), 1, line.size(), file_.get());
  std::fflush(file_.get());
  std::fprintf(stderr, "lazarus: [%7.3f s] %s\n", elapsed, human.c_str());
  std::fflush(stderr);
}

}  // namespace lazarus::launcher
