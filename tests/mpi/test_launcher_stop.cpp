// Session::should_stop() with a launcher played by the test: rank 0's process listens on 127.0.0.1
// (as `lazarus run` does), every rank connects through LAZARUS_LAUNCHER, and the fake launcher sends
// `stop` to one rank's connection only. Every rank must then see should_stop() turn true at the same
// call (none stops alone), and each must answer `stopping` once. Also: lines that are not a `stop`
// change nothing, the hello names the node as the placement does (SLURMD_NODENAME here), a rank
// without a link still agrees, and without a launcher should_stop() stays false.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "../scoped_environment.hpp"
#include "backends/posix/durable_io.hpp"
#include "mpi_test_support.hpp"
#include "runtime/heartbeat/heartbeat_protocol.hpp"

namespace {

using lazarus::Session;
using lazarus::backends::FileDescriptor;
using lazarus::detail::Message;
using lazarus::detail::MessageType;
using lazarus::testing::ScopedVariable;
using lazarus::testing::SharedScratchDir;
using lazarus::testing::world_rank;
using lazarus::testing::world_size;
using std::chrono::milliseconds;

constexpr const char* kToken = "stop-test-token";

// What one connection sent, line by line.
struct Connection {
  FileDescriptor socket;
  std::string buffer;  // an incomplete line
  int rank = -1;       // from its hello
  bool closed = false;
  std::vector<Message> messages;
  int malformed = 0;  // lines that did not decode
};

// The launcher's end: a listener on 127.0.0.1 (a port the system picks) and a thread that accepts
// every connection and records the lines that arrive. Lines to a rank are sent from the caller's thread.
class FakeLauncher {
 public:
  FakeLauncher() : listener_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (listener_.get() < 0 || ::bind(listener_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener_.get(), 64) != 0 ||
        ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::system_error(errno, std::generic_category(), "fake launcher: cannot listen on 127.0.0.1");
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeLauncher() {
    done_ = true;
    thread_.join();
  }
  FakeLauncher(const FakeLauncher&) = delete;
  FakeLauncher& operator=(const FakeLauncher&) = delete;

  int port() const { return port_; }

  // Waits until `ready` holds for the connections (by rank, those that said hello), or `limit` passed.
  bool wait_until(const std::function<bool(const std::map<int, const Connection*>&)>& ready,
                  milliseconds limit = milliseconds(10000)) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [&] { return ready(by_rank()); });
  }

  // Sends `text` on the connection whose hello named `rank`.
  void send_to_rank(int rank, const std::string& text) {
    std::lock_guard lock(mutex_);
    const auto ranks = by_rank();
    const auto found = ranks.find(rank);
    if (found == ranks.end()) throw std::logic_error("fake launcher: no connection of rank " + std::to_string(rank));
    std::size_t sent = 0;
    while (sent < text.size()) {
      const ssize_t n = ::send(found->second->socket.get(), text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) throw std::system_error(errno, std::generic_category(), "fake launcher: send");
      sent += static_cast<std::size_t>(n);
    }
  }

  // Runs `check` on the connections (by rank, those that said hello), as they are now.
  void inspect(const std::function<void(const std::map<int, const Connection*>&)>& check) {
    std::lock_guard lock(mutex_);
    check(by_rank());
  }

  // How many connections arrived (with a hello or not).
  std::size_t connections() {
    std::lock_guard lock(mutex_);
    return connections_.size();
  }

 private:
  std::map<int, const Connection*> by_rank() const {  // under mutex_
    std::map<int, const Connection*> ranks;
    for (const auto& connection : connections_) {
      if (connection->rank >= 0) ranks[connection->rank] = connection.get();
    }
    return ranks;
  }

  void serve() {
    while (!done_) {
      std::vector<pollfd> watched{{listener_.get(), POLLIN, 0}};
      {
        std::lock_guard lock(mutex_);
        for (const auto& connection : connections_) {
          watched.push_back({connection->closed ? -1 : connection->socket.get(), POLLIN, 0});
        }
      }
      if (::poll(watched.data(), watched.size(), 20) <= 0) continue;
      std::lock_guard lock(mutex_);
      if (watched[0].revents & POLLIN) {
        auto connection = std::make_unique<Connection>();
        connection->socket = FileDescriptor(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (connection->socket.get() >= 0) connections_.push_back(std::move(connection));
      }
      for (std::size_t i = 1; i < watched.size(); ++i) {
        if (watched[i].revents != 0) read_from(*connections_[i - 1]);
      }
      changed_.notify_all();
    }
  }

  static void read_from(Connection& connection) {
    char chunk[4096];
    const ssize_t n = ::recv(connection.socket.get(), chunk, sizeof chunk, MSG_DONTWAIT);
    if (n <= 0) {
      if (n == 0 || (errno != EAGAIN && errno != EINTR)) connection.closed = true;
      return;
    }
    connection.buffer.append(chunk, static_cast<std::size_t>(n));
    for (std::size_t newline; (newline = connection.buffer.find('\n')) != std::string::npos;) {
      const auto message = lazarus::detail::decode(std::string_view(connection.buffer).substr(0, newline));
      connection.buffer.erase(0, newline + 1);
      if (!message) {
        ++connection.malformed;
        continue;
      }
      if (message->type == MessageType::hello) connection.rank = message->rank;
      connection.messages.push_back(*message);
    }
  }

  FileDescriptor listener_;
  int port_ = 0;
  std::atomic<bool> done_ = false;
  std::mutex mutex_;  // guards connections_ (and what is in them)
  std::condition_variable changed_;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::thread thread_;
};

std::size_t count_of(const Connection& connection, MessageType type) {
  std::size_t count = 0;
  for (const Message& message : connection.messages) count += message.type == type ? 1 : 0;
  return count;
}

// Rank 0's verdict (a failed check there), shared so that every rank stops at the same point.
bool agreed(bool ok) {
  int mine = ok ? 1 : 0;
  MPI_Bcast(&mine, 1, MPI_INT, 0, MPI_COMM_WORLD);
  return mine != 0;
}

// The launcher's variables for this rank; `connect` false leaves LAZARUS_LAUNCHER unset.
// Rank 0's process hosts the fake launcher (nullptr elsewhere); every rank learns its port.
std::pair<std::unique_ptr<FakeLauncher>, int> fake_launcher_on_rank_0() {
  std::unique_ptr<FakeLauncher> launcher;
  int port = 0;
  if (world_rank() == 0) {
    launcher = std::make_unique<FakeLauncher>();
    port = launcher->port();
  }
  MPI_Bcast(&port, 1, MPI_INT, 0, MPI_COMM_WORLD);
  return {std::move(launcher), port};
}

struct LauncherEnvironment {
  LauncherEnvironment(int port, bool connect, const char* heartbeat_seconds = "0.05")
      : launcher("LAZARUS_LAUNCHER", connect ? std::optional<std::string>("127.0.0.1:" + std::to_string(port))
                                             : std::nullopt),
        token("LAZARUS_LAUNCHER_TOKEN", kToken),
        heartbeat("LAZARUS_HEARTBEAT", heartbeat_seconds),
        attempt("LAZARUS_ATTEMPT", "1"),
        lazarus_node("LAZARUS_NODE", std::nullopt),
        slurm_node("SLURMD_NODENAME", "slurm" + std::to_string(world_rank())) {}
  ScopedVariable launcher, token, heartbeat, attempt, lazarus_node, slurm_node;
};

// should_stop() until it returns true, 10 ms apart, at most `calls` times: the call that returned
// true (from 0), or -1.
int calls_until_stop(Session& session, int calls) {
  for (int call = 0; call < calls; ++call) {
    if (session.should_stop()) return call;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return -1;
}

TEST(LauncherStop, OneRankAskedStopsEveryRankAtTheSameCall) {
  SharedScratchDir scratch;
  const int ranks = world_size();
  const int target = ranks - 1;  // not rank 0, whose process hosts the launcher
  const auto [launcher, port] = fake_launcher_on_rank_0();
  LauncherEnvironment environment(port, true);
  {
    Session session(MPI_COMM_WORLD, lazarus::testing::options_in(scratch.path()));

    bool ok = true;
    if (world_rank() == 0) {
      ok = launcher->wait_until([&](const auto& by_rank) { return static_cast<int>(by_rank.size()) == ranks; });
      EXPECT_TRUE(ok) << "not every rank said hello";
      // Lines that are not a `stop` must change nothing: garbage, a `stop` inside a line longer than
      // the limit (one line, dropped whole), a malformed message, other valid types.
      if (ok) {
        launcher->send_to_rank(target, "not json\n");
        launcher->send_to_rank(target, std::string(3000, 'x') + R"({"type":"stop"})" + "\n");
        launcher->send_to_rank(target, R"({"type":"checkpoint"})" "\n" R"({"type":"beat"})" "\n");
        launcher->send_to_rank(target, R"({"type":"stopping"})" "\n");
      }
    }
    ASSERT_TRUE(agreed(ok));
    std::this_thread::sleep_for(milliseconds(150));  // three heartbeats: the lines above were read
    for (int call = 0; call < 5; ++call) EXPECT_FALSE(session.should_stop()) << "call " << call;

    // The request, in two pieces: the link puts the line together.
    MPI_Barrier(MPI_COMM_WORLD);
    if (world_rank() == 0) {
      launcher->send_to_rank(target, R"({"type":"st)");
      std::this_thread::sleep_for(milliseconds(30));
      launcher->send_to_rank(target, "op\"}\n");
    }
    const int stopped_at = calls_until_stop(session, 1000);  // 10 s: the line arrives in milliseconds
    EXPECT_GE(stopped_at, 0) << "should_stop() never returned true on rank " << world_rank();
    int earliest = 0, latest = 0;
    MPI_Allreduce(&stopped_at, &earliest, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(&stopped_at, &latest, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    EXPECT_EQ(earliest, latest) << "the ranks did not agree on the call that stops";
    EXPECT_TRUE(session.should_stop()) << "should_stop() must stay true";
    EXPECT_TRUE(session.should_stop());
  }

  if (world_rank() == 0) {
    // Every rank's link closes after a bye once its Session ended.
    const bool closed = launcher->wait_until([&](const auto& by_rank) {
      if (static_cast<int>(by_rank.size()) != ranks) return false;
      for (const auto& [rank, connection] : by_rank) {
        if (!connection->closed) return false;
      }
      return true;
    });
    EXPECT_TRUE(closed) << "not every rank closed its connection";
    EXPECT_EQ(launcher->connections(), static_cast<std::size_t>(ranks)) << "one connection per rank";
    launcher->inspect([&](const auto& by_rank) {
      for (const auto& [rank, connection] : by_rank) {
        ASSERT_FALSE(connection->messages.empty());
        const Message& hello = connection->messages.front();
        EXPECT_EQ(hello.type, MessageType::hello) << "rank " << rank;
        EXPECT_EQ(hello.token, kToken) << "rank " << rank;
        EXPECT_EQ(hello.size, ranks) << "rank " << rank;
        EXPECT_EQ(hello.node, "slurm" + std::to_string(rank)) << "the hello names the node as the placement does";
        EXPECT_EQ(hello.attempt, 1) << "rank " << rank;
        EXPECT_GT(hello.pid, 0) << "rank " << rank;
        EXPECT_EQ(connection->malformed, 0) << "rank " << rank;
        EXPECT_EQ(count_of(*connection, MessageType::stopping), 1u) << "rank " << rank << " must say stopping once";
        // Progress lines are sent at most once per half heartbeat interval, however often it is called.
        EXPECT_GE(count_of(*connection, MessageType::progress), 1u) << "should_stop() counts as progress";
        EXPECT_GE(count_of(*connection, MessageType::beat), 1u) << "rank " << rank;
        EXPECT_EQ(count_of(*connection, MessageType::bye), 1u) << "rank " << rank;
        EXPECT_EQ(connection->messages.back().type, MessageType::bye) << "rank " << rank;
      }
    });
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

// A rank whose launcher cannot be reached runs without a link (LAZARUS_LAUNCHER unset here, on every
// rank but the one asked): the ranks still agree, and none waits for the others.
TEST(LauncherStop, RanksWithoutALinkStopWithTheRankThatHasOne) {
  SharedScratchDir scratch;
  const int target = world_size() - 1;
  const auto [launcher, port] = fake_launcher_on_rank_0();
  LauncherEnvironment environment(port, world_rank() == target);
  {
    Session session(MPI_COMM_WORLD, lazarus::testing::options_in(scratch.path()));
    bool ok = true;
    if (world_rank() == 0) {
      ok = launcher->wait_until([&](const auto& by_rank) { return by_rank.count(target) == 1; });
      EXPECT_TRUE(ok) << "rank " << target << " did not say hello";
    }
    ASSERT_TRUE(agreed(ok));
    EXPECT_FALSE(session.should_stop());
    MPI_Barrier(MPI_COMM_WORLD);
    if (world_rank() == 0) launcher->send_to_rank(target, R"({"type":"stop"})" "\n");
    const int stopped_at = calls_until_stop(session, 1000);
    EXPECT_GE(stopped_at, 0) << "rank " << world_rank();
    int earliest = 0, latest = 0;
    MPI_Allreduce(&stopped_at, &earliest, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(&stopped_at, &latest, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    EXPECT_EQ(earliest, latest);
  }
  if (world_rank() == 0) {
    EXPECT_TRUE(launcher->wait_until([&](const auto& by_rank) {
      return by_rank.count(target) == 1 && by_rank.at(target)->closed &&
             count_of(*by_rank.at(target), MessageType::stopping) == 1;
    })) << "rank " << target << " did not say stopping once and close";
    EXPECT_EQ(launcher->connections(), 1u);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

// The link's thread waits in poll() between beats: the end of the last Session must not wait for
// the next beat.
TEST(LauncherStop, TheLinkEndsPromptlyBetweenLongHeartbeats) {
  SharedScratchDir scratch;
  const auto [launcher, port] = fake_launcher_on_rank_0();
  LauncherEnvironment environment(port, true, "30");
  std::chrono::steady_clock::time_point ending;
  {
    Session session(MPI_COMM_WORLD, lazarus::testing::options_in(scratch.path()));
    EXPECT_FALSE(session.should_stop());
    ending = std::chrono::steady_clock::now();
  }
  EXPECT_LT(std::chrono::steady_clock::now() - ending, milliseconds(1000)) << "rank " << world_rank();
  if (world_rank() == 0) {
    EXPECT_TRUE(launcher->wait_until([&](const auto& by_rank) {
      if (static_cast<int>(by_rank.size()) != world_size()) return false;
      for (const auto& [rank, connection] : by_rank) {
        if (!connection->closed || count_of(*connection, MessageType::bye) != 1) return false;
      }
      return true;
    })) << "not every rank said bye and closed";
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

TEST(LauncherStop, WithoutALauncherShouldStopIsAlwaysFalse) {
  SharedScratchDir scratch;
  ScopedVariable launcher("LAZARUS_LAUNCHER", std::nullopt);
  Session session(MPI_COMM_WORLD, lazarus::testing::options_in(scratch.path()));
  for (int call = 0; call < 20; ++call) ASSERT_FALSE(session.should_stop()) << "call " << call;
}

}  // namespace
