#include "coordinator/producer_state.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <string>
#include <vector>

#include "storage/segment.h"
#include "storage/testing/fault_injecting_file_system.h"

namespace sluice::coordinator {
namespace {

using storage::testing::fault_injecting_file_system;
using verdict = sequence_check::verdict;

constexpr int32_t int32_max = std::numeric_limits<int32_t>::max();

// The header of a batch of `records` records as the log stored it.
protocol::batch_header header(int64_t producer_id, int16_t epoch, int32_t base_sequence,
                              int32_t records, int64_t base_offset, int64_t timestamp = 1000) {
  protocol::batch_header h;
  h.producer_id = producer_id;
  h.producer_epoch = epoch;
  h.base_sequence = base_sequence;
  h.records_count = records;
  h.last_offset_delta = records - 1;
  h.base_offset = base_offset;
  h.base_timestamp = timestamp;
  h.max_timestamp = timestamp;
  return h;
}

// Checks, then records a batch the way the broker does for accepted ones.
sequence_check check_and_update(producer_state& state, const protocol::batch_header& h) {
  auto checked = state.check(h);
  if (checked.outcome == verdict::accept) state.update(h);
  return checked;
}

TEST(ProducerState, UnknownProducerStartsAtAnySequence) {
  producer_state state;
  EXPECT_EQ(state.check(header(1, 0, 0, 1, 0)).outcome, verdict::accept);
  // Expired or deleted state: the producer goes on where it was.
  EXPECT_EQ(state.check(header(1, 0, 4711, 1, 0)).outcome, verdict::accept);
  EXPECT_EQ(state.check(header(1, 3, 4711, 1, 0)).error(), protocol::error_code::none);
  EXPECT_EQ(state.producer_count(), 0u);
  EXPECT_EQ(state.find(1), nullptr);
}

TEST(ProducerState, SequencesMustFollowWithoutGaps) {
  producer_state state;
  ASSERT_EQ(check_and_update(state, header(7, 0, 0, 5, 100)).outcome, verdict::accept);
  ASSERT_EQ(check_and_update(state, header(7, 0, 5, 2, 105)).outcome, verdict::accept);
  const producer_entry* entry = state.find(7);
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->epoch, 0);
  ASSERT_EQ(entry->batches.size(), 2u);
  EXPECT_EQ(entry->batches[1], (producer_batch{5, 6, 105, 106, 1000}));

  auto gap = state.check(header(7, 0, 8, 1, 107));
  EXPECT_EQ(gap.outcome, verdict::out_of_order);
  EXPECT_EQ(gap.error(), protocol::error_code::out_of_order_sequence_number);
  EXPECT_NE(gap.message.find("expected sequence 7"), std::string::npos) << gap.message;
  // Overlapping an earlier batch without matching it is out of order too.
  EXPECT_EQ(state.check(header(7, 0, 3, 4, 107)).outcome, verdict::out_of_order);
  EXPECT_EQ(state.check(header(7, 0, 6, 1, 107)).outcome, verdict::out_of_order);
  EXPECT_EQ(state.check(header(7, 0, 7, 1, 107)).outcome, verdict::accept);
  // Another producer is unaffected.
  EXPECT_EQ(state.check(header(8, 0, 9, 1, 107)).outcome, verdict::accept);
}

TEST(ProducerState, RetriesOfTheLastFiveBatchesAreDuplicates) {
  producer_state state;
  for (int i = 0; i < 6; ++i) {
    ASSERT_EQ(check_and_update(state, header(7, 2, i * 3, 3, 50 + i * 10, 1000 + i)).outcome,
              verdict::accept);
  }
  ASSERT_EQ(state.find(7)->batches.size(), producer_state::batches_kept);
  for (int i = 1; i < 6; ++i) {
    auto retry = state.check(header(7, 2, i * 3, 3, 999));
    ASSERT_EQ(retry.outcome, verdict::duplicate) << i;
    EXPECT_EQ(retry.error(), protocol::error_code::none);
    EXPECT_EQ(retry.original,
              (producer_batch{i * 3, i * 3 + 2, 50 + i * 10, 52 + i * 10, 1000 + i}));
  }
  // The oldest one is forgotten: its retry is out of order.
  EXPECT_EQ(state.check(header(7, 2, 0, 3, 999)).outcome, verdict::out_of_order);
  // Same first sequence, other last sequence: not the same batch.
  EXPECT_EQ(state.check(header(7, 2, 15, 2, 999)).outcome, verdict::out_of_order);
  // Same sequences in another epoch: not a duplicate.
  EXPECT_EQ(state.check(header(7, 1, 15, 3, 999)).outcome, verdict::invalid_epoch);
  EXPECT_EQ(state.check(header(7, 3, 15, 3, 999)).outcome, verdict::out_of_order);
}

TEST(ProducerState, OlderEpochIsFencedAndNewEpochStartsAtZero) {
  producer_state state;
  ASSERT_EQ(check_and_update(state, header(7, 5, 0, 10, 0)).outcome, verdict::accept);

  auto old = state.check(header(7, 4, 10, 1, 10));
  EXPECT_EQ(old.outcome, verdict::invalid_epoch);
  EXPECT_EQ(old.error(), protocol::error_code::invalid_producer_epoch);
  EXPECT_NE(old.message.find("epoch 4"), std::string::npos) << old.message;
  EXPECT_EQ(state.check(header(7, 4, 0, 1, 10)).outcome, verdict::invalid_epoch);

  auto bumped_mid_sequence = state.check(header(7, 6, 10, 1, 10));
  EXPECT_EQ(bumped_mid_sequence.outcome, verdict::out_of_order);
  EXPECT_FALSE(bumped_mid_sequence.message.empty());

  ASSERT_EQ(check_and_update(state, header(7, 6, 0, 2, 10)).outcome, verdict::accept);
  // The new epoch's batches replace the old ones.
  const producer_entry* entry = state.find(7);
  EXPECT_EQ(entry->epoch, 6);
  ASSERT_EQ(entry->batches.size(), 1u);
  EXPECT_EQ(entry->batches[0].first_offset, 10);
  EXPECT_EQ(state.check(header(7, 6, 2, 1, 12)).outcome, verdict::accept);
  EXPECT_EQ(state.check(header(7, 5, 10, 1, 12)).outcome, verdict::invalid_epoch);
}

TEST(ProducerState, SequencesWrapAroundAtInt32Max) {
  producer_state state;
  // INT32_MAX - 1, INT32_MAX, 0: the batch ends at sequence 0.
  ASSERT_EQ(check_and_update(state, header(7, 0, int32_max - 1, 3, 0)).outcome, verdict::accept);
  EXPECT_EQ(state.find(7)->batches.back().last_sequence, 0);
  EXPECT_EQ(state.check(header(7, 0, 2, 1, 3)).outcome, verdict::out_of_order);
  ASSERT_EQ(check_and_update(state, header(7, 0, 1, 1, 3)).outcome, verdict::accept);
  EXPECT_EQ(state.check(header(7, 0, int32_max - 1, 3, 9)).outcome, verdict::duplicate);

  // A batch ending exactly at INT32_MAX is followed by 0.
  producer_state other;
  ASSERT_EQ(check_and_update(other, header(8, 0, int32_max - 4, 5, 0)).outcome, verdict::accept);
  EXPECT_EQ(other.find(8)->batches.back().last_sequence, int32_max);
  EXPECT_EQ(other.check(header(8, 0, 0, 1, 5)).outcome, verdict::accept);
  EXPECT_EQ(other.check(header(8, 0, 1, 1, 5)).outcome, verdict::out_of_order);
  EXPECT_EQ(other.check(header(8, 0, int32_max, 1, 5)).outcome, verdict::out_of_order);
}

TEST(ProducerState, NonIdempotentAndControlBatchesAreIgnored) {
  producer_state state;
  auto plain = header(-1, -1, -1, 3, 0);
  EXPECT_EQ(state.check(plain).outcome, verdict::accept);
  state.update(plain);
  auto marker = header(7, 0, -1, 1, 3);
  marker.attributes = 0x30;  // transactional control batch
  state.update(marker);
  EXPECT_EQ(state.producer_count(), 0u);
}

TEST(ProducerState, ExpireForgetsIdleProducers) {
  producer_state state;
  state.update(header(1, 0, 0, 1, 0, 1000));
  state.update(header(2, 0, 0, 1, 1, 5000));
  state.update(header(3, 0, 0, 1, 2, 9000));
  state.update(header(1, 0, 1, 1, 3, 6000));  // producer 1 was active later
  EXPECT_EQ(state.find(1)->last_timestamp, 6000);

  state.expire(10'000, 5'000);  // newest batch at or before 5000 goes
  EXPECT_EQ(state.producer_count(), 2u);
  EXPECT_EQ(state.find(2), nullptr);
  EXPECT_NE(state.find(1), nullptr);
  state.expire(10'000, 4'000);  // producer 1: exactly 4000 old
  EXPECT_EQ(state.producer_count(), 1u);
  EXPECT_NE(state.find(3), nullptr);
  // A timestamp in the future is never expired, a wild past one is.
  state.update(header(4, 0, 0, 1, 4, std::numeric_limits<int64_t>::min()));
  state.expire(std::numeric_limits<int64_t>::max(), 1);
  EXPECT_EQ(state.producer_count(), 0u);
}

producer_state sample_state() {
  producer_state state;
  for (int i = 0; i < 7; ++i) state.update(header(42, 3, i * 2, 2, i * 2, 100 + i));
  state.update(header(7, 0, int32_max, 2, 20, 500));
  state.update(header(std::numeric_limits<int64_t>::max(), 32767, 0, 1, 22, -1));
  return state;
}

void expect_same(const producer_state& a, const producer_state& b) {
  ASSERT_EQ(a.producer_count(), b.producer_count());
  for (int64_t id : {int64_t{42}, int64_t{7}, std::numeric_limits<int64_t>::max()}) {
    const producer_entry* x = a.find(id);
    const producer_entry* y = b.find(id);
    ASSERT_EQ(x == nullptr, y == nullptr) << id;
    if (!x) continue;
    EXPECT_EQ(x->producer_id, y->producer_id);
    EXPECT_EQ(x->epoch, y->epoch);
    EXPECT_EQ(x->last_timestamp, y->last_timestamp);
    EXPECT_EQ(x->batches, y->batches) << id;
  }
}

TEST(ProducerStateSnapshot, RoundTrips) {
  producer_state state = sample_state();
  auto bytes = state.encode_snapshot();
  auto decoded = producer_state::decode_snapshot(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  expect_same(*decoded, state);
  // Deterministic: a decoded state encodes to the same bytes.
  EXPECT_EQ(decoded->encode_snapshot(), bytes);
  // Deduplication carries over.
  EXPECT_EQ(decoded->check(header(42, 3, 10, 2, 0)).outcome, verdict::duplicate);

  auto empty = producer_state::decode_snapshot(producer_state().encode_snapshot());
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->producer_count(), 0u);
}

TEST(ProducerStateSnapshot, RejectsCorruptAndTruncatedBytes) {
  auto bytes = sample_state().encode_snapshot();
  for (size_t i = 0; i < bytes.size(); ++i) {
    auto bad = bytes;
    bad[i] ^= 0x10;
    auto decoded = producer_state::decode_snapshot(bad);
    ASSERT_FALSE(decoded.ok()) << "byte " << i;
    EXPECT_NE(decoded.error().message.find("producer snapshot"), std::string::npos);
  }
  for (size_t n = 0; n < bytes.size(); ++n) {
    auto decoded = producer_state::decode_snapshot(std::span(bytes).first(n));
    ASSERT_FALSE(decoded.ok()) << "length " << n;
  }
  auto longer = bytes;
  longer.push_back(0);
  EXPECT_FALSE(producer_state::decode_snapshot(longer).ok());

  auto flipped = bytes;
  flipped.back() ^= 1;
  auto corrupt = producer_state::decode_snapshot(flipped);
  EXPECT_NE(corrupt.error().message.find("CRC-32C mismatch"), std::string::npos)
      << corrupt.error().message;
  auto future = bytes;
  future[1] = 9;
  EXPECT_NE(producer_state::decode_snapshot(future).error().message.find("version 9"),
            std::string::npos);
}

// ---------------------------------------------------------------------------
// Recovery from a partition log.

const std::string dir = "/data/orders-0";

std::vector<uint8_t> producer_batch_bytes(int64_t producer_id, int16_t epoch, int32_t base_sequence,
                                          int records, int64_t timestamp, size_t value_size = 10) {
  protocol::batch_options options;
  options.producer_id = producer_id;
  options.producer_epoch = epoch;
  options.base_sequence = base_sequence;
  protocol::record_batch_builder builder(options);
  std::vector<uint8_t> value(value_size, 'v');
  for (int i = 0; i < records; ++i) {
    builder.add(timestamp, std::nullopt, std::span<const uint8_t>(value));
  }
  auto built = builder.build();
  EXPECT_TRUE(built.ok());
  return std::move(*built);
}

class ProducerStateRecovery : public ::testing::Test {
 protected:
  std::unique_ptr<storage::partition_log> open_log() {
    storage::log_open_options options;
    options.clock = [] { return int64_t{1'000'000}; };
    auto opened = storage::partition_log::open(fs, dir, options);
    EXPECT_TRUE(opened.ok()) << opened.error().message;
    return opened.ok() ? std::move(*opened) : nullptr;
  }

  // Appends a producer's batch, checked and recorded in `expected` as the
  // broker would.
  void produce(storage::partition_log& log, int64_t producer_id, int16_t epoch,
               int32_t base_sequence, int records, size_t value_size = 10) {
    auto bytes = producer_batch_bytes(producer_id, epoch, base_sequence, records, 1000, value_size);
    auto appended = log.append(bytes);
    ASSERT_TRUE(appended.ok()) << appended.error().message;
    auto h = header(producer_id, epoch, base_sequence, records, appended->base_offset, 1000);
    ASSERT_EQ(expected.check(h).outcome, verdict::accept);
    expected.update(h);
  }

  std::vector<int64_t> snapshot_offsets() {
    std::vector<int64_t> offsets;
    auto names = fs.list(dir);
    EXPECT_TRUE(names.ok());
    if (!names) return offsets;
    for (const auto& name : *names) {
      if (auto offset = storage::parse_segment_file_name(name, ".snapshot")) {
        offsets.push_back(*offset);
      }
    }
    std::sort(offsets.begin(), offsets.end());
    return offsets;
  }

  producer_state recover(storage::partition_log& log) {
    auto recovered = recover_producer_state(log);
    EXPECT_TRUE(recovered.ok()) << recovered.error().message;
    return recovered.ok() ? std::move(*recovered) : producer_state();
  }

  void expect_same_producers(const producer_state& a, const producer_state& b,
                             std::vector<int64_t> ids) {
    ASSERT_EQ(a.producer_count(), b.producer_count());
    for (int64_t id : ids) {
      const producer_entry* x = a.find(id);
      const producer_entry* y = b.find(id);
      ASSERT_TRUE(x && y) << id;
      EXPECT_EQ(x->epoch, y->epoch) << id;
      EXPECT_EQ(x->batches, y->batches) << id;
    }
  }

  fault_injecting_file_system fs;
  producer_state expected;
};

TEST_F(ProducerStateRecovery, EmptyLogGivesEmptyState) {
  auto log = open_log();
  auto state = recover(*log);
  EXPECT_EQ(state.producer_count(), 0u);
}

TEST_F(ProducerStateRecovery, ReplaysTheWholeLogWithoutASnapshot) {
  auto log = open_log();
  produce(*log, 1, 0, 0, 3);
  produce(*log, 2, 0, 0, 1);
  auto plain = producer_batch_bytes(-1, -1, -1, 4, 1000);  // not idempotent
  ASSERT_TRUE(log->append(plain).ok());
  produce(*log, 1, 0, 3, 2);
  auto marker = protocol::build_txn_marker_batch({.commit = true, .producer_id = 2});
  ASSERT_TRUE(log->append(marker).ok());
  for (int i = 0; i < 6; ++i) produce(*log, 2, 1, i, 1);
  ASSERT_TRUE(log->flush().ok());

  log.reset();
  fs.crash();
  log = open_log();
  auto state = recover(*log);
  expect_same_producers(state, expected, {1, 2});
  EXPECT_EQ(state.find(2)->batches.size(), producer_state::batches_kept);
  // A retry after the restart is still recognised.
  auto retry = state.check(header(1, 0, 3, 2, 0));
  ASSERT_EQ(retry.outcome, verdict::duplicate);
  EXPECT_EQ(retry.original.first_offset, 8);
}

TEST_F(ProducerStateRecovery, ReplaysInChunksPastOneMegabyte) {
  auto log = open_log();
  for (int i = 0; i < 40; ++i) produce(*log, 5, 0, i * 2, 2, 20'000);
  ASSERT_GT(log->size_bytes(), 1u << 20);
  auto state = recover(*log);
  expect_same_producers(state, expected, {5});
  EXPECT_EQ(state.find(5)->batches.back().last_offset, 79);
}

TEST_F(ProducerStateRecovery, StartsFromTheSnapshotAndReplaysWhatFollows) {
  auto log = open_log();
  produce(*log, 1, 0, 0, 2);
  produce(*log, 2, 0, 0, 2);
  producer_state at_snapshot = expected;
  // A producer only the snapshot knows shows that recovery used it.
  at_snapshot.update(header(99, 0, 0, 1, 0));
  ASSERT_TRUE(write_producer_snapshot(*log, at_snapshot, log->log_end_offset()).ok());
  EXPECT_EQ(snapshot_offsets(), std::vector<int64_t>{4});
  produce(*log, 1, 0, 2, 2);
  produce(*log, 3, 0, 0, 1);
  ASSERT_TRUE(log->flush().ok());

  log.reset();
  fs.crash();
  log = open_log();
  auto state = recover(*log);
  expected.update(header(99, 0, 0, 1, 0));
  expect_same_producers(state, expected, {1, 2, 3, 99});
}

TEST_F(ProducerStateRecovery, CorruptNewestSnapshotFallsBackToTheOlderOne) {
  auto log = open_log();
  produce(*log, 1, 0, 0, 2);
  producer_state first = expected;
  first.update(header(98, 0, 0, 1, 0));
  ASSERT_TRUE(write_producer_snapshot(*log, first, log->log_end_offset()).ok());
  produce(*log, 1, 0, 2, 2);
  producer_state second = expected;
  second.update(header(99, 0, 0, 1, 0));
  ASSERT_TRUE(write_producer_snapshot(*log, second, log->log_end_offset()).ok());
  produce(*log, 2, 0, 0, 1);
  ASSERT_EQ(snapshot_offsets(), (std::vector<int64_t>{2, 4}));

  // Flip a byte of the newest.
  const std::string newest = dir + "/" + storage::segment_file_name(4, ".snapshot");
  {
    auto f = fs.open(newest, storage::open_mode::read_write);
    ASSERT_TRUE(f.ok());
    uint8_t byte = 0;
    ASSERT_TRUE((*f)->read_at(10, {&byte, 1}).ok());
    byte ^= 0xff;
    ASSERT_TRUE((*f)->write_at(10, {&byte, 1}).ok());
  }
  auto state = recover(*log);
  EXPECT_NE(state.find(98), nullptr);  // from the older snapshot
  EXPECT_EQ(state.find(99), nullptr);
  expected.update(header(98, 0, 0, 1, 0));
  expect_same_producers(state, expected, {1, 2, 98});
}

TEST_F(ProducerStateRecovery, TruncationRemovesSnapshotsPastTheLogEnd) {
  auto log = open_log();
  produce(*log, 1, 0, 0, 2);
  produce(*log, 1, 0, 2, 2);
  producer_state kept = expected;
  ASSERT_TRUE(write_producer_snapshot(*log, kept, log->log_end_offset()).ok());  // at 4
  produce(*log, 1, 0, 4, 2);
  produce(*log, 2, 0, 0, 2);
  ASSERT_TRUE(write_producer_snapshot(*log, expected, log->log_end_offset()).ok());  // at 8
  ASSERT_EQ(snapshot_offsets(), (std::vector<int64_t>{4, 8}));
  ASSERT_TRUE(log->flush().ok());

  ASSERT_TRUE(log->truncate_to(6).ok());
  ASSERT_EQ(log->log_end_offset(), 6);
  auto state = recover(*log);
  EXPECT_EQ(snapshot_offsets(), std::vector<int64_t>{4});
  EXPECT_EQ(state.find(2), nullptr);
  ASSERT_NE(state.find(1), nullptr);
  EXPECT_EQ(state.find(1)->batches.size(), 3u);
  EXPECT_EQ(state.find(1)->batches.back().last_sequence, 5);
  // The removal is durable: after a crash the old snapshot does not return.
  log.reset();
  fs.crash();
  EXPECT_EQ(snapshot_offsets(), std::vector<int64_t>{4});
  // After a truncation below every snapshot, the log alone is replayed.
  log = open_log();
  ASSERT_TRUE(log->truncate_to(2).ok());
  state = recover(*log);
  EXPECT_TRUE(snapshot_offsets().empty());
  ASSERT_NE(state.find(1), nullptr);
  EXPECT_EQ(state.find(1)->batches.size(), 1u);
}

TEST_F(ProducerStateRecovery, SnapshotBelowTheLogStartSkipsToTheLogStart) {
  auto log = open_log();
  produce(*log, 1, 0, 0, 2);
  producer_state at_two = expected;
  ASSERT_TRUE(write_producer_snapshot(*log, at_two, log->log_end_offset()).ok());
  produce(*log, 1, 0, 2, 2);
  produce(*log, 2, 0, 0, 2);
  produce(*log, 3, 0, 0, 2);
  ASSERT_TRUE(log->advance_log_start_offset(6).ok());
  auto state = recover(*log);
  // Producer 2's batch lies below the log start: gone, but not producer 1,
  // which the snapshot keeps.
  EXPECT_EQ(state.find(2), nullptr);
  ASSERT_NE(state.find(1), nullptr);
  EXPECT_EQ(state.find(1)->batches.size(), 1u);
  EXPECT_NE(state.find(3), nullptr);

  // Without a snapshot, replay starts at the log start.
  ASSERT_TRUE(fs.remove(dir + "/" + storage::segment_file_name(2, ".snapshot")).ok());
  state = recover(*log);
  EXPECT_EQ(state.producer_count(), 1u);
  EXPECT_NE(state.find(3), nullptr);
}

TEST_F(ProducerStateRecovery, WritingKeepsTheNewestTwoSnapshots) {
  auto log = open_log();
  for (int i = 0; i < 5; ++i) {
    produce(*log, 1, 0, i, 1);
    ASSERT_TRUE(write_producer_snapshot(*log, expected, log->log_end_offset()).ok());
  }
  EXPECT_EQ(snapshot_offsets(), (std::vector<int64_t>{4, 5}));
  // Rewriting at the same offset replaces the file.
  ASSERT_TRUE(write_producer_snapshot(*log, expected, log->log_end_offset()).ok());
  EXPECT_EQ(snapshot_offsets(), (std::vector<int64_t>{4, 5}));
  // Durable, and no temporary file left behind.
  ASSERT_TRUE(log->flush().ok());
  log.reset();
  fs.crash();
  EXPECT_EQ(snapshot_offsets(), (std::vector<int64_t>{4, 5}));
  auto names = fs.list(dir);
  ASSERT_TRUE(names.ok());
  for (const auto& name : *names) EXPECT_FALSE(name.ends_with(".tmp")) << name;
  log = open_log();
  expect_same_producers(recover(*log), expected, {1});
}

TEST_F(ProducerStateRecovery, FailedSnapshotWriteLeavesTheOldOnes) {
  auto log = open_log();
  produce(*log, 1, 0, 0, 1);
  ASSERT_TRUE(write_producer_snapshot(*log, expected, log->log_end_offset()).ok());
  produce(*log, 1, 0, 1, 1);
  fs.fail_next(storage::testing::operation::sync, EIO, 1, ".snapshot.tmp");
  auto failed = write_producer_snapshot(*log, expected, log->log_end_offset());
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, EIO);
  EXPECT_EQ(snapshot_offsets(), std::vector<int64_t>{1});
  expect_same_producers(recover(*log), expected, {1});
}

}  // namespace
}  // namespace sluice::coordinator
