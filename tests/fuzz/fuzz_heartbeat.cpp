// The heartbeat protocol (runtime/heartbeat/heartbeat_protocol.hpp) and the launcher's end of it
// (launcher/supervision/heartbeat_server.hpp), on arbitrary bytes as a rank's connection sends them:
//  - each line decodes to a message or to nothing (decode is noexcept); a message encodes to one line
//    within kMaxMessageBytes that decodes back to the same message (a restore's detail may be cut;
//    it is also tried repeated past the line's length, as a long report of rebuilt ranks would be);
//  - the whole input goes to a HeartbeatServer through a socketpair (HeartbeatServer::adopt), in
//    pieces of sizes drawn from the input, with a poll after each and, for some inputs, a close at the
//    end; for some inputs the peer comes with credentials (this process's), as over the launcher's
//    Unix socket, so that every hello is also checked against the peer (peer_identity.hpp). What the server reports must be what a plain model of the protocol predicts from the lines:
//    the messages up to the first bad line, then exactly one rejection, or a close, or nothing.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <xxhash.h>

#include "fuzz_support.hpp"
#include "launcher/supervision/heartbeat_server.hpp"
#include "runtime/heartbeat/heartbeat_protocol.hpp"

namespace {

using lazarus::fuzz::fail;
using lazarus::detail::Message;
using lazarus::detail::MessageType;
using lazarus::launcher::HeartbeatServer;
using lazarus::launcher::PeerCredentials;
using lazarus::launcher::ServerEvent;
using Kind = ServerEvent::Kind;

constexpr const char* kToken = "fuzz-token";

// Equal in every field; `cut_detail`: b's detail may be a prefix of a's.
bool same_message(const Message& a, const Message& b, bool cut_detail) {
  const bool detail_ok = cut_detail ? a.detail.starts_with(b.detail) : a.detail == b.detail;
  return a.type == b.type && a.token == b.token && a.rank == b.rank && a.size == b.size && a.node == b.node &&
         a.pid == b.pid && a.attempt == b.attempt && a.version == b.version && a.level == b.level && detail_ok;
}

void check_encoding(const Message& message) {
  const std::string encoded = lazarus::detail::encode(message);
  if (encoded.empty() || encoded.back() != '\n' || encoded.find('\n') != encoded.size() - 1) {
    fail("encode did not make one line: " + encoded);
  }
  if (encoded.size() - 1 > lazarus::detail::kMaxMessageBytes) {
    fail(fmt::format("encode made a line of {} bytes", encoded.size() - 1));
  }
  const auto again = lazarus::detail::decode(std::string_view(encoded).substr(0, encoded.size() - 1));
  if (!again) fail("an encoded message does not decode: " + encoded);
  if (!same_message(message, *again, message.type == MessageType::restore)) {
    fail("a message changed through encode and decode: " + encoded);
  }
}

void check_round_trip(std::string_view line) {
  const auto message = lazarus::detail::decode(line);
  if (!message) return;
  check_encoding(*message);
  // A rank's restore detail (which ranks were rebuilt, and how) has no length limit: encode cuts it
  // to what the line has room for.
  if (message->type == MessageType::restore && !message->level.empty() && !message->detail.empty()) {
    Message longer = *message;
    while (longer.detail.size() <= 2 * lazarus::detail::kMaxMessageBytes) longer.detail += message->detail;
    check_encoding(longer);
  }
}

// What the server must report for a connection that sent `bytes` (and closed, when `closed`).
struct Expected {
  std::vector<Message> messages;
  bool rejected = false;
  bool closed = false;  // a close after the hello, reported as such
};

Expected model(std::string_view bytes, bool closed, const std::optional<PeerCredentials>& credentials) {
  Expected expected;
  bool authenticated = false;
  std::size_t start = 0;
  for (std::size_t newline; (newline = bytes.find('\n', start)) != std::string_view::npos; start = newline + 1) {
    const auto message = lazarus::detail::decode(bytes.substr(start, newline - start));
    const bool accepted =
        message && (authenticated ? message->type != MessageType::hello
                                  : message->type == MessageType::hello && message->token == kToken &&
                                        !(credentials && lazarus::launcher::impostor_reason(*credentials, *message, kToken)));
    if (!accepted) {
      expected.rejected = true;
      return expected;
    }
    authenticated = true;
    expected.messages.push_back(*message);
  }
  if (bytes.size() - start > lazarus::detail::kMaxMessageBytes) {
    expected.rejected = true;
  } else if (closed) {
    expected.rejected = !authenticated;
    expected.closed = authenticated;
  }
  return expected;
}

HeartbeatServer& server() {
  static HeartbeatServer instance("127.0.0.1", "127.0.0.1", kToken);
  return instance;
}

void collect(std::vector<ServerEvent>& events) {
  for (ServerEvent& event : server().poll(std::chrono::milliseconds(0))) events.push_back(std::move(event));
}

bool ended(const std::vector<ServerEvent>& events) {
  return !events.empty() && events.back().kind != Kind::message;
}

void check_server(std::string_view bytes) {
  std::mt19937 random(XXH32(bytes.data(), bytes.size(), 0));
  const bool close_at_end = random() % 2 == 0;
  std::optional<PeerCredentials> credentials;
  if (random() % 4 == 0) credentials = PeerCredentials{::getpid(), ::geteuid()};
  int ends[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) fail("socketpair failed");
  lazarus::backends::FileDescriptor rank(ends[0]);
  const int connection = server().adopt(lazarus::backends::FileDescriptor(ends[1]), credentials);
  ::fcntl(rank.get(), F_SETFL, O_NONBLOCK);

  std::vector<ServerEvent> events;
  std::size_t sent = 0;
  while (sent < bytes.size() && !ended(events)) {
    const std::size_t piece = std::min<std::size_t>(bytes.size() - sent, 1 + random() % 1500);
    const ssize_t n = ::send(rank.get(), bytes.data() + sent, piece, MSG_NOSIGNAL);
    if (n > 0) sent += static_cast<std::size_t>(n);
    else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) break;  // dropped by the server
    collect(events);
  }
  for (int round = 0; round < 4; ++round) collect(events);  // the server reads at most 64 KiB at a time
  const bool closed = close_at_end && sent == bytes.size();
  if (closed) {
    rank = {};
    collect(events);
  }
  server().drop_all();

  const Expected expected = model(bytes.substr(0, sent), closed, credentials);
  std::size_t messages = 0;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const ServerEvent& event = events[i];
    if (event.connection != connection) fail("an event for another connection");
    if (event.kind == Kind::message) {
      if (messages >= expected.messages.size() || !same_message(event.message, expected.messages[messages], false)) {
        fail(fmt::format("message {} is not the one the model predicts", messages));
      }
      ++messages;
    } else if (i + 1 != events.size()) {
      fail("events after the connection ended");
    } else if ((event.kind == Kind::rejected) != expected.rejected || (event.kind == Kind::closed) != expected.closed) {
      fail(fmt::format("the connection ended with {} ({}), not as the model predicts", static_cast<int>(event.kind),
                       event.reason));
    }
  }
  if (messages != expected.messages.size()) {
    fail(fmt::format("{} messages delivered, the model predicts {}", messages, expected.messages.size()));
  }
  if (!ended(events) && (expected.rejected || expected.closed)) fail("the connection did not end as predicted");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::size_t start = 0;
  for (std::size_t newline; (newline = bytes.find('\n', start)) != std::string_view::npos; start = newline + 1) {
    check_round_trip(bytes.substr(start, newline - start));
  }
  check_round_trip(bytes.substr(start));
  check_server(bytes);
  return 0;
}
