#pragma once
// The compression pipeline of RankFileWriter: chunks are shuffled and zstd-compressed by worker threads
// while the calling thread stores the frames already done (HDF5, which must see one caller at a time,
// and the file), in chunk order. With N workers, N chunks compress at once while chunk i is written;
// with none, the caller compresses each chunk itself.
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace lazarus::backends {

// One chunk to compress: `keep_bytes` of data at `source`, padded with zeros to the whole chunk.
struct ChunkSource {
  const std::byte* source = nullptr;
  std::size_t keep_bytes = 0;
};

class ChunkCompressor {
 public:
  // `workers` threads (0: none) for chunks of `chunk_bytes` bytes of `element_bytes`-byte elements.
  ChunkCompressor(int workers, std::size_t chunk_bytes, std::size_t element_bytes, int level);
  ~ChunkCompressor();
  ChunkCompressor(const ChunkCompressor&) = delete;
  ChunkCompressor& operator=(const ChunkCompressor&) = delete;

  // Compresses chunks 0..count-1 (`chunk(i)` says where each is) and calls `store(i, frame)` for each,
  // in order, on the calling thread. Throws what `store` throws, or IoError when zstd fails.
  void run(std::size_t count, const std::function<ChunkSource(std::size_t)>& chunk,
           const std::function<void(std::size_t, std::span<const std::byte>)>& store);

 private:
  struct Slot;
  void work();
  void compress(Slot& slot, ChunkSource source) const;

  std::size_t chunk_bytes_;
  std::size_t element_bytes_;
  int level_;
  std::vector<std::unique_ptr<Slot>> slots_;  // workers + 1: one being stored, the others compressing

  // Shared with the workers, under mutex_.
  std::mutex mutex_;
  std::condition_variable changed_;
  const std::function<ChunkSource(std::size_t)>* chunk_ = nullptr;
  std::size_t count_ = 0;       // chunks in the current run
  std::size_t next_ = 0;        // next chunk a worker takes
  std::size_t stored_ = 0;      // chunks the caller has stored
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace lazarus::backends
