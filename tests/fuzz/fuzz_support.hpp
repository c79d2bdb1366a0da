#pragma once
// What the fuzz targets share: a scratch folder for the process, and a failed check that says why.
#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace lazarus::fuzz {

// A fuzz target's finding: prints what does not hold and aborts, so that libFuzzer keeps the input.
[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz check failed: %s\n", what.c_str());
  std::abort();
}

// Writes `bytes` to `path` as a new file. Not truncating the old one matters: ext4 flushes a file that
// is truncated and written again to the disk at its close (auto_da_alloc), some hundred times slower,
// and nothing here needs to be durable.
inline void write_new_file(const std::filesystem::path& path, std::string_view bytes) {
  std::filesystem::remove(path);
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A folder of this process's own under TMPDIR, removed when the process exits normally.
inline const std::filesystem::path& scratch_dir() {
  struct Folder {
    std::filesystem::path path;
    Folder() {
      std::string pattern = (std::filesystem::temp_directory_path() / "lazarus-fuzz-XXXXXX").string();
      if (::mkdtemp(pattern.data()) == nullptr) fail("mkdtemp failed");
      path = pattern;
    }
    ~Folder() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  };
  static const Folder folder;
  return folder.path;
}

}  // namespace lazarus::fuzz
