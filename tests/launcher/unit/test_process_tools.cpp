#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "launcher/process/process_tools.hpp"
#include "tests/unit/test_scratch_dir.hpp"

namespace lazarus::launcher {
namespace {

using lazarus::testing::ScratchDir;
using std::chrono::milliseconds;

// The leader's wait status, polled until it ends or `limit` passed.
std::optional<int> wait_for_exit(SessionLeader& leader, milliseconds limit = milliseconds(10000)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto status = leader.poll_exit()) return status;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return std::nullopt;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// Waits until `session` has at least `count` live processes; returns them.
std::vector<pid_t> wait_for_session(pid_t session, std::size_t count) {
  std::vector<pid_t> found;
  for (int i = 0; i < 1000; ++i) {
    found = processes_in_session(session);
    if (found.size() >= count) break;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return found;
}

TEST(ProcessTools, SessionLeaderGivesTheChildTheExtraEnvironment) {
  ScratchDir scratch;
  const auto file = scratch.path() / "x.txt";
  SessionLeader leader({"sh", "-c", "echo \"$LAZARUS_TEST_X\" > '" + file.string() + "'"},
                       {{"LAZARUS_TEST_X", "from the launcher"}});
  const auto status = wait_for_exit(leader);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << describe_wait_status(*status);
  EXPECT_EQ(read_file(file), "from the launcher\n");
}

TEST(ProcessTools, ExtraEnvironmentOverridesTheInheritedValue) {
  ScratchDir scratch;
  const auto file = scratch.path() / "env.txt";
  ::setenv("LAZARUS_TEST_OVERRIDDEN", "old", 1);
  ::setenv("LAZARUS_TEST_INHERITED", "kept", 1);
  const std::string script = "echo \"$LAZARUS_TEST_OVERRIDDEN $LAZARUS_TEST_INHERITED\" > '" + file.string() + "'";
  SessionLeader leader({"sh", "-c", script}, {{"LAZARUS_TEST_OVERRIDDEN", "new"}});
  ::unsetenv("LAZARUS_TEST_OVERRIDDEN");  // the child has its copy
  ::unsetenv("LAZARUS_TEST_INHERITED");
  ASSERT_TRUE(wait_for_exit(leader).has_value());
  EXPECT_EQ(read_file(file), "new kept\n");
}

TEST(ProcessTools, SessionLeaderLeadsASessionOfItsOwn) {
  SessionLeader leader({"sleep", "30"}, {});
  const auto found = wait_for_session(leader.pid(), 1);
  EXPECT_EQ(found, std::vector<pid_t>{leader.pid()});
  EXPECT_EQ(::getsid(leader.pid()), leader.pid());
  EXPECT_NE(::getsid(0), leader.pid());
  EXPECT_FALSE(leader.poll_exit().has_value());  // still running
}

TEST(ProcessTools, ProcessesInSessionFindsTheShellAndItsChildren) {
  SessionLeader leader({"sh", "-c", "sleep 30 & sleep 30"}, {});
  const auto found = wait_for_session(leader.pid(), 2);
  ASSERT_GE(found.size(), 2u);
  EXPECT_NE(std::find(found.begin(), found.end(), leader.pid()), found.end());
  for (pid_t pid : found) EXPECT_EQ(::getsid(pid), leader.pid()) << pid;
  EXPECT_EQ(std::find(found.begin(), found.end(), ::getpid()), found.end());
}

TEST(ProcessTools, KillAllLeavesNoProcessOfTheSession) {
  SessionLeader leader({"sh", "-c", "sleep 30 & sleep 30"}, {});
  const auto found = wait_for_session(leader.pid(), 2);
  ASSERT_GE(found.size(), 2u);
  const auto survivors = leader.kill_all(milliseconds(2000));
  EXPECT_TRUE(survivors.empty());
  EXPECT_TRUE(processes_in_session(leader.pid()).empty());
  for (pid_t pid : found) EXPECT_FALSE(process_alive(pid)) << pid;
  const auto status = leader.poll_exit();
  ASSERT_TRUE(status.has_value());
  ASSERT_TRUE(WIFSIGNALED(*status));
  EXPECT_EQ(WTERMSIG(*status), SIGKILL);
  EXPECT_EQ(describe_wait_status(*status), "signal 9 (Killed)");
}

TEST(ProcessTools, KillAllKillsWhatLeftTheSessionAndLostItsParent) {
  ScratchDir scratch;
  const auto pid_file = scratch.path() / "escaped.pid";
  // A daemon as a rank makes one: setsid() in a child whose parent then exits. The launcher is a
  // subreaper, so it inherits the orphan; so is this test.
  become_subreaper();
  SessionLeader leader({"sh", "-c", "setsid -f sh -c 'echo $$ > \"$0\"; exec sleep 30' '" + pid_file.string() +
                                        "'; sleep 30"},
                       {});
  pid_t escaped = 0;
  for (int i = 0; i < 1000 && escaped == 0; ++i) {
    std::ifstream in(pid_file);
    if (!(in >> escaped)) escaped = 0;
    std::this_thread::sleep_for(milliseconds(5));
  }
  ASSERT_GT(escaped, 0);
  ASSERT_TRUE(process_alive(escaped));
  ASSERT_NE(::getsid(escaped), leader.pid());
  const auto found = leader.job_processes();
  EXPECT_NE(std::find(found.begin(), found.end(), escaped), found.end()) << "the escaped daemon is not found";
  const auto survivors = leader.kill_all(milliseconds(2000));
  EXPECT_TRUE(survivors.empty());
  EXPECT_FALSE(process_alive(escaped));
}

TEST(ProcessTools, EnvironmentVariableReadsWhatTheProcessWasStartedWith) {
  SessionLeader leader({"sleep", "30"}, {{"LAZARUS_TEST_SECRET", "a=b c"}});
  for (int i = 0; i < 1000 && command_name(leader.pid()) != "sleep"; ++i) std::this_thread::sleep_for(milliseconds(5));
  EXPECT_EQ(environment_variable(leader.pid(), "LAZARUS_TEST_SECRET").value_or("none"), "a=b c");
  EXPECT_FALSE(environment_variable(leader.pid(), "LAZARUS_TEST_SECRE").has_value());
  EXPECT_FALSE(environment_variable(leader.pid(), "LAZARUS_TEST_ABSENT").has_value());
  EXPECT_EQ(command_name(leader.pid()), "sleep");
  leader.kill_all(milliseconds(2000));
  EXPECT_FALSE(environment_variable(leader.pid(), "LAZARUS_TEST_SECRET").has_value());
}

TEST(ProcessTools, DestructorKillsWhatIsLeft) {
  pid_t pid = 0;
  {
    SessionLeader leader({"sh", "-c", "sleep 30 & sleep 30"}, {});
    pid = leader.pid();
    ASSERT_GE(wait_for_session(pid, 2).size(), 2u);
  }
  EXPECT_TRUE(processes_in_session(pid).empty());
  EXPECT_FALSE(process_alive(pid));
}

TEST(ProcessTools, PollExitReportsTheExitCode) {
  SessionLeader leader({"sh", "-c", "exit 3"}, {});
  const auto status = wait_for_exit(leader);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(describe_wait_status(*status), "exit code 3");
  EXPECT_EQ(leader.poll_exit(), status);  // kept once collected
}

TEST(ProcessTools, ProgramThatCannotBeExecutedExitsWith127) {
  SessionLeader leader({"/nonexistent/lazarus-test-program"}, {});
  const auto status = wait_for_exit(leader);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(describe_wait_status(*status), "exit code 127");
}

TEST(ProcessTools, NothingToRunThrows) { EXPECT_THROW(SessionLeader({}, {}), std::runtime_error); }

TEST(ProcessTools, ZombieIsNotAliveAndKeepsItsWaitStatus) {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(5);
  ASSERT_GT(child, 0);
  for (int i = 0; i < 1000 && process_alive(child); ++i) std::this_thread::sleep_for(milliseconds(2));
  EXPECT_FALSE(process_alive(child));
  const auto status = zombie_wait_status(child);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(describe_wait_status(*status), "exit code 5");
  int reaped = 0;
  ASSERT_EQ(::waitpid(child, &reaped, 0), child);
  EXPECT_EQ(*status, reaped);
  EXPECT_FALSE(zombie_wait_status(child).has_value());  // gone
}

TEST(ProcessTools, LiveProcessIsAliveWithoutAWaitStatus) {
  EXPECT_TRUE(process_alive(::getpid()));
  EXPECT_FALSE(zombie_wait_status(::getpid()).has_value());
}

TEST(ProcessTools, DescribesExitCodesAndSignals) {
  EXPECT_EQ(describe_wait_status(0), "exit code 0");
  EXPECT_EQ(describe_wait_status(3 << 8), "exit code 3");
  EXPECT_EQ(describe_wait_status(255 << 8), "exit code 255");
  EXPECT_EQ(describe_wait_status(SIGKILL), "signal 9 (Killed)");
  EXPECT_EQ(describe_wait_status(SIGSEGV), "signal 11 (Segmentation fault)");
  EXPECT_EQ(describe_wait_status(SIGSEGV | 0x80), "signal 11 (Segmentation fault)");  // with a core dump
}

}  // namespace
}  // namespace lazarus::launcher
