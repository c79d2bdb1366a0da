#include "launcher/supervision/heartbeat_server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

namespace lazarus::launcher {
namespace {

constexpr const char* kLocalSource = "local";

[[noreturn]] void fail(const char* what) {
  throw std::runtime_error(fmt::format("heartbeat listener: {} failed: {}", what, std::strerror(errno)));
}

// A Unix stream socket listening at `path` (which must not exist). Throws std::runtime_error.
backends::FileDescriptor listen_on_unix_socket(const std::filesystem::path& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string text = path.string();
  if (text.size() >= sizeof address.sun_path) {
    throw std::runtime_error(fmt::format("heartbeat listener: socket path {} is too long", text));
  }
  std::memcpy(address.sun_path, text.c_str(), text.size() + 1);
  backends::FileDescriptor socket(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (socket.get() < 0) fail("socket");
  if (::bind(socket.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) fail("bind (Unix socket)");
  if (::listen(socket.get(), 256) != 0) fail("listen");
  return socket;
}

}  // namespace

HeartbeatServer::HeartbeatServer(const std::string& bind_host, std::string advertised_host, std::string token,
                                 Limits limits, const std::filesystem::path& socket_parent)
    : host_(std::move(advertised_host)), token_(std::move(token)), limits_(limits) {
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
  if (!socket_parent.empty()) {
    socket_folder_.emplace(socket_parent, "lazarus-");
    local_listener_ = listen_on_unix_socket(socket_folder_->path() / "heartbeat.sock");
  }
}

std::string HeartbeatServer::address() const { return fmt::format("{}:{}", host_, port_); }

std::filesystem::path HeartbeatServer::local_socket() const {
  return socket_folder_ ? socket_folder_->path() / "heartbeat.sock" : std::filesystem::path();
}

void HeartbeatServer::drop_all() { peers_.clear(); }

int HeartbeatServer::add_peer(backends::FileDescriptor socket, std::string source,
                              std::optional<PeerCredentials> credentials, Clock::time_point now, bool this_machine) {
  const int id = next_id_++;
  peers_.emplace(id, Peer{std::move(socket), {}, false, now, std::move(source), this_machine, credentials});
  return id;
}

int HeartbeatServer::adopt(backends::FileDescriptor socket, std::optional<PeerCredentials> credentials) {
  const int flags = ::fcntl(socket.get(), F_GETFL);
  if (flags < 0 || ::fcntl(socket.get(), F_SETFL, flags | O_NONBLOCK) != 0) fail("fcntl");
  return add_peer(std::move(socket), credentials ? kLocalSource : "adopted", credentials, Clock::now());
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
  fds.push_back({local_listener_.get(), POLLIN, 0});  // a negative fd is ignored by poll()
  for (const auto& [id, peer] : peers_) {
    fds.push_back({peer.socket.get(), POLLIN, 0});
    ids.push_back(id);
  }
  std::vector<ServerEvent> events;
  const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(timeout.count()));
  const auto now = Clock::now();
  if (ready < 0 && errno != EINTR) fail("poll");
  if (ready > 0) {
    // Peers first: what they sent is read before newcomers can push them out.
    for (std::size_t i = 2; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      auto found = peers_.find(ids[i - 2]);
      if (found != peers_.end() && !read_from(found->first, found->second, events, now)) peers_.erase(found);
    }
    if (fds[1].revents & POLLIN) accept_new(local_listener_.get(), true, events, now);
    if (fds[0].revents & POLLIN) accept_new(listener_.get(), false, events, now);
  }
  // Peers that never said who they are.
  for (auto it = peers_.begin(); it != peers_.end();) {
    if (!it->second.authenticated && now - it->second.accepted > kHelloDeadline) {
      events.push_back({ServerEvent::Kind::rejected, it->first, {}, false,
                        fmt::format("no hello within {} s", kHelloDeadline.count()), now});
      it = peers_.erase(it);
    } else {
      ++it;
    }
  }
  return events;
}

bool HeartbeatServer::make_room(const std::string& source, std::vector<ServerEvent>& events, Clock::time_point now) {
  std::size_t waiting = 0, waiting_here = 0;
  auto oldest = peers_.end(), oldest_here = peers_.end();
  for (auto it = peers_.begin(); it != peers_.end(); ++it) {
    const Peer& peer = it->second;
    if (peer.authenticated) continue;
    ++waiting;
    const bool here = peer.source == source;
    waiting_here += here;
    // Only a peer that had a poll to say its hello in may be pushed out.
    if (peer.accepted >= now) continue;
    if (oldest == peers_.end() || peer.accepted < oldest->second.accepted) oldest = it;
    if (here && (oldest_here == peers_.end() || peer.accepted < oldest_here->second.accepted)) oldest_here = it;
  }
  auto victim = peers_.end();
  if (waiting_here >= limits_.unauthenticated_per_source) {
    victim = oldest_here;
  } else if (waiting >= limits_.unauthenticated) {
    victim = oldest;
  } else {
    return true;
  }
  if (victim == peers_.end()) return false;
  events.push_back({ServerEvent::Kind::rejected, victim->first, {}, false,
                    fmt::format("too many connections without a hello (from {})", victim->second.source), now});
  peers_.erase(victim);
  return true;
}

void HeartbeatServer::accept_new(int listener, bool local, std::vector<ServerEvent>& events, Clock::time_point now) {
  for (;;) {
    sockaddr_in address{};
    socklen_t length = sizeof address;
    backends::FileDescriptor socket(::accept4(listener, local ? nullptr : reinterpret_cast<sockaddr*>(&address),
                                              local ? nullptr : &length, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (socket.get() < 0) return;  // EAGAIN: no more waiting; other errors: try again next poll
    std::string source = kLocalSource;
    std::optional<PeerCredentials> credentials;
    bool this_machine = false;
    if (local) {
      ucred peer{};
      socklen_t size = sizeof peer;
      if (::getsockopt(socket.get(), SOL_SOCKET, SO_PEERCRED, &peer, &size) != 0) continue;
      credentials = PeerCredentials{peer.pid, peer.uid};
    } else {
      char text[INET_ADDRSTRLEN] = "?";
      ::inet_ntop(AF_INET, &address.sin_addr, text, sizeof text);
      source = text;
      // The peer's address is the one it reached us at: it runs on this machine.
      sockaddr_in ours{};
      socklen_t size = sizeof ours;
      this_machine = ::getsockname(socket.get(), reinterpret_cast<sockaddr*>(&ours), &size) == 0 &&
                     ours.sin_addr.s_addr == address.sin_addr.s_addr;
    }
    if (!make_room(source, events, now)) {
      events.push_back({ServerEvent::Kind::rejected, next_id_++, {}, false,
                        fmt::format("too many connections without a hello (from {})", source), now});
      continue;  // closed as `socket` goes
    }
    add_peer(std::move(socket), std::move(source), credentials, now, this_machine);
  }
}

std::optional<std::string> HeartbeatServer::refuse_hello(const Peer& peer, const detail::Message& message) const {
  if (message.type != detail::MessageType::hello) return "first message is not a hello";
  if (message.token != token_) return "wrong token";
  // Ranks on this machine connect over the Unix socket, where they are verified: a hello over TCP
  // from here is a process that chose not to be.
  if (!peer.credentials && peer.this_machine && local_listener_.get() >= 0) {
    return "a rank on the launcher's machine must connect over its Unix socket";
  }
  if (peer.credentials) {
    if (auto reason = impostor_reason(*peer.credentials, message, token_)) return reason;
  }
  const auto ranks = std::count_if(peers_.begin(), peers_.end(), [](const auto& entry) { return entry.second.authenticated; });
  if (static_cast<std::size_t>(ranks) >= limits_.ranks) {
    return fmt::format("all {} ranks are connected already", limits_.ranks);
  }
  return std::nullopt;
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
  const auto reject = [&](std::string reason) {
    events.push_back({ServerEvent::Kind::rejected, id, {}, false, std::move(reason), now});
    return false;
  };
  std::size_t start = 0;
  for (std::size_t newline; (newline = peer.buffer.find('\n', start)) != std::string::npos; start = newline + 1) {
    const std::string_view line(peer.buffer.data() + start, newline - start);
    auto message = detail::decode(line);
    if (!message) return reject(peer.authenticated ? "malformed message" : "malformed first line");
    if (!peer.authenticated) {
      if (auto reason = refuse_hello(peer, *message)) return reject(std::move(*reason));
      peer.authenticated = true;
    } else if (message->type == detail::MessageType::hello) {
      return reject("second hello");
    }
    const bool verified = message->type == detail::MessageType::hello && peer.credentials.has_value();
    events.push_back({ServerEvent::Kind::message, id, std::move(*message), verified, {}, now});
  }
  peer.buffer.erase(0, start);
  if (peer.buffer.size() > detail::kMaxMessageBytes) return reject("line longer than 1024 bytes");
  if (closed) {
    if (!peer.authenticated) return reject("closed before a hello");
    events.push_back({ServerEvent::Kind::closed, id, {}, false, {}, now});
    return false;
  }
  return true;
}

}  // namespace lazarus::launcher
