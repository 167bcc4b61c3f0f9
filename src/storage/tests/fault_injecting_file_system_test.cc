// The simulated disk's own promises: what survives a crash, and faults that
// fail exactly the calls they target. What it shares with the real disk is in
// file_system_contract_test.cc.

#include "storage/testing/fault_injecting_file_system.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "storage/tests/file_system_test_util.h"

namespace sluice::storage::testing {
namespace {

// A log directory whose own name is durable, as after a clean start.
class FaultInjectingFileSystem : public ::testing::Test {
 protected:
  FaultInjectingFileSystem() {
    EXPECT_TRUE(fs_.create_directories("/log").ok());
    EXPECT_TRUE(fs_.sync_directory("/").ok());
  }

  // Writes `content` to `path`, syncs it and its directory: all of it durable.
  void write_durably(const std::string& path, std::string_view content) {
    auto f = write_file(fs_, path, content);
    ASSERT_NE(f, nullptr);
    ASSERT_TRUE(f->sync().ok());
    ASSERT_TRUE(fs_.sync_directory("/log").ok());
  }

  void append(const std::string& path, std::string_view content) {
    auto f = fs_.open(path, open_mode::read_write);
    ASSERT_TRUE(f.ok()) << f.error().message;
    ASSERT_TRUE((*f)->write_at(*(*f)->size(), to_bytes(content)).ok());
  }

  bool exists(const std::string& path) { return *fs_.exists(path); }

  fault_injecting_file_system fs_;
};

TEST_F(FaultInjectingFileSystem, SyncedDataSurvivesACrash) {
  write_durably("/log/0.log", "batch-1");
  fs_.crash();
  EXPECT_EQ(read_file(fs_, "/log/0.log"), "batch-1");
}

TEST_F(FaultInjectingFileSystem, ACrashDropsWhatWasNotSynced) {
  write_durably("/log/0.log", "batch-1");
  append("/log/0.log", "batch-2");
  EXPECT_EQ(read_file(fs_, "/log/0.log"), "batch-1batch-2");
  EXPECT_EQ(fs_.used_bytes(), 14u);
  fs_.crash();
  EXPECT_EQ(read_file(fs_, "/log/0.log"), "batch-1");
  EXPECT_EQ(fs_.used_bytes(), 7u);
}

TEST_F(FaultInjectingFileSystem, UnsyncedOverwritesAreLostEvenWithASeed) {
  write_durably("/log/checkpoint", "offset=10");
  auto f = fs_.open("/log/checkpoint", open_mode::read_write);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->write_at(7, to_bytes("42")).ok());
  fs_.crash(7);
  EXPECT_EQ(read_file(fs_, "/log/checkpoint"), "offset=10");
}

// The durable "head" plus 1000 unsynced bytes, crashed with `seed`.
std::string torn(uint64_t seed) {
  fault_injecting_file_system fs;
  EXPECT_TRUE(fs.create_directories("/log").ok());
  EXPECT_TRUE(fs.sync_directory("/").ok());
  auto f = write_file(fs, "/log/0.log", "head");
  EXPECT_TRUE(f->sync().ok());
  EXPECT_TRUE(fs.sync_directory("/log").ok());
  EXPECT_TRUE(f->write_at(4, std::vector<uint8_t>(1000, 'x')).ok());
  fs.crash(seed);
  return read_file(fs, "/log/0.log");
}

TEST_F(FaultInjectingFileSystem, ASeededCrashTearsTheUnsyncedTailToAPrefix) {
  const std::string full = "head" + std::string(1000, 'x');
  std::set<size_t> sizes;
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    std::string content = torn(seed);
    EXPECT_EQ(content, torn(seed)) << "seed " << seed << " must tear the same way every time";
    EXPECT_GE(content.size(), 4u);
    EXPECT_EQ(content, full.substr(0, content.size()));
    sizes.insert(content.size());
  }
  EXPECT_GT(sizes.size(), 5u) << "seeds should tear at different places";
  EXPECT_TRUE(std::any_of(sizes.begin(), sizes.end(), [](size_t n) { return n > 4 && n < 1004; }));
}

TEST_F(FaultInjectingFileSystem, AnUnsyncedCreationIsUndoneByACrash) {
  auto f = write_file(fs_, "/log/0.log", "batch");
  ASSERT_TRUE(f->sync().ok()) << "the content is durable, its name is not";
  fs_.crash(1);
  EXPECT_FALSE(exists("/log/0.log"));
  EXPECT_EQ(fs_.used_bytes(), 0u);
}

TEST_F(FaultInjectingFileSystem, ACreationSurvivesOnceItsDirectoryIsSynced) {
  auto f = write_file(fs_, "/log/0.log", "batch");
  ASSERT_TRUE(fs_.sync_directory("/log").ok());
  fs_.crash();
  EXPECT_TRUE(exists("/log/0.log"));
  EXPECT_EQ(read_file(fs_, "/log/0.log"), "") << "the name is durable, the content is not";
}

TEST_F(FaultInjectingFileSystem, ANewDirectoryNeedsItsParentSynced) {
  ASSERT_TRUE(fs_.create_directories("/log/t-0").ok());
  auto f = write_file(fs_, "/log/t-0/0.log", "batch");
  ASSERT_TRUE(f->sync().ok());
  ASSERT_TRUE(fs_.sync_directory("/log/t-0").ok());
  fs_.crash();
  EXPECT_FALSE(exists("/log/t-0"));

  ASSERT_TRUE(fs_.create_directories("/log/t-0").ok());
  f = write_file(fs_, "/log/t-0/0.log", "batch");
  ASSERT_TRUE(f->sync().ok());
  ASSERT_TRUE(fs_.sync_directory("/log/t-0").ok());
  ASSERT_TRUE(fs_.sync_directory("/log").ok());
  fs_.crash();
  EXPECT_EQ(read_file(fs_, "/log/t-0/0.log"), "batch");
}

TEST_F(FaultInjectingFileSystem, AnUnsyncedRenameIsUndoneByACrash) {
  write_durably("/log/0.log.cleaned", "compacted");
  write_durably("/log/0.log", "original");
  ASSERT_TRUE(fs_.rename("/log/0.log.cleaned", "/log/0.log").ok());
  fs_.crash();
  EXPECT_EQ(read_file(fs_, "/log/0.log"), "original");
  EXPECT_EQ(read_file(fs_, "/log/0.log.cleaned"), "compacted");

  ASSERT_TRUE(fs_.rename("/log/0.log.cleaned", "/log/0.log").ok());
  ASSERT_TRUE(fs_.sync_directory("/log").ok());
  fs_.crash();
  EXPECT_EQ(read_file(fs_, "/log/0.log"), "compacted");
  EXPECT_FALSE(exists("/log/0.log.cleaned"));
}

TEST_F(FaultInjectingFileSystem, AnUnsyncedRemovalIsUndoneByACrash) {
  write_durably("/log/0.log", "old segment");
  ASSERT_TRUE(fs_.remove("/log/0.log").ok());
  EXPECT_EQ(fs_.used_bytes(), 0u);
  fs_.crash();
  EXPECT_EQ(read_file(fs_, "/log/0.log"), "old segment");

  ASSERT_TRUE(fs_.remove("/log/0.log").ok());
  ASSERT_TRUE(fs_.sync_directory("/log").ok());
  fs_.crash();
  EXPECT_FALSE(exists("/log/0.log"));
}

TEST_F(FaultInjectingFileSystem, FilesOpenedBeforeACrashFailWithEio) {
  write_durably("/log/0.log", "batch");
  auto f = fs_.open("/log/0.log", open_mode::read_write);
  ASSERT_TRUE(f.ok());
  fs_.crash();
  uint8_t buffer[4];
  auto read = (*f)->read_at(0, buffer);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.error().code, EIO);
  EXPECT_EQ(read.error().message,
            "read /log/0.log: Input/output error (file opened before a crash)");
  EXPECT_EQ((*f)->write_at(0, to_bytes("x")).error().code, EIO);
  EXPECT_EQ((*f)->sync().error().code, EIO);
  EXPECT_EQ((*f)->truncate(0).error().code, EIO);
  EXPECT_EQ((*f)->size().error().code, EIO);
  EXPECT_EQ(read_file(fs_, "/log/0.log"), "batch") << "a new handle works";
}

// One call of each operation on a fresh file system with /log/a open.
struct fault_case {
  operation op;
  std::string message;  // of the injected failure
  std::function<std::optional<io_error>(fault_injecting_file_system&, file&)> call;
};

template <typename T>
std::optional<io_error> error_of(const io_result<T>& r) {
  if (r.ok()) return std::nullopt;
  return r.error();
}

std::vector<fault_case> one_call_of_each_operation() {
  using fs_t = fault_injecting_file_system;
  const std::string eio = ": Input/output error (injected)";
  return {
      {operation::open, "open /log/a" + eio,
       [](fs_t& fs, file&) { return error_of(fs.open("/log/a", open_mode::read_write)); }},
      {operation::read, "read /log/a" + eio,
       [](fs_t&, file& f) {
         uint8_t buffer[1];
         return error_of(f.read_at(0, buffer));
       }},
      {operation::write, "write /log/a" + eio,
       [](fs_t&, file& f) { return error_of(f.write_at(3, to_bytes("d"))); }},
      {operation::sync, "sync /log/a" + eio, [](fs_t&, file& f) { return error_of(f.sync()); }},
      {operation::truncate, "truncate /log/a" + eio,
       [](fs_t&, file& f) { return error_of(f.truncate(1)); }},
      {operation::create_directories, "create_directories /log/t-0" + eio,
       [](fs_t& fs, file&) { return error_of(fs.create_directories("/log/t-0")); }},
      {operation::rename, "rename /log/a -> /log/b" + eio,
       [](fs_t& fs, file&) { return error_of(fs.rename("/log/a", "/log/b")); }},
      {operation::remove, "remove /log/a" + eio,
       [](fs_t& fs, file&) { return error_of(fs.remove("/log/a")); }},
      {operation::sync_directory, "sync_directory /log" + eio,
       [](fs_t& fs, file&) { return error_of(fs.sync_directory("/log")); }},
      {operation::list, "list /log" + eio,
       [](fs_t& fs, file&) { return error_of(fs.list("/log")); }},
  };
}

TEST(FaultInjection, EachFaultFailsExactlyTheNextCallAndChangesNothing) {
  for (const auto& c : one_call_of_each_operation()) {
    SCOPED_TRACE(c.message);
    fault_injecting_file_system fs;
    ASSERT_TRUE(fs.create_directories("/log").ok());
    ASSERT_TRUE(fs.sync_directory("/").ok());
    auto f = write_file(fs, "/log/a", "abc");
    ASSERT_NE(f, nullptr);

    fs.fail_next(c.op, EIO);
    auto failed = c.call(fs, *f);
    ASSERT_TRUE(failed.has_value());
    EXPECT_EQ(failed->code, EIO);
    EXPECT_EQ(failed->message, c.message);
    EXPECT_EQ(read_all(*f), "abc");
    EXPECT_TRUE(*fs.exists("/log/a"));
    EXPECT_FALSE(*fs.exists("/log/t-0"));
    fs.crash();
    EXPECT_TRUE(*fs.exists("/log"));
    EXPECT_FALSE(*fs.exists("/log/a")) << "the failed call synced nothing";

    ASSERT_TRUE(fs.create_directories("/log").ok());
    f = write_file(fs, "/log/a", "abc");
    auto retried = c.call(fs, *f);
    EXPECT_FALSE(retried.has_value()) << retried->message;
  }
}

TEST(FaultInjection, FaultsTargetPathsAndCountCalls) {
  fault_injecting_file_system fs;
  ASSERT_TRUE(fs.create_directories("/log").ok());
  auto index = write_file(fs, "/log/0.index", "");
  auto segment = write_file(fs, "/log/0.log", "");
  fs.fail_next(operation::sync, ENOSPC, 2, ".log");
  EXPECT_TRUE(index->sync().ok());
  for (int i = 0; i < 2; ++i) {
    auto failed = segment->sync();
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.error().code, ENOSPC);
    EXPECT_EQ(failed.error().message, "sync /log/0.log: No space left on device (injected)");
  }
  EXPECT_TRUE(segment->sync().ok());
}

TEST(FaultInjection, FaultsFireInTheOrderTheyWereAdded) {
  fault_injecting_file_system fs;
  fs.fail_next(operation::list, EACCES);
  fs.fail_next(operation::list, EIO);
  EXPECT_EQ(fs.list("/").error().code, EACCES);
  EXPECT_EQ(fs.list("/").error().code, EIO);
  EXPECT_TRUE(fs.list("/").ok());
}

TEST(FaultInjection, AShortWriteKeepsAPrefixAndFailsWithEio) {
  fault_injecting_file_system fs;
  auto f = write_file(fs, "/0.log", "head:");
  fs.short_write_next(3);
  auto cut = f->write_at(5, to_bytes("batch"));
  ASSERT_FALSE(cut.ok());
  EXPECT_EQ(cut.error().code, EIO);
  EXPECT_EQ(read_all(*f), "head:bat");
  ASSERT_TRUE(f->truncate(5).ok());
  ASSERT_TRUE(f->write_at(5, to_bytes("batch")).ok());
  EXPECT_EQ(read_all(*f), "head:batch");
}

TEST(FaultInjection, AFullDiskWritesWhatFitsUntilSpaceComesBack) {
  fault_injecting_file_system fs;
  auto f = write_file(fs, "/0.log", "123456");
  fs.set_capacity(10);
  expect_failure(f->write_at(6, to_bytes("abcdefgh")), ENOSPC, "write", "/0.log");
  EXPECT_EQ(read_all(*f), "123456abcd");
  EXPECT_EQ(fs.used_bytes(), 10u);
  ASSERT_TRUE(f->truncate(6).ok()) << "cutting back needs no space";
  ASSERT_TRUE(f->write_at(0, to_bytes("ABCDEF")).ok()) << "nor does overwriting";
  expect_failure(f->truncate(11), ENOSPC, "truncate", "/0.log");

  fs.set_capacity(fault_injecting_file_system::unlimited);
  ASSERT_TRUE(f->write_at(6, to_bytes("abcdefgh")).ok());
  EXPECT_EQ(read_all(*f), "ABCDEFabcdefgh");
}

TEST(FaultInjection, ARemovedFileGivesItsSpaceBackWhenItsLastHandleCloses) {
  fault_injecting_file_system fs;
  fs.set_capacity(10);
  auto old_segment = write_file(fs, "/0.log", "0123456789");
  auto active = write_file(fs, "/10.log", "");
  ASSERT_FALSE(active->write_at(0, to_bytes("x")).ok());
  ASSERT_TRUE(fs.remove("/0.log").ok());
  EXPECT_EQ(fs.used_bytes(), 10u) << "a reader still holds the old segment";
  old_segment.reset();
  EXPECT_EQ(fs.used_bytes(), 0u);
  EXPECT_TRUE(active->write_at(0, to_bytes("x")).ok());
}

TEST(FaultInjection, CountsCalls) {
  fault_injecting_file_system fs;
  auto f = write_file(fs, "/0.log", "abc");
  auto before = fs.counts();
  ASSERT_TRUE(f->write_at(3, to_bytes("de")).ok());
  ASSERT_TRUE(f->sync().ok());
  fs.fail_next(operation::sync, EIO);
  ASSERT_FALSE(f->sync().ok());
  ASSERT_TRUE(fs.sync_directory("/").ok());
  uint8_t buffer[8];
  ASSERT_TRUE(f->read_at(0, buffer).ok());
  auto after = fs.counts();
  EXPECT_EQ(after.writes - before.writes, 1u);
  EXPECT_EQ(after.bytes_written - before.bytes_written, 2u);
  EXPECT_EQ(after.syncs - before.syncs, 2u);
  EXPECT_EQ(after.directory_syncs - before.directory_syncs, 1u);
  EXPECT_EQ(after.reads - before.reads, 1u);
  EXPECT_EQ(after.opens - before.opens, 0u);
}

TEST(FaultInjection, IsNotARealFile) {
  fault_injecting_file_system fs;
  auto f = write_file(fs, "/0.log", "");
  EXPECT_EQ(f->native_handle(), -1);
  auto mapped = f->map(0, 4096);
  ASSERT_FALSE(mapped.ok());
  EXPECT_EQ(mapped.error().code, ENOTSUP);
}

TEST(FaultInjection, PathsAreResolvedByName) {
  fault_injecting_file_system fs;
  ASSERT_TRUE(fs.create_directories("log/t-0").ok());
  ASSERT_NE(write_file(fs, "/log/./t-0/../t-0//0.log", "x"), nullptr);
  EXPECT_EQ(read_file(fs, "/log/t-0/0.log"), "x");
}

TEST(FaultInjection, OpenFilesOutliveTheFileSystem) {
  auto fs = std::make_unique<fault_injecting_file_system>();
  auto f = write_file(*fs, "/0.log", "abc");
  fs.reset();
  EXPECT_EQ(read_all(*f), "abc");
}

TEST(FaultInjection, ServesSeveralThreadsAtOnce) {
  fault_injecting_file_system fs;
  ASSERT_TRUE(fs.create_directories("/log").ok());
  constexpr int appenders = 4;
  constexpr int appends = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < appenders; ++t) {
    threads.emplace_back([&fs, t] {
      auto f = write_file(fs, "/log/" + std::to_string(t) + ".log", "");
      for (int i = 0; i < appends; ++i) {
        EXPECT_TRUE(f->write_at(uint64_t(i) * 8, to_bytes("batch..\n")).ok());
        if (i % 50 == 0) {
          EXPECT_TRUE(f->sync().ok());
        }
      }
    });
  }
  threads.emplace_back([&fs] {
    for (int i = 0; i < 200; ++i) {
      EXPECT_TRUE(fs.list("/log").ok());
      EXPECT_TRUE(fs.sync_directory("/log").ok());
    }
  });
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < appenders; ++t) {
    auto f = fs.open("/log/" + std::to_string(t) + ".log", open_mode::read_only);
    ASSERT_TRUE(f.ok());
    EXPECT_EQ(*(*f)->size(), uint64_t{appends} * 8);
  }
  EXPECT_EQ(fs.used_bytes(), uint64_t{appenders} * appends * 8);
}

}  // namespace
}  // namespace sluice::storage::testing
