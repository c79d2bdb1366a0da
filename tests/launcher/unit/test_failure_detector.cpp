#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <string>

#include "launcher/supervision/failure_detector.hpp"
#include "launcher/process/process_tools.hpp"

namespace lazarus::launcher {
namespace {

using detail::Message;
using detail::MessageType;
using std::chrono::milliseconds;

const Clock::time_point t0 = Clock::now();

Message hello_from(int rank, int size, const std::string& node, long pid = ::getpid()) {
  Message hello = detail::make_message(MessageType::hello);
  hello.token = "token";
  hello.rank = rank;
  hello.size = size;
  hello.node = node;
  hello.pid = pid;
  hello.attempt = 1;
  return hello;
}

// A child that exited with `code` and is left unreaped (a zombie) until the object goes.
class ExitedChild {
 public:
  explicit ExitedChild(int code) {
    pid_ = ::fork();
    if (pid_ == 0) ::_exit(code);
    for (int i = 0; i < 500 && process_alive(pid_); ++i) ::usleep(2000);
  }
  ~ExitedChild() { ::waitpid(pid_, nullptr, 0); }
  ExitedChild(const ExitedChild&) = delete;
  ExitedChild& operator=(const ExitedChild&) = delete;
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

TEST(FailureDetector, WaitStatusGivesTheCauseAsTextAndAsNumbers) {
  Failure failure;
  failure.set_wait_status(SIGSEGV);  // what waitpid() reports for a process ended by SIGSEGV
  EXPECT_EQ(failure.signal, std::optional<int>(SIGSEGV));
  EXPECT_EQ(failure.exit_code, std::nullopt);
  EXPECT_EQ(failure.cause.rfind("signal 11 (", 0), 0u) << failure.cause;
  failure.set_wait_status(3 << 8);  // exit(3)
  EXPECT_EQ(failure.exit_code, std::optional<int>(3));
  EXPECT_EQ(failure.signal, std::nullopt);
  EXPECT_EQ(failure.cause, "exit code 3");
}

TEST(FailureDetector, HelloRegistersRanks) {
  FailureDetector detector(2, 1.0);
  EXPECT_EQ(detector.connected_ranks(), 0);
  EXPECT_TRUE(detector.hello(10, hello_from(0, 2, "n1", 1000), true, t0).accepted);
  EXPECT_TRUE(detector.hello(11, hello_from(1, 2, "n2", 1001), true, t0).accepted);
  EXPECT_EQ(detector.connected_ranks(), 2);
  EXPECT_EQ(detector.pid_of(0), std::optional<pid_t>(1000));
  EXPECT_EQ(detector.pid_of(1), std::optional<pid_t>(1001));
  EXPECT_EQ(detector.pid_of(2), std::nullopt);
  EXPECT_EQ(detector.ranks_on("n2"), (std::vector<int>{1}));
  EXPECT_TRUE(detector.ranks_on("n3").empty());
}

TEST(FailureDetector, HelloRefusesASecondHelloForTheSameRank) {
  FailureDetector detector(2, 1.0);
  ASSERT_TRUE(detector.hello(10, hello_from(0, 2, "n1", 1000), true, t0).accepted);
  EXPECT_FALSE(detector.hello(11, hello_from(0, 2, "n1", 2000), true, t0).accepted);
  EXPECT_EQ(detector.pid_of(0), std::optional<pid_t>(1000));  // the first one stays
  EXPECT_EQ(detector.connected_ranks(), 1);
}

// A pid taken from a hello that the launcher could not check (TCP, another host) is never one to
// signal or look up.
TEST(FailureDetector, AnUnverifiedPidIsNeverGivenOut) {
  FailureDetector detector(2, 1.0);
  ASSERT_TRUE(detector.hello(10, hello_from(0, 2, "n1", 1000), false, t0).accepted);
  ASSERT_TRUE(detector.hello(11, hello_from(1, 2, "n1", 1001), true, t0).accepted);
  EXPECT_EQ(detector.pid_of(0), std::nullopt);
  EXPECT_EQ(detector.pid_of(1), std::optional<pid_t>(1001));
  EXPECT_EQ(detector.ranks_on("n1"), (std::vector<int>{0, 1}));
  const auto failure = detector.closed(10, t0 + milliseconds(5));
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->cause, "its connection closed (a process on another host)");
}

// One registration per rank per attempt: a rank whose connection closed cannot be claimed again.
// The forged-rank attack over TCP: a process of the job claims rank 0 first. The rank itself, verified
// over the Unix socket, takes its place; the claim of a verified rank is never given up.
TEST(FailureDetector, AVerifiedHelloReplacesAnUnverifiedClaim) {
  FailureDetector detector(1, 1.0);
  ASSERT_TRUE(detector.hello(10, hello_from(0, 1, "n1", 4242), false, t0).accepted);
  const auto registration = detector.hello(11, hello_from(0, 1, "n1", 1000), true, t0);
  EXPECT_TRUE(registration.accepted);
  EXPECT_EQ(registration.displaced, std::optional<int>(10));
  EXPECT_EQ(detector.pid_of(0), std::optional<pid_t>(1000));
  EXPECT_FALSE(detector.closed(10, t0).has_value());  // the impostor's close is no failure
  EXPECT_FALSE(detector.hello(12, hello_from(0, 1, "n1", 4243), false, t0).accepted);
  EXPECT_FALSE(detector.hello(13, hello_from(0, 1, "n1", 4244), true, t0).accepted);
}

TEST(FailureDetector, AClosedRankCannotRegisterAgain) {
  FailureDetector detector(1, 1.0);
  ASSERT_TRUE(detector.hello(10, hello_from(0, 1, "n1", 1000), true, t0).accepted);
  detector.message(10, detail::make_message(MessageType::bye), t0);
  EXPECT_FALSE(detector.closed(10, t0).has_value());
  EXPECT_FALSE(detector.hello(11, hello_from(0, 1, "n1", 2000), true, t0).accepted);
}

// Sessions are created together: a rank that does not connect within the hang timeout of the first
// one (turned away by a flooded listener, or stuck) is a failure, not a rank left unwatched.
TEST(FailureDetector, ARankThatNeverConnectsHangs) {
  FailureDetector detector(3, 1.0);
  ASSERT_TRUE(detector.hello(10, hello_from(0, 3, "n1"), true, t0).accepted);
  ASSERT_TRUE(detector.hello(11, hello_from(2, 3, "n1"), true, t0 + milliseconds(500)).accepted);
  detector.message(10, detail::make_message(MessageType::progress), t0 + milliseconds(900));
  detector.message(11, detail::make_message(MessageType::progress), t0 + milliseconds(900));
  EXPECT_FALSE(detector.check_hangs(t0 + milliseconds(900)).has_value());
  const auto failure = detector.check_hangs(t0 + milliseconds(1100));
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->kind, "hang");
  EXPECT_EQ(failure->rank, 1);
  EXPECT_EQ(failure->cause, "never connected to the launcher");
  EXPECT_EQ(failure->evidence_at, t0);
}

TEST(FailureDetector, NoRankConnectedIsNotAHang) {
  FailureDetector detector(2, 1.0);
  EXPECT_FALSE(detector.check_hangs(t0 + std::chrono::seconds(100)).has_value());
}

TEST(FailureDetector, EveryRankEndedOnceAllSaidByeAndTheirProcessesAreGone) {
  ExitedChild gone(0);
  FailureDetector detector(2, 1.0);
  ASSERT_TRUE(detector.hello(10, hello_from(0, 2, "n1", gone.pid()), true, t0).accepted);
  ASSERT_TRUE(detector.hello(11, hello_from(1, 2, "n1", gone.pid()), true, t0).accepted);
  for (int connection : {10, 11}) detector.message(connection, detail::make_message(MessageType::bye), t0);
  EXPECT_FALSE(detector.every_rank_ended());  // still connected
  EXPECT_FALSE(detector.closed(10, t0).has_value());
  EXPECT_FALSE(detector.every_rank_ended());
  EXPECT_FALSE(detector.closed(11, t0).has_value());
  EXPECT_TRUE(detector.every_rank_ended());
}

TEST(FailureDetector, EveryRankEndedIsFalseWhileARankProcessLivesOrIsUnverified) {
  FailureDetector alive(1, 1.0);
  ASSERT_TRUE(alive.hello(10, hello_from(0, 1, "n1", ::getpid()), true, t0).accepted);  // this process: alive
  alive.message(10, detail::make_message(MessageType::bye), t0);
  EXPECT_FALSE(alive.closed(10, t0).has_value());
  EXPECT_FALSE(alive.every_rank_ended());
  ExitedChild gone(0);
  FailureDetector remote(1, 1.0);
  ASSERT_TRUE(remote.hello(10, hello_from(0, 1, "n1", gone.pid()), false, t0).accepted);
  remote.message(10, detail::make_message(MessageType::bye), t0);
  EXPECT_FALSE(remote.closed(10, t0).has_value());
  EXPECT_FALSE(remote.every_rank_ended());
}

TEST(FailureDetector, HelloRefusesARankOutOfRange) {
  FailureDetector detector(2, 1.0);
  EXPECT_FALSE(detector.hello(10, hello_from(2, 3, "n1"), true, t0).accepted);
  EXPECT_FALSE(detector.hello(11, hello_from(-1, 3, "n1"), true, t0).accepted);
  EXPECT_EQ(detector.connected_ranks(), 0);
}

TEST(FailureDetector, CloseAfterByeIsNoFailure) {
  FailureDetector detector(1, 1.0);
  ASSERT_TRUE(detector.hello(10, hello_from(0, 1, "n1"), true, t0).accepted);
  detector.message(10, detail::make_message(MessageType::bye), t0 + milliseconds(5));
  EXPECT_FALSE(detector.closed(10, t0 + milliseconds(6)).has_value());
  EXPECT_EQ(detector.connected_ranks(), 0);
}

TEST(FailureDetector, CloseWithoutByeIsARankThatDied) {
  ExitedChild child(3);
  FailureDetector detector(2, 1.0);
  ASSERT_TRUE(detector.hello(10, hello_from(0, 2, "n1"), true, t0).accepted);
  ASSERT_TRUE(detector.hello(11, hello_from(1, 2, "n2", child.pid()), true, t0).accepted);
  detector.message(11, detail::make_message(MessageType::beat), t0 + milliseconds(100));
  const auto failure = detector.closed(11, t0 + milliseconds(150));
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->kind, "rank_died");
  EXPECT_EQ(failure->rank, 1);
  EXPECT_EQ(failure->node, "n2");
  EXPECT_EQ(failure->cause, "exit code 3");  // read from the zombie
  EXPECT_EQ(failure->exit_code, std::optional<int>(3));
  EXPECT_EQ(failure->signal, std::nullopt);
  EXPECT_EQ(failure->detected_by, "heartbeat connection closed");
  EXPECT_EQ(failure->detected_at, t0 + milliseconds(150));
  EXPECT_EQ(failure->evidence_at, t0 + milliseconds(100));  // its last heartbeat
  EXPECT_EQ(detector.connected_ranks(), 1);
}

TEST(FailureDetector, CloseOfAnUnknownConnectionIsIgnored) {
  FailureDetector detector(1, 1.0);
  EXPECT_FALSE(detector.closed(99, t0).has_value());
}

TEST(FailureDetector, NoHangWithinTheTimeout) {
  FailureDetector detector(2, 1.0);
  ASSERT_TRUE(detector.hello(10, hello_from(0, 2, "n1"), true, t0).accepted);
  ASSERT_TRUE(detector.hello(11, hello_from(1, 2, "n1"), true, t0).accepted);
  EXPECT_FALSE(detector.check_hangs(t0 + milliseconds(500)).has_value());
  EXPECT_FALSE(detector.check_hangs(t0 + milliseconds(1000)).has_value());  // not more than 1 s yet
}

TEST(FailureDetector, RankWithoutBeatsIsAHangWithNoHeartbeat) {
  FailureDetector detector(1, 1.0);
  ASSERT_TRUE(detector.hello(10, hello_from(0, 1, "n3"), true, t0).accepted);
  const auto now = t0 + milliseconds(1001);
  const auto failure = detector.check_hangs(now);
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->kind, "hang");
  EXPECT_EQ(failure->rank, 0);
  EXPECT_EQ(failure->node, "n3");
  EXPECT_EQ(failure->detected_by, "no heartbeat for 1.0 s");
  EXPECT_EQ(failure->cause, "process alive but silent");  // this test's own pid
  EXPECT_EQ(failure->detected_at, now);
  EXPECT_EQ(failure->evidence_at, t0);
}

TEST(FailureDetector, RankWithBeatsButNoProgressIsAHangWithNoProgress) {
  FailureDetector detector(1, 1.0);
  ASSERT_TRUE(detector.hello(10, hello_from(0, 1, "n1"), true, t0).accepted);
  for (int ms = 200; ms <= 1400; ms += 200) {
    detector.message(10, detail::make_message(MessageType::beat), t0 + milliseconds(ms));
  }
  const auto failure = detector.check_hangs(t0 + milliseconds(1500));
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->kind, "hang");
  EXPECT_EQ(failure->rank, 0);
  EXPECT_EQ(failure->detected_by, "no progress for 1.0 s");
  EXPECT_EQ(failure->evidence_at, t0);  // its last progress
}

TEST(FailureDetector, ProgressCheckpointAndRestoreAllCountAsProgress) {
  for (const MessageType type : {MessageType::progress, MessageType::checkpoint, MessageType::restore}) {
    FailureDetector detector(1, 1.0);
    ASSERT_TRUE(detector.hello(10, hello_from(0, 1, "n1"), true, t0).accepted);
    detector.message(10, detail::make_message(type, 1), t0 + milliseconds(900));
    EXPECT_FALSE(detector.check_hangs(t0 + milliseconds(1800)).has_value()) << static_cast<int>(type);
    EXPECT_TRUE(detector.check_hangs(t0 + milliseconds(1901)).has_value()) << static_cast<int>(type);
  }
}

TEST(FailureDetector, SilentRankIsReportedBeforeRanksThatOnlyLackProgress) {
  FailureDetector detector(3, 1.0);
  for (int rank = 0; rank < 3; ++rank) ASSERT_TRUE(detector.hello(10 + rank, hello_from(rank, 3, "n1"), true, t0).accepted);
  // Ranks 0 and 1 keep beating (waiting in a collective for rank 2), rank 2 is silent.
  for (int rank = 0; rank < 2; ++rank) {
    detector.message(10 + rank, detail::make_message(MessageType::beat), t0 + milliseconds(1400));
  }
  const auto failure = detector.check_hangs(t0 + milliseconds(1500));
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->rank, 2);
  EXPECT_EQ(failure->detected_by, "no heartbeat for 1.0 s");
}

TEST(FailureDetector, RanksThatSaidByeOrClosedAreNotHangs) {
  FailureDetector detector(2, 1.0);
  ASSERT_TRUE(detector.hello(10, hello_from(0, 2, "n1"), true, t0).accepted);
  ASSERT_TRUE(detector.hello(11, hello_from(1, 2, "n1"), true, t0).accepted);
  detector.message(10, detail::make_message(MessageType::bye), t0);
  detector.message(11, detail::make_message(MessageType::bye), t0);
  ASSERT_FALSE(detector.closed(11, t0).has_value());
  EXPECT_FALSE(detector.check_hangs(t0 + std::chrono::seconds(10)).has_value());
}

TEST(FailureDetector, NewestCheckpointIsTheHighestVersionReported) {
  FailureDetector detector(2, 1.0);
  ASSERT_TRUE(detector.hello(10, hello_from(0, 2, "n1"), true, t0).accepted);
  ASSERT_TRUE(detector.hello(11, hello_from(1, 2, "n1"), true, t0).accepted);
  EXPECT_EQ(detector.newest_checkpoint(), 0u);
  detector.message(10, detail::make_message(MessageType::checkpoint, 3), t0);
  EXPECT_EQ(detector.newest_checkpoint(), 3u);
  detector.message(11, detail::make_message(MessageType::checkpoint, 2), t0);
  EXPECT_EQ(detector.newest_checkpoint(), 3u);
  detector.message(11, detail::make_message(MessageType::checkpoint, 5), t0);
  EXPECT_EQ(detector.newest_checkpoint(), 5u);
  detector.message(99, detail::make_message(MessageType::checkpoint, 9), t0);  // unknown connection
  EXPECT_EQ(detector.newest_checkpoint(), 5u);
}

TEST(FailureDetector, RestoredVersionOnlyOnceEveryRankRestored) {
  FailureDetector detector(3, 1.0);
  for (int rank = 0; rank < 3; ++rank) ASSERT_TRUE(detector.hello(10 + rank, hello_from(rank, 3, "n1"), true, t0).accepted);
  detector.message(10, detail::make_message(MessageType::restore, 4), t0 + milliseconds(10));
  detector.message(11, detail::make_message(MessageType::restore, 4), t0 + milliseconds(20));
  EXPECT_FALSE(detector.restored_version().has_value());
  EXPECT_FALSE(detector.restored_at().has_value());
  detector.message(12, detail::make_message(MessageType::restore, 4), t0 + milliseconds(30));
  EXPECT_EQ(detector.restored_version(), std::optional<std::uint64_t>(4));
  EXPECT_EQ(detector.restored_at(), std::optional<Clock::time_point>(t0 + milliseconds(30)));
}

// A rank that reports a restore twice (restore_exactly() called twice, or a retried restore) must not
// stand in for a rank that has not restored yet.
TEST(FailureDetector, RestoredVersionNeedsARestoreFromEveryRank) {
  FailureDetector detector(2, 1.0);
  ASSERT_TRUE(detector.hello(10, hello_from(0, 2, "n1"), true, t0).accepted);
  ASSERT_TRUE(detector.hello(11, hello_from(1, 2, "n1"), true, t0).accepted);
  detector.message(10, detail::make_message(MessageType::restore, 4), t0);
  detector.message(10, detail::make_message(MessageType::restore, 4), t0);
  EXPECT_FALSE(detector.restored_version().has_value()) << "rank 1 never restored";
  detector.message(11, detail::make_message(MessageType::restore, 4), t0);
  EXPECT_EQ(detector.restored_version(), std::optional<std::uint64_t>(4));
}

}  // namespace
}  // namespace lazarus::launcher
