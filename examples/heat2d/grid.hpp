#pragma once
// The heat2d domain: an N x N global grid split into 2-D blocks over a Cartesian communicator, one
// block per rank, each stored with a one-cell halo ring.
#include <mpi.h>

#include <cstddef>
#include <span>
#include <utility>
#include <vector>

namespace heat2d {

// Owns a committed MPI datatype; freed on destruction (before MPI_Finalize, as Grid is scoped).
class Datatype {
 public:
  Datatype() = default;
  explicit Datatype(MPI_Datatype type) : type_(type) {}
  ~Datatype();
  Datatype(Datatype&& other) noexcept : type_(other.type_) { other.type_ = MPI_DATATYPE_NULL; }
  Datatype& operator=(Datatype&& other) noexcept {
    std::swap(type_, other.type_);  // the old type, if any, is freed by `other`
    return *this;
  }
  Datatype(const Datatype&) = delete;
  Datatype& operator=(const Datatype&) = delete;
  MPI_Datatype get() const noexcept { return type_; }

 private:
  MPI_Datatype type_ = MPI_DATATYPE_NULL;
};

// Owns a communicator created by the program (not MPI_COMM_WORLD).
class Communicator {
 public:
  explicit Communicator(MPI_Comm comm) : comm_(comm) {}
  ~Communicator();
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;
  MPI_Comm get() const noexcept { return comm_; }

 private:
  MPI_Comm comm_;
};

// The fixed values just outside the global grid: a hot top edge, the other edges cold.
inline constexpr double kHotEdge = 1.0;
inline constexpr double kColdEdge = 0.0;
// The interior's starting temperature. Not 0: a front diffusing into a zero field leaves values
// that decay into subnormal doubles, which are an order of magnitude slower to compute with.
inline constexpr double kInitial = 0.5;
// Diffusion number kappa*dt/h^2; the explicit 2-D scheme is stable below 0.25.
inline constexpr double kAlpha = 0.2;

class Grid {
 public:
  // Collective over `world`. Builds a 2-D Cartesian communicator (ranks keep their order) and this
  // rank's block at kInitial. Throws std::invalid_argument when N does not suit the rank grid.
  Grid(MPI_Comm world, std::size_t n);

  // The protected buffer, halo ring included, row-major with shape() = {rows+2, cols+2}. It holds the
  // current state only after store_state(); restore() writes into it, then call adopt_state().
  std::span<double> field() noexcept { return a_; }
  std::vector<std::size_t> shape() const { return {rows_ + 2, cols_ + 2}; }

  // Collective. One Jacobi step: exchange halos, then update every interior cell.
  void step();
  // Local. Makes field() hold the current state (it may be in the scratch buffer after a step).
  void store_state();
  // Local. Makes the contents of field() the current state (after a restore).
  void adopt_state() noexcept { cur_ = a_.data(), next_ = b_.data(); }

  // Collective. The global interior gathered on rank 0 in global row-major order (N*N values); an
  // empty vector on other ranks. Independent of the decomposition.
  std::vector<double> gather_interior() const;

  MPI_Comm comm() const noexcept { return cart_.get(); }
  int rank() const noexcept { return rank_; }
  int size() const noexcept { return size_; }
  int dims(int d) const noexcept { return dims_[d]; }
  std::size_t n() const noexcept { return n_; }

 private:
  void exchange_halos();
  double* at(double* base, std::size_t i, std::size_t j) const noexcept { return base + i * ld_ + j; }

  std::size_t n_;
  int size_ = 0, rank_ = 0;
  int dims_[2] = {0, 0};
  int coords_[2] = {0, 0};
  Communicator cart_;
  int up_ = MPI_PROC_NULL, down_ = MPI_PROC_NULL, left_ = MPI_PROC_NULL, right_ = MPI_PROC_NULL;
  std::size_t rows_ = 0, cols_ = 0;        // interior size of this block
  std::size_t row0_ = 0, col0_ = 0;        // global offset of this block's first interior cell
  std::size_t ld_ = 0;                     // row stride, cols_ + 2
  Datatype column_;                        // one interior column: rows_ doubles, stride ld_
  std::vector<double> a_, b_;              // a_ is protected, b_ is scratch; both hold the boundary
  double* cur_ = nullptr;
  double* next_ = nullptr;
};

}  // namespace heat2d
