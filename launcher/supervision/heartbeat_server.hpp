#pragma once
// The launcher's end of the heartbeat protocol (runtime/heartbeat/heartbeat_protocol.hpp): a TCP listener that
// accepts the ranks' connections, checks the job's token on the first line, and turns what arrives
// into events. Malformed or unauthenticated peers are reported and dropped; none of them can crash or
// stall the launcher (non-blocking sockets, bounded lines, a cap on connections, a deadline for the
// first line).
#include <chrono>
#include <cstddef>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "backends/posix/durable_io.hpp"
#include "runtime/heartbeat/heartbeat_protocol.hpp"

namespace lazarus::launcher {

// The listener cannot be set up at the address asked for (not an IPv4 address, not one of this host's,
// or in use): the user's --listen is wrong, which the command reports as a usage error.
class ListenError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ServerEvent {
  enum class Kind { message, closed, rejected } kind = Kind::message;
  int connection = 0;            // identifies the peer across events
  detail::Message message;       // for Kind::message
  std::string reason;            // for Kind::rejected: why the peer was dropped
  std::chrono::steady_clock::time_point at;
};

class HeartbeatServer {
 public:
  // Listens on IPv4 address `bind_host` ("127.0.0.1", or "0.0.0.0" for every interface) on a port the
  // system picks; ranks are told to connect to `advertised_host`. Throws std::runtime_error.
  HeartbeatServer(const std::string& bind_host, std::string advertised_host, std::string token,
                  std::size_t max_connections = 1024);
  std::string address() const;  // "advertised_host:port", for LAZARUS_LAUNCHER

  // Waits up to `timeout` for activity and returns the events it produced (possibly none).
  std::vector<ServerEvent> poll(std::chrono::milliseconds timeout);
  // Sends `line` to every authenticated peer, best effort: a peer whose socket would block or fails
  // misses it (the caller repeats what must arrive). Returns how many peers got the whole line.
  std::size_t send_to_all(const std::string& line);
  // Takes `socket`, a connected stream socket, as a peer accepted now (it is made non-blocking), and
  // returns its connection. Lets tests and the fuzz target drive the server through a socketpair,
  // without TCP. Throws std::runtime_error.
  int adopt(backends::FileDescriptor socket);
  // Closes every peer connection (between attempts), or one.
  void drop_all();
  void drop(int connection) { peers_.erase(connection); }

 private:
  struct Peer {
    backends::FileDescriptor socket;
    std::string buffer;
    bool authenticated = false;
    std::chrono::steady_clock::time_point accepted;
  };
  void accept_new(std::vector<ServerEvent>& events, std::chrono::steady_clock::time_point now);
  // Reads what is there; false when the peer must be dropped (closed or rejected, event added).
  bool read_from(int id, Peer& peer, std::vector<ServerEvent>& events, std::chrono::steady_clock::time_point now);

  backends::FileDescriptor listener_;
  std::string host_;
  int port_ = 0;
  std::string token_;
  std::size_t max_connections_;
  int next_id_ = 1;
  std::map<int, Peer> peers_;
};

}  // namespace lazarus::launcher
