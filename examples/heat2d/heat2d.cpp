// heat2d: explicit 2-D heat diffusion on an N x N grid, made restartable with Lazarus.
//
//   mpirun -np 4 heat2d [--n N] [--steps S] [--checkpoint-every K] [--dir DIR] [--job NAME]
//
// Each rank protects its block of the temperature field and the step counter. At start it restores
// the newest checkpoint of the job if there is one, so rerunning a killed job continues where the
// last checkpoint left it, and ends with the same checksum as an uninterrupted run. When `lazarus
// run` asks the job to stop (Session::should_stop(), before a Slurm time limit for instance), it takes
// a final checkpoint and ends with status 0, without a checksum: the next run resumes from there.
#include <mpi.h>
#include <xxhash.h>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <lazarus/lazarus.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>
#include <thread>

#include "grid.hpp"

namespace {

// MPI_Init/MPI_Finalize as a scope: everything MPI-owning in main lives inside it.
class MpiEnvironment {
 public:
  MpiEnvironment(int& argc, char**& argv) { MPI_Init(&argc, &argv); }
  ~MpiEnvironment() { MPI_Finalize(); }
  MpiEnvironment(const MpiEnvironment&) = delete;
  MpiEnvironment& operator=(const MpiEnvironment&) = delete;
};

constexpr std::int64_t kStopCheckEvery = 10;  // steps between two Session::should_stop() calls

struct Settings {
  std::size_t n = 2048;
  std::int64_t steps = 7500;
  std::int64_t checkpoint_every = 500;
  int pause_ms = 0;  // sleep after each step: stretches a small run over time (demos, time-limit tests)
  lazarus::Options options;
};

// Rank 0 speaks for the job; flushed at once so that a watcher (or a kill) sees every line.
template <class... Args>
void say(int rank, fmt::format_string<Args...> format, Args&&... args) {
  if (rank != 0) return;
  fmt::print(format, std::forward<Args>(args)...);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

// Reports an error and ends the whole job (other ranks may be blocked in a collective). heat2d's
// errors happen alike on every rank (Lazarus agrees on collective failures), so rank 0 reports and
// aborts; another rank reports only if it is still alive after a grace period, having failed alone.
[[noreturn]] void fail(int rank, const char* what) {
  if (rank != 0) std::this_thread::sleep_for(std::chrono::seconds(2));
  std::fprintf(stderr, "heat2d: error: %s\n", what);
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::abort();  // MPI_Abort does not return
}

int run(const Settings& s, int world_rank) {
  heat2d::Grid grid(MPI_COMM_WORLD, s.n);
  lazarus::Session session(grid.comm(), s.options);

  std::int64_t step = 0;
  session.protect("temperature", grid.field(), grid.shape());
  session.protect("step", step);

  say(world_rank, "heat2d: {0}x{0} grid on {1} ranks ({2}x{3}), {4} steps, checkpoint every {5}, job {6}",
      s.n, grid.size(), grid.dims(0), grid.dims(1), s.steps,
      s.checkpoint_every > 0 ? fmt::format("{} steps", s.checkpoint_every) : std::string("never"),
      (s.options.dir / s.options.job).string());

  if (const auto version = session.restore()) {
    grid.adopt_state();
    if (step < 0 || step > s.steps) {
      throw std::runtime_error(fmt::format("checkpoint version {} is at step {}, past --steps {}",
                                           *version, step, s.steps));
    }
    say(world_rank, "resumed from checkpoint version {} at step {}", *version, step);
  } else {
    say(world_rank, "starting from scratch");
  }

  const std::int64_t first = step;
  const double start = MPI_Wtime();
  std::int64_t checkpointed_at = -1;  // the step of this run's newest checkpoint
  std::uint64_t version = 0;          // and its version
  const auto checkpoint = [&] {
    grid.store_state();
    version = session.checkpoint();
    checkpointed_at = step;
    say(world_rank, "checkpoint version {} at step {}", version, step);
  };
  while (step < s.steps) {
    grid.step();
    ++step;
    if (s.pause_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(s.pause_ms));
    // No checkpoint after the last step: the job is done and prints its result instead.
    if (s.checkpoint_every > 0 && step % s.checkpoint_every == 0 && step < s.steps) checkpoint();
    // should_stop() is an allreduce over every rank (a step's halo exchange is between neighbours
    // only) and a message to the launcher: every kStopCheckEvery steps it costs little on small grids,
    // and a stop still comes within milliseconds. The same steps on every rank, as it is collective.
    if (step % kStopCheckEvery == 0 && step < s.steps && session.should_stop()) {
      if (checkpointed_at != step) checkpoint();
      say(world_rank, "stopping at step {} on the launcher's request (final checkpoint version {})", step, version);
      return 0;  // no checksum: the job is not done (in async mode the Session's end commits the checkpoint)
    }
  }
  const double seconds = MPI_Wtime() - start;

  const std::vector<double> global = grid.gather_interior();
  say(world_rank, "done: {} steps in this run ({} to {}) in {:.2f} s", step - first, first, step, seconds);
  if (world_rank == 0) {
    const XXH64_hash_t hash = XXH3_64bits(global.data(), global.size() * sizeof(double));
    say(world_rank, "checksum: {:016x}", static_cast<std::uint64_t>(hash));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  MpiEnvironment mpi(argc, argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);

  try {
    Settings s;
    s.options = lazarus::Options::from_env();
    std::string dir = s.options.dir.string();

    CLI::App app{"heat2d: 2-D heat diffusion (5-point Jacobi) on an N x N grid, checkpointed with Lazarus.\n"
                 "Rerun a killed job with the same --dir, --job, --n and rank count to resume it."};
    app.option_defaults()->always_capture_default();
    app.add_option("--n", s.n, "Global grid size: the interior is N x N cells")
        ->check(CLI::Range(std::size_t{2}, std::size_t{32768}));
    app.add_option("--steps", s.steps, "Total number of time steps of the job")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--checkpoint-every", s.checkpoint_every, "Checkpoint every K steps (0 = never)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--pause-ms", s.pause_ms,
                   "Sleep this many milliseconds after each step, to stretch a small run over time (to watch it, or "
                   "to reach a time limit in a test); the results do not change")
        ->check(CLI::Range(0, 60000));
    app.add_option("--dir", dir, "Checkpoint root directory; defaults to $LAZARUS_DIR, else ./lazarus-ckpt");
    app.add_option("--job", s.options.job,
                   "Job name, a folder under --dir; defaults to $LAZARUS_JOB, else default");
    app.footer("Other checkpoint settings come from the environment: LAZARUS_KEEP, LAZARUS_COMPRESS,\n"
               "LAZARUS_CHUNK_BYTES, LAZARUS_VERBOSE. Output ends with `checksum: <hex>`, a hash of the\n"
               "whole field that does not depend on the rank count or on interruptions (or, when `lazarus\n"
               "run` asks the job to stop, with `stopping at step S ...` after a final checkpoint).");
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      // Every rank parses the same argv; only rank 0 prints help or the error.
      return rank == 0 ? app.exit(e) : e.get_exit_code();
    }
    s.options.dir = dir;
    return run(s, rank);
  } catch (const lazarus::Error& e) {
    fail(rank, e.what());
  } catch (const std::exception& e) {
    fail(rank, e.what());
  }
}
