#pragma once
// The launcher's end of the heartbeat protocol (runtime/heartbeat/heartbeat_protocol.hpp): listeners that
// accept the ranks' connections, check the job's token on the first line, and turn what arrives into
// events. Ranks on this machine connect over a Unix socket in a folder only the launcher's user may
// enter, where each hello is checked against the peer's credentials (peer_identity.hpp); ranks on
// other hosts over TCP. Malformed or unauthenticated peers are reported and dropped; none of them can
// crash or stall the launcher, nor keep the ranks out (non-blocking sockets, bounded lines, a deadline
// for the first line, a bounded number of connections without a hello, per source address, that
// never counts against the ranks' own).
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "backends/posix/durable_io.hpp"
#include "launcher/process/private_folder.hpp"
#include "launcher/supervision/peer_identity.hpp"
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
  bool verified = false;         // for a hello: its pid is the peer's, checked over the Unix socket
  std::string reason;            // for Kind::rejected: why the peer was dropped
  std::chrono::steady_clock::time_point at;
};

class HeartbeatServer {
 public:
  struct Limits {
    std::size_t ranks = 1024;  // authenticated peers at once
    // Connections without a hello yet, at once and from one source address; beyond, the oldest of them
    // that had a poll to speak in makes room (a rank says its hello as soon as it connects).
    std::size_t unauthenticated = 256;
    std::size_t unauthenticated_per_source = 16;
  };
  // A peer must authenticate this soon after connecting, or it is dropped.
  static constexpr std::chrono::seconds kHelloDeadline{2};

  // Listens on IPv4 address `bind_host` ("127.0.0.1", or "0.0.0.0" for every interface) on a port the
  // system picks; ranks are told to connect to `advertised_host`. With `socket_parent`, also on a Unix
  // socket in a private folder made there. Throws std::runtime_error (ListenError for an unusable
  // `bind_host`).
  HeartbeatServer(const std::string& bind_host, std::string advertised_host, std::string token, Limits limits,
                  const std::filesystem::path& socket_parent = {});
  HeartbeatServer(const std::string& bind_host, std::string advertised_host, std::string token)
      : HeartbeatServer(bind_host, std::move(advertised_host), std::move(token), Limits{}) {}
  std::string address() const;  // "advertised_host:port", for LAZARUS_LAUNCHER
  // The Unix socket's path, for LAZARUS_LAUNCHER_SOCKET; empty without one.
  std::filesystem::path local_socket() const;

  // Waits up to `timeout` for activity and returns the events it produced (possibly none).
  std::vector<ServerEvent> poll(std::chrono::milliseconds timeout);
  // Sends `line` to every authenticated peer, best effort: a peer whose socket would block or fails
  // misses it (the caller repeats what must arrive). Returns how many peers got the whole line.
  std::size_t send_to_all(const std::string& line);
  // Takes `socket`, a connected stream socket, as a peer accepted now (it is made non-blocking), and
  // returns its connection; with `credentials`, as one accepted on the Unix socket. Lets tests and the
  // fuzz target drive the server through a socketpair. Throws std::runtime_error.
  int adopt(backends::FileDescriptor socket, std::optional<PeerCredentials> credentials = std::nullopt);
  // Closes every peer connection (between attempts), or one.
  void drop_all();
  void drop(int connection) { peers_.erase(connection); }

 private:
  using Clock = std::chrono::steady_clock;
  struct Peer {
    backends::FileDescriptor socket;
    std::string buffer;
    bool authenticated = false;
    Clock::time_point accepted;
    std::string source;                          // the peer's IPv4 address, or "local"
    bool this_machine = false;                   // a TCP peer whose address is the listener's own
    std::optional<PeerCredentials> credentials;  // Unix socket peers
  };
  void accept_new(int listener, bool local, std::vector<ServerEvent>& events, Clock::time_point now);
  // Makes room for one more connection without a hello from `source`, if the limits ask for it, by
  // dropping the oldest one accepted before `now`; false when there is none to drop.
  bool make_room(const std::string& source, std::vector<ServerEvent>& events, Clock::time_point now);
  // Reads what is there; false when the peer must be dropped (closed or rejected, event added).
  bool read_from(int id, Peer& peer, std::vector<ServerEvent>& events, Clock::time_point now);
  // Why the peer's first message does not authenticate it, or nullopt when it does.
  std::optional<std::string> refuse_hello(const Peer& peer, const detail::Message& message) const;
  int add_peer(backends::FileDescriptor socket, std::string source, std::optional<PeerCredentials> credentials,
               Clock::time_point now, bool this_machine = false);

  backends::FileDescriptor listener_;
  std::optional<PrivateFolder> socket_folder_;
  backends::FileDescriptor local_listener_;
  std::string host_;
  int port_ = 0;
  std::string token_;
  Limits limits_;
  int next_id_ = 1;
  std::map<int, Peer> peers_;
};

}  // namespace lazarus::launcher
