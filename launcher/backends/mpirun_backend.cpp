#include <fmt/format.h>

#include "launcher/backends/launch_backend.hpp"

namespace lazarus::launcher {
namespace {

class MpirunBackend final : public LaunchBackend {
 public:
  MpirunBackend(std::string mpirun, std::vector<std::string> extra) : mpirun_(std::move(mpirun)), extra_(std::move(extra)) {}

  std::string name() const override { return "mpirun"; }

  std::vector<std::string> command_line(const LaunchPlan& plan) const override {
    std::vector<std::string> argv{mpirun_};
    // Logical nodes share this host: more ranks than cores is expected there.
    if (plan.logical_nodes) argv.push_back("--oversubscribe");
    // Global options must come before the first application context: with several contexts, an
    // OMPI_MCA_ variable in the environment reaches only the first context's ranks.
    for (const auto& [name, value] : plan.mca) argv.insert(argv.end(), {"--mca", name, value});
    argv.insert(argv.end(), extra_.begin(), extra_.end());
    for (const auto& [name, value] : plan.environment) {
      argv.insert(argv.end(), {"-x", name});  // mpirun forwards its own value of `name`
    }
    if (plan.logical_nodes) {
      for (std::size_t i = 0; i < plan.groups.size(); ++i) {
        const NodeGroup& group = plan.groups[i];
        if (i > 0) argv.push_back(":");
        argv.insert(argv.end(), {"-np", std::to_string(group.ranks)});
        for (const auto& [name, value] : group.environment) argv.insert(argv.end(), {"-x", name + "=" + value});
        argv.insert(argv.end(), plan.command.begin(), plan.command.end());
      }
      return argv;
    }
    std::string hosts;
    int per_node = 0;
    for (const NodeGroup& group : plan.groups) {
      hosts += (hosts.empty() ? "" : ",") + fmt::format("{}:{}", group.node, group.ranks);
      per_node = std::max(per_node, group.ranks);
    }
    argv.insert(argv.end(), {"-np", std::to_string(plan.ranks), "--host", hosts, "--map-by",
                             fmt::format("ppr:{}:node", per_node)});
    argv.insert(argv.end(), plan.command.begin(), plan.command.end());
    return argv;
  }

 private:
  std::string mpirun_;
  std::vector<std::string> extra_;
};

}  // namespace

std::unique_ptr<LaunchBackend> make_mpirun_backend(std::string mpirun, std::vector<std::string> extra_arguments) {
  return std::make_unique<MpirunBackend>(std::move(mpirun), std::move(extra_arguments));
}

}  // namespace lazarus::launcher
