#include <gtest/gtest.h>

#include <string>

#include "launcher/supervision/fault_plan.hpp"
#include "launcher/cli/usage_error.hpp"

namespace lazarus::launcher {
namespace {

TEST(FaultPlan, ParsesKillRankAfterSeconds) {
  const Fault fault = parse_fault("kill rank=2 after=3s");
  EXPECT_EQ(fault.action, Fault::Action::kill);
  EXPECT_EQ(fault.rank, 2);
  EXPECT_TRUE(fault.node.empty());
  EXPECT_DOUBLE_EQ(fault.after_seconds, 3.0);
  EXPECT_EQ(fault.after_checkpoint, 0u);
  EXPECT_FALSE(fault.fired);
  EXPECT_EQ(fault.text, "kill rank=2 after=3s");
}

TEST(FaultPlan, ParsesFractionalSecondsWithoutUnit) {
  const Fault fault = parse_fault("kill rank=0 after=2.5");
  EXPECT_EQ(fault.action, Fault::Action::kill);
  EXPECT_EQ(fault.rank, 0);
  EXPECT_DOUBLE_EQ(fault.after_seconds, 2.5);
}

TEST(FaultPlan, ParsesStopRank) {
  const Fault fault = parse_fault("stop rank=1 after=4s");
  EXPECT_EQ(fault.action, Fault::Action::stop);
  EXPECT_EQ(fault.rank, 1);
  EXPECT_DOUBLE_EQ(fault.after_seconds, 4.0);
}

TEST(FaultPlan, ParsesKillNode) {
  const Fault fault = parse_fault("kill node=n2 after=1s");
  EXPECT_EQ(fault.action, Fault::Action::kill_node);
  EXPECT_EQ(fault.node, "n2");
  EXPECT_EQ(fault.rank, -1);
  EXPECT_DOUBLE_EQ(fault.after_seconds, 1.0);
}

TEST(FaultPlan, ParsesKillNodeAfterCheckpoint) {
  const Fault fault = parse_fault("kill node=n1 after-checkpoint=3");
  EXPECT_EQ(fault.action, Fault::Action::kill_node);
  EXPECT_EQ(fault.node, "n1");
  EXPECT_EQ(fault.after_checkpoint, 3u);
  EXPECT_DOUBLE_EQ(fault.after_seconds, 0.0);
}

TEST(FaultPlan, ParsesAfterCheckpointTogetherWithSeconds) {
  const Fault fault = parse_fault("kill rank=3 after-checkpoint=2 after=1.5s");
  EXPECT_EQ(fault.action, Fault::Action::kill);
  EXPECT_EQ(fault.rank, 3);
  EXPECT_EQ(fault.after_checkpoint, 2u);
  EXPECT_DOUBLE_EQ(fault.after_seconds, 1.5);
}

TEST(FaultPlan, ParsesCrashWithAllFields) {
  const Fault fault = parse_fault("crash point=during_write rank=1 version=2 attempt=3");
  EXPECT_EQ(fault.action, Fault::Action::crash);
  EXPECT_EQ(fault.point, "during_write");
  EXPECT_EQ(fault.rank, 1);
  ASSERT_TRUE(fault.version.has_value());
  EXPECT_EQ(*fault.version, 2u);
  EXPECT_EQ(fault.attempt, 3);
}

TEST(FaultPlan, CrashDefaultsToAnyVersionInTheFirstAttempt) {
  const Fault fault = parse_fault("crash point=during_commit rank=0");
  EXPECT_EQ(fault.action, Fault::Action::crash);
  EXPECT_EQ(fault.point, "during_commit");
  EXPECT_EQ(fault.rank, 0);
  EXPECT_FALSE(fault.version.has_value());
  EXPECT_EQ(fault.attempt, 1);
}

TEST(FaultPlan, ToleratesExtraSpaces) {
  const Fault fault = parse_fault("  kill   rank=1    after=2s  ");
  EXPECT_EQ(fault.action, Fault::Action::kill);
  EXPECT_EQ(fault.rank, 1);
  EXPECT_DOUBLE_EQ(fault.after_seconds, 2.0);
}

// Each spec must be refused with a UsageError that quotes it (and gives `reason`, when given).
void expect_rejected(const std::string& spec, const std::string& reason = "") {
  try {
    parse_fault(spec);
    ADD_FAILURE() << "'" << spec << "' was accepted";
  } catch (const UsageError& error) {
    EXPECT_NE(std::string(error.what()).find(spec), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find(reason), std::string::npos) << error.what();
  }
}

TEST(FaultPlan, RejectsUnknownVerb) {
  expect_rejected("explode rank=1 after=1s");
  expect_rejected("");
}

TEST(FaultPlan, RejectsKillOrStopWithoutATrigger) {
  expect_rejected("kill rank=1");
  expect_rejected("stop rank=1");
  expect_rejected("kill node=n1");
}

TEST(FaultPlan, RejectsRankAndNodeTogether) { expect_rejected("kill rank=1 node=n1 after=1s"); }

TEST(FaultPlan, RejectsKillWithNeitherRankNorNode) { expect_rejected("kill after=1s"); }

TEST(FaultPlan, RejectsStopNode) { expect_rejected("stop node=n1 after=1s"); }

TEST(FaultPlan, RejectsNegativeValues) {
  expect_rejected("kill rank=-1 after=1s");
  expect_rejected("kill rank=1 after=-1s");
  expect_rejected("kill rank=1 after-checkpoint=-2");
  expect_rejected("crash point=p rank=0 version=-1");
  expect_rejected("crash point=p rank=0 attempt=-1");
}

TEST(FaultPlan, RejectsNonNumericValues) {
  expect_rejected("kill rank=one after=1s");
  expect_rejected("kill rank=1 after=soon");
  expect_rejected("kill rank=1 after=3ms");
  expect_rejected("kill rank=1 after=");
  expect_rejected("kill rank=1.5 after=1s");
  expect_rejected("kill rank=1 after-checkpoint=v2");
  expect_rejected("crash point=p rank=0 version=x");
}

// after= must be a finite number of seconds: "nan" compares false with everything, so a NaN
// deadline would fire at once, and "inf" never.
TEST(FaultPlan, RejectsNonFiniteSeconds) {
  expect_rejected("kill rank=1 after=nan");
  expect_rejected("kill rank=1 after=inf");
}

TEST(FaultPlan, RejectsUnknownKey) {
  expect_rejected("kill rank=1 after=1s signal=9");
  expect_rejected("crash point=p rank=0 after=1s");
}

TEST(FaultPlan, RejectsWordsThatAreNotKeyValue) { expect_rejected("kill rank=1 after=1s now"); }

// Found by fuzz_fault_plan: a key given twice was taken silently, the last one winning ("kill rank=1
// after=5 rank=2" killed rank 2).
TEST(FaultPlan, RejectsAKeyGivenTwice) {
  expect_rejected("kill rank=1 after=5 rank=2");
  expect_rejected("crash point=during_restore rank=0 attempt=2point=during_restore rank=0 attempt=2");
  expect_rejected("stop rank=1 after=1s after=2s", "'after' is given twice");
}

// Issue 13, item 15: attempt=0 (and version=0) were accepted, and the fault never fired.
TEST(FaultPlan, RejectsAttemptOrVersionZero) {
  expect_rejected("crash point=during_write rank=1 attempt=0");
  expect_rejected("crash point=during_write rank=1 version=0");
  expect_rejected("crash point=during_restore rank=0 attempt=0", "attempt= counts from 1");
  EXPECT_EQ(parse_fault("crash point=during_write rank=1 version=1 attempt=1").attempt, 1);
}

TEST(FaultPlan, RejectsCrashWithoutPointOrRank) {
  expect_rejected("crash rank=1");
  expect_rejected("crash point=during_commit");
}

}  // namespace
}  // namespace lazarus::launcher
