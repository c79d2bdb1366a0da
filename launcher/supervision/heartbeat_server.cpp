#include "launcher/supervision/heartbeat_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

namespace lazarus::launcher {
namespace {

using Clock = std::chrono::steady_clock;
// A peer must authenticate this soon after connecting, or it is dropped.
constexpr auto kHelloDeadline = std::chrono::seconds(5);

[[noreturn]] void fail(const char* what) {
  throw std::runtime_error(fmt::format("heartbeat listener: {} failed: {}", what, std::strerror(errno)));
}

}  // namespace

HeartbeatServer::HeartbeatServer(const std::string& bind_host, std::string advertised_host, std::string token,
                                 std::size_t max_connections)
    : host_(std::move(advertised_host)), token_(std::move(token)), max_connections_(max_connections) {
  listener_ = backends::FileDescriptor(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (listener_.get() < 0) fail("socket");
  int on = 1;
  ::setsockopt(listener_.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  if (::inet_pton(AF_INET, bind_host.c_str(), &address.sin_addr) != 1) {
    throw ListenError(fmt::format("heartbeat listener: '{}' is not an IPv4 address", bind_host));
  }
  if (::bind(listener_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    throw ListenError(fmt::format("heartbeat listener: cannot listen on {}: {}", bind_host, std::strerror(errno)));
  }
  if (::listen(listener_.get(), 256) != 0) fail("listen");
  socklen_t length = sizeof address;
  if (::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) fail("getsockname");
  port_ = ntohs(address.sin_port);
}

std::string HeartbeatServer::address() const { return fmt::format("{}:{}", host_, port_); }

void HeartbeatServer::drop_all() { peers_.clear(); }

int HeartbeatServer::adopt(backends::FileDescriptor socket) {
  const int flags = ::fcntl(socket.get(), F_GETFL);
  if (flags < 0 || ::fcntl(socket.get(), F_SETFL, flags | O_NONBLOCK) != 0) fail("fcntl");
  const int id = next_id_++;
  peers_.emplace(id, Peer{std::move(socket), {}, false, Clock::now()});
  return id;
}

std::size_t HeartbeatServer::send_to_all(const std::string& line) {
  std::size_t reached = 0;
  for (auto& [id, peer] : peers_) {
    if (!peer.authenticated) continue;
    // Sockets are non-blocking: a short line either fits in the socket buffer or is dropped here.
    const ssize_t n = ::send(peer.socket.get(), line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    reached += n == static_cast<ssize_t>(line.size());
  }
  return reached;
}

std::vector<ServerEvent> HeartbeatServer::poll(std::chrono::milliseconds timeout) {
  std::vector<pollfd> fds;
  std::vector<int> ids;
  fds.push_back({listener_.get(), POLLIN, 0});
  for (const auto& [id, peer] : peers_) {
    fds.push_back({peer.socket.get(), POLLIN, 0});
    ids.push_back(id);
  }
  std::vector<ServerEvent> events;
  const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(timeout.count()));
  const auto now = Clock::now();
  if (ready < 0 && errno != EINTR) fail("poll");
  if (ready > 0) {
    for (std::size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      auto found = peers_.find(ids[i - 1]);
      if (found != peers_.end() && !read_from(found->first, found->second, events, now)) peers_.erase(found);
    }
    if (fds[0].revents & POLLIN) accept_new(events, now);
  }
  // Peers that never said who they are.
  for (auto it = peers_.begin(); it != peers_.end();) {
    if (!it->second.authenticated && now - it->second.accepted > kHelloDeadline) {
      events.push_back({ServerEvent::Kind::rejected, it->first, {}, "no hello within 5 s", now});
      it = peers_.erase(it);
    } else {
      ++it;
    }
  }
  return events;
}

void HeartbeatServer::accept_new(std::vector<ServerEvent>& events, Clock::time_point now) {
  for (;;) {
    backends::FileDescriptor socket(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (socket.get() < 0) return;  // EAGAIN: no more waiting; other errors: try again next poll
    const int id = next_id_++;
    if (peers_.size() >= max_connections_) {
      events.push_back({ServerEvent::Kind::rejected, id, {}, "too many connections", now});
      continue;  // closed as `socket` goes
    }
    peers_.emplace(id, Peer{std::move(socket), {}, false, now});
  }
}

bool HeartbeatServer::read_from(int id, Peer& peer, std::vector<ServerEvent>& events, Clock::time_point now) {
  char chunk[4096];
  bool closed = false;
  for (;;) {
    const ssize_t n = ::recv(peer.socket.get(), chunk, sizeof chunk, 0);
    if (n > 0) {
      peer.buffer.append(chunk, static_cast<std::size_t>(n));
      if (peer.buffer.size() > 64 * detail::kMaxMessageBytes) break;  // parse what is there, then judge
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0 && errno == EINTR) continue;
    closed = true;  // orderly close or error: deliver complete lines first
    break;
  }
  std::size_t start = 0;
  for (std::size_t newline; (newline = peer.buffer.find('\n', start)) != std::string::npos; start = newline + 1) {
    const std::string_view line(peer.buffer.data() + start, newline - start);
    auto message = detail::decode(line);
    if (!message) {
      events.push_back({ServerEvent::Kind::rejected, id, {}, peer.authenticated ? "malformed message" : "malformed first line", now});
      return false;
    }
    if (!peer.authenticated) {
      if (message->type != detail::MessageType::hello) {
        events.push_back({ServerEvent::Kind::rejected, id, {}, "first message is not a hello", now});
        return false;
      }
      if (message->token != token_) {
        events.push_back({ServerEvent::Kind::rejected, id, {}, "wrong token", now});
        return false;
      }
      peer.authenticated = true;
    } else if (message->type == detail::MessageType::hello) {
      events.push_back({ServerEvent::Kind::rejected, id, {}, "second hello", now});
      return false;
    }
    events.push_back({ServerEvent::Kind::message, id, std::move(*message), {}, now});
  }
  peer.buffer.erase(0, start);
  if (peer.buffer.size() > detail::kMaxMessageBytes) {
    events.push_back({ServerEvent::Kind::rejected, id, {}, "line longer than 1024 bytes", now});
    return false;
  }
  if (closed) {
    if (peer.authenticated) {
      events.push_back({ServerEvent::Kind::closed, id, {}, {}, now});
    } else {
      events.push_back({ServerEvent::Kind::rejected, id, {}, "closed before a hello", now});
    }
    return false;
  }
  return true;
}

}  // namespace lazarus::launcher
