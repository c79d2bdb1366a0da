#include "backends/zstd/zstd_filter.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include <zstd.h>

namespace lazarus::backends {
namespace {

struct CCtxDeleter {
  void operator()(ZSTD_CCtx* ctx) const noexcept { ZSTD_freeCCtx(ctx); }
};
struct DCtxDeleter {
  void operator()(ZSTD_DCtx* ctx) const noexcept { ZSTD_freeDCtx(ctx); }
};

// HDF5's filter contract: the library allocated *buf with malloc and frees or reallocs whatever
// buffer the filter hands back with free/realloc. This is therefore the one place that uses raw
// malloc/free; the unique_ptr only guards the new buffer until it is handed over.
struct FreeDeleter {
  void operator()(void* ptr) const noexcept { std::free(ptr); }
};
using MallocBuffer = std::unique_ptr<void, FreeDeleter>;

// One context per thread, kept across chunks: creating a context allocates its tables each time,
// and threads (HDF5's thread-safe build, our own I/O threads) must not share one. A failed
// creation is retried on the next chunk rather than remembered.
ZSTD_CCtx* thread_cctx() noexcept {
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxDeleter> ctx;
  if (!ctx) ctx.reset(ZSTD_createCCtx());
  return ctx.get();
}

ZSTD_DCtx* thread_dctx() noexcept {
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxDeleter> ctx;
  if (!ctx) ctx.reset(ZSTD_createDCtx());
  return ctx.get();
}

// HDF5 limits a chunk to 4 GiB - 1 bytes, so a larger recorded size can only come from damage;
// trusting it would ask malloc for up to 16 EiB.
constexpr unsigned long long kMaxChunkBytes = 0xFFFF'FFFFull;

int clamp_level(int level) noexcept { return std::clamp(level, ZSTD_minCLevel(), ZSTD_maxCLevel()); }

int compression_level(std::size_t cd_nelmts, const unsigned cd_values[]) noexcept {
  if (cd_nelmts == 0) return ZSTD_CLEVEL_DEFAULT;
  // cd_values are unsigned; reading the bits back as int lets zstd's negative (fastest) levels
  // through. Out-of-range levels are clamped, as the reference plugin does.
  return clamp_level(static_cast<int>(cd_values[0]));
}

// Size a valid chunk frame says it holds, or 0 when it is not exactly one frame of known size.
std::size_t frame_content_size(const void* src, std::size_t nbytes) noexcept {
  const unsigned long long content = ZSTD_getFrameContentSize(src, nbytes);
  // Unknown or error sizes are not our format. Zero is refused too: it is also what a skippable
  // frame reports, and HDF5 reads a 0 return as failure anyway.
  if (content == ZSTD_CONTENTSIZE_UNKNOWN || content == ZSTD_CONTENTSIZE_ERROR || content == 0 ||
      content > kMaxChunkBytes) {
    return 0;
  }
  // The chunk must be exactly one frame: no trailing bytes and no second frame after it.
  const std::size_t frame_bytes = ZSTD_findFrameCompressedSize(src, nbytes);
  if (ZSTD_isError(frame_bytes) || frame_bytes != nbytes) return 0;
  return static_cast<std::size_t>(content);
}

std::size_t compress(int level, std::size_t nbytes, std::size_t* buf_size, void** buf) noexcept {
  // A full-size bound guarantees one-shot success. Even incompressible input becomes a frame
  // (zstd stores it in raw blocks), so every chunk stays exactly one frame.
  const std::size_t capacity = ZSTD_compressBound(nbytes);
  if (ZSTD_isError(capacity)) return 0;
  MallocBuffer out{std::malloc(capacity)};
  if (!out) return 0;
  const std::size_t written =
      zstd_compress_frame(level, {static_cast<const std::byte*>(*buf), nbytes},
                          {static_cast<std::byte*>(out.get()), capacity});
  if (written == 0) return 0;
  std::free(*buf);
  *buf = out.release();
  *buf_size = capacity;
  return written;
}

std::size_t decompress(std::size_t nbytes, std::size_t* buf_size, void** buf) noexcept {
  const std::size_t size = frame_content_size(*buf, nbytes);
  if (size == 0) return 0;
  MallocBuffer out{std::malloc(size)};
  if (!out) return 0;
  if (!zstd_decompress_frame({static_cast<const std::byte*>(*buf), nbytes},
                             {static_cast<std::byte*>(out.get()), size})) {
    return 0;
  }
  std::free(*buf);
  *buf = out.release();
  *buf_size = size;
  return size;
}

constexpr H5Z_class2_t kZstdFilterClass{
    .version = H5Z_CLASS_T_VERS,
    .id = kZstdFilterId,
    .encoder_present = 1,
    .decoder_present = 1,
    .name = "Zstandard (Lazarus)",
    .can_apply = nullptr,
    .set_local = nullptr,
    .filter = zstd_filter,
};

}  // namespace

const H5Z_class2_t* zstd_filter_class() { return &kZstdFilterClass; }

std::size_t zstd_frame_bound(std::size_t bytes) noexcept { return ZSTD_compressBound(bytes); }

std::size_t zstd_compress_frame(int level, std::span<const std::byte> source,
                                std::span<std::byte> destination) noexcept {
  ZSTD_CCtx* const cctx = thread_cctx();
  if (cctx == nullptr) return 0;
  // ZSTD_compressCCtx applies only the level, so the frame records its content size (the
  // default) exactly as ZSTD_compress in the reference plugin does.
  const std::size_t written = ZSTD_compressCCtx(cctx, destination.data(), destination.size(), source.data(),
                                                source.size(), clamp_level(level));
  return ZSTD_isError(written) ? 0 : written;
}

bool zstd_decompress_frame(std::span<const std::byte> frame, std::span<std::byte> destination) noexcept {
  if (destination.empty() || frame_content_size(frame.data(), frame.size()) != destination.size()) return false;
  ZSTD_DCtx* const dctx = thread_dctx();
  if (dctx == nullptr) return false;
  const std::size_t produced =
      ZSTD_decompressDCtx(dctx, destination.data(), destination.size(), frame.data(), frame.size());
  return !ZSTD_isError(produced) && produced == destination.size();
}

std::size_t zstd_filter(unsigned flags, std::size_t cd_nelmts, const unsigned cd_values[],
                        std::size_t nbytes, std::size_t* buf_size, void** buf) noexcept {
  // A C callback: report failure by returning 0, never by throwing (nothing below throws).
  if (buf == nullptr || *buf == nullptr || buf_size == nullptr || nbytes == 0) return 0;
  if ((flags & H5Z_FLAG_REVERSE) != 0) return decompress(nbytes, buf_size, buf);
  return compress(compression_level(cd_nelmts, cd_values), nbytes, buf_size, buf);
}

}  // namespace lazarus::backends
