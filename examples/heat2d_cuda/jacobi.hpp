#pragma once
// The GPU kernel of heat2d_cuda, behind a plain C++ function (jacobi.cu is the only CUDA source).
#include <cuda_runtime_api.h>

#include <cstddef>

namespace heat2d_cuda {

// One Jacobi step (diffusion number 0.2) on rows 1..rows of a (rows + 2) x (n + 2) row-major block
// in device memory: `next` from `cur`. Columns 0 and n+1 and rows 0 and rows+1 stay as they are.
// Returns the launch's error.
cudaError_t jacobi_step(const double* cur, double* next, std::size_t rows, std::size_t n);

}  // namespace heat2d_cuda
