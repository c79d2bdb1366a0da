#include "backends/mpi/communicator.hpp"

#include <algorithm>
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

// MPI counts are ints: large buffers go in pieces of this many bytes.
constexpr std::size_t kPieceBytes = std::size_t{1} << 30;

// Tags of exchange(): sizes first, then the data of each message in pieces.
constexpr int kSizeTag = 4101;
constexpr int kDataTag = 4102;

}  // namespace

Communicator::Communicator(Adopt, MPI_Comm comm) : comm_(comm) {
  if (comm_ == MPI_COMM_NULL) return;
  check(MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
  check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
}

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

std::vector<std::string> Communicator::all_gather(const std::string& mine) const {
  std::vector<std::string> strings = gather(mine, 0);
  std::string joined;
  for (const auto& text : strings) joined += std::to_string(text.size()) + ":" + text;
  joined = broadcast(std::move(joined), 0);
  strings.clear();
  for (std::size_t at = 0; at < joined.size();) {
    const std::size_t colon = joined.find(':', at);
    const std::size_t length = std::stoull(joined.substr(at, colon - at));
    strings.push_back(joined.substr(colon + 1, length));
    at = colon + 1 + length;
  }
  return strings;
}

int Communicator::ranks_on_this_host() const {
  MPI_Comm host = MPI_COMM_NULL;
  check(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &host), "MPI_Comm_split_type");
  int size = 0;
  MPI_Comm_size(host, &size);
  MPI_Comm_free(&host);
  return size;
}

Communicator Communicator::split(int color, int key) const {
  MPI_Comm part = MPI_COMM_NULL;
  check(MPI_Comm_split(comm_, color, key, &part), "MPI_Comm_split");
  if (part == MPI_COMM_NULL) return Communicator(Adopt{}, MPI_COMM_NULL);  // color MPI_UNDEFINED: not a member
  return Communicator(Adopt{}, part);
}

std::vector<StagingBuffer> Communicator::exchange(const std::vector<Outgoing>& sends,
                                                  const std::vector<int>& sources) const {
  auto wait_all = [](std::vector<MPI_Request>& requests, const char* what) {
    if (!requests.empty()) check(MPI_Waitall(static_cast<int>(requests.size()), requests.data(), MPI_STATUSES_IGNORE), what);
    requests.clear();
  };
  std::vector<MPI_Request> requests;
  std::vector<std::uint64_t> sizes_out(sends.size());
  std::vector<std::uint64_t> sizes_in(sources.size());
  for (std::size_t i = 0; i < sources.size(); ++i) {
    requests.emplace_back();
    check(MPI_Irecv(&sizes_in[i], 1, MPI_UINT64_T, sources[i], kSizeTag, comm_, &requests.back()), "MPI_Irecv");
  }
  for (std::size_t i = 0; i < sends.size(); ++i) {
    sizes_out[i] = sends[i].bytes.size();
    requests.emplace_back();
    check(MPI_Isend(&sizes_out[i], 1, MPI_UINT64_T, sends[i].destination, kSizeTag, comm_, &requests.back()),
          "MPI_Isend");
  }
  wait_all(requests, "MPI_Waitall (sizes)");
  std::vector<StagingBuffer> received;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    received.emplace_back(static_cast<std::size_t>(sizes_in[i]));
    for (std::size_t at = 0; at < received.back().size(); at += kPieceBytes) {
      const auto piece = static_cast<int>(std::min(kPieceBytes, received.back().size() - at));
      requests.emplace_back();
      check(MPI_Irecv(received.back().data() + at, piece, MPI_BYTE, sources[i], kDataTag, comm_, &requests.back()),
            "MPI_Irecv");
    }
  }
  for (const Outgoing& send : sends) {
    for (std::size_t at = 0; at < send.bytes.size(); at += kPieceBytes) {
      const auto piece = static_cast<int>(std::min(kPieceBytes, send.bytes.size() - at));
      requests.emplace_back();
      check(MPI_Isend(send.bytes.data() + at, piece, MPI_BYTE, send.destination, kDataTag, comm_, &requests.back()),
            "MPI_Isend");
    }
  }
  wait_all(requests, "MPI_Waitall (data)");
  return received;
}

void Communicator::reduce_xor(std::span<const std::byte> mine, std::span<std::byte> result, int root) const {
  for (std::size_t at = 0; at < mine.size(); at += kPieceBytes) {
    const auto piece = static_cast<int>(std::min(kPieceBytes, mine.size() - at));
    check(MPI_Reduce(mine.data() + at, rank_ == root ? result.data() + at : nullptr, piece, MPI_BYTE, MPI_BXOR, root,
                     comm_),
          "MPI_Reduce");
  }
}

}  // namespace lazarus::backends
