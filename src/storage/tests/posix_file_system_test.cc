// What only the real disk has: descriptors and mappings. Everything both file
// systems promise is in file_system_contract_test.cc.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

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

std::string text_of(std::span<const uint8_t> bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

TEST(PosixFileSystem, AMappingShowsLaterWritesAndOutlivesTheFile) {
  temporary_directory directory;
  auto fs = make_posix_file_system();
  const std::string path = directory.path() + "/a.log";
  auto f = write_file(*fs, path, "abc");
  ASSERT_NE(f, nullptr);
  // Past the end, to cover what is appended later.
  auto mapped = f->map(0, 1 << 20);
  ASSERT_TRUE(mapped.ok()) << mapped.error().message;
  const auto& mapping = *mapped;
  ASSERT_EQ(mapping->bytes().size(), 1u << 20);
  EXPECT_EQ(text_of(mapping->bytes().first(3)), "abc");
  ASSERT_TRUE(f->write_at(3, std::span(reinterpret_cast<const uint8_t*>("def"), 3)).ok());
  EXPECT_EQ(text_of(mapping->bytes().first(6)), "abcdef");

  f.reset();
  ASSERT_TRUE(fs->remove(path).ok());
  EXPECT_EQ(text_of(mapping->bytes().first(6)), "abcdef") << "closed and removed, still mapped";
}

// What makes handing mapped bytes to the kernel safe: when a page cannot be
// read (here: the file was cut under the mapping) a system call fails with
// EFAULT, where touching the page in user space would be SIGBUS.
TEST(PosixFileSystem, TheKernelReadingAPageThatIsGoneFailsWithEfault) {
  temporary_directory directory;
  auto fs = make_posix_file_system();
  auto f = write_file(*fs, directory.path() + "/a.log", std::string(8192, 'x'));
  ASSERT_NE(f, nullptr);
  auto mapped = f->map(0, 8192);
  ASSERT_TRUE(mapped.ok()) << mapped.error().message;
  // Non-blocking, and drained between the writes: a pipe may hold a
  // single page, and a full one must not hang the test.
  int pipe_ends[2];
  ASSERT_EQ(::pipe2(pipe_ends, O_NONBLOCK), 0);
  const auto bytes = (*mapped)->bytes();
  ASSERT_EQ(::write(pipe_ends[1], bytes.data(), 4096), 4096);
  char drained[4096];
  ASSERT_EQ(::read(pipe_ends[0], drained, sizeof drained), 4096);
  EXPECT_EQ(std::string(drained, 2), "xx");
  ASSERT_TRUE(f->truncate(0).ok());
  errno = 0;
  EXPECT_EQ(::write(pipe_ends[1], bytes.data() + 4096, 4096), -1);
  EXPECT_EQ(errno, EFAULT);
  ::close(pipe_ends[0]);
  ::close(pipe_ends[1]);
}

TEST(PosixFileSystem, MappingAtAnOffsetThatIsNotAPageFailsWithAMessage) {
  temporary_directory directory;
  auto fs = make_posix_file_system();
  auto f = write_file(*fs, directory.path() + "/a.log", std::string(10000, 'x'));
  ASSERT_NE(f, nullptr);
  const auto page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  auto aligned = f->map(page, page);
  ASSERT_TRUE(aligned.ok()) << aligned.error().message;
  EXPECT_EQ(text_of((*aligned)->bytes().first(2)), "xx");
  auto unaligned = f->map(1, page);
  ASSERT_FALSE(unaligned.ok());
  EXPECT_EQ(unaligned.error().code, EINVAL);
  EXPECT_EQ(unaligned.error().message, "map " + directory.path() + "/a.log: Invalid argument");
}

}  // namespace
}  // namespace sluice::storage
