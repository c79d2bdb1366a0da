// The POSIX file layer's defences against what another party may leave in a checkpoint folder
// (issue 13, items 2 and 5).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "backends/posix/durable_io.hpp"
#include "lazarus/errors.hpp"
#include "test_scratch_dir.hpp"

namespace lazarus::backends {
namespace {

namespace fs = std::filesystem;

mode_t mode_of(const fs::path& path) {
  struct stat status {};
  if (::lstat(path.c_str(), &status) != 0) return 0;
  return status.st_mode & 07777;
}

std::string refusal_of_open(const fs::path& path, int flags) {
  try {
    open_file(path, flags);
  } catch (const IoError& error) {
    return error.what();
  }
  return "";
}

TEST(PrivateDirectory, IsOnlyTheOwnersWhateverTheUmask) {
  testing::ScratchDir scratch;
  const mode_t saved = ::umask(022);  // the usual umask, which leaves 0755 to a plain mkdir
  create_private_directory(scratch.path() / "root" / "job");
  ::umask(saved);
  EXPECT_EQ(mode_of(scratch.path() / "root" / "job"), 0700u);
  EXPECT_TRUE(fs::is_directory(scratch.path() / "root"));
}

TEST(PrivateDirectory, AnExistingFolderKeepsTheModeItsOwnerGaveIt) {
  testing::ScratchDir scratch;
  const fs::path shared = scratch.path() / "shared-job";
  ASSERT_EQ(::mkdir(shared.c_str(), 0750), 0);
  ASSERT_EQ(::chmod(shared.c_str(), 0750), 0);
  create_private_directory(shared);
  EXPECT_EQ(mode_of(shared), 0750u);
}

TEST(PrivateDirectory, SomethingElseOfThatNameIsAnError) {
  testing::ScratchDir scratch;
  std::ofstream(scratch.path() / "job") << "a file";
  EXPECT_THROW(create_private_directory(scratch.path() / "job"), IoError);
}

// A FIFO blocked open() forever (for reading until a writer came, for writing until a reader came).
TEST(OpenFile, OnlyRegularFilesAndNeverALink) {
  testing::ScratchDir scratch;
  const fs::path fifo = scratch.path() / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_NE(refusal_of_open(fifo, O_RDONLY).find("is a FIFO, not a regular file"), std::string::npos);
  EXPECT_NE(refusal_of_open(fifo, O_WRONLY | O_CREAT | O_TRUNC), "");
  const fs::path folder = scratch.path() / "folder";
  fs::create_directory(folder);
  EXPECT_NE(refusal_of_open(folder, O_RDONLY).find("is a folder, not a regular file"), std::string::npos);
  const fs::path target = scratch.path() / "target";
  std::ofstream(target) << "x";
  fs::create_symlink(target, scratch.path() / "link");
  EXPECT_NE(refusal_of_open(scratch.path() / "link", O_RDONLY).find("is a symbolic link"), std::string::npos);
  EXPECT_EQ(read_whole_file(target), "x");  // the control: a regular file opens and reads
}

}  // namespace
}  // namespace lazarus::backends
