#include "storage/segment_swap.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocol/record_batch.h"
#include "storage/segment.h"
#include "storage/testing/fault_injecting_file_system.h"
#include "storage/tests/file_system_test_util.h"

namespace sluice::storage {
namespace {

using testing::fault_injecting_file_system;
using testing::operation;

const std::string dir = "/p";
const std::string cleaning_dir = "/p/cleaning";
const std::string swap_dir = "/p/swap";
constexpr segment_config config{.index_interval_bytes = 64};

// The disk as a process sees it that dies after `budget` calls that change
// something: from then on every call fails with EIO, as if nothing ran any
// more. A crash() of the disk underneath then shows what survived.
class dying_file_system final : public file_system {
 public:
  dying_file_system(file_system& disk, int budget)
      : disk_(disk), budget_(std::make_shared<int>(budget)) {}

  bool dead() const { return *budget_ < 0; }

  io_result<std::unique_ptr<file>> open(const std::string& path, open_mode mode) override {
    if (!spend(mode != open_mode::read_only)) return died("open", path);
    auto f = disk_.open(path, mode);
    if (!f) return f;
    return std::unique_ptr<file>(new dying_file(std::move(*f), budget_, path));
  }
  io_result<bool> exists(const std::string& path) override {
    if (!spend(false)) return died("exists", path);
    return disk_.exists(path);
  }
  io_result<std::vector<std::string>> list(const std::string& directory) override {
    if (!spend(false)) return died("list", directory);
    return disk_.list(directory);
  }
  io_result<void> create_directories(const std::string& path) override {
    if (!spend(true)) return died("create_directories", path);
    return disk_.create_directories(path);
  }
  io_result<void> rename(const std::string& from, const std::string& to) override {
    if (!spend(true)) return died("rename", from);
    return disk_.rename(from, to);
  }
  io_result<void> remove(const std::string& path) override {
    if (!spend(true)) return died("remove", path);
    return disk_.remove(path);
  }
  io_result<void> sync_directory(const std::string& directory) override {
    if (!spend(true)) return died("sync_directory", directory);
    return disk_.sync_directory(directory);
  }

 private:
  class dying_file final : public file {
   public:
    dying_file(std::unique_ptr<file> f, std::shared_ptr<int> budget, std::string path)
        : f_(std::move(f)), budget_(std::move(budget)), path_(std::move(path)) {}
    io_result<size_t> read_at(uint64_t offset, std::span<uint8_t> out) override {
      if (*budget_ < 0) return died("read", path_);
      return f_->read_at(offset, out);
    }
    io_result<void> write_at(uint64_t offset, std::span<const uint8_t> bytes) override {
      if (!take(budget_)) return died("write", path_);
      return f_->write_at(offset, bytes);
    }
    io_result<void> sync() override {
      if (!take(budget_)) return died("sync", path_);
      return f_->sync();
    }
    io_result<void> truncate(uint64_t size) override {
      if (!take(budget_)) return died("truncate", path_);
      return f_->truncate(size);
    }
    io_result<void> reserve(uint64_t offset, uint64_t length) override {
      if (!take(budget_)) return died("reserve", path_);
      return f_->reserve(offset, length);
    }
    io_result<uint64_t> size() override {
      if (*budget_ < 0) return died("size", path_);
      return f_->size();
    }
    int native_handle() const override { return -1; }

   private:
    std::unique_ptr<file> f_;
    std::shared_ptr<int> budget_;
    std::string path_;
  };

  static bool take(const std::shared_ptr<int>& budget) {
    if (*budget <= 0) {
      *budget = -1;
      return false;
    }
    --*budget;
    return true;
  }
  bool spend(bool changes) {
    if (*budget_ < 0) return false;
    return !changes || take(budget_);
  }
  static base::unexpected<io_error> died(std::string_view operation, const std::string& path) {
    return base::unexpected(make_io_error(EIO, operation, path));
  }

  file_system& disk_;
  std::shared_ptr<int> budget_;
};

// A batch of `count` records from `base_offset` on.
std::vector<uint8_t> batch_at(int64_t base_offset, int count, char fill) {
  protocol::record_batch_builder builder;
  std::vector<uint8_t> value(40, static_cast<uint8_t>(fill));
  for (int i = 0; i < count; ++i) {
    std::string key = "k" + std::to_string(base_offset + i);
    builder.add(1000 + base_offset + i, to_bytes(key), std::span<const uint8_t>(value));
  }
  auto built = builder.build();
  EXPECT_TRUE(built.ok());
  protocol::set_base_offset(*built, base_offset);
  return std::move(*built);
}

// Segment contents: base offset -> the bytes of its batches.
using segment_set = std::map<int64_t, std::vector<uint8_t>>;

// Old segments 0, 10, 20 and 30 of two batches each; 40 is the active one,
// outside the range; the cleaned segments 0 and 20 keep a few batches.
const segment_set& old_segments() {
  static const segment_set set = [] {
    segment_set s;
    for (int64_t base : {0, 10, 20, 30}) {
      auto a = batch_at(base, 5, 'o');
      auto b = batch_at(base + 5, 5, 'o');
      a.insert(a.end(), b.begin(), b.end());
      s[base] = a;
    }
    return s;
  }();
  return set;
}
const segment_set& new_segments() {
  static const segment_set set = [] {
    segment_set s;
    auto a = batch_at(3, 1, 'n');
    auto b = batch_at(12, 3, 'n');
    a.insert(a.end(), b.begin(), b.end());
    s[0] = a;
    s[20] = batch_at(25, 5, 'n');
    return s;
  }();
  return set;
}
const std::vector<uint8_t>& active_segment() {
  static const std::vector<uint8_t> bytes = batch_at(40, 3, 'a');
  return bytes;
}

void write_segment(file_system& fs, const std::string& directory, int64_t base,
                   const std::vector<uint8_t>& bytes) {
  auto seg = segment::create(fs, directory, base, config);
  ASSERT_TRUE(seg.ok()) << seg.error().message;
  ASSERT_TRUE((*seg)->append(bytes).ok());
  ASSERT_TRUE((*seg)->flush().ok());
}

// Everything a segment serves, or "<error>" when it does not open.
std::optional<std::vector<uint8_t>> read_segment(file_system& fs, int64_t base) {
  auto seg = segment::open(fs, dir, base, config, false);
  if (!seg) return std::nullopt;
  auto range = (*seg)->read(base, SIZE_MAX);
  if (!range || !*range) return std::vector<uint8_t>{};
  auto bytes = (*seg)->read_range(**range);
  if (!bytes) return std::nullopt;
  return std::vector<uint8_t>(bytes->begin(), bytes->end());
}

class SegmentSwap : public ::testing::Test {
 protected:
  SegmentSwap() { set_up(disk_); }

  // The partition as a cleaner leaves it just before the swap, all durable.
  static void set_up(fault_injecting_file_system& disk) {
    ASSERT_TRUE(disk.create_directories(dir).ok());
    ASSERT_TRUE(disk.sync_directory("/").ok());
    for (const auto& [base, bytes] : old_segments()) write_segment(disk, dir, base, bytes);
    write_segment(disk, dir, 40, active_segment());
    ASSERT_TRUE(disk.create_directories(cleaning_dir).ok());
    for (const auto& [base, bytes] : new_segments()) write_segment(disk, cleaning_dir, base, bytes);
    ASSERT_TRUE(disk.sync_directory(dir).ok());
  }

  // Which set the partition holds: exactly the old or the new segments of
  // the range, each openable and whole, the active one untouched, no stray
  // file and no swap or cleaning directory. nullopt (with a failure) else.
  static std::optional<bool> holds_new(file_system& fs) {
    auto names = fs.list(dir);
    EXPECT_TRUE(names.ok());
    std::map<int64_t, int> files;  // base -> how many of its three files
    for (const auto& name : *names) {
      std::optional<int64_t> base;
      for (auto ext : {log_extension, offset_index_extension, time_index_extension}) {
        if (!base) base = parse_segment_file_name(name, ext);
      }
      if (!base) {
        ADD_FAILURE() << "unexpected " << name;
        return std::nullopt;
      }
      ++files[*base];
    }
    segment_set found;
    for (const auto& [base, count] : files) {
      if (!*fs.exists(dir + "/" + segment_file_name(base, log_extension))) {
        ADD_FAILURE() << "index files without a log at " << base;
        return std::nullopt;
      }
      auto bytes = read_segment(fs, base);
      if (!bytes) {
        ADD_FAILURE() << "segment " << base << " does not open";
        return std::nullopt;
      }
      found[base] = *bytes;
    }
    if (found[40] != active_segment()) {
      ADD_FAILURE() << "the active segment changed";
      return std::nullopt;
    }
    found.erase(40);
    if (found == old_segments()) return false;
    if (found == new_segments()) return true;
    if (found.empty()) {
      ADD_FAILURE() << "neither the old nor the new segments";
      return std::nullopt;
    }
    std::string bases;
    for (const auto& [base, bytes] : found) bases += " " + std::to_string(base);
    ADD_FAILURE() << "a mix of segments:" << bases;
    return std::nullopt;
  }

  fault_injecting_file_system disk_;
};

TEST_F(SegmentSwap, CommitReplacesTheRangeDurably) {
  auto swapped = commit_swap(disk_, dir, 0, 40);
  ASSERT_TRUE(swapped.ok()) << swapped.error().message;
  EXPECT_EQ(holds_new(disk_), true);
  EXPECT_FALSE(*disk_.exists(swap_dir));
  EXPECT_FALSE(*disk_.exists(cleaning_dir));
  disk_.crash();
  EXPECT_EQ(holds_new(disk_), true);
  ASSERT_TRUE(recover_interrupted_swap(disk_, dir).ok());
  EXPECT_EQ(holds_new(disk_), true);
}

TEST_F(SegmentSwap, RecoveryWithoutASwapChangesNothing) {
  ASSERT_TRUE(remove_all(disk_, cleaning_dir).ok());
  auto before = disk_.counts();
  ASSERT_TRUE(recover_interrupted_swap(disk_, dir).ok());
  EXPECT_EQ(disk_.counts().directory_syncs, before.directory_syncs);
  EXPECT_EQ(holds_new(disk_), false);
}

TEST_F(SegmentSwap, ReplacedSegmentsStayReadableThroughOpenHandles) {
  auto old = segment::open(disk_, dir, 10, config, false);
  ASSERT_TRUE(old.ok());
  ASSERT_TRUE(commit_swap(disk_, dir, 0, 40).ok());
  auto range = (*old)->read(10, SIZE_MAX);
  ASSERT_TRUE(range.ok() && range->has_value());
  auto bytes = (*old)->read_range(**range);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(std::vector<uint8_t>(bytes->begin(), bytes->end()), old_segments().at(10));
}

TEST_F(SegmentSwap, CleanedSegmentsMustLieInTheRange) {
  auto outside = commit_swap(disk_, dir, 10, 40);
  ASSERT_FALSE(outside.ok());
  EXPECT_EQ(outside.error().code, EINVAL);
  auto short_range = commit_swap(disk_, dir, 0, 20);
  ASSERT_FALSE(short_range.ok());
  EXPECT_EQ(short_range.error().code, EINVAL);
  ASSERT_TRUE(recover_interrupted_swap(disk_, dir).ok());
  EXPECT_EQ(holds_new(disk_), false);
}

TEST_F(SegmentSwap, AnUnfinishedSwapBlocksTheNext) {
  ASSERT_TRUE(disk_.create_directories(swap_dir).ok());
  auto swapped = commit_swap(disk_, dir, 0, 40);
  ASSERT_FALSE(swapped.ok());
  EXPECT_EQ(swapped.error().code, EEXIST);
}

TEST_F(SegmentSwap, EmptyCleaningRemovesTheRange) {
  ASSERT_TRUE(remove_all(disk_, cleaning_dir).ok());
  ASSERT_TRUE(disk_.create_directories(cleaning_dir).ok());
  ASSERT_TRUE(commit_swap(disk_, dir, 0, 40).ok());
  disk_.crash();
  auto names = disk_.list(dir);
  ASSERT_TRUE(names.ok());
  std::sort(names->begin(), names->end());
  EXPECT_EQ(*names,
            (std::vector<std::string>{"00000000000000000040.index", "00000000000000000040.log",
                                      "00000000000000000040.timeindex"}));
}

TEST_F(SegmentSwap, ACorruptRecordIsReportedNotGuessed) {
  ASSERT_TRUE(disk_.rename(cleaning_dir, swap_dir).ok());
  write_file(disk_, swap_dir + "/replaces", "not a record");
  auto recovered = recover_interrupted_swap(disk_, dir);
  ASSERT_FALSE(recovered.ok());
  EXPECT_EQ(recovered.error().code, EBADMSG);
}

TEST_F(SegmentSwap, AnEmptySwapDirectoryIsAFinishedSwap) {
  ASSERT_TRUE(commit_swap(disk_, dir, 0, 40).ok());
  ASSERT_TRUE(disk_.create_directories(swap_dir).ok());
  ASSERT_TRUE(recover_interrupted_swap(disk_, dir).ok());
  EXPECT_FALSE(*disk_.exists(swap_dir));
  EXPECT_EQ(holds_new(disk_), true);
}

// The process dies after every possible number of disk calls of the swap,
// the power goes (tearing what was not synced), and recovery runs — itself
// dying at every point and recovered again. Each time the partition holds
// the old or the new segments, whole; the new ones from the commit point on.
TEST_F(SegmentSwap, CrashAtEveryStepLeavesOldOrNew) {
  bool committed_before = false;
  bool finished = false;
  for (int budget = 0; !finished; ++budget) {
    SCOPED_TRACE("commit dies after " + std::to_string(budget) + " calls");
    for (int recovery_budget = 0;; ++recovery_budget) {
      fault_injecting_file_system disk;
      set_up(disk);
      dying_file_system dying(disk, budget);
      auto swapped = commit_swap(dying, dir, 0, 40);
      finished = swapped.ok();
      disk.crash(budget * 131 + recovery_budget);

      dying_file_system dying_recovery(disk, recovery_budget);
      auto recovered = recover_interrupted_swap(dying_recovery, dir);
      bool recovery_done = recovered.ok();
      if (!recovery_done) {
        ASSERT_TRUE(dying_recovery.dead()) << recovered.error().message;
        disk.crash(budget * 7 + recovery_budget);
        auto again = recover_interrupted_swap(disk, dir);
        ASSERT_TRUE(again.ok()) << again.error().message;
      }
      auto now_new = holds_new(disk);
      ASSERT_TRUE(now_new.has_value());
      if (finished) {
        EXPECT_TRUE(*now_new);
      }
      if (committed_before) {
        EXPECT_TRUE(*now_new) << "went back to the old segments";
      }
      if (recovery_done) {
        // The outcome is durable and final.
        disk.crash(budget);
        EXPECT_EQ(holds_new(disk), now_new);
        EXPECT_FALSE(*disk.exists(swap_dir));
        EXPECT_FALSE(*disk.exists(cleaning_dir));
        if (*now_new) committed_before = true;
        break;
      }
    }
  }
  EXPECT_TRUE(committed_before);
}

// A failed call without a crash, as a process that goes on sees it: the
// swap fails, the log directory is recovered as at the next open.
TEST_F(SegmentSwap, AnInjectedErrorAtEveryCallLeavesOldOrNew) {
  struct fault {
    operation op;
    std::string path;
  };
  const std::vector<fault> faults = {
      {operation::open, "replaces"},
      {operation::write, "replaces"},
      {operation::sync, "replaces"},
      {operation::sync_directory, "/p/cleaning"},
      {operation::rename, "cleaning ->"},
      {operation::sync_directory, "/p"},
      {operation::remove, ".log"},
      {operation::remove, ".index"},
      {operation::rename, "/p/swap/"},
      {operation::rename, ".log ->"},
      {operation::sync_directory, "/p/swap"},
      {operation::remove, "replaces"},
      {operation::remove, "/p/swap"},
      {operation::list, "/p"},
  };
  uint64_t seed = 0;
  for (const auto& f : faults) {
    SCOPED_TRACE(f.path);
    fault_injecting_file_system disk;
    set_up(disk);
    disk.fail_next(f.op, EIO, 1, f.path);
    auto swapped = commit_swap(disk, dir, 0, 40);
    if (!swapped.ok()) {
      EXPECT_EQ(swapped.error().code, EIO);
    }
    auto recovered = recover_interrupted_swap(disk, dir);
    ASSERT_TRUE(recovered.ok()) << recovered.error().message;
    auto now_new = holds_new(disk);
    ASSERT_TRUE(now_new.has_value());
    if (swapped.ok()) {
      EXPECT_TRUE(*now_new);
    }
    disk.crash(++seed);
    EXPECT_EQ(holds_new(disk), now_new);
  }
}

}  // namespace
}  // namespace sluice::storage
