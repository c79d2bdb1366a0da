#pragma once
// A folder of the launcher's own, removed with everything in it when its owner goes. mkdtemp makes its
// name unguessable (nobody can create it first: it never takes a folder or file that already exists)
// and its mode 0700. Used for an attempt's shared-memory files and the heartbeat's Unix socket.
#include <stdlib.h>

#include <cerrno>
#include <filesystem>
#include <string>
#include <system_error>

#include <fmt/format.h>

namespace lazarus::launcher {

class PrivateFolder {
 public:
  // <parent>/<prefix>XXXXXX; throws std::system_error when it cannot be created.
  PrivateFolder(const std::filesystem::path& parent, const std::string& prefix) {
    std::string name = (parent / (prefix + "XXXXXX")).string();
    if (::mkdtemp(name.data()) == nullptr) {
      throw std::system_error(errno, std::generic_category(), fmt::format("cannot create {}", name));
    }
    path_ = name;
  }
  ~PrivateFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  PrivateFolder(const PrivateFolder&) = delete;
  PrivateFolder& operator=(const PrivateFolder&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace lazarus::launcher
