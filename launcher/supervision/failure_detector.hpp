#pragma once
// Turns what the ranks say (or stop saying) into failures: a rank whose heartbeat connection closed
// without a "bye" died; a rank with no heartbeat, or no progress, within the hang timeout hangs, as
// does one that never connects within the hang timeout of the first rank's hello (Sessions are
// created collectively, so the ranks connect together: one that cannot is not left unwatched).
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runtime/heartbeat/heartbeat_protocol.hpp"

namespace lazarus::launcher {

using Clock = std::chrono::steady_clock;

struct Failure {
  std::string kind;         // "rank_died", "hang", "job_exited"
  int rank = -1;            // -1 when not tied to one rank
  std::string node;
  std::string cause;        // "signal 9 (Killed)", "exit code 3", "process alive but silent"
  std::optional<int> exit_code;  // the cause as numbers, when a process ended: its exit status...
  std::optional<int> signal;     // ... or the signal that ended it
  std::string detected_by;  // how it was noticed
  Clock::time_point detected_at;
  Clock::time_point evidence_at;  // the last sign of life, or the injected fault's time

  // Sets cause, exit_code and signal from a waitpid() status.
  void set_wait_status(int status);
};

class FailureDetector {
 public:
  // `heartbeat_seconds`: how often ranks beat; a rank silent for three intervals is suspect.
  FailureDetector(int ranks, double hang_timeout_seconds, double heartbeat_seconds = 0.25);

  // A rank introduced itself on `connection`; `verified`: its pid is the peer's own (Unix socket), the
  // only kind of pid the launcher will signal or look up.
  struct Registration {
    bool accepted = false;          // false: a rank out of range, or registered already in this attempt
    std::optional<int> displaced;   // a connection that had claimed this rank over TCP, unverified,
                                    // replaced by this verified one (the caller drops it)
  };
  Registration hello(int connection, const detail::Message& hello, bool verified, Clock::time_point now);
  // Any later message of `connection`. Checkpoints and restores count as progress, as do "progress"
  // messages; every message counts as a heartbeat.
  void message(int connection, const detail::Message& message, Clock::time_point now);
  // `connection` closed: a failure unless its rank said "bye" first.
  std::optional<Failure> closed(int connection, Clock::time_point now);
  // A rank whose last heartbeat or progress is older than the hang timeout.
  std::optional<Failure> check_hangs(Clock::time_point now) const;

  // The rank's verified pid (see hello()): nullopt for a rank not connected over the Unix socket.
  std::optional<pid_t> pid_of(int rank) const;
  std::vector<int> ranks_on(const std::string& node) const;
  // True once every rank said bye and its (verified) process is gone: what still runs then is not a
  // rank. False while a rank's pid is not verified (its process cannot be looked at from here).
  bool every_rank_ended() const;
  int connected_ranks() const;
  // Highest checkpoint version a rank reported, and the version the ranks restored (0: none).
  std::uint64_t newest_checkpoint() const { return newest_checkpoint_; }
  std::optional<std::uint64_t> restored_version() const { return restored_; }
  std::optional<Clock::time_point> restored_at() const { return restored_at_; }
  // Where the restored version came from ("local", "global"; empty when not said) and what was rebuilt.
  const std::string& restored_level() const noexcept { return restored_level_; }
  const std::string& restored_detail() const noexcept { return restored_detail_; }
  // A rank said it takes its final checkpoint and stops, as the launcher asked (Session::should_stop()).
  bool stopping() const noexcept { return stopping_; }

 private:
  struct RankState {
    int connection = -1;
    pid_t pid = 0;
    std::string node;
    bool said_bye = false;
    bool registered = false;  // said its hello in this attempt
    bool connected = false;
    bool verified = false;
    bool restored = false;
    Clock::time_point last_beat;
    Clock::time_point last_progress;
  };
  void blame_the_silent_rank(Failure& failure, Clock::time_point now) const;
  // "process alive but silent", "process gone", or, for a pid not verified, only that it is silent.
  static std::string describe_silent(const RankState& state);

  std::vector<RankState> ranks_;
  std::map<int, int> rank_of_connection_;
  std::optional<Clock::time_point> first_hello_;
  double hang_timeout_;
  double heartbeat_;
  std::uint64_t newest_checkpoint_ = 0;
  std::optional<std::uint64_t> restored_;
  std::optional<Clock::time_point> restored_at_;
  std::string restored_level_;
  std::string restored_detail_;
  bool stopping_ = false;

};

}  // namespace lazarus::launcher
