#include "backends/hdf5/chunk_compressor.hpp"

#include <cstring>
#include <thread>

#include "backends/hdf5/byte_shuffle.hpp"
#include "backends/zstd/zstd_filter.hpp"
#include "lazarus/errors.hpp"

namespace lazarus::backends {

// One chunk's buffers. `done` is the index of the chunk whose frame it holds (or `kEmpty`).
struct ChunkCompressor::Slot {
  static constexpr std::size_t kEmpty = static_cast<std::size_t>(-1);
  std::unique_ptr<std::byte[]> shuffled;
  std::unique_ptr<std::byte[]> frame;
  std::size_t frame_capacity = 0;
  std::size_t frame_bytes = 0;  // 0: zstd failed
  std::size_t done = kEmpty;
};

ChunkCompressor::ChunkCompressor(int workers, std::size_t chunk_bytes, std::size_t element_bytes, int level)
    : chunk_bytes_(chunk_bytes), element_bytes_(element_bytes), level_(level) {
  for (int i = 0; i <= workers; ++i) {
    auto slot = std::make_unique<Slot>();
    slot->shuffled = std::make_unique_for_overwrite<std::byte[]>(chunk_bytes);
    slot->frame_capacity = zstd_frame_bound(chunk_bytes);
    slot->frame = std::make_unique_for_overwrite<std::byte[]>(slot->frame_capacity);
    slots_.push_back(std::move(slot));
  }
  for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { work(); });
}

ChunkCompressor::~ChunkCompressor() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (auto& worker : workers_) worker.join();
}

void ChunkCompressor::compress(Slot& slot, ChunkSource source) const {
  const std::byte* data = source.source;
  if (source.keep_bytes < chunk_bytes_) {
    // An edge chunk is stored whole: padded with zeros (the frame buffer is free until compression).
    std::memcpy(slot.frame.get(), data, source.keep_bytes);
    std::memset(slot.frame.get() + source.keep_bytes, 0, chunk_bytes_ - source.keep_bytes);
    data = slot.frame.get();
  }
  shuffle_bytes(data, slot.shuffled.get(), chunk_bytes_ / element_bytes_, element_bytes_);
  slot.frame_bytes = zstd_compress_frame(level_, {slot.shuffled.get(), chunk_bytes_},
                                         {slot.frame.get(), slot.frame_capacity});
}

void ChunkCompressor::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    // A chunk may be taken once its slot is free: at most slots_.size() chunks ahead of the caller.
    changed_.wait(lock, [&] { return stopping_ || (next_ < count_ && next_ < stored_ + slots_.size()); });
    if (stopping_) return;
    const std::size_t index = next_++;
    Slot& slot = *slots_[index % slots_.size()];
    const ChunkSource source = (*chunk_)(index);
    lock.unlock();
    compress(slot, source);
    lock.lock();
    slot.done = index;
    changed_.notify_all();
  }
}

void ChunkCompressor::run(std::size_t count, const std::function<ChunkSource(std::size_t)>& chunk,
                          const std::function<void(std::size_t, std::span<const std::byte>)>& store) {
  if (workers_.empty()) {  // no workers: one chunk at a time on this thread
    Slot& slot = *slots_.front();
    for (std::size_t index = 0; index < count; ++index) {
      compress(slot, chunk(index));
      if (slot.frame_bytes == 0) throw IoError("zstd compression failed");
      store(index, {slot.frame.get(), slot.frame_bytes});
    }
    return;
  }
  {
    std::lock_guard lock(mutex_);
    chunk_ = &chunk;
    count_ = count;
    next_ = 0;
    stored_ = 0;
    for (auto& slot : slots_) slot->done = Slot::kEmpty;
  }
  changed_.notify_all();
  // Whatever happens, the workers stop taking chunks of this run before `chunk` goes away.
  struct EndRun {
    ChunkCompressor& self;
    ~EndRun() {
      std::unique_lock lock(self.mutex_);
      self.count_ = 0;
      // Wait for chunks already taken to finish compressing (they write into our slots).
      self.changed_.wait(lock, [&] {
        for (std::size_t i = self.stored_; i < self.next_; ++i) {
          if (self.slots_[i % self.slots_.size()]->done != i) return false;
        }
        return true;
      });
      self.chunk_ = nullptr;
    }
  } end_run{*this};
  for (std::size_t index = 0; index < count; ++index) {
    Slot& slot = *slots_[index % slots_.size()];
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] { return slot.done == index; });
    }
    if (slot.frame_bytes == 0) throw IoError("zstd compression failed");
    store(index, {slot.frame.get(), slot.frame_bytes});
    {
      std::lock_guard lock(mutex_);
      stored_ = index + 1;
    }
    changed_.notify_all();
  }
}

}  // namespace lazarus::backends
