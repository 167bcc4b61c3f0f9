#include "storage/leader_epoch_cache.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <optional>
#include <string>
#include <vector>

#include "storage/testing/fault_injecting_file_system.h"
#include "storage/tests/file_system_test_util.h"

namespace sluice::storage {
namespace {

using testing::fault_injecting_file_system;
using testing::operation;
using entries = std::vector<epoch_start_offset>;

const std::string directory = "/data/orders-0";
const std::string checkpoint_path = directory + "/leader-epoch-checkpoint";

class LeaderEpochCache : public ::testing::Test {
 protected:
  LeaderEpochCache() {
    EXPECT_TRUE(fs_.create_directories(directory).ok());
    EXPECT_TRUE(fs_.sync_directory("/data").ok());
    EXPECT_TRUE(fs_.sync_directory("/").ok());
  }

  // What a fresh load of the checkpoint holds.
  entries persisted() {
    auto loaded = leader_epoch_cache::load(fs_, directory);
    EXPECT_TRUE(loaded.ok()) << loaded.error().message;
    return loaded ? loaded->entries() : entries{};
  }

  void assign(int32_t epoch, int64_t start_offset) {
    auto assigned = cache_.assign(epoch, start_offset);
    ASSERT_TRUE(assigned.ok()) << assigned.error().message;
  }

  // The cache holding (1, 0), (2, 10), (4, 20).
  void fill() {
    assign(1, 0);
    assign(2, 10);
    assign(4, 20);
    ASSERT_EQ(cache_.entries(), (entries{{1, 0}, {2, 10}, {4, 20}}));
  }

  uint64_t syncs() const { return fs_.counts().syncs; }

  fault_injecting_file_system fs_;
  leader_epoch_cache cache_{fs_, directory};
};

TEST_F(LeaderEpochCache, StartsEmpty) {
  EXPECT_TRUE(cache_.entries().empty());
  EXPECT_EQ(cache_.latest_epoch(), std::nullopt);
  EXPECT_EQ(cache_.end_offset_for(0, 100), std::nullopt);
  EXPECT_FALSE(*fs_.exists(checkpoint_path)) << "nothing to write yet";
}

TEST_F(LeaderEpochCache, AssignAddsOnlyGreaterEpochs) {
  assign(1, 0);
  assign(1, 5);  // the same epoch again
  assign(3, 10);
  assign(2, 20);  // an older epoch
  assign(3, 30);
  EXPECT_EQ(cache_.entries(), (entries{{1, 0}, {3, 10}}));
  EXPECT_EQ(cache_.latest_epoch(), 3);
  EXPECT_EQ(persisted(), cache_.entries());
  EXPECT_EQ(read_file(fs_, checkpoint_path), "0\n2\n1 0\n3 10\n");
}

TEST_F(LeaderEpochCache, AGreaterEpochStartingEarlierReplacesTheEntriesAfterIt) {
  fill();
  assign(5, 15);
  EXPECT_EQ(cache_.entries(), (entries{{1, 0}, {2, 10}, {5, 15}}));
  assign(6, 15);  // epoch 5 wrote nothing
  EXPECT_EQ(cache_.entries(), (entries{{1, 0}, {2, 10}, {6, 15}}));
  assign(7, 0);
  EXPECT_EQ(cache_.entries(), (entries{{7, 0}}));
  EXPECT_EQ(persisted(), cache_.entries());
}

TEST_F(LeaderEpochCache, NegativeEpochsAndOffsetsAreRefused) {
  assign(1, 0);
  for (auto [epoch, offset] : {std::pair{-1, 5}, std::pair{2, -1}}) {
    auto assigned = cache_.assign(epoch, offset);
    ASSERT_FALSE(assigned.ok());
    EXPECT_EQ(assigned.error().code, EINVAL) << assigned.error().message;
  }
  EXPECT_EQ(cache_.entries(), (entries{{1, 0}}));
}

TEST_F(LeaderEpochCache, EndOffsetIsWhereTheNextEpochStarts) {
  fill();
  const int64_t log_end = 30;
  EXPECT_EQ(cache_.end_offset_for(-1, log_end), std::nullopt);
  EXPECT_EQ(cache_.end_offset_for(0, log_end), std::nullopt) << "below the first epoch";
  EXPECT_EQ(cache_.end_offset_for(1, log_end), (epoch_start_offset{1, 10}));
  EXPECT_EQ(cache_.end_offset_for(2, log_end), (epoch_start_offset{2, 20}));
  EXPECT_EQ(cache_.end_offset_for(3, log_end), (epoch_start_offset{2, 20}))
      << "an epoch this log never saw: the largest one before it";
  EXPECT_EQ(cache_.end_offset_for(4, log_end), (epoch_start_offset{4, log_end}));
  EXPECT_EQ(cache_.end_offset_for(9, log_end), (epoch_start_offset{4, log_end}));
}

TEST_F(LeaderEpochCache, TruncateFromEndDropsEntriesAtOrAfterTheOffset) {
  fill();
  ASSERT_TRUE(cache_.truncate_from_end(21).ok());
  EXPECT_EQ(cache_.entries(), (entries{{1, 0}, {2, 10}, {4, 20}}));
  ASSERT_TRUE(cache_.truncate_from_end(20).ok());
  EXPECT_EQ(cache_.entries(), (entries{{1, 0}, {2, 10}}));
  EXPECT_EQ(persisted(), cache_.entries());
  ASSERT_TRUE(cache_.truncate_from_end(5).ok());
  EXPECT_EQ(cache_.entries(), (entries{{1, 0}}));
  EXPECT_EQ(cache_.end_offset_for(2, 5), (epoch_start_offset{1, 5}));
  ASSERT_TRUE(cache_.truncate_from_end(0).ok());
  EXPECT_TRUE(cache_.entries().empty());
  EXPECT_EQ(persisted(), entries{});
  EXPECT_EQ(read_file(fs_, checkpoint_path), "0\n0\n");
}

TEST_F(LeaderEpochCache, TruncateFromStartMovesTheCoveringEntryUp) {
  fill();
  ASSERT_TRUE(cache_.truncate_from_start(0).ok());
  EXPECT_EQ(cache_.entries(), (entries{{1, 0}, {2, 10}, {4, 20}}));
  ASSERT_TRUE(cache_.truncate_from_start(5).ok());
  EXPECT_EQ(cache_.entries(), (entries{{1, 5}, {2, 10}, {4, 20}}));
  ASSERT_TRUE(cache_.truncate_from_start(10).ok());
  EXPECT_EQ(cache_.entries(), (entries{{2, 10}, {4, 20}}));
  ASSERT_TRUE(cache_.truncate_from_start(15).ok());
  EXPECT_EQ(cache_.entries(), (entries{{2, 15}, {4, 20}}));
  EXPECT_EQ(persisted(), cache_.entries());
  ASSERT_TRUE(cache_.truncate_from_start(100).ok());
  EXPECT_EQ(cache_.entries(), (entries{{4, 100}}));
  EXPECT_EQ(cache_.end_offset_for(4, 120), (epoch_start_offset{4, 120}));
  EXPECT_EQ(persisted(), cache_.entries());
}

TEST_F(LeaderEpochCache, TruncateFromStartBelowTheFirstEntryChangesNothing) {
  assign(3, 50);
  ASSERT_TRUE(cache_.truncate_from_start(10).ok());
  EXPECT_EQ(cache_.entries(), (entries{{3, 50}}));
}

TEST_F(LeaderEpochCache, WritesOnlyWhenSomethingChanges) {
  fill();
  const uint64_t before = syncs();
  assign(4, 25);
  assign(3, 40);
  ASSERT_TRUE(cache_.truncate_from_end(100).ok());
  ASSERT_TRUE(cache_.truncate_from_start(0).ok());
  EXPECT_EQ(syncs(), before);
  assign(5, 40);
  EXPECT_EQ(syncs(), before + 1);
}

TEST_F(LeaderEpochCache, AFailedWriteChangesNothingAndCanBeRetried) {
  fill();
  fs_.fail_next(operation::sync, EIO);
  auto assigned = cache_.assign(5, 40);
  ASSERT_FALSE(assigned.ok());
  EXPECT_EQ(assigned.error().code, EIO);
  EXPECT_EQ(cache_.entries(), (entries{{1, 0}, {2, 10}, {4, 20}}));
  EXPECT_EQ(persisted(), cache_.entries());

  fs_.fail_next(operation::rename, EIO);
  EXPECT_FALSE(cache_.truncate_from_end(10).ok());
  fs_.fail_next(operation::write, ENOSPC);
  EXPECT_FALSE(cache_.truncate_from_start(15).ok());
  EXPECT_EQ(cache_.entries(), (entries{{1, 0}, {2, 10}, {4, 20}}));

  assign(5, 40);
  EXPECT_EQ(cache_.entries(), (entries{{1, 0}, {2, 10}, {4, 20}, {5, 40}}));
  EXPECT_EQ(persisted(), cache_.entries());
}

TEST_F(LeaderEpochCache, ChangesSurviveACrash) {
  fill();
  ASSERT_TRUE(cache_.truncate_from_start(12).ok());
  fs_.crash(1);
  EXPECT_EQ(persisted(), (entries{{2, 12}, {4, 20}}));
}

TEST_F(LeaderEpochCache, LoadReadsTheCheckpoint) {
  auto f = write_file(fs_, checkpoint_path, "0\n3\n0 0\n2 7\n5 300\n");
  auto loaded = leader_epoch_cache::load(fs_, directory);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->entries(), (entries{{0, 0}, {2, 7}, {5, 300}}));
  EXPECT_EQ(loaded->latest_epoch(), 5);
  // The loaded cache writes to the same file.
  ASSERT_TRUE(loaded->assign(6, 310).ok());
  EXPECT_EQ(persisted(), (entries{{0, 0}, {2, 7}, {5, 300}, {6, 310}}));
}

TEST_F(LeaderEpochCache, LoadOfAMissingFileIsEmpty) {
  auto loaded = leader_epoch_cache::load(fs_, "/data/never-written");
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_TRUE(loaded->entries().empty());
}

TEST_F(LeaderEpochCache, LoadRefusesACorruptFile) {
  struct corruption {
    std::string content;
    std::string detail;
  };
  const std::vector<corruption> corruptions = {
      {"0\n2\n1 0\n", "(line 4: the file ends after 1 of 2 entries)"},
      {"0\n2\n1 0\n1 5\n", "(line 4: epoch 1 at offset 5 does not follow epoch 1 at offset 0)"},
      {"0\n3\n1 0\n3 9\n2 10\n",
       "(line 5: epoch 2 at offset 10 does not follow epoch 3 at offset 9)"},
      {"0\n2\n1 5\n2 5\n", "(line 4: epoch 2 at offset 5 does not follow epoch 1 at offset 5)"},
      {"0\n2\n1 5\n2 4\n", "(line 4: epoch 2 at offset 4 does not follow epoch 1 at offset 5)"},
  };
  for (const auto& c : corruptions) {
    auto f = write_file(fs_, checkpoint_path, c.content);
    auto loaded = leader_epoch_cache::load(fs_, directory);
    ASSERT_FALSE(loaded.ok()) << c.content;
    EXPECT_EQ(loaded.error().code, EBADMSG);
    EXPECT_EQ(loaded.error().message, "read " + checkpoint_path + ": Bad message " + c.detail);
  }
}

TEST(LeaderEpochCacheOnDisk, PersistsAcrossLoads) {
  temporary_directory directory;
  auto fs = make_posix_file_system();
  {
    leader_epoch_cache cache(*fs, directory.path());
    ASSERT_TRUE(cache.assign(1, 0).ok());
    ASSERT_TRUE(cache.assign(2, 100).ok());
    ASSERT_TRUE(cache.truncate_from_start(50).ok());
  }
  auto loaded = leader_epoch_cache::load(*fs, directory.path());
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->entries(), (entries{{1, 50}, {2, 100}}));
  EXPECT_EQ(loaded->end_offset_for(1, 200), (epoch_start_offset{1, 100}));
}

}  // namespace
}  // namespace sluice::storage
