#include "jacobi.hpp"

namespace heat2d_cuda {
namespace {

constexpr double kAlpha = 0.2;

// One Jacobi step on rows 1..rows of a (rows + 2) x (n + 2) block; columns 0 and n+1 are the cold
// sides, rows 0 and rows+1 the halos (or the global edges).
__global__ void jacobi_kernel(const double* cur, double* next, std::size_t rows, std::size_t n) {
  const std::size_t j = blockIdx.x * blockDim.x + threadIdx.x + 1;
  const std::size_t i = blockIdx.y * blockDim.y + threadIdx.y + 1;
  if (i > rows || j > n) return;
  const std::size_t ld = n + 2;
  const double c = cur[i * ld + j];
  next[i * ld + j] = c + kAlpha * (cur[(i - 1) * ld + j] + cur[(i + 1) * ld + j] + cur[i * ld + j - 1] +
                                   cur[i * ld + j + 1] - 4.0 * c);
}

}  // namespace

cudaError_t jacobi_step(const double* cur, double* next, std::size_t rows, std::size_t n) {
  const dim3 threads(32, 8);
  const dim3 blocks(static_cast<unsigned>((n + 31) / 32), static_cast<unsigned>((rows + 7) / 8));
  jacobi_kernel<<<blocks, threads>>>(cur, next, rows, n);
  return cudaGetLastError();
}

}  // namespace heat2d_cuda
