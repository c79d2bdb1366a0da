#include "launcher/resources/resource_manager.hpp"

#include <chrono>

#include "launcher/resources/slurm_allocation.hpp"

namespace lazarus::launcher {
namespace {

class NoResourceManager final : public ResourceManager {
 public:
  const std::string& job_id() const override { return none_; }
  std::optional<double> seconds_left() const override { return std::nullopt; }

 private:
  std::string none_;
};

class SlurmResourceManager final : public ResourceManager {
 public:
  SlurmResourceManager(std::string job_id, std::string squeue) : job_id_(std::move(job_id)), squeue_(std::move(squeue)) {}
  const std::string& job_id() const override { return job_id_; }
  std::optional<double> seconds_left() const override {
    return query_time_left(squeue_, job_id_, std::chrono::seconds(5));
  }

 private:
  std::string job_id_;
  std::string squeue_;
};

}  // namespace

std::unique_ptr<ResourceManager> no_resource_manager() { return std::make_unique<NoResourceManager>(); }

std::unique_ptr<ResourceManager> slurm_resource_manager(std::string job_id, std::string squeue) {
  return std::make_unique<SlurmResourceManager>(std::move(job_id), std::move(squeue));
}

}  // namespace lazarus::launcher
