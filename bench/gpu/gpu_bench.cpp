// gpu_bench: how fast Lazarus captures, checkpoints and restores CUDA device memory
// (docs/performance.md, "GPU state"). One MPI rank, one GPU. Prints one JSON document:
//   - pinned_copy: cudaMemcpy from the device into pinned host memory (the link's speed), the baseline;
//   - capture: Lazarus's capture of a protect_device region into pinned memory (backends::DeviceCapture,
//     what checkpoint() does first), and, where async mode is available, the time checkpoint() blocks
//     in async mode (the capture as the application sees it);
//   - checkpoint / restore: a synchronous checkpoint of the whole region (capture, compression on
//     worker threads, write, fsync, commit) and a restore back into device memory.
// Methods alternate within each repetition; times are medians.
//   mpirun -np 1 gpu_bench [--bytes 4G] [--reps 3] [--dir DIR]
#include <cuda_runtime_api.h>
#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backends/cuda/device_memory.hpp"
#include "lazarus/lazarus.hpp"

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw std::runtime_error(fmt::format("{}: {}", what, cudaGetErrorString(status)));
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0 : values[values.size() / 2];
}

nlohmann::json stats(const std::vector<double>& seconds, double bytes) {
  return {{"seconds", seconds}, {"median_s", median(seconds)}, {"gbps", bytes / median(seconds) / 1e9}};
}

void drop_page_cache() {
  ::sync();
  std::ofstream("/proc/sys/vm/drop_caches") << "3\n";
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int status = 0;
  try {
    std::string bytes_text = "4G";
    int reps = 3;
    std::string dir = "./lazarus-gpu-bench";
    CLI::App app{"gpu_bench: capture, checkpoint and restore of CUDA device memory with Lazarus"};
    app.add_option("--bytes", bytes_text, "Device bytes protected (suffix K, M, G)");
    app.add_option("--reps", reps, "Repetitions")->check(CLI::PositiveNumber);
    app.add_option("--dir", dir, "Checkpoint folder (on the disk under test)");
    app.parse(argc, argv);
    const std::size_t bytes = [&] {
      const char suffix = bytes_text.back();
      const std::size_t shift = suffix == 'G' ? 30 : suffix == 'M' ? 20 : suffix == 'K' ? 10 : 0;
      return std::stoull(shift ? bytes_text.substr(0, bytes_text.size() - 1) : bytes_text) << shift;
    }();
    const std::size_t count = bytes / sizeof(double);

    int device = 0;
    check(cudaGetDevice(&device), "cudaGetDevice");
    cudaDeviceProp properties{};
    check(cudaGetDeviceProperties(&properties, device), "cudaGetDeviceProperties");
    double* state = nullptr;
    check(cudaMalloc(reinterpret_cast<void**>(&state), count * sizeof(double)), "cudaMalloc");
    {  // a smooth field (compresses like simulation data), uploaded in 256 MiB pieces
      const std::size_t piece = (std::size_t{256} << 20) / sizeof(double);
      std::vector<double> host(piece);
      for (std::size_t at = 0; at < count; at += piece) {
        const std::size_t n = std::min(piece, count - at);
        for (std::size_t i = 0; i < n; ++i) host[i] = std::sin(1e-3 * static_cast<double>(at + i)) * 100.0;
        check(cudaMemcpy(state + at, host.data(), n * sizeof(double), cudaMemcpyHostToDevice), "upload");
      }
    }
    lazarus::backends::PinnedBuffer pinned(count * sizeof(double));
    std::vector<double> copy_s, capture_s, blocking_s, checkpoint_s, restore_s;

    lazarus::Options options = lazarus::Options::from_env();
    options.dir = dir;
    options.keep = 1;
    options.job = "sync";
    lazarus::Options async_options = options;
    async_options.job = "async";
    async_options.mode = lazarus::Mode::async;
    std::optional<lazarus::Session> async_session;
    std::string async_problem;
    try {
      async_session.emplace(MPI_COMM_WORLD, async_options);
      async_session->protect_device("state", state, count);
      async_session->checkpoint();  // warm-up: allocates the pinned staging memory kept for reuse
      async_session->wait();
    } catch (const lazarus::Error& error) {
      async_problem = error.what();
      async_session.reset();
    }

    for (int rep = 0; rep < reps; ++rep) {
      auto start = Clock::now();
      check(cudaMemcpy(pinned.data(), state, count * sizeof(double), cudaMemcpyDeviceToHost), "pinned copy");
      copy_s.push_back(since(start));

      start = Clock::now();
      {
        lazarus::backends::DeviceCapture capture(state, pinned.data(), count * sizeof(double));
        capture.wait_all();
      }
      capture_s.push_back(since(start));

      if (async_session) {
        start = Clock::now();
        async_session->checkpoint();
        blocking_s.push_back(since(start));
        async_session->wait();
      }

      {
        lazarus::Session session(MPI_COMM_WORLD, options);
        session.protect_device("state", state, count);
        start = Clock::now();
        session.checkpoint();
        checkpoint_s.push_back(since(start));
      }
      drop_page_cache();
      {
        lazarus::Session session(MPI_COMM_WORLD, options);
        session.protect_device("state", state, count);
        start = Clock::now();
        session.restore();
        restore_s.push_back(since(start));
      }
    }
    async_session.reset();

    const double b = static_cast<double>(count * sizeof(double));
    nlohmann::json report;
    report["benchmark"] = "gpu_bench";
    report["gpu"] = properties.name;
    report["bytes"] = count * sizeof(double);
    report["reps"] = reps;
    report["pinned_copy"] = stats(copy_s, b);
    report["capture"] = stats(capture_s, b);
    report["capture_ratio"] = median(copy_s) / median(capture_s);
    if (!blocking_s.empty()) {
      report["async_checkpoint_blocking"] = stats(blocking_s, b);
      report["async_blocking_capture_ratio"] = median(copy_s) / median(blocking_s);
    } else {
      report["async_checkpoint_blocking"] = async_problem;
    }
    report["sync_checkpoint"] = stats(checkpoint_s, b);
    report["restore"] = stats(restore_s, b);
    report["target"] = {{"capture_ratio_at_least", 0.8}, {"met", median(copy_s) / median(capture_s) >= 0.8}};
    report["threads"] = options.threads;
    std::printf("%s\n", report.dump(2).c_str());
    cudaFree(state);
    std::filesystem::remove_all(dir);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "gpu_bench: %s\n", error.what());
    status = 1;
  }
  MPI_Finalize();
  return status;
}
