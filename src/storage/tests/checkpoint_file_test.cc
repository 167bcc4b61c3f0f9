#include "storage/checkpoint_file.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <limits>
#include <string>
#include <vector>

#include "storage/testing/fault_injecting_file_system.h"
#include "storage/tests/file_system_test_util.h"

namespace sluice::storage {
namespace {

using testing::fault_injecting_file_system;
using testing::operation;

const std::string path = "/data/recovery-point-offset-checkpoint";

const std::vector<topic_partition_offset> old_offsets = {{"orders", 0, 42}, {"orders", 1, 17}};
const std::vector<topic_partition_offset> new_offsets = {
    {"orders", 0, 50}, {"orders", 1, 20}, {"payments.eu-west_1", 7, 3}};

class CheckpointFile : public ::testing::Test {
 protected:
  CheckpointFile() {
    EXPECT_TRUE(fs_.create_directories("/data").ok());
    EXPECT_TRUE(fs_.sync_directory("/").ok());
  }

  std::vector<topic_partition_offset> read() {
    auto entries = checkpoint_.read_partition_offsets();
    EXPECT_TRUE(entries.ok()) << entries.error().message;
    return entries ? *entries : std::vector<topic_partition_offset>{};
  }

  // Writes `content` as the whole file, durably.
  void put(const std::string& content) {
    auto f = write_file(fs_, path, content);
    ASSERT_NE(f, nullptr);
    ASSERT_TRUE(f->sync().ok());
    ASSERT_TRUE(fs_.sync_directory("/data").ok());
  }

  fault_injecting_file_system fs_;
  checkpoint_file checkpoint_{fs_, path};
};

TEST_F(CheckpointFile, PartitionOffsetsRoundTrip) {
  ASSERT_TRUE(checkpoint_.write(new_offsets).ok());
  EXPECT_EQ(read(), new_offsets);

  const std::vector<topic_partition_offset> extremes = {
      {"t", std::numeric_limits<int32_t>::max(), std::numeric_limits<int64_t>::max()}, {"t", 0, 0}};
  ASSERT_TRUE(checkpoint_.write(extremes).ok());
  EXPECT_EQ(read(), extremes);

  ASSERT_TRUE(checkpoint_.write(std::vector<topic_partition_offset>{}).ok());
  EXPECT_EQ(read(), std::vector<topic_partition_offset>{});
  EXPECT_EQ(read_file(fs_, path), "0\n0\n");
}

TEST_F(CheckpointFile, EpochsRoundTrip) {
  const std::vector<epoch_start_offset> epochs = {
      {0, 0}, {3, 100}, {std::numeric_limits<int32_t>::max(), std::numeric_limits<int64_t>::max()}};
  ASSERT_TRUE(checkpoint_.write(epochs).ok());
  auto read_back = checkpoint_.read_epochs();
  ASSERT_TRUE(read_back.ok()) << read_back.error().message;
  EXPECT_EQ(*read_back, epochs);
}

TEST_F(CheckpointFile, WritesKafkasFormat) {
  ASSERT_TRUE(checkpoint_.write(old_offsets).ok());
  EXPECT_EQ(read_file(fs_, path), "0\n2\norders 0 42\norders 1 17\n");
  ASSERT_TRUE(checkpoint_.write(std::vector<epoch_start_offset>{{1, 0}, {4, 250}}).ok());
  EXPECT_EQ(read_file(fs_, path), "0\n2\n1 0\n4 250\n");
}

TEST_F(CheckpointFile, ReadsWhatKafkaWrites) {
  put("0\n3\n__consumer_offsets 12 9001\nmy-topic 0 0\nA.b_C-9 2 77\n");
  EXPECT_EQ(read(), (std::vector<topic_partition_offset>{
                        {"__consumer_offsets", 12, 9001}, {"my-topic", 0, 0}, {"A.b_C-9", 2, 77}}));
}

TEST_F(CheckpointFile, AMissingFileIsEmpty) {
  EXPECT_EQ(read(), std::vector<topic_partition_offset>{});
  checkpoint_file in_missing_directory(fs_, "/nowhere/leader-epoch-checkpoint");
  auto epochs = in_missing_directory.read_epochs();
  ASSERT_TRUE(epochs.ok()) << epochs.error().message;
  EXPECT_TRUE(epochs->empty());
}

TEST_F(CheckpointFile, OtherOpenErrorsAreReported) {
  ASSERT_TRUE(fs_.create_directories(path).ok());
  expect_failure(checkpoint_.read_partition_offsets(), EISDIR, "open", path);
  checkpoint_file other(fs_, "/data/other");
  ASSERT_TRUE(other.write(old_offsets).ok());
  fs_.fail_next(operation::read, EIO);
  EXPECT_EQ(other.read_partition_offsets().error().code, EIO);
}

struct corruption {
  std::string content;
  size_t line;
};

template <typename T>
void expect_bad_message(const io_result<T>& r, const corruption& c) {
  ASSERT_FALSE(r.ok()) << "accepted " << ::testing::PrintToString(c.content);
  EXPECT_EQ(r.error().code, EBADMSG) << r.error().message;
  const std::string prefix = "read " + path + ": Bad message (line " + std::to_string(c.line) + ":";
  EXPECT_EQ(r.error().message.substr(0, prefix.size()), prefix)
      << r.error().message << " for " << ::testing::PrintToString(c.content);
}

TEST_F(CheckpointFile, CorruptPartitionOffsetsFailWithTheirLine) {
  const std::vector<corruption> corruptions = {
      {"", 1},                                  // no version
      {"\n", 1},                                // empty version
      {"1\n0\n", 1},                            // unknown version
      {"-0\n0\n", 1},                           // signed version
      {"0", 1},                                 // no newline
      {"0\n", 2},                               // no count
      {"0\nx\n", 2},                            // count not a number
      {"0\n-1\n", 2},                           // negative count
      {"0\n1\n", 3},                            // fewer entries than the count
      {"0\n2\na 0 1\n", 4},                     //
      {"0\n1\na 0 1\nb 0 2\n", 4},              // more entries than the count
      {"0\n0\n\n", 3},                          // a blank line after the entries
      {"0\n1\na 0 1", 3},                       // cut inside the last line
      {"0\n1\na 0\n", 3},                       // too few fields
      {"0\n1\na 0 1 2\n", 3},                   // too many fields
      {"0\n1\na  0 1\n", 3},                    // two spaces
      {"0\n1\na 0 1 \n", 3},                    // trailing space
      {"0\n1\na\t0 1\n", 3},                    // a tab
      {"0\n1\n 0 1\n", 3},                      // empty topic
      {"0\n1\na/b 0 1\n", 3},                   // illegal topic
      {"0\n1\na -1 1\n", 3},                    // negative partition
      {"0\n1\na 2147483648 1\n", 3},            // partition out of range
      {"0\n1\na 0 -1\n", 3},                    // negative offset
      {"0\n1\na 0 +1\n", 3},                    // signed offset
      {"0\n1\na 0 9223372036854775808\n", 3},   // offset out of range
      {"0\n1\na 0 1x\n", 3},                    // junk after a number
      {"0\n1\na 0 1\r\n", 3},                   // CRLF
      {"0\n2\na 0 1\nb x 2\n", 4},              // the second entry is bad
      {std::string("0\n1\na 0 1\0\n", 11), 3},  // a NUL byte
  };
  for (const auto& c : corruptions) {
    put(c.content);
    expect_bad_message(checkpoint_.read_partition_offsets(), c);
  }
}

TEST_F(CheckpointFile, CorruptEpochsFailWithTheirLine) {
  const std::vector<corruption> corruptions = {
      {"0\n1\n1\n", 3},          {"0\n1\n1 2 3\n", 3},
      {"0\n1\n-1 0\n", 3},       {"0\n1\n2147483648 0\n", 3},
      {"0\n1\nx 0\n", 3},        {"0\n1\n1 y\n", 3},
      {"0\n1\norders 0 1\n", 3}, {"0\n2\n1 0\n", 4},
      {"1\n1\n1 0\n", 1},
  };
  for (const auto& c : corruptions) {
    put(c.content);
    expect_bad_message(checkpoint_.read_epochs(), c);
  }
}

TEST_F(CheckpointFile, WriteRefusesEntriesItCouldNotReadBack) {
  ASSERT_TRUE(checkpoint_.write(old_offsets).ok());
  const std::vector<std::vector<topic_partition_offset>> bad = {
      {{"", 0, 1}}, {{"a b", 0, 1}}, {{"a\n", 0, 1}}, {{"a", -1, 1}}, {{"a", 0, -1}}};
  for (const auto& entries : bad) {
    auto written = checkpoint_.write(entries);
    ASSERT_FALSE(written.ok());
    EXPECT_EQ(written.error().code, EINVAL) << written.error().message;
  }
  auto written = checkpoint_.write(std::vector<epoch_start_offset>{{1, 0}, {-1, 5}});
  ASSERT_FALSE(written.ok());
  EXPECT_EQ(written.error().message,
            "write " + path + ": Invalid argument (entry 1: negative number)");
  EXPECT_EQ(read(), old_offsets);
  EXPECT_FALSE(*fs_.exists(path + ".tmp")) << "nothing was written";
}

TEST_F(CheckpointFile, AShorterWriteLeavesNoTrailOfTheLongerOne) {
  ASSERT_TRUE(checkpoint_.write(new_offsets).ok());
  ASSERT_TRUE(checkpoint_.write(std::vector<topic_partition_offset>{{"a", 0, 1}}).ok());
  EXPECT_EQ(read_file(fs_, path), "0\n1\na 0 1\n");

  // A failed write leaves a long `.tmp`; the next one starts it over.
  fs_.fail_next(operation::rename, EIO);
  ASSERT_FALSE(checkpoint_.write(new_offsets).ok());
  ASSERT_TRUE(checkpoint_.write(old_offsets).ok());
  EXPECT_EQ(read(), old_offsets);
}

// Each step of a write, failed in turn: the call fails and the old content
// stays, before and after a crash.
TEST_F(CheckpointFile, AFailedWriteLeavesTheOldFile) {
  ASSERT_TRUE(checkpoint_.write(old_offsets).ok());
  const std::vector<operation> steps = {operation::open, operation::truncate, operation::write,
                                        operation::sync, operation::rename};
  for (operation step : steps) {
    fs_.fail_next(step, EIO, 1, ".tmp");
    auto written = checkpoint_.write(new_offsets);
    ASSERT_FALSE(written.ok());
    EXPECT_EQ(written.error().code, EIO);
    EXPECT_EQ(read(), old_offsets);
    fs_.crash(1);
    EXPECT_EQ(read(), old_offsets);
  }

  fs_.short_write_next(5, ".tmp");
  EXPECT_FALSE(checkpoint_.write(new_offsets).ok());
  EXPECT_EQ(read(), old_offsets);

  fs_.set_capacity(fs_.used_bytes() + 10);
  auto full = checkpoint_.write(new_offsets);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, ENOSPC);
  fs_.crash(2);
  EXPECT_EQ(read(), old_offsets);
}

TEST_F(CheckpointFile, AnUnsyncedRenameIsUndoneByACrash) {
  ASSERT_TRUE(checkpoint_.write(old_offsets).ok());
  fs_.fail_next(operation::sync_directory, EIO);
  ASSERT_FALSE(checkpoint_.write(new_offsets).ok());
  EXPECT_EQ(read(), new_offsets) << "renamed, not yet durable";
  fs_.crash(3);
  EXPECT_EQ(read(), old_offsets);
}

TEST_F(CheckpointFile, ACompletedWriteSurvivesACrash) {
  ASSERT_TRUE(checkpoint_.write(old_offsets).ok());
  ASSERT_TRUE(checkpoint_.write(new_offsets).ok());
  fs_.crash(4);
  EXPECT_EQ(read(), new_offsets);
}

TEST_F(CheckpointFile, AFirstWriteCutByACrashLeavesNoFile) {
  fs_.fail_next(operation::sync_directory, EIO);
  ASSERT_FALSE(checkpoint_.write(new_offsets).ok());
  fs_.crash(5);
  EXPECT_FALSE(*fs_.exists(path));
  EXPECT_EQ(read(), std::vector<topic_partition_offset>{});
}

// A crash at any point of a write, with torn unsynced appends: what is read
// afterwards is the old list or the new one, never a mix.
TEST_F(CheckpointFile, ACrashAnywhereLeavesOldOrNew) {
  const std::vector<operation> steps = {operation::open,   operation::truncate,
                                        operation::write,  operation::sync,
                                        operation::rename, operation::sync_directory};
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    for (operation step : steps) {
      ASSERT_TRUE(checkpoint_.write(old_offsets).ok());
      fs_.fail_next(step, EIO);
      ASSERT_FALSE(checkpoint_.write(new_offsets).ok());
      fs_.crash(seed);
      auto entries = checkpoint_.read_partition_offsets();
      ASSERT_TRUE(entries.ok()) << entries.error().message;
      EXPECT_TRUE(*entries == old_offsets || *entries == new_offsets);
    }
  }
}

TEST(CheckpointFileOnDisk, RoundTripsAndLeavesNoTemporaryFile) {
  temporary_directory directory;
  auto fs = make_posix_file_system();
  checkpoint_file checkpoint(*fs, directory.path() + "/leader-epoch-checkpoint");
  const std::vector<epoch_start_offset> epochs = {{0, 0}, {2, 1000}};
  ASSERT_TRUE(checkpoint.write(std::vector<epoch_start_offset>{{9, 9}, {10, 10}, {11, 11}}).ok());
  ASSERT_TRUE(checkpoint.write(epochs).ok());
  auto read = checkpoint.read_epochs();
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(*read, epochs);
  EXPECT_EQ(read_file(*fs, checkpoint.path()), "0\n2\n0 0\n2 1000\n");
  EXPECT_EQ(*fs->list(directory.path()), std::vector<std::string>{"leader-epoch-checkpoint"});
}

TEST(CheckpointFileOnDisk, ARelativePathSyncsTheCurrentDirectory) {
  temporary_directory directory;
  auto fs = make_posix_file_system();
  auto before = std::filesystem::current_path();
  std::filesystem::current_path(directory.path());
  checkpoint_file checkpoint(*fs, "cleaner-offset-checkpoint");
  auto written = checkpoint.write(old_offsets);
  auto read = checkpoint.read_partition_offsets();
  std::filesystem::current_path(before);
  ASSERT_TRUE(written.ok()) << written.error().message;
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(*read, old_offsets);
}

}  // namespace
}  // namespace sluice::storage
