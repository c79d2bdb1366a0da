#pragma once
// How an attempt is started: a launch backend turns a plan (which ranks on which nodes, with which
// environment) into a command line. mpirun today; srun comes with the Slurm support.
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace lazarus::launcher {

struct NodeGroup {
  std::string node;
  int ranks = 0;
  std::map<std::string, std::string> environment;  // only for this node's ranks
};

struct LaunchPlan {
  int ranks = 0;
  bool logical_nodes = false;               // all groups run on this host
  std::vector<NodeGroup> groups;            // in rank order
  std::map<std::string, std::string> environment;  // for every rank
  std::map<std::string, std::string> mca;          // Open MPI parameters for the whole job
  std::vector<std::string> command;         // the application and its arguments
};

class LaunchBackend {
 public:
  virtual ~LaunchBackend() = default;
  virtual std::vector<std::string> command_line(const LaunchPlan& plan) const = 0;
};

// Open MPI's mpirun. Logical nodes become one application context per node (`-np K -x
// LAZARUS_NODE=nI ... : ...`) so that each node's ranks get their own identity; real hosts are named
// with --host and --map-by ppr:K:node.
std::unique_ptr<LaunchBackend> make_mpirun_backend(std::string mpirun, std::vector<std::string> extra_arguments);

}  // namespace lazarus::launcher
