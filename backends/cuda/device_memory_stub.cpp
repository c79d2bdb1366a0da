// A build without CUDA (LAZARUS_CUDA=OFF, or no CUDA toolkit found): the same interface, and every
// use of device memory throws an Error that says why.
#include "backends/cuda/device_memory.hpp"

#include "lazarus/errors.hpp"

namespace lazarus::backends {
namespace {

[[noreturn]] void no_cuda() {
  throw Error("this Lazarus was built without CUDA (configure with -DLAZARUS_CUDA=ON, or AUTO where nvcc and the "
              "CUDA toolkit are found): device regions are not available");
}

}  // namespace

bool cuda_built() noexcept { return false; }

PinnedBuffer::PinnedBuffer(std::size_t bytes) : bytes_(bytes) {
  if (bytes > 0) no_cuda();
}
PinnedBuffer::~PinnedBuffer() = default;
PinnedBuffer::PinnedBuffer(PinnedBuffer&& other) noexcept : data_(other.data_), bytes_(other.bytes_) {}
PinnedBuffer& PinnedBuffer::operator=(PinnedBuffer&&) noexcept { return *this; }
void PinnedBuffer::release() noexcept {}

void check_device_region(const void*, std::size_t, const std::string&) { no_cuda(); }

struct DeviceCapture::State {};
DeviceCapture::DeviceCapture(const void*, std::byte*, std::size_t) { no_cuda(); }
DeviceCapture::~DeviceCapture() = default;
void DeviceCapture::wait_for(std::size_t) { no_cuda(); }

void copy_to_device(void*, const std::byte*, std::size_t) { no_cuda(); }

}  // namespace lazarus::backends
