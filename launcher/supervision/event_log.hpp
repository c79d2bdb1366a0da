#pragma once
// What `lazarus run` tells: one human-readable line per event on stderr, and the same event as a
// JSON line in the events file (docs/launcher.md, "Events").
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

namespace lazarus::launcher {

class EventLog {
 public:
  // Appends to `file` (its folder is created). Throws std::runtime_error when it cannot be opened.
  EventLog(const std::filesystem::path& file, std::chrono::steady_clock::time_point start);
  // Writes `fields` plus "event", "unix_ms" and "elapsed_s" as one JSON line, and "lazarus: <human>".
  void record(const std::string& event, nlohmann::json fields, const std::string& human);
  double elapsed_seconds() const;
  const std::filesystem::path& file() const { return path_; }

 private:
  std::filesystem::path path_;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace lazarus::launcher
