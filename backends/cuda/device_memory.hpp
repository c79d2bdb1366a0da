#pragma once
// CUDA device memory for protect_device() regions: the only code that calls the CUDA runtime. Built
// from device_memory.cpp when Lazarus is configured with CUDA (LAZARUS_CUDA), else from
// device_memory_stub.cpp, whose functions throw an Error that says so. docs/gpu.md describes the
// data path: checkpoints copy device memory into pinned host memory in pieces on a stream of their
// own, and the writer compresses each piece as soon as it has arrived.
#include <cstddef>
#include <memory>
#include <string>

namespace lazarus::backends {

// Whether this build has CUDA support.
bool cuda_built() noexcept;

// Page-locked host memory (cudaHostAlloc), so that device copies run at the link's full speed.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(std::size_t bytes);  // throws Error
  ~PinnedBuffer();
  PinnedBuffer(PinnedBuffer&& other) noexcept;
  PinnedBuffer& operator=(PinnedBuffer&& other) noexcept;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;

  std::byte* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return bytes_; }

 private:
  void release() noexcept;
  std::byte* data_ = nullptr;
  std::size_t bytes_ = 0;
};

// Throws MismatchError naming `region` when `pointer` is not CUDA device memory of at least `bytes`
// bytes, and Error when CUDA is unusable (no device, no driver, a build without CUDA).
void check_device_region(const void* pointer, std::size_t bytes, const std::string& region);

// A copy of device memory into host memory, in pieces on a stream of its own, started at once
// after the work already queued on the device is finished (cudaDeviceSynchronize of the region's
// device). wait_for(end) returns once bytes [0, end) have arrived.
class DeviceCapture {
 public:
  DeviceCapture(const void* device, std::byte* host, std::size_t bytes);  // throws Error
  ~DeviceCapture();  // waits for the copies still running
  DeviceCapture(const DeviceCapture&) = delete;
  DeviceCapture& operator=(const DeviceCapture&) = delete;

  void wait_for(std::size_t end);  // throws Error
  void wait_all() { wait_for(bytes_); }

 private:
  struct State;
  std::unique_ptr<State> state_;
  std::size_t bytes_ = 0;
};

// Copies host memory into device memory and waits for it. Throws Error.
void copy_to_device(void* device, const std::byte* host, std::size_t bytes);

}  // namespace lazarus::backends
