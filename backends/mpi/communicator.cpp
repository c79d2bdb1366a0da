#include "backends/mpi/communicator.hpp"

#include <numeric>
#include <utility>

#include <fmt/format.h>

#include "lazarus/errors.hpp"

namespace lazarus::backends {
namespace {

void check(int rc, const char* call) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  MPI_Error_string(rc, text, &length);
  throw Error(fmt::format("{} failed: {}", call, std::string(text, static_cast<std::size_t>(length))));
}

}  // namespace

Communicator::Communicator(MPI_Comm parent) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) throw Error("lazarus::Session needs MPI to be initialized (call MPI_Init first)");
  check(MPI_Comm_dup(parent, &comm_), "MPI_Comm_dup");
  check(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
}

Communicator::~Communicator() { release(); }

Communicator::Communicator(Communicator&& other) noexcept
    : comm_(std::exchange(other.comm_, MPI_COMM_NULL)), rank_(other.rank_), size_(other.size_) {}

Communicator& Communicator::operator=(Communicator&& other) noexcept {
  if (this != &other) {
    release();
    comm_ = std::exchange(other.comm_, MPI_COMM_NULL);
    rank_ = other.rank_;
    size_ = other.size_;
  }
  return *this;
}

void Communicator::release() noexcept {
  if (comm_ == MPI_COMM_NULL) return;
  // Freeing after MPI_Finalize is an error; a Session that outlives MPI just lets the handle go.
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Comm_free(&comm_);
  comm_ = MPI_COMM_NULL;
}

void Communicator::barrier() const { check(MPI_Barrier(comm_), "MPI_Barrier"); }

Communicator::ValueAndRank Communicator::max_with_rank(int value) const {
  ValueAndRank in{value, rank_};
  ValueAndRank out{};
  check(MPI_Allreduce(&in, &out, 1, MPI_2INT, MPI_MAXLOC, comm_), "MPI_Allreduce");
  return out;
}

std::uint64_t Communicator::max(std::uint64_t value) const {
  std::uint64_t out = 0;
  check(MPI_Allreduce(&value, &out, 1, MPI_UINT64_T, MPI_MAX, comm_), "MPI_Allreduce");
  return out;
}

double Communicator::broadcast(double value, int root) const {
  check(MPI_Bcast(&value, 1, MPI_DOUBLE, root, comm_), "MPI_Bcast");
  return value;
}

std::uint64_t Communicator::broadcast(std::uint64_t value, int root) const {
  check(MPI_Bcast(&value, 1, MPI_UINT64_T, root, comm_), "MPI_Bcast");
  return value;
}

std::string Communicator::broadcast(std::string value, int root) const {
  std::uint64_t length = broadcast(static_cast<std::uint64_t>(value.size()), root);
  value.resize(length);
  check(MPI_Bcast(value.data(), static_cast<int>(length), MPI_CHAR, root, comm_), "MPI_Bcast");
  return value;
}

std::vector<std::uint64_t> Communicator::broadcast(std::vector<std::uint64_t> values, int root) const {
  std::uint64_t count = broadcast(static_cast<std::uint64_t>(values.size()), root);
  values.resize(count);
  check(MPI_Bcast(values.data(), static_cast<int>(count), MPI_UINT64_T, root, comm_), "MPI_Bcast");
  return values;
}

std::vector<std::string> Communicator::gather(const std::string& mine, int root) const {
  int length = static_cast<int>(mine.size());
  std::vector<int> lengths(rank_ == root ? static_cast<std::size_t>(size_) : 0);
  check(MPI_Gather(&length, 1, MPI_INT, lengths.data(), 1, MPI_INT, root, comm_), "MPI_Gather");
  std::vector<int> offsets(lengths.size());
  std::string all;
  if (rank_ == root) {
    std::exclusive_scan(lengths.begin(), lengths.end(), offsets.begin(), 0);
    all.resize(static_cast<std::size_t>(std::reduce(lengths.begin(), lengths.end(), 0)));
  }
  check(MPI_Gatherv(mine.data(), length, MPI_CHAR, all.data(), lengths.data(), offsets.data(), MPI_CHAR,
                    root, comm_),
        "MPI_Gatherv");
  std::vector<std::string> strings;
  for (std::size_t i = 0; i < lengths.size(); ++i) {
    strings.push_back(all.substr(static_cast<std::size_t>(offsets[i]), static_cast<std::size_t>(lengths[i])));
  }
  return strings;
}

}  // namespace lazarus::backends
