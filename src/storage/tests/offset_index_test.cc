#include "storage/offset_index.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <vector>

#include "storage/testing/fault_injecting_file_system.h"
#include "storage/tests/file_system_test_util.h"

namespace sluice::storage {
namespace {

constexpr int64_t base = 1000;
const std::string path = "/log/00000000000000001000.index";

class OffsetIndex : public ::testing::Test {
 protected:
  OffsetIndex() {
    EXPECT_TRUE(fs_.create_directories("/log").ok());
    EXPECT_TRUE(fs_.sync_directory("/").ok());
  }

  offset_index open_index() {
    auto f = fs_.open(path, open_mode::create_read_write);
    EXPECT_TRUE(f.ok()) << f.error().message;
    EXPECT_TRUE(fs_.sync_directory("/log").ok());
    return offset_index(base, std::move(*f));
  }

  testing::fault_injecting_file_system fs_;
};

TEST_F(OffsetIndex, EncodesKafkaEntries) {
  std::vector<offset_position> entries = {{base + 3, 0}, {base + 0x01020304, 0x0a0b0c0d}};
  auto bytes = offset_index::encode(base, entries);
  EXPECT_EQ(bytes,
            (std::vector<uint8_t>{0, 0, 0, 3, 0, 0, 0, 0, 1, 2, 3, 4, 0x0a, 0x0b, 0x0c, 0x0d}));
  auto decoded = offset_index::decode(base, bytes, 0x0a0b0c0e);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, entries);
}

TEST_F(OffsetIndex, DecodeRejectsWhatCannotBeAnIndexOfTheLog) {
  auto encode = [](std::vector<offset_position> e) { return offset_index::encode(base, e); };
  auto good = encode({{base + 1, 0}, {base + 5, 100}});
  EXPECT_TRUE(offset_index::decode(base, good, 101).has_value());
  EXPECT_TRUE(offset_index::decode(base, {}, 0).has_value());

  auto torn = good;
  torn.pop_back();
  EXPECT_FALSE(offset_index::decode(base, torn, 101).has_value()) << "not a multiple of 8";
  EXPECT_FALSE(offset_index::decode(base, good, 100).has_value()) << "position at the log's end";
  EXPECT_FALSE(offset_index::decode(base, encode({{base + 5, 0}, {base + 5, 100}}), 101))
      << "offsets not increasing";
  EXPECT_FALSE(offset_index::decode(base, encode({{base + 1, 100}, {base + 5, 100}}), 101))
      << "positions not increasing";
  EXPECT_FALSE(offset_index::decode(base, encode({{base - 1, 0}}), 101)) << "below the base";
}

TEST_F(OffsetIndex, LooksUpTheGreatestEntryAtOrBelow) {
  auto index = open_index();
  std::vector<offset_position> entries = {{base + 10, 500}, {base + 20, 1000}, {base + 30, 1500}};
  ASSERT_TRUE(index.append(entries).ok());
  EXPECT_EQ(index.lookup(base), (offset_position{base, 0}));
  EXPECT_EQ(index.lookup(base + 9), (offset_position{base, 0}));
  EXPECT_EQ(index.lookup(base + 10), (offset_position{base + 10, 500}));
  EXPECT_EQ(index.lookup(base + 29), (offset_position{base + 20, 1000}));
  EXPECT_EQ(index.lookup(base + 1000), (offset_position{base + 30, 1500}));
  EXPECT_EQ(read_file(fs_, path).size(), 24u) << "appended to the file";
}

TEST_F(OffsetIndex, TruncateDropsEntriesAtOrPastTheOffsetInMemoryAndFile) {
  auto index = open_index();
  ASSERT_TRUE(index.append(std::vector<offset_position>{{base + 10, 500}, {base + 20, 1000}}).ok());
  ASSERT_TRUE(index.append(std::vector<offset_position>{{base + 30, 1500}}).ok());
  ASSERT_TRUE(index.truncate_to(base + 20).ok());
  EXPECT_EQ(index.entries(), (std::vector<offset_position>{{base + 10, 500}}));
  EXPECT_EQ(read_file(fs_, path).size(), 8u);
  ASSERT_TRUE(index.append(std::vector<offset_position>{{base + 15, 700}}).ok());

  auto reloaded = open_index();
  auto loaded = reloaded.load(2000);
  ASSERT_TRUE(loaded.ok());
  EXPECT_TRUE(*loaded);
  EXPECT_EQ(reloaded.entries(), (std::vector<offset_position>{{base + 10, 500}, {base + 15, 700}}));
}

TEST_F(OffsetIndex, LoadReportsACorruptFile) {
  write_file(fs_, path, "garbage");
  auto index = open_index();
  auto loaded = index.load(1000);
  ASSERT_TRUE(loaded.ok());
  EXPECT_FALSE(*loaded);
  EXPECT_TRUE(index.entries().empty());
  // A position past the end of a shorter log.
  ASSERT_TRUE(index.replace({{base + 1, 0}, {base + 2, 900}}).ok());
  loaded = open_index().load(900);
  ASSERT_TRUE(loaded.ok());
  EXPECT_FALSE(*loaded);
}

TEST_F(OffsetIndex, AFailedWriteChangesNothingAndFlushLeavesTheFileExact) {
  auto index = open_index();
  ASSERT_TRUE(index.append(std::vector<offset_position>{{base + 1, 0}}).ok());
  fs_.short_write_next(3, ".index");
  fs_.fail_next(testing::operation::truncate, EIO, 1, ".index");
  auto failed = index.append(std::vector<offset_position>{{base + 2, 100}});
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, EIO);
  EXPECT_EQ(index.entries().size(), 1u);
  EXPECT_EQ(read_file(fs_, path).size(), 11u) << "the torn entry stays until the cut is retried";
  ASSERT_TRUE(index.flush().ok());
  EXPECT_EQ(read_file(fs_, path).size(), 8u);
  ASSERT_TRUE(index.append(std::vector<offset_position>{{base + 2, 100}}).ok());
  fs_.crash();
  auto reloaded = open_index();
  auto loaded = reloaded.load(200);
  ASSERT_TRUE(loaded.ok());
  EXPECT_TRUE(*loaded);
  EXPECT_EQ(reloaded.entries(), (std::vector<offset_position>{{base + 1, 0}})) << "flushed only";
}

}  // namespace
}  // namespace sluice::storage
