#include "launcher/supervision/supervisor.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <random>
#include <system_error>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "launcher/cli/exit_codes.hpp"
#include "launcher/process/private_folder.hpp"
#include "launcher/process/process_tools.hpp"
#include "lazarus/options.hpp"
#include "runtime/format/manifest.hpp"
#include "runtime/levels/scavenge.hpp"
#include "runtime/format/version_catalog.hpp"

namespace lazarus::launcher {
namespace {

volatile std::sig_atomic_t interrupted = 0;
extern "C" void on_interrupt(int signal) { interrupted = signal; }
// SIGUSR1 (e.g. from `#SBATCH --signal=B:USR1@300`): take a final checkpoint and stop.
volatile std::sig_atomic_t stop_signalled = 0;
extern "C" void on_stop_signal(int /*signal*/) { stop_signalled = 1; }

std::string random_token() {
  std::random_device device;
  std::string token;
  for (int i = 0; i < 4; ++i) token += fmt::format("{:08x}", device());
  return token;
}

double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

// Room for every rank, and for a node's ranks connecting at once over TCP from one address.
HeartbeatServer::Limits listener_limits(int ranks, int ranks_per_node) {
  HeartbeatServer::Limits limits;
  limits.ranks = static_cast<std::size_t>(ranks);
  limits.unauthenticated_per_source = std::max<std::size_t>(limits.unauthenticated_per_source,
                                                            2 * static_cast<std::size_t>(ranks_per_node));
  limits.unauthenticated = std::max(limits.unauthenticated, limits.unauthenticated_per_source);
  return limits;
}

// Where the heartbeat's Unix socket folder goes: $TMPDIR, unless its path would not fit a socket address.
std::filesystem::path unix_socket_parent() {
  std::error_code error;
  const auto temporary = std::filesystem::temp_directory_path(error);
  if (!error && temporary.string().size() < 64) return temporary;
  return "/tmp";
}

// How long the launch command may outlive the last rank before what keeps it alive is ended: mpirun
// and srun end well within it once their ranks are gone.
constexpr auto kLingerGrace = std::chrono::seconds(3);

// "1234 (sleep)" for each pid.
std::vector<std::string> describe_processes(const std::vector<pid_t>& pids) {
  std::vector<std::string> described;
  for (pid_t pid : pids) described.push_back(fmt::format("{} ({})", pid, command_name(pid)));
  return described;
}

double unix_seconds_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

Supervisor::Supervisor(RunOptions options, std::vector<Fault> faults, NodePool nodes,
                       std::unique_ptr<LaunchBackend> backend, std::unique_ptr<ResourceManager> resources)
    : options_(std::move(options)),
      faults_(std::move(faults)),
      nodes_(std::move(nodes)),
      backend_(std::move(backend)),
      resources_(std::move(resources)),
      token_(random_token()),
      start_(Clock::now()),
      server_(options_.listen_address, options_.advertised_address, token_,
              listener_limits(options_.ranks, nodes_.ranks_per_node()),
              unix_socket_parent()),
      events_(options_.events_file, start_),
      policy_(options_.max_restarts) {}

std::map<std::string, std::filesystem::path> Supervisor::local_job_dirs() const {
  std::map<std::string, std::filesystem::path> dirs;
  if (!nodes_.logical()) return dirs;  // real hosts' local folders are not readable from here
  for (const Node& node : nodes_.nodes()) dirs[node.name] = node.local_dir / options_.job;
  return dirs;
}

std::pair<std::uint64_t, std::optional<double>> Supervisor::newest_complete_version() const {
  // The node-local levels (what the ranks will try first) and the global level, whichever is newer.
  const auto dirs = local_job_dirs();
  auto newest = detail::newest_local_version(dirs);
  const auto global = newest_global_version();
  if (global.first > newest.first) newest = global;
  // Real hosts' local folders cannot be read from here: what the ranks reported committed stands for
  // them (each rank reports a version only once it is complete on every rank).
  if (dirs.empty() && newest_reported_ > newest.first) newest = {newest_reported_, newest_reported_unix_};
  return newest;
}

std::pair<std::uint64_t, std::optional<double>> Supervisor::newest_global_version() const {
  const auto job_dir = options_.dir / options_.job;
  try {
    const auto complete = detail::scan_versions(job_dir).complete;
    for (auto version = complete.rbegin(); version != complete.rend(); ++version) {
      try {
        const auto manifest = detail::read_version_manifest(detail::version_directory(job_dir, *version), *version);
        return {*version, static_cast<double>(manifest.created_unix_ms) / 1000.0};
      } catch (const std::exception&) {
        continue;  // a damaged version: the ranks will skip it too
      }
    }
  } catch (const std::exception&) {
  }
  return {0, std::nullopt};
}

LaunchPlan Supervisor::plan_for(int attempt, const std::string& shm_dir) const {
  LaunchPlan plan;
  plan.ranks = options_.ranks;
  plan.logical_nodes = nodes_.logical();
  plan.command = options_.command;
  plan.name = fmt::format("lazarus-{}-{}", token_.substr(0, 8), attempt);
  plan.environment = {{"LAZARUS_DIR", options_.dir.string()},
                      {"LAZARUS_JOB", options_.job},
                      {"LAZARUS_LAUNCHER", server_.address()},
                      {"LAZARUS_LAUNCHER_TOKEN", token_},
                      {"LAZARUS_LAUNCHER_SOCKET", server_.local_socket().string()},
                      {"LAZARUS_LAUNCHER_BOOT_ID", detail::this_machine_boot_id()},
                      {"LAZARUS_HEARTBEAT", fmt::format("{}", options_.heartbeat_seconds)},
                      {"LAZARUS_ATTEMPT", std::to_string(attempt)}};
  // Open MPI's shared-memory segments of this attempt go to a folder removed at teardown.
  if (!shm_dir.empty()) plan.mca = {{"btl_vader_backing_directory", shm_dir}};
  // Slurm: one value for every rank; the runtime puts each node's name in place of %N.
  if (!options_.node_local_dir.empty()) plan.environment["LAZARUS_LOCAL_DIR"] = options_.node_local_dir;
  for (const Fault& fault : faults_) {
    if (fault.action != Fault::Action::crash || fault.attempt != attempt) continue;
    std::string spec = fmt::format("{},rank={}", fault.point, fault.rank);
    if (fault.version) spec += fmt::format(",version={}", *fault.version);
    plan.environment["LAZARUS_FAULT"] = spec;
  }
  int remaining = options_.ranks;
  for (const Node* node : nodes_.hosting()) {
    NodeGroup group{node->name, std::min(remaining, nodes_.ranks_per_node()), {}};
    remaining -= group.ranks;
    if (nodes_.logical()) {
      group.environment = {{"LAZARUS_NODE", node->name}, {"LAZARUS_LOCAL_DIR", node->local_dir.string()}};
    }
    plan.groups.push_back(std::move(group));
  }
  return plan;
}

void Supervisor::fire_due_faults(const FailureDetector& detector, int attempt) {
  const double elapsed = seconds_between(start_, Clock::now());
  for (Fault& fault : faults_) {
    if (fault.fired || fault.action == Fault::Action::crash || elapsed < fault.after_seconds) continue;
    if (newest_reported_ < fault.after_checkpoint) continue;
    // Only ranks whose pid the launcher verified (connected over its Unix socket: this machine) can be
    // signalled, and only while that pid is still a process of the job.
    std::vector<int> ranks = fault.action == Fault::Action::kill_node ? detector.ranks_on(fault.node)
                                                                       : std::vector<int>{fault.rank};
    std::erase_if(ranks, [&](int rank) {
      const auto pid = detector.pid_of(rank);
      return !pid || !started_by_job(*pid, token_);
    });
    if (ranks.empty()) continue;  // not started yet (or elsewhere): fire once its ranks said hello here
    const int signal = fault.action == Fault::Action::stop ? SIGSTOP : SIGKILL;
    for (int rank : ranks) {
      ::kill(*detector.pid_of(rank), signal);
      injected_signals_[*detector.pid_of(rank)] = signal;
    }
    if (fault.action == Fault::Action::kill_node && nodes_.logical()) {
      for (const Node& node : nodes_.nodes()) {
        std::error_code ignored;  // already gone is fine
        if (node.name == fault.node) std::filesystem::remove_all(node.local_dir, ignored);
      }
    }
    fault.fired = true;
    last_fault_at_ = Clock::now();
    events_.record("fault_injected",
                   {{"fault", fault.text}, {"attempt", attempt}, {"ranks", ranks}, {"signal", signal}},
                   fmt::format("injected fault '{}': SIG{} sent to rank{} {}{}", fault.text, sigabbrev_np(signal),
                               ranks.size() > 1 ? "s" : "", fmt::join(ranks, ","),
                               fault.action == Fault::Action::kill_node ? " (node's local folder removed)" : ""));
  }
}

bool Supervisor::caused_by_launcher(Failure& failure, const FailureDetector& detector, int attempt,
                                    Clock::time_point launched_at) {
  bool injected = false;
  if (auto pid = detector.pid_of(failure.rank); pid && injected_signals_.contains(*pid)) {
    const int signal = injected_signals_[*pid];
    failure.cause = fmt::format("signal {} ({}) sent by --inject", signal, strsignal(signal));
    failure.signal = signal;
    failure.exit_code.reset();
    injected = true;
  }
  // An injected fault is the known cause, whichever rank was noticed first: measure detection from it.
  if (last_fault_at_ && *last_fault_at_ > launched_at && *last_fault_at_ <= failure.detected_at) {
    failure.evidence_at = *last_fault_at_;
    injected = true;
  }
  // A crash point (LAZARUS_FAULT) makes its rank SIGKILL itself. Its wait status is often gone
  // (mpirun's daemon reaps its ranks): a death of that rank counts as the crash unless its cause is
  // known to be another.
  const bool may_be_sigkill = !failure.exit_code && (!failure.signal || *failure.signal == SIGKILL);
  for (const Fault& fault : faults_) {
    if (!injected && fault.action == Fault::Action::crash && fault.attempt == attempt &&
        failure.kind == "rank_died" && fault.rank == failure.rank && may_be_sigkill) {
      failure.cause += fmt::format(" at crash point {} (--inject)", fault.point);
      injected = true;
    }
  }
  return injected;
}

Supervisor::AttemptOutcome Supervisor::run_attempt(int attempt) {
  // Open MPI's shared-memory files get a folder of their own when every rank runs on this host.
  // Without it (/dev/shm full, or not writable) the attempt still runs, with Open MPI's default
  // place: the event says so.
  std::optional<PrivateFolder> shm_dir;
  if (nodes_.logical()) {
    try {
      shm_dir.emplace("/dev/shm", "lazarus-");
    } catch (const std::system_error& error) {
      events_.record("warning", {{"attempt", attempt}, {"what", error.what()}},
                     fmt::format("warning: {}; attempt {} keeps Open MPI's shared-memory files in its default place",
                                 error.what(), attempt));
    }
  }
  const std::string shm_path = shm_dir ? shm_dir->path().string() : "";
  nodes_.prepare_local_dirs();
  const LaunchPlan plan = plan_for(attempt, shm_path);
  std::map<std::string, std::string> environment = plan.environment;
  std::vector<std::string> hosting;
  for (const Node* node : nodes_.hosting()) hosting.push_back(node->name);
  events_.record("launch", {{"attempt", attempt}, {"nodes", hosting}, {"ranks", options_.ranks},
                            {"heartbeat_address", server_.address()}, {"shm_dir", shm_path},
                            {"launcher", backend_->name()}, {"slurm_job", resources_->job_id()},
                            {"spares", nodes_.spares_left()},
                            {"command", backend_->command_line(plan)}},
                 fmt::format("launch: attempt {} with {} ranks on nodes {} ({} spare{} left)", attempt, options_.ranks,
                             fmt::join(hosting, ","), nodes_.spares_left(), nodes_.spares_left() == 1 ? "" : "s"));
  const auto launched_at = Clock::now();
  attempt_started_unix_ = unix_seconds_now();
  SessionLeader job(backend_->command_line(plan), environment);
  FailureDetector detector(options_.ranks, options_.hang_timeout_seconds, options_.heartbeat_seconds);
  AttemptOutcome outcome;
  bool resumed_reported = false;
  // When every rank was first seen ended (max: not yet).
  Clock::time_point ranks_ended_at = Clock::time_point::max();
  bool lingering_ended = false;
  std::uint64_t checkpoint_reported = 0;
  int rejected_reported = 0;

  while (!outcome.finished && !outcome.failure) {
    if (interrupted) break;
    for (const ServerEvent& event : server_.poll(std::chrono::milliseconds(10))) {
      if (event.kind == ServerEvent::Kind::rejected) {
        // A flood must not flood the log: the first few, then one line per 100.
        if (++rejected_reported <= 5 || rejected_reported % 100 == 0) {
          events_.record("connection_rejected", {{"reason", event.reason}, {"count", rejected_reported}},
                         fmt::format("rejected a heartbeat connection: {} ({} so far)", event.reason, rejected_reported));
        }
        continue;
      }
      if (event.kind == ServerEvent::Kind::closed) {
        // The first connection that closes is the failure: the ones after it in the same batch are
        // usually its consequence (the launcher tearing the job down), and would hide its cause.
        auto failure = detector.closed(event.connection, event.at);
        if (failure && !outcome.failure) outcome.failure = failure;
        continue;
      }
      if (event.message.type == detail::MessageType::hello) {
        const auto registration = event.message.attempt == attempt
                                      ? detector.hello(event.connection, event.message, event.verified, event.at)
                                      : FailureDetector::Registration{};
        if (!registration.accepted) {
          server_.drop(event.connection);
          events_.record("connection_rejected", {{"reason", "unexpected hello"}, {"rank", event.message.rank}},
                         fmt::format("ignored a hello from rank {} of attempt {}", event.message.rank, event.message.attempt));
        }
        if (registration.displaced) {
          server_.drop(*registration.displaced);
          events_.record("connection_rejected", {{"reason", "unverified claim replaced"}, {"rank", event.message.rank}},
                         fmt::format("dropped an unverified TCP connection that claimed rank {}: the rank itself "
                                     "connected over the Unix socket", event.message.rank));
        }
        continue;
      }
      detector.message(event.connection, event.message, event.at);
    }
    if (detector.newest_checkpoint() > checkpoint_reported) {
      checkpoint_reported = detector.newest_checkpoint();  // every rank reports it; one line per version
      if (checkpoint_reported > newest_reported_) {
        newest_reported_ = checkpoint_reported;
        newest_reported_unix_ = unix_seconds_now();
      }
      events_.record("checkpoint", {{"attempt", attempt}, {"version", checkpoint_reported}},
                     fmt::format("checkpoint version {} committed", checkpoint_reported));
    }
    if (!resumed_reported && detector.restored_version()) {
      resumed_reported = true;
      const std::uint64_t version = *detector.restored_version();
      nlohmann::json fields = {{"attempt", attempt}, {"version", version},
                               {"seconds_since_launch", seconds_between(launched_at, *detector.restored_at())}};
      if (last_fault_at_) fields["seconds_since_failure"] = seconds_between(*last_fault_at_, *detector.restored_at());
      std::string from;
      if (!detector.restored_level().empty()) {
        fields["level"] = detector.restored_level();
        fields["detail"] = detector.restored_detail();
        from = fmt::format(" from the {} level", detector.restored_level());
        if (!detector.restored_detail().empty()) from += " (" + detector.restored_detail() + ")";
      }
      events_.record("resumed", fields,
                     version > 0 ? fmt::format("resumed: all ranks restored checkpoint version {}{} ({:.3f} s after launch)",
                                               version, from, seconds_between(launched_at, *detector.restored_at()))
                                 : "started: no checkpoint to restore, all ranks start from scratch");
    }
    fire_due_faults(detector, attempt);
    if (outcome.failure) break;
    if (!resources_->job_id().empty() && Clock::now() - time_limit_checked_ > std::chrono::seconds(60)) {
      refresh_time_limit();  // an administrator may have changed the limit
    }
    if (stop_requested_at_ || stop_reason()) request_stop(attempt, detector);
    if (auto status = job.poll_exit()) {
      if (WIFEXITED(*status) && WEXITSTATUS(*status) == 0) {
        outcome.finished = true;
        outcome.stopped = detector.stopping();
      } else {
        Failure failure;
        failure.kind = "job_exited";
        failure.set_wait_status(*status);
        failure.detected_by = backend_->name() + " exited";  // "mpirun exited", "srun exited"
        failure.detected_at = Clock::now();
        failure.evidence_at = failure.detected_at;
        outcome.failure = failure;
      }
      break;
    }
    outcome.failure = detector.check_hangs(Clock::now());
    // Every rank ended, yet the launch command does not: a process the job left behind (a daemon
    // holding mpirun's output open) keeps it alive. Those processes are ended and reported.
    if (!detector.every_rank_ended()) {
      ranks_ended_at = Clock::time_point::max();
    } else if (ranks_ended_at == Clock::time_point::max()) {
      ranks_ended_at = Clock::now();
    } else if (!lingering_ended && Clock::now() - ranks_ended_at > kLingerGrace) {
      lingering_ended = true;
      end_lingering_processes(job, attempt, "every rank ended, but the launch command still runs");
    }
  }

  if (outcome.failure) {
    Failure& failure = *outcome.failure;
    outcome.injected = caused_by_launcher(failure, detector, attempt, launched_at);
    const double latency = seconds_between(failure.evidence_at, failure.detected_at);
    const auto number_or_null = [](std::optional<int> value) { return value ? nlohmann::json(*value) : nlohmann::json(); };
    events_.record("failure",
                   {{"attempt", attempt}, {"kind", failure.kind}, {"rank", failure.rank}, {"node", failure.node},
                    {"cause", failure.cause}, {"exit_code", number_or_null(failure.exit_code)},
                    {"signal", number_or_null(failure.signal)}, {"injected", outcome.injected},
                    {"detected_by", failure.detected_by}, {"detection_latency_s", latency}},
                   fmt::format("failure: {}{}{}: {}; detected by {} after {:.3f} s", failure.kind,
                               failure.rank >= 0 ? fmt::format(" of rank {}", failure.rank) : "",
                               failure.node.empty() ? "" : fmt::format(" on node {}", failure.node), failure.cause,
                               failure.detected_by, latency));
  }
  const auto teardown_start = Clock::now();
  if (!outcome.finished) backend_->end_remote_processes(plan);
  // What a finished job left running on this machine is reported before it is ended.
  if (outcome.finished) end_lingering_processes(job, attempt, "the job finished, but these processes still run");
  // Only this machine's processes are signalled: the job's session and whatever descends from the
  // launcher (mpirun takes the remote ranks down with it).
  const auto survivors = job.kill_all(std::chrono::milliseconds(2000));
  server_.drop_all();
  if (!outcome.finished || !survivors.empty()) {
    events_.record("teardown", {{"attempt", attempt}, {"seconds", seconds_between(teardown_start, Clock::now())},
                                {"survivors", survivors.size()}, {"survivor_processes", describe_processes(survivors)}},
                   fmt::format("teardown: attempt {} stopped in {:.3f} s{}", attempt,
                               seconds_between(teardown_start, Clock::now()),
                               survivors.empty() ? ", no process left"
                                                 : fmt::format(", {} processes survive SIGKILL: {}", survivors.size(),
                                                               fmt::join(describe_processes(survivors), ", "))));
  }
  return outcome;
}

void Supervisor::end_lingering_processes(SessionLeader& job, int attempt, const std::string& why) {
  const auto lingering = job.job_processes();
  if (lingering.empty()) return;
  const auto described = describe_processes(lingering);
  events_.record("lingering", {{"attempt", attempt}, {"processes", described}},
                 fmt::format("lingering: {}: {}; ending them", why, fmt::join(described, ", ")));
  for (pid_t pid : lingering) ::kill(pid, SIGKILL);
}

void Supervisor::refresh_time_limit() {
  if (resources_->job_id().empty()) return;
  time_limit_checked_ = Clock::now();
  const auto left = resources_->seconds_left();
  if (!left) return;  // no limit, or no answer now: keep what was known
  const auto due = time_limit_checked_ + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(*left - options_.stop_before_seconds));
  // squeue has a resolution of a second: report only a real change (a new limit set by an admin).
  if (stop_due_ && std::chrono::abs(due - *stop_due_) < std::chrono::seconds(5)) return;
  stop_due_ = due;
  events_.record("time_limit", {{"job", resources_->job_id()}, {"seconds_left", *left},
                                {"stop_before_s", options_.stop_before_seconds}},
                 fmt::format("time limit: Slurm job {} ends in {:.0f} s; the job will be asked to stop {:.0f} s before",
                             resources_->job_id(), *left, options_.stop_before_seconds));
}

std::optional<std::string> Supervisor::stop_reason() const {
  if (stop_signalled) return "SIGUSR1 received";
  if (stop_due_ && Clock::now() >= *stop_due_) {
    return fmt::format("the Slurm time limit is {:.0f} s away or less", options_.stop_before_seconds);
  }
  return std::nullopt;
}

void Supervisor::request_stop(int attempt, const FailureDetector& detector) {
  const auto now = Clock::now();
  if (!stop_requested_at_) {
    stop_requested_at_ = now;
    const std::string reason = stop_reason().value_or("requested");
    events_.record("stop_requested", {{"attempt", attempt}, {"reason", reason}},
                   fmt::format("stop requested: {}; asking the job to take a final checkpoint and stop", reason));
  }
  // Ranks that connect later, or missed a line, get it at the next turn.
  if (now - stop_sent_at_ >= std::chrono::seconds(1)) {
    stop_sent_at_ = now;
    server_.send_to_all(detail::encode(detail::make_message(detail::MessageType::stop)));
  }
  if (detector.stopping() && !stopping_reported_) {
    stopping_reported_ = true;
    events_.record("stopping", {{"attempt", attempt}},
                   "stopping: the job takes its final checkpoint and ends (Session::should_stop())");
  }
}

std::vector<std::pair<std::string, std::string>> Supervisor::lost_nodes() const {
  std::vector<std::string> hosting;
  for (const Node* node : nodes_.hosting()) hosting.push_back(node->name);
  const auto silent = backend_->unreachable(hosting);
  std::vector<std::pair<std::string, std::string>> lost;
  for (const Node* node : nodes_.hosting()) {
    if (!nodes_.healthy(*node)) {
      lost.emplace_back(node->name, "its local folder is gone");
    } else if (std::find(silent.begin(), silent.end(), node->name) != silent.end()) {
      lost.emplace_back(node->name, fmt::format("it does not answer: a probe step did not run on it within {:.1f} s",
                                                options_.probe_timeout_seconds));
    }
  }
  return lost;
}

int Supervisor::finish(int status, const std::string& outcome) {
  // Whatever the outcome, the newest node-local version must not stay only on the nodes.
  if (const auto dirs = local_job_dirs(); !dirs.empty()) {
    int keep = Options{}.keep;
    try {
      keep = Options::from_env().keep;
    } catch (const std::exception&) {
    }
    const auto report = detail::scavenge(dirs, options_.dir / options_.job, keep);
    events_.record("scavenge", {{"version", report.version.value_or(0)}, {"note", report.note}},
                   fmt::format("scavenge: {}", report.note));
  }
  const auto [newest, committed] = newest_complete_version();
  events_.record("summary",
                 {{"outcome", outcome}, {"exit_status", status}, {"attempts", attempts_}, {"failures", failures_},
                  {"time_lost_s", time_lost_seconds_}, {"first_version", first_version_}, {"newest_version", newest},
                  {"elapsed_s", events_.elapsed_seconds()}},
                 fmt::format("summary: {} after {} attempt{}, {} failure{}, {:.1f} s of work lost, checkpoint versions {} to {}",
                             outcome, attempts_, attempts_ == 1 ? "" : "s", failures_, failures_ == 1 ? "" : "s",
                             time_lost_seconds_, first_version_, newest));
  return status;
}

int Supervisor::run() {
  become_subreaper();
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  std::signal(SIGHUP, on_interrupt);
  std::signal(SIGUSR1, on_stop_signal);
  first_version_ = newest_complete_version().first;
  for (int attempt = 1;; ++attempt) {
    attempts_ = attempt;
    refresh_time_limit();
    if (attempt > 1 && stop_reason()) {  // no time left for another attempt
      events_.record("stopped", {{"reason", *stop_reason()}},
                     fmt::format("stopped: {}; not restarting (resubmit the job to continue)", *stop_reason()));
      return finish(kExitStopped, "stopped");
    }
    const std::uint64_t version_before = newest_complete_version().first;
    const AttemptOutcome outcome = run_attempt(attempt);
    if (interrupted) return finish(128 + interrupted, "interrupted");
    if (outcome.stopped) {
      // The next job starts from the global level: say whether the final checkpoint reached it.
      const std::uint64_t global = newest_global_version().first;
      const bool flushed = global >= newest_reported_;
      events_.record("stopped",
                     {{"attempt", attempt}, {"reason", stop_reason().value_or("requested")},
                      {"global_version", global}, {"newest_version", newest_reported_}},
                     flushed ? fmt::format("stopped: the job took its final checkpoint (version {}, at the global level) "
                                           "and ended in attempt {}; resubmit it to continue", global, attempt)
                             : fmt::format("stopped: the job ended in attempt {}, but the global level holds version {} "
                                           "only, not version {}: a resubmitted job continues from version {} unless "
                                           "it runs on the same nodes", attempt, global, newest_reported_, global));
      return finish(kExitStopped, "stopped");
    }
    if (outcome.finished) {
      events_.record("finish", {{"attempt", attempt}}, fmt::format("finish: the job completed in attempt {}", attempt));
      return finish(kExitSuccess, "finished");
    }
    ++failures_;
    if (stop_requested_at_) {  // it failed while stopping: what is committed stays, no time for more
      events_.record("stopped", {{"attempt", attempt}, {"reason", "failed after the stop request"}},
                     "stopped: the job failed after it was asked to stop; not restarting (resubmit it to continue)");
      return finish(kExitStopped, "stopped");
    }
    const auto [version_after, committed_at] = newest_complete_version();
    // Work done in this attempt after the checkpoint it will restart from.
    const double work_lost = unix_seconds_now() - std::max(attempt_started_unix_, committed_at.value_or(0.0));
    time_lost_seconds_ += work_lost;

    // A node whose health check fails is lost: a logical node whose local folder is gone, or (srun)
    // a node where a probe step does not run. Hosts under mpirun cannot be checked from here (a lost
    // host and ranks that mpirun's abort killed look alike), so they are restarted in place.
    std::vector<std::pair<std::string, std::string>> replacements;
    for (const auto& [lost, why] : lost_nodes()) {
      auto spare = nodes_.replace(lost);
      events_.record("node_lost", {{"node", lost}, {"spare", spare ? *spare : ""}, {"why", why}},
                     fmt::format("node {} is lost ({}){}", lost, why,
                                 spare ? fmt::format("; spare {} takes its place", *spare) : "; no spare left"));
      if (!spare) return finish(kExitNoSpare, "no spare node left");
      replacements.emplace_back(lost, *spare);
    }
    const Failure& failure = *outcome.failure;
    AttemptFailure judged;
    judged.attempt = attempt;
    judged.kind = failure.kind == "hang" ? FailureKind::hang
                  : failure.kind == "job_exited" ? FailureKind::job_exited : FailureKind::rank_died;
    judged.rank = failure.rank;
    judged.exit_code = failure.exit_code;
    judged.signal = failure.signal;
    judged.injected = outcome.injected;
    judged.node_lost = !replacements.empty();
    judged.new_checkpoint = version_after > version_before;
    const RestartDecision decision = policy_.judge(judged);
    if (decision.rule == RestartDecision::Rule::no_progress) {
      events_.record("give_up", {{"rule", to_string(decision.rule)}, {"reason", "no progress"},
                                 {"evidence", decision.evidence}},
                     fmt::format("giving up (rule no_progress): the same failure twice without a new checkpoint, "
                                 "so the failure is in the application: {}", fmt::join(decision.evidence, "; ")));
      return finish(kExitNoProgress, "no progress");
    }
    if (decision.rule == RestartDecision::Rule::restarts_exhausted) {
      events_.record("give_up", {{"rule", to_string(decision.rule)}, {"reason", "restarts exhausted"},
                                 {"max_restarts", options_.max_restarts}, {"evidence", decision.evidence}},
                     fmt::format("giving up (rule restarts_exhausted): {} failures, more than --max-restarts {}: {}",
                                 policy_.failures(), options_.max_restarts, fmt::join(decision.evidence, "; ")));
      return finish(kExitRestartsExhausted, "restarts exhausted");
    }
    nlohmann::json replaced = nlohmann::json::array();
    for (const auto& [lost, spare] : replacements) replaced.push_back({{"lost", lost}, {"spare", spare}});
    std::string substitution;
    for (const auto& [lost, spare] : replacements) substitution += fmt::format(", spare {} replaces {}", spare, lost);
    events_.record("restart",
                   {{"attempt", attempt + 1}, {"replaced", replaced}, {"version", version_after}, {"work_lost_s", work_lost},
                    {"counted", decision.counted}, {"policy", decision.note}},
                   fmt::format("restart: attempt {}{}, restoring checkpoint version {} ({:.1f} s of work lost since it); {}",
                               attempt + 1, substitution, version_after, work_lost, decision.note));
  }
}

}  // namespace lazarus::launcher
