#pragma once
// How an attempt is started and ended: a launch backend turns a plan (which ranks on which nodes,
// with which environment) into a command line, ends what that command started elsewhere, and tells
// which nodes still answer. Open MPI's mpirun, or Slurm's srun inside an allocation.
#include <chrono>
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
  std::string name;                         // unique per attempt: srun's step name
};

class LaunchBackend {
 public:
  virtual ~LaunchBackend() = default;
  virtual std::string name() const = 0;
  virtual std::vector<std::string> command_line(const LaunchPlan& plan) const = 0;
  // Called at teardown, before the launch command's own processes on this host are killed: ends the
  // job's processes that the launcher cannot signal itself (srun: the step's tasks on every node).
  virtual void end_remote_processes(const LaunchPlan& /*plan*/) const {}
  // Of `nodes`, those that no longer answer (srun: a probe step on the node fails or times out).
  // mpirun cannot tell: none.
  virtual std::vector<std::string> unreachable(const std::vector<std::string>& /*nodes*/) const { return {}; }
  // Whether the ranks share this host's /dev/shm (the launcher then gives Open MPI a folder there of
  // its own per attempt, removed at teardown).
  virtual bool runs_on_this_host_only(const LaunchPlan& plan) const { return plan.logical_nodes; }
};

// Open MPI's mpirun. Logical nodes become one application context per node (`-np K -x
// LAZARUS_NODE=nI ... : ...`) so that each node's ranks get their own identity; real hosts are named
// with --host and --map-by ppr:K:node.
std::unique_ptr<LaunchBackend> make_mpirun_backend(std::string mpirun, std::vector<std::string> extra_arguments);

// Slurm's srun, inside an allocation: one job step per attempt on the hosting nodes (spares stay out
// of it), with the plan's environment exported. `scancel` ends a step's tasks at teardown; a node
// answers when a one-task probe step (`true`) runs on it within `probe_timeout`.
struct SrunSettings {
  std::string srun = "srun";
  std::string scancel = "scancel";
  std::string squeue = "squeue";
  std::string job_id;                          // the allocation (SLURM_JOB_ID)
  std::vector<std::string> extra_arguments;    // --srun-args
  std::chrono::milliseconds probe_timeout{10000};
};
std::unique_ptr<LaunchBackend> make_srun_backend(SrunSettings settings);

}  // namespace lazarus::launcher
