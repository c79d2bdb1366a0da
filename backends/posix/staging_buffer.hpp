#pragma once
// Large buffers that are filled completely soon after they are made (restore staging): mapped straight
// from the kernel, with every page faulted in when made, so that filling them costs no page faults.
#include <cstddef>

namespace lazarus::backends {

class StagingBuffer {
 public:
  StagingBuffer() = default;
  // `bytes` of zeroed, resident memory (none for 0). Throws std::bad_alloc when the kernel refuses.
  explicit StagingBuffer(std::size_t bytes);
  ~StagingBuffer();
  StagingBuffer(StagingBuffer&& other) noexcept;
  StagingBuffer& operator=(StagingBuffer&& other) noexcept;
  StagingBuffer(const StagingBuffer&) = delete;
  StagingBuffer& operator=(const StagingBuffer&) = delete;

  std::byte* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return bytes_; }

 private:
  void release() noexcept;

  std::byte* data_ = nullptr;
  std::size_t bytes_ = 0;
};

}  // namespace lazarus::backends
