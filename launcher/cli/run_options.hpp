#pragma once
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace lazarus::launcher {

// Everything `lazarus run` was asked to do (docs/launcher.md, "lazarus run").
struct RunOptions {
  int ranks = 0;                         // -n/--np
  int ranks_per_node = 1;                // --ranks-per-node
  std::vector<std::string> hosts;        // --nodes LIST / --hostfile FILE (real hosts)
  std::string hostfile;
  int local_nodes = 0;                   // --local-nodes M: logical nodes n1..nM on this host
  int spares = 0;                        // --spares S: the last S nodes are held back
  int max_restarts = 10;                 // --max-restarts R
  std::filesystem::path dir;             // --dir (LAZARUS_DIR for the ranks)
  std::string job;                       // --job (LAZARUS_JOB for the ranks)
  std::filesystem::path local_root;      // --local-root: node-local folders (default <dir>/<job>/nodes)
  double heartbeat_seconds = 0.25;       // --heartbeat
  double hang_timeout_seconds = 30.0;    // --hang-timeout
  std::string mpirun = "mpirun";         // --mpirun
  std::string mpirun_args;               // --mpirun-args "..."
  std::filesystem::path events_file;     // --events (default <dir>/<job>/events.jsonl)
  std::string listen_address;            // --listen: heartbeat listener's IPv4 address
  std::string advertised_address;        // what the ranks connect to
  std::vector<std::string> command;      // after --
  // Slurm (docs/slurm.md)
  std::string launcher;                  // --launcher: "srun" or "mpirun" (default: srun inside Slurm)
  std::string srun = "srun";             // --srun
  std::string srun_args;                 // --srun-args "..."
  std::string slurm_job_id;              // the allocation's SLURM_JOB_ID, empty outside Slurm
  std::string node_local_dir;            // LAZARUS_LOCAL_DIR for every rank (with %N), Slurm only
  double stop_before_seconds = 120.0;    // --stop-before: ask the job to stop this long before the time limit
  double probe_timeout_seconds = 10.0;   // --probe-timeout: a node whose probe step takes longer is lost
};

}  // namespace lazarus::launcher
