#include <sstream>

#include <fmt/format.h>

#include "launcher/process/captured_command.hpp"
#include "launcher/backends/launch_backend.hpp"

namespace lazarus::launcher {
namespace {

class SrunBackend final : public LaunchBackend {
 public:
  explicit SrunBackend(SrunSettings settings) : settings_(std::move(settings)) {}

  std::string name() const override { return "srun"; }

  std::vector<std::string> command_line(const LaunchPlan& plan) const override {
    std::string nodes;
    int per_node = 0;
    for (const NodeGroup& group : plan.groups) {
      nodes += (nodes.empty() ? "" : ",") + group.node;
      per_node = std::max(per_node, group.ranks);
    }
    std::vector<std::string> argv{settings_.srun,
                                  "--job-name=" + plan.name,
                                  fmt::format("--nodes={}", plan.groups.size()),
                                  fmt::format("--ntasks={}", plan.ranks),
                                  fmt::format("--ntasks-per-node={}", per_node),
                                  "--nodelist=" + nodes,
                                  // A step that ran on a node that died is never completed (its
                                  // slurmd cannot report), and keeps its CPUs on the other nodes
                                  // until Slurm marks the node down: the next step must not wait.
                                  "--overlap",
                                  // One task's failure ends the step; the launcher restarts it.
                                  "--kill-on-bad-exit=1"};
    argv.insert(argv.end(), settings_.extra_arguments.begin(), settings_.extra_arguments.end());
    argv.insert(argv.end(), plan.command.begin(), plan.command.end());
    return argv;
  }

  void end_remote_processes(const LaunchPlan& plan) const override {
    // The step's id, from its name: killing srun alone would leave the tasks running on the nodes.
    const auto steps = run_captured({settings_.squeue, "--noheader", "--steps", "--jobs", settings_.job_id,
                                     "--format", "%i %j"},
                                    std::chrono::seconds(5));
    std::istringstream lines(steps.output);
    for (std::string id, name; lines >> id >> name;) {
      // scancel waits for every node of the step, a dead one for Slurm's MessageTimeout: not here.
      if (name == plan.name) start_detached({settings_.scancel, "--signal=KILL", id});
    }
  }

  std::vector<std::string> unreachable(const std::vector<std::string>& nodes) const override {
    std::vector<std::vector<std::string>> probes;
    for (const auto& node : nodes) {
      probes.push_back({settings_.srun, "--job-name=lazarus-probe", "--nodes=1", "--ntasks=1", "--nodelist=" + node,
                        "--overlap", "--mpi=none", "--quiet", "true"});
    }
    const auto results = run_captured_all(probes, settings_.probe_timeout);
    std::vector<std::string> silent;
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      if (!results[i].succeeded()) silent.push_back(nodes[i]);
    }
    return silent;
  }

  bool runs_on_this_host_only(const LaunchPlan& /*plan*/) const override { return false; }

 private:
  SrunSettings settings_;
};

}  // namespace

std::unique_ptr<LaunchBackend> make_srun_backend(SrunSettings settings) {
  return std::make_unique<SrunBackend>(std::move(settings));
}

}  // namespace lazarus::launcher
