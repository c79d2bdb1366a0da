#pragma once
// The only code that calls xxHash: XXH3-64, the checksum of every file, region and manifest
// (docs/file-format.md). One call over a buffer, or a stream fed piece by piece.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

struct XXH3_state_s;

namespace lazarus::backends {

std::uint64_t xxh3_64(const void* data, std::size_t bytes) noexcept;
inline std::uint64_t xxh3_64(std::span<const std::byte> bytes) noexcept { return xxh3_64(bytes.data(), bytes.size()); }

// XXH3-64 over pieces given in order: the same value as xxh3_64 over their concatenation.
class Xxh3Stream {
 public:
  Xxh3Stream();  // throws Error when the state cannot be allocated
  void update(const void* data, std::size_t bytes) noexcept;
  std::uint64_t digest() const noexcept;

 private:
  struct Free {
    void operator()(XXH3_state_s* state) const noexcept;
  };
  std::unique_ptr<XXH3_state_s, Free> state_;
};

}  // namespace lazarus::backends
