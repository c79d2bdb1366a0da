#include "grid.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <stdexcept>
#include <string>

namespace heat2d {

Datatype::~Datatype() {
  if (type_ != MPI_DATATYPE_NULL) MPI_Type_free(&type_);
}

Communicator::~Communicator() {
  if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

namespace {

// Fills `dims` with a balanced 2-D factorisation of the rank count and returns a non-periodic
// Cartesian communicator over it. reorder = 0 keeps world ranks, so rank r owns the same block on
// every run with the same rank count, which is what lets a restart find its own data.
MPI_Comm make_cartesian(MPI_Comm world, int (&dims)[2]) {
  int size = 0;
  MPI_Comm_size(world, &size);
  dims[0] = dims[1] = 0;
  MPI_Dims_create(size, 2, dims);
  const int periods[2] = {0, 0};
  MPI_Comm cart = MPI_COMM_NULL;
  MPI_Cart_create(world, 2, dims, periods, /*reorder=*/0, &cart);
  return cart;
}

// Block `i` of `parts` over `n` cells: the first n % parts blocks get one extra cell.
struct Block {
  std::size_t offset, count;
};
Block block(std::size_t n, int parts, int i) {
  const std::size_t p = static_cast<std::size_t>(parts), k = static_cast<std::size_t>(i);
  const std::size_t base = n / p, extra = n % p;
  return {k * base + std::min(k, extra), base + (k < extra ? 1 : 0)};
}

}  // namespace

Grid::Grid(MPI_Comm world, std::size_t n) : n_(n), cart_(make_cartesian(world, dims_)) {
  MPI_Comm_size(cart_.get(), &size_);
  MPI_Comm_rank(cart_.get(), &rank_);
  if (n_ < static_cast<std::size_t>(std::max(dims_[0], dims_[1]))) {
    throw std::invalid_argument("grid size " + std::to_string(n_) + " is smaller than the " +
                                std::to_string(dims_[0]) + "x" + std::to_string(dims_[1]) +
                                " rank grid");
  }
  if (n_ > 32768) {  // MPI counts are int: the gathered N*N field must stay below 2^31 values
    throw std::invalid_argument("grid size " + std::to_string(n_) + " is above the limit of 32768");
  }
  MPI_Cart_coords(cart_.get(), rank_, 2, coords_);
  MPI_Cart_shift(cart_.get(), 0, 1, &up_, &down_);
  MPI_Cart_shift(cart_.get(), 1, 1, &left_, &right_);

  const Block r = block(n_, dims_[0], coords_[0]), c = block(n_, dims_[1], coords_[1]);
  row0_ = r.offset, rows_ = r.count, col0_ = c.offset, cols_ = c.count, ld_ = cols_ + 2;

  MPI_Datatype column = MPI_DATATYPE_NULL;
  MPI_Type_vector(static_cast<int>(rows_), 1, static_cast<int>(ld_), MPI_DOUBLE, &column);
  MPI_Type_commit(&column);
  column_ = Datatype(column);

  // Halo cells on the global boundary are never received (MPI_PROC_NULL), so the fixed boundary
  // values written here stay for the whole run, in both buffers.
  a_.assign((rows_ + 2) * ld_, kInitial);
  if (up_ == MPI_PROC_NULL) std::fill_n(a_.begin(), ld_, kHotEdge);
  if (down_ == MPI_PROC_NULL) std::fill_n(a_.end() - static_cast<std::ptrdiff_t>(ld_), ld_, kColdEdge);
  for (std::size_t i = 1; i <= rows_; ++i) {
    if (left_ == MPI_PROC_NULL) a_[i * ld_] = kColdEdge;
    if (right_ == MPI_PROC_NULL) a_[i * ld_ + cols_ + 1] = kColdEdge;
  }
  b_ = a_;
  adopt_state();
}

void Grid::exchange_halos() {
  const int row = static_cast<int>(cols_);
  MPI_Comm comm = cart_.get();
  // Rows are contiguous; columns use the strided vector type. Corners are not needed by a 5-point
  // stencil.
  MPI_Sendrecv(at(cur_, 1, 1), row, MPI_DOUBLE, up_, 0, at(cur_, rows_ + 1, 1), row, MPI_DOUBLE,
               down_, 0, comm, MPI_STATUS_IGNORE);
  MPI_Sendrecv(at(cur_, rows_, 1), row, MPI_DOUBLE, down_, 1, at(cur_, 0, 1), row, MPI_DOUBLE, up_, 1,
               comm, MPI_STATUS_IGNORE);
  MPI_Sendrecv(at(cur_, 1, 1), 1, column_.get(), left_, 2, at(cur_, 1, cols_ + 1), 1, column_.get(),
               right_, 2, comm, MPI_STATUS_IGNORE);
  MPI_Sendrecv(at(cur_, 1, cols_), 1, column_.get(), right_, 3, at(cur_, 1, 0), 1, column_.get(),
               left_, 3, comm, MPI_STATUS_IGNORE);
}

void Grid::step() {
  exchange_halos();
  // The same expression, in the same order, for every cell: the result of a cell depends only on
  // its neighbours' values, never on the decomposition or on where a run was interrupted.
  for (std::size_t i = 1; i <= rows_; ++i) {
    const double* up = at(cur_, i - 1, 0);
    const double* mid = at(cur_, i, 0);
    const double* down = at(cur_, i + 1, 0);
    double* out = at(next_, i, 0);
    for (std::size_t j = 1; j <= cols_; ++j) {
      out[j] = mid[j] + kAlpha * ((up[j] + down[j]) + (mid[j - 1] + mid[j + 1]) - 4.0 * mid[j]);
    }
  }
  std::swap(cur_, next_);
}

void Grid::store_state() {
  if (cur_ == a_.data()) return;
  std::memcpy(a_.data(), cur_, a_.size() * sizeof(double));
  adopt_state();
}

std::vector<double> Grid::gather_interior() const {
  // Pack the interior, gather blocks with their placement, then scatter them into place on rank 0.
  std::vector<double> mine(rows_ * cols_);
  for (std::size_t i = 0; i < rows_; ++i) {
    std::copy_n(at(cur_, i + 1, 1), cols_, mine.begin() + static_cast<std::ptrdiff_t>(i * cols_));
  }
  const std::array<int, 4> place = {static_cast<int>(row0_), static_cast<int>(col0_),
                                    static_cast<int>(rows_), static_cast<int>(cols_)};
  std::vector<int> places(rank_ == 0 ? 4 * static_cast<std::size_t>(size_) : 0);
  MPI_Gather(place.data(), 4, MPI_INT, places.data(), 4, MPI_INT, 0, cart_.get());

  std::vector<int> counts, displs;
  std::vector<double> packed;
  if (rank_ == 0) {
    counts.resize(static_cast<std::size_t>(size_));
    displs.resize(static_cast<std::size_t>(size_));
    int offset = 0;
    for (std::size_t r = 0; r < counts.size(); ++r) {
      counts[r] = places[4 * r + 2] * places[4 * r + 3];
      displs[r] = offset;
      offset += counts[r];
    }
    packed.resize(n_ * n_);
  }
  MPI_Gatherv(mine.data(), static_cast<int>(mine.size()), MPI_DOUBLE, packed.data(), counts.data(),
              displs.data(), MPI_DOUBLE, 0, cart_.get());
  if (rank_ != 0) return {};

  std::vector<double> global(n_ * n_);
  for (std::size_t r = 0; r < counts.size(); ++r) {
    const auto place_of = [&](std::size_t k) { return static_cast<std::size_t>(places[4 * r + k]); };
    const std::size_t row0 = place_of(0), col0 = place_of(1), rows = place_of(2), cols = place_of(3);
    const double* src = packed.data() + displs[r];
    for (std::size_t i = 0; i < rows; ++i) {
      std::copy_n(src + i * cols, cols, global.begin() + static_cast<std::ptrdiff_t>((row0 + i) * n_ + col0));
    }
  }
  return global;
}

}  // namespace heat2d
