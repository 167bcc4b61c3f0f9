// What every file_system promises, checked against the real disk and the
// simulated one alike, and through bounded_file_system over each: the storage
// code may rely on nothing else, the simulation is only worth its results if
// it behaves like the disk, and the descriptor bound must change nothing.

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <string_view>

#include "storage/bounded_file_system.h"
#include "storage/file_system.h"
#include "storage/testing/fault_injecting_file_system.h"
#include "storage/tests/file_system_test_util.h"

namespace sluice::storage {
namespace {

class posix_disk {
 public:
  static constexpr const char* name = "Posix";
  file_system& fs() { return *fs_; }
  std::string path(std::string_view file_name) const {
    return directory_.path() + "/" + std::string(file_name);
  }

 private:
  temporary_directory directory_;
  std::unique_ptr<file_system> fs_ = make_posix_file_system();
};

class simulated_disk {
 public:
  static constexpr const char* name = "FaultInjecting";
  simulated_disk() { EXPECT_TRUE(fs_.create_directories("/data").ok()); }
  file_system& fs() { return fs_; }
  std::string path(std::string_view file_name) const { return "/data/" + std::string(file_name); }

 private:
  testing::fault_injecting_file_system fs_;
};

// A disk behind a bounded_file_system of one open file, so that nearly every
// call on a file that is not the last one used closes a handle and reopens
// another: the proxies must keep the contract all the same.
template <typename Disk>
class bounded_disk {
 public:
  file_system& fs() { return bounded_; }
  std::string path(std::string_view file_name) const { return disk_.path(file_name); }

 private:
  Disk disk_;
  bounded_file_system bounded_{disk_.fs(), 1};
};

struct bounded_posix_disk : bounded_disk<posix_disk> {
  static constexpr const char* name = "BoundedPosix";
};

struct bounded_simulated_disk : bounded_disk<simulated_disk> {
  static constexpr const char* name = "BoundedFaultInjecting";
};

template <typename Disk>
class FileSystemContract : public ::testing::Test {
 protected:
  file_system& fs() { return disk_.fs(); }
  std::string path(std::string_view file_name) const { return disk_.path(file_name); }

  std::unique_ptr<file> open(std::string_view name, open_mode mode) {
    auto f = fs().open(path(name), mode);
    EXPECT_TRUE(f.ok()) << f.error().message;
    return f ? std::move(*f) : nullptr;
  }

  std::vector<std::string> list(std::string_view name) {
    auto names = fs().list(path(name));
    EXPECT_TRUE(names.ok()) << names.error().message;
    if (!names) return {};
    std::sort(names->begin(), names->end());
    return *names;
  }

 private:
  Disk disk_;
};

struct disk_names {
  template <typename Disk>
  static std::string GetName(int) {
    return Disk::name;
  }
};

using disks =
    ::testing::Types<posix_disk, simulated_disk, bounded_posix_disk, bounded_simulated_disk>;
TYPED_TEST_SUITE(FileSystemContract, disks, disk_names);

TYPED_TEST(FileSystemContract, WritesAreReadBackAtTheirOffsets) {
  auto f = this->open("a", open_mode::create_read_write);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(*f->size(), 0u);
  ASSERT_TRUE(f->write_at(0, to_bytes("hello")).ok());
  ASSERT_TRUE(f->write_at(5, to_bytes(" world")).ok());
  ASSERT_TRUE(f->write_at(0, to_bytes("J")).ok());
  EXPECT_EQ(*f->size(), 11u);
  EXPECT_EQ(read_all(*f), "Jello world");
  EXPECT_EQ(read_file(this->fs(), this->path("a")), "Jello world");
}

TYPED_TEST(FileSystemContract, WritingPastTheEndLeavesZeros) {
  auto f = this->open("a", open_mode::create_read_write);
  ASSERT_NE(f, nullptr);
  ASSERT_TRUE(f->write_at(3, to_bytes("x")).ok());
  EXPECT_EQ(read_all(*f), std::string("\0\0\0x", 4));
}

TYPED_TEST(FileSystemContract, ReadingPastTheEndIsShort) {
  auto f = write_file(this->fs(), this->path("a"), "abcdef");
  ASSERT_NE(f, nullptr);
  uint8_t buffer[4] = {};
  EXPECT_EQ(*f->read_at(4, buffer), 2u);
  EXPECT_EQ(std::string(buffer, buffer + 2), "ef");
  EXPECT_EQ(*f->read_at(6, buffer), 0u);
  EXPECT_EQ(*f->read_at(1000, buffer), 0u);
}

TYPED_TEST(FileSystemContract, TruncateCutsAndExtendsWithZeros) {
  auto f = write_file(this->fs(), this->path("a"), "abcdef");
  ASSERT_NE(f, nullptr);
  ASSERT_TRUE(f->truncate(2).ok());
  EXPECT_EQ(read_all(*f), "ab");
  ASSERT_TRUE(f->truncate(4).ok());
  EXPECT_EQ(read_all(*f), std::string("ab\0\0", 4));
}

TYPED_TEST(FileSystemContract, CreatingAnExistingFileKeepsItsContent) {
  ASSERT_NE(write_file(this->fs(), this->path("a"), "abc"), nullptr);
  auto again = this->open("a", open_mode::create_read_write);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(read_all(*again), "abc");
}

TYPED_TEST(FileSystemContract, OpeningAMissingFileFailsWithEnoent) {
  const std::string missing = this->path("missing");
  expect_failure(this->fs().open(missing, open_mode::read_write), ENOENT, "open", missing);
  expect_failure(this->fs().open(missing, open_mode::read_only), ENOENT, "open", missing);
  const std::string in_missing_directory = this->path("nowhere/a");
  expect_failure(this->fs().open(in_missing_directory, open_mode::create_read_write), ENOENT,
                 "open", in_missing_directory);
}

TYPED_TEST(FileSystemContract, OpeningADirectoryFailsWithEisdir) {
  ASSERT_TRUE(this->fs().create_directories(this->path("d")).ok());
  const std::string directory = this->path("d");
  for (auto mode : {open_mode::read_only, open_mode::read_write, open_mode::create_read_write}) {
    expect_failure(this->fs().open(directory, mode), EISDIR, "open", directory);
  }
}

TYPED_TEST(FileSystemContract, ReadOnlyFilesRefuseChanges) {
  ASSERT_NE(write_file(this->fs(), this->path("a"), "abc"), nullptr);
  auto f = this->open("a", open_mode::read_only);
  ASSERT_NE(f, nullptr);
  expect_failure(f->write_at(0, to_bytes("x")), EBADF, "write", this->path("a"));
  expect_failure(f->truncate(0), EINVAL, "truncate", this->path("a"));
  EXPECT_EQ(read_all(*f), "abc");
}

TYPED_TEST(FileSystemContract, HandlesOnOneFileSeeEachOthersWrites) {
  auto writer = this->open("a", open_mode::create_read_write);
  auto reader = this->open("a", open_mode::read_only);
  ASSERT_NE(writer, nullptr);
  ASSERT_NE(reader, nullptr);
  ASSERT_TRUE(writer->write_at(0, to_bytes("abc")).ok());
  EXPECT_EQ(read_all(*reader), "abc");
}

TYPED_TEST(FileSystemContract, ExistsTellsFilesAndDirectoriesFromNothing) {
  ASSERT_NE(write_file(this->fs(), this->path("a"), ""), nullptr);
  ASSERT_TRUE(this->fs().create_directories(this->path("d")).ok());
  EXPECT_TRUE(*this->fs().exists(this->path("a")));
  EXPECT_TRUE(*this->fs().exists(this->path("d")));
  EXPECT_FALSE(*this->fs().exists(this->path("missing")));
  EXPECT_FALSE(*this->fs().exists(this->path("a/below-a-file")));
}

TYPED_TEST(FileSystemContract, ListNamesFilesAndDirectories) {
  ASSERT_TRUE(this->fs().create_directories(this->path("d/sub")).ok());
  ASSERT_NE(write_file(this->fs(), this->path("d/b.log"), "x"), nullptr);
  ASSERT_NE(write_file(this->fs(), this->path("d/a.index"), ""), nullptr);
  EXPECT_EQ(this->list("d"), (std::vector<std::string>{"a.index", "b.log", "sub"}));
  EXPECT_EQ(this->list("d/sub"), std::vector<std::string>{});

  const std::string missing = this->path("missing");
  expect_failure(this->fs().list(missing), ENOENT, "list", missing);
  const std::string a_file = this->path("d/b.log");
  expect_failure(this->fs().list(a_file), ENOTDIR, "list", a_file);
}

TYPED_TEST(FileSystemContract, CreateDirectoriesMakesEveryLevelOnce) {
  const std::string deep = this->path("x/y/z");
  ASSERT_TRUE(this->fs().create_directories(deep).ok());
  ASSERT_TRUE(this->fs().create_directories(deep).ok());
  ASSERT_TRUE(this->fs().create_directories(deep + "/").ok());
  EXPECT_TRUE(*this->fs().exists(deep));

  ASSERT_NE(write_file(this->fs(), this->path("f"), ""), nullptr);
  const std::string over_a_file = this->path("f");
  expect_failure(this->fs().create_directories(over_a_file), ENOTDIR, "create_directories",
                 over_a_file);
  const std::string below_a_file = this->path("f/g");
  expect_failure(this->fs().create_directories(below_a_file), ENOTDIR, "create_directories",
                 below_a_file);
}

TYPED_TEST(FileSystemContract, RenameReplacesTheTargetAndHandlesFollow) {
  auto moved = write_file(this->fs(), this->path("a.cleaned"), "new");
  ASSERT_NE(moved, nullptr);
  ASSERT_NE(write_file(this->fs(), this->path("a.log"), "old"), nullptr);
  ASSERT_TRUE(this->fs().rename(this->path("a.cleaned"), this->path("a.log")).ok());
  EXPECT_FALSE(*this->fs().exists(this->path("a.cleaned")));
  EXPECT_EQ(read_file(this->fs(), this->path("a.log")), "new");

  ASSERT_TRUE(moved->write_at(3, to_bytes("er")).ok());
  EXPECT_EQ(read_file(this->fs(), this->path("a.log")), "newer");
}

TYPED_TEST(FileSystemContract, RenameMovesDirectories) {
  ASSERT_TRUE(this->fs().create_directories(this->path("t-0")).ok());
  ASSERT_TRUE(this->fs().create_directories(this->path("empty")).ok());
  ASSERT_NE(write_file(this->fs(), this->path("t-0/0.log"), "batch"), nullptr);
  ASSERT_TRUE(this->fs().rename(this->path("t-0"), this->path("t-0.delete")).ok());
  EXPECT_EQ(read_file(this->fs(), this->path("t-0.delete/0.log")), "batch");
  ASSERT_TRUE(this->fs().rename(this->path("t-0.delete"), this->path("empty")).ok());
  EXPECT_EQ(read_file(this->fs(), this->path("empty/0.log")), "batch");
}

TYPED_TEST(FileSystemContract, RenameRefusesWhatRename2Refuses) {
  ASSERT_TRUE(this->fs().create_directories(this->path("full/sub")).ok());
  ASSERT_TRUE(this->fs().create_directories(this->path("other")).ok());
  ASSERT_NE(write_file(this->fs(), this->path("f"), "x"), nullptr);
  auto expect_rename_failure = [&](std::string_view from, std::string_view to, int code) {
    const std::string a = this->path(from);
    const std::string b = this->path(to);
    expect_failure(this->fs().rename(a, b), code, "rename", a + " -> " + b);
  };
  expect_rename_failure("missing", "g", ENOENT);
  expect_rename_failure("f", "nowhere/g", ENOENT);
  expect_rename_failure("f", "other", EISDIR);
  expect_rename_failure("other", "f", ENOTDIR);
  expect_rename_failure("other", "full", ENOTEMPTY);
  expect_rename_failure("full", "full/sub/inside", EINVAL);
  EXPECT_EQ(read_file(this->fs(), this->path("f")), "x");
  EXPECT_TRUE(*this->fs().exists(this->path("other")));
}

TYPED_TEST(FileSystemContract, RemoveTakesFilesAndEmptyDirectories) {
  ASSERT_TRUE(this->fs().create_directories(this->path("d/empty")).ok());
  ASSERT_NE(write_file(this->fs(), this->path("d/a"), "x"), nullptr);
  ASSERT_TRUE(this->fs().remove(this->path("d/a")).ok());
  ASSERT_TRUE(this->fs().remove(this->path("d/empty")).ok());
  EXPECT_EQ(this->list("d"), std::vector<std::string>{});

  ASSERT_NE(write_file(this->fs(), this->path("d/b"), "x"), nullptr);
  const std::string full = this->path("d");
  expect_failure(this->fs().remove(full), ENOTEMPTY, "remove", full);
  const std::string missing = this->path("d/missing");
  expect_failure(this->fs().remove(missing), ENOENT, "remove", missing);
}

TYPED_TEST(FileSystemContract, ARemovedFileStaysReadableWhileOpen) {
  auto f = write_file(this->fs(), this->path("old.log"), "still here");
  ASSERT_NE(f, nullptr);
  ASSERT_TRUE(this->fs().remove(this->path("old.log")).ok());
  EXPECT_FALSE(*this->fs().exists(this->path("old.log")));
  EXPECT_EQ(read_all(*f), "still here");
}

TYPED_TEST(FileSystemContract, SyncsSucceedOnWhatExists) {
  auto f = write_file(this->fs(), this->path("a"), "abc");
  ASSERT_NE(f, nullptr);
  EXPECT_TRUE(f->sync().ok());
  EXPECT_TRUE(this->fs().sync_directory(this->path("")).ok());

  const std::string missing = this->path("missing");
  expect_failure(this->fs().sync_directory(missing), ENOENT, "sync_directory", missing);
  const std::string a_file = this->path("a");
  expect_failure(this->fs().sync_directory(a_file), ENOTDIR, "sync_directory", a_file);
}

}  // namespace
}  // namespace sluice::storage
