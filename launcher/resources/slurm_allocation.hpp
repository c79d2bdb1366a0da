#pragma once
// What `lazarus run` learns from Slurm inside an allocation (docs/slurm.md): the job, its nodes and
// task counts from the environment, the time left from squeue, and whether a node still answers.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lazarus::launcher {

struct SlurmAllocation {
  std::string job_id;                   // SLURM_JOB_ID
  std::string nodelist;                 // SLURM_JOB_NODELIST, as given
  std::vector<std::string> nodes;       // expanded, in Slurm's order
  std::optional<int> tasks;             // SLURM_NTASKS
  std::optional<int> tasks_per_node;    // SLURM_NTASKS_PER_NODE, else the first of SLURM_TASKS_PER_NODE
};

// The allocation this process runs in, or nullopt outside one (no SLURM_JOB_ID or no
// SLURM_JOB_NODELIST). Throws std::invalid_argument for a nodelist that does not parse.
std::optional<SlurmAllocation> slurm_allocation_from_environment();

// squeue's "time left" (%L): "UNLIMITED" or "NOT_SET" -> nullopt; "M:SS", "H:MM:SS", "D-HH[:MM[:SS]]"
// -> seconds. Throws std::invalid_argument for anything else.
std::optional<double> parse_slurm_time_left(std::string_view text);

// Seconds left before the job's time limit, asked from squeue (nullopt: no limit, or squeue did not
// answer within `limit`).
std::optional<double> query_time_left(const std::string& squeue, const std::string& job_id,
                                      std::chrono::milliseconds limit);

}  // namespace lazarus::launcher
