#include "raft/storage_log.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocol/record_batch.h"
#include "storage/partition_log.h"
#include "storage/testing/fault_injecting_file_system.h"
#include "storage/tests/file_system_test_util.h"

namespace sluice::raft {
namespace {

using storage::temporary_directory;

const configuration initial_config{{1, 2, 3}, {}};

// A producer's batch of `records` records, already carrying the offset and
// epoch the log gives it, so that what is read back equals it byte for byte.
base::shared_bytes data_batch(index_t index, term_t term, int records, size_t value_size = 8) {
  protocol::batch_options options;
  options.base_offset = index;
  options.partition_leader_epoch = static_cast<int32_t>(term);
  protocol::record_batch_builder builder(options);
  for (int i = 0; i < records; ++i) {
    std::vector<uint8_t> value(value_size, static_cast<uint8_t>('a' + (index + i) % 26));
    builder.add(1000 + i, std::nullopt, std::span<const uint8_t>(value));
  }
  auto built = builder.build();
  EXPECT_TRUE(built.ok());
  return base::shared_bytes(std::move(built).value());
}

entry data_entry(index_t index, term_t term, int records = 1, size_t value_size = 8) {
  return entry{index, term, records, entry_type::data,
               data_batch(index, term, records, value_size)};
}

entry leader_change_entry(index_t index, term_t term) {
  return entry{index, term, 1, entry_type::leader_change, base::shared_bytes::copy_of("leader")};
}

entry config_entry(index_t index, term_t term, const configuration& config) {
  return entry{index, term, 1, entry_type::configuration, encode_configuration(config)};
}

void expect_same(const std::vector<entry>& got, const std::vector<entry>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].index, want[i].index) << i;
    EXPECT_EQ(got[i].term, want[i].term) << i;
    EXPECT_EQ(got[i].count, want[i].count) << i;
    EXPECT_EQ(got[i].type, want[i].type) << i;
    EXPECT_EQ(got[i].data, want[i].data) << i;
  }
}

class StorageLogTest : public ::testing::Test {
 protected:
  std::unique_ptr<storage_log> open(storage::log_config config = {}) {
    auto opened = storage_log::open(*fs_, dir_.path() + "/group", initial_config, config);
    EXPECT_TRUE(opened.ok()) << opened.error().message;
    return opened ? std::move(*opened) : nullptr;
  }
  std::string file(const std::string& name) const { return dir_.path() + "/group/" + name; }

  std::vector<entry> read_all(storage_log& log) {
    if (log.first_index() > log.last_index()) return {};
    auto got = log.read(log.first_index(), log.last_index(), 1 << 30);
    EXPECT_TRUE(got.ok()) << got.error().message;
    return got ? *got : std::vector<entry>{};
  }

  temporary_directory dir_;
  std::unique_ptr<storage::file_system> fs_ = storage::make_posix_file_system();
};

TEST_F(StorageLogTest, NewLogStartsFromAnEmptySnapshot) {
  auto log = open();
  ASSERT_TRUE(log);
  EXPECT_EQ(log->snapshot_metadata(), (snapshot_meta{0, 0, initial_config}));
  EXPECT_EQ(log->initial_hard_state(), hard_state{});
  EXPECT_EQ(log->first_index(), 1);
  EXPECT_EQ(log->last_index(), 0);
  EXPECT_EQ(log->term_at(0), 0);
  EXPECT_EQ(log->term_at(1), std::nullopt);
  EXPECT_TRUE(log->configuration_entries().empty());
  // Kafka offsets continue the Raft indexes: the first entry goes to offset 1.
  EXPECT_EQ(log->partition().log_end_offset(), 1);
}

TEST_F(StorageLogTest, DataAndControlEntriesRoundTrip) {
  const std::vector<entry> entries = {leader_change_entry(1, 1), data_entry(2, 1, 3),
                                      config_entry(5, 2, {{1, 2}, {4}}), data_entry(6, 2, 2),
                                      leader_change_entry(8, 5)};
  {
    auto log = open();
    ASSERT_TRUE(log);
    auto appended = log->append(entries);
    ASSERT_TRUE(appended.ok()) << appended.error().message;
    EXPECT_EQ(log->last_index(), 8);
    auto synced = log->sync();
    ASSERT_TRUE(synced.ok()) << synced.error().message;
    EXPECT_EQ(*synced, 8);
    expect_same(read_all(*log), entries);
  }
  auto log = open();
  ASSERT_TRUE(log);
  EXPECT_EQ(log->first_index(), 1);
  EXPECT_EQ(log->last_index(), 8);
  expect_same(read_all(*log), entries);
  // Raft's own entries are control batches that Kafka consumers skip.
  auto slice = log->partition().read(1, 0);
  ASSERT_TRUE(slice.ok() && *slice);
  auto bytes = (*slice)->read();
  ASSERT_TRUE(bytes.ok());
  auto batch = protocol::record_batch::parse(*bytes);
  ASSERT_TRUE(batch.ok());
  EXPECT_TRUE(batch->header().is_control());
  EXPECT_EQ(batch->header().partition_leader_epoch, 1);
}

TEST_F(StorageLogTest, TermAtCoversEveryIndexOfABatch) {
  auto log = open();
  ASSERT_TRUE(log);
  ASSERT_TRUE(log->append({data_entry(1, 3, 5), data_entry(6, 4, 2)}).ok());
  for (index_t i = 1; i <= 5; ++i) EXPECT_EQ(log->term_at(i), 3) << i;
  EXPECT_EQ(log->term_at(6), 4);
  EXPECT_EQ(log->term_at(7), 4);
  EXPECT_EQ(log->term_at(8), std::nullopt);
  EXPECT_EQ(log->term_at(-1), std::nullopt);
  // A read from inside a batch starts with the whole batch.
  auto got = log->read(3, 7, 1 << 20);
  ASSERT_TRUE(got.ok()) << got.error().message;
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].index, 1);
  EXPECT_EQ((*got)[0].count, 5);
}

TEST_F(StorageLogTest, ConflictingAppendCutsTheLogAtItsFirstIndex) {
  auto log = open();
  ASSERT_TRUE(log);
  ASSERT_TRUE(log->append({data_entry(1, 1, 3), data_entry(4, 1, 2), data_entry(6, 1)}).ok());
  const std::vector<entry> replacement = {data_entry(4, 2), data_entry(5, 2, 4)};
  auto appended = log->append(replacement);
  ASSERT_TRUE(appended.ok()) << appended.error().message;
  EXPECT_EQ(log->last_index(), 8);
  EXPECT_EQ(log->term_at(3), 1);
  EXPECT_EQ(log->term_at(4), 2);
  auto all = read_all(*log);
  ASSERT_EQ(all.size(), 3u);
  expect_same({all[1], all[2]}, replacement);

  // Not at an entry's first index: refused, and nothing is cut.
  auto inside = log->append({data_entry(2, 3)});
  EXPECT_FALSE(inside.ok());
  EXPECT_EQ(log->last_index(), 8);
  // A gap after the log is refused too.
  EXPECT_FALSE(log->append({data_entry(10, 3)}).ok());
  // Terms never go down along the log.
  EXPECT_FALSE(log->append({data_entry(9, 1)}).ok());
  EXPECT_EQ(log->last_index(), 8);
}

TEST_F(StorageLogTest, MalformedEntriesAreRefused) {
  auto log = open();
  ASSERT_TRUE(log);
  entry wrong_count = data_entry(1, 1, 3);
  wrong_count.count = 2;
  EXPECT_FALSE(log->append({wrong_count}).ok());
  entry not_a_batch{1, 1, 1, entry_type::data, base::shared_bytes::copy_of("nope")};
  EXPECT_FALSE(log->append({not_a_batch}).ok());
  entry wide_config = config_entry(1, 1, initial_config);
  wide_config.count = 2;
  EXPECT_FALSE(log->append({wide_config}).ok());
  EXPECT_FALSE(log->append({data_entry(1, 1), data_entry(3, 1)}).ok());
  EXPECT_EQ(log->last_index(), 0);
}

TEST_F(StorageLogTest, TermsBeyondInt32AreRefused) {
  auto log = open();
  ASSERT_TRUE(log);
  entry big = leader_change_entry(1, int64_t{1} << 31);
  auto appended = log->append({big});
  EXPECT_FALSE(appended.ok());
  EXPECT_FALSE(log->append({leader_change_entry(1, -1)}).ok());
  EXPECT_EQ(log->last_index(), 0);
  EXPECT_TRUE(log->append({leader_change_entry(1, (int64_t{1} << 31) - 1)}).ok());
  EXPECT_EQ(log->term_at(1), (int64_t{1} << 31) - 1);
}

TEST_F(StorageLogTest, HardStateSurvivesReopen) {
  {
    auto log = open();
    ASSERT_TRUE(log);
    ASSERT_TRUE(log->save_hard_state({7, 2}).ok());
    EXPECT_EQ(log->initial_hard_state(), (hard_state{7, 2}));
  }
  auto log = open();
  ASSERT_TRUE(log);
  EXPECT_EQ(log->initial_hard_state(), (hard_state{7, 2}));
}

TEST_F(StorageLogTest, CorruptQuorumStateIsRefused) {
  { ASSERT_TRUE(open()); }
  ASSERT_TRUE(std::filesystem::exists(file("quorum-state")));
  {
    std::fstream f(file("quorum-state"), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(9);
    f.put('\x55');
  }
  auto opened = storage_log::open(*fs_, dir_.path() + "/group", initial_config);
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.error().message.find("quorum-state"), std::string::npos)
      << opened.error().message;
  // Cut short is refused too.
  std::filesystem::resize_file(file("quorum-state"), 10);
  EXPECT_FALSE(storage_log::open(*fs_, dir_.path() + "/group", initial_config).ok());
  // And missing, once the group exists.
  std::filesystem::remove(file("quorum-state"));
  EXPECT_FALSE(storage_log::open(*fs_, dir_.path() + "/group", initial_config).ok());
}

TEST_F(StorageLogTest, CorruptSnapshotIsRefused) {
  { ASSERT_TRUE(open()); }
  {
    std::fstream f(file("raft-snapshot"), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(5);
    f.put('\x01');
  }
  EXPECT_FALSE(storage_log::open(*fs_, dir_.path() + "/group", initial_config).ok());
}

TEST_F(StorageLogTest, SnapshotHoldingTheLogsEntryDropsOnlyThePrefix) {
  const snapshot snap{{6, 2, {{1, 2, 3, 4}, {}}}, base::shared_bytes::copy_of("state at 6")};
  {
    auto log = open();
    ASSERT_TRUE(log);
    ASSERT_TRUE(log->append({data_entry(1, 1, 3), data_entry(4, 2, 3), data_entry(7, 2, 2)}).ok());
    auto installed = log->install_snapshot(snap);
    ASSERT_TRUE(installed.ok()) << installed.error().message;
    EXPECT_EQ(log->snapshot_metadata(), snap.meta);
    EXPECT_EQ(log->first_index(), 7);
    EXPECT_EQ(log->last_index(), 8);
    EXPECT_EQ(log->term_at(6), 2);
    EXPECT_EQ(log->term_at(5), std::nullopt);
    EXPECT_EQ(log->term_at(7), 2);
    ASSERT_TRUE(log->append({data_entry(9, 3)}).ok());
    ASSERT_TRUE(log->sync().ok());
  }
  auto log = open();
  ASSERT_TRUE(log);
  EXPECT_EQ(log->snapshot_metadata(), snap.meta);
  EXPECT_EQ(log->first_index(), 7);
  EXPECT_EQ(log->last_index(), 9);
  expect_same(read_all(*log), {data_entry(7, 2, 2), data_entry(9, 3)});
  auto loaded = log->load_snapshot();
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->meta, snap.meta);
  EXPECT_EQ(loaded->data, snap.data);
}

TEST_F(StorageLogTest, SnapshotPastTheLogRestartsItAfterTheSnapshot) {
  const snapshot snap{{20, 3, initial_config}, base::shared_bytes::copy_of("state at 20")};
  {
    auto log = open();
    ASSERT_TRUE(log);
    ASSERT_TRUE(log->append({data_entry(1, 1, 5), config_entry(6, 1, {{9}, {}})}).ok());
    auto installed = log->install_snapshot(snap);
    ASSERT_TRUE(installed.ok()) << installed.error().message;
    EXPECT_EQ(log->first_index(), 21);
    EXPECT_EQ(log->last_index(), 20);
    EXPECT_EQ(log->term_at(20), 3);
    EXPECT_EQ(log->term_at(6), std::nullopt);
    EXPECT_TRUE(log->configuration_entries().empty());
    EXPECT_EQ(log->partition().log_start_offset(), 21);
    EXPECT_EQ(log->partition().log_end_offset(), 21);
    ASSERT_TRUE(log->append({data_entry(21, 3, 2)}).ok());
    ASSERT_TRUE(log->sync().ok());
  }
  auto log = open();
  ASSERT_TRUE(log);
  EXPECT_EQ(log->first_index(), 21);
  EXPECT_EQ(log->last_index(), 22);
  EXPECT_EQ(log->term_at(22), 3);
  expect_same(read_all(*log), {data_entry(21, 3, 2)});
  EXPECT_EQ(log->partition().segment_base_offsets(), std::vector<int64_t>{21});
}

TEST_F(StorageLogTest, SnapshotConflictingWithTheLogDropsAllOfIt) {
  auto log = open();
  ASSERT_TRUE(log);
  ASSERT_TRUE(log->append({data_entry(1, 1, 3), data_entry(4, 1, 3), data_entry(7, 1, 3)}).ok());
  // Index 6 ends an entry, but of another term: nothing in the log follows.
  ASSERT_TRUE(log->install_snapshot({{6, 2, initial_config}, {}}).ok());
  EXPECT_EQ(log->first_index(), 7);
  EXPECT_EQ(log->last_index(), 6);
  EXPECT_EQ(log->term_at(7), std::nullopt);
  EXPECT_TRUE(read_all(*log).empty());
  ASSERT_TRUE(log->append({data_entry(7, 2)}).ok());
  EXPECT_EQ(log->term_at(7), 2);
}

TEST_F(StorageLogTest, CompactReleasesThePrefix) {
  storage::log_config small;
  small.segment_bytes = 300;  // about three entries a segment
  const snapshot snap{{7, 2, initial_config}, base::shared_bytes::copy_of("image")};
  {
    auto log = open(small);
    ASSERT_TRUE(log);
    std::vector<entry> entries;
    for (index_t i = 1; i <= 12; ++i) entries.push_back(data_entry(i, i <= 5 ? 1 : 2, 1, 20));
    for (const entry& e : entries) ASSERT_TRUE(log->append({e}).ok());
    ASSERT_GT(log->partition().segment_count(), 2u);
    // Only a snapshot of an entry the log holds, of its term.
    EXPECT_FALSE(log->compact({{7, 1, initial_config}, {}}).ok());
    EXPECT_FALSE(log->compact({{13, 2, initial_config}, {}}).ok());
    auto compacted = log->compact(snap);
    ASSERT_TRUE(compacted.ok()) << compacted.error().message;
    EXPECT_EQ(log->first_index(), 8);
    EXPECT_EQ(log->last_index(), 12);
    EXPECT_EQ(log->term_at(7), 2);
    EXPECT_EQ(log->term_at(6), std::nullopt);
    EXPECT_GT(log->partition().segment_base_offsets().front(), 1);
    EXPECT_LE(log->partition().segment_base_offsets().front(), 8);
    EXPECT_FALSE(log->read(7, 12, 1 << 20).ok());
    ASSERT_TRUE(log->sync().ok());
  }
  auto log = open(small);
  ASSERT_TRUE(log);
  EXPECT_EQ(log->first_index(), 8);
  EXPECT_EQ(log->last_index(), 12);
  EXPECT_EQ(log->term_at(8), 2);
  EXPECT_EQ(read_all(*log).size(), 5u);
  auto loaded = log->load_snapshot();
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->data, snap.data);
}

TEST_F(StorageLogTest, ConfigurationEntriesFollowReopenAndTruncation) {
  const configuration first{{1, 2, 3}, {4}};
  const configuration second{{1, 2, 3, 4}, {}};
  {
    auto log = open();
    ASSERT_TRUE(log);
    ASSERT_TRUE(log->append({leader_change_entry(1, 1), config_entry(2, 1, first),
                             data_entry(3, 1, 4), config_entry(7, 1, second), data_entry(8, 1)})
                    .ok());
    ASSERT_TRUE(log->sync().ok());
  }
  auto log = open();
  ASSERT_TRUE(log);
  auto configs = log->configuration_entries();
  ASSERT_EQ(configs.size(), 2u);
  EXPECT_EQ(configs[0].index, 2);
  EXPECT_EQ(configs[1].index, 7);
  EXPECT_EQ(configs[1].type, entry_type::configuration);
  configuration decoded;
  ASSERT_TRUE(decode_configuration(configs[1].data.span(), decoded));
  EXPECT_EQ(decoded, second);

  ASSERT_TRUE(log->append({data_entry(7, 2)}).ok());
  configs = log->configuration_entries();
  ASSERT_EQ(configs.size(), 1u);
  EXPECT_EQ(configs[0].index, 2);
}

TEST_F(StorageLogTest, ReadsStopAtMaxBytesButReturnOneEntry) {
  storage::log_config small;
  small.segment_bytes = 400;
  auto log = open(small);
  ASSERT_TRUE(log);
  std::vector<entry> entries;
  for (index_t i = 1; i <= 10; ++i) entries.push_back(data_entry(i, 1, 1, 100));
  ASSERT_TRUE(log->append(entries).ok());
  const size_t one = entries[0].data.size();

  auto got = log->read(1, 10, 1);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->size(), 1u);
  got = log->read(1, 10, 3 * one);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->size(), 3u);
  got = log->read(2, 4, 1 << 20);
  ASSERT_TRUE(got.ok());
  expect_same(*got, {entries[1], entries[2], entries[3]});
  // Across segments, in order.
  got = log->read(1, 10, 1 << 20);
  ASSERT_TRUE(got.ok());
  expect_same(*got, entries);
  EXPECT_FALSE(log->read(11, 12, 1 << 20).ok());
  EXPECT_FALSE(log->read(0, 3, 1 << 20).ok());
}

// --- Crashes, on the fault-injecting disk ---

class StorageLogCrashTest : public ::testing::Test {
 protected:
  std::unique_ptr<storage_log> open() {
    auto opened = storage_log::open(fs_, "/data/group", initial_config);
    EXPECT_TRUE(opened.ok()) << opened.error().message;
    return opened ? std::move(*opened) : nullptr;
  }

  storage::testing::fault_injecting_file_system fs_;
};

TEST_F(StorageLogCrashTest, OnlySyncedEntriesAndSavedStateSurvive) {
  auto log = open();
  ASSERT_TRUE(log);
  ASSERT_TRUE(log->save_hard_state({3, 1}).ok());
  ASSERT_TRUE(log->append({leader_change_entry(1, 3), data_entry(2, 3, 2)}).ok());
  auto synced = log->sync();
  ASSERT_TRUE(synced.ok());
  EXPECT_EQ(*synced, 3);
  ASSERT_TRUE(log->append({config_entry(4, 3, {{1}, {}}), data_entry(5, 3)}).ok());
  fs_.crash();
  log.reset();

  log = open();
  ASSERT_TRUE(log);
  EXPECT_EQ(log->initial_hard_state(), (hard_state{3, 1}));
  EXPECT_EQ(log->last_index(), 3);
  EXPECT_TRUE(log->configuration_entries().empty());
  expect_same(log->read(1, 3, 1 << 20).value(), {leader_change_entry(1, 3), data_entry(2, 3, 2)});
}

TEST_F(StorageLogCrashTest, TornTailIsCutAtOpen) {
  auto log = open();
  ASSERT_TRUE(log);
  ASSERT_TRUE(log->append({data_entry(1, 1, 2)}).ok());
  ASSERT_TRUE(log->sync().ok());
  ASSERT_TRUE(log->append({data_entry(3, 1, 50, 64), data_entry(53, 1, 50, 64)}).ok());
  fs_.crash(/*seed=*/7);
  log.reset();
  log = open();
  ASSERT_TRUE(log);
  // Whatever survived is whole entries after the synced ones.
  EXPECT_GE(log->last_index(), 2);
  EXPECT_TRUE(log->last_index() == 2 || log->last_index() == 52 || log->last_index() == 102)
      << log->last_index();
  EXPECT_EQ(log->read(1, log->last_index(), 1 << 20).value().back().last_index(),
            log->last_index());
}

TEST_F(StorageLogCrashTest, CrashBeforeTheLogFollowsASnapshotIsRepaired) {
  auto log = open();
  ASSERT_TRUE(log);
  ASSERT_TRUE(log->append({data_entry(1, 1, 5), data_entry(6, 1, 5)}).ok());
  ASSERT_TRUE(log->sync().ok());
  // The snapshot is saved; dropping the log fails half-way, then power goes.
  fs_.fail_next(storage::testing::operation::remove, EIO, 1, ".log");
  const snapshot snap{{8, 2, initial_config}, base::shared_bytes::copy_of("eight")};
  EXPECT_FALSE(log->install_snapshot(snap).ok());
  fs_.crash();
  log.reset();

  log = open();
  ASSERT_TRUE(log);
  EXPECT_EQ(log->snapshot_metadata(), snap.meta);
  EXPECT_EQ(log->first_index(), 9);
  EXPECT_EQ(log->last_index(), 8);
  EXPECT_EQ(log->term_at(9), std::nullopt);
  EXPECT_EQ(log->term_at(10), std::nullopt);
  ASSERT_TRUE(log->append({data_entry(9, 2)}).ok());
  EXPECT_EQ(log->term_at(9), 2);
}

}  // namespace
}  // namespace sluice::raft
