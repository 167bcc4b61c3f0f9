#include "storage/log_cleaner.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "protocol/record_batch.h"
#include "storage/partition_log.h"
#include "storage/testing/fault_injecting_file_system.h"

namespace sluice::storage {
namespace {

using testing::fault_injecting_file_system;
using testing::operation;

const std::string dir = "/data/offsets-0";
constexpr int64_t t0 = 1'000'000;

struct kv {
  std::optional<std::string> key;
  std::optional<std::string> value;  // nullopt: a tombstone
};

struct producer {
  int64_t id = -1;
  int16_t epoch = 0;
  bool transactional = false;
};

std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// One record as the log serves it: "offset:key=value", "-" for a null key,
// "null" for a tombstone, "offset:marker" for a control record.
std::string describe(const protocol::batch_header& h, const protocol::record& r) {
  std::string out = std::to_string(r.offset(h)) + ":";
  if (h.is_control()) return out + "marker";
  out += r.key ? std::string(r.key->as_string_view()) : "-";
  return out + "=" + (r.value ? std::string(r.value->as_string_view()) : "null");
}

class LogCleaner : public ::testing::Test {
 protected:
  LogCleaner() {
    config.policy = cleanup_policy::compact;
    config.segment_ms = 1000;
    config.index_interval_bytes = 64;
    config.min_cleanable_dirty_ratio = 0.01;
    config.delete_retention_ms = 10'000;
    log = open_log();
  }

  std::unique_ptr<partition_log> open_log() {
    log_open_options options;
    options.config = config;
    options.clock = [this] { return clock.load(); };
    auto opened = partition_log::open(*fs, dir, options);
    EXPECT_TRUE(opened.ok()) << opened.error().message;
    return opened.ok() ? std::move(*opened) : nullptr;
  }

  // Power loss after a flush, then the log opens again.
  void crash_and_reopen(uint64_t seed) {
    static_cast<void>(log->flush());
    log.reset();
    fs->crash(seed);
    log = open_log();
    ASSERT_NE(log, nullptr);
  }

  // One batch of `records`, all at `timestamp`; its base offset.
  int64_t append(const std::vector<kv>& records, producer p = {}, int64_t timestamp = t0,
                 protocol::compression codec = protocol::compression::none) {
    protocol::batch_options options;
    options.codec = codec;
    options.producer_id = p.id;
    options.producer_epoch = p.id >= 0 ? p.epoch : -1;
    options.base_sequence = p.id >= 0 ? sequences[p.id] : -1;
    options.transactional = p.transactional;
    if (p.id >= 0) sequences[p.id] += static_cast<int32_t>(records.size());
    protocol::record_batch_builder builder(options);
    for (const auto& r : records) {
      protocol::optional_bytes key, value;
      if (r.key) key = bytes_of(*r.key);
      if (r.value) value = bytes_of(*r.value);
      builder.add(timestamp, key, value);
    }
    auto built = builder.build();
    EXPECT_TRUE(built.ok());
    return append_bytes(*built);
  }

  int64_t append_marker(producer p, bool commit) {
    protocol::txn_marker marker;
    marker.commit = commit;
    marker.producer_id = p.id;
    marker.producer_epoch = p.epoch;
    marker.timestamp = t0;
    return append_bytes(protocol::build_txn_marker_batch(marker));
  }

  int64_t append_bytes(std::vector<uint8_t> batch) {
    auto appended = log->append(batch);
    EXPECT_TRUE(appended.ok()) << appended.error().message;
    return appended.ok() ? appended->base_offset : -1;
  }

  // Ends the active segment: the next append starts a new one.
  void roll() {
    clock += config.segment_ms;
    ASSERT_TRUE(log->roll_if_due().ok());
  }

  // Every batch of the log, from its start.
  std::vector<protocol::record_batch> batches() {
    std::vector<protocol::record_batch> out;
    int64_t offset = log->log_start_offset();
    while (true) {
      auto slice = log->read(offset, 1 << 20);
      EXPECT_TRUE(slice.ok()) << slice.error().message;
      if (!slice.ok() || !*slice) return out;
      auto bytes = (*slice)->read();
      EXPECT_TRUE(bytes.ok());
      auto split = protocol::split_batches(*bytes);
      EXPECT_TRUE(split.ok());
      for (auto& b : *split) {
        EXPECT_TRUE(protocol::verify_crc(b).ok());
        EXPECT_GE(b.header().base_offset, offset);
        offset = b.header().last_offset() + 1;
        out.push_back(std::move(b));
      }
    }
  }

  // Every record of the log, described.
  std::vector<std::string> records() {
    std::vector<std::string> out;
    for (const auto& b : batches()) {
      auto decoded = protocol::decode_records(b, 1 << 20);
      EXPECT_TRUE(decoded.ok());
      for (const auto& r : *decoded) out.push_back(describe(b.header(), r));
    }
    return out;
  }

  std::optional<protocol::batch_header> batch_at(int64_t base_offset) {
    for (const auto& b : batches()) {
      if (b.header().base_offset == base_offset) return b.header();
    }
    return std::nullopt;
  }

  compaction_stats compact(int64_t now = t0, const cleaner_limits& limits = {}) {
    auto stats = compact_if_due(*log, first_dirty, now, limits);
    EXPECT_TRUE(stats.ok()) << stats.error().message;
    if (!stats.ok()) return {};
    first_dirty = stats->first_dirty_offset;
    return *stats;
  }

  std::unique_ptr<fault_injecting_file_system> fs = std::make_unique<fault_injecting_file_system>();
  log_config config;
  std::atomic<int64_t> clock{t0};
  std::unique_ptr<partition_log> log;
  int64_t first_dirty = 0;
  std::map<int64_t, int32_t> sequences;
};

using strings = std::vector<std::string>;

TEST_F(LogCleaner, KeepsTheLatestRecordOfEachKey) {
  append({{"k1", "a"}});
  append({{"k2", "b"}});
  roll();
  append({{"k1", "c"}});
  append({{"k3", "d"}});
  append({{std::nullopt, "no key"}});
  roll();
  append({{"k2", "e"}});
  roll();
  append({{"k1", "f"}});  // active: never cleaned
  auto stats = compact();
  EXPECT_TRUE(stats.compacted);
  EXPECT_EQ(stats.records_removed, 2u);
  EXPECT_EQ(stats.first_dirty_offset, 6);
  EXPECT_EQ(stats.segments_before, 3u);
  EXPECT_LT(stats.bytes_after, stats.bytes_before);
  EXPECT_EQ(records(), (strings{"2:k1=c", "3:k3=d", "4:-=no key", "5:k2=e", "6:k1=f"}));
  EXPECT_EQ(log->log_end_offset(), 7);
  EXPECT_EQ(log->log_start_offset(), 0);

  // Durable and the same after a crash.
  crash_and_reopen(1);
  EXPECT_EQ(records(), (strings{"2:k1=c", "3:k3=d", "4:-=no key", "5:k2=e", "6:k1=f"}));
}

TEST_F(LogCleaner, OffsetsAreNeverRenumbered) {
  append({{"a", "1"}, {"b", "1"}, {"c", "1"}});
  append({{"b", "2"}, {"d", "2"}});
  roll();
  append({{"z", "z"}});
  auto before = batch_at(3);
  compact();
  EXPECT_EQ(records(), (strings{"0:a=1", "2:c=1", "3:b=2", "4:d=2", "5:z=z"}));
  auto first = batch_at(0);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->records_count, 2);
  EXPECT_EQ(first->last_offset(), 2);
  // A batch that keeps every record keeps its bytes.
  EXPECT_EQ(batch_at(3)->crc, before->crc);
  // A fetch from the removed offset gets the batch that held it.
  auto slice = log->read(1, 1);
  ASSERT_TRUE(slice.ok() && *slice);
  EXPECT_EQ((*slice)->range().first_offset, 0);
  EXPECT_EQ(log->log_end_offset(), 6);
}

TEST_F(LogCleaner, OneKeyEverywhereLeavesItsLastRecordAndFewerSegments) {
  for (int i = 0; i < 30; ++i) {
    append({{"k", std::to_string(i)}});
    if (i % 3 == 2) roll();
  }
  append({{"k", "active"}});
  ASSERT_EQ(log->segment_count(), 11u);
  auto stats = compact();
  EXPECT_EQ(stats.records_removed, 29u);
  EXPECT_EQ(records(), (strings{"29:k=29", "30:k=active"}));
  // Segments left empty are merged into their neighbours within segment.bytes.
  EXPECT_EQ(stats.segments_before, 10u);
  EXPECT_EQ(stats.segments_after, 1u);
  EXPECT_EQ(log->segment_count(), 2u);
  crash_and_reopen(2);
  EXPECT_EQ(records(), (strings{"29:k=29", "30:k=active"}));
}

TEST_F(LogCleaner, GroupsStayWithinSegmentBytes) {
  for (int i = 0; i < 12; ++i) {
    append({{std::string(1, static_cast<char>('a' + i)), std::string(200, 'v')}});
    roll();
  }
  append({{"z", "z"}});
  uint64_t one_segment = log->inactive_segments().front()->size_bytes();
  config.segment_bytes = 3 * one_segment;
  log->set_config(config);
  auto stats = compact();
  EXPECT_EQ(stats.segments_before, 12u);
  EXPECT_EQ(stats.segments_after, 4u);
  for (const auto& seg : log->inactive_segments()) EXPECT_LE(seg->size_bytes(), 3 * one_segment);
  EXPECT_EQ(records().size(), 13u);
}

TEST_F(LogCleaner, GroupsStayWithinSegmentIndexBytes) {
  for (int i = 0; i < 24; ++i) {
    append({{std::string(1, static_cast<char>('a' + i)), std::string(100, 'v')}});
    if (i % 4 == 3) roll();
  }
  append({{"z", "z"}});
  uint64_t index_bytes = log->inactive_segments().front()->index_bytes();
  ASSERT_GT(index_bytes, 0u);
  config.segment_index_bytes = 4 * index_bytes;
  log->set_config(config);
  auto stats = compact();
  EXPECT_EQ(stats.segments_before, 6u);
  EXPECT_GT(stats.segments_after, 1u);
  EXPECT_LT(stats.segments_after, 6u);
  for (const auto& seg : log->inactive_segments()) {
    EXPECT_LE(seg->index_bytes(), config.segment_index_bytes);
  }
  EXPECT_EQ(records().size(), 25u);
}

TEST_F(LogCleaner, GroupsKeepOffsetsWithinInt32OfTheirBase) {
  constexpr int64_t far = std::numeric_limits<int32_t>::max();
  append({{"k", "1"}});  // 0
  roll();
  // Replicated batches (offsets from a leader) jump far ahead.
  auto replicated = [&](int64_t offset, const std::string& value) {
    protocol::record_batch_builder builder;
    builder.add(t0, bytes_of("k"), bytes_of(value));
    auto built = builder.build();
    ASSERT_TRUE(built.ok());
    protocol::set_base_offset(*built, offset);
    append_options options;
    options.assign_offsets = false;
    auto appended = log->append(*built, options);
    ASSERT_TRUE(appended.ok()) << appended.error().message;
  };
  replicated(far - 5, "2");
  roll();
  replicated(far + 100, "3");
  roll();
  append({{"z", "z"}});
  auto stats = compact();
  EXPECT_EQ(stats.segments_before, 3u);
  EXPECT_EQ(stats.segments_after, 2u);
  EXPECT_EQ(records(),
            (strings{std::to_string(far + 100) + ":k=3", std::to_string(far + 101) + ":z=z"}));
}

TEST_F(LogCleaner, EmptySegmentsAreReadAcrossAndCleanedAgain) {
  append({{"a", "1"}});
  roll();
  append({{"b", "1"}});
  roll();
  append({{"a", "2"}, {"b", "2"}});
  roll();
  append({{"z", "z"}});
  config.segment_bytes = 1;  // no merging: the first two segments stay, empty
  log->set_config(config);
  compact();
  EXPECT_EQ(log->segment_count(), 4u);
  EXPECT_TRUE(log->inactive_segments()[0]->empty());
  EXPECT_TRUE(log->inactive_segments()[1]->empty());
  EXPECT_EQ(records(), (strings{"2:a=2", "3:b=2", "4:z=z"}));
  auto from_empty = log->read(0, 1);
  ASSERT_TRUE(from_empty.ok() && *from_empty);
  EXPECT_EQ((*from_empty)->range().first_offset, 2);

  roll();
  append({{"a", "3"}});
  roll();
  append({{"y", "y"}});
  auto stats = compact();
  EXPECT_TRUE(stats.compacted);
  EXPECT_EQ(records(), (strings{"3:b=2", "4:z=z", "5:a=3", "6:y=y"}));
  crash_and_reopen(3);
  EXPECT_EQ(records(), (strings{"3:b=2", "4:z=z", "5:a=3", "6:y=y"}));
}

TEST_F(LogCleaner, TombstonesStayUntilTheirHorizonThenGo) {
  append({{"k1", "a"}});
  append({{"k2", "b"}});
  append({{"k1", std::nullopt}});
  roll();
  append({{"x", "1"}});
  compact(t0);
  EXPECT_EQ(records(), (strings{"1:k2=b", "2:k1=null", "3:x=1"}));
  auto tombstone = batch_at(2);
  ASSERT_TRUE(tombstone);
  EXPECT_TRUE(tombstone->has_delete_horizon());
  EXPECT_EQ(tombstone->base_timestamp, t0 + config.delete_retention_ms);
  // The record keeps its own timestamp under the horizon.
  EXPECT_EQ(tombstone->max_timestamp, t0);

  // A later cleaning before the horizon keeps it, and the horizon too.
  roll();
  append({{"y", "1"}});
  EXPECT_TRUE(compact(t0 + config.delete_retention_ms - 1).compacted);
  EXPECT_EQ(records(), (strings{"1:k2=b", "2:k1=null", "3:x=1", "4:y=1"}));
  EXPECT_EQ(batch_at(2)->base_timestamp, t0 + config.delete_retention_ms);

  // From the horizon on, the next cleaning removes it.
  roll();
  append({{"z", "1"}});
  auto stats = compact(t0 + config.delete_retention_ms);
  EXPECT_TRUE(stats.compacted);
  EXPECT_EQ(stats.records_removed, 1u);
  EXPECT_EQ(records(), (strings{"1:k2=b", "3:x=1", "4:y=1", "5:z=1"}));
}

TEST_F(LogCleaner, CompressedBatchesAreRewrittenWithTheirCodec) {
  append({{"k1", "a"}, {"k2", "b"}, {"k3", std::nullopt}}, {}, t0, protocol::compression::lz4);
  append({{"k1", "c"}});
  roll();
  append({{"z", "z"}});
  compact();
  EXPECT_EQ(records(), (strings{"1:k2=b", "2:k3=null", "3:k1=c", "4:z=z"}));
  auto rewritten = batch_at(0);
  EXPECT_EQ(rewritten->codec(), protocol::compression::lz4);
  EXPECT_EQ(rewritten->last_offset(), 2);
  EXPECT_TRUE(rewritten->has_delete_horizon());
}

TEST_F(LogCleaner, AbortedTransactionsGoAndOverwriteNothing) {
  const producer p1{1001, 0, true}, p2{1002, 0, true}, p3{1003, 0, false};
  append({{"k1", "old"}});                             // 0
  append({{"k1", "aborted"}, {"k9", "aborted"}}, p1);  // 1-2
  append({{"k2", "committed"}}, p2);                   // 3
  append_marker(p1, false);                            // 4
  append_marker(p2, true);                             // 5
  append({{"k2", "new"}});                             // 6
  append({{"k3", "idempotent"}}, p3);                  // 7
  append({{"k3", "w"}});                               // 8
  roll();
  append({{"z", "z"}});  // 9
  auto stats = compact();
  EXPECT_EQ(records(),
            (strings{"0:k1=old", "4:marker", "5:marker", "6:k2=new", "8:k3=w", "9:z=z"}));
  EXPECT_EQ(stats.records_removed, 4u);
  // Each producer's last batch stays, empty, for its id, epoch and sequence.
  for (auto [base, id] :
       std::vector<std::pair<int64_t, int64_t>>{{1, 1001}, {3, 1002}, {7, 1003}}) {
    auto h = batch_at(base);
    ASSERT_TRUE(h) << base;
    EXPECT_EQ(h->records_count, 0);
    EXPECT_EQ(h->producer_id, id);
    EXPECT_EQ(h->last_offset(), base == 1 ? 2 : base);
  }
  crash_and_reopen(4);
  EXPECT_EQ(records(),
            (strings{"0:k1=old", "4:marker", "5:marker", "6:k2=new", "8:k3=w", "9:z=z"}));
}

TEST_F(LogCleaner, AnAbortedBatchThatIsNotTheProducersLastGoesWhole) {
  const producer p{1001, 0, true};
  append({{"k", "aborted"}}, p);  // 0
  append_marker(p, false);        // 1
  append({{"k", "kept"}}, p);     // 2
  append_marker(p, true);         // 3
  roll();
  append({{"z", "z"}});
  compact();
  EXPECT_EQ(records(), (strings{"1:marker", "2:k=kept", "3:marker", "4:z=z"}));
  EXPECT_FALSE(batch_at(0));
}

TEST_F(LogCleaner, AMarkerInTheActiveSegmentCounts) {
  const producer p{1001, 0, true};
  append({{"k", "1"}});       // 0
  append({{"k", "bad"}}, p);  // 1
  roll();
  append({{"k2", "x"}});  // 2
  roll();
  append_marker(p, false);  // 3, active
  compact();
  EXPECT_EQ(records(), (strings{"0:k=1", "2:k2=x", "3:marker"}));
}

TEST_F(LogCleaner, AnOpenTransactionEndsTheCleanableRange) {
  const producer p{1001, 0, true};
  append({{"k", "1"}});
  append({{"k", "2"}});
  roll();
  append({{"k", "3"}}, p);  // 2: open
  roll();
  append({{"k", "4"}});
  roll();
  auto stats = compact();
  EXPECT_TRUE(stats.compacted);
  EXPECT_EQ(stats.first_dirty_offset, 2);
  EXPECT_EQ(records(), (strings{"1:k=2", "2:k=3", "3:k=4"}));

  append_marker(p, true);  // 4
  roll();
  append({{"z", "z"}});
  stats = compact();
  EXPECT_TRUE(stats.compacted);
  EXPECT_EQ(records(), (strings{"3:k=4", "4:marker", "5:z=z"}));
  EXPECT_EQ(batch_at(2)->records_count, 0);
}

TEST_F(LogCleaner, MinCompactionLagKeepsYoungSegments) {
  config.min_compaction_lag_ms = 10'000;
  log->set_config(config);
  append({{"k", "1"}}, {}, t0);
  roll();
  append({{"k", "2"}}, {}, t0);
  roll();
  append({{"k", "3"}}, {}, t0 + 20'000);
  roll();
  append({{"k", "4"}}, {}, t0 + 20'000);
  roll();
  append({{"z", "z"}}, {}, t0 + 20'000);

  EXPECT_FALSE(compact(t0 + 5'000).compacted);  // everything is young
  auto stats = compact(t0 + 25'000);
  EXPECT_TRUE(stats.compacted);
  EXPECT_EQ(stats.first_dirty_offset, 2);
  EXPECT_EQ(records(), (strings{"1:k=2", "2:k=3", "3:k=4", "4:z=z"}));
  compact(t0 + 30'000);
  EXPECT_EQ(records(), (strings{"3:k=4", "4:z=z"}));
}

TEST_F(LogCleaner, MinCleanableDirtyRatioDecidesWhenToRun) {
  config.min_cleanable_dirty_ratio = 0.5;
  log->set_config(config);
  auto add_segment = [&](int i) {
    append({{"k" + std::to_string(i % 4), "v" + std::to_string(i)}});
    roll();
  };
  for (int i = 0; i < 4; ++i) add_segment(i);
  append({{"z", "z"}});
  EXPECT_DOUBLE_EQ(dirty_ratio(*log, 0), 1.0);
  auto stats = compact();
  EXPECT_TRUE(stats.compacted);
  EXPECT_EQ(stats.records_removed, 0u);
  EXPECT_EQ(stats.first_dirty_offset, 4);
  EXPECT_DOUBLE_EQ(dirty_ratio(*log, first_dirty), 0.0);

  roll();
  add_segment(4);  // k0 again: 2 of 6 segments dirty
  append({{"z", "z"}});
  EXPECT_LT(dirty_ratio(*log, first_dirty), 0.5);
  stats = compact();
  EXPECT_FALSE(stats.compacted);
  EXPECT_EQ(stats.first_dirty_offset, 4);
  EXPECT_EQ(records().size(), 7u);

  for (int i = 5; i < 9; ++i) add_segment(i);
  EXPECT_GE(dirty_ratio(*log, first_dirty), 0.5);
  stats = compact();
  EXPECT_TRUE(stats.compacted);
  EXPECT_EQ(stats.records_removed, 6u);  // k0-k3 and z once, k0 twice
  EXPECT_EQ(records(), (strings{"6:z=z", "7:k1=v5", "8:k2=v6", "9:k3=v7", "10:k0=v8"}));
}

TEST_F(LogCleaner, TheDeletePolicyNeverCompacts) {
  config.policy = cleanup_policy::remove;
  log->set_config(config);
  append({{"k", "1"}});
  roll();
  append({{"k", "2"}});
  roll();
  append({{"z", "z"}});
  EXPECT_FALSE(compact().compacted);
  EXPECT_EQ(records().size(), 3u);

  config.policy = cleanup_policy::compact_and_remove;
  log->set_config(config);
  EXPECT_TRUE(compact().compacted);
  EXPECT_EQ(records(), (strings{"1:k=2", "2:z=z"}));
}

TEST_F(LogCleaner, ASmallDedupeBufferCleansInSeveralRuns) {
  // 50 keys, each written twice, 5 to a segment.
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 50; ++i) {
      append({{"k" + std::to_string(i), std::to_string(round)}});
      if (i % 5 == 4) roll();
    }
  }
  append({{"z", "z"}});
  cleaner_limits limits;
  limits.dedupe_buffer_bytes = 24 * 14;  // a dozen keys
  config.min_cleanable_dirty_ratio = 0;
  log->set_config(config);
  int runs = 0;
  int64_t previous = first_dirty;
  while (compact(t0, limits).compacted) {
    EXPECT_GT(first_dirty, previous) << "every run makes progress";
    previous = first_dirty;
    ASSERT_LT(++runs, 50);
  }
  EXPECT_GT(runs, 5);
  strings expected;
  for (int i = 0; i < 50; ++i)
    expected.push_back(std::to_string(50 + i) + ":k" + std::to_string(i) + "=1");
  expected.push_back("100:z=z");
  EXPECT_EQ(records(), expected);
}

TEST_F(LogCleaner, AMapFullInsideTheFirstSegmentStillMakesProgress) {
  std::vector<kv> many;
  for (int i = 0; i < 40; ++i) many.push_back({"k" + std::to_string(i), "0"});
  append(many);
  append({{"k0", "1"}});
  roll();
  append({{"z", "z"}});
  cleaner_limits limits;
  limits.dedupe_buffer_bytes = 24 * 10;
  config.min_cleanable_dirty_ratio = 0;
  log->set_config(config);
  auto stats = compact(t0, limits);
  EXPECT_TRUE(stats.compacted);
  EXPECT_GT(stats.first_dirty_offset, 0);
  EXPECT_LT(stats.first_dirty_offset, 40);
  while (compact(t0, limits).compacted) {
  }
  EXPECT_EQ(records().size(), 41u);
  EXPECT_EQ(records().front(), "1:k1=0");
}

TEST_F(LogCleaner, AFailedCleaningLeavesTheLogAsItWas) {
  append({{"k", "1"}});
  roll();
  append({{"k", "2"}});
  roll();
  append({{"z", "z"}});
  strings before = records();
  for (auto op : {operation::write, operation::sync, operation::rename, operation::open}) {
    fs->fail_next(op, EIO, 1, "/cleaning");
    auto stats = compact_if_due(*log, first_dirty, t0);
    ASSERT_FALSE(stats.ok());
    EXPECT_EQ(stats.error().code, EIO);
    EXPECT_FALSE(*fs->exists(log->cleaning_directory()));
    EXPECT_EQ(records(), before);
  }
  fs->set_capacity(fs->used_bytes() + 10);
  EXPECT_FALSE(compact_if_due(*log, first_dirty, t0).ok());
  EXPECT_EQ(records(), before);
  fs->set_capacity(fault_injecting_file_system::unlimited);
  EXPECT_TRUE(compact().compacted);
  EXPECT_EQ(records(), (strings{"1:k=2", "2:z=z"}));
}

// A fault at one step of the swap, then power loss: the log opens with the
// old segments or the new ones, whole, and the new ones from the commit on.
TEST_F(LogCleaner, ACrashInTheSwapLeavesTheOldOrTheNewLog) {
  auto fill = [&] {
    for (int i = 0; i < 12; ++i) {
      append({{"k" + std::to_string(i % 4), std::to_string(i)}});
      if (i % 3 == 2) roll();
    }
    append({{"z", "z"}});
    ASSERT_TRUE(log->flush().ok());
  };
  fill();
  const strings before = records();
  compact();
  const strings after = records();
  ASSERT_NE(before, after);

  struct fault {
    operation op;
    std::string path;
    bool after_commit;
  };
  const std::vector<fault> faults = {
      {operation::write, "/cleaning/", false},    {operation::sync, "/cleaning/", false},
      {operation::write, "replaces", false},      {operation::rename, "cleaning ->", false},
      {operation::remove, ".log", true},          {operation::rename, "/swap/", true},
      {operation::sync_directory, "/swap", true}, {operation::remove, "replaces", true},
  };
  uint64_t seed = 10;
  for (const auto& f : faults) {
    SCOPED_TRACE(f.path);
    log.reset();
    fs = std::make_unique<fault_injecting_file_system>();
    sequences.clear();
    first_dirty = 0;
    clock = t0;
    log = open_log();
    fill();
    ASSERT_EQ(records(), before);
    fs->fail_next(f.op, EIO, 1, f.path);
    auto stats = compact_if_due(*log, 0, t0);
    EXPECT_FALSE(stats.ok());
    crash_and_reopen(++seed);
    strings now = records();
    if (f.after_commit) {
      EXPECT_EQ(now, after);
    } else {
      EXPECT_TRUE(now == before || now == after);
    }
    EXPECT_FALSE(*fs->exists(dir + "/swap"));
    EXPECT_FALSE(*fs->exists(dir + "/cleaning"));
    // The log goes on: appends, and a later cleaning.
    append({{"k0", "again"}});
    roll();
    append({{"y", "y"}});
    EXPECT_TRUE(compact().compacted);
  }
}

TEST_F(LogCleaner, RunsAlongsideAppendsAndReads) {
  config.segment_bytes = 2048;
  config.segment_ms = no_limit;
  config.min_cleanable_dirty_ratio = 0;
  log->set_config(config);
  // At least this many appends, and more (within bounds) until the cleaner
  // has run at least once alongside them: on a loaded machine the cleaner
  // thread may not get a core before the first 1500 are done.
  constexpr int min_appends = 1500;
  constexpr int max_appends = 200'000;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  constexpr int keys = 20;
  std::atomic<bool> done{false};
  std::atomic<int> compactions{0};
  int appends = 0;  // the appender's; read after join

  std::thread appender([&] {
    for (int i = 0; i < max_appends; ++i) {
      if (i >= min_appends &&
          (compactions.load() > 0 || std::chrono::steady_clock::now() > deadline)) {
        break;
      }
      append({{"k" + std::to_string(i % keys), std::to_string(i)}});
      appends = i + 1;
    }
    done = true;
  });
  std::thread reader([&] {
    while (!done) {
      int64_t offset = log->log_start_offset();
      while (true) {
        auto slice = log->read(offset, 4096);
        ASSERT_TRUE(slice.ok()) << slice.error().message;
        if (!*slice) break;
        auto bytes = (*slice)->read();
        ASSERT_TRUE(bytes.ok()) << bytes.error().message;
        auto split = protocol::split_batches(*bytes);
        ASSERT_TRUE(split.ok());
        for (const auto& b : *split) {
          ASSERT_TRUE(protocol::verify_crc(b).ok());
          ASSERT_GE(b.header().base_offset, offset);
          offset = b.header().last_offset() + 1;
        }
      }
    }
  });
  std::thread cleaner([&] {
    int64_t dirty = 0;
    while (!done) {
      auto stats = compact_if_due(*log, dirty, t0);
      ASSERT_TRUE(stats.ok()) << stats.error().message;
      dirty = stats->first_dirty_offset;
      if (stats->compacted) ++compactions;
    }
  });
  appender.join();
  reader.join();
  cleaner.join();
  EXPECT_GT(compactions.load(), 0);

  first_dirty = 0;
  compact();
  // Every key's last record is its last value; the cleaned part holds each
  // key once.
  std::map<std::string, std::string> last;
  for (const auto& b : batches()) {
    auto decoded = protocol::decode_records(b, 1 << 20);
    ASSERT_TRUE(decoded.ok());
    for (const auto& r : *decoded) {
      last[std::string(r.key->as_string_view())] = std::string(r.value->as_string_view());
    }
  }
  ASSERT_EQ(last.size(), static_cast<size_t>(keys));
  for (int k = 0; k < keys; ++k) {
    // The last i < appends with i % keys == k.
    EXPECT_EQ(last["k" + std::to_string(k)], std::to_string((appends - 1 - k) / keys * keys + k));
  }
  EXPECT_LT(records().size(), 200u);
}

}  // namespace
}  // namespace sluice::storage
