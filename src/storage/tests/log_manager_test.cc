#include "storage/log_manager.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "protocol/record_batch.h"
#include "storage/checkpoint_file.h"
#include "storage/testing/fault_injecting_file_system.h"
#include "storage/tests/file_system_test_util.h"

namespace sluice::storage {
namespace {

using testing::fault_injecting_file_system;

const std::string log_dir = "/data";

std::vector<uint8_t> records_at(int64_t timestamp, int count, const std::string& key = {}) {
  protocol::record_batch_builder builder;
  std::vector<uint8_t> value(20, 'v');
  for (int i = 0; i < count; ++i) {
    protocol::optional_bytes k;
    if (!key.empty()) k = std::span(reinterpret_cast<const uint8_t*>(key.data()), key.size());
    builder.add(timestamp, k, std::span<const uint8_t>(value));
  }
  auto built = builder.build();
  EXPECT_TRUE(built.ok());
  return std::move(*built);
}

TEST(PartitionDirectoryName, TopicThenTheLastDashThenThePartition) {
  EXPECT_EQ(partition_directory_name({"orders", 3}), "orders-3");
  EXPECT_EQ(parse_partition_directory_name("my-topic-12"), (topic_partition{"my-topic", 12}));
  EXPECT_EQ(parse_partition_directory_name("__consumer_offsets-49"),
            (topic_partition{"__consumer_offsets", 49}));
  EXPECT_FALSE(parse_partition_directory_name("orders"));
  EXPECT_FALSE(parse_partition_directory_name("orders-"));
  EXPECT_FALSE(parse_partition_directory_name("-3"));
  EXPECT_FALSE(parse_partition_directory_name("orders-x"));
  EXPECT_EQ(parse_partition_directory_name("orders--1"), (topic_partition{"orders-", 1}));
  EXPECT_FALSE(parse_partition_directory_name("orders-0.1234-delete"));
}

class LogManager : public ::testing::Test {
 protected:
  std::unique_ptr<log_manager> open_manager() {
    log_manager_config config;
    config.log_dir = log_dir;
    config.clock = [this] { return now.load(); };
    config.defaults = defaults;
    config.background = false;
    config.recovery_threads = 4;
    auto opened = log_manager::open(fs, config);
    EXPECT_TRUE(opened.ok()) << opened.error().message;
    return opened.ok() ? std::move(*opened) : nullptr;
  }

  std::shared_ptr<partition_log> create(log_manager& m, const topic_partition& tp) {
    auto log = m.get_or_create(tp, defaults);
    EXPECT_TRUE(log.ok()) << log.error().message;
    return log.ok() ? *log : nullptr;
  }

  void append(partition_log& log, int count, bool sync = false) {
    for (int i = 0; i < count; ++i) {
      auto batch = records_at(now, 2);
      auto appended = log.append(batch, {.sync = sync});
      ASSERT_TRUE(appended.ok()) << appended.error().message;
    }
  }

  fault_injecting_file_system fs;
  log_config defaults;
  std::atomic<int64_t> now{1'000'000};
};

TEST_F(LogManager, CleanCloseThenFastReopen) {
  {
    auto m = open_manager();
    EXPECT_FALSE(m->opened_after_clean_shutdown());
    append(*create(*m, {"orders", 0}), 5);
    append(*create(*m, {"orders", 1}), 3);
    append(*create(*m, {"my-events", 0}), 1);
    ASSERT_TRUE(m->close().ok());
  }
  EXPECT_TRUE(fs.exists(log_dir + "/.kafka_cleanshutdown").value());
  auto points =
      checkpoint_file(fs, log_dir + "/recovery-point-offset-checkpoint").read_partition_offsets();
  ASSERT_TRUE(points.ok());
  EXPECT_EQ(points->size(), 3u);
  // A crash after a clean close keeps everything: close() made it durable.
  fs.crash();
  auto m = open_manager();
  EXPECT_TRUE(m->opened_after_clean_shutdown());
  EXPECT_FALSE(fs.exists(log_dir + "/.kafka_cleanshutdown").value());
  EXPECT_EQ(m->partitions().size(), 3u);
  EXPECT_EQ(m->find({"orders", 0})->log_end_offset(), 10);
  EXPECT_EQ(m->find({"orders", 1})->log_end_offset(), 6);
  EXPECT_EQ(m->find({"my-events", 0})->log_end_offset(), 2);
  EXPECT_EQ(m->find({"nope", 0}), nullptr);
}

TEST_F(LogManager, CrashRecoversFromTheCheckpointsAndKeepsSyncedData) {
  {
    auto m = open_manager();
    auto log = create(*m, {"orders", 0});
    append(*log, 5, /*sync=*/true);
    ASSERT_TRUE(m->write_checkpoints().ok());
    append(*log, 5, /*sync=*/true);
    append(*log, 5, /*sync=*/false);
  }
  fs.crash(7);
  auto m = open_manager();
  EXPECT_FALSE(m->opened_after_clean_shutdown());
  auto log = m->find({"orders", 0});
  ASSERT_NE(log, nullptr);
  EXPECT_GE(log->log_end_offset(), 20);
  EXPECT_LE(log->log_end_offset(), 30);
}

TEST_F(LogManager, RemoveDeletesThePartitionAndFinishesAnInterruptedRemoval) {
  auto m = open_manager();
  auto log = create(*m, {"orders", 0});
  append(*log, 3);
  ASSERT_TRUE(m->remove({"orders", 0}).ok());
  EXPECT_EQ(m->find({"orders", 0}), nullptr);
  EXPECT_TRUE(fs.list(log_dir).value().size() <= 3u);  // only checkpoints
  EXPECT_FALSE(fs.exists(log_dir + "/orders-0").value());
  auto missing = m->remove({"orders", 0});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ENOENT);
  // A deletion cut short by a crash: its renamed directory is removed on open.
  ASSERT_TRUE(fs.create_directories(log_dir + "/gone-1.5-delete/x").ok());
  m.reset();
  auto reopened = open_manager();
  EXPECT_FALSE(fs.exists(log_dir + "/gone-1.5-delete").value());
  EXPECT_TRUE(reopened->partitions().empty());
}

TEST_F(LogManager, BackgroundWorkRunsWhenDue) {
  defaults.segment_bytes = 300;
  defaults.retention_ms = 10'000;
  defaults.flush_ms = 2'000;
  auto m = open_manager();
  auto log = create(*m, {"orders", 0});
  append(*log, 10);
  EXPECT_LT(log->recovery_point(), 20);  // rolled segments only
  now += 2'000;
  m->run_due_work();
  // flush.ms passed: flushed; retention is not due yet.
  EXPECT_EQ(log->recovery_point(), 20);
  EXPECT_EQ(log->log_start_offset(), 0);
  now += 300'000;  // log.retention.check.interval.ms, and every record expired
  m->run_due_work();
  EXPECT_EQ(log->log_start_offset(), 20);
  EXPECT_GT(m->stats().segments_deleted, 0u);
  EXPECT_EQ(m->stats().errors, 0u);
  auto starts =
      checkpoint_file(fs, log_dir + "/log-start-offset-checkpoint").read_partition_offsets();
  ASSERT_TRUE(starts.ok());
  ASSERT_EQ(starts->size(), 1u);
  EXPECT_EQ((*starts)[0].offset, 20);
}

TEST_F(LogManager, CompactsCompactedTopicsAndRemembersWhereItStopped) {
  defaults.segment_bytes = 400;
  defaults.policy = cleanup_policy::compact;
  auto m = open_manager();
  auto log = create(*m, {"__consumer_offsets", 7});
  for (int i = 0; i < 40; ++i) {
    auto batch = records_at(now, 1, "key-" + std::to_string(i % 4));
    ASSERT_TRUE(log->append(batch).ok());
  }
  uint64_t before = log->size_bytes();
  now += 15'000;  // log.cleaner.backoff.ms
  m->run_due_work();
  EXPECT_EQ(m->stats().compactions, 1u) << m->stats().last_error;
  EXPECT_LT(log->size_bytes(), before);
  ASSERT_TRUE(m->write_checkpoints().ok());
  auto cleaner =
      checkpoint_file(fs, log_dir + "/cleaner-offset-checkpoint").read_partition_offsets();
  ASSERT_TRUE(cleaner.ok());
  ASSERT_EQ(cleaner->size(), 1u);
  EXPECT_GT((*cleaner)[0].offset, 0);
  // Offsets are kept: the log still ends where it did.
  EXPECT_EQ(log->log_end_offset(), 40);
}

TEST_F(LogManager, TheBackgroundThreadDoesTheWorkOnItsOwn) {
  defaults.segment_bytes = 300;
  defaults.retention_ms = 10'000;
  log_manager_config config;
  config.log_dir = log_dir;
  config.clock = [this] { return now.load(); };
  config.defaults = defaults;
  config.scheduler_interval_ms = 5;
  config.retention_check_interval_ms = 0;
  auto opened = log_manager::open(fs, config);
  ASSERT_TRUE(opened.ok());
  auto log = (*opened)->get_or_create({"orders", 0}, defaults);
  ASSERT_TRUE(log.ok());
  append(**log, 10);
  now += 100'000;
  for (int i = 0; i < 2000 && (*log)->log_start_offset() != 20; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ((*log)->log_start_offset(), 20);
  ASSERT_TRUE((*opened)->close().ok());
}

TEST_F(LogManager, OpensManyPartitionsInParallel) {
  {
    auto m = open_manager();
    for (int p = 0; p < 200; ++p) append(*create(*m, {"wide", p}), 1 + p % 3);
    ASSERT_TRUE(m->close().ok());
  }
  auto m = open_manager();
  ASSERT_EQ(m->partitions().size(), 200u);
  for (int p = 0; p < 200; ++p) {
    EXPECT_EQ(m->find({"wide", p})->log_end_offset(), 2 * (1 + p % 3));
  }
}

TEST(PosixLogManager, CloseAndReopenOnARealDisk) {
  temporary_directory tmp;
  auto fs = make_posix_file_system();
  log_manager_config config;
  config.log_dir = tmp.path() + "/logs";
  config.background = false;
  {
    auto m = log_manager::open(*fs, config);
    ASSERT_TRUE(m.ok()) << m.error().message;
    auto log = (*m)->get_or_create({"orders", 0}, {});
    ASSERT_TRUE(log.ok());
    auto batch = records_at(wall_clock_ms(), 3);
    ASSERT_TRUE((*log)->append(batch).ok());
    ASSERT_TRUE((*m)->close().ok());
  }
  auto m = log_manager::open(*fs, config);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_TRUE((*m)->opened_after_clean_shutdown());
  EXPECT_EQ((*m)->find({"orders", 0})->log_end_offset(), 3);
}

}  // namespace
}  // namespace sluice::storage
