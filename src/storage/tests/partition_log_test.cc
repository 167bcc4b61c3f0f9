#include "storage/partition_log.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "protocol/record_batch.h"
#include "storage/testing/fault_injecting_file_system.h"
#include "storage/tests/file_system_test_util.h"

namespace sluice::storage {
namespace {

using testing::fault_injecting_file_system;
using testing::operation;

const std::string dir = "/data/orders-0";

// A producer's batch: offsets from 0, records with the given timestamps and
// values of `value_size` bytes.
std::vector<uint8_t> make_batch(const std::vector<int64_t>& timestamps, size_t value_size = 10,
                                protocol::compression codec = protocol::compression::none) {
  protocol::batch_options options;
  options.codec = codec;
  protocol::record_batch_builder builder(options);
  std::vector<uint8_t> value(value_size, 'v');
  for (int64_t ts : timestamps) builder.add(ts, std::nullopt, std::span<const uint8_t>(value));
  auto built = builder.build();
  EXPECT_TRUE(built.ok());
  return std::move(*built);
}

std::vector<uint8_t> records_at(int64_t timestamp, int count, size_t value_size = 10) {
  return make_batch(std::vector<int64_t>(count, timestamp), value_size);
}

struct read_batch {
  int64_t base_offset;
  int64_t last_offset;
  int32_t leader_epoch;
  int64_t max_timestamp;
};

class PartitionLog : public ::testing::Test {
 protected:
  std::unique_ptr<partition_log> open_log(bool clean = false, int64_t recovery_point = 0) {
    log_open_options options;
    options.config = config;
    options.clock = [this] { return now.load(); };
    options.clean_shutdown = clean;
    options.recovery_point = recovery_point;
    auto opened = partition_log::open(fs, dir, options);
    EXPECT_TRUE(opened.ok()) << opened.error().message;
    return opened.ok() ? std::move(*opened) : nullptr;
  }

  // A log on a disk of its own: the crash tests take a fresh one per seed.
  std::unique_ptr<partition_log> open_on(fault_injecting_file_system& disk) {
    log_open_options options;
    options.config = config;
    auto opened = partition_log::open(disk, dir, options);
    EXPECT_TRUE(opened.ok()) << opened.error().message;
    return opened.ok() ? std::move(*opened) : nullptr;
  }

  // Power loss: what `disk` had not synced goes (torn as `seed` picks), `log`
  // is dropped without a flush, and the log is opened again.
  std::unique_ptr<partition_log> crash_and_reopen(fault_injecting_file_system& disk,
                                                  std::unique_ptr<partition_log>& log,
                                                  uint64_t seed) {
    disk.crash(seed);
    log.reset();
    return open_on(disk);
  }

  append_result append_ok(partition_log& log, std::vector<uint8_t> batch,
                          const append_options& options = {}) {
    auto appended = log.append(batch, options);
    EXPECT_TRUE(appended.ok()) << appended.error().message;
    return appended.ok() ? *appended : append_result{};
  }

  // Every batch from `offset` on, by reading in small steps as a consumer does.
  std::vector<read_batch> read_all(partition_log& log, int64_t offset, size_t max_bytes = 1) {
    std::vector<read_batch> out;
    for (int guard = 0; guard < 100000; ++guard) {
      auto slice = log.read(offset, max_bytes);
      EXPECT_TRUE(slice.ok()) << slice.error().message;
      if (!slice.ok() || !*slice) break;
      auto bytes = (*slice)->read();
      EXPECT_TRUE(bytes.ok());
      auto batches = protocol::split_batches(*bytes);
      EXPECT_TRUE(batches.ok());
      for (const auto& b : *batches) {
        EXPECT_TRUE(protocol::verify_crc(b).ok());
        const auto& h = b.header();
        out.push_back({h.base_offset, h.last_offset(), h.partition_leader_epoch, h.max_timestamp});
        offset = h.last_offset() + 1;
      }
    }
    return out;
  }

  fault_injecting_file_system fs;
  log_config config;
  std::atomic<int64_t> now{1'000'000};
};

TEST_F(PartitionLog, AssignsOffsetsAndReadsBatchesBack) {
  auto log = open_log();
  EXPECT_EQ(log->log_start_offset(), 0);
  EXPECT_EQ(log->log_end_offset(), 0);
  auto first = append_ok(*log, records_at(now, 3));
  EXPECT_EQ(first.base_offset, 0);
  EXPECT_EQ(first.last_offset, 2);
  EXPECT_EQ(first.log_end_offset, 3);
  // Two batches in one append get consecutive offsets.
  auto two = records_at(now, 2);
  auto more = records_at(now, 4);
  two.insert(two.end(), more.begin(), more.end());
  auto second = append_ok(*log, two);
  EXPECT_EQ(second.base_offset, 3);
  EXPECT_EQ(second.last_offset, 8);
  auto batches = read_all(*log, 0);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0].base_offset, 0);
  EXPECT_EQ(batches[1].base_offset, 3);
  EXPECT_EQ(batches[2].base_offset, 5);
  EXPECT_EQ(batches[2].last_offset, 8);
  // A read from inside a batch starts with that whole batch.
  auto from_inside = read_all(*log, 6);
  ASSERT_EQ(from_inside.size(), 1u);
  EXPECT_EQ(from_inside[0].base_offset, 5);
  EXPECT_TRUE(fs.exists(dir + "/00000000000000000000.log").value());
}

TEST_F(PartitionLog, RejectsBadBatchesWithoutWritingAnything) {
  auto log = open_log();
  append_ok(*log, records_at(now, 2));
  auto expect_rejected = [&](std::vector<uint8_t> bytes) {
    auto appended = log->append(bytes);
    ASSERT_FALSE(appended.ok());
    EXPECT_EQ(appended.error().code, EINVAL) << appended.error().message;
    EXPECT_EQ(log->log_end_offset(), 2);
  };
  expect_rejected({});
  auto flipped = records_at(now, 2);
  flipped.back() ^= 0x01;
  expect_rejected(flipped);
  auto bad_magic = records_at(now, 2);
  bad_magic[protocol::batch_layout::magic] = 1;
  expect_rejected(bad_magic);
  auto cut = records_at(now, 2);
  cut.pop_back();
  expect_rejected(cut);
  // A good batch followed by garbage is refused whole.
  auto mixed = records_at(now, 1);
  mixed.push_back(7);
  expect_rejected(mixed);
  EXPECT_EQ(read_all(*log, 0).size(), 1u);
}

TEST_F(PartitionLog, LeaderEpochsAreStampedAndRemembered) {
  auto log = open_log();
  append_ok(*log, records_at(now, 2), {.leader_epoch = 3});
  append_ok(*log, records_at(now, 2), {.leader_epoch = 3});
  append_ok(*log, records_at(now, 1), {.leader_epoch = 5});
  auto batches = read_all(*log, 0);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0].leader_epoch, 3);
  EXPECT_EQ(batches[2].leader_epoch, 5);
  EXPECT_EQ(log->latest_epoch(), 5);
  auto end_of_3 = log->end_offset_for_epoch(4);
  ASSERT_TRUE(end_of_3);
  EXPECT_EQ(end_of_3->epoch, 3);
  EXPECT_EQ(end_of_3->start_offset, 4);  // where epoch 5 begins
  log.reset();
  auto reopened = open_log();
  EXPECT_EQ(reopened->leader_epoch_entries(), (std::vector<epoch_start_offset>{{3, 0}, {5, 4}}));
}

TEST_F(PartitionLog, ReplicatedAppendsKeepTheLeadersOffsetsAndEpochs) {
  auto leader = records_at(now, 3);
  protocol::set_base_offset(leader, 10);
  protocol::set_partition_leader_epoch(leader, 7);
  config.segment_bytes = 1 << 20;
  // A follower that starts where the leader's log starts.
  log_open_options options;
  options.log_start_offset = 10;
  options.clock = [this] { return now.load(); };
  auto opened = partition_log::open(fs, dir, options);
  ASSERT_TRUE(opened.ok());
  auto& log = **opened;
  auto appended = log.append(leader, {.assign_offsets = false});
  ASSERT_TRUE(appended.ok()) << appended.error().message;
  EXPECT_EQ(appended->base_offset, 10);
  EXPECT_EQ(appended->log_end_offset, 13);
  EXPECT_EQ(log.latest_epoch(), 7);
  // The same batch again would go back in the log.
  auto again = log.append(leader, {.assign_offsets = false});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, EINVAL);
}

TEST_F(PartitionLog, LogAppendTimeStampsTheLogsClock) {
  config.log_append_time = true;
  auto log = open_log();
  auto appended = append_ok(*log, make_batch({5, 6, 7}));
  EXPECT_EQ(appended.log_append_time, now.load());
  auto batches = read_all(*log, 0);
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].max_timestamp, now.load());
}

TEST_F(PartitionLog, ReadsHonourMaxBytesMaxOffsetAndTheRange) {
  auto log = open_log();
  for (int i = 0; i < 5; ++i) append_ok(*log, records_at(now, 2, 100));
  // KIP-74: the first batch is whole even beyond max_bytes.
  auto one = log->read(0, 1);
  ASSERT_TRUE(one.ok() && *one);
  EXPECT_EQ((*one)->range().first_offset, 0);
  EXPECT_EQ((*one)->range().last_offset, 1);
  auto all = log->read(0, 1 << 20);
  EXPECT_EQ((*all)->range().last_offset, 9);
  // A high watermark at 6: batches holding offsets >= 6 stay unread.
  auto below_hw = log->read(0, 1 << 20, 6);
  EXPECT_EQ((*below_hw)->range().last_offset, 5);
  auto at_hw = log->read(6, 1 << 20, 6);
  ASSERT_TRUE(at_hw.ok());
  EXPECT_FALSE(*at_hw);
  // At the log end there is nothing yet; past it is out of range.
  auto at_end = log->read(10, 100);
  ASSERT_TRUE(at_end.ok());
  EXPECT_FALSE(*at_end);
  auto past_end = log->read(11, 100);
  ASSERT_FALSE(past_end.ok());
  EXPECT_EQ(past_end.error().code, ERANGE);
}

TEST_F(PartitionLog, RollsBySegmentBytes) {
  config.segment_bytes = 1000;
  auto log = open_log();
  for (int i = 0; i < 20; ++i) append_ok(*log, records_at(now, 2, 200));
  EXPECT_GT(log->segment_count(), 5u);
  for (int64_t base : log->segment_base_offsets()) {
    EXPECT_TRUE(fs.exists(dir + "/" + segment_file_name(base, log_extension)).value());
  }
  // A batch larger than segment.bytes still goes in, alone in its segment.
  append_ok(*log, records_at(now, 1, 5000));
  EXPECT_EQ(read_all(*log, 0).size(), 21u);
  // Rolled segments are durable: the recovery point is at least the active
  // segment's base.
  EXPECT_GE(log->recovery_point(), log->segment_base_offsets().back());
}

TEST_F(PartitionLog, RollsBySegmentMsOnAppendAndWhenIdle) {
  config.segment_ms = 1000;
  auto log = open_log();
  append_ok(*log, records_at(now, 1));
  now += 500;
  append_ok(*log, records_at(now, 1));
  EXPECT_EQ(log->segment_count(), 1u);
  now += 600;
  append_ok(*log, records_at(now, 1));
  EXPECT_EQ(log->segment_count(), 2u);
  now += 1000;
  ASSERT_TRUE(log->roll_if_due().ok());
  EXPECT_EQ(log->segment_count(), 3u);
  // An empty active segment is never rolled.
  now += 5000;
  ASSERT_TRUE(log->roll_if_due().ok());
  EXPECT_EQ(log->segment_count(), 3u);
}

TEST_F(PartitionLog, RollsWhenTheIndexIsFull) {
  config.index_interval_bytes = 1;
  config.segment_index_bytes = 5 * 12;
  auto log = open_log();
  for (int i = 0; i < 30; ++i) append_ok(*log, records_at(now + i, 1));
  EXPECT_GE(log->segment_count(), 5u);
  EXPECT_EQ(read_all(*log, 0).size(), 30u);
}

TEST_F(PartitionLog, FindsOffsetsByTimestampAcrossSegments) {
  config.segment_bytes = 300;
  auto log = open_log();
  // Timestamps go back and forth across batches and inside one.
  append_ok(*log, make_batch({100, 105}));       // 0-1
  append_ok(*log, make_batch({90, 95}));         // 2-3
  append_ok(*log, make_batch({200, 150, 250}));  // 4-6
  append_ok(*log, make_batch({120}));            // 7
  append_ok(*log, make_batch({300, 310}));       // 8-9
  ASSERT_GT(log->segment_count(), 1u);
  auto expect_at = [&](int64_t ts, std::optional<timestamp_and_offset> want) {
    auto found = log->offset_for_timestamp(ts);
    ASSERT_TRUE(found.ok()) << found.error().message;
    EXPECT_EQ(*found, want) << "timestamp " << ts;
  };
  expect_at(0, timestamp_and_offset{100, 0});
  expect_at(101, timestamp_and_offset{105, 1});
  expect_at(106, timestamp_and_offset{200, 4});
  expect_at(201, timestamp_and_offset{250, 6});
  expect_at(260, timestamp_and_offset{300, 8});
  expect_at(311, std::nullopt);
  auto max = log->max_timestamp();
  ASSERT_TRUE(max.ok());
  EXPECT_EQ(*max, (timestamp_and_offset{310, 9}));
}

TEST_F(PartitionLog, TimestampLookupReadsInsideCompressedBatches) {
  auto log = open_log();
  append_ok(*log, make_batch({10, 40, 20, 30}, 50, protocol::compression::zstd));
  auto found = log->offset_for_timestamp(25);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(*found, (timestamp_and_offset{40, 1}));
  auto max = log->max_timestamp();
  EXPECT_EQ(*max, (timestamp_and_offset{40, 1}));
}

TEST_F(PartitionLog, TruncatesInsideAndAcrossSegments) {
  config.segment_bytes = 400;
  auto log = open_log();
  for (int i = 0; i < 12; ++i) append_ok(*log, records_at(now, 2, 50), {.leader_epoch = i / 4});
  ASSERT_GT(log->segment_count(), 2u);
  ASSERT_TRUE(log->truncate_to(13).ok());  // inside the batch 12-13: it stays
  EXPECT_EQ(log->log_end_offset(), 14);
  ASSERT_TRUE(log->truncate_to(9).ok());  // the batch 8-9 begins below 9: it stays
  EXPECT_EQ(log->log_end_offset(), 10);
  ASSERT_TRUE(log->truncate_to(8).ok());
  EXPECT_EQ(log->log_end_offset(), 8);
  EXPECT_EQ(read_all(*log, 0).back().last_offset, 7);
  EXPECT_EQ(log->latest_epoch(), 0);  // epoch 1 began at 8
  for (int64_t base : log->segment_base_offsets()) EXPECT_LT(base, 8);
  // Appends continue from the cut.
  EXPECT_EQ(append_ok(*log, records_at(now, 1)).base_offset, 8);
  // Truncating below everything starts the log afresh there.
  ASSERT_TRUE(log->truncate_to(0).ok());
  EXPECT_EQ(log->log_end_offset(), 0);
  EXPECT_EQ(log->segment_count(), 1u);
  EXPECT_TRUE(read_all(*log, 0).empty());
  EXPECT_EQ(append_ok(*log, records_at(now, 1)).base_offset, 0);
}

TEST_F(PartitionLog, LogStartOffsetHidesAndThenRemovesRecords) {
  config.segment_bytes = 300;
  auto log = open_log();
  for (int i = 0; i < 10; ++i) append_ok(*log, records_at(now, 2, 50));
  auto moved = log->advance_log_start_offset(7);
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(*moved, 7);
  auto below = log->read(6, 100);
  ASSERT_FALSE(below.ok());
  EXPECT_EQ(below.error().code, ERANGE);
  // Never backwards, never past the end.
  EXPECT_EQ(*log->advance_log_start_offset(3), 7);
  EXPECT_EQ(*log->advance_log_start_offset(1000), 20);
  size_t before = log->segment_count();
  auto removed = log->enforce_retention();
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, before - 1);
  EXPECT_EQ(log->log_start_offset(), 20);
}

TEST_F(PartitionLog, RetentionByTimeRemovesExpiredSegmentsOldestFirst) {
  config.segment_bytes = 300;
  config.retention_ms = 10'000;
  auto log = open_log();
  for (int i = 0; i < 10; ++i) append_ok(*log, records_at(now + i * 1000, 2, 50));
  size_t segments = log->segment_count();
  ASSERT_GT(segments, 3u);
  now += 5'000;  // nothing is 10 s old yet
  EXPECT_EQ(*log->enforce_retention(), 0u);
  now += 8'000;  // the first few batches are
  auto removed = log->enforce_retention();
  ASSERT_TRUE(removed.ok());
  EXPECT_GT(*removed, 0u);
  EXPECT_LT(*removed, segments);
  int64_t start = log->log_start_offset();
  EXPECT_EQ(start, log->segment_base_offsets().front());
  EXPECT_EQ(read_all(*log, start).front().base_offset, start);
  // Everything expired: the active segment is rolled and removed too; the
  // log keeps its end offset and an empty segment.
  now += 100'000;
  ASSERT_TRUE(log->enforce_retention().ok());
  EXPECT_EQ(log->segment_count(), 1u);
  EXPECT_EQ(log->log_start_offset(), 20);
  EXPECT_EQ(log->log_end_offset(), 20);
  EXPECT_EQ(append_ok(*log, records_at(now, 1)).base_offset, 20);
}

TEST_F(PartitionLog, RetentionMsMinusOneKeepsEverything) {
  config.segment_bytes = 300;
  config.retention_ms = -1;
  auto log = open_log();
  for (int i = 0; i < 10; ++i) append_ok(*log, records_at(1, 2, 50));
  now += 1'000'000'000;
  EXPECT_EQ(*log->enforce_retention(), 0u);
  EXPECT_EQ(log->log_start_offset(), 0);
}

TEST_F(PartitionLog, RetentionByBytesKeepsAtLeastTheLimit) {
  config.segment_bytes = 300;
  config.retention_bytes = 1000;
  auto log = open_log();
  for (int i = 0; i < 20; ++i) append_ok(*log, records_at(now, 2, 50));
  ASSERT_TRUE(log->enforce_retention().ok());
  EXPECT_GE(log->size_bytes(), 1000u);
  // Removing one more whole segment would go below the limit.
  auto bases = log->segment_base_offsets();
  EXPECT_LT(log->size_bytes(), 1000u + 300u + 200u);
  EXPECT_EQ(log->log_start_offset(), bases.front());
}

TEST_F(PartitionLog, CompactPolicyIsNotDeletedByRetention) {
  config.segment_bytes = 300;
  config.retention_ms = 1;
  config.retention_bytes = 1;
  config.policy = cleanup_policy::compact;
  auto log = open_log();
  for (int i = 0; i < 10; ++i) append_ok(*log, records_at(1, 2, 50));
  now += 1'000'000;
  EXPECT_EQ(*log->enforce_retention(), 0u);
}

TEST_F(PartitionLog, CleanReopenKeepsEverythingWithoutScanning) {
  config.segment_bytes = 400;
  auto log = open_log();
  for (int i = 0; i < 10; ++i) append_ok(*log, records_at(now, 2, 50));
  ASSERT_TRUE(log->close().ok());
  log.reset();
  auto reads_before = fs.counts().reads;
  auto reopened = open_log(/*clean=*/true);
  // A clean open reads the indexes and each segment's tail, not every batch.
  EXPECT_LT(fs.counts().reads - reads_before, 40u);
  EXPECT_EQ(reopened->log_end_offset(), 20);
  EXPECT_EQ(read_all(*reopened, 0).size(), 10u);
  EXPECT_EQ(append_ok(*reopened, records_at(now, 1)).base_offset, 20);
}

TEST_F(PartitionLog, CrashKeepsEverySyncedBatchAndNothingTorn) {
  config.segment_bytes = 2000;
  for (uint64_t seed = 0; seed < 30; ++seed) {
    fault_injecting_file_system crash_fs;
    auto opened = open_on(crash_fs);
    ASSERT_NE(opened, nullptr);
    std::mt19937_64 rng(seed);
    int64_t synced_end = 0;
    for (int i = 0; i < 40; ++i) {
      auto batch = records_at(1000 + i, 1 + rng() % 4, rng() % 300);
      bool sync = rng() % 3 == 0;
      auto appended = opened->append(batch, {.sync = sync});
      ASSERT_TRUE(appended.ok());
      if (sync) synced_end = appended->log_end_offset;
    }
    int64_t end_before = opened->log_end_offset();
    auto reopened = crash_and_reopen(crash_fs, opened, seed);
    ASSERT_NE(reopened, nullptr);
    auto& log = *reopened;
    EXPECT_GE(log.log_end_offset(), synced_end) << "seed " << seed;
    EXPECT_LE(log.log_end_offset(), end_before);
    auto batches = read_all(log, 0, 1 << 20);
    int64_t expected = 0;
    for (const auto& b : batches) {
      EXPECT_EQ(b.base_offset, expected);
      expected = b.last_offset + 1;
    }
    EXPECT_EQ(expected, log.log_end_offset());
    // The log goes on from what survived.
    auto tail = records_at(5, 1);
    auto next = log.append(tail);
    ASSERT_TRUE(next.ok());
    EXPECT_EQ(next->base_offset, expected);
  }
}

// The broker's acks=all path: appends without sync, then sync(end).
TEST_F(PartitionLog, SyncMakesAppendsDurableAndSkipsWhatIsAlreadySynced) {
  config.segment_bytes = 2000;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    fault_injecting_file_system crash_fs;
    auto opened = open_on(crash_fs);
    ASSERT_NE(opened, nullptr);
    std::mt19937_64 rng(seed);
    int64_t synced_end = 0;
    for (int i = 0; i < 30; ++i) {
      auto batch = records_at(1000 + i, 1 + rng() % 4, rng() % 300);
      auto appended = opened->append(batch);
      ASSERT_TRUE(appended.ok());
      if (rng() % 3 == 0) {
        ASSERT_TRUE(opened->sync(appended->log_end_offset).ok());
        synced_end = appended->log_end_offset;
        EXPECT_GE(opened->recovery_point(), synced_end);
        // Already covered: no second fsync.
        auto syncs = crash_fs.counts().syncs;
        ASSERT_TRUE(opened->sync(appended->base_offset).ok());
        EXPECT_EQ(crash_fs.counts().syncs, syncs);
      }
    }
    auto reopened = crash_and_reopen(crash_fs, opened, seed);
    ASSERT_NE(reopened, nullptr);
    EXPECT_GE(reopened->log_end_offset(), synced_end) << "seed " << seed;
  }
}

// sync() runs its fsync without the writer lock: appends go on meanwhile,
// and what it vouched for still survives a crash.
TEST_F(PartitionLog, SyncAlongsideAppendsKeepsWhatItVouchedFor) {
  config.segment_bytes = 4000;
  for (uint64_t seed = 0; seed < 10; ++seed) {
    fault_injecting_file_system crash_fs;
    auto opened = open_on(crash_fs);
    ASSERT_NE(opened, nullptr);
    partition_log& log = *opened;
    std::atomic<int64_t> appended_end{0};
    std::atomic<bool> done{false};
    int64_t synced_end = 0;
    std::thread appender([&] {
      std::mt19937_64 rng(seed);
      for (int i = 0; i < 300; ++i) {
        auto batch = records_at(1000 + i, 1 + rng() % 3, rng() % 200);
        auto appended = log.append(batch);
        ASSERT_TRUE(appended.ok());
        appended_end = appended->log_end_offset;
      }
      done = true;
    });
    while (!done) {
      int64_t end = appended_end.load();
      ASSERT_TRUE(log.sync(end).ok());
      synced_end = std::max(synced_end, end);
    }
    appender.join();
    auto reopened = crash_and_reopen(crash_fs, opened, seed);
    ASSERT_NE(reopened, nullptr);
    EXPECT_GE(reopened->log_end_offset(), synced_end) << "seed " << seed;
  }
}

TEST_F(PartitionLog, CorruptionInAnOlderSegmentDropsEverythingAfterIt) {
  config.segment_bytes = 300;
  auto log = open_log();
  for (int i = 0; i < 10; ++i) append_ok(*log, records_at(now, 2, 50));
  auto bases = log->segment_base_offsets();
  ASSERT_GT(bases.size(), 3u);
  log.reset();
  // Flip a byte in the second segment's last batch.
  std::string path = dir + "/" + segment_file_name(bases[1], log_extension);
  auto f = fs.open(path, open_mode::read_write);
  ASSERT_TRUE(f.ok());
  uint64_t size = (*f)->size().value();
  uint8_t byte = 0;
  ASSERT_TRUE((*f)->read_at(size - 3, {&byte, 1}).ok());
  byte ^= 0xff;
  ASSERT_TRUE((*f)->write_at(size - 3, {&byte, 1}).ok());
  f->reset();
  auto reopened = open_log();
  EXPECT_LT(reopened->log_end_offset(), bases[2]);
  EXPECT_EQ(reopened->segment_base_offsets().back(), bases[1]);
  EXPECT_FALSE(fs.exists(dir + "/" + segment_file_name(bases[2], log_extension)).value());
}

TEST_F(PartitionLog, GroupCommitSharesFsyncsBetweenConcurrentAppenders) {
  auto log = open_log();
  constexpr int threads = 16;
  constexpr int per_thread = 50;
  auto syncs_before = fs.counts().syncs;
  std::vector<std::thread> appenders;
  std::vector<std::vector<append_result>> results(threads);
  for (int t = 0; t < threads; ++t) {
    appenders.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        auto batch = records_at(now, 2);
        auto appended = log->append(batch, {.sync = true});
        ASSERT_TRUE(appended.ok());
        results[t].push_back(*appended);
      }
    });
  }
  for (auto& t : appenders) t.join();
  std::set<int64_t> bases;
  for (const auto& r : results) {
    for (const auto& a : r) {
      EXPECT_TRUE(bases.insert(a.base_offset).second);
      EXPECT_EQ(a.last_offset, a.base_offset + 1);
      EXPECT_LE(a.last_offset + 1, log->recovery_point());
    }
  }
  EXPECT_EQ(log->log_end_offset(), threads * per_thread * 2);
  // Each append was durable when it returned, yet appends shared fsyncs
  // (three files a flush: the log and both indexes).
  auto flushes = (fs.counts().syncs - syncs_before) / 3;
  EXPECT_LE(flushes, static_cast<uint64_t>(threads * per_thread));
  EXPECT_EQ(read_all(*log, 0, 1 << 20).size(), static_cast<size_t>(threads * per_thread));
}

TEST_F(PartitionLog, ReadersRunAlongsideAppenders) {
  config.segment_bytes = 4000;
  auto log = open_log();
  std::atomic<bool> done = false;
  std::thread writer([&] {
    for (int i = 0; i < 400; ++i) {
      auto batch = records_at(now, 3, 40);
      ASSERT_TRUE(log->append(batch).ok());
    }
    done = true;
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      int64_t offset = 0;
      // Bounded in time, not in reads: three readers that find nothing new
      // can starve the writer of a loaded machine's cores for a long while.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      while (!(done && offset == 1200) && std::chrono::steady_clock::now() < deadline) {
        auto slice = log->read(offset, 1000);
        ASSERT_TRUE(slice.ok()) << slice.error().message;
        if (!*slice) {
          std::this_thread::yield();
          continue;
        }
        auto bytes = (*slice)->read();
        ASSERT_TRUE(bytes.ok());
        auto batches = protocol::split_batches(*bytes);
        ASSERT_TRUE(batches.ok());
        for (const auto& b : *batches) {
          ASSERT_EQ(b.header().base_offset, offset);
          offset = b.header().last_offset() + 1;
        }
      }
      EXPECT_EQ(offset, 1200);
    });
  }
  writer.join();
  for (auto& r : readers) r.join();
}

TEST_F(PartitionLog, NoSpaceFailsTheAppendAndAppendsResumeWhenSpaceIsBack) {
  auto log = open_log();
  append_ok(*log, records_at(now, 2, 100));
  fs.set_capacity(fs.used_bytes() + 50);
  auto big = records_at(now, 2, 100);
  auto full = log->append(big);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, ENOSPC);
  EXPECT_NE(full.error().message.find("No space left"), std::string::npos) << full.error().message;
  EXPECT_EQ(log->log_end_offset(), 2);
  EXPECT_EQ(read_all(*log, 0).size(), 1u);
  fs.set_capacity(fault_injecting_file_system::unlimited);
  EXPECT_EQ(append_ok(*log, records_at(now, 1)).base_offset, 2);
  EXPECT_EQ(read_all(*log, 0).size(), 2u);
}

TEST_F(PartitionLog, IoErrorsAndShortWritesFailOnlyTheirAppend) {
  auto log = open_log();
  append_ok(*log, records_at(now, 2));
  fs.fail_next(operation::write, EIO, 1, ".log");
  auto batch = records_at(now, 2, 100);
  auto failed = log->append(batch);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, EIO);
  fs.short_write_next(30, ".log");
  auto cut_short = log->append(batch);
  ASSERT_FALSE(cut_short.ok());
  EXPECT_EQ(log->log_end_offset(), 2);
  EXPECT_EQ(append_ok(*log, records_at(now, 1)).base_offset, 2);
  auto batches = read_all(*log, 0);
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[1].base_offset, 2);
  // What a reopen finds is what reads saw.
  log.reset();
  EXPECT_EQ(open_log()->log_end_offset(), 3);
}

TEST_F(PartitionLog, ARollThatCannotCreateItsSegmentFailsAndIsRetried) {
  config.segment_bytes = 200;
  auto log = open_log();
  append_ok(*log, records_at(now, 2, 100));
  auto batch = records_at(now, 2, 100);
  for (std::string file : {".log", ".index", ".timeindex"}) {
    fs.fail_next(operation::open, ENOSPC, 1, "00000000000000000002" + file);
    auto failed = log->append(batch);
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.error().code, ENOSPC);
    EXPECT_EQ(log->log_end_offset(), 2);
  }
  // The half-created segment does not block the next try.
  auto retried = log->append(batch);
  ASSERT_TRUE(retried.ok()) << retried.error().message;
  EXPECT_EQ(retried->base_offset, 2);
  EXPECT_EQ(log->segment_count(), 2u);
}

TEST_F(PartitionLog, AFailedFsyncHidesItsRecordsAndTakesTheLogOffline) {
  auto log = open_log();
  append_ok(*log, records_at(now, 2), {.sync = true, .leader_epoch = 3});
  fs.fail_next(operation::sync, EIO, 1, ".log");
  auto batch = records_at(now, 2);
  auto failed = log->append(batch, {.sync = true, .leader_epoch = 4});
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, EIO);
  EXPECT_EQ(log->log_end_offset(), 2);
  EXPECT_EQ(log->latest_epoch(), 3);
  // The kernel may have dropped pages a later fsync would not report: the
  // log takes no more changes, and still serves what it holds.
  auto next = log->append(batch, {.sync = true});
  ASSERT_FALSE(next.ok());
  EXPECT_NE(next.error().message.find("offline"), std::string::npos) << next.error().message;
  EXPECT_FALSE(log->flush().ok());
  EXPECT_EQ(read_all(*log, 0).size(), 1u);
  // A restart recovers it from the disk.
  log.reset();
  auto reopened = open_log();
  EXPECT_EQ(reopened->log_end_offset(), 2);
  EXPECT_EQ(append_ok(*reopened, records_at(now, 1), {.sync = true}).base_offset, 2);
}

TEST_F(PartitionLog, AFailedRollDuringRetentionKeepsTheLogConsistent) {
  config.segment_bytes = 300;
  config.retention_ms = 1000;
  auto log = open_log();
  for (int i = 0; i < 10; ++i) append_ok(*log, records_at(now, 2, 50));
  now += 5000;
  fs.fail_next(operation::open, ENOSPC, 1, segment_file_name(20, log_extension));
  auto removed = log->enforce_retention();
  ASSERT_FALSE(removed.ok());
  EXPECT_EQ(log->log_start_offset(), log->segment_base_offsets().front());
  EXPECT_FALSE(read_all(*log, log->log_start_offset()).empty());
  auto below = log->read(0, 1);
  EXPECT_TRUE(below.ok() || below.error().code == ERANGE);
  // Space is back: the next pass finishes the job.
  ASSERT_TRUE(log->enforce_retention().ok());
  EXPECT_EQ(log->log_start_offset(), 20);
}

TEST_F(PartitionLog, AFailedTruncationLeavesTheSegmentsInPlace) {
  config.segment_bytes = 300;
  auto log = open_log();
  for (int i = 0; i < 10; ++i) append_ok(*log, records_at(now, 2, 50));
  size_t segments = log->segment_count();
  fs.fail_next(operation::remove, EIO, 1, ".log");
  ASSERT_FALSE(log->truncate_to(0).ok());
  EXPECT_EQ(log->segment_count(), segments);
  EXPECT_EQ(log->log_end_offset(), 20);
  EXPECT_FALSE(read_all(*log, 0).empty());
}

TEST_F(PartitionLog, AnIdleRollDoesNotMakeTheNextSegmentTiny) {
  config.segment_ms = 1000;
  auto log = open_log();
  append_ok(*log, records_at(now, 1));
  now += 1000;
  ASSERT_TRUE(log->roll_if_due().ok());
  now += 10'000;  // idle
  append_ok(*log, records_at(now, 1));
  append_ok(*log, records_at(now, 1));
  EXPECT_EQ(log->segment_count(), 2u);
}

TEST_F(PartitionLog, TimestampLookupsRunAlongsideAppends) {
  config.index_interval_bytes = 1;
  auto log = open_log();
  std::atomic<bool> done = false;
  std::thread writer([&] {
    for (int i = 0; i < 300; ++i) {
      auto batch = records_at(1000 + i, 2, 30);
      ASSERT_TRUE(log->append(batch).ok());
    }
    done = true;
  });
  for (int guard = 0; guard < 100'000 && !done; ++guard) {
    ASSERT_TRUE(log->offset_for_timestamp(1000 + guard % 300).ok());
    ASSERT_TRUE(log->max_timestamp().ok());
  }
  writer.join();
  EXPECT_EQ(log->offset_for_timestamp(1299)->value().offset, 598);
}

TEST_F(PartitionLog, FlushMessagesAndFlushMsForceFsyncs) {
  config.flush_messages = 10;
  config.flush_ms = 1000;
  auto log = open_log();
  for (int i = 0; i < 4; ++i) append_ok(*log, records_at(now, 2));
  EXPECT_EQ(log->recovery_point(), 0);
  append_ok(*log, records_at(now, 2));  // the tenth record
  EXPECT_EQ(log->recovery_point(), 10);
  append_ok(*log, records_at(now, 1));
  ASSERT_TRUE(log->flush_if_due().ok());
  EXPECT_EQ(log->recovery_point(), 10);
  now += 1000;
  ASSERT_TRUE(log->flush_if_due().ok());
  EXPECT_EQ(log->recovery_point(), 11);
}

TEST(PosixPartitionLog, SurvivesReopenOnARealDisk) {
  temporary_directory tmp;
  auto fs = make_posix_file_system();
  log_open_options options;
  options.config.segment_bytes = 2000;
  const std::string path = tmp.path() + "/orders-3";
  {
    auto log = partition_log::open(*fs, path, options);
    ASSERT_TRUE(log.ok()) << log.error().message;
    for (int i = 0; i < 50; ++i) {
      auto batch = records_at(1000 + i, 2, 100);
      ASSERT_TRUE((*log)->append(batch, {.sync = i % 10 == 0}).ok());
    }
    ASSERT_TRUE((*log)->close().ok());
  }
  options.clean_shutdown = true;
  auto log = partition_log::open(*fs, path, options);
  ASSERT_TRUE(log.ok()) << log.error().message;
  EXPECT_EQ((*log)->log_end_offset(), 100);
  EXPECT_GT((*log)->segment_count(), 3u);
  auto found = (*log)->offset_for_timestamp(1025);
  ASSERT_TRUE(found.ok() && *found);
  EXPECT_EQ((*found)->offset, 50);
}

// Slices of the active segment map (two maps of one slice are one view);
// once the segment rolls, a slice of it is copied, even one taken before the
// roll.
TEST(PosixPartitionLog, OnlyTheActiveSegmentIsMapped) {
  temporary_directory tmp;
  auto fs = make_posix_file_system();
  log_open_options options;
  options.config.segment_bytes = 4000;
  auto log = partition_log::open(*fs, tmp.path() + "/orders-4", options);
  ASSERT_TRUE(log.ok()) << log.error().message;
  auto batch = records_at(1000, 5, 100);
  ASSERT_TRUE((*log)->append(batch).ok());
  auto slice = (*log)->read(0, SIZE_MAX);
  ASSERT_TRUE(slice.ok() && *slice);
  auto once = (*slice)->map();
  auto twice = (*slice)->map();
  ASSERT_TRUE(once.ok() && twice.ok());
  EXPECT_EQ(once->data(), twice->data()) << "mapped";
  EXPECT_EQ(*once, *(*slice)->read());

  for (int i = 0; (*log)->segment_count() < 2 && i < 100; ++i) {
    auto more = records_at(1000, 5, 100);
    ASSERT_TRUE((*log)->append(more).ok());
  }
  ASSERT_EQ((*log)->segment_count(), 2u);
  auto after_roll = (*slice)->map();
  auto again = (*slice)->map();
  ASSERT_TRUE(after_roll.ok() && again.ok());
  EXPECT_NE(after_roll->data(), again->data()) << "copied";
  EXPECT_EQ(*after_roll, *once);
  EXPECT_EQ(*once, *(*slice)->read()) << "the view from before the roll is intact";

  // Opened again, the sealed segment is still copied and the active one mapped.
  ASSERT_TRUE((*log)->close().ok());
  options.clean_shutdown = true;
  auto reopened = partition_log::open(*fs, tmp.path() + "/orders-4", options);
  ASSERT_TRUE(reopened.ok()) << reopened.error().message;
  auto sealed = (*reopened)->read(0, SIZE_MAX);
  ASSERT_TRUE(sealed.ok() && *sealed);
  EXPECT_NE((*sealed)->map()->data(), (*sealed)->map()->data()) << "sealed: copied";
  auto tail = (*reopened)->read((*reopened)->log_end_offset() - 1, SIZE_MAX);
  ASSERT_TRUE(tail.ok() && *tail);
  const auto mapped = (*tail)->map();
  ASSERT_TRUE(mapped.ok());
  EXPECT_EQ((*tail)->map()->data(), mapped->data()) << "active: mapped";

  // The log manager's sweep: a window used since the last sweep stays.
  (*reopened)->release_idle_window();
  EXPECT_EQ((*tail)->map()->data(), mapped->data());
}

}  // namespace
}  // namespace sluice::storage
