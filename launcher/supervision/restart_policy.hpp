#pragma once
// The restart policy of `lazarus run`: after each failed attempt, restart or give up, and on what
// evidence. Pure: it is told what each failure was (the supervisor classifies it) and decides; it
// starts no process, reads no clock and writes nothing. Rules (docs/launcher.md, "Restart policy"):
//   no_progress         the same failure happened twice since the last new checkpoint: the failure
//                       is in the program. "The same" is the same kind (rank_died, hang, job_exited)
//                       and the same cause (exit code, or signal); the rank may differ, as which rank
//                       is noticed first is a race when every rank meets the same bug. A failure the
//                       launcher injected (--inject) or one that lost a node is outside the program:
//                       it never counts, and is skipped over (it does not reset either). A new
//                       checkpoint resets the count.
//   restarts_exhausted  more failures than --max-restarts, whatever they were.
// When both fire, no_progress is reported: it says more.
#include <optional>
#include <string>
#include <vector>

namespace lazarus::launcher {

enum class FailureKind { rank_died, hang, job_exited };

// One failed attempt, as the supervisor classified it.
struct AttemptFailure {
  int attempt = 0;
  FailureKind kind = FailureKind::rank_died;
  int rank = -1;                 // -1 when not tied to one rank; for the evidence only
  std::optional<int> exit_code;  // the cause, when known: the exit status of the process...
  std::optional<int> signal;     // ... or the signal that ended it
  bool injected = false;         // the launcher caused it (--inject)
  bool node_lost = false;        // a node that hosted ranks was lost
  bool new_checkpoint = false;   // a new complete checkpoint since the previous failure (or the start)
};

struct RestartDecision {
  enum class Rule { none, no_progress, restarts_exhausted };
  bool give_up = false;
  Rule rule = Rule::none;             // which rule gave up (none: restart)
  bool counted = false;               // the failure counts towards no_progress
  std::string note;                   // why it counts towards no_progress or not
  std::vector<std::string> evidence;  // when giving up: the failures the rule fired on, oldest first
};

std::string to_string(FailureKind kind);                // "rank_died", "hang", "job_exited"
std::string to_string(RestartDecision::Rule rule);      // "no_progress", "restarts_exhausted", "" (none)
// One line for the events: "attempt 2: rank_died of rank 1, signal 11 (SIGSEGV)", with " (injected)"
// or " (node lost)" when so.
std::string describe(const AttemptFailure& failure);

class RestartPolicy {
 public:
  explicit RestartPolicy(int max_restarts) : max_restarts_(max_restarts) {}
  // Judges the next failed attempt (call once per failure, in order).
  RestartDecision judge(const AttemptFailure& failure);
  int failures() const { return static_cast<int>(failures_.size()); }

 private:
  int max_restarts_;
  std::vector<AttemptFailure> failures_;  // every failure judged
  std::vector<AttemptFailure> counted_;   // those that counted, since the last new checkpoint
};

}  // namespace lazarus::launcher
