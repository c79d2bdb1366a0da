#pragma once
// The batch system a job runs under, as the supervisor sees it: the allocation's job id and the time
// left before its limit. Chosen once by `lazarus run` (Slurm, or none outside an allocation); adding
// another batch system means adding one implementation here.
#include <memory>
#include <optional>
#include <string>

namespace lazarus::launcher {

class ResourceManager {
 public:
  virtual ~ResourceManager() = default;
  // The allocation's job id, for events and messages; empty outside an allocation.
  virtual const std::string& job_id() const = 0;
  // Seconds before the allocation's time limit; nullopt: no limit, or no answer now.
  virtual std::optional<double> seconds_left() const = 0;
};

// Outside any batch system: no job id, no time limit.
std::unique_ptr<ResourceManager> no_resource_manager();
// A Slurm allocation: the time left as `squeue` reports it (%L), asked with a 5 s limit.
std::unique_ptr<ResourceManager> slurm_resource_manager(std::string job_id, std::string squeue = "squeue");

}  // namespace lazarus::launcher
