#pragma once
// Turning local outcomes into one agreed outcome: inside a collective call, each rank captures its
// own success or failure, then all ranks agree (one allreduce on success) and, on failure, every rank
// throws the same exception class with the message of the lowest failing rank. No rank is left
// waiting in a collective that another rank skipped.
#include <exception>
#include <functional>
#include <string>

#include "backends/mpi/communicator.hpp"

namespace lazarus::detail {

// Ordered by precedence when ranks fail differently: the highest wins.
enum class ErrorKind : int { none = 0, other, io, corrupt, no_checkpoint, mismatch, config };

struct Outcome {
  ErrorKind kind = ErrorKind::none;
  std::string message;
  int failing_rank = -1;  // after agree(): the rank whose message this is
  bool ok() const { return kind == ErrorKind::none; }
};

// Runs `step` and records what it threw, if anything. Never throws.
Outcome capture(const std::function<void()>& step) noexcept;
// The outcome of the exception being handled (call inside a catch block).
Outcome outcome_of_current_exception() noexcept;

// Collective. The agreed outcome: none when every rank succeeded; else the highest-precedence kind and
// the message of the lowest rank that failed with it, identical on every rank.
Outcome agree(const backends::Communicator& comm, const Outcome& local);

// Throws the lazarus exception class matching `outcome.kind` (no-op when ok).
void throw_if_failed(const Outcome& outcome);

// Collective: capture + agree + throw_if_failed.
void run_collectively(const backends::Communicator& comm, const std::function<void()>& step);

}  // namespace lazarus::detail
