#include "launcher/cli/run_command.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <limits>
#include <optional>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "launcher/cli/exit_codes.hpp"
#include "launcher/cli/number_checks.hpp"
#include "launcher/supervision/fault_plan.hpp"
#include "launcher/supervision/heartbeat_server.hpp"
#include "launcher/resources/slurm_allocation.hpp"
#include "launcher/supervision/supervisor.hpp"
#include "runtime/names.hpp"

namespace lazarus::launcher {
namespace {

constexpr std::int64_t kMostInt = std::numeric_limits<int>::max();  // the options' type

std::string environment_or(const char* name, std::string fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

// Whether `program` names an executable file, directly or through PATH.
bool executable_exists(const std::string& program) {
  if (program.find('/') != std::string::npos) return ::access(program.c_str(), X_OK) == 0;
  std::istringstream path(environment_or("PATH", "/usr/bin:/bin"));
  for (std::string dir; std::getline(path, dir, ':');) {
    const auto candidate = std::filesystem::path(dir.empty() ? "." : dir) / program;
    if (::access(candidate.c_str(), X_OK) == 0 && std::filesystem::is_regular_file(candidate)) return true;
  }
  return false;
}

std::vector<std::string> split_words(const std::string& text) {
  std::istringstream words(text);
  std::vector<std::string> result;
  for (std::string word; words >> word;) result.push_back(word);
  return result;
}

std::vector<std::string> read_hostfile(const std::string& file) {
  std::ifstream in(file);
  if (!in) throw UsageError(fmt::format("cannot read --hostfile {}", file));
  std::vector<std::string> hosts;
  for (std::string line; std::getline(in, line);) {
    line = line.substr(0, line.find('#'));
    auto words = split_words(line);
    if (!words.empty()) hosts.push_back(words[0]);  // "host slots=N": the slots are ours to place
  }
  return hosts;
}

// "Slurm job 7 has 2 nodes (n[1-2])": how errors name the allocation.
std::string describe(const SlurmAllocation& slurm) {
  return fmt::format("Slurm job {} has {} node{} ({})", slurm.job_id, slurm.nodes.size(),
                     slurm.nodes.size() == 1 ? "" : "s", slurm.nodelist);
}

// Inside an allocation the command line may leave the placement to Slurm: the ranks per node are the
// allocation's tasks per node, and -n fills the nodes not held back as spares.
void fill_from_allocation(RunOptions& o, const SlurmAllocation& slurm, bool ranks_per_node_given) {
  const int usable = static_cast<int>(slurm.nodes.size()) - o.spares;
  if (usable <= 0) {
    throw UsageError(fmt::format("{} and --spares {} holds back all of them: ask sbatch for more nodes, or for fewer "
                                 "spares", describe(slurm), o.spares));
  }
  if (!ranks_per_node_given && slurm.tasks_per_node) o.ranks_per_node = *slurm.tasks_per_node;
  const bool per_node_known = ranks_per_node_given || slurm.tasks_per_node;
  if (o.ranks == 0 && per_node_known) o.ranks = usable * o.ranks_per_node;
  if (o.ranks == 0 && slurm.tasks && o.spares == 0) o.ranks = *slurm.tasks;
  if (o.ranks > 0 && !per_node_known) o.ranks_per_node = (o.ranks + usable - 1) / usable;  // spread evenly
}

}  // namespace

RunCommand::RunCommand(CLI::App& app) {
  command_ = app.add_subcommand("run", "Run an MPI job under supervision; restart it from its newest checkpoint after a "
                                       "rank, node or hang failure");
  auto& o = options_;
  command_->add_option("-n,--np", o.ranks, "Number of MPI ranks (required outside Slurm; inside an allocation: its tasks "
                                            "per node times the nodes not held back as spares)")
      ->check(integer_in(1, kMostInt));
  command_->add_option("--ranks-per-node", o.ranks_per_node, "Ranks placed on each node, in blocks (default: 1 with "
                                                             "--local-nodes/--nodes, else all on this host)")
      ->check(integer_in(1, kMostInt));
  auto* local = command_->add_option("--local-nodes", o.local_nodes,
                                     "Run on M logical nodes n1..nM on this host, each with its own LAZARUS_NODE and "
                                     "node-local folder, to exercise node loss and spares on one machine")
                    ->check(integer_in(1, kMostInt));
  auto* nodes = command_->add_option("--nodes", o.hosts, "Real hosts to run on, comma separated")
                    ->delimiter(',')
                    ->expected(1)
                    ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  auto* hostfile = command_->add_option("--hostfile", o.hostfile, "File with one host name per line")
                       ->check(CLI::ExistingFile);
  local->excludes(nodes)->excludes(hostfile);
  nodes->excludes(hostfile);
  command_->add_option("--spares", o.spares, "Nodes held back to replace failed ones (the last S nodes)")
      ->check(integer_in(0, kMostInt));
  command_->add_option("--max-restarts", o.max_restarts, "Give up after this many failures (exit status 3)")
      ->capture_default_str()
      ->check(integer_in(0, kMostInt));
  command_->add_option("--dir", o.dir, "Checkpoint root, passed to the ranks as LAZARUS_DIR (default: $LAZARUS_DIR or "
                                       "./lazarus-ckpt)");
  command_->add_option("--job", o.job, "Job name, passed as LAZARUS_JOB (default: $LAZARUS_JOB or default)");
  command_->add_option("--local-root", o.local_root, "Where logical nodes keep their local folders (default: "
                                                    "<dir>/<job>/nodes)");
  command_->add_option("--heartbeat", o.heartbeat_seconds, "Seconds between a rank's heartbeats")
      ->capture_default_str()
      ->check(number_in(0.01, 60.0));
  command_->add_option("--hang-timeout", o.hang_timeout_seconds,
                       "A rank without heartbeat or progress (a checkpoint, restore or need_checkpoint call) for this "
                       "many seconds hangs")
      ->capture_default_str()
      ->check(number_in(0.1, 86400.0));
  command_->add_option("--mpirun", o.mpirun, "The mpirun to launch with")->capture_default_str();
  command_->add_option("--mpirun-args", o.mpirun_args, "Extra mpirun arguments, split at spaces");
  command_->add_option("--launcher", o.launcher, "How attempts start: srun (a job step; the default inside a Slurm "
                                                "allocation) or mpirun (the default elsewhere)")
      ->check(CLI::IsMember({"srun", "mpirun"}));
  command_->add_option("--srun", o.srun, "The srun to launch with")->capture_default_str();
  command_->add_option("--srun-args", o.srun_args, "Extra srun arguments, split at spaces (e.g. \"--mpi=pmix\")");
  command_->add_option("--stop-before", o.stop_before_seconds,
                       "Inside Slurm: ask the job to take a final checkpoint and stop this many seconds before the "
                       "allocation's time limit (Session::should_stop())")
      ->capture_default_str()
      ->check(number_in(0.0, 86400.0));
  command_->add_option("--probe-timeout", o.probe_timeout_seconds,
                       "With srun: after a failure, a node where a one-task probe step does not run within this many "
                       "seconds is lost and replaced by a spare")
      ->capture_default_str()
      ->check(number_in(0.1, 3600.0));
  command_->add_option("--events", o.events_file, "JSON-lines events file (default: <dir>/<job>/events.jsonl)");
  command_->add_option("--listen", o.listen_address,
                       "IPv4 address for the ranks' heartbeat connections (default: 127.0.0.1 on this host only; "
                       "with --nodes/--hostfile every interface, announced as this host's name)");
  command_->add_option("--inject", injections_,
                       "Fault to cause, repeatable: 'kill rank=R after=Ts', 'stop rank=R after=Ts', "
                       "'kill node=NAME after=Ts' (or after-checkpoint=V, or both), 'crash point=P rank=R [version=V] [attempt=A]'")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  command_->footer("The program and its arguments follow --.\nExit status: 0 the job finished; 2 usage error; 3 restarts exhausted; 4 no spare node left;\n"
                   "5 no progress (the program failed the same way twice without a new checkpoint); 6 stopped before the time limit\n"
                   "after a final checkpoint (resubmit to continue).");
}

int RunCommand::execute() {
  RunOptions o = options_;
  if (o.command.empty()) throw UsageError("no program to run: give it after --, e.g. lazarus run -n 4 -- ./app args");
  if (o.dir.empty()) o.dir = environment_or("LAZARUS_DIR", "./lazarus-ckpt");
  if (o.job.empty()) o.job = environment_or("LAZARUS_JOB", "default");
  // The library's own rule (Options::validate): the job name is one folder under --dir, nothing else.
  if (auto problem = detail::name_problem(o.job)) {
    throw UsageError(fmt::format("--job (or LAZARUS_JOB) '{}' is not a valid job name: {}", o.job, *problem));
  }
  o.dir = std::filesystem::absolute(o.dir).lexically_normal();
  if (o.local_root.empty()) o.local_root = o.dir / o.job / "nodes";
  if (o.events_file.empty()) o.events_file = o.dir / o.job / "events.jsonl";
  if (!executable_exists(o.command.front())) {
    throw UsageError(fmt::format("program '{}' not found or not executable", o.command.front()));
  }
  std::optional<SlurmAllocation> slurm;
  try {
    slurm = slurm_allocation_from_environment();
  } catch (const std::invalid_argument& error) {
    throw UsageError(fmt::format("SLURM_JOB_NODELIST: {}", error.what()));
  }
  const bool node_options = o.local_nodes > 0 || !o.hosts.empty() || !o.hostfile.empty();
  if (o.launcher.empty()) o.launcher = slurm && !node_options ? "srun" : "mpirun";
  if (o.launcher == "srun") {
    if (!slurm) {
      throw UsageError("--launcher srun needs a Slurm allocation (SLURM_JOB_ID and SLURM_JOB_NODELIST are not set): run "
                       "lazarus inside sbatch or salloc");
    }
    if (node_options) throw UsageError("with srun the nodes are the allocation's: --local-nodes, --nodes and --hostfile "
                                       "go with --launcher mpirun");
    if (!executable_exists(o.srun)) throw UsageError(fmt::format("--srun '{}' not found", o.srun));
  } else if (!executable_exists(o.mpirun)) {
    throw UsageError(fmt::format("--mpirun '{}' not found", o.mpirun));
  }
  if (slurm) o.slurm_job_id = slurm->job_id;
  const bool slurm_nodes = slurm && !node_options;
  if (slurm_nodes) {
    fill_from_allocation(o, *slurm, command_->count("--ranks-per-node") > 0);
    // One value for every rank; the runtime puts each node's name in place of %N.
    if (command_->count("--local-root") > 0) o.node_local_dir = (o.local_root / "%N").string();
  }
  if (o.ranks == 0) {
    throw UsageError(slurm_nodes ? fmt::format("give -n: Slurm job {} does not say how many tasks per node "
                                               "(sbatch --ntasks-per-node)", slurm->job_id)
                                 : "-n (the number of ranks) is required");
  }
  if (o.hang_timeout_seconds <= 2 * o.heartbeat_seconds) {
    throw UsageError(fmt::format("--hang-timeout {} must be more than twice --heartbeat {}", o.hang_timeout_seconds,
                                 o.heartbeat_seconds));
  }
  std::vector<Fault> faults;
  for (const auto& spec : injections_) faults.push_back(parse_fault(spec));

  NodePool pool = NodePool::logical(1, o.local_root);
  if (o.local_nodes > 0) {
    pool = NodePool::logical(o.local_nodes, o.local_root);
  } else if (!o.hosts.empty() || !o.hostfile.empty()) {
    pool = NodePool::hosts(o.hosts.empty() ? read_hostfile(o.hostfile) : o.hosts);
  } else if (slurm_nodes) {
    pool = NodePool::hosts(slurm->nodes);
  } else {
    if (o.spares > 0) throw UsageError("--spares needs nodes to hold back: give --local-nodes, --nodes or --hostfile");
    if (command_->count("--ranks-per-node") > 0) {
      throw UsageError("--ranks-per-node needs nodes to place ranks on: give --local-nodes, --nodes or --hostfile");
    }
    o.ranks_per_node = o.ranks;  // everything on this host
  }
  try {
    pool.assign(o.ranks, o.ranks_per_node, o.spares);
  } catch (const UsageError& error) {
    if (!slurm_nodes) throw;
    throw UsageError(fmt::format("{}: {}; ask sbatch for more nodes, or for fewer ranks or spares", error.what(),
                                 describe(*slurm)));
  }
  // Ranks on other hosts must reach the launcher over the network; logical nodes stay on loopback.
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  if (o.listen_address.empty()) o.listen_address = pool.logical() ? "127.0.0.1" : "0.0.0.0";
  o.advertised_address = o.listen_address == "0.0.0.0" ? std::string(host) : o.listen_address;
  std::set<int> crash_attempts;
  for (const Fault& fault : faults) {
    if (fault.action == Fault::Action::crash && !crash_attempts.insert(fault.attempt).second) {
      throw UsageError(fmt::format("--inject '{}': only one crash fault per attempt (LAZARUS_FAULT holds one)", fault.text));
    }
    if (fault.rank >= o.ranks) throw UsageError(fmt::format("--inject '{}': rank {} does not exist", fault.text, fault.rank));
    if (fault.action == Fault::Action::kill_node) {
      const auto& all = pool.nodes();
      if (std::none_of(all.begin(), all.end(), [&](const Node& n) { return n.name == fault.node; })) {
        throw UsageError(fmt::format("--inject '{}': no node named {}", fault.text, fault.node));
      }
    }
  }
  std::unique_ptr<LaunchBackend> backend;
  if (o.launcher == "srun") {
    SrunSettings settings;
    settings.srun = o.srun;
    settings.job_id = o.slurm_job_id;
    settings.extra_arguments = split_words(o.srun_args);
    settings.probe_timeout = std::chrono::milliseconds(static_cast<long>(o.probe_timeout_seconds * 1000));
    backend = make_srun_backend(std::move(settings));
  } else {
    backend = make_mpirun_backend(o.mpirun, split_words(o.mpirun_args));
  }
  auto resources = o.slurm_job_id.empty() ? no_resource_manager() : slurm_resource_manager(o.slurm_job_id);
  std::optional<Supervisor> supervisor;
  try {
    supervisor.emplace(o, std::move(faults), std::move(pool), std::move(backend), std::move(resources));
  } catch (const ListenError& error) {
    throw UsageError(fmt::format("--listen {}: {}", o.listen_address, error.what()));
  }
  return supervisor->run();
}

}  // namespace lazarus::launcher
