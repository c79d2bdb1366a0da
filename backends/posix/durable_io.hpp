#pragma once
// Durable file operations: the commit protocol relies on these to know that bytes reached stable
// storage (fsync of files and of the directories that name them) and that a file appears whole or not
// at all (write to a temporary, fsync, rename, fsync the directory).
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>

namespace lazarus::backends {

// An open POSIX file descriptor, closed on destruction.
class FileDescriptor {
 public:
  FileDescriptor() = default;
  explicit FileDescriptor(int fd) noexcept : fd_(fd) {}
  ~FileDescriptor();
  FileDescriptor(FileDescriptor&& other) noexcept : fd_(other.release()) {}
  FileDescriptor& operator=(FileDescriptor&& other) noexcept;
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;

  int get() const noexcept { return fd_; }
  int release() noexcept;

 private:
  int fd_ = -1;
};

// Opens `path` with open(2) flags; throws IoError naming the file and errno's text. Without
// O_DIRECTORY the path must be a regular file and not a symbolic link: a FIFO or device in a checkpoint
// folder would block open() or read() forever, and a link could lead out of it. It is opened without
// blocking, checked, and only then used.
FileDescriptor open_file(const std::filesystem::path& path, int flags, int mode = 0644);

// Creates `dir` (its missing parents with the usual mode) as a folder only its owner may enter: 0700,
// whatever the umask. A folder that exists already keeps its mode, so that whoever wants a job shared
// with a group makes its folder first, with that mode. Throws IoError, also when `dir` exists and is
// not a folder.
void create_private_directory(const std::filesystem::path& dir);

// fsync(2) a file's data and metadata. Throws IoError.
void fsync_file(const std::filesystem::path& path);
// fsync(2) a directory so that entries created, renamed or removed in it are durable. Throws IoError.
void fsync_directory(const std::filesystem::path& dir);

// Writes `contents` to `target` so that after a crash at any instant `target` is either absent (or its
// previous contents) or complete: temporary file, fsync, rename, fsync of the directory.
// `before_rename`, when given, runs once the temporary is durable (a fault-injection point).
void write_file_atomically(const std::filesystem::path& target, std::string_view contents,
                           const std::function<void()>& before_rename = {});

// Creates or truncates `path`, writes `bytes` and fsyncs the file (not its directory). Throws IoError
// naming the file and the system's reason (for instance "No space left on device").
void write_file_durably(const std::filesystem::path& path, std::span<const std::byte> bytes);

// Whole file as bytes. Throws IoError.
std::string read_whole_file(const std::filesystem::path& path);

// Asks the kernel to drop the file's cached pages (for cold-read measurements). Best effort.
void drop_cached_pages(const std::filesystem::path& path) noexcept;

// Text of an errno value ("No space left on device").
std::string errno_text(int error_number);

}  // namespace lazarus::backends
