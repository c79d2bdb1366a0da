#include "backends/xxhash/xxh3.hpp"

#include <xxhash.h>

#include "lazarus/errors.hpp"

namespace lazarus::backends {

std::uint64_t xxh3_64(const void* data, std::size_t bytes) noexcept { return XXH3_64bits(data, bytes); }

void Xxh3Stream::Free::operator()(XXH3_state_s* state) const noexcept { XXH3_freeState(state); }

Xxh3Stream::Xxh3Stream() : state_(XXH3_createState()) {
  if (!state_ || XXH3_64bits_reset(state_.get()) != XXH_OK) throw Error("cannot allocate an XXH3 state");
}

void Xxh3Stream::update(const void* data, std::size_t bytes) noexcept { XXH3_64bits_update(state_.get(), data, bytes); }

std::uint64_t Xxh3Stream::digest() const noexcept { return XXH3_64bits_digest(state_.get()); }

}  // namespace lazarus::backends
