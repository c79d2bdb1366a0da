#include "backends/posix/file_checksum.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>

#include <fmt/format.h>

#include "backends/posix/durable_io.hpp"
#include "backends/xxhash/xxh3.hpp"
#include "lazarus/errors.hpp"

namespace lazarus::backends {
namespace {

// Keeps the kernel reading up to kReadAheadBytes beyond `position`; `advised` tracks how far it was
// asked to. Linux reads at most its readahead window (read_ahead_kb) per POSIX_FADV_WILLNEED, so the
// advice goes out in steps of kAdviceBytes. Advice only: its errors are of no consequence.
void advise_read_ahead(int fd, std::uint64_t position, std::uint64_t& advised, std::uint64_t size) {
  constexpr std::uint64_t kReadAheadBytes = std::uint64_t{64} << 20;
  constexpr std::uint64_t kAdviceBytes = std::uint64_t{4} << 20;
  const std::uint64_t until = std::min(size, position + kReadAheadBytes);
  while (advised < until) {
    const std::uint64_t step = std::min(kAdviceBytes, size - advised);
    ::posix_fadvise(fd, static_cast<off_t>(advised), static_cast<off_t>(step), POSIX_FADV_WILLNEED);
    advised += step;
  }
}

// Reads exactly `bytes` at `offset`. Throws IoError, also when the file ends first.
void read_exactly(int fd, std::byte* destination, std::size_t bytes, std::uint64_t offset,
                  const std::filesystem::path& path) {
  std::size_t done = 0;
  while (done < bytes) {
    const ssize_t n = ::pread(fd, destination + done, bytes - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw IoError(fmt::format("cannot read {}: {}", path.string(), errno_text(errno)));
    if (n == 0) throw IoError(fmt::format("{} ended early, at {} bytes", path.string(), offset + done));
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace

std::uint64_t xxh3_of_file(const std::filesystem::path& path) {
  FileDescriptor fd = open_file(path, O_RDONLY);
  ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  Xxh3Stream state;
  constexpr std::size_t kBufferBytes = std::size_t{1} << 20;
  auto buffer = std::make_unique_for_overwrite<std::byte[]>(kBufferBytes);
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer.get(), kBufferBytes);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw IoError(fmt::format("cannot read {}: {}", path.string(), errno_text(errno)));
    }
    if (n == 0) break;
    state.update(buffer.get(), static_cast<std::size_t>(n));
  }
  return state.digest();
}

HashedFile read_and_hash_file(const std::filesystem::path& path, std::uint64_t expected_bytes) {
  const FileDescriptor fd = open_file(path, O_RDONLY);
  return read_and_hash_file(fd.get(), path, expected_bytes);
}

HashedFile read_and_hash_file(int fd, const std::filesystem::path& path, std::uint64_t expected_bytes) {
  struct stat status {};
  if (::fstat(fd, &status) != 0) throw IoError(fmt::format("cannot stat {}: {}", path.string(), errno_text(errno)));
  if (static_cast<std::uint64_t>(status.st_size) != expected_bytes) {
    throw IoError(fmt::format("{} is {} bytes, expected {}", path.string(), status.st_size, expected_bytes));
  }
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  std::uint64_t advised = 0;
  advise_read_ahead(fd, 0, advised, expected_bytes);
  // Faulted in while the disk starts on the first pieces.
  HashedFile file{StagingBuffer(static_cast<std::size_t>(expected_bytes)), 0};
  Xxh3Stream state;
  constexpr std::uint64_t kPieceBytes = std::uint64_t{1} << 20;  // hashed while still in cache
  for (std::uint64_t offset = 0; offset < expected_bytes; offset += kPieceBytes) {
    advise_read_ahead(fd, offset, advised, expected_bytes);
    const auto piece = static_cast<std::size_t>(std::min(kPieceBytes, expected_bytes - offset));
    read_exactly(fd, file.bytes.data() + offset, piece, offset, path);
    state.update(file.bytes.data() + offset, piece);
  }
  file.xxh3 = state.digest();
  return file;
}

}  // namespace lazarus::backends
