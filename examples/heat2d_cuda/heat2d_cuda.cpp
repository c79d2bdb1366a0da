// heat2d_cuda: heat2d's 2-D heat diffusion with the field on the GPU, made restartable with Lazarus.
//
//   mpirun -np 4 heat2d_cuda [--n N] [--steps S] [--checkpoint-every K] [--dir DIR] [--job NAME]
//
// The N x N grid is split into blocks of rows, one per rank; each rank keeps its rows (with one halo
// row above and below) in device memory, updates them with a CUDA kernel, and exchanges halo rows
// with its neighbours through host buffers. Lazarus protects the device field (protect_device) and
// the step counter; a killed run started again continues from the newest checkpoint and ends with
// the same checksum as an uninterrupted one. Ranks pick a GPU by their rank on the node. When `lazarus
// run` asks the job to stop (Session::should_stop()), it takes a final checkpoint and ends with status
// 0, without a checksum.
#include <cuda_runtime_api.h>
#include <mpi.h>
#include <xxhash.h>

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <lazarus/lazarus.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "jacobi.hpp"

namespace {

constexpr double kHotEdge = 1.0;   // above the grid
constexpr double kColdEdge = 0.0;  // the other sides
constexpr double kInitial = 0.5;
constexpr std::int64_t kStopCheckEvery = 10;  // steps between two Session::should_stop() calls

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw std::runtime_error(fmt::format("{}: {}", what, cudaGetErrorString(status)));
}

// Device memory owned for the scope.
class DeviceArray {
 public:
  explicit DeviceArray(std::size_t count) : count_(count) {
    check(cudaMalloc(reinterpret_cast<void**>(&data_), count * sizeof(double)), "cudaMalloc");
  }
  ~DeviceArray() { cudaFree(data_); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  double* get() const noexcept { return data_; }
  std::size_t size() const noexcept { return count_; }

 private:
  double* data_ = nullptr;
  std::size_t count_ = 0;
};

class MpiEnvironment {
 public:
  MpiEnvironment(int& argc, char**& argv) { MPI_Init(&argc, &argv); }
  ~MpiEnvironment() { MPI_Finalize(); }
  MpiEnvironment(const MpiEnvironment&) = delete;
  MpiEnvironment& operator=(const MpiEnvironment&) = delete;
};

struct Settings {
  std::size_t n = 1024;
  std::int64_t steps = 4000;
  std::int64_t checkpoint_every = 200;
  lazarus::Options options;
};

template <class... Args>
void say(int rank, fmt::format_string<Args...> format, Args&&... args) {
  if (rank != 0) return;
  fmt::print(format, std::forward<Args>(args)...);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

int run(const Settings& s, int rank, int size) {
  if (s.n % static_cast<std::size_t>(size) != 0) {
    throw std::invalid_argument(fmt::format("--n {} is not a multiple of the {} ranks", s.n, size));
  }
  // One GPU per rank where there are several, else shared: by rank on the node.
  MPI_Comm node = MPI_COMM_NULL;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
  int local_rank = 0;
  MPI_Comm_rank(node, &local_rank);
  MPI_Comm_free(&node);
  int devices = 0;
  check(cudaGetDeviceCount(&devices), "cudaGetDeviceCount");
  check(cudaSetDevice(local_rank % devices), "cudaSetDevice");

  const std::size_t rows = s.n / static_cast<std::size_t>(size);
  const std::size_t ld = s.n + 2;
  DeviceArray a((rows + 2) * ld);
  DeviceArray b((rows + 2) * ld);
  {  // initial state: interior kInitial, sides cold, the global top edge hot
    std::vector<double> host((rows + 2) * ld, kInitial);
    for (std::size_t i = 0; i < rows + 2; ++i) host[i * ld] = host[i * ld + ld - 1] = kColdEdge;
    for (std::size_t j = 0; j < ld; ++j) {
      if (rank == 0) host[j] = kHotEdge;
      if (rank == size - 1) host[(rows + 1) * ld + j] = kColdEdge;
    }
    check(cudaMemcpy(a.get(), host.data(), host.size() * sizeof(double), cudaMemcpyHostToDevice), "cudaMemcpy");
    check(cudaMemcpy(b.get(), host.data(), host.size() * sizeof(double), cudaMemcpyHostToDevice), "cudaMemcpy");
  }
  double* cur = a.get();
  double* next = b.get();

  lazarus::Session session(MPI_COMM_WORLD, s.options);
  std::int64_t step = 0;
  session.protect_device("temperature", a.get(), a.size(), {rows + 2, ld});
  session.protect("step", step);
  say(rank, "heat2d_cuda: {0}x{0} grid on {1} ranks ({2} GPU{3}), {4} steps, checkpoint every {5}", s.n, size,
      devices, devices == 1 ? "" : "s", s.steps, s.checkpoint_every);
  if (const auto version = session.restore()) {
    say(rank, "resumed from checkpoint version {} at step {}", *version, step);
  } else {
    say(rank, "starting from scratch");
  }

  const int up = rank > 0 ? rank - 1 : MPI_PROC_NULL;
  const int down = rank < size - 1 ? rank + 1 : MPI_PROC_NULL;
  std::vector<double> send_top(ld), send_bottom(ld), recv_top(ld), recv_bottom(ld);
  std::int64_t checkpointed_at = -1;  // the step of this run's newest checkpoint
  std::uint64_t version = 0;          // and its version
  const auto checkpoint = [&] {
    if (cur != a.get()) {  // the protected buffer must hold the current state
      check(cudaMemcpy(a.get(), cur, a.size() * sizeof(double), cudaMemcpyDeviceToDevice), "store state");
      std::swap(cur, next);
    }
    version = session.checkpoint();
    checkpointed_at = step;
    say(rank, "checkpoint version {} at step {}", version, step);
  };
  while (step < s.steps) {
    // Halos: my first and last rows to my neighbours, theirs into my halo rows.
    check(cudaMemcpy(send_top.data(), cur + ld, ld * sizeof(double), cudaMemcpyDeviceToHost), "halo out");
    check(cudaMemcpy(send_bottom.data(), cur + rows * ld, ld * sizeof(double), cudaMemcpyDeviceToHost), "halo out");
    MPI_Sendrecv(send_top.data(), static_cast<int>(ld), MPI_DOUBLE, up, 0, recv_bottom.data(), static_cast<int>(ld),
                 MPI_DOUBLE, down, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    MPI_Sendrecv(send_bottom.data(), static_cast<int>(ld), MPI_DOUBLE, down, 1, recv_top.data(), static_cast<int>(ld),
                 MPI_DOUBLE, up, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (up != MPI_PROC_NULL) check(cudaMemcpy(cur, recv_top.data(), ld * sizeof(double), cudaMemcpyHostToDevice), "halo in");
    if (down != MPI_PROC_NULL) {
      check(cudaMemcpy(cur + (rows + 1) * ld, recv_bottom.data(), ld * sizeof(double), cudaMemcpyHostToDevice), "halo in");
    }
    check(heat2d_cuda::jacobi_step(cur, next, rows, s.n), "jacobi");
    std::swap(cur, next);
    ++step;
    if (s.checkpoint_every > 0 && step % s.checkpoint_every == 0 && step < s.steps) checkpoint();
    // should_stop() is an allreduce over every rank (the halo exchange is between neighbours only)
    // and a message to the launcher: every kStopCheckEvery steps it costs little, and a stop still
    // comes within milliseconds. The same steps on every rank, as it is collective.
    if (step % kStopCheckEvery == 0 && step < s.steps && session.should_stop()) {
      if (checkpointed_at != step) checkpoint();
      say(rank, "stopping at step {} on the launcher's request (final checkpoint version {})", step, version);
      return 0;  // no checksum: the job is not done
    }
  }
  // The interior rows, gathered on rank 0 in global order: the checksum does not depend on restarts.
  std::vector<double> mine(rows * s.n);
  for (std::size_t i = 0; i < rows; ++i) {
    check(cudaMemcpy(mine.data() + i * s.n, cur + (i + 1) * ld + 1, s.n * sizeof(double), cudaMemcpyDeviceToHost),
          "gather");
  }
  std::vector<double> all(rank == 0 ? s.n * s.n : 0);
  MPI_Gather(mine.data(), static_cast<int>(mine.size()), MPI_DOUBLE, all.data(), static_cast<int>(mine.size()),
             MPI_DOUBLE, 0, MPI_COMM_WORLD);
  if (rank == 0) say(rank, "checksum: {:016x}", static_cast<std::uint64_t>(XXH3_64bits(all.data(), all.size() * 8)));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  MpiEnvironment mpi(argc, argv);
  int rank = 0;
  int size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  try {
    Settings s;
    s.options = lazarus::Options::from_env();
    std::string dir = s.options.dir.string();
    CLI::App app{"heat2d_cuda: heat2d with the field on the GPU, checkpointed with Lazarus (protect_device)."};
    app.add_option("--n", s.n, "Global grid size N (a multiple of the rank count)")->check(CLI::Range(2, 32768));
    app.add_option("--steps", s.steps, "Total number of time steps")->check(CLI::NonNegativeNumber);
    app.add_option("--checkpoint-every", s.checkpoint_every, "Checkpoint every K steps (0 = never)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--dir", dir, "Checkpoint root directory (default: $LAZARUS_DIR)");
    app.add_option("--job", s.options.job, "Job name (default: $LAZARUS_JOB)");
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      return rank == 0 ? app.exit(e) : e.get_exit_code();
    }
    s.options.dir = dir;
    return run(s, rank, size);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "heat2d_cuda: rank %d: error: %s\n", rank, e.what());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  return 1;
}
