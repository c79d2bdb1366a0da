#pragma once
// The restart loop of `lazarus run`: launch an attempt, watch it, and on a failure tear it down,
// replace lost nodes with spares and launch again, until the job finishes or a limit is reached.
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "launcher/supervision/event_log.hpp"
#include "launcher/supervision/failure_detector.hpp"
#include "launcher/supervision/fault_plan.hpp"
#include "launcher/supervision/heartbeat_server.hpp"
#include "launcher/backends/launch_backend.hpp"
#include "launcher/resources/resource_manager.hpp"
#include "launcher/supervision/node_pool.hpp"
#include "launcher/supervision/restart_policy.hpp"
#include "launcher/process/process_tools.hpp"
#include "launcher/cli/run_options.hpp"

namespace lazarus::launcher {

class Supervisor {
 public:
  Supervisor(RunOptions options, std::vector<Fault> faults, NodePool nodes, std::unique_ptr<LaunchBackend> backend,
             std::unique_ptr<ResourceManager> resources);
  // Runs the job to its end; returns the exit status (launcher/cli/exit_codes.hpp).
  int run();

 private:
  struct AttemptOutcome {
    bool finished = false;  // the launch command exited with status 0
    bool stopped = false;   // ... after the application agreed to stop (Session::should_stop())
    std::optional<Failure> failure;
    bool injected = false;  // ... which the launcher caused (--inject)
  };
  AttemptOutcome run_attempt(int attempt);
  double attempt_started_unix_ = 0;  // wall clock at the current attempt's launch
  LaunchPlan plan_for(int attempt, const std::string& shm_dir) const;
  void fire_due_faults(const FailureDetector& detector, int attempt);
  // Reports the job's processes on this machine but the launch command itself (`why` they are
  // lingering), and SIGKILLs them.
  void end_lingering_processes(SessionLeader& job, int attempt, const std::string& why);
  // Whether the launcher caused `failure` of attempt `attempt`, launched at `launched_at`: a fault of
  // --inject fired in this attempt before it was detected, or the rank of a planned crash point died
  // (of SIGKILL, or of a cause not known). Names the injection in its cause.
  bool caused_by_launcher(Failure& failure, const FailureDetector& detector, int attempt,
                          Clock::time_point launched_at);
  // Newest complete version (0: none) and when it was committed: at the global level, in a logical
  // node's folder, or, for real hosts whose folders the launcher cannot read, as the ranks reported it.
  std::pair<std::uint64_t, std::optional<double>> newest_complete_version() const;
  // The global level's newest complete version alone.
  std::pair<std::uint64_t, std::optional<double>> newest_global_version() const;
  // Every logical node's local job folder (empty for real hosts).
  std::map<std::string, std::filesystem::path> local_job_dirs() const;
  int finish(int status, const std::string& outcome);
  // Inside an allocation: asks the resource manager for the time left and sets when the job is to be
  // asked to stop.
  void refresh_time_limit();
  // Whether the job should be asked to stop now (the time limit is near, or SIGUSR1 came).
  std::optional<std::string> stop_reason() const;
  // Sends `stop` to the ranks (again every second until the attempt ends) and reports it once.
  void request_stop(int attempt, const FailureDetector& detector);
  // The hosting nodes that are lost, each with why: a logical node's folder is gone, or a node does
  // not answer the launch backend's probe.
  std::vector<std::pair<std::string, std::string>> lost_nodes() const;

  RunOptions options_;
  std::vector<Fault> faults_;
  NodePool nodes_;
  std::unique_ptr<LaunchBackend> backend_;
  std::unique_ptr<ResourceManager> resources_;
  std::string token_;
  Clock::time_point start_;
  // The listener first: a --listen address it cannot use fails before the events file is created.
  HeartbeatServer server_;
  EventLog events_;
  std::optional<Clock::time_point> last_fault_at_;  // when the launcher last caused a fault
  std::map<pid_t, int> injected_signals_;            // what --inject sent to whom
  std::uint64_t newest_reported_ = 0;                // newest checkpoint version any rank reported
  double newest_reported_unix_ = 0;                  // and when it was first reported (wall clock)
  int attempts_ = 0;
  int failures_ = 0;                                 // every failed attempt
  RestartPolicy policy_;
  double time_lost_seconds_ = 0;
  std::uint64_t first_version_ = 0;
  std::optional<Clock::time_point> stop_due_;           // time limit minus --stop-before (Slurm)
  Clock::time_point time_limit_checked_;
  std::optional<Clock::time_point> stop_requested_at_;  // when the launcher first asked the job to stop
  Clock::time_point stop_sent_at_;
  bool stopping_reported_ = false;
};

}  // namespace lazarus::launcher
