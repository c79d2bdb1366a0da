#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "launcher/supervision/heartbeat_server.hpp"

namespace lazarus::launcher {
namespace {

using detail::Message;
using detail::MessageType;
using std::chrono::milliseconds;
using Kind = ServerEvent::Kind;

constexpr const char* kToken = "secret-token";

// A rank's end of a heartbeat connection: a plain blocking TCP socket, closed when it goes.
class Client {
 public:
  // Connects to the port of `address` ("host:port") on the loopback interface.
  explicit Client(const std::string& address) {
    sockaddr_in peer{};
    peer.sin_family = AF_INET;
    peer.sin_port = htons(static_cast<std::uint16_t>(std::stoi(address.substr(address.rfind(':') + 1))));
    peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&peer), sizeof peer) != 0) {
      throw std::runtime_error("cannot connect to " + address);
    }
  }
  ~Client() { close(); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void send(const std::string& text) const {
    std::size_t sent = 0;
    while (sent < text.size()) {
      const ssize_t n = ::send(fd_, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("send failed");
      sent += static_cast<std::size_t>(n);
    }
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  // True when the server closed its end within `timeout` (recv sees end of file or a reset).
  bool closed_by_server(milliseconds timeout) const {
    pollfd entry{fd_, POLLIN, 0};
    if (::poll(&entry, 1, static_cast<int>(timeout.count())) <= 0) return false;
    char byte = 0;
    return ::recv(fd_, &byte, 1, MSG_DONTWAIT) <= 0;
  }

 private:
  int fd_ = -1;
};

Message hello(const std::string& token = kToken, int rank = 0) {
  Message message = detail::make_message(MessageType::hello);
  message.token = token;
  message.rank = rank;
  message.size = 4;
  message.node = "n1";
  message.pid = 1234;
  message.attempt = 1;
  return message;
}

// Polls until an event satisfies `done` (the rest of that poll's events included) or `limit` passed;
// returns every event seen.
std::vector<ServerEvent> poll_until(HeartbeatServer& server, const std::function<bool(const ServerEvent&)>& done,
                                    milliseconds limit = milliseconds(5000)) {
  std::vector<ServerEvent> seen;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    bool finished = false;
    for (ServerEvent& event : server.poll(milliseconds(20))) {
      seen.push_back(std::move(event));
      finished = finished || done(seen.back());
    }
    if (finished) break;
  }
  return seen;
}

bool any_event(const ServerEvent&) { return true; }

// The first event of `kind` among `events`, or nullptr.
const ServerEvent* first_of(const std::vector<ServerEvent>& events, Kind kind) {
  for (const ServerEvent& event : events) {
    if (event.kind == kind) return &event;
  }
  return nullptr;
}

TEST(HeartbeatServer, AdvertisesItsHostAndAPortTheSystemPicks) {
  HeartbeatServer server("127.0.0.1", "launcher.example", kToken);
  const std::string address = server.address();
  ASSERT_EQ(address.rfind("launcher.example:", 0), 0u) << address;
  EXPECT_GT(std::stoi(address.substr(17)), 0);
}

TEST(HeartbeatServer, ListensOnEveryInterfaceWhenBoundToTheWildcard) {
  HeartbeatServer server("0.0.0.0", "somehost", kToken);
  Client client(server.address());
  client.send(detail::encode(hello()));
  const auto events = poll_until(server, any_event);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::message);
}

TEST(HeartbeatServer, RefusesAHostThatIsNotAnIpv4Address) {
  EXPECT_THROW(HeartbeatServer("localhost.invalid", "localhost.invalid", kToken), std::runtime_error);
}

TEST(HeartbeatServer, PollReturnsWithinItsTimeoutWhenNothingHappens) {
  HeartbeatServer server("127.0.0.1", "127.0.0.1", kToken);
  const auto start = std::chrono::steady_clock::now();
  const auto events = server.poll(milliseconds(100));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(events.empty());
  EXPECT_GE(elapsed, milliseconds(90));
  EXPECT_LT(elapsed, milliseconds(1000));
}

TEST(HeartbeatServer, ValidHelloWithTheRightTokenIsAMessage) {
  HeartbeatServer server("127.0.0.1", "127.0.0.1", kToken);
  Client client(server.address());
  client.send(detail::encode(hello(kToken, 2)));
  const auto events = poll_until(server, any_event);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::message);
  EXPECT_EQ(events[0].message.type, MessageType::hello);
  EXPECT_EQ(events[0].message.rank, 2);
  EXPECT_EQ(events[0].message.token, kToken);
}

TEST(HeartbeatServer, LaterMessagesCarryTheSameConnection) {
  HeartbeatServer server("127.0.0.1", "127.0.0.1", kToken);
  Client client(server.address());
  // Several lines in one write, one split over two writes.
  client.send(detail::encode(hello()) + detail::encode(detail::make_message(MessageType::beat)));
  const std::string checkpoint = detail::encode(detail::make_message(MessageType::checkpoint, 3));
  client.send(checkpoint.substr(0, 10));
  auto events = poll_until(server, [](const ServerEvent& e) { return e.message.type == MessageType::beat; });
  client.send(checkpoint.substr(10));
  const auto more = poll_until(server, any_event);
  events.insert(events.end(), more.begin(), more.end());
  ASSERT_EQ(events.size(), 3u);
  for (const ServerEvent& event : events) {
    EXPECT_EQ(event.kind, Kind::message);
    EXPECT_EQ(event.connection, events[0].connection);
  }
  EXPECT_EQ(events[0].message.type, MessageType::hello);
  EXPECT_EQ(events[1].message.type, MessageType::beat);
  EXPECT_EQ(events[2].message.type, MessageType::checkpoint);
  EXPECT_EQ(events[2].message.version, 3u);
}

TEST(HeartbeatServer, ConnectionsAreToldApart) {
  HeartbeatServer server("127.0.0.1", "127.0.0.1", kToken);
  Client first(server.address());
  Client second(server.address());
  first.send(detail::encode(hello(kToken, 0)));
  second.send(detail::encode(hello(kToken, 1)));
  std::vector<ServerEvent> events;
  while (events.size() < 2) {
    const auto more = poll_until(server, any_event);
    ASSERT_FALSE(more.empty());
    events.insert(events.end(), more.begin(), more.end());
  }
  ASSERT_EQ(events.size(), 2u);
  EXPECT_NE(events[0].connection, events[1].connection);
}

TEST(HeartbeatServer, WrongTokenIsRejected) {
  HeartbeatServer server("127.0.0.1", "127.0.0.1", kToken);
  Client client(server.address());
  client.send(detail::encode(hello("not-the-token")));
  const auto events = poll_until(server, any_event);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::rejected);
  EXPECT_EQ(events[0].reason, "wrong token");
  EXPECT_TRUE(client.closed_by_server(milliseconds(2000)));
}

TEST(HeartbeatServer, GarbageIsRejected) {
  HeartbeatServer server("127.0.0.1", "127.0.0.1", kToken);
  Client client(server.address());
  client.send("GET / HTTP/1.0\r\n\r\n");
  const auto events = poll_until(server, any_event);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::rejected);
  EXPECT_EQ(events[0].reason, "malformed first line");
  EXPECT_TRUE(client.closed_by_server(milliseconds(2000)));
}

TEST(HeartbeatServer, GarbageAfterTheHelloIsRejected) {
  HeartbeatServer server("127.0.0.1", "127.0.0.1", kToken);
  Client client(server.address());
  client.send(detail::encode(hello()) + "{\"type\":\"reboot\"}\n");
  const auto events = poll_until(server, [](const ServerEvent& e) { return e.kind != Kind::message; });
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, Kind::message);
  EXPECT_EQ(events[1].kind, Kind::rejected);
  EXPECT_EQ(events[1].reason, "malformed message");
  EXPECT_EQ(events[1].connection, events[0].connection);
}

TEST(HeartbeatServer, FirstMessageMustBeAHello) {
  HeartbeatServer server("127.0.0.1", "127.0.0.1", kToken);
  Client client(server.address());
  client.send(detail::encode(detail::make_message(MessageType::beat)));
  const auto events = poll_until(server, any_event);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::rejected);
  EXPECT_EQ(events[0].reason, "first message is not a hello");
}

TEST(HeartbeatServer, SecondHelloIsRejected) {
  HeartbeatServer server("127.0.0.1", "127.0.0.1", kToken);
  Client client(server.address());
  client.send(detail::encode(hello()) + detail::encode(hello()));
  const auto events = poll_until(server, [](const ServerEvent& e) { return e.kind != Kind::message; });
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].kind, Kind::rejected);
  EXPECT_EQ(events[1].reason, "second hello");
}

TEST(HeartbeatServer, UnterminatedLineLongerThan1024BytesIsRejected) {
  HeartbeatServer server("127.0.0.1", "127.0.0.1", kToken);
  Client client(server.address());
  client.send(std::string(2000, 'x'));  // no newline: the server must not wait for one forever
  const auto events = poll_until(server, any_event);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::rejected);
  EXPECT_EQ(events[0].reason, "line longer than 1024 bytes");
  EXPECT_TRUE(client.closed_by_server(milliseconds(2000)));
}

TEST(HeartbeatServer, TerminatedLineLongerThan1024BytesIsRejected) {
  HeartbeatServer server("127.0.0.1", "127.0.0.1", kToken);
  Client client(server.address());
  client.send(detail::encode(hello()));
  Message long_hello = hello();
  long_hello.token.assign(1100, 't');
  client.send(detail::encode(detail::make_message(MessageType::beat)) + detail::encode(long_hello));
  const auto events = poll_until(server, [](const ServerEvent& e) { return e.kind != Kind::message; });
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().kind, Kind::rejected);
  EXPECT_EQ(first_of(events, Kind::closed), nullptr);
}

TEST(HeartbeatServer, ClientThatClosesAfterItsHelloIsAClosedEvent) {
  HeartbeatServer server("127.0.0.1", "127.0.0.1", kToken);
  Client client(server.address());
  client.send(detail::encode(hello()));
  auto events = poll_until(server, any_event);
  client.close();
  const auto more = poll_until(server, any_event);
  events.insert(events.end(), more.begin(), more.end());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, Kind::message);
  EXPECT_EQ(events[1].kind, Kind::closed);
  EXPECT_EQ(events[1].connection, events[0].connection);
}

TEST(HeartbeatServer, LinesSentJustBeforeTheCloseAreStillDelivered) {
  HeartbeatServer server("127.0.0.1", "127.0.0.1", kToken);
  Client client(server.address());
  client.send(detail::encode(hello()) + detail::encode(detail::make_message(MessageType::bye)));
  client.close();
  const auto events = poll_until(server, [](const ServerEvent& e) { return e.kind != Kind::message; });
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].message.type, MessageType::hello);
  EXPECT_EQ(events[1].message.type, MessageType::bye);
  EXPECT_EQ(events[2].kind, Kind::closed);
}

// adopt() is how fuzz_heartbeat drives the server without TCP: a socketpair's end is a peer like an
// accepted connection, under the same rules.
TEST(HeartbeatServer, AnAdoptedSocketIsAPeerLikeAnAcceptedOne) {
  HeartbeatServer server("127.0.0.1", "127.0.0.1", kToken);
  int ends[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends), 0);
  backends::FileDescriptor rank(ends[0]);
  const int connection = server.adopt(backends::FileDescriptor(ends[1]));
  const std::string lines = detail::encode(hello()) + detail::encode(detail::make_message(MessageType::beat)) + "garbage\n";
  ASSERT_EQ(::send(rank.get(), lines.data(), lines.size(), MSG_NOSIGNAL), static_cast<ssize_t>(lines.size()));
  const auto events = poll_until(server, [](const ServerEvent& e) { return e.kind != Kind::message; });
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].message.type, MessageType::hello);
  EXPECT_EQ(events[1].message.type, MessageType::beat);
  EXPECT_EQ(events[2].kind, Kind::rejected);
  EXPECT_EQ(events[2].reason, "malformed message");
  for (const ServerEvent& event : events) EXPECT_EQ(event.connection, connection);
}

TEST(HeartbeatServer, ClientThatClosesBeforeAHelloIsRejected) {
  HeartbeatServer server("127.0.0.1", "127.0.0.1", kToken);
  Client client(server.address());
  client.close();
  const auto events = poll_until(server, any_event);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::rejected);
  EXPECT_EQ(events[0].reason, "closed before a hello");
}

TEST(HeartbeatServer, HellosBeyondTheNumberOfRanksAreRejected) {
  HeartbeatServer server("127.0.0.1", "127.0.0.1", kToken, HeartbeatServer::Limits{.ranks = 1});
  Client first(server.address());
  first.send(detail::encode(hello()));
  const auto accepted = poll_until(server, any_event);
  ASSERT_EQ(accepted.size(), 1u);
  ASSERT_EQ(accepted[0].kind, Kind::message);

  Client second(server.address());
  second.send(detail::encode(hello(kToken, 1)));
  const auto events = poll_until(server, any_event);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::rejected);
  EXPECT_EQ(events[0].reason, "all 1 ranks are connected already");
  EXPECT_NE(events[0].connection, accepted[0].connection);
  EXPECT_TRUE(second.closed_by_server(milliseconds(2000)));

  // The first one is unaffected.
  first.send(detail::encode(detail::make_message(MessageType::beat)));
  const auto later = poll_until(server, any_event);
  ASSERT_EQ(later.size(), 1u);
  EXPECT_EQ(later[0].kind, Kind::message);
  EXPECT_EQ(later[0].connection, accepted[0].connection);
}

// The blinding attack: more idle connections than the old cap of 1,024, all from one address, held
// open. A rank connecting after them still gets in: silent connections are bounded per source, and
// the oldest make room.
TEST(HeartbeatServer, AFloodOfSilentConnectionsDoesNotKeepARankOut) {
  rlimit files{};  // 1,100 client ends and what the server holds: more than a default soft limit
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &files), 0);
  files.rlim_cur = std::max<rlim_t>(files.rlim_cur, std::min<rlim_t>(files.rlim_max, 4096));
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &files), 0);
  ASSERT_GE(files.rlim_cur, 2400u) << "the file descriptor limit is too low for this test";
  HeartbeatServer server("127.0.0.1", "127.0.0.1", kToken);
  std::vector<std::unique_ptr<Client>> flood;
  for (int i = 0; i < 1100; ++i) {
    flood.push_back(std::make_unique<Client>(server.address()));
    if (i % 50 == 0) server.poll(milliseconds(0));  // the launcher keeps accepting meanwhile
  }
  server.poll(milliseconds(0));
  Client rank(server.address());
  rank.send(detail::encode(hello(kToken, 3)));
  const auto events = poll_until(server, [](const ServerEvent& e) { return e.kind == Kind::message; });
  const ServerEvent* registered = first_of(events, Kind::message);
  ASSERT_NE(registered, nullptr);
  EXPECT_EQ(registered->message.rank, 3);
  EXPECT_FALSE(registered->verified);  // TCP: the pid is the hello's word only
  const auto pushed_out = std::count_if(events.begin(), events.end(), [](const ServerEvent& e) {
    return e.kind == Kind::rejected && e.reason == "too many connections without a hello (from 127.0.0.1)";
  });
  EXPECT_GT(pushed_out, 0);
}

TEST(HeartbeatServer, WithoutASocketParentThereIsNoUnixSocket) {
  HeartbeatServer server("127.0.0.1", "127.0.0.1", kToken);
  EXPECT_TRUE(server.local_socket().empty());
}

// With a Unix socket, ranks on this machine are verified there: a hello over TCP from this machine
// (a forged claim whose close would look like a rank's death) is refused.
TEST(HeartbeatServer, ATcpHelloFromThisMachineIsRefusedWhenThereIsAUnixSocket) {
  HeartbeatServer server("127.0.0.1", "127.0.0.1", kToken, {}, std::filesystem::temp_directory_path());
  Client client(server.address());
  client.send(detail::encode(hello()));
  const auto events = poll_until(server, any_event);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::rejected);
  EXPECT_EQ(events[0].reason, "a rank on the launcher's machine must connect over its Unix socket");
}

// A rank's end over the Unix socket.
backends::FileDescriptor connect_locally(const std::filesystem::path& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof address.sun_path, "%s", path.c_str());
  backends::FileDescriptor fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0 || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    throw std::runtime_error("cannot connect to " + path.string());
  }
  return fd;
}

TEST(HeartbeatServer, TheUnixSocketIsInAFolderOnlyTheOwnerMayEnterAndGoesWithTheServer) {
  std::filesystem::path folder;
  {
    HeartbeatServer server("127.0.0.1", "127.0.0.1", kToken, {}, std::filesystem::temp_directory_path());
    ASSERT_FALSE(server.local_socket().empty());
    folder = server.local_socket().parent_path();
    EXPECT_EQ(std::filesystem::status(folder).permissions(), std::filesystem::perms::owner_all);
    EXPECT_EQ(std::filesystem::status(server.local_socket()).type(), std::filesystem::file_type::socket);
  }
  EXPECT_FALSE(std::filesystem::exists(folder));
}

// Over the Unix socket the kernel names the peer: a hello that names another pid (to have the
// launcher signal it) is refused, and so is a process the job did not start.
TEST(HeartbeatServer, AHelloOverTheUnixSocketMustComeFromTheProcessItNames) {
  HeartbeatServer server("127.0.0.1", "127.0.0.1", kToken, {}, std::filesystem::temp_directory_path());
  auto forged = connect_locally(server.local_socket());
  const std::string forged_hello = detail::encode(hello());  // pid 1234, not this process
  ASSERT_EQ(::send(forged.get(), forged_hello.data(), forged_hello.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(forged_hello.size()));
  auto events = poll_until(server, any_event);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::rejected);
  EXPECT_EQ(events[0].reason, "the hello names pid 1234, but the peer is pid " + std::to_string(::getpid()));

  auto own_pid = connect_locally(server.local_socket());
  Message honest = hello();
  honest.pid = ::getpid();
  const std::string line = detail::encode(honest);
  ASSERT_EQ(::send(own_pid.get(), line.data(), line.size(), MSG_NOSIGNAL), static_cast<ssize_t>(line.size()));
  events = poll_until(server, any_event);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::rejected);
  EXPECT_EQ(events[0].reason, "the peer process was not started by this job");  // no token in this test's environment
}

TEST(HeartbeatServer, DropAllClosesEveryPeer) {
  HeartbeatServer server("127.0.0.1", "127.0.0.1", kToken);
  Client client(server.address());
  client.send(detail::encode(hello()));
  ASSERT_EQ(poll_until(server, any_event).size(), 1u);
  server.drop_all();
  EXPECT_TRUE(client.closed_by_server(milliseconds(2000)));
  EXPECT_TRUE(server.poll(milliseconds(50)).empty());  // no closed event for a peer dropped on purpose
}

TEST(HeartbeatServer, PeerThatSaysNothingIsDroppedAfterTheHelloDeadline) {
  HeartbeatServer server("127.0.0.1", "127.0.0.1", kToken);
  Client client(server.address());
  const auto events = poll_until(server, any_event, milliseconds(8000));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::rejected);
  EXPECT_EQ(events[0].reason, "no hello within 2 s");
  EXPECT_TRUE(client.closed_by_server(milliseconds(2000)));
}

}  // namespace
}  // namespace lazarus::launcher
