// checkpoint_bench: durable checkpoint and cold restore time of Lazarus against fwrite+fsync and two
// HDF5 baselines, all in one run, on the same bytes; on request also Lazarus's multi-level checkpoint
// (node-local with partner copies or XOR parity) and its restore after a node loss, against the
// single global level; and, with --async, Lazarus's asynchronous checkpoint (the time checkpoint()
// blocks the application, and the time until the version is committed) against a plain memcpy of
// the protected bytes and the synchronous checkpoint. Prints one JSON document on rank 0's stdout;
// docs/performance.md explains the figures and how to reproduce them.
//
//   mpirun -np 2 checkpoint_bench --bytes-per-rank 256M --kind field2d --reps 3
//   mpirun -np 2 checkpoint_bench --bytes-per-rank 256M --kind field2d --reps 3 --methods lazarus,l1partner
//   mpirun -np 2 checkpoint_bench --bytes-per-rank 256M --kind field2d --reps 5 --methods fwrite,lazarus,async,memcpy
#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backends/posix/durable_io.hpp"
#include "bench/bench_baselines.hpp"
#include "bench/bench_data.hpp"
#include "bench/bench_multilevel.hpp"
#include "bench/bench_report.hpp"
#include "lazarus/lazarus.hpp"
#include "runtime/format/manifest.hpp"
#include "runtime/format/version_catalog.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace lazarus::bench {
namespace {

struct Config {
  std::size_t bytes_per_rank = std::size_t{256} << 20;
  DataKind kind = DataKind::field2d;
  int reps = 3;
  fs::path dir = "lazarus-bench";
  fs::path local_dir = "/dev/shm";  // node-local root of the multi-level methods
  std::vector<std::string> methods = {"lazarus", "fwrite", "h5contig", "h5deflate"};
  double settle_seconds = 1.0;
};

const std::vector<std::string> kAllMethods = {"lazarus",   "fwrite", "h5contig", "h5deflate",
                                              "l1partner", "l1xor",  "async",    "memcpy"};
bool is_multilevel(const std::string& method) { return method == "l1partner" || method == "l1xor"; }

// One way of checkpointing: a durable write, the files it left (to measure and to evict from the
// page cache) and a read back into the restore buffer.
struct Method {
  std::string name;
  std::function<void()> write;
  std::function<std::vector<fs::path>()> files;  // this rank's files of the last write
  std::function<void()> read;
  // Untimed, collective, optional: before the quiet time and the write (fresh files), after the write
  // was measured (before the restore), and after the restore was verified.
  std::function<void()> prepare = {};
  std::function<void()> between = {};
  std::function<void()> finish = {};
  // Collective, optional: all ranks' bytes of the last write (default: the sizes of files()).
  std::function<std::uint64_t()> bytes_on_disk = {};
  bool cold_restore = true;  // drop the page cache before the restore (not for files in memory)
  // Optional: this rank's time of the part of the last write that blocks the application (async:
  // checkpoint() alone, while the whole write also waits for the commit); reported as blocking_s.
  std::function<double()> blocking = {};
  // Checkpoint once before the repetitions (after a quiet time, timed but kept out of the medians,
  // reported as `warmup`): for a Session kept alive across repetitions, whose first checkpoint
  // allocates what later ones reuse.
  bool warm_up = false;
};

// Folders this run made, removed (best effort, by every rank) when a failure ends the job early.
std::vector<fs::path>& cleanup_on_failure() {
  static std::vector<fs::path> paths;
  return paths;
}

void remove_run_folders() {
  for (const auto& path : cleanup_on_failure()) {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
}

double process_cpu_seconds() {
  timespec now{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

struct StepTime {
  double wall = 0;  // slowest rank, between barriers
  double cpu = 0;   // the most CPU time a rank spent in the step (user + system, all its threads)
};

// Runs `step` on every rank between two barriers; the slowest rank's time counts. A failure on any
// rank ends the whole job with its message, since the other ranks would otherwise wait forever.
StepTime timed_collectively(MPI_Comm comm, const std::string& what, const std::function<void()>& step) {
  MPI_Barrier(comm);
  const double cpu_start = process_cpu_seconds();
  const double start = MPI_Wtime();
  int failed = 0;
  try {
    step();
  } catch (const std::exception& error) {
    std::fprintf(stderr, "checkpoint_bench: %s failed: %s\n", what.c_str(), error.what());
    failed = 1;
  }
  double local[2] = {MPI_Wtime() - start, process_cpu_seconds() - cpu_start};
  MPI_Barrier(comm);
  int any_failed = 0;
  MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, comm);
  if (any_failed != 0) {
    remove_run_folders();
    MPI_Abort(comm, 2);
  }
  double slowest[2] = {};
  MPI_Allreduce(local, slowest, 2, MPI_DOUBLE, MPI_MAX, comm);
  return {slowest[0], slowest[1]};
}

// Evicts `files` from the page cache: fdatasync + POSIX_FADV_DONTNEED on each (every rank), then
// rank 0 also writes 3 to /proc/sys/vm/drop_caches when allowed. Returns how it was done.
std::string drop_page_cache(MPI_Comm comm, const std::vector<fs::path>& files) {
  for (const auto& file : files) backends::drop_cached_pages(file);
  MPI_Barrier(comm);
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  std::string how = "posix_fadvise(DONTNEED)";
  if (rank == 0) {
    if (std::FILE* control = std::fopen("/proc/sys/vm/drop_caches", "w")) {
      const bool ok = std::fputs("3\n", control) >= 0;
      if (std::fclose(control) == 0 && ok) how += " + drop_caches";
    } else {
      how += fmt::format(" (drop_caches not writable: {})", backends::errno_text(errno));
    }
  }
  MPI_Barrier(comm);
  return how;
}

// Lets the storage finish whatever earlier steps left behind (deletions, journal commits, writeback in
// the host under a virtual disk), so that each timed write starts from a quiet disk and no method
// pays for its predecessor.
void settle(MPI_Comm comm, double seconds) {
  MPI_Barrier(comm);
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  if (rank == 0) ::sync();
  if (seconds > 0) std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  MPI_Barrier(comm);
}

bool equal_everywhere(MPI_Comm comm, std::span<const double> a, std::span<const double> b) {
  int same = a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size_bytes()) == 0 ? 1 : 0;
  int all = 0;
  MPI_Allreduce(&same, &all, 1, MPI_INT, MPI_MIN, comm);
  return all == 1;
}

std::uint64_t sum_over_ranks(MPI_Comm comm, std::uint64_t local) {
  std::uint64_t total = 0;
  MPI_Allreduce(&local, &total, 1, MPI_UINT64_T, MPI_SUM, comm);
  return total;
}

// Rank 0 creates `dir`; every rank throws when it could not (rather than wait for it at a barrier).
void create_folder_collectively(MPI_Comm comm, const fs::path& dir) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  std::string problem;
  if (rank == 0) {
    std::error_code error;
    fs::create_directories(dir, error);
    if (error) problem = fmt::format("cannot create {}: {}", dir.string(), error.message());
  }
  int failed = problem.empty() ? 0 : 1;
  MPI_Bcast(&failed, 1, MPI_INT, 0, comm);
  if (failed != 0) throw std::runtime_error(rank == 0 ? problem : "rank 0 could not create " + dir.string());
}

std::uint64_t size_of_files(const std::vector<fs::path>& files) {
  std::uint64_t total = 0;
  for (const auto& file : files) total += fs::file_size(file);
  return total;
}

json run(MPI_Comm comm, const Config& config) {
  int rank = 0;
  int nranks = 0;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &nranks);

  RankData data = generate_rank_data(config.kind, config.bytes_per_rank, rank);
  std::vector<double> restored(data.values.size());

  // A folder of our own under --dir, removed at the end: never anything the user had there.
  long run_id = rank == 0 ? static_cast<long>(::getpid()) : 0;
  MPI_Bcast(&run_id, 1, MPI_LONG, 0, comm);
  const fs::path root = fs::absolute(config.dir) / fmt::format("checkpoint_bench-{}-{}", to_string(config.kind), run_id);
  cleanup_on_failure().push_back(root);
  create_folder_collectively(comm, root);
  // The multi-level methods' node-local folders, likewise a folder of our own under --local-dir.
  const bool multilevel = std::any_of(config.methods.begin(), config.methods.end(), is_multilevel);
  const fs::path local_root =
      multilevel ? fs::absolute(config.local_dir) / fmt::format("lazarus-bench-{}", run_id) : fs::path();
  if (multilevel) {
    cleanup_on_failure().push_back(local_root);
    create_folder_collectively(comm, local_root);
  }

  Options options = Options::from_env();
  options.dir = root / "lazarus";
  options.job = "bench";
  options.keep = 1;
  options.local_dir.clear();  // the single global level, whatever LAZARUS_LOCAL_DIR says
  options.mode = Mode::sync;  // the lazarus method is the synchronous checkpoint, whatever LAZARUS_MODE says
  Session writer(comm, options);
  writer.protect("u", data.values, data.shape);
  Session reader(comm, options);
  reader.protect("u", restored, data.shape);
  std::uint64_t version = 0;

  const fs::path baseline_dir = root / "baselines";
  if (rank == 0) fs::create_directories(baseline_dir);
  MPI_Barrier(comm);
  const auto rank_file = [&](const char* method, const char* extension) {
    return baseline_dir / fmt::format("{}-rank{:05}.{}", method, rank, extension);
  };
  const fs::path raw_file = rank_file("fwrite", "bin");
  const fs::path contiguous_file = rank_file("h5contig", "h5");
  const fs::path deflate_file = rank_file("h5deflate", "h5");

  const auto has_method = [&](const char* name) {
    return std::find(config.methods.begin(), config.methods.end(), name) != config.methods.end();
  };
  // async: one Session in async mode, kept alive across the repetitions as an application keeps it, so
  // that its staging memory (allocated by the first checkpoint) is reused; a job folder of its own.
  // Its restore goes through a second, synchronous Session, like the lazarus method's.
  Options async_options = options;
  async_options.dir = root / "async";
  async_options.mode = Mode::async;
  std::optional<Session> async_writer;
  std::optional<Session> async_reader;
  if (has_method("async")) {
    async_writer.emplace(comm, async_options);
    async_writer->protect("u", data.values, data.shape);
    Options reader_options = async_options;
    reader_options.mode = Mode::sync;
    async_reader.emplace(comm, reader_options);
    async_reader->protect("u", restored, data.shape);
  }
  std::uint64_t async_version = 0;
  double async_blocking = 0;
  // memcpy: the protected bytes copied into a buffer allocated and touched once, reused every time.
  std::vector<double> copy;
  if (has_method("memcpy")) {
    copy.resize(data.values.size());
    std::memset(copy.data(), 0xA5, copy.size() * sizeof(double));
  }
  const auto lazarus_files = [&](const Options& opts, std::uint64_t v) {
    const fs::path version_dir = detail::version_directory(opts.dir / opts.job, v);
    std::vector<fs::path> files{version_dir / detail::rank_file_name(rank)};
    if (rank == 0) files.push_back(version_dir / detail::kManifestFileName);
    return files;
  };

  const auto remove_before_write = [](fs::path file) { return [file] { fs::remove(file); }; };
  std::vector<Method> all_methods = {
      {.name = "lazarus",
       .write = [&] { version = writer.checkpoint(); },
       .files = [&] { return lazarus_files(options, version); },
       .read = [&] { reader.restore(version); }},
      {.name = "async",
       .write =
           [&] {
             const double start = MPI_Wtime();
             async_version = async_writer->checkpoint();
             async_blocking = MPI_Wtime() - start;
             async_writer->wait();  // durable and committed
           },
       .files = [&] { return lazarus_files(async_options, async_version); },
       .read = [&] { async_reader->restore(async_version); },
       .blocking = [&] { return async_blocking; },
       .warm_up = true},
      {.name = "memcpy",
       .write = [&] { std::memcpy(copy.data(), data.values.data(), data.bytes()); },
       .files = [] { return std::vector<fs::path>{}; },
       .read = [&] { std::memcpy(restored.data(), copy.data(), data.bytes()); },
       .cold_restore = false},
      {.name = "fwrite",
       .write = [&] { fwrite_fsync(raw_file, data.values.data(), data.bytes()); },
       .files = [&] { return std::vector<fs::path>{raw_file}; },
       .read = [&] { fread_all(raw_file, restored.data(), data.bytes()); },
       .prepare = remove_before_write(raw_file)},
      {.name = "h5contig",
       .write =
           [&] {
             h5_write_fsync(contiguous_file, data.values.data(), data.shape, H5Layout::contiguous, options.chunk_bytes);
           },
       .files = [&] { return std::vector<fs::path>{contiguous_file}; },
       .read = [&] { h5_read_all(contiguous_file, restored.data(), restored.size()); },
       .prepare = remove_before_write(contiguous_file)},
      {.name = "h5deflate",
       .write =
           [&] {
             h5_write_fsync(deflate_file, data.values.data(), data.shape, H5Layout::chunked_deflate, options.chunk_bytes);
           },
       .files = [&] { return std::vector<fs::path>{deflate_file}; },
       .read = [&] { h5_read_all(deflate_file, restored.data(), restored.size()); },
       .prepare = remove_before_write(deflate_file)},
  };
  // Multi-level: checkpoint() to node-local storage with its redundancy on the other node, and the
  // restore after node 0 is lost (bench/bench_multilevel.hpp has the steps).
  std::map<std::string, std::unique_ptr<NodeLossMethod>> node_loss;
  for (const auto& [name, redundancy] : {std::pair{"l1partner", Redundancy::partner}, std::pair{"l1xor", Redundancy::xor_parity}}) {
    if (std::find(config.methods.begin(), config.methods.end(), name) == config.methods.end()) continue;
    NodeLossMethod& method = *(node_loss[name] =
                                   std::make_unique<NodeLossMethod>(comm, options, local_root / name, redundancy, data, restored));
    all_methods.push_back({.name = name,
                           .write = [&method] { method.checkpoint(); },
                           .files = [&method] { return method.files(); },
                           .read = [&method] { method.restore(); },
                           .prepare = [&method] { method.prepare(); },
                           .between = [&method] { method.lose_node(); },
                           .finish = [&method] { method.finish(); },
                           .bytes_on_disk = [&method] { return method.bytes_on_nodes(); },
                           // Node-local files live in memory (tmpfs): nothing to drop.
                           .cold_restore = false});
  }
  std::vector<Method> methods;
  for (const auto& name : config.methods) {
    auto found = std::find_if(all_methods.begin(), all_methods.end(), [&](const Method& m) { return m.name == name; });
    if (found == all_methods.end()) throw std::invalid_argument("unknown method '" + name + "'");
    methods.push_back(*found);
  }

  std::map<std::string, MethodResult> results;
  const auto slowest_blocking = [&](const Method& method) {
    double local = method.blocking();
    double slowest = 0;
    MPI_Allreduce(&local, &slowest, 1, MPI_DOUBLE, MPI_MAX, comm);
    return slowest;
  };
  // Warm-ups: the first checkpoint of a long-lived Session, measured alone and kept out of the medians.
  for (const Method& method : methods) {
    if (!method.warm_up) continue;
    MethodResult& result = results[method.name];
    if (method.prepare) timed_collectively(comm, method.name + " preparation", method.prepare);
    settle(comm, config.settle_seconds);
    const StepTime write = timed_collectively(comm, method.name + " warm-up write", method.write);
    result.warmup_write_seconds.push_back(write.wall);
    if (method.blocking) result.warmup_blocking_seconds.push_back(slowest_blocking(method));
    if (method.finish) timed_collectively(comm, method.name + " cleanup", method.finish);
  }
  std::string cache_drop;
  for (int rep = 0; rep < config.reps; ++rep) {
    for (std::size_t i = 0; i < methods.size(); ++i) {
      const Method& method = methods[(i + static_cast<std::size_t>(rep)) % methods.size()];
      MethodResult& result = results[method.name];
      // Baselines write a fresh file each time, as a checkpoint version does.
      if (method.prepare) timed_collectively(comm, method.name + " preparation", method.prepare);
      settle(comm, config.settle_seconds);
      const StepTime write = timed_collectively(comm, method.name + " write", method.write);
      result.write_seconds.push_back(write.wall);
      result.write_cpu_seconds.push_back(write.cpu);
      if (method.blocking) result.blocking_seconds.push_back(slowest_blocking(method));
      const std::vector<fs::path> files = method.files();
      std::uint64_t on_disk = method.bytes_on_disk ? method.bytes_on_disk() : sum_over_ranks(comm, size_of_files(files));
      if ((method.name == "lazarus" || method.name == "async") && rank == 0) {
        on_disk = 0;  // the whole version folder: every rank file and the manifest
        for (const auto& entry : fs::directory_iterator(files.front().parent_path())) {
          if (entry.is_regular_file()) on_disk += entry.file_size();
        }
      }
      result.bytes_on_disk = on_disk;
      if (method.cold_restore) cache_drop = drop_page_cache(comm, files);
      if (method.between) timed_collectively(comm, method.name + " node loss", method.between);
      std::memset(restored.data(), 0xA5, restored.size() * sizeof(double));  // touched, and not the data
      const StepTime read = timed_collectively(comm, method.name + " restore", method.read);
      result.read_seconds.push_back(read.wall);
      result.read_cpu_seconds.push_back(read.cpu);
      result.verified = result.verified && equal_everywhere(comm, data.values, restored);
      if (method.finish) timed_collectively(comm, method.name + " cleanup", method.finish);
    }
  }

  node_loss.clear();
  async_reader.reset();
  async_writer.reset();  // nothing in flight: every write ended with wait()
  if (rank == 0) fs::remove_all(root);
  if (multilevel) {
    if (rank == 0) fs::remove_all(local_root);
    MPI_Barrier(comm);
    // On other hosts (a real multi-node run) each has its own --local-dir.
    if (rank != 0 && fs::exists(local_root)) fs::remove_all(local_root);
  }
  MPI_Barrier(comm);

  RunDescription description;
  description.kind = std::string(to_string(config.kind));
  description.ranks = nranks;
  description.bytes_per_rank = data.bytes();
  description.shape = data.shape;
  description.reps = config.reps;
  description.dir = root.parent_path();
  description.compression_level = options.compression_level;
  description.chunk_bytes = options.chunk_bytes;
  description.cache_drop = cache_drop;
  description.settle_seconds = config.settle_seconds;
  description.local_dir = local_root;
  description.threads = options.threads;
  description.staging_bytes = async_options.staging_bytes;
  return make_report(description, results);
}

}  // namespace
}  // namespace lazarus::bench

int main(int argc, char** argv) {
  using namespace lazarus::bench;
  MPI_Init(&argc, &argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);

  Config config;
  CLI::App app{"checkpoint_bench: durable checkpoint and cold restore time of Lazarus vs fwrite+fsync and HDF5.\n"
               "Prints one JSON document on stdout (rank 0)."};
  std::string bytes_text = "256M";
  std::string kind_text = "field2d";
  std::string dir_text = config.dir.string();
  std::string local_dir_text = config.local_dir.string();
  bool with_multilevel = false;
  bool with_async = false;
  app.add_option("--bytes-per-rank", bytes_text, "Checkpoint size per rank: 4096, 64K, 256M, 1G (binary units)")
      ->capture_default_str();
  app.add_option("--kind", kind_text, "Data: smooth | field2d | random")
      ->check(CLI::IsMember({"smooth", "field2d", "random"}))
      ->capture_default_str();
  app.add_option("--reps", config.reps, "Repetitions of every method")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--dir", dir_text,
                 "Folder for the files (on the disk under test; a tmpfs /tmp would measure memory)")
      ->capture_default_str();
  app.add_option("--settle", config.settle_seconds,
                 "Seconds of quiet (after a sync) before each timed write, so that no method pays for the one before")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--methods", config.methods,
                 "Subset of: lazarus fwrite h5contig h5deflate l1partner l1xor async memcpy (default: the first four).\n"
                 "l1partner / l1xor: Lazarus multi-level, checkpoint() to --local-dir with partner copies / XOR parity\n"
                 "on the other logical node (every rank is its own node), then restore() after node 0 is lost\n"
                 "(rebuilt on a spare node); their ratios compare them with the lazarus method in the same run.\n"
                 "async: Lazarus with mode async (one Session kept alive across repetitions, after one warm-up\n"
                 "checkpoint): checkpoint() alone (blocking_s) and checkpoint() + wait() (committed_s); memcpy: a plain\n"
                 "memcpy of the protected bytes into a buffer allocated and touched once")
      ->delimiter(',')
      ->check(CLI::IsMember(kAllMethods));
  app.add_flag("--multilevel", with_multilevel,
               "Also run l1partner and l1xor (and lazarus, their reference) besides the --methods");
  app.add_flag("--async", with_async,
               "Also run lazarus, async and memcpy (the asynchronous checkpoint and its references) besides the --methods");
  app.add_option("--local-dir", local_dir_text,
                 "Node-local root for l1partner / l1xor: the program works in <local-dir>/lazarus-bench-<pid of rank 0>\n"
                 "and removes it at the end")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
    config.bytes_per_rank = parse_byte_size(bytes_text);
  } catch (const CLI::ParseError& error) {
    const int code = rank == 0 ? app.exit(error) : (error.get_exit_code() == 0 ? 0 : 1);
    MPI_Finalize();
    return code;
  } catch (const std::invalid_argument& error) {
    if (rank == 0) std::fprintf(stderr, "checkpoint_bench: %s\n", error.what());
    MPI_Finalize();
    return 1;
  }
  config.kind = parse_data_kind(kind_text);
  config.dir = dir_text;
  config.local_dir = local_dir_text;
  if (with_multilevel) {
    for (const char* name : {"lazarus", "l1partner", "l1xor"}) {
      if (std::find(config.methods.begin(), config.methods.end(), name) == config.methods.end()) config.methods.push_back(name);
    }
  }
  if (with_async) {
    for (const char* name : {"lazarus", "async", "memcpy"}) {
      if (std::find(config.methods.begin(), config.methods.end(), name) == config.methods.end()) config.methods.push_back(name);
    }
  }
  {
    // Repeated names would run a method twice per repetition.
    std::vector<std::string> unique;
    for (const auto& name : config.methods) {
      if (std::find(unique.begin(), unique.end(), name) == unique.end()) unique.push_back(name);
    }
    config.methods = unique;
  }

  int status = 0;
  try {
    const json report = run(MPI_COMM_WORLD, config);
    if (rank == 0) std::printf("%s\n", report.dump(2).c_str());
  } catch (const std::exception& error) {
    std::fprintf(stderr, "checkpoint_bench: rank %d: %s\n", rank, error.what());
    remove_run_folders();
    status = 1;
  }
  MPI_Finalize();
  return status;
}
