#pragma once
// The one place Lazarus calls MPI. A Communicator owns a duplicate of the application's
// communicator, so that Lazarus's messages never match the application's, and turns MPI error codes
// into lazarus::Error (the duplicate uses MPI_ERRORS_RETURN).
#include <mpi.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "backends/posix/staging_buffer.hpp"

namespace lazarus::backends {

class Communicator {
 public:
  // Collective over `parent`.
  explicit Communicator(MPI_Comm parent);
  ~Communicator();
  Communicator(Communicator&& other) noexcept;
  Communicator& operator=(Communicator&& other) noexcept;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  MPI_Comm get() const noexcept { return comm_; }
  int rank() const noexcept { return rank_; }
  int size() const noexcept { return size_; }

  // All collective. Each throws lazarus::Error naming the MPI call on failure.
  void barrier() const;
  // Largest `value` over all ranks and the lowest rank that holds it.
  struct ValueAndRank {
    int value;
    int rank;
  };
  ValueAndRank max_with_rank(int value) const;
  std::uint64_t max(std::uint64_t value) const;
  double broadcast(double value, int root) const;
  std::uint64_t broadcast(std::uint64_t value, int root) const;
  std::string broadcast(std::string value, int root) const;
  std::vector<std::uint64_t> broadcast(std::vector<std::uint64_t> values, int root) const;
  // Every rank's string at `root` (in rank order); empty elsewhere.
  std::vector<std::string> gather(const std::string& mine, int root) const;
  // Every rank's string on every rank (in rank order).
  std::vector<std::string> all_gather(const std::string& mine) const;

  // How many ranks of this communicator share this rank's host (MPI_COMM_TYPE_SHARED). Collective.
  int ranks_on_this_host() const;

  // The ranks with the same `color`, ordered by `key` (MPI_Comm_split). Collective.
  Communicator split(int color, int key) const;

  // Point-to-point transfers of byte strings of any size. Every rank passes all it sends and the
  // ranks it receives from (one message per entry, matched in order between each pair); all are
  // posted at once, so no pattern of transfers can deadlock. Returns what arrived, in the order of
  // `sources`. Every rank must call it (with possibly empty lists).
  struct Outgoing {
    int destination = 0;
    std::span<const std::byte> bytes;
  };
  std::vector<StagingBuffer> exchange(const std::vector<Outgoing>& sends, const std::vector<int>& sources) const;

  // Bitwise XOR of every rank's `mine` (all of one length) into `result` at `root` (`result` is
  // ignored elsewhere). Collective.
  void reduce_xor(std::span<const std::byte> mine, std::span<std::byte> result, int root) const;

 private:
  struct Adopt {};
  Communicator(Adopt, MPI_Comm comm);  // takes ownership of `comm`
  void release() noexcept;

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 0;
};

}  // namespace lazarus::backends
