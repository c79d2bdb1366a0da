#include "bench/bench_report.hpp"

#include <mpi.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include <hdf5.h>
#include <zstd.h>

#include <fmt/format.h>

#include "lazarus/version.hpp"

#ifndef LAZARUS_BENCH_GIT_COMMIT
#define LAZARUS_BENCH_GIT_COMMIT "unknown"
#endif

namespace lazarus::bench {
namespace {

using json = nlohmann::json;

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const std::size_t middle = values.size() / 2;
  return values.size() % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

double minimum(const std::vector<double>& values) {
  return values.empty() ? 0 : *std::min_element(values.begin(), values.end());
}

// The mount that holds `dir` and its file system type, from /proc/self/mounts.
std::string filesystem_of(const std::filesystem::path& dir) {
  std::error_code error;
  const std::string target = std::filesystem::weakly_canonical(dir, error).string();
  std::ifstream mounts("/proc/self/mounts");
  std::string line;
  std::string best_mount;
  std::string best = "unknown";
  while (std::getline(mounts, line)) {
    std::istringstream fields(line);
    std::string device, mount_point, type;
    fields >> device >> mount_point >> type;
    const bool under = target == mount_point || mount_point == "/" ||
                       target.starts_with(mount_point.ends_with('/') ? mount_point : mount_point + "/");
    if (under && mount_point.size() >= best_mount.size()) {
      best_mount = mount_point;
      best = fmt::format("{} on {} ({})", device, mount_point, type);
    }
  }
  return best;
}

// Other work on the machine while the figures were taken (the 5-minute value spans a whole run).
std::vector<double> load_average() {
  double load[3] = {};
  const int n = ::getloadavg(load, 3);
  return std::vector<double>(load, load + std::max(n, 0));
}

json machine_info(const RunDescription& run) {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  utsname system{};
  ::uname(&system);
  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
  char mpi_version[MPI_MAX_LIBRARY_VERSION_STRING] = {};
  int length = 0;
  MPI_Get_library_version(mpi_version, &length);
  std::string mpi(mpi_version, static_cast<std::size_t>(length));
  if (auto comma = mpi.find(','); comma != std::string::npos) mpi.resize(comma);
  return {{"hostname", host},
          {"kernel", fmt::format("{} {}", system.sysname, system.release)},
          {"nproc", std::thread::hardware_concurrency()},
          {"memory_gib", static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * static_cast<double>(::sysconf(_SC_PAGESIZE)) /
                             double(1ull << 30)},
          {"load_average_1_5_15min", load_average()},
          {"filesystem", filesystem_of(run.dir)},
          {"hdf5_version", fmt::format("{}.{}.{}", major, minor, release)},
          {"zstd_version", ZSTD_versionString()},
          {"mpi", mpi},
          {"lazarus_version", LAZARUS_VERSION_STRING},
          {"git_commit", LAZARUS_BENCH_GIT_COMMIT}};
}

}  // namespace

double checkpoint_target(const std::string& kind) {
  if (kind == "field2d") return 0.6;
  if (kind == "smooth") return 0.9;
  return 1.15;  // random
}

json make_report(const RunDescription& run, const std::map<std::string, MethodResult>& results) {
  const double total_bytes = static_cast<double>(run.bytes_per_rank) * run.ranks;
  json methods = json::object();
  for (const auto& [name, result] : results) {
    const double write_median = median(result.write_seconds);
    const double read_median = median(result.read_seconds);
    methods[name] = {
        {"checkpoint_s", {{"median", write_median}, {"min", minimum(result.write_seconds)}, {"all", result.write_seconds}}},
        {"checkpoint_cpu_s", {{"median", median(result.write_cpu_seconds)}, {"all", result.write_cpu_seconds}}},
        {"checkpoint_gbps", write_median > 0 ? total_bytes / write_median / 1e9 : 0.0},
        {"bytes_on_disk", result.bytes_on_disk},
        {"disk_to_data_ratio", static_cast<double>(result.bytes_on_disk) / total_bytes},
        {"restore_s", {{"median", read_median}, {"min", minimum(result.read_seconds)}, {"all", result.read_seconds}}},
        {"restore_cpu_s", {{"median", median(result.read_cpu_seconds)}, {"all", result.read_cpu_seconds}}},
        {"restore_gbps", read_median > 0 ? total_bytes / read_median / 1e9 : 0.0},
        {"verified", result.verified}};
    if (!result.blocking_seconds.empty()) {
      const auto& blocking = result.blocking_seconds;
      methods[name]["blocking_s"] = {{"median", median(blocking)}, {"min", minimum(blocking)}, {"all", blocking}};
      methods[name]["committed_s"] = methods[name]["checkpoint_s"];
    }
    if (!result.warmup_write_seconds.empty()) {
      json warmup = {{"checkpoint_s", result.warmup_write_seconds.front()}};
      if (!result.warmup_blocking_seconds.empty()) {
        warmup["blocking_s"] = result.warmup_blocking_seconds.front();
        warmup["committed_s"] = result.warmup_write_seconds.front();
      }
      warmup["note"] = "the Session's first checkpoint, before repetition 0: not in the medians";
      methods[name]["warmup"] = warmup;
    }
  }
  json report = {
      {"benchmark", "checkpoint_bench"},
      {"machine", machine_info(run)},
      {"run",
       {{"kind", run.kind},
        {"ranks", run.ranks},
        {"bytes_per_rank", run.bytes_per_rank},
        {"total_bytes", run.bytes_per_rank * static_cast<std::size_t>(run.ranks)},
        {"shape_per_rank", run.shape},
        {"reps", run.reps},
        {"dir", run.dir.string()},
        {"lazarus_compression_level", run.compression_level},
        {"chunk_bytes", run.chunk_bytes},
        {"page_cache_drop", run.cache_drop},
        {"settle_s_before_each_write", run.settle_seconds},
        {"local_dir", run.local_dir.string()},
        {"lazarus_threads", run.threads},
        {"async_staging_bytes", run.staging_bytes},
        {"timing", "durable write / cold read, between barriers, slowest rank; median and min over reps; "
                   "method order rotates each rep"},
        {"baselines",
         {{"fwrite", "fwrite + fflush + fsync, one file per rank; restore = fread"},
          {"h5contig", "HDF5 contiguous float64 dataset, H5Fclose + fsync; restore = H5Dread"},
          {"h5deflate", "HDF5 chunked (Lazarus's chunk shape), shuffle + deflate 1, H5Fclose + fsync; restore = H5Dread"},
          {"lazarus", "Session::checkpoint() in sync mode (keep=1); restore = Session::restore(version) into another "
                      "buffer"},
          {"async", "Session with mode async (job folder of its own, keep=1, staging_bytes = run.async_staging_bytes), "
                    "kept alive for the whole run like an application's: its staging memory, allocated and faulted in "
                    "by its first checkpoint, is reused by every later one. That first checkpoint is a warm-up before "
                    "repetition 0 (after the same quiet time), reported as warmup and kept out of the medians. Per "
                    "repetition: blocking_s = the checkpoint() call alone (the copy into staging memory; slowest rank), "
                    "committed_s = checkpoint_s = from before checkpoint() until wait() returns (rank files fsync'd, "
                    "version committed; slowest rank). Restore = Session::restore(version) through a second, sync "
                    "Session into another buffer, cold"},
          {"memcpy", "memcpy of the protected bytes into a buffer allocated and touched once and reused every "
                     "repetition; restore = memcpy back into the restore buffer (nothing on disk, no cache drop)"},
          {"l1partner", "multi-level Session (local_dir = run.local_dir/l1partner/node<rank>, every rank its own node "
                        "via LAZARUS_NODE, redundancy partner, flush_every 0, keep=1): only checkpoint() is timed (the "
                        "Session's end-of-session copy to the global level is not); then node 0's folder and the global "
                        "copy are deleted and a fresh Session, with rank 0 on an empty spare node, times restore(), which "
                        "rebuilds rank 0's file from the partner copy; node-local files are in memory, so no cache drop"},
          {"l1xor", "the same as l1partner with redundancy xor_parity, xor_group 2: rank 0's file is rebuilt from "
                    "parity"}}}}},
      {"methods", methods}};

  const auto has = [&](const char* name) { return results.contains(name); };
  report["ratios"] = json::object();
  if (has("lazarus") && has("fwrite")) {
    const MethodResult& lazarus = results.at("lazarus");
    const MethodResult& fwrite = results.at("fwrite");
    const double checkpoint_ratio = median(lazarus.write_seconds) / median(fwrite.write_seconds);
    const double restore_ratio = median(lazarus.read_seconds) / median(fwrite.read_seconds);
    const double checkpoint_goal = checkpoint_target(run.kind);
    report["ratios"].update({{"lazarus_checkpoint_ratio", checkpoint_ratio},
                        {"lazarus_restore_ratio", restore_ratio},
                        {"lazarus_checkpoint_ratio_of_min", minimum(lazarus.write_seconds) / minimum(fwrite.write_seconds)},
                        {"lazarus_restore_ratio_of_min", minimum(lazarus.read_seconds) / minimum(fwrite.read_seconds)},
                        {"targets", {{"checkpoint", checkpoint_goal}, {"restore", kRestoreTarget}}},
                        {"checkpoint_target_met", checkpoint_ratio <= checkpoint_goal},
                        {"restore_target_met", restore_ratio <= kRestoreTarget},
                        {"basis", "median Lazarus time / median fwrite+fsync (checkpoint) or fread (restore) time; "
                                  "the _of_min ratios compare the fastest repetitions, for reference"}});
    // field2d's stricter target for the synchronous pipeline, besides the per-kind one above.
    if (run.kind == "field2d") {
      report["ratios"]["targets"]["sync_field2d_pipeline"] = kSyncField2dPipelineTarget;
      report["ratios"]["sync_field2d_pipeline_target_met"] = checkpoint_ratio <= kSyncField2dPipelineTarget;
    }
  }
  // Asynchronous checkpoints: blocking time against a memcpy, time until committed against sync mode.
  if (has("async")) {
    const MethodResult& async = results.at("async");
    json& ratios = report["ratios"];
    const auto add = [&](const std::string& key, const std::vector<double>& numerator,
                         const std::vector<double>& denominator, double goal) {
      const double ratio = median(numerator) / median(denominator);
      ratios[key + "_ratio"] = ratio;
      ratios[key + "_ratio_of_min"] = minimum(numerator) / minimum(denominator);
      ratios["targets"][key] = goal;
      ratios[key + "_target_met"] = ratio <= goal;
    };
    if (has("memcpy")) add("async_blocking", async.blocking_seconds, results.at("memcpy").write_seconds, kAsyncBlockingTarget);
    if (has("lazarus")) add("async_committed", async.write_seconds, results.at("lazarus").write_seconds, kAsyncCommittedTarget);
    ratios["async_basis"] =
        "async_blocking_ratio = median async blocking_s (checkpoint() alone) / median memcpy time; "
        "async_committed_ratio = median async committed_s (checkpoint() until wait() returns) / median lazarus "
        "(sync) checkpoint time; same run, same reps, warm-up excluded";
  }
  // Multi-level against the single global level: l1partner's are the two ratios; l1xor's are
  // named after it.
  for (const char* local : {"l1partner", "l1xor"}) {
    if (!has("lazarus") || !has(local)) continue;
    const MethodResult& global = results.at("lazarus");
    const MethodResult& node_local = results.at(local);
    const std::string name = local;
    // Keys: <checkpoint>_ratio, <checkpoint>_ratio_of_min, <checkpoint>_target_met, targets.<checkpoint>;
    // the same for <restore>.
    const std::string checkpoint = name + "_checkpoint";
    const std::string restore = name == "l1partner" ? "node_loss_restore" : name + "_node_loss_restore";
    const double checkpoint_ratio = median(node_local.write_seconds) / median(global.write_seconds);
    const double restore_ratio = median(node_local.read_seconds) / median(global.read_seconds);
    json& ratios = report["ratios"];
    ratios[checkpoint + "_ratio"] = checkpoint_ratio;
    ratios[restore + "_ratio"] = restore_ratio;
    ratios[checkpoint + "_ratio_of_min"] = minimum(node_local.write_seconds) / minimum(global.write_seconds);
    ratios[restore + "_ratio_of_min"] = minimum(node_local.read_seconds) / minimum(global.read_seconds);
    ratios["targets"][checkpoint] = kLocalCheckpointTarget;
    ratios["targets"][restore] = kNodeLossRestoreTarget;
    ratios[checkpoint + "_target_met"] = checkpoint_ratio <= kLocalCheckpointTarget;
    ratios[restore + "_target_met"] = restore_ratio <= kNodeLossRestoreTarget;
    ratios["multilevel_basis"] =
        "median node-local checkpoint() time (l1partner, l1xor) / median lazarus checkpoint() time (single global "
        "level); median restore() time after node 0's loss / median cold lazarus restore time; same run, same reps";
  }
  return report;
}

}  // namespace lazarus::bench
