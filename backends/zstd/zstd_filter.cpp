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

int compression_level(std::size_t cd_nelmts, const unsigned cd_values[]) noexcept {
  if (cd_nelmts == 0) return ZSTD_CLEVEL_DEFAULT;
  // cd_values are unsigned; reading the bits back as int lets zstd's negative (fastest) levels
  // through, and 0 means zstd's default. Out-of-range levels are clamped to zstd's range (the
  // reference plugin clamps to 1..max: it writes the same format either way).
  const int requested = static_cast<int>(cd_values[0]);
  return std::clamp(requested, ZSTD_minCLevel(), ZSTD_maxCLevel());
}

std::size_t compress(int level, std::size_t nbytes, std::size_t* buf_size, void** buf) noexcept {
  ZSTD_CCtx* const cctx = thread_cctx();
  if (cctx == nullptr) return 0;
  // A full-size bound guarantees one-shot success. Even incompressible input becomes a frame
  // (zstd stores it in raw blocks), so every chunk stays exactly one frame.
  const std::size_t capacity = ZSTD_compressBound(nbytes);
  if (ZSTD_isError(capacity)) return 0;
  MallocBuffer out{std::malloc(capacity)};
  if (!out) return 0;
  // ZSTD_compressCCtx applies only the level, so the frame records its content size (the
  // default) exactly as ZSTD_compress in the reference plugin does.
  const std::size_t written = ZSTD_compressCCtx(cctx, out.get(), capacity, *buf, nbytes, level);
  if (ZSTD_isError(written)) return 0;
  std::free(*buf);
  *buf = out.release();
  *buf_size = capacity;
  return written;
}

std::size_t decompress(std::size_t nbytes, std::size_t* buf_size, void** buf) noexcept {
  const void* const src = *buf;
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

  ZSTD_DCtx* const dctx = thread_dctx();
  if (dctx == nullptr) return 0;
  const auto size = static_cast<std::size_t>(content);
  MallocBuffer out{std::malloc(size)};
  if (!out) return 0;
  const std::size_t produced = ZSTD_decompressDCtx(dctx, out.get(), size, src, nbytes);
  if (ZSTD_isError(produced) || produced != size) return 0;
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

std::size_t zstd_filter(unsigned flags, std::size_t cd_nelmts, const unsigned cd_values[],
                        std::size_t nbytes, std::size_t* buf_size, void** buf) noexcept {
  // A C callback: report failure by returning 0, never by throwing (nothing below throws).
  if (buf == nullptr || *buf == nullptr || buf_size == nullptr || nbytes == 0) return 0;
  if ((flags & H5Z_FLAG_REVERSE) != 0) return decompress(nbytes, buf_size, buf);
  return compress(compression_level(cd_nelmts, cd_values), nbytes, buf_size, buf);
}

}  // namespace lazarus::backends
