#include "launcher/supervision/failure_detector.hpp"

#include <sys/wait.h>

#include <algorithm>
#include <thread>

#include <fmt/format.h>

#include "launcher/process/process_tools.hpp"

namespace lazarus::launcher {

void Failure::set_wait_status(int status) {
  cause = describe_wait_status(status);
  exit_code.reset();
  signal.reset();
  if (WIFEXITED(status)) exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) signal = WTERMSIG(status);
}

FailureDetector::FailureDetector(int ranks, double hang_timeout_seconds, double heartbeat_seconds)
    : ranks_(static_cast<std::size_t>(ranks)), hang_timeout_(hang_timeout_seconds), heartbeat_(heartbeat_seconds) {}

FailureDetector::Registration FailureDetector::hello(int connection, const detail::Message& hello, bool verified,
                                                     Clock::time_point now) {
  if (hello.rank < 0 || hello.rank >= static_cast<int>(ranks_.size())) return {};
  RankState& state = ranks_[static_cast<std::size_t>(hello.rank)];
  Registration registration{true, std::nullopt};
  // A claim the launcher could not check gives way to one it could, while it lasts: a process of the
  // job that was first to claim a rank over TCP cannot keep that rank out.
  if (state.registered && verified && !state.verified && state.connected) {
    registration.displaced = state.connection;
    rank_of_connection_.erase(state.connection);
  } else if (state.registered) {
    return {};
  }
  if (!first_hello_) first_hello_ = now;
  state = RankState{};
  state.connection = connection;
  state.pid = static_cast<pid_t>(hello.pid);
  state.node = hello.node;
  state.registered = true;
  state.connected = true;
  state.verified = verified;
  state.last_beat = now;
  state.last_progress = now;
  rank_of_connection_[connection] = hello.rank;
  return registration;
}

void FailureDetector::message(int connection, const detail::Message& message, Clock::time_point now) {
  auto found = rank_of_connection_.find(connection);
  if (found == rank_of_connection_.end()) return;
  RankState& state = ranks_[static_cast<std::size_t>(found->second)];
  state.last_beat = now;
  switch (message.type) {
    case detail::MessageType::checkpoint:
      newest_checkpoint_ = std::max(newest_checkpoint_, message.version);
      state.last_progress = now;
      break;
    case detail::MessageType::restore:
      state.last_progress = now;
      // The job has resumed once every rank restored (a rank may restore more than once).
      state.restored = true;
      if (!message.level.empty()) {  // every rank reports the same level; the details come from rank 0
        restored_level_ = message.level;
        if (!message.detail.empty()) restored_detail_ = message.detail;
      }
      if (!restored_ && std::all_of(ranks_.begin(), ranks_.end(), [](const RankState& r) { return r.restored; })) {
        restored_ = message.version;
        restored_at_ = now;
      }
      break;
    case detail::MessageType::progress: state.last_progress = now; break;
    case detail::MessageType::bye: state.said_bye = true; break;
    case detail::MessageType::stopping:
      state.last_progress = now;
      stopping_ = true;  // the application agreed to stop (every rank says it; one is enough)
      break;
    default: break;
  }
}

std::optional<Failure> FailureDetector::closed(int connection, Clock::time_point now) {
  auto found = rank_of_connection_.find(connection);
  if (found == rank_of_connection_.end()) return std::nullopt;
  RankState& state = ranks_[static_cast<std::size_t>(found->second)];
  state.connected = false;
  if (state.said_bye) return std::nullopt;
  Failure failure;
  failure.kind = "rank_died";
  failure.rank = found->second;
  failure.node = state.node;
  // The socket closes while the process exits; give it a moment to become a zombie whose status can be read.
  std::optional<int> status;
  if (state.verified) {
    for (int tries = 0; tries < 20 && !status && process_alive(state.pid); ++tries) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      status = zombie_wait_status(state.pid);
    }
    if (!status) status = zombie_wait_status(state.pid);
  }
  if (status) {
    failure.set_wait_status(*status);
  } else if (!state.verified) {
    failure.cause = "its connection closed (a process on another host)";
  } else {
    failure.cause = process_alive(state.pid) ? "alive, but its connection closed" : "exited (status already collected)";
  }
  failure.detected_by = "heartbeat connection closed";
  failure.detected_at = now;
  failure.evidence_at = state.last_beat;
  return failure;
}

// Ranks that stopped progressing are often only waiting for one that stopped altogether (a halo
// exchange with a frozen peer): when some rank has been silent for three heartbeat intervals, it is
// the one to blame, even before its silence reaches the hang timeout.
void FailureDetector::blame_the_silent_rank(Failure& failure, Clock::time_point now) const {
  const RankState* silent = nullptr;
  std::size_t silent_rank = 0;
  for (std::size_t rank = 0; rank < ranks_.size(); ++rank) {
    const RankState& state = ranks_[rank];
    if (!state.connected || state.said_bye) continue;
    if (silent == nullptr || state.last_beat < silent->last_beat) {
      silent = &state;
      silent_rank = rank;
    }
  }
  const double silence = silent ? std::chrono::duration<double>(now - silent->last_beat).count() : 0;
  if (silent == nullptr || silence < 3 * heartbeat_) return;
  failure.rank = static_cast<int>(silent_rank);
  failure.node = silent->node;
  failure.cause = describe_silent(*silent);
  failure.detected_by = fmt::format("no heartbeat for {:.1f} s while the other ranks made no progress", silence);
  failure.evidence_at = silent->last_beat;
}

std::string FailureDetector::describe_silent(const RankState& state) {
  if (!state.verified) return "silent (a process on another host)";
  return process_alive(state.pid) ? "process alive but silent" : "process gone";
}

std::optional<Failure> FailureDetector::check_hangs(Clock::time_point now) const {
  const auto limit = std::chrono::duration<double>(hang_timeout_);
  // A rank that never connected while the others did: turned away, or stuck before its Session.
  if (first_hello_ && now - *first_hello_ > limit) {
    for (std::size_t rank = 0; rank < ranks_.size(); ++rank) {
      if (ranks_[rank].registered) continue;
      Failure failure;
      failure.kind = "hang";
      failure.rank = static_cast<int>(rank);
      failure.cause = "never connected to the launcher";
      failure.detected_by = fmt::format("no hello within {:.1f} s of the first rank's", hang_timeout_);
      failure.detected_at = now;
      failure.evidence_at = *first_hello_;
      return failure;
    }
  }
  // A silent rank is the likelier culprit than ranks that only stopped progressing (waiting for it),
  // so heartbeats are judged first.
  for (const bool judge_beats : {true, false}) {
  for (std::size_t rank = 0; rank < ranks_.size(); ++rank) {
    const RankState& state = ranks_[rank];
    if (!state.connected || state.said_bye) continue;
    const bool no_beat = now - state.last_beat > limit;
    const bool no_progress = now - state.last_progress > limit;
    if (judge_beats ? !no_beat : !no_progress) continue;
    Failure failure;
    failure.kind = "hang";
    failure.rank = static_cast<int>(rank);
    failure.node = state.node;
    failure.cause = describe_silent(state);
    failure.detected_by = no_beat ? fmt::format("no heartbeat for {:.1f} s", hang_timeout_)
                                  : fmt::format("no progress for {:.1f} s", hang_timeout_);
    failure.detected_at = now;
    failure.evidence_at = no_beat ? state.last_beat : state.last_progress;
    if (!no_beat) blame_the_silent_rank(failure, now);
    return failure;
  }
  }
  return std::nullopt;
}

std::optional<pid_t> FailureDetector::pid_of(int rank) const {
  if (rank < 0 || rank >= static_cast<int>(ranks_.size())) return std::nullopt;
  const auto& state = ranks_[static_cast<std::size_t>(rank)];
  if (!state.verified || state.pid <= 0) return std::nullopt;
  return state.pid;
}

bool FailureDetector::every_rank_ended() const {
  return std::all_of(ranks_.begin(), ranks_.end(), [](const RankState& state) {
    return state.registered && state.said_bye && !state.connected && state.verified && !process_alive(state.pid);
  });
}

std::vector<int> FailureDetector::ranks_on(const std::string& node) const {
  std::vector<int> result;
  for (std::size_t rank = 0; rank < ranks_.size(); ++rank) {
    if (ranks_[rank].registered && ranks_[rank].node == node) result.push_back(static_cast<int>(rank));
  }
  return result;
}

int FailureDetector::connected_ranks() const {
  int count = 0;
  for (const auto& state : ranks_) count += state.connected;
  return count;
}

}  // namespace lazarus::launcher
