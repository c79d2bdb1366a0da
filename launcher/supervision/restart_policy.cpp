#include "launcher/supervision/restart_policy.hpp"

#include <cstring>

#include <fmt/format.h>

namespace lazarus::launcher {
namespace {

// The failure's cause: its kind and, when known, its exit code or signal (not its rank).
bool same_failure(const AttemptFailure& a, const AttemptFailure& b) {
  return a.kind == b.kind && a.exit_code == b.exit_code && a.signal == b.signal;
}

std::string cause_of(const AttemptFailure& failure) {
  if (failure.signal) {
    const char* name = sigabbrev_np(*failure.signal);
    return name ? fmt::format("signal {} (SIG{})", *failure.signal, name) : fmt::format("signal {}", *failure.signal);
  }
  if (failure.exit_code) return fmt::format("exit code {}", *failure.exit_code);
  return "";
}

}  // namespace

std::string to_string(FailureKind kind) {
  switch (kind) {
    case FailureKind::rank_died: return "rank_died";
    case FailureKind::hang: return "hang";
    case FailureKind::job_exited: return "job_exited";
  }
  return "unknown";
}

std::string to_string(RestartDecision::Rule rule) {
  switch (rule) {
    case RestartDecision::Rule::none: return "";
    case RestartDecision::Rule::no_progress: return "no_progress";
    case RestartDecision::Rule::restarts_exhausted: return "restarts_exhausted";
  }
  return "";
}

std::string describe(const AttemptFailure& failure) {
  std::string text = fmt::format("attempt {}: {}", failure.attempt, to_string(failure.kind));
  if (failure.rank >= 0) text += fmt::format(" of rank {}", failure.rank);
  if (const std::string cause = cause_of(failure); !cause.empty()) text += ", " + cause;
  if (failure.injected) text += " (injected)";
  if (failure.node_lost) text += " (node lost)";
  return text;
}

RestartDecision RestartPolicy::judge(const AttemptFailure& failure) {
  RestartDecision decision;
  failures_.push_back(failure);
  if (failure.new_checkpoint) counted_.clear();

  const std::string what = fmt::format("{}{}", to_string(failure.kind),
                                       cause_of(failure).empty() ? "" : ", " + cause_of(failure));
  const AttemptFailure* earlier = nullptr;
  if (failure.injected) {
    decision.note = "not counted towards no_progress: the launcher injected it (--inject)";
  } else if (failure.node_lost) {
    decision.note = "not counted towards no_progress: a node was lost";
  } else {
    decision.counted = true;
    for (const AttemptFailure& before : counted_) {
      if (same_failure(before, failure)) {
        earlier = &before;
        break;
      }
    }
    decision.note = earlier ? fmt::format("counted towards no_progress: {} again, as in attempt {}, with no new "
                                          "checkpoint since", what, earlier->attempt)
                            : fmt::format("counted towards no_progress: the first {} since the last new checkpoint; "
                                          "the same failure again before a new checkpoint gives up", what);
  }

  if (earlier) {
    decision.give_up = true;
    decision.rule = RestartDecision::Rule::no_progress;
    decision.evidence = {describe(*earlier), describe(failure)};
  } else if (failures() > max_restarts_) {
    decision.give_up = true;
    decision.rule = RestartDecision::Rule::restarts_exhausted;
    for (const AttemptFailure& each : failures_) decision.evidence.push_back(describe(each));
  }
  if (decision.counted) counted_.push_back(failure);
  return decision;
}

}  // namespace lazarus::launcher
