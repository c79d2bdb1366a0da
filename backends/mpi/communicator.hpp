#pragma once
// The one place Lazarus calls MPI. A Communicator owns a duplicate of the application's
// communicator, so that Lazarus's messages never match the application's, and turns MPI error codes
// into lazarus::Error (the duplicate uses MPI_ERRORS_RETURN).
#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

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

 private:
  void release() noexcept;

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 0;
};

}  // namespace lazarus::backends
