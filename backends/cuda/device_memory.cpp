#include "backends/cuda/device_memory.hpp"

#include <cuda_runtime_api.h>

#include <algorithm>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "lazarus/errors.hpp"

namespace lazarus::backends {
namespace {

// Device copies go in pieces of this size: enough to run at the link's speed, small enough that the
// writer can start on the first piece early.
constexpr std::size_t kPieceBytes = std::size_t{32} << 20;

void check(cudaError_t status, const char* call) {
  if (status != cudaSuccess) throw Error(fmt::format("{} failed: {} ({})", call, cudaGetErrorString(status),
                                                     cudaGetErrorName(status)));
}

// The device that owns `pointer`, made current; -1 when it is not device memory.
int device_of(const void* pointer) {
  cudaPointerAttributes attributes{};
  if (cudaPointerGetAttributes(&attributes, pointer) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky-free error of a host pointer on older runtimes
    return -1;
  }
  return attributes.type == cudaMemoryTypeDevice || attributes.type == cudaMemoryTypeManaged ? attributes.device : -1;
}

}  // namespace

bool cuda_built() noexcept { return true; }

PinnedBuffer::PinnedBuffer(std::size_t bytes) : bytes_(bytes) {
  if (bytes == 0) return;
  void* memory = nullptr;
  check(cudaHostAlloc(&memory, bytes, cudaHostAllocDefault), "cudaHostAlloc");
  data_ = static_cast<std::byte*>(memory);
}

PinnedBuffer::~PinnedBuffer() { release(); }

PinnedBuffer::PinnedBuffer(PinnedBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}

PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
  }
  return *this;
}

void PinnedBuffer::release() noexcept {
  if (data_ != nullptr) cudaFreeHost(data_);
  data_ = nullptr;
  bytes_ = 0;
}

void check_device_region(const void* pointer, std::size_t bytes, const std::string& region) {
  int devices = 0;
  const cudaError_t status = cudaGetDeviceCount(&devices);
  if (status != cudaSuccess || devices == 0) {
    cudaGetLastError();
    throw Error(fmt::format("cannot protect device region '{}': no CUDA device is usable here ({})", region,
                            status != cudaSuccess ? cudaGetErrorString(status) : "no device"));
  }
  if (bytes > 0 && device_of(pointer) < 0) {
    throw MismatchError(fmt::format("cannot protect device region '{}': {} is not CUDA device memory (use protect() "
                                    "for host memory)",
                                    region, pointer));
  }
}

struct DeviceCapture::State {
  int device = 0;
  cudaStream_t stream = nullptr;
  std::vector<cudaEvent_t> events;  // one per piece
  std::size_t arrived = 0;          // bytes known to have arrived
};

DeviceCapture::DeviceCapture(const void* device, std::byte* host, std::size_t bytes)
    : state_(std::make_unique<State>()), bytes_(bytes) {
  if (bytes == 0) return;
  state_->device = device_of(device);
  if (state_->device < 0) throw Error("device capture of memory that is not on a CUDA device");
  check(cudaSetDevice(state_->device), "cudaSetDevice");
  // The application's work queued on the device (any stream) finishes first: the capture holds the
  // values the memory has once that work is done.
  check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  check(cudaStreamCreateWithFlags(&state_->stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
  for (std::size_t at = 0; at < bytes; at += kPieceBytes) {
    const std::size_t piece = std::min(kPieceBytes, bytes - at);
    check(cudaMemcpyAsync(host + at, static_cast<const std::byte*>(device) + at, piece, cudaMemcpyDeviceToHost,
                          state_->stream),
          "cudaMemcpyAsync");
    cudaEvent_t event = nullptr;
    check(cudaEventCreateWithFlags(&event, cudaEventDisableTiming), "cudaEventCreate");
    state_->events.push_back(event);
    check(cudaEventRecord(event, state_->stream), "cudaEventRecord");
  }
}

DeviceCapture::~DeviceCapture() {
  if (!state_ || state_->stream == nullptr) return;
  cudaSetDevice(state_->device);
  cudaStreamSynchronize(state_->stream);
  for (cudaEvent_t event : state_->events) cudaEventDestroy(event);
  cudaStreamDestroy(state_->stream);
}

void DeviceCapture::wait_for(std::size_t end) {
  end = std::min(end, bytes_);
  if (end <= state_->arrived) return;
  const std::size_t piece = (end + kPieceBytes - 1) / kPieceBytes - 1;
  check(cudaEventSynchronize(state_->events.at(piece)), "cudaEventSynchronize");
  state_->arrived = std::min(bytes_, (piece + 1) * kPieceBytes);
}

void copy_to_device(void* device, const std::byte* host, std::size_t bytes) {
  if (bytes == 0) return;
  const int owner = device_of(device);
  if (owner < 0) throw Error("copy to memory that is not on a CUDA device");
  check(cudaSetDevice(owner), "cudaSetDevice");
  check(cudaMemcpy(device, host, bytes, cudaMemcpyHostToDevice), "cudaMemcpy");
}

}  // namespace lazarus::backends
