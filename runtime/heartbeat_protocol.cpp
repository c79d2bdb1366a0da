#include "runtime/heartbeat_protocol.hpp"

#include <array>
#include <utility>

#include <nlohmann/json.hpp>

namespace lazarus::detail {
namespace {

using nlohmann::json;

constexpr std::array<std::pair<MessageType, const char*>, 6> kNames{{{MessageType::hello, "hello"},
                                                                     {MessageType::beat, "beat"},
                                                                     {MessageType::progress, "progress"},
                                                                     {MessageType::checkpoint, "checkpoint"},
                                                                     {MessageType::restore, "restore"},
                                                                     {MessageType::bye, "bye"}}};

const char* name_of(MessageType type) {
  for (const auto& [candidate, name] : kNames) {
    if (candidate == type) return name;
  }
  return "beat";
}

std::optional<MessageType> type_named(const std::string& name) {
  for (const auto& [type, candidate] : kNames) {
    if (name == candidate) return type;
  }
  return std::nullopt;
}

}  // namespace

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
  return j.dump() + "\n";
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
      message.rank = j.at("rank").get<int>();
      message.size = j.at("size").get<int>();
      message.node = j.at("node").get<std::string>();
      message.pid = j.at("pid").get<long>();
      message.attempt = j.at("attempt").get<int>();
      if (message.rank < 0 || message.size <= message.rank || message.pid <= 0) return std::nullopt;
    }
    if (*type == MessageType::checkpoint || *type == MessageType::restore) {
      message.version = j.at("version").get<std::uint64_t>();
    }
    return message;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace lazarus::detail
