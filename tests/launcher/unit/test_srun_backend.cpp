// The srun backend: the step's command line (srun, its options for the plan's nodes and ranks, the
// --srun-args, the application last), which nodes fail a probe step (fails, or runs past the probe
// timeout), and how a step's tasks are ended (its id from squeue by the step's name, then scancel).
// srun, squeue and scancel are fake scripts here.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "launcher/backends/launch_backend.hpp"
#include "tests/launcher/unit/fake_commands.hpp"
#include "tests/unit/test_scratch_dir.hpp"

namespace lazarus::launcher {
namespace {

using lazarus::testing::processes_left_running;
using lazarus::testing::read_text;
using lazarus::testing::ScratchDir;
using lazarus::testing::wait_for_line;
using lazarus::testing::write_script;
using Argv = std::vector<std::string>;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

LaunchPlan plan_on(std::vector<NodeGroup> groups) {
  LaunchPlan plan;
  plan.groups = std::move(groups);
  for (const NodeGroup& group : plan.groups) plan.ranks += group.ranks;
  plan.environment = {{"LAZARUS_JOB", "heat"}};
  plan.command = {"./app", "--steps", "10"};
  plan.name = "lazarus-heat-1";
  return plan;
}

// Checks `argv` is `srun`, then exactly `options` (in any order), then `extra`, then `command`.
void expect_srun_argv(const Argv& argv, const std::string& srun, Argv options, const Argv& extra,
                      const Argv& command) {
  ASSERT_GE(argv.size(), 1 + options.size() + extra.size() + command.size()) << ::testing::PrintToString(argv);
  EXPECT_EQ(argv.front(), srun);
  const auto command_begin = argv.end() - static_cast<std::ptrdiff_t>(command.size());
  const auto extra_begin = command_begin - static_cast<std::ptrdiff_t>(extra.size());
  EXPECT_EQ(Argv(command_begin, argv.end()), command) << ::testing::PrintToString(argv);
  EXPECT_EQ(Argv(extra_begin, command_begin), extra) << ::testing::PrintToString(argv);
  Argv given(argv.begin() + 1, extra_begin);
  std::sort(given.begin(), given.end());
  std::sort(options.begin(), options.end());
  EXPECT_EQ(given, options) << ::testing::PrintToString(argv);
}

TEST(SrunBackend, NamesItself) {
  SrunSettings settings;
  EXPECT_EQ(make_srun_backend(settings)->name(), "srun");
}

TEST(SrunBackend, OneStepOnTheGroupsNodesInPlanOrder) {
  SrunSettings settings;
  settings.srun = "/opt/slurm/bin/srun";
  settings.extra_arguments = {"--mpi=pmix", "--cpu-bind=none"};
  const auto backend = make_srun_backend(settings);
  // Placement order, not sorted: n3 hosts ranks 0-1.
  const LaunchPlan plan = plan_on({{"n3", 2, {{"LAZARUS_NODE", "n3"}}}, {"n1", 2, {{"LAZARUS_NODE", "n1"}}}});
  expect_srun_argv(backend->command_line(plan), "/opt/slurm/bin/srun",
                   {"--job-name=lazarus-heat-1", "--nodes=2", "--ntasks=4", "--ntasks-per-node=2",
                    "--nodelist=n3,n1", "--overlap", "--kill-on-bad-exit=1"},
                   {"--mpi=pmix", "--cpu-bind=none"}, {"./app", "--steps", "10"});
}

TEST(SrunBackend, AnUnevenLastNodeKeepsTheLargestCountPerNode) {
  SrunSettings settings;
  const auto backend = make_srun_backend(settings);
  LaunchPlan plan = plan_on({{"c7", 2, {}}, {"c2", 2, {}}, {"c5", 1, {}}});
  plan.name = "lazarus-job-3";
  plan.command = {"./solver"};
  expect_srun_argv(backend->command_line(plan), "srun",
                   {"--job-name=lazarus-job-3", "--nodes=3", "--ntasks=5", "--ntasks-per-node=2",
                    "--nodelist=c7,c2,c5", "--overlap", "--kill-on-bad-exit=1"},
                   {}, {"./solver"});
}

TEST(SrunBackend, NeverRunsOnThisHostOnly) {
  const auto backend = make_srun_backend(SrunSettings{});
  LaunchPlan plan = plan_on({{"n1", 2, {}}});
  EXPECT_FALSE(backend->runs_on_this_host_only(plan));
  plan.logical_nodes = true;  // srun's tasks run on the allocation's nodes whatever the plan says
  EXPECT_FALSE(backend->runs_on_this_host_only(plan));
}

TEST(SrunBackend, NodesWhoseProbeFailsOrOutlivesTheTimeoutAreUnreachable) {
  ScratchDir scratch;
  const std::string slow_sleep = "30.2718";
  SrunSettings settings;
  settings.srun = write_script(scratch.path() / "srun",
                               "for argument in \"$@\"; do\n"
                               "  case \"$argument\" in\n"
                               "    --nodelist=good*) exit 0 ;;\n"
                               "    --nodelist=slow) sleep " + slow_sleep + "; exit 0 ;;\n"
                               "    --nodelist=*) exit 1 ;;\n"
                               "  esac\n"
                               "done\n"
                               "exit 2\n")
                      .string();
  settings.probe_timeout = milliseconds(1500);  // a shell script that exits at once, even on a loaded machine
  const auto backend = make_srun_backend(settings);
  const auto start = Clock::now();
  const auto silent = backend->unreachable({"good1", "bad", "slow", "good2"});
  const auto elapsed = Clock::now() - start;
  EXPECT_EQ(silent, (std::vector<std::string>{"bad", "slow"}));
  EXPECT_LT(elapsed, std::chrono::seconds(10));  // the timeout ended the slow probe; not a performance target
  EXPECT_TRUE(processes_left_running({"sleep", slow_sleep}).empty()) << "the slow probe's sleep still runs";
}

TEST(SrunBackend, NoNodesNoneUnreachable) {
  SrunSettings settings;
  settings.srun = "/nonexistent/srun";  // not run at all
  EXPECT_TRUE(make_srun_backend(settings)->unreachable({}).empty());
}

TEST(SrunBackend, EndRemoteProcessesCancelsOnlyTheStepWithThePlansName) {
  ScratchDir scratch;
  const auto squeue_log = scratch.path() / "squeue.log";
  const auto scancel_log = scratch.path() / "scancel.log";
  const LaunchPlan plan = plan_on({{"n1", 2, {}}, {"n2", 2, {}}});
  SrunSettings settings;
  settings.job_id = "12";
  settings.squeue = write_script(scratch.path() / "squeue",
                                 "echo \"$*\" >> '" + squeue_log.string() + "'\n"
                                 "printf '12.0 " + plan.name + "\\n12.1 other\\n12.batch batch\\n'\n")
                        .string();
  settings.scancel = write_script(scratch.path() / "scancel", "echo \"$*\" >> '" + scancel_log.string() + "'\n")
                         .string();
  make_srun_backend(settings)->end_remote_processes(plan);
  // scancel is started detached: wait for its line, then a little longer for any other invocation.
  EXPECT_EQ(wait_for_line(scancel_log), "--signal=KILL 12.0\n");
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_EQ(read_text(scancel_log), "--signal=KILL 12.0\n");
  // squeue was asked about this allocation's steps.
  const std::string asked = read_text(squeue_log);
  EXPECT_NE(asked.find("--steps"), std::string::npos) << asked;
  EXPECT_NE(asked.find("--jobs 12"), std::string::npos) << asked;
}

TEST(SrunBackend, EndRemoteProcessesCancelsNothingWhenNoStepHasThePlansName) {
  ScratchDir scratch;
  const auto scancel_log = scratch.path() / "scancel.log";
  SrunSettings settings;
  settings.job_id = "12";
  settings.squeue = write_script(scratch.path() / "squeue", "printf '12.1 other\\n12.batch batch\\n'\n").string();
  settings.scancel = write_script(scratch.path() / "scancel", "echo \"$*\" >> '" + scancel_log.string() + "'\n")
                         .string();
  make_srun_backend(settings)->end_remote_processes(plan_on({{"n1", 1, {}}}));
  std::this_thread::sleep_for(milliseconds(500));
  EXPECT_EQ(read_text(scancel_log), "");
}

}  // namespace
}  // namespace lazarus::launcher
