#include "runtime/engine/background_writer.hpp"

#include "runtime/format/commit_protocol.hpp"

namespace lazarus::detail {

BackgroundWriter::BackgroundWriter(const backends::Communicator& comm, const Options& options, int workers)
    : comm_(comm), options_(options), workers_(workers), thread_([this] { run(); }) {}

BackgroundWriter::~BackgroundWriter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void BackgroundWriter::submit(std::shared_ptr<StagedCheckpoint> checkpoint) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(checkpoint));
  }
  changed_.notify_all();
}

bool BackgroundWriter::finished(const StagedCheckpoint& checkpoint, bool wait) {
  std::unique_lock lock(mutex_);
  if (wait) changed_.wait(lock, [&] { return checkpoint.finished; });
  return checkpoint.finished;
}

void BackgroundWriter::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and everything submitted is written
    const std::shared_ptr<StagedCheckpoint> checkpoint = queue_.front();
    queue_.pop_front();
    lock.unlock();
    RankRecord record;
    const Outcome outcome = capture([&] {
      record = write_rank_piece(comm_, options_, checkpoint->version_dir, checkpoint->version, checkpoint->regions,
                                workers_);
    });
    lock.lock();
    checkpoint->record = std::move(record);
    checkpoint->outcome = outcome;
    checkpoint->finished = true;
    changed_.notify_all();
  }
}

}  // namespace lazarus::detail
