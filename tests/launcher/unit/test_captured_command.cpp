// run_captured: stdout and stderr together, the exit status, a program that cannot be started, several
// commands at once (in parallel, results in order), and the time limit, after which nothing of the
// command's process group runs any more. start_detached: the command runs without being waited for.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "launcher/process/captured_command.hpp"
#include "tests/launcher/unit/fake_commands.hpp"
#include "tests/unit/test_scratch_dir.hpp"

namespace lazarus::launcher {
namespace {

using lazarus::testing::processes_left_running;
using lazarus::testing::ScratchDir;
using lazarus::testing::wait_for_line;
using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

// A duration for `sleep` that no other process on the machine is likely to run with.
std::string unique_sleep(int whole_seconds) {
  return std::to_string(whole_seconds) + "." + std::to_string(::getpid() % 100000) + "1";
}

TEST(CapturedCommand, CapturesStdoutAndStderrAndTheExitStatus) {
  const CommandResult result = run_captured({"sh", "-c", "echo out; echo err >&2; exit 3"}, seconds(5));
  EXPECT_NE(result.output.find("out"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("err"), std::string::npos) << result.output;
  ASSERT_TRUE(result.wait_status.has_value());
  EXPECT_TRUE(WIFEXITED(*result.wait_status));
  EXPECT_EQ(WEXITSTATUS(*result.wait_status), 3);
  EXPECT_FALSE(result.timed_out);
  EXPECT_FALSE(result.succeeded());
}

TEST(CapturedCommand, SucceedsWhenTheCommandExitsWithZero) {
  const CommandResult result = run_captured({"sh", "-c", "echo fine"}, seconds(5));
  EXPECT_TRUE(result.succeeded());
  EXPECT_EQ(result.output, "fine\n");
}

TEST(CapturedCommand, AProgramThatCannotBeStartedFailsWithoutThrowing) {
  // (Two literals alone would also read as an iterator pair for the overload taking several commands.)
  const std::vector<std::string> command{"/nonexistent/lazarus-no-such-program", "x"};
  CommandResult result;
  EXPECT_NO_THROW(result = run_captured(command, seconds(5)));
  EXPECT_FALSE(result.succeeded());
  EXPECT_FALSE(result.wait_status.has_value());
  EXPECT_FALSE(result.timed_out);
}

TEST(CapturedCommand, RunsSeveralCommandsAtOnceAndKeepsTheirOrder) {
  const auto start = Clock::now();
  const auto results = run_captured_all({{"sh", "-c", "sleep 0.5; echo first"},
                                     {"sh", "-c", "sleep 0.5; echo second; exit 1"},
                                     {"sh", "-c", "sleep 0.5; echo third"}},
                                    seconds(10));
  const auto elapsed = Clock::now() - start;
  // One after the other would take 1.5 s at least.
  EXPECT_LT(elapsed, milliseconds(1400));
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0].output, "first\n");
  EXPECT_EQ(results[1].output, "second\n");
  EXPECT_EQ(results[2].output, "third\n");
  EXPECT_TRUE(results[0].succeeded());
  EXPECT_FALSE(results[1].succeeded());
  EXPECT_TRUE(results[2].succeeded());
}

TEST(CapturedCommand, TheLimitKillsTheCommandsWholeProcessGroup) {
  const std::string duration = unique_sleep(30);
  const auto start = Clock::now();
  const CommandResult result =
      run_captured({"sh", "-c", "sleep " + duration + " & sleep " + duration}, milliseconds(200));
  const auto elapsed = Clock::now() - start;
  EXPECT_TRUE(result.timed_out);
  EXPECT_FALSE(result.wait_status.has_value());
  EXPECT_FALSE(result.succeeded());
  EXPECT_LT(elapsed, seconds(5));  // a bound that shows the limit acted, not a performance target
  // The background sleep too: it was in the group. SIGKILL is delivered at once, but give /proc a moment.
  const std::vector<pid_t> left = processes_left_running({"sleep", duration});
  EXPECT_TRUE(left.empty()) << left.size() << " 'sleep " << duration << "' still running";
}

TEST(CapturedCommand, WhatAFinishedCommandLeftInTheBackgroundIsKilled) {
  const std::string duration = unique_sleep(30);
  const CommandResult result = run_captured({"sh", "-c", "sleep " + duration + " & echo done"}, seconds(5));
  EXPECT_TRUE(result.succeeded()) << result.output;
  const std::vector<pid_t> left = processes_left_running({"sleep", duration});
  EXPECT_TRUE(left.empty()) << left.size() << " 'sleep " << duration << "' still running";
}

TEST(CapturedCommand, StartDetachedRunsTheCommandWithoutWaiting) {
  ScratchDir scratch;
  const auto file = scratch.path() / "x.txt";
  const auto start = Clock::now();
  start_detached({"sh", "-c", "sleep 1; echo x > '" + file.string() + "'"});
  EXPECT_LT(Clock::now() - start, milliseconds(900));  // returned before the command could end
  EXPECT_EQ(wait_for_line(file), "x\n");
}

}  // namespace
}  // namespace lazarus::launcher
