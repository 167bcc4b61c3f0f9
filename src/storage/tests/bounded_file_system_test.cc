#include "storage/bounded_file_system.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "storage/testing/fault_injecting_file_system.h"
#include "storage/tests/file_system_test_util.h"

namespace sluice::storage {
namespace {

using testing::fault_injecting_file_system;
using testing::operation;

constexpr size_t bound = 3;

std::unique_ptr<file> open_file(file_system& fs, const std::string& path,
                                open_mode mode = open_mode::create_read_write) {
  auto f = fs.open(path, mode);
  EXPECT_TRUE(f.ok()) << f.error().message;
  return f ? std::move(*f) : nullptr;
}

void write(file& f, uint64_t offset, std::string_view text) {
  auto written = f.write_at(offset, to_bytes(text));
  ASSERT_TRUE(written.ok()) << written.error().message;
}

class BoundedFileSystem : public ::testing::Test {
 protected:
  BoundedFileSystem() {
    EXPECT_TRUE(inner_.create_directories("/data").ok());
    EXPECT_TRUE(inner_.sync_directory("/").ok());
  }

  std::unique_ptr<file> open(const std::string& name,
                             open_mode mode = open_mode::create_read_write) {
    return open_file(fs_, "/data/" + name, mode);
  }

  // Uses `bound` other files, which closes the handle of every file opened
  // before but the `pinned` ones; then drops them.
  void evict_all(size_t pinned = 0) {
    std::vector<std::unique_ptr<file>> fillers;
    for (size_t i = 0; i < bound; ++i) fillers.push_back(open("filler-" + std::to_string(i)));
    fillers.clear();
    ASSERT_EQ(fs_.open_files(), pinned);
  }

  fault_injecting_file_system inner_;
  bounded_file_system fs_{inner_, bound};
};

TEST_F(BoundedFileSystem, HoldsAtMostTheBoundOpen) {
  std::vector<std::unique_ptr<file>> files;
  for (int i = 0; i < 20; ++i) {
    files.push_back(open(std::to_string(i)));
    write(*files.back(), 0, "file-" + std::to_string(i));
    EXPECT_LE(fs_.open_files(), bound);
  }
  const uint64_t opens_before = inner_.counts().opens;
  for (int pass = 0; pass < 2; ++pass) {
    for (int i = 0; i < 20; ++i) {
      EXPECT_EQ(read_all(*files[i]), "file-" + std::to_string(i));
      EXPECT_LE(fs_.open_files(), bound);
    }
  }
  EXPECT_EQ(inner_.counts().opens, opens_before + 40) << "each read reopened its file";
  files.clear();
  EXPECT_EQ(fs_.open_files(), 0u);
}

TEST_F(BoundedFileSystem, TheMostRecentlyUsedStayOpen) {
  auto a = open("a");
  auto b = open("b");
  auto c = open("c");
  write(*a, 0, "a");  // b is now the least recently used
  auto d = open("d");
  const uint64_t opens = inner_.counts().opens;
  EXPECT_EQ(read_all(*a), "a");
  EXPECT_EQ(read_all(*c), "");
  EXPECT_EQ(read_all(*d), "");
  EXPECT_EQ(inner_.counts().opens, opens);
  EXPECT_EQ(read_all(*b), "");
  EXPECT_EQ(inner_.counts().opens, opens + 1);
}

TEST_F(BoundedFileSystem, AReopenKeepsTheModeOfTheOpen) {
  auto writer = open("a");
  write(*writer, 0, "abc");
  auto reader = open("a", open_mode::read_only);
  evict_all();
  write(*writer, 3, "def");
  EXPECT_EQ(read_all(*writer), "abcdef");
  evict_all();
  EXPECT_EQ(read_all(*reader), "abcdef");
  evict_all();
  expect_failure(reader->write_at(0, to_bytes("x")), EBADF, "write", "/data/a");
  expect_failure(reader->truncate(0), EINVAL, "truncate", "/data/a");
  evict_all();
  ASSERT_TRUE(writer->truncate(2).ok());
  EXPECT_EQ(read_all(*reader), "ab");
}

TEST_F(BoundedFileSystem, AReopenNeverCreatesTheFile) {
  auto f = open("a");
  evict_all();
  ASSERT_TRUE(inner_.remove("/data/a").ok());  // behind the proxy's back
  expect_failure(f->size(), ENOENT, "open", "/data/a");
  EXPECT_FALSE(*fs_.exists("/data/a"));
}

TEST_F(BoundedFileSystem, AFailedReopenIsReportedAndTriedAgain) {
  auto f = open("a");
  write(*f, 0, "content");
  evict_all();
  inner_.fail_next(operation::open, EMFILE);
  std::vector<uint8_t> buffer(4);
  auto failed = f->read_at(0, buffer);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().message, "open /data/a: Too many open files (injected)");
  EXPECT_EQ(read_all(*f), "content");
}

TEST_F(BoundedFileSystem, SyncAfterAnEvictionMakesEarlierWritesDurable) {
  auto f = open("a");
  ASSERT_TRUE(fs_.sync_directory("/data").ok());
  write(*f, 0, "durable");
  evict_all();
  const uint64_t syncs = inner_.counts().syncs;
  ASSERT_TRUE(f->sync().ok());
  EXPECT_EQ(inner_.counts().syncs, syncs + 1);
  inner_.crash();
  EXPECT_EQ(read_file(fs_, "/data/a"), "durable");
}

TEST_F(BoundedFileSystem, RenamesCarryEvictedProxiesAlong) {
  auto f = open("a");
  write(*f, 0, "x");
  evict_all();
  ASSERT_TRUE(fs_.rename("/data/a", "/data/b").ok());
  write(*f, 1, "y");
  EXPECT_EQ(read_file(fs_, "/data/b"), "xy");
  EXPECT_FALSE(*fs_.exists("/data/a"));
}

TEST_F(BoundedFileSystem, RenamingADirectoryMovesTheProxiesBelowIt) {
  for (const char* d : {"/data/t-0/sub", "/data/t-0-1", "/data/t-00"}) {
    ASSERT_TRUE(fs_.create_directories(d).ok());
  }
  auto log = open("t-0/0.log");
  auto deep = open("t-0/sub/1.log");
  auto sibling = open("t-0-1/0.log");
  auto lookalike = open("t-00/0.log");
  auto same_prefix = open("t-0.log");
  evict_all();
  ASSERT_TRUE(fs_.rename("/data/t-0", "/data/t-0.delete").ok());
  write(*log, 0, "log");
  write(*deep, 0, "deep");
  write(*sibling, 0, "sibling");
  write(*lookalike, 0, "lookalike");
  write(*same_prefix, 0, "same prefix");
  EXPECT_EQ(read_file(fs_, "/data/t-0.delete/0.log"), "log");
  EXPECT_EQ(read_file(fs_, "/data/t-0.delete/sub/1.log"), "deep");
  EXPECT_EQ(read_file(fs_, "/data/t-0-1/0.log"), "sibling");
  EXPECT_EQ(read_file(fs_, "/data/t-00/0.log"), "lookalike");
  EXPECT_EQ(read_file(fs_, "/data/t-0.log"), "same prefix");
}

TEST_F(BoundedFileSystem, PathsMatchWhateverTheirSpelling) {
  ASSERT_TRUE(fs_.create_directories("/data/d").ok());
  auto f = open_file(fs_, "/data//d/./a");
  write(*f, 0, "a");
  evict_all();
  ASSERT_TRUE(fs_.rename("/data/d/", "/data/e").ok());
  EXPECT_EQ(read_all(*f), "a");
  evict_all();
  ASSERT_TRUE(fs_.remove("/data/e//a").ok());
  EXPECT_EQ(fs_.open_files(), 1u) << "pinned by the removal";
  EXPECT_EQ(read_all(*f), "a");
}

TEST_F(BoundedFileSystem, ARemovedFileStaysReadableThroughAnEvictedProxy) {
  auto old_file = open("a");
  write(*old_file, 0, "old");
  evict_all();
  ASSERT_TRUE(fs_.remove("/data/a").ok());
  EXPECT_FALSE(*fs_.exists("/data/a"));
  EXPECT_EQ(fs_.open_files(), 1u) << "reopened and pinned before the name went";

  auto new_file = open("a");
  write(*new_file, 0, "new");
  evict_all(1);
  EXPECT_EQ(read_all(*old_file), "old");
  write(*old_file, 3, "er");
  EXPECT_EQ(read_all(*old_file), "older");
  EXPECT_EQ(read_file(fs_, "/data/a"), "new");

  // A later rename of the name no longer concerns the removed file.
  ASSERT_TRUE(fs_.rename("/data/a", "/data/b").ok());
  EXPECT_EQ(read_all(*old_file), "older");
  EXPECT_EQ(read_all(*new_file), "new");
  EXPECT_EQ(read_file(fs_, "/data/b"), "new");

  const size_t pinned = fs_.open_files();
  old_file.reset();
  EXPECT_EQ(fs_.open_files(), pinned - 1);
}

TEST_F(BoundedFileSystem, AReplacedFileStaysReadableThroughAnEvictedProxy) {
  auto original = open("a.log");
  write(*original, 0, "old");
  auto cleaned = open("a.cleaned");
  write(*cleaned, 0, "new");
  evict_all();
  ASSERT_TRUE(fs_.rename("/data/a.cleaned", "/data/a.log").ok());
  evict_all(1);
  EXPECT_EQ(read_all(*original), "old");
  EXPECT_EQ(read_all(*cleaned), "new");
  write(*cleaned, 3, "er");
  EXPECT_EQ(read_file(fs_, "/data/a.log"), "newer");
  EXPECT_FALSE(*fs_.exists("/data/a.cleaned"));
}

TEST_F(BoundedFileSystem, PinnedHandlesMayExceedTheBound) {
  std::vector<std::unique_ptr<file>> removed;
  for (size_t i = 0; i < bound + 2; ++i) {
    removed.push_back(open("r" + std::to_string(i)));
    write(*removed.back(), 0, "r" + std::to_string(i));
  }
  for (size_t i = 0; i < removed.size(); ++i) {
    ASSERT_TRUE(fs_.remove("/data/r" + std::to_string(i)).ok());
  }
  EXPECT_EQ(fs_.open_files(), bound + 2);
  auto other = open("other");
  write(*other, 0, "other");
  EXPECT_EQ(fs_.open_files(), bound + 3) << "the last one used stays open";
  for (size_t i = 0; i < removed.size(); ++i) {
    EXPECT_EQ(read_all(*removed[i]), "r" + std::to_string(i));
  }
  removed.clear();
  EXPECT_EQ(fs_.open_files(), 1u);
  EXPECT_EQ(read_all(*other), "other");
}

TEST_F(BoundedFileSystem, AFailedRemoveOrRenameLeavesTheProxiesNamed) {
  auto f = open("a");
  write(*f, 0, "a");
  evict_all();
  inner_.fail_next(operation::remove, EIO);
  EXPECT_FALSE(fs_.remove("/data/a").ok());
  auto replacement = open("b");
  inner_.fail_next(operation::rename, EIO);
  EXPECT_FALSE(fs_.rename("/data/b", "/data/a").ok());
  evict_all();  // f is no longer pinned
  ASSERT_TRUE(fs_.rename("/data/a", "/data/c").ok());
  evict_all();
  EXPECT_EQ(read_all(*f), "a");
  EXPECT_EQ(read_file(fs_, "/data/c"), "a");
}

TEST_F(BoundedFileSystem, ARemovalThatCannotKeepTheFileOpenFails) {
  auto f = open("a");
  evict_all();
  inner_.fail_next(operation::open, EMFILE);
  expect_failure(fs_.remove("/data/a"), EMFILE, "remove", "/data/a");
  EXPECT_TRUE(*fs_.exists("/data/a"));
  auto b = open("b");
  evict_all();
  inner_.fail_next(operation::open, EMFILE);
  expect_failure(fs_.rename("/data/b", "/data/a"), EMFILE, "rename", "/data/b -> /data/a");
  EXPECT_TRUE(*fs_.exists("/data/b"));
  EXPECT_EQ(fs_.open_files(), 0u);
}

TEST_F(BoundedFileSystem, FilesMayOutliveTheFileSystem) {
  auto bounded = std::make_unique<bounded_file_system>(inner_, 1);
  auto a = open_file(*bounded, "/data/a");
  auto b = open_file(*bounded, "/data/b");
  bounded.reset();
  write(*a, 0, "a");
  write(*b, 0, "b");
  EXPECT_EQ(read_all(*a), "a");
  EXPECT_EQ(read_file(inner_, "/data/b"), "b");
}

// The open descriptors of this process, less a constant (the listing's own).
size_t open_descriptors() {
  size_t count = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    static_cast<void>(entry);
    ++count;
  }
  return count;
}

TEST(BoundedFileSystemOnDisk, DescriptorsStayWithinTheBound) {
  temporary_directory directory;
  auto posix = make_posix_file_system();
  constexpr size_t max_open = 8;
  const size_t baseline = open_descriptors();
  {
    bounded_file_system fs(*posix, max_open);
    std::vector<std::unique_ptr<file>> files;
    for (int i = 0; i < 300; ++i) {
      files.push_back(open_file(fs, directory.path() + "/" + std::to_string(i) + ".log"));
      write(*files.back(), 0, "segment " + std::to_string(i));
      if (i % 50 == 0) {
        EXPECT_LE(open_descriptors(), baseline + max_open);
      }
    }
    for (int pass = 0; pass < 2; ++pass) {
      for (int i = 299; i >= 0; --i) {
        EXPECT_EQ(read_all(*files[i]), "segment " + std::to_string(i));
        ASSERT_TRUE(files[i]->sync().ok());
      }
      EXPECT_LE(open_descriptors(), baseline + max_open);
      EXPECT_EQ(fs.open_files(), max_open);
    }
  }
  EXPECT_EQ(open_descriptors(), baseline) << "every descriptor closed";
}

TEST(BoundedFileSystemOnDisk, NativeHandleReopensTheFile) {
  temporary_directory directory;
  auto posix = make_posix_file_system();
  bounded_file_system fs(*posix, 1);
  auto a = open_file(fs, directory.path() + "/a");
  write(*a, 0, "sendfile me");
  auto b = open_file(fs, directory.path() + "/b");
  EXPECT_EQ(fs.open_files(), 1u);
  int fd = a->native_handle();
  ASSERT_GE(fd, 0);
  char buffer[11];
  ASSERT_EQ(::pread(fd, buffer, sizeof buffer, 0), 11);
  EXPECT_EQ(std::string(buffer, sizeof buffer), "sendfile me");
  EXPECT_EQ(fs.open_files(), 1u) << "b was evicted";

  ASSERT_TRUE(posix->remove(directory.path() + "/b").ok());  // behind the proxy's back
  EXPECT_EQ(b->native_handle(), -1);
}

TEST(BoundedFileSystemOnDisk, AMappingOutlivesItsHandle) {
  temporary_directory directory;
  auto posix = make_posix_file_system();
  bounded_file_system fs(*posix, 1);
  auto a = open_file(fs, directory.path() + "/a");
  auto b = open_file(fs, directory.path() + "/b");
  write(*a, 0, "mapped");  // a's handle is open again, b's evicted
  auto mapped = a->map(0, 4096);
  ASSERT_TRUE(mapped.ok()) << mapped.error().message;
  write(*b, 0, "evicts a");
  EXPECT_EQ(fs.open_files(), 1u);
  const auto bytes = (*mapped)->bytes();
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(bytes.data()), 6), "mapped");

  ASSERT_TRUE(posix->remove(directory.path() + "/a").ok());  // behind the proxy's back
  auto gone = a->map(0, 4096);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, ENOENT);
}

TEST(BoundedFileSystemOnDisk, ARemovedFileStaysReadable) {
  temporary_directory directory;
  auto posix = make_posix_file_system();
  bounded_file_system fs(*posix, 1);
  const std::string path = directory.path() + "/00000000000000000000.log";
  auto segment = open_file(fs, path);
  write(*segment, 0, "batches");
  auto other = open_file(fs, directory.path() + "/other");
  ASSERT_TRUE(fs.remove(path).ok());
  auto replacement = open_file(fs, path);
  EXPECT_EQ(read_all(*segment), "batches");
  EXPECT_EQ(read_all(*replacement), "");
}

// Readers on several threads, each checking what it reads, while a writer
// appends to its own file and another thread renames one of the files read
// back and forth: every call must find its file, whoever evicts whom.
void hammer(file_system& inner, const std::string& directory) {
  bounded_file_system fs(inner, bound);
  constexpr int file_count = 12;
  std::vector<std::unique_ptr<file>> files;
  std::vector<std::string> contents;
  for (int i = 0; i < file_count; ++i) {
    contents.push_back(std::string(4096, static_cast<char>('a' + i)));
    files.push_back(open_file(fs, directory + "/" + std::to_string(i)));
    write(*files.back(), 0, contents.back());
  }
  auto appended = open_file(fs, directory + "/appended");

  std::atomic<int> failures = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 random(t);
      for (int i = 0; i < 2000; ++i) {
        int n = static_cast<int>(random() % file_count);
        if (read_all(*files[n]) != contents[n]) ++failures;
      }
    });
  }
  threads.emplace_back([&] {
    for (int i = 0; i < 500; ++i) {
      if (!appended->write_at(i * 8, to_bytes("record-" + std::to_string(i % 10))).ok()) {
        ++failures;
      }
      if (i % 50 == 0 && !appended->sync().ok()) ++failures;
    }
  });
  threads.emplace_back([&] {
    const std::string a = directory + "/0";
    const std::string b = directory + "/0.renamed";
    for (int i = 0; i < 200; ++i) {
      if (!fs.rename(i % 2 == 0 ? a : b, i % 2 == 0 ? b : a).ok()) ++failures;
    }
  });
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LE(fs.open_files(), bound);
  EXPECT_EQ(*appended->size(), 500u * 8);
}

TEST(BoundedFileSystemOnDisk, ConcurrentCallsFindTheirFiles) {
  temporary_directory directory;
  auto posix = make_posix_file_system();
  hammer(*posix, directory.path());
}

TEST_F(BoundedFileSystem, ConcurrentCallsFindTheirFiles) { hammer(inner_, "/data"); }

}  // namespace
}  // namespace sluice::storage
