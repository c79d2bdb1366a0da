#include "backends/posix/file_checksum.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include <fmt/format.h>
#include <xxhash.h>

#include "backends/posix/durable_io.hpp"
#include "lazarus/errors.hpp"

namespace lazarus::backends {

std::uint64_t xxh3_of_file(const std::filesystem::path& path) {
  FileDescriptor fd = open_file(path, O_RDONLY);
  ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  using State = std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)>;
  State state(XXH3_createState(), &XXH3_freeState);
  if (!state || XXH3_64bits_reset(state.get()) != XXH_OK) throw Error("cannot allocate an XXH3 state");
  constexpr std::size_t kBufferBytes = std::size_t{1} << 20;
  auto buffer = std::make_unique_for_overwrite<std::byte[]>(kBufferBytes);
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer.get(), kBufferBytes);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw IoError(fmt::format("cannot read {}: {}", path.string(), errno_text(errno)));
    }
    if (n == 0) break;
    XXH3_64bits_update(state.get(), buffer.get(), static_cast<std::size_t>(n));
  }
  return XXH3_64bits_digest(state.get());
}

}  // namespace lazarus::backends
