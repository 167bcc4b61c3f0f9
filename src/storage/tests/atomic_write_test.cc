#include "storage/atomic_write.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <vector>

#include "storage/testing/fault_injecting_file_system.h"
#include "storage/tests/file_system_test_util.h"

namespace sluice::storage {
namespace {

using testing::fault_injecting_file_system;
using testing::operation;

const std::string directory = "/data";
const std::string path = "/data/state";
const std::string tmp_path = "/data/state.tmp";

const std::string old_content = "old content\n";
const std::string new_content = "the new content, longer than the old\n";

class AtomicWrite : public ::testing::Test {
 protected:
  AtomicWrite() {
    EXPECT_TRUE(fs_.create_directories(directory).ok());
    EXPECT_TRUE(fs_.sync_directory("/").ok());
  }

  // Writes `content` as the whole file at `at`, durably, without the helper.
  void put(const std::string& at, const std::string& content) {
    auto f = write_file(fs_, at, content);
    ASSERT_NE(f, nullptr);
    ASSERT_TRUE(f->sync().ok());
    ASSERT_TRUE(fs_.sync_directory(directory).ok());
  }

  io_result<void> write(const std::string& content, directory_sync sync = directory_sync::now) {
    return write_file_atomically(fs_, path, to_bytes(content), sync);
  }

  std::string read() { return read_file(fs_, path); }

  fault_injecting_file_system fs_;
};

TEST_F(AtomicWrite, ReplacesTheContentDurably) {
  put(path, old_content);
  auto before = fs_.counts();
  auto written = write(new_content);
  ASSERT_TRUE(written.ok()) << written.error().message;
  auto after = fs_.counts();
  EXPECT_EQ(read(), new_content);
  EXPECT_FALSE(*fs_.exists(tmp_path));
  // One fsync of the content, one of the directory.
  EXPECT_EQ(after.syncs - before.syncs, 1u);
  EXPECT_EQ(after.directory_syncs - before.directory_syncs, 1u);
  fs_.crash(1);
  EXPECT_EQ(read(), new_content);
  EXPECT_EQ(*fs_.list(directory), std::vector<std::string>{"state"});
}

TEST_F(AtomicWrite, CreatesAFileThatDidNotExist) {
  ASSERT_TRUE(write(new_content).ok());
  fs_.crash(2);
  EXPECT_EQ(read(), new_content);
}

TEST_F(AtomicWrite, WritesTextAndNothing) {
  ASSERT_TRUE(write_file_atomically(fs_, path, std::string_view("text\n")).ok());
  EXPECT_EQ(read(), "text\n");
  ASSERT_TRUE(write("").ok());
  fs_.crash(3);
  EXPECT_EQ(read(), "");
}

// Each step before the rename, failed in turn: the call fails with the
// step's error and the old content stays, before and after a crash.
TEST_F(AtomicWrite, AFailedStepLeavesTheOldFile) {
  put(path, old_content);
  const std::vector<operation> steps = {operation::open, operation::truncate, operation::write,
                                        operation::sync, operation::rename};
  uint64_t seed = 10;
  for (operation step : steps) {
    fs_.fail_next(step, EIO, 1, ".tmp");
    auto written = write(new_content);
    ASSERT_FALSE(written.ok());
    EXPECT_EQ(written.error().code, EIO) << written.error().message;
    EXPECT_EQ(read(), old_content);
    fs_.crash(++seed);
    EXPECT_EQ(read(), old_content);
  }

  fs_.short_write_next(5, ".tmp");
  auto cut_short = write(new_content);
  ASSERT_FALSE(cut_short.ok());
  EXPECT_EQ(cut_short.error().code, EIO);
  EXPECT_EQ(read(), old_content);

  fs_.set_capacity(fs_.used_bytes() + 10);
  auto full = write(new_content);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, ENOSPC);
  EXPECT_EQ(read(), old_content);
  fs_.crash(++seed);
  EXPECT_EQ(read(), old_content);

  // Once the disk has room again, the next write goes through.
  fs_.set_capacity(fault_injecting_file_system::unlimited);
  ASSERT_TRUE(write(new_content).ok());
  fs_.crash(++seed);
  EXPECT_EQ(read(), new_content);
}

// A failed directory sync: renamed, not yet durable. A crash brings back the
// old content, whole.
TEST_F(AtomicWrite, AFailedDirectorySyncLeavesOldOrNew) {
  put(path, old_content);
  fs_.fail_next(operation::sync_directory, EIO, 1, directory);
  auto written = write(new_content);
  ASSERT_FALSE(written.ok());
  EXPECT_EQ(written.error().code, EIO);
  EXPECT_EQ(read(), new_content);
  fs_.crash(20);
  EXPECT_EQ(read(), old_content);
}

// A crash at any step, with torn unsynced appends: the file holds the old
// content or the new, never a mix, never nothing.
TEST_F(AtomicWrite, ACrashAnywhereLeavesOldOrNew) {
  const std::vector<operation> steps = {operation::open,   operation::truncate,
                                        operation::write,  operation::sync,
                                        operation::rename, operation::sync_directory};
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    for (operation step : steps) {
      put(path, old_content);
      fs_.fail_next(step, EIO);
      ASSERT_FALSE(write(new_content).ok());
      fs_.crash(seed);
      std::string content = read();
      EXPECT_TRUE(content == old_content || content == new_content) << content;
    }
  }
}

// A `.tmp` left by an earlier failure, longer than the new content, even
// durable: readers never see it, and the next write starts it over.
TEST_F(AtomicWrite, AStrayTemporaryFileDoesNotMatter) {
  put(path, old_content);
  put(tmp_path, std::string(200, 'x'));
  EXPECT_EQ(read(), old_content);

  ASSERT_TRUE(write(new_content).ok());
  EXPECT_EQ(read(), new_content);
  EXPECT_FALSE(*fs_.exists(tmp_path));
  fs_.crash(30);
  EXPECT_EQ(read(), new_content);
  EXPECT_FALSE(*fs_.exists(tmp_path));

  // Left by a failed rename this time, with the new content in it.
  fs_.fail_next(operation::rename, EIO);
  ASSERT_FALSE(write(std::string(100, 'y')).ok());
  ASSERT_TRUE(write("short\n").ok());
  EXPECT_EQ(read(), "short\n");
}

// directory_sync::by_caller: everything but the directory sync. The rename
// is visible at once and durable only once the caller syncs the directory.
TEST_F(AtomicWrite, LeavesTheDirectorySyncToTheCallerWhenAsked) {
  put(path, old_content);
  auto before = fs_.counts();
  ASSERT_TRUE(write(new_content, directory_sync::by_caller).ok());
  auto after = fs_.counts();
  EXPECT_EQ(after.syncs - before.syncs, 1u) << "the content is still synced";
  EXPECT_EQ(after.directory_syncs, before.directory_syncs);
  EXPECT_EQ(read(), new_content);
  fs_.crash(40);
  EXPECT_EQ(read(), old_content);

  ASSERT_TRUE(write(new_content, directory_sync::by_caller).ok());
  ASSERT_TRUE(fs_.sync_directory(directory).ok());
  fs_.crash(41);
  EXPECT_EQ(read(), new_content);
}

TEST(AtomicWriteOnDisk, ReplacesTheFileAndLeavesNoTemporaryFile) {
  temporary_directory scratch;
  auto fs = make_posix_file_system();
  const std::string file = scratch.path() + "/state";
  ASSERT_TRUE(write_file_atomically(*fs, file, to_bytes(new_content)).ok());
  ASSERT_TRUE(write_file_atomically(*fs, file, to_bytes(old_content)).ok());
  EXPECT_EQ(read_file(*fs, file), old_content);
  EXPECT_EQ(*fs->list(scratch.path()), std::vector<std::string>{"state"});
}

}  // namespace
}  // namespace sluice::storage
