#pragma once
// HDF5's shuffle filter (H5Z_FILTER_SHUFFLE) byte order, for chunks that rank_file.cpp compresses and
// decompresses itself: byte j of element i goes to position j * elements + i. Same bytes as
// H5Zshuffle.c for whole chunks (a chunk is always a whole number of elements, so H5Zshuffle's
// "leftover" tail never arises), just faster for 4- and 8-byte elements: blocks of 16 elements are
// transposed in SSE2 registers (a network of byte interleaves), the rest in 64-bit (32-bit) words,
// instead of one byte at a time.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace lazarus::backends {
namespace shuffle_detail {

template <class Word>
inline Word load(const std::byte* p) noexcept {
  Word w;
  std::memcpy(&w, p, sizeof w);
  return w;
}
template <class Word>
inline void store(std::byte* p, Word w) noexcept {
  std::memcpy(p, &w, sizeof w);
}

// Transposes the 8x8 byte matrix whose row r is x[r] (byte c of a little-endian word = column c).
inline void transpose8x8(std::uint64_t x[8]) noexcept {
  for (int r = 0; r < 4; ++r) {
    const std::uint64_t t = ((x[r] >> 32) ^ x[r + 4]) & 0x00000000FFFFFFFFull;
    x[r] ^= t << 32;
    x[r + 4] ^= t;
  }
  for (int r : {0, 1, 4, 5}) {
    const std::uint64_t t = ((x[r] >> 16) ^ x[r + 2]) & 0x0000FFFF0000FFFFull;
    x[r] ^= t << 16;
    x[r + 2] ^= t;
  }
  for (int r : {0, 2, 4, 6}) {
    const std::uint64_t t = ((x[r] >> 8) ^ x[r + 1]) & 0x00FF00FF00FF00FFull;
    x[r] ^= t << 8;
    x[r + 1] ^= t;
  }
}

// The same for a 4x4 byte matrix in 32-bit words.
inline void transpose4x4(std::uint32_t x[4]) noexcept {
  for (int r : {0, 1}) {
    const std::uint32_t t = ((x[r] >> 16) ^ x[r + 2]) & 0x0000FFFFu;
    x[r] ^= t << 16;
    x[r + 2] ^= t;
  }
  for (int r : {0, 2}) {
    const std::uint32_t t = ((x[r] >> 8) ^ x[r + 1]) & 0x00FF00FFu;
    x[r] ^= t << 8;
    x[r + 1] ^= t;
  }
}

#if defined(__SSE2__)
// One round of the interleave network over `N` registers: out[2k], out[2k+1] = the low and high
// byte interleaves of in[k] and in[k + N/2]. For 16 elements in N registers (N = element size),
// log2(16) = 4 rounds turn elements into byte planes (register j = byte j of the 16 elements); the
// way back takes log2(N) rounds (3 for 8-byte, 2 for 4-byte elements).
template <int N>
inline void interleave_round(__m128i x[N]) noexcept {
  __m128i out[N];
  for (int k = 0; k < N / 2; ++k) {
    out[2 * k] = _mm_unpacklo_epi8(x[k], x[k + N / 2]);
    out[2 * k + 1] = _mm_unpackhi_epi8(x[k], x[k + N / 2]);
  }
  for (int k = 0; k < N; ++k) x[k] = out[k];
}

// Elements [0, result) of shuffle (N = element size, 4 or 8), 16 at a time.
template <int N>
inline std::size_t shuffle_sse2(const std::byte* in, std::byte* out, std::size_t elements) noexcept {
  std::size_t i = 0;
  for (; i + 16 <= elements; i += 16) {
    __m128i x[N];
    for (int k = 0; k < N; ++k) x[k] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i * N + 16 * k));
    for (int round = 0; round < 4; ++round) interleave_round<N>(x);
    for (int j = 0; j < N; ++j) _mm_storeu_si128(reinterpret_cast<__m128i*>(out + j * elements + i), x[j]);
  }
  return i;
}

template <int N>
inline std::size_t unshuffle_sse2(const std::byte* in, std::size_t elements, std::byte* out, std::size_t keep) noexcept {
  constexpr int rounds = N == 8 ? 3 : 2;
  std::size_t i = 0;
  for (; i + 16 <= keep; i += 16) {
    __m128i x[N];
    for (int j = 0; j < N; ++j) x[j] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + j * elements + i));
    for (int round = 0; round < rounds; ++round) interleave_round<N>(x);
    for (int k = 0; k < N; ++k) _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i * N + 16 * k), x[k]);
  }
  return i;
}
#endif

// Elements [first, last) one byte at a time.
inline void shuffle_bytewise(const std::byte* in, std::byte* out, std::size_t elements, std::size_t size,
                             std::size_t first, std::size_t last) noexcept {
  for (std::size_t j = 0; j < size; ++j) {
    std::byte* stream = out + j * elements;
    for (std::size_t i = first; i < last; ++i) stream[i] = in[i * size + j];
  }
}
inline void unshuffle_bytewise(const std::byte* in, std::size_t elements, std::size_t size, std::byte* out,
                               std::size_t first, std::size_t last) noexcept {
  for (std::size_t j = 0; j < size; ++j) {
    const std::byte* stream = in + j * elements;
    for (std::size_t i = first; i < last; ++i) out[i * size + j] = stream[i];
  }
}

}  // namespace shuffle_detail

// Shuffles `elements` elements of `size` bytes from `in` to `out` (both elements * size bytes, not
// overlapping).
inline void shuffle_bytes(const std::byte* in, std::byte* out, std::size_t elements, std::size_t size) noexcept {
  using namespace shuffle_detail;
  if (size <= 1 || elements <= 1) {
    std::memcpy(out, in, elements * size);
    return;
  }
  std::size_t i = 0;
#if defined(__SSE2__)
  if (size == 8) i = shuffle_sse2<8>(in, out, elements);
  if (size == 4) i = shuffle_sse2<4>(in, out, elements);
#endif
  if constexpr (std::endian::native == std::endian::little) {
    if (size == 8) {
      for (; i + 8 <= elements; i += 8) {
        std::uint64_t x[8];
        for (int r = 0; r < 8; ++r) x[r] = load<std::uint64_t>(in + (i + r) * 8);
        transpose8x8(x);
        for (int j = 0; j < 8; ++j) store(out + j * elements + i, x[j]);
      }
    } else if (size == 4) {
      for (; i + 4 <= elements; i += 4) {
        std::uint32_t x[4];
        for (int r = 0; r < 4; ++r) x[r] = load<std::uint32_t>(in + (i + r) * 4);
        transpose4x4(x);
        for (int j = 0; j < 4; ++j) store(out + j * elements + i, x[j]);
      }
    }
  }
  if (i < elements) shuffle_bytewise(in, out, elements, size, i, elements);
}

// Reverses shuffle_bytes for a chunk of `elements` elements, writing only its first `keep` elements
// to `out` (keep <= elements: the part of an edge chunk inside the dataset).
inline void unshuffle_bytes(const std::byte* in, std::size_t elements, std::size_t size, std::byte* out,
                            std::size_t keep) noexcept {
  using namespace shuffle_detail;
  if (size <= 1 || elements <= 1) {
    std::memcpy(out, in, keep * size);
    return;
  }
  std::size_t i = 0;
#if defined(__SSE2__)
  if (size == 8) i = unshuffle_sse2<8>(in, elements, out, keep);
  if (size == 4) i = unshuffle_sse2<4>(in, elements, out, keep);
#endif
  if constexpr (std::endian::native == std::endian::little) {
    if (size == 8) {
      for (; i + 8 <= keep; i += 8) {
        std::uint64_t x[8];
        for (int j = 0; j < 8; ++j) x[j] = load<std::uint64_t>(in + j * elements + i);
        transpose8x8(x);
        for (int r = 0; r < 8; ++r) store(out + (i + r) * 8, x[r]);
      }
    } else if (size == 4) {
      for (; i + 4 <= keep; i += 4) {
        std::uint32_t x[4];
        for (int j = 0; j < 4; ++j) x[j] = load<std::uint32_t>(in + j * elements + i);
        transpose4x4(x);
        for (int r = 0; r < 4; ++r) store(out + (i + r) * 4, x[r]);
      }
    }
  }
  if (i < keep) unshuffle_bytewise(in, elements, size, out, i, keep);
}

}  // namespace lazarus::backends
