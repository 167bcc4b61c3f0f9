#include "storage/time_index.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <vector>

#include "storage/testing/fault_injecting_file_system.h"
#include "storage/tests/file_system_test_util.h"

namespace sluice::storage {
namespace {

constexpr int64_t base = 1000;
const std::string path = "/log/00000000000000001000.timeindex";

class TimeIndex : public ::testing::Test {
 protected:
  TimeIndex() {
    EXPECT_TRUE(fs_.create_directories("/log").ok());
    EXPECT_TRUE(fs_.sync_directory("/").ok());
  }

  time_index open_index() {
    auto f = fs_.open(path, open_mode::create_read_write);
    EXPECT_TRUE(f.ok()) << f.error().message;
    EXPECT_TRUE(fs_.sync_directory("/log").ok());
    return time_index(base, std::move(*f));
  }

  testing::fault_injecting_file_system fs_;
};

TEST_F(TimeIndex, EncodesKafkaEntries) {
  std::vector<timestamp_offset> entries = {{0x0102030405060708, base + 9}};
  auto bytes = time_index::encode(base, entries);
  EXPECT_EQ(bytes, (std::vector<uint8_t>{1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 9}));
  auto decoded = time_index::decode(base, bytes, base + 9);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, entries);
}

TEST_F(TimeIndex, DecodeRejectsWhatCannotBeAnIndexOfTheLog) {
  auto encode = [](std::vector<timestamp_offset> e) { return time_index::encode(base, e); };
  auto good = encode({{100, base + 1}, {200, base + 5}});
  EXPECT_TRUE(time_index::decode(base, good, base + 5).has_value());
  EXPECT_TRUE(time_index::decode(base, encode({{100, base + 1}, {200, base + 1}}), base + 5))
      << "Kafka allows equal offsets";

  auto torn = good;
  torn.pop_back();
  EXPECT_FALSE(time_index::decode(base, torn, base + 5).has_value()) << "not a multiple of 12";
  EXPECT_FALSE(time_index::decode(base, good, base + 4).has_value()) << "past the last offset";
  EXPECT_FALSE(time_index::decode(base, encode({{100, base + 1}, {100, base + 5}}), base + 5))
      << "timestamps not increasing";
  EXPECT_FALSE(time_index::decode(base, encode({{100, base + 5}, {200, base + 1}}), base + 5))
      << "offsets decreasing";
  EXPECT_FALSE(time_index::decode(base, encode({{100, base - 1}}), base + 5)) << "below the base";
}

TEST_F(TimeIndex, LooksUpTheGreatestTimestampAtOrBelow) {
  auto index = open_index();
  EXPECT_EQ(index.last_entry(), (timestamp_offset{-1, base}));
  ASSERT_TRUE(index.append(std::vector<timestamp_offset>{{100, base + 3}, {200, base + 7}}).ok());
  EXPECT_EQ(index.lookup(99), (timestamp_offset{-1, base}));
  EXPECT_EQ(index.lookup(100), (timestamp_offset{100, base + 3}));
  EXPECT_EQ(index.lookup(199), (timestamp_offset{100, base + 3}));
  EXPECT_EQ(index.lookup(5000), (timestamp_offset{200, base + 7}));
  EXPECT_EQ(index.last_entry(), (timestamp_offset{200, base + 7}));
  EXPECT_EQ(read_file(fs_, path).size(), 24u);
}

TEST_F(TimeIndex, TruncateThenReload) {
  auto index = open_index();
  ASSERT_TRUE(
      index.append(std::vector<timestamp_offset>{{100, base + 3}, {200, base + 7}, {300, base + 9}})
          .ok());
  ASSERT_TRUE(index.truncate_to(base + 7).ok());
  EXPECT_EQ(index.entries(), (std::vector<timestamp_offset>{{100, base + 3}}));
  ASSERT_TRUE(index.flush().ok());
  fs_.crash();
  auto reloaded = open_index();
  auto loaded = reloaded.load(base + 6);
  ASSERT_TRUE(loaded.ok());
  EXPECT_TRUE(*loaded);
  EXPECT_EQ(reloaded.entries(), (std::vector<timestamp_offset>{{100, base + 3}}));
}

TEST_F(TimeIndex, LoadReportsACorruptFile) {
  write_file(fs_, path, "0123456789abcdef");
  auto loaded = open_index().load(base + 100);
  ASSERT_TRUE(loaded.ok());
  EXPECT_FALSE(*loaded);
  // An empty log has no valid entries at all.
  ASSERT_TRUE(open_index().replace({{100, base}}).ok());
  loaded = open_index().load(base - 1);
  ASSERT_TRUE(loaded.ok());
  EXPECT_FALSE(*loaded);
}

TEST_F(TimeIndex, AFailedWriteChangesNothing) {
  auto index = open_index();
  fs_.fail_next(testing::operation::write, ENOSPC, 1, ".timeindex");
  auto failed = index.append(std::vector<timestamp_offset>{{100, base}});
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, ENOSPC);
  EXPECT_TRUE(index.entries().empty());
  ASSERT_TRUE(index.append(std::vector<timestamp_offset>{{100, base}}).ok());
  EXPECT_EQ(read_file(fs_, path).size(), 12u);
}

}  // namespace
}  // namespace sluice::storage
