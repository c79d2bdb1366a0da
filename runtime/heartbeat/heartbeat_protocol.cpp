#include "runtime/heartbeat/heartbeat_protocol.hpp"

#include <algorithm>

#include <array>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <utility>

#include <nlohmann/json.hpp>

namespace lazarus::detail {
namespace {

using nlohmann::json;

// Integers are checked before narrowing: JSON numbers out of range must not wrap around.
std::uint64_t unsigned_field(const json& j, const char* key) {
  const json& value = j.at(key);
  if (!value.is_number_unsigned()) throw std::invalid_argument(std::string(key) + " is not an unsigned integer");
  return value.get<std::uint64_t>();
}

int int_field(const json& j, const char* key) {
  const std::uint64_t value = unsigned_field(j, key);
  if (value > static_cast<std::uint64_t>(std::numeric_limits<int>::max())) throw std::out_of_range(key);
  return static_cast<int>(value);
}

constexpr std::array<std::pair<MessageType, const char*>, 8> kNames{{{MessageType::hello, "hello"},
                                                                     {MessageType::beat, "beat"},
                                                                     {MessageType::progress, "progress"},
                                                                     {MessageType::checkpoint, "checkpoint"},
                                                                     {MessageType::restore, "restore"},
                                                                     {MessageType::bye, "bye"},
                                                                     {MessageType::stop, "stop"},
                                                                     {MessageType::stopping, "stopping"}}};

const char* name_of(MessageType type) {
  for (const auto& [candidate, name] : kNames) {
    if (candidate == type) return name;
  }
  return "beat";
}

// Never throws: text that is not valid UTF-8 (a node name from the environment, a cut) is written
// with U+FFFD in its place.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::optional<MessageType> type_named(const std::string& name) {
  for (const auto& [type, candidate] : kNames) {
    if (name == candidate) return type;
  }
  return std::nullopt;
}

}  // namespace

std::string this_machine_boot_id() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

Message make_message(MessageType type, std::uint64_t version) {
  Message message;
  message.type = type;
  message.version = version;
  return message;
}

std::string encode(const Message& message) {
  json j = {{"type", name_of(message.type)}};
  if (message.type == MessageType::hello) {
    j["token"] = message.token;
    j["rank"] = message.rank;
    j["size"] = message.size;
    j["node"] = message.node;
    j["pid"] = message.pid;
    j["attempt"] = message.attempt;
  }
  if (message.type == MessageType::checkpoint || message.type == MessageType::restore) j["version"] = message.version;
  if (message.type == MessageType::restore && !message.level.empty()) {
    j["level"] = message.level;
    // Whatever room the line has left, so that it always fits: the longest start of the detail that
    // does, measured as written (a JSON escape takes up to 6 bytes for one), and cut between UTF-8
    // characters, never inside one.
    const std::string& detail = message.detail;
    j["detail"] = detail;
    if (dump(j).size() > kMaxMessageBytes) {
      std::size_t fits = 0;
      std::size_t too_long = detail.size();
      while (too_long - fits > 1) {
        const std::size_t middle = fits + (too_long - fits) / 2;
        j["detail"] = detail.substr(0, middle);
        (dump(j).size() <= kMaxMessageBytes ? fits : too_long) = middle;
      }
      while (fits > 0 && (static_cast<unsigned char>(detail[fits]) & 0xC0) == 0x80) --fits;
      j["detail"] = detail.substr(0, fits);
    }
  }
  return dump(j) + "\n";
}

std::optional<Message> decode(std::string_view line) noexcept {
  if (line.size() > kMaxMessageBytes) return std::nullopt;
  try {
    const json j = json::parse(line);
    if (!j.is_object()) return std::nullopt;
    const auto type = type_named(j.at("type").get<std::string>());
    if (!type) return std::nullopt;
    Message message;
    message.type = *type;
    if (*type == MessageType::hello) {
      message.token = j.at("token").get<std::string>();
      message.rank = int_field(j, "rank");
      message.size = int_field(j, "size");
      message.node = j.at("node").get<std::string>();
      message.pid = int_field(j, "pid");
      message.attempt = int_field(j, "attempt");
      if (message.rank < 0 || message.size <= message.rank || message.pid <= 0) return std::nullopt;
    }
    if (*type == MessageType::checkpoint || *type == MessageType::restore) {
      message.version = unsigned_field(j, "version");
    }
    if (*type == MessageType::restore && j.contains("level")) {
      message.level = j.at("level").get<std::string>();
      message.detail = j.value("detail", std::string());
    }
    return message;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace lazarus::detail
