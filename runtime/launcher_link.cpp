#include "runtime/launcher_link.hpp"

#include <mpi.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <thread>

#include "backends/posix/durable_io.hpp"
#include "runtime/heartbeat_protocol.hpp"

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

class TcpLauncherLink final : public LauncherLink {
 public:
  TcpLauncherLink(backends::FileDescriptor socket, std::chrono::milliseconds interval)
      : socket_(std::move(socket)), interval_(interval) {}

  void start(const Message& hello) {
    send(encode(hello));
    heartbeat_ = std::thread([this] { beat_until_stopped(); });
  }

  ~TcpLauncherLink() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
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
  void report_progress() noexcept override { send(encode(make_message(MessageType::progress))); }

 private:
  void beat_until_stopped() {
    const std::string beat = encode(make_message(MessageType::beat));
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, interval_, [this] { return stopping_; })) {
      lock.unlock();
      send(beat);
      lock.lock();
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
  std::mutex mutex_;  // guards stopping_
  std::condition_variable wake_;
  bool stopping_ = false;
  std::mutex send_mutex_;  // one line at a time on the socket
  bool broken_ = false;
  std::atomic<bool> said_bye_ = false;
  std::thread heartbeat_;
};

std::shared_ptr<LauncherLink> connect_from_environment() {
  const char* address = std::getenv("LAZARUS_LAUNCHER");
  if (address == nullptr || *address == '\0') return nullptr;
  backends::FileDescriptor socket = connect_to(address);
  if (socket.get() < 0) {
    std::fprintf(stderr, "lazarus: warning: cannot reach the launcher at %s; running unmonitored\n", address);
    return nullptr;
  }
  double seconds = std::strtod(environment_or("LAZARUS_HEARTBEAT", "0.5").c_str(), nullptr);
  if (!(seconds > 0)) seconds = 0.5;
  const auto interval = std::chrono::milliseconds(static_cast<long>(seconds * 1000.0));

  Message hello = make_message(MessageType::hello);
  hello.token = environment_or("LAZARUS_LAUNCHER_TOKEN", "");
  MPI_Comm_rank(MPI_COMM_WORLD, &hello.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &hello.size);
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  hello.node = environment_or("LAZARUS_NODE", host);
  hello.pid = static_cast<long>(::getpid());
  hello.attempt = std::atoi(environment_or("LAZARUS_ATTEMPT", "0").c_str());

  auto link = std::make_shared<TcpLauncherLink>(std::move(socket), std::max(interval, std::chrono::milliseconds(10)));
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
