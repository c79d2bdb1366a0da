// What the launcher reads from Slurm: squeue's time left in each of its forms (and what is not one),
// the allocation from SLURM_* variables (expanded nodelist, task counts, none outside a job), and the
// time left asked from a fake squeue (an answer, garbage, a failure, no answer in time).
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "launcher/resources/resource_manager.hpp"
#include "launcher/resources/slurm_allocation.hpp"
#include "tests/launcher/unit/fake_commands.hpp"
#include "tests/scoped_environment.hpp"
#include "tests/unit/test_scratch_dir.hpp"

namespace lazarus::launcher {
namespace {

using lazarus::testing::ScopedVariable;
using lazarus::testing::ScratchDir;
using lazarus::testing::write_script;
using std::chrono::milliseconds;

TEST(SlurmTimeLeft, NoLimitIsNullopt) {
  EXPECT_EQ(parse_slurm_time_left("UNLIMITED"), std::nullopt);
  EXPECT_EQ(parse_slurm_time_left("NOT_SET"), std::nullopt);
}

TEST(SlurmTimeLeft, MinutesAndSeconds) { EXPECT_EQ(parse_slurm_time_left("5:07"), 307.0); }

TEST(SlurmTimeLeft, HoursMinutesAndSeconds) { EXPECT_EQ(parse_slurm_time_left("1:02:03"), 3723.0); }

TEST(SlurmTimeLeft, DaysWithHoursAndOptionallyMinutesAndSeconds) {
  EXPECT_EQ(parse_slurm_time_left("2-03:04:05"), 2 * 86400.0 + 3 * 3600.0 + 4 * 60.0 + 5.0);
  EXPECT_EQ(parse_slurm_time_left("1-02"), 93600.0);
  EXPECT_EQ(parse_slurm_time_left("1-02:03"), 93780.0);
  EXPECT_EQ(parse_slurm_time_left("0-05"), 18000.0);  // a day count of 0 is still the "D-HH" form
}

TEST(SlurmTimeLeft, AcceptsSqueuesTrailingNewline) {
  EXPECT_EQ(parse_slurm_time_left("5:07\n"), 307.0);
  EXPECT_EQ(parse_slurm_time_left("UNLIMITED\n"), std::nullopt);
}

TEST(SlurmTimeLeft, ThrowsForWhatIsNotATime) {
  for (const char* text : {"abc", "", "1:2:3:4", "-5:00", "5", "5:", ":07", "1-", "x-02:00:00", "5:07x"}) {
    EXPECT_THROW(parse_slurm_time_left(text), std::invalid_argument) << "'" << text << "'";
  }
}

// Every variable the allocation is read from, set (or unset) for one test.
struct SlurmEnvironment {
  ScopedVariable job_id;
  ScopedVariable nodelist;
  ScopedVariable tasks;
  ScopedVariable ntasks_per_node;
  ScopedVariable tasks_per_node;
};

TEST(SlurmAllocation, ReadsTheJobItsNodesAndTaskCounts) {
  const SlurmEnvironment environment{{"SLURM_JOB_ID", "42"},
                                     {"SLURM_JOB_NODELIST", "n[1-3],gpu01"},
                                     {"SLURM_NTASKS", "6"},
                                     {"SLURM_NTASKS_PER_NODE", "2"},
                                     {"SLURM_TASKS_PER_NODE", "9(x3)"}};  // SLURM_NTASKS_PER_NODE comes first
  const auto allocation = slurm_allocation_from_environment();
  ASSERT_TRUE(allocation.has_value());
  EXPECT_EQ(allocation->job_id, "42");
  EXPECT_EQ(allocation->nodelist, "n[1-3],gpu01");
  EXPECT_EQ(allocation->nodes, (std::vector<std::string>{"n1", "n2", "n3", "gpu01"}));
  EXPECT_EQ(allocation->tasks, 6);
  EXPECT_EQ(allocation->tasks_per_node, 2);
}

TEST(SlurmAllocation, TasksPerNodeFallsBackToTheFirstOfSlurmTasksPerNode) {
  const SlurmEnvironment environment{{"SLURM_JOB_ID", "42"},
                                     {"SLURM_JOB_NODELIST", "n[1-3]"},
                                     {"SLURM_NTASKS", "9"},
                                     {"SLURM_NTASKS_PER_NODE", std::nullopt},
                                     {"SLURM_TASKS_PER_NODE", "4(x2),1"}};
  const auto allocation = slurm_allocation_from_environment();
  ASSERT_TRUE(allocation.has_value());
  EXPECT_EQ(allocation->tasks_per_node, 4);
}

TEST(SlurmAllocation, TaskCountsAreEmptyWhenSlurmDoesNotGiveThem) {
  const SlurmEnvironment environment{{"SLURM_JOB_ID", "42"},
                                     {"SLURM_JOB_NODELIST", "n1"},
                                     {"SLURM_NTASKS", std::nullopt},
                                     {"SLURM_NTASKS_PER_NODE", std::nullopt},
                                     {"SLURM_TASKS_PER_NODE", std::nullopt}};
  const auto allocation = slurm_allocation_from_environment();
  ASSERT_TRUE(allocation.has_value());
  EXPECT_EQ(allocation->nodes, (std::vector<std::string>{"n1"}));
  EXPECT_EQ(allocation->tasks, std::nullopt);
  EXPECT_EQ(allocation->tasks_per_node, std::nullopt);
}

TEST(SlurmAllocation, NoneOutsideAJob) {
  {
    const SlurmEnvironment environment{{"SLURM_JOB_ID", std::nullopt},
                                       {"SLURM_JOB_NODELIST", "n[1-3]"},
                                       {"SLURM_NTASKS", "6"},
                                       {"SLURM_NTASKS_PER_NODE", "2"},
                                       {"SLURM_TASKS_PER_NODE", "2(x3)"}};
    EXPECT_EQ(slurm_allocation_from_environment(), std::nullopt);
  }
  {
    const SlurmEnvironment environment{{"SLURM_JOB_ID", "42"},
                                       {"SLURM_JOB_NODELIST", std::nullopt},
                                       {"SLURM_NTASKS", "6"},
                                       {"SLURM_NTASKS_PER_NODE", "2"},
                                       {"SLURM_TASKS_PER_NODE", "2(x3)"}};
    EXPECT_EQ(slurm_allocation_from_environment(), std::nullopt);
  }
}

TEST(SlurmAllocation, ThrowsForANodelistThatDoesNotParse) {
  const SlurmEnvironment environment{{"SLURM_JOB_ID", "42"},
                                     {"SLURM_JOB_NODELIST", "n[1-"},
                                     {"SLURM_NTASKS", "6"},
                                     {"SLURM_NTASKS_PER_NODE", "2"},
                                     {"SLURM_TASKS_PER_NODE", "2(x3)"}};
  EXPECT_THROW(slurm_allocation_from_environment(), std::invalid_argument);
}

// A fake squeue that runs `body` when asked for job 42's time left (%L), and fails otherwise.
std::string fake_squeue(const ScratchDir& scratch, const std::string& body) {
  return write_script(scratch.path() / "squeue",
                      "case \"$*\" in\n"
                      "  *'--jobs 42'*'%L'*) ;;\n"
                      "  *) echo \"unexpected arguments: $*\" >&2; exit 9 ;;\n"
                      "esac\n" +
                          body)
      .string();
}

TEST(SlurmTimeLeftQuery, ReadsSqueuesAnswer) {
  ScratchDir scratch;
  EXPECT_EQ(query_time_left(fake_squeue(scratch, "echo 1:00\n"), "42", milliseconds(5000)), 60.0);
}

TEST(SlurmTimeLeftQuery, AsksAboutTheGivenJob) {
  ScratchDir scratch;
  EXPECT_EQ(query_time_left(fake_squeue(scratch, "echo 1:00\n"), "43", milliseconds(5000)), std::nullopt);
}

TEST(SlurmTimeLeftQuery, NulloptForGarbageAFailureOrNoAnswerInTime) {
  ScratchDir scratch;
  const auto garbage = fake_squeue(scratch, "echo 'slurm_load_jobs error: Invalid job id specified'\n");
  EXPECT_EQ(query_time_left(garbage, "42", milliseconds(5000)), std::nullopt);
  const auto failing = fake_squeue(scratch, "echo 1:00\nexit 1\n");  // an answer, but squeue failed
  EXPECT_EQ(query_time_left(failing, "42", milliseconds(5000)), std::nullopt);
  const auto hanging = fake_squeue(scratch, "sleep 30.3141\necho 1:00\n");
  EXPECT_EQ(query_time_left(hanging, "42", milliseconds(200)), std::nullopt);
  EXPECT_EQ(query_time_left("/nonexistent/squeue", "42", milliseconds(5000)), std::nullopt);
}

TEST(ResourceManager, SlurmAsksSqueueAboutItsJob) {
  ScratchDir scratch;
  const auto slurm = slurm_resource_manager("42", fake_squeue(scratch, "echo 2:00\n"));
  EXPECT_EQ(slurm->job_id(), "42");
  EXPECT_EQ(slurm->seconds_left(), 120.0);
  EXPECT_EQ(slurm_resource_manager("43", fake_squeue(scratch, "echo 2:00\n"))->seconds_left(), std::nullopt);
}

TEST(ResourceManager, OutsideAnAllocationThereIsNoJobAndNoLimit) {
  const auto none = no_resource_manager();
  EXPECT_EQ(none->job_id(), "");
  EXPECT_EQ(none->seconds_left(), std::nullopt);
}

}  // namespace
}  // namespace lazarus::launcher
