#include "bench/bench_multilevel.hpp"

#include <cstdlib>
#include <stdexcept>

#include <fmt/format.h>

#include "runtime/format/manifest.hpp"
#include "runtime/format/version_catalog.hpp"

namespace fs = std::filesystem;

namespace lazarus::bench {
namespace {

constexpr const char* kJob = "bench";

// LAZARUS_NODE is read when a Session is constructed: set it for that, then put back what was there.
Session session_on_node(MPI_Comm comm, const Options& options, const std::string& node) {
  const char* previous = std::getenv("LAZARUS_NODE");
  const std::optional<std::string> saved = previous ? std::optional<std::string>(previous) : std::nullopt;
  ::setenv("LAZARUS_NODE", node.c_str(), 1);
  Session session(comm, options);
  if (saved) ::setenv("LAZARUS_NODE", saved->c_str(), 1);
  else ::unsetenv("LAZARUS_NODE");
  return session;
}

}  // namespace

NodeLossMethod::NodeLossMethod(MPI_Comm comm, const Options& base, fs::path work_dir, Redundancy redundancy,
                               RankData& data, std::vector<double>& restored)
    : comm_(comm), base_(base), work_dir_(std::move(work_dir)), data_(data), restored_(restored) {
  MPI_Comm_rank(comm_, &rank_);
  base_.job = kJob;
  base_.keep = 1;
  base_.redundancy = redundancy;
  base_.xor_group = 2;   // with 2 ranks: one group of the two nodes
  base_.flush_every = 0;  // nothing goes to the global level during the run, only at the Session's end
  // The global level of this method. Only the writer Session's end copies a version there (untimed),
  // and that copy is deleted before the restore; a folder next to the node-local ones keeps that
  // untimed copy off the disk that the other methods measure.
  base_.dir = work_dir_ / "global";
}

std::string NodeLossMethod::node_name(int rank) { return fmt::format("node{}", rank); }

Options NodeLossMethod::options_for(const fs::path& local_dir) const {
  Options options = base_;
  options.local_dir = local_dir;
  return options;
}

void NodeLossMethod::prepare() {
  session_.reset();
  MPI_Barrier(comm_);
  if (rank_ == 0) {
    fs::remove_all(work_dir_);
    fs::create_directories(work_dir_);
  }
  MPI_Barrier(comm_);
  session_.emplace(session_on_node(comm_, options_for(work_dir_ / node_name(rank_)), node_name(rank_)));
  session_->protect("u", data_.values, data_.shape);
}

void NodeLossMethod::checkpoint() { version_ = session_->checkpoint(); }

std::vector<fs::path> NodeLossMethod::files() const {
  std::vector<fs::path> found;
  const fs::path version_dir = detail::version_directory(work_dir_ / node_name(rank_) / kJob, version_);
  for (const auto& entry : fs::directory_iterator(version_dir)) {
    if (entry.is_regular_file()) found.push_back(entry.path());
  }
  return found;
}

std::uint64_t NodeLossMethod::bytes_on_nodes() const {
  std::uint64_t mine = 0;
  for (const auto& file : files()) mine += fs::file_size(file);
  std::uint64_t total = 0;
  MPI_Allreduce(&mine, &total, 1, MPI_UINT64_T, MPI_SUM, comm_);
  return total;
}

void NodeLossMethod::lose_node() {
  // The writer's end: flush_every = 0, so its destructor copies the newest version to the global level.
  session_.reset();
  MPI_Barrier(comm_);
  if (rank_ == 0) {
    // No global copy may remain, or the restore could read it instead of rebuilding node 0's file.
    fs::remove_all(base_.dir / kJob);
    if (fs::exists(base_.dir / kJob)) throw std::runtime_error("the global copy could not be deleted");
    // Node 0 is lost with everything in its node-local folder.
    fs::remove_all(work_dir_ / node_name(0));
    if (fs::exists(work_dir_ / node_name(0))) throw std::runtime_error("node 0's folder could not be deleted");
  }
  MPI_Barrier(comm_);
  // The restarted job: rank 0 on a spare node with an empty local folder, the other ranks where they were.
  const std::string node = rank_ == 0 ? std::string(kSpareNode) : node_name(rank_);
  session_.emplace(session_on_node(comm_, options_for(work_dir_ / node), node));
  session_->protect("u", restored_, data_.shape);
}

void NodeLossMethod::restore() {
  const std::optional<std::uint64_t> restored = session_->restore();
  if (restored != version_) {
    throw std::runtime_error(fmt::format("restore() returned version {} instead of {}",
                                         restored ? fmt::to_string(*restored) : "none", version_));
  }
}

void NodeLossMethod::finish() {
  if (rank_ == 0) {
    // The restore rebuilt rank 0's file on the spare node (from a partner copy or parity), where it
    // stays; only there could it have come from.
    const fs::path rebuilt =
        detail::version_directory(work_dir_ / kSpareNode / kJob, version_) / detail::rank_file_name(0);
    if (!fs::is_regular_file(rebuilt)) {
      throw std::runtime_error(fmt::format("{} is missing: the restore did not rebuild node 0's file", rebuilt.string()));
    }
  }
  session_.reset();
  MPI_Barrier(comm_);
  std::error_code ignored;
  fs::remove_all(work_dir_ / node_name(rank_), ignored);  // every node clears its own folder
  MPI_Barrier(comm_);
  if (rank_ == 0) fs::remove_all(work_dir_);
  MPI_Barrier(comm_);
}

}  // namespace lazarus::bench
