// lazarus::Session forwards to the engine (runtime/engine/engine.hpp); this file only adapts the public API.
#include "lazarus/session.hpp"

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "backends/cuda/device_memory.hpp"
#include "runtime/engine/engine.hpp"
#include "runtime/exit_status.hpp"

namespace lazarus {

Session::Session(MPI_Comm comm) : engine_(std::make_unique<detail::Engine>(comm, [] { return Options::from_env(); })) {}

Session::Session(MPI_Comm comm, Options options)
    : engine_(std::make_unique<detail::Engine>(comm, [&options] { return std::move(options); })) {}

Session::~Session() {
  if (!engine_) return;  // moved from
  // Collective: a multi-level session copies its newest version to the global level. Skipped while an
  // exception unwinds this rank, which the other ranks may not be doing.
  if (std::uncaught_exceptions() > 0) return;
  std::vector<std::string> lost;
  try {
    lost = engine_->finish();
  } catch (const std::exception& error) {  // unexpected: what was in flight may be lost
    lost.emplace_back(error.what());
  }
  if (lost.empty()) return;
  // A destructor cannot throw, and a message alone would let the job end with status 0, as if its
  // last checkpoint were safe: the exit status says it (docs/configuration.md, "The end of the job").
  for (const std::string& problem : lost) {
    std::fprintf(stderr, "lazarus: error: the Session's end lost a checkpoint: %s; the process will exit with status "
                 "%d (call Session::wait() before the end to handle this)\n", problem.c_str(), kExitCheckpointLost);
  }
  detail::fail_at_exit(kExitCheckpointLost);
}

Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

void Session::protect_region(std::string name, ElementType type, void* data, std::size_t count,
                             std::vector<std::size_t> shape) {
  engine_->regions().add({std::move(name), type, data, count, std::move(shape), /*device=*/false, {}});
}

void Session::protect_bytes(std::string name, void* data, std::size_t bytes) {
  protect_region(std::move(name), ElementType::bytes, data, bytes, {bytes});
}

void Session::protect_device_region(std::string name, ElementType type, void* device_ptr, std::size_t count,
                                    std::vector<std::size_t> shape) {
  backends::check_device_region(device_ptr, count * element_size(type), name);
  engine_->regions().add({std::move(name), type, device_ptr, count, std::move(shape), /*device=*/true, {}});
}

void Session::protect_device_bytes(std::string name, void* device_ptr, std::size_t bytes) {
  protect_device_region(std::move(name), ElementType::bytes, device_ptr, bytes, {bytes});
}

void Session::unprotect(const std::string& name) { engine_->regions().remove(name); }

std::uint64_t Session::checkpoint() { return engine_->checkpoint(); }

std::optional<std::uint64_t> Session::restore() { return engine_->restore_newest(); }

std::uint64_t Session::restore(std::uint64_t version) { return engine_->restore_exactly(version); }

std::vector<std::uint64_t> Session::versions() { return engine_->complete_versions(); }

bool Session::need_checkpoint() { return engine_->need_checkpoint(); }

bool Session::should_stop() { return engine_->should_stop(); }

void Session::wait() {
  if (engine_) engine_->wait();
}

int Session::rank() const noexcept { return engine_->comm().rank(); }
int Session::size() const noexcept { return engine_->comm().size(); }
const Options& Session::options() const noexcept { return engine_->options(); }

}  // namespace lazarus
