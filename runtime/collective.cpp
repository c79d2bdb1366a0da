#include "runtime/collective.hpp"

#include <fmt/format.h>

#include "lazarus/errors.hpp"

namespace lazarus::detail {

Outcome outcome_of_current_exception() noexcept {
  try {
    throw;
  } catch (const ConfigError& e) {
    return {ErrorKind::config, e.what()};
  } catch (const MismatchError& e) {
    return {ErrorKind::mismatch, e.what()};
  } catch (const NoCheckpoint& e) {
    return {ErrorKind::no_checkpoint, e.what()};
  } catch (const CorruptCheckpoint& e) {
    return {ErrorKind::corrupt, e.what()};
  } catch (const IoError& e) {
    return {ErrorKind::io, e.what()};
  } catch (const std::bad_alloc&) {
    return {ErrorKind::other, "out of memory"};
  } catch (const std::exception& e) {
    return {ErrorKind::other, e.what()};
  } catch (...) {
    return {ErrorKind::other, "unknown exception"};
  }
}

Outcome capture(const std::function<void()>& step) noexcept {
  try {
    step();
    return {};
  } catch (...) {
    return outcome_of_current_exception();
  }
}

Outcome agree(const backends::Communicator& comm, const Outcome& local) {
  const auto worst = comm.max_with_rank(static_cast<int>(local.kind));
  if (worst.value == static_cast<int>(ErrorKind::none)) return {};
  Outcome agreed;
  agreed.kind = static_cast<ErrorKind>(worst.value);
  agreed.failing_rank = worst.rank;
  // Prefix the rank so that every rank's log says where it happened.
  std::string message = comm.rank() == worst.rank ? fmt::format("rank {}: {}", comm.rank(), local.message) : "";
  agreed.message = comm.broadcast(std::move(message), worst.rank);
  return agreed;
}

void throw_if_failed(const Outcome& outcome) {
  switch (outcome.kind) {
    case ErrorKind::none: return;
    case ErrorKind::config: throw ConfigError(outcome.message);
    case ErrorKind::mismatch: throw MismatchError(outcome.message);
    case ErrorKind::no_checkpoint: throw NoCheckpoint(outcome.message);
    case ErrorKind::corrupt: throw CorruptCheckpoint(outcome.message);
    case ErrorKind::io: throw IoError(outcome.message);
    case ErrorKind::other: throw Error(outcome.message);
  }
  throw Error(outcome.message);
}

void run_collectively(const backends::Communicator& comm, const std::function<void()>& step) {
  throw_if_failed(agree(comm, capture(step)));
}

}  // namespace lazarus::detail
