#include "runtime/heartbeat/launcher_link.hpp"

#include <mpi.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <limits>
#include <mutex>
#include <optional>
#include <string_view>
#include <system_error>
#include <thread>

#include <fmt/format.h>

#include "backends/posix/durable_io.hpp"
#include "runtime/heartbeat/heartbeat_protocol.hpp"
#include "runtime/levels/placement.hpp"

namespace lazarus::detail {
namespace {

std::string environment_or(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

// A connected TCP socket to "host:port", or an empty descriptor.
backends::FileDescriptor connect_to(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) return {};
  const std::string host = address.substr(0, colon);
  const std::string port = address.substr(colon + 1);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0) return {};
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, &::freeaddrinfo);
  for (const addrinfo* candidate = found; candidate != nullptr; candidate = candidate->ai_next) {
    backends::FileDescriptor fd(::socket(candidate->ai_family, candidate->ai_socktype | SOCK_CLOEXEC, 0));
    if (fd.get() < 0) continue;
    if (::connect(fd.get(), candidate->ai_addr, candidate->ai_addrlen) == 0) {
      int on = 1;
      ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
      return fd;
    }
  }
  return {};
}

// A connected Unix stream socket to `path`, or an empty descriptor.
backends::FileDescriptor connect_to_unix_socket(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof address.sun_path) return {};
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  backends::FileDescriptor fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0 || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) return {};
  return fd;
}

// The launcher's Unix socket when this rank runs on the launcher's machine (there the launcher can
// verify who the rank is, and takes no TCP hello from this machine), else its TCP address. Empty, with
// a warning, when it cannot be reached.
backends::FileDescriptor connect_to_launcher(const std::string& address) {
  const std::string socket_path = environment_or("LAZARUS_LAUNCHER_SOCKET", "");
  const std::string launcher_boot = environment_or("LAZARUS_LAUNCHER_BOOT_ID", "");
  if (socket_path.empty() || launcher_boot.empty() || launcher_boot != this_machine_boot_id()) {
    backends::FileDescriptor fd = connect_to(address);
    if (fd.get() < 0) {
      std::fprintf(stderr, "lazarus: warning: cannot reach the launcher at %s; running unmonitored\n", address.c_str());
    }
    return fd;
  }
  backends::FileDescriptor fd = connect_to_unix_socket(socket_path);
  if (fd.get() < 0) {
    std::fprintf(stderr, "lazarus: warning: cannot reach the launcher's socket %s (%s); running unmonitored (a "
                 "container with a /tmp of its own? set TMPDIR for lazarus run to a folder the ranks see)\n",
                 socket_path.c_str(), std::strerror(errno));
  }
  return fd;
}

class LauncherConnection final : public LauncherLink {
 public:
  LauncherConnection(backends::FileDescriptor socket, std::chrono::milliseconds interval)
      : socket_(std::move(socket)), interval_(interval), wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    if (wake_.get() < 0) {
      throw std::system_error(errno, std::generic_category(), "eventfd for the launcher link's background thread");
    }
    inbox_.reserve(kMaxMessageBytes);  // reading never allocates
  }

  void start(const Message& hello) {
    send(encode(hello));
    heartbeat_ = std::thread([this] { beat_and_listen(); });
  }

  ~LauncherConnection() override {
    stopping_ = true;
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t written = ::write(wake_.get(), &one, sizeof one);  // ends the ppoll() at once
    if (heartbeat_.joinable()) heartbeat_.join();
    say_bye();
  }

  void say_bye() noexcept override {
    if (!said_bye_.exchange(true)) send(encode(make_message(MessageType::bye)));
  }

  void report_checkpoint(std::uint64_t version) noexcept override {
    send(encode(make_message(MessageType::checkpoint, version)));
  }
  void report_restore(std::uint64_t version, const std::string& level, const std::string& detail) noexcept override {
    try {
      Message message = make_message(MessageType::restore, version);
      message.level = level;
      message.detail = detail;
      send(encode(message));
    } catch (const std::exception&) {  // only bad_alloc: the report is best effort
    }
  }
  void report_progress() noexcept override {
    // A loop may report progress thousands of times a second; the launcher only needs to hear of it
    // within a hang timeout (more than two intervals), so one line per half interval is plenty.
    const auto now = Clock::now().time_since_epoch().count();
    const auto half_interval = std::chrono::duration_cast<Clock::duration>(interval_).count() / 2;
    auto last = last_progress_sent_.load();
    if (now - last < half_interval || !last_progress_sent_.compare_exchange_strong(last, now)) return;
    send(encode(make_message(MessageType::progress)));
  }

  bool stop_requested() const noexcept override { return stop_requested_.load(); }
  void report_stopping() noexcept override {
    if (!said_stopping_.exchange(true)) send(encode(make_message(MessageType::stopping)));
  }

 private:
  using Clock = std::chrono::steady_clock;

  // The background thread: a beat every interval_ after the previous one (as before the link read
  // anything), and in between, ppoll() on the socket, so that a `stop` is seen as soon as it arrives,
  // and on wake_, so that destruction never waits for the interval.
  void beat_and_listen() noexcept {
    const std::string beat = encode(make_message(MessageType::beat));
    bool reading = true;
    auto next_beat = Clock::now() + interval_;
    while (!stopping_) {
      const auto now = Clock::now();
      if (now >= next_beat) {
        send(beat);
        next_beat = Clock::now() + interval_;
        continue;
      }
      // ppoll: to the nanosecond, as the condition variable this replaced, so the beats keep their timing.
      const auto wait = std::chrono::duration_cast<std::chrono::nanoseconds>(next_beat - now);
      const timespec timeout{static_cast<time_t>(wait.count() / 1'000'000'000),
                             static_cast<long>(wait.count() % 1'000'000'000)};
      pollfd watched[2] = {{wake_.get(), POLLIN, 0}, {socket_.get(), POLLIN, 0}};
      const int ready = ::ppoll(watched, reading ? 2 : 1, &timeout, nullptr);
      if (ready < 0 && errno != EINTR) {
        // Cannot happen with valid descriptors; never spin, never stop beating.
        std::this_thread::sleep_for(std::min<std::chrono::nanoseconds>(wait, std::chrono::milliseconds(10)));
        continue;
      }
      if (ready > 0 && reading && watched[1].revents != 0) reading = read_available();
    }
  }

  // Takes what the launcher sent so far; false once the connection is closed or broken: reading
  // stops there (sending finds out by itself). A bounded amount per call, so that a flood cannot
  // hold back the beats.
  bool read_available() noexcept {
    char chunk[4096];
    for (int round = 0; round < 16; ++round) {
      const ssize_t n = ::recv(socket_.get(), chunk, sizeof chunk, MSG_DONTWAIT);
      if (n > 0) {
        take(std::string_view(chunk, static_cast<std::size_t>(n)));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
    return true;
  }

  // Splits `bytes` into lines. A line longer than kMaxMessageBytes is dropped whole, as is one that
  // does not decode: only a well-formed `stop` does anything.
  void take(std::string_view bytes) noexcept {
    while (!bytes.empty()) {
      const std::size_t newline = bytes.find('\n');
      const std::string_view piece = bytes.substr(0, newline);
      if (!too_long_ && inbox_.size() + piece.size() <= kMaxMessageBytes) {
        inbox_.append(piece);
      } else {
        too_long_ = true;
        inbox_.clear();
      }
      if (newline == std::string_view::npos) return;
      if (!too_long_) {
        const auto message = decode(inbox_);
        if (message && message->type == MessageType::stop) stop_requested_ = true;
      }
      inbox_.clear();
      too_long_ = false;
      bytes.remove_prefix(newline + 1);
    }
  }

  // Whole line or nothing more: after a failure (the launcher is gone) the link stays silent.
  void send(const std::string& line) noexcept {
    std::lock_guard lock(send_mutex_);
    if (broken_) return;
    std::size_t sent = 0;
    while (sent < line.size()) {
      const ssize_t n = ::send(socket_.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        broken_ = true;
        return;
      }
      sent += static_cast<std::size_t>(n);
    }
  }

  backends::FileDescriptor socket_;
  std::chrono::milliseconds interval_;
  backends::FileDescriptor wake_;  // eventfd: written once, by the destructor
  std::atomic<bool> stopping_ = false;
  std::mutex send_mutex_;  // one line at a time on the socket
  bool broken_ = false;
  std::atomic<bool> said_bye_ = false;
  std::atomic<Clock::rep> last_progress_sent_{std::numeric_limits<Clock::rep>::min() / 2};
  std::atomic<bool> said_stopping_ = false;
  std::atomic<bool> stop_requested_ = false;
  std::string inbox_;      // background thread only: the line being received
  bool too_long_ = false;  // background thread only: the current line passed kMaxMessageBytes
  std::thread heartbeat_;
};

std::shared_ptr<LauncherLink> connect_from_environment() {
  const char* address = std::getenv("LAZARUS_LAUNCHER");
  if (address == nullptr || *address == '\0') return nullptr;
  backends::FileDescriptor socket = connect_to_launcher(address);
  if (socket.get() < 0) return nullptr;
  std::string warning;
  const auto interval = heartbeat_interval(environment_or("LAZARUS_HEARTBEAT", "0.5"), warning);
  if (!warning.empty()) std::fprintf(stderr, "lazarus: warning: %s\n", warning.c_str());

  Message hello = make_message(MessageType::hello);
  hello.token = environment_or("LAZARUS_LAUNCHER_TOKEN", "");
  MPI_Comm_rank(MPI_COMM_WORLD, &hello.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &hello.size);
  hello.node = this_node_name();  // as the placement names it
  hello.pid = static_cast<long>(::getpid());
  hello.attempt = std::atoi(environment_or("LAZARUS_ATTEMPT", "0").c_str());

  auto link = std::make_shared<LauncherConnection>(std::move(socket), interval);
  link->start(hello);
  return link;
}

std::mutex shared_mutex;
std::weak_ptr<LauncherLink> shared_link;

// exit() with a Session still alive (leaked, or static) is a normal end too.
void say_bye_at_exit() {
  std::lock_guard lock(shared_mutex);
  if (auto link = shared_link.lock()) link->say_bye();
}

}  // namespace

std::chrono::milliseconds heartbeat_interval(std::string_view text, std::string& warning) {
  constexpr double kMinSeconds = 0.01, kMaxSeconds = 60.0;  // the bounds of `lazarus run --heartbeat`
  double seconds = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  // !(a <= x <= b) also refuses NaN; the range keeps seconds * 1000 far from overflowing a long.
  if (error != std::errc{} || end != text.data() + text.size() || !(seconds >= kMinSeconds && seconds <= kMaxSeconds)) {
    warning = fmt::format("LAZARUS_HEARTBEAT '{:.40}' is not a number of seconds from 0.01 to 60; beating every 0.5 s",
                          text);
    return std::chrono::milliseconds(500);
  }
  warning.clear();
  return std::chrono::milliseconds(static_cast<long>(seconds * 1000.0));
}

std::shared_ptr<LauncherLink> LauncherLink::acquire() noexcept {
  try {
    std::lock_guard lock(shared_mutex);
    if (auto existing = shared_link.lock()) return existing;
    auto link = connect_from_environment();
    shared_link = link;
    static const bool registered = std::atexit(say_bye_at_exit) == 0;
    (void)registered;
    return link;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "lazarus: warning: launcher link failed: %s\n", error.what());
    return nullptr;
  }
}

}  // namespace lazarus::detail
