#include <gtest/gtest.h>

#include <csignal>
#include <optional>
#include <string>

#include "launcher/supervision/restart_policy.hpp"

namespace lazarus::launcher {
namespace {

using Rule = RestartDecision::Rule;

// Failed attempts numbered in the order they are made; each helper returns one, to adjust.
class Attempts {
 public:
  AttemptFailure exited(int code) { return make(FailureKind::rank_died, code, std::nullopt); }
  AttemptFailure signalled(int signal) { return make(FailureKind::rank_died, std::nullopt, signal); }
  AttemptFailure job_exited(int code) { return make(FailureKind::job_exited, code, std::nullopt); }
  AttemptFailure hang() { return make(FailureKind::hang, std::nullopt, std::nullopt); }

 private:
  AttemptFailure make(FailureKind kind, std::optional<int> code, std::optional<int> signal) {
    AttemptFailure failure;
    failure.attempt = ++attempt_;
    failure.kind = kind;
    failure.rank = kind == FailureKind::job_exited ? -1 : 0;
    failure.exit_code = code;
    failure.signal = signal;
    return failure;
  }
  int attempt_ = 0;
};

AttemptFailure injected(AttemptFailure failure) {
  failure.injected = true;
  return failure;
}

AttemptFailure node_lost(AttemptFailure failure) {
  failure.node_lost = true;
  return failure;
}

AttemptFailure after_a_new_checkpoint(AttemptFailure failure) {
  failure.new_checkpoint = true;
  return failure;
}

AttemptFailure on_rank(int rank, AttemptFailure failure) {
  failure.rank = rank;
  return failure;
}

void expect_restart(const RestartDecision& decision) {
  EXPECT_FALSE(decision.give_up) << to_string(decision.rule) << ": " << decision.note;
  EXPECT_EQ(decision.rule, Rule::none);
  EXPECT_TRUE(decision.evidence.empty());
}

TEST(RestartPolicy, SameExitStatusTwiceWithoutACheckpointGivesUp) {
  RestartPolicy policy(10);
  Attempts attempts;
  const RestartDecision first = policy.judge(attempts.exited(3));
  expect_restart(first);
  EXPECT_TRUE(first.counted);
  const RestartDecision second = policy.judge(attempts.exited(3));
  EXPECT_TRUE(second.give_up);
  EXPECT_EQ(second.rule, Rule::no_progress);
  EXPECT_EQ(to_string(second.rule), "no_progress");
  EXPECT_EQ(second.evidence, (std::vector<std::string>{"attempt 1: rank_died of rank 0, exit code 3",
                                                        "attempt 2: rank_died of rank 0, exit code 3"}));
}

TEST(RestartPolicy, SameExitStatusOfTheLaunchCommandTwiceGivesUp) {
  RestartPolicy policy(10);
  Attempts attempts;
  expect_restart(policy.judge(attempts.job_exited(1)));
  const RestartDecision second = policy.judge(attempts.job_exited(1));
  EXPECT_EQ(second.rule, Rule::no_progress);
  EXPECT_EQ(second.evidence.back(), "attempt 2: job_exited, exit code 1");
}

TEST(RestartPolicy, DifferentExitStatusesRestart) {
  RestartPolicy policy(10);
  Attempts attempts;
  expect_restart(policy.judge(attempts.exited(3)));
  expect_restart(policy.judge(attempts.exited(4)));
  expect_restart(policy.judge(attempts.exited(5)));
}

TEST(RestartPolicy, AnExitStatusSeenEarlierSinceTheCheckpointGivesUpEvenWithAnotherBetween) {
  RestartPolicy policy(10);
  Attempts attempts;
  expect_restart(policy.judge(attempts.exited(3)));
  expect_restart(policy.judge(attempts.exited(4)));
  const RestartDecision third = policy.judge(attempts.exited(3));
  EXPECT_EQ(third.rule, Rule::no_progress);
  EXPECT_EQ(third.evidence, (std::vector<std::string>{"attempt 1: rank_died of rank 0, exit code 3",
                                                       "attempt 3: rank_died of rank 0, exit code 3"}));
}

TEST(RestartPolicy, SameSignalOnAnotherRankIsTheSameFailure) {
  RestartPolicy policy(10);
  Attempts attempts;
  expect_restart(policy.judge(on_rank(1, attempts.signalled(SIGSEGV))));
  const RestartDecision second = policy.judge(on_rank(3, attempts.signalled(SIGSEGV)));
  EXPECT_EQ(second.rule, Rule::no_progress);
  EXPECT_EQ(second.evidence, (std::vector<std::string>{"attempt 1: rank_died of rank 1, signal 11 (SIGSEGV)",
                                                        "attempt 2: rank_died of rank 3, signal 11 (SIGSEGV)"}));
}

TEST(RestartPolicy, SameCrashSignalTwiceGivesUp) {
  for (const int signal : {SIGSEGV, SIGABRT, SIGFPE, SIGBUS}) {
    RestartPolicy policy(10);
    Attempts attempts;
    expect_restart(policy.judge(attempts.signalled(signal)));
    EXPECT_EQ(policy.judge(attempts.signalled(signal)).rule, Rule::no_progress) << "signal " << signal;
  }
}

TEST(RestartPolicy, DifferentSignalsRestart) {
  RestartPolicy policy(10);
  Attempts attempts;
  expect_restart(policy.judge(attempts.signalled(SIGSEGV)));
  expect_restart(policy.judge(attempts.signalled(SIGABRT)));
  expect_restart(policy.judge(attempts.signalled(SIGKILL)));
}

TEST(RestartPolicy, AnExitStatusAndASignalOfTheSameNumberDiffer) {
  RestartPolicy policy(10);
  Attempts attempts;
  expect_restart(policy.judge(attempts.exited(SIGSEGV)));
  expect_restart(policy.judge(attempts.signalled(SIGSEGV)));
}

TEST(RestartPolicy, TheSameCauseOfAnotherKindDiffers) {
  RestartPolicy policy(10);
  Attempts attempts;
  expect_restart(policy.judge(attempts.exited(1)));
  expect_restart(policy.judge(attempts.job_exited(1)));
}

TEST(RestartPolicy, ALoneSigkillRestarts) {
  RestartPolicy policy(10);
  Attempts attempts;
  const RestartDecision decision = policy.judge(attempts.signalled(SIGKILL));
  expect_restart(decision);
  EXPECT_TRUE(decision.counted);
  EXPECT_NE(decision.note.find("the first rank_died, signal 9 (SIGKILL) since the last new checkpoint"),
            std::string::npos) << decision.note;
}

TEST(RestartPolicy, SigkillTwiceWithoutACheckpointGivesUp) {
  RestartPolicy policy(10);
  Attempts attempts;
  expect_restart(policy.judge(attempts.signalled(SIGKILL)));
  const RestartDecision second = policy.judge(attempts.signalled(SIGKILL));
  EXPECT_EQ(second.rule, Rule::no_progress);
  EXPECT_EQ(second.evidence.size(), 2u);
}

TEST(RestartPolicy, ALoneHangRestarts) {
  RestartPolicy policy(10);
  Attempts attempts;
  expect_restart(policy.judge(attempts.hang()));
}

TEST(RestartPolicy, HangTwiceWithoutACheckpointGivesUp) {
  RestartPolicy policy(10);
  Attempts attempts;
  expect_restart(policy.judge(attempts.hang()));
  const RestartDecision second = policy.judge(on_rank(2, attempts.hang()));
  EXPECT_EQ(second.rule, Rule::no_progress);
  EXPECT_EQ(second.evidence, (std::vector<std::string>{"attempt 1: hang of rank 0", "attempt 2: hang of rank 2"}));
}

TEST(RestartPolicy, NodeLossNeverCounts) {
  RestartPolicy policy(10);
  Attempts attempts;
  for (int i = 0; i < 5; ++i) {
    const RestartDecision decision = policy.judge(node_lost(attempts.signalled(SIGKILL)));
    expect_restart(decision);
    EXPECT_FALSE(decision.counted);
    EXPECT_EQ(decision.note, "not counted towards no_progress: a node was lost");
  }
}

TEST(RestartPolicy, InjectedFaultsNeverCount) {
  RestartPolicy policy(10);
  Attempts attempts;
  for (int i = 0; i < 3; ++i) {
    const RestartDecision kill = policy.judge(injected(attempts.signalled(SIGKILL)));
    expect_restart(kill);
    EXPECT_FALSE(kill.counted);
    EXPECT_EQ(kill.note, "not counted towards no_progress: the launcher injected it (--inject)");
    expect_restart(policy.judge(injected(attempts.hang())));  // --inject "stop rank=R"
  }
}

TEST(RestartPolicy, TwoInjectedKillsBeforeTheFirstCheckpointRestart) {
  // The user's case: `kill rank=0 after=2s`, then `kill node=n3 after=6s`, both before heat2d's first checkpoint.
  RestartPolicy policy(3);
  Attempts attempts;
  expect_restart(policy.judge(injected(attempts.signalled(SIGKILL))));
  expect_restart(policy.judge(injected(node_lost(on_rank(2, attempts.signalled(SIGKILL))))));
}

TEST(RestartPolicy, OutsideFaultsBetweenTwoSameFailuresNeitherCountNorReset) {
  RestartPolicy policy(10);
  Attempts attempts;
  expect_restart(policy.judge(attempts.signalled(SIGSEGV)));
  expect_restart(policy.judge(injected(attempts.signalled(SIGKILL))));
  expect_restart(policy.judge(node_lost(attempts.signalled(SIGKILL))));
  const RestartDecision again = policy.judge(attempts.signalled(SIGSEGV));
  EXPECT_EQ(again.rule, Rule::no_progress);
  EXPECT_EQ(again.evidence, (std::vector<std::string>{"attempt 1: rank_died of rank 0, signal 11 (SIGSEGV)",
                                                       "attempt 4: rank_died of rank 0, signal 11 (SIGSEGV)"}));
}

TEST(RestartPolicy, ANewCheckpointResets) {
  RestartPolicy policy(10);
  Attempts attempts;
  expect_restart(policy.judge(attempts.signalled(SIGSEGV)));
  expect_restart(policy.judge(after_a_new_checkpoint(attempts.signalled(SIGSEGV))));
  expect_restart(policy.judge(after_a_new_checkpoint(attempts.signalled(SIGSEGV))));
  // ... and what counted before it no longer does: this one is the first since version N.
  expect_restart(policy.judge(after_a_new_checkpoint(attempts.hang())));
  EXPECT_EQ(policy.judge(attempts.signalled(SIGSEGV)).rule, Rule::none);
  EXPECT_EQ(policy.judge(attempts.hang()).rule, Rule::no_progress);
}

TEST(RestartPolicy, MoreFailuresThanMaxRestartsGiveUp) {
  RestartPolicy policy(2);
  Attempts attempts;
  expect_restart(policy.judge(injected(attempts.signalled(SIGKILL))));
  expect_restart(policy.judge(node_lost(attempts.signalled(SIGKILL))));
  const RestartDecision third = policy.judge(after_a_new_checkpoint(attempts.exited(3)));
  EXPECT_TRUE(third.give_up);
  EXPECT_EQ(third.rule, Rule::restarts_exhausted);
  EXPECT_EQ(to_string(third.rule), "restarts_exhausted");
  EXPECT_EQ(policy.failures(), 3);
  // Every failure counts towards --max-restarts, injected or not: all are the evidence.
  EXPECT_EQ(third.evidence, (std::vector<std::string>{"attempt 1: rank_died of rank 0, signal 9 (SIGKILL) (injected)",
                                                       "attempt 2: rank_died of rank 0, signal 9 (SIGKILL) (node lost)",
                                                       "attempt 3: rank_died of rank 0, exit code 3"}));
}

TEST(RestartPolicy, ZeroMaxRestartsGivesUpAtTheFirstFailure) {
  RestartPolicy policy(0);
  Attempts attempts;
  EXPECT_EQ(policy.judge(injected(attempts.signalled(SIGKILL))).rule, Rule::restarts_exhausted);
}

TEST(RestartPolicy, NoProgressIsReportedWhenBothRulesFire) {
  RestartPolicy policy(1);
  Attempts attempts;
  expect_restart(policy.judge(attempts.job_exited(1)));
  EXPECT_EQ(policy.judge(attempts.job_exited(1)).rule, Rule::no_progress);
}

TEST(RestartPolicy, AFailureWithoutAKnownCauseRepeatsAsItsKind) {
  RestartPolicy policy(10);
  Attempts attempts;
  AttemptFailure unknown = attempts.exited(0);
  unknown.exit_code.reset();  // "exited (status already collected)"
  expect_restart(policy.judge(unknown));
  AttemptFailure again = attempts.exited(0);
  again.exit_code.reset();
  const RestartDecision second = policy.judge(again);
  EXPECT_EQ(second.rule, Rule::no_progress);
  EXPECT_EQ(second.evidence.back(), "attempt 2: rank_died of rank 0");
}

}  // namespace
}  // namespace lazarus::launcher
