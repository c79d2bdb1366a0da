#include "backends/posix/durable_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include <fmt/format.h>

#include "lazarus/errors.hpp"

namespace lazarus::backends {

std::string errno_text(int error_number) { return std::generic_category().message(error_number); }

namespace {

[[noreturn]] void throw_io(std::string_view what, const std::filesystem::path& path, int error_number) {
  throw IoError(fmt::format("cannot {} {}: {}", what, path.string(), errno_text(error_number)));
}

}  // namespace

FileDescriptor::~FileDescriptor() {
  if (fd_ >= 0) ::close(fd_);
}

FileDescriptor& FileDescriptor::operator=(FileDescriptor&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.release();
  }
  return *this;
}

int FileDescriptor::release() noexcept {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

FileDescriptor open_file(const std::filesystem::path& path, int flags, int mode) {
  if (flags & O_DIRECTORY) {
    int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
    if (fd < 0) throw_io("open", path, errno);
    return FileDescriptor(fd);
  }
  FileDescriptor fd(::open(path.c_str(), flags | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, mode));
  if (fd.get() < 0) {
    const int error_number = errno;
    if (error_number == ELOOP) throw IoError(fmt::format("cannot open {}: it is a symbolic link", path.string()));
    throw_io("open", path, error_number);
  }
  struct stat status {};
  if (::fstat(fd.get(), &status) != 0) throw_io("fstat", path, errno);
  if (!S_ISREG(status.st_mode)) {
    const char* kind = S_ISFIFO(status.st_mode) ? "a FIFO" : S_ISDIR(status.st_mode) ? "a folder"
                       : S_ISSOCK(status.st_mode) ? "a socket" : "a device or other special file";
    throw IoError(fmt::format("cannot open {}: it is {}, not a regular file", path.string(), kind));
  }
  if (!(flags & O_NONBLOCK) && ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK) != 0) {
    throw_io("fcntl", path, errno);
  }
  return fd;
}

void create_private_directory(const std::filesystem::path& dir) {
  std::error_code error;
  if (dir.has_parent_path()) std::filesystem::create_directories(dir.parent_path(), error);
  if (error) throw IoError(fmt::format("cannot create {}: {}", dir.parent_path().string(), error.message()));
  if (::mkdir(dir.c_str(), 0700) == 0) {
    if (::chmod(dir.c_str(), 0700) != 0) throw_io("chmod", dir, errno);  // a umask may have taken bits away
    return;
  }
  const int error_number = errno;
  if (error_number != EEXIST) throw_io("create folder", dir, error_number);
  if (!std::filesystem::is_directory(dir, error)) {
    throw IoError(fmt::format("cannot create folder {}: something else of that name is there", dir.string()));
  }
}

void fsync_file(const std::filesystem::path& path) {
  FileDescriptor fd = open_file(path, O_RDONLY);
  if (::fsync(fd.get()) != 0) throw_io("fsync", path, errno);
}

void fsync_directory(const std::filesystem::path& dir) {
  FileDescriptor fd = open_file(dir, O_RDONLY | O_DIRECTORY);
  if (::fsync(fd.get()) != 0) throw_io("fsync directory", dir, errno);
}

namespace {

void write_all(int fd, const std::byte* data, std::size_t size, const std::filesystem::path& path) {
  std::size_t written = 0;
  while (written < size) {
    const ssize_t n = ::write(fd, data + written, size - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_io("write", path, errno);
    }
    written += static_cast<std::size_t>(n);
  }
}

}  // namespace

void write_file_durably(const std::filesystem::path& path, std::span<const std::byte> bytes) {
  FileDescriptor fd = open_file(path, O_WRONLY | O_CREAT | O_TRUNC);
  write_all(fd.get(), bytes.data(), bytes.size(), path);
  if (::fsync(fd.get()) != 0) throw_io("fsync", path, errno);
}

void write_file_atomically(const std::filesystem::path& target, std::string_view contents,
                           const std::function<void()>& before_rename) {
  std::filesystem::path temporary = target;
  temporary += ".tmp";
  {
    try {
      write_file_durably(temporary, std::as_bytes(std::span(contents.data(), contents.size())));
    } catch (const IoError&) {
      ::unlink(temporary.c_str());
      throw;
    }
  }
  if (before_rename) before_rename();
  if (::rename(temporary.c_str(), target.c_str()) != 0) {
    int error_number = errno;
    ::unlink(temporary.c_str());
    throw_io("rename into place", target, error_number);
  }
  fsync_directory(target.parent_path().empty() ? "." : target.parent_path());
}

std::string read_whole_file(const std::filesystem::path& path) {
  FileDescriptor fd = open_file(path, O_RDONLY);
  std::string contents;
  char buffer[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_io("read", path, errno);
    }
    if (n == 0) break;
    contents.append(buffer, static_cast<std::size_t>(n));
  }
  return contents;
}

void drop_cached_pages(const std::filesystem::path& path) noexcept {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);  // a FIFO must not block
  if (fd < 0) return;
  ::fdatasync(fd);  // dirty pages cannot be dropped
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
}

}  // namespace lazarus::backends
