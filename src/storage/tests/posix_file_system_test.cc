// What only the real disk has: descriptors. Everything both file systems
// promise is in file_system_contract_test.cc.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "storage/file_system.h"
#include "storage/tests/file_system_test_util.h"

namespace sluice::storage {
namespace {

TEST(PosixFileSystem, NativeHandleIsTheOpenDescriptor) {
  temporary_directory directory;
  auto fs = make_posix_file_system();
  auto f = write_file(*fs, directory.path() + "/a.log", "abc");
  ASSERT_NE(f, nullptr);
  int fd = f->native_handle();
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(::fcntl(fd, F_GETFD) & FD_CLOEXEC);
  struct stat st;
  ASSERT_EQ(::fstat(fd, &st), 0);
  EXPECT_EQ(st.st_size, 3);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_mode & 0111, 0u) << "created files are not executable";
}

TEST(PosixFileSystem, ClosingTheFileClosesTheDescriptor) {
  temporary_directory directory;
  auto fs = make_posix_file_system();
  auto f = write_file(*fs, directory.path() + "/a.log", "");
  ASSERT_NE(f, nullptr);
  int fd = f->native_handle();
  f.reset();
  EXPECT_EQ(::fcntl(fd, F_GETFD), -1);
  EXPECT_EQ(errno, EBADF);
}

}  // namespace
}  // namespace sluice::storage
