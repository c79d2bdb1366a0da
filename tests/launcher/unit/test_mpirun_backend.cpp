#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "launcher/backends/launch_backend.hpp"

namespace lazarus::launcher {
namespace {

using Argv = std::vector<std::string>;

LaunchPlan logical_plan() {
  LaunchPlan plan;
  plan.ranks = 4;
  plan.logical_nodes = true;
  plan.environment = {{"LAZARUS_JOB", "heat"}, {"LAZARUS_ATTEMPT", "1"}};
  plan.groups = {{"n1", 2, {{"LAZARUS_NODE", "n1"}, {"LAZARUS_LOCAL_DIR", "/local/n1"}}},
                 {"n2", 2, {{"LAZARUS_NODE", "n2"}, {"LAZARUS_LOCAL_DIR", "/local/n2"}}}};
  plan.command = {"./app", "--steps", "10"};
  return plan;
}

TEST(MpirunBackend, LogicalNodesGetOneApplicationContextEach) {
  const auto backend = make_mpirun_backend("/usr/bin/mpirun", {"--bind-to", "none"});
  // Every rank's variables are forwarded by name (sorted), each node's are given with their values.
  const Argv expected{"/usr/bin/mpirun", "--oversubscribe", "--bind-to", "none",
                      "-x", "LAZARUS_ATTEMPT", "-x", "LAZARUS_JOB",
                      "-np", "2", "-x", "LAZARUS_LOCAL_DIR=/local/n1", "-x", "LAZARUS_NODE=n1",
                      "./app", "--steps", "10",
                      ":",
                      "-np", "2", "-x", "LAZARUS_LOCAL_DIR=/local/n2", "-x", "LAZARUS_NODE=n2",
                      "./app", "--steps", "10"};
  EXPECT_EQ(backend->command_line(logical_plan()), expected);
}

TEST(MpirunBackend, LogicalNodesWithAnUnevenLastNode) {
  const auto backend = make_mpirun_backend("mpirun", {});
  LaunchPlan plan = logical_plan();
  plan.ranks = 3;
  plan.environment.clear();
  plan.groups[1].ranks = 1;
  plan.groups[1].environment = {{"LAZARUS_NODE", "n2"}};
  plan.groups[0].environment = {{"LAZARUS_NODE", "n1"}};
  const Argv expected{"mpirun", "--oversubscribe", "-np", "2", "-x", "LAZARUS_NODE=n1", "./app", "--steps", "10",
                      ":", "-np", "1", "-x", "LAZARUS_NODE=n2", "./app", "--steps", "10"};
  EXPECT_EQ(backend->command_line(plan), expected);
}

TEST(MpirunBackend, RealHostsAreNamedWithHostAndMapBy) {
  const auto backend = make_mpirun_backend("mpirun", {"--mca", "btl", "self,tcp"});
  LaunchPlan plan;
  plan.ranks = 4;
  plan.logical_nodes = false;
  plan.environment = {{"LAZARUS_JOB", "heat"}};
  plan.groups = {{"h1", 2, {}}, {"h2", 2, {}}};
  plan.command = {"./app", "x"};
  const Argv expected{"mpirun", "--mca", "btl", "self,tcp", "-x", "LAZARUS_JOB",
                      "-np", "4", "--host", "h1:2,h2:2", "--map-by", "ppr:2:node", "./app", "x"};
  const Argv argv = backend->command_line(plan);
  EXPECT_EQ(argv, expected);
  EXPECT_EQ(std::count(argv.begin(), argv.end(), ":"), 0);
  EXPECT_EQ(std::count(argv.begin(), argv.end(), "--oversubscribe"), 0);
}

TEST(MpirunBackend, RealHostsWithAPartlyFilledLastHost) {
  const auto backend = make_mpirun_backend("mpirun", {});
  LaunchPlan plan;
  plan.ranks = 5;
  plan.groups = {{"h1", 2, {}}, {"h2", 2, {}}, {"h3", 1, {}}};
  plan.command = {"./app"};
  const Argv expected{"mpirun", "-np", "5", "--host", "h1:2,h2:2,h3:1", "--map-by", "ppr:2:node", "./app"};
  EXPECT_EQ(backend->command_line(plan), expected);
}

}  // namespace
}  // namespace lazarus::launcher
