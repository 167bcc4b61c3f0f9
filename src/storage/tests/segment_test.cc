#include "storage/segment.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "protocol/record_batch.h"
#include "storage/testing/fault_injecting_file_system.h"
#include "storage/tests/file_system_test_util.h"

namespace sluice::storage {
namespace {

using testing::fault_injecting_file_system;
using testing::operation;

constexpr int64_t base = 100;
const std::string dir = "/log";
const std::string log_path = "/log/00000000000000000100.log";
const std::string index_path = "/log/00000000000000000100.index";
const std::string time_index_path = "/log/00000000000000000100.timeindex";

struct test_batch {
  std::vector<uint8_t> bytes;
  int64_t base_offset = 0;
  int64_t last_offset = 0;
  int64_t max_timestamp = -1;
};

// One batch of `timestamps.size()` records, each with a value of `value_size` bytes.
test_batch make_batch(int64_t base_offset, const std::vector<int64_t>& timestamps,
                      size_t value_size) {
  protocol::record_batch_builder builder;
  std::vector<uint8_t> value(value_size, 'v');
  for (int64_t ts : timestamps) builder.add(ts, std::nullopt, std::span<const uint8_t>(value));
  auto built = builder.build();
  EXPECT_TRUE(built.ok());
  protocol::set_base_offset(*built, base_offset);
  int64_t max_ts = -1;
  for (int64_t ts : timestamps) max_ts = std::max(max_ts, ts);
  return {std::move(*built), base_offset, base_offset + static_cast<int64_t>(timestamps.size()) - 1,
          max_ts};
}

// The batches a test appended, to compare reads against.
class batch_log {
 public:
  explicit batch_log(int64_t next_offset) : next_offset_(next_offset) {}

  const test_batch& add(const std::vector<int64_t>& timestamps, size_t value_size) {
    batches_.push_back(make_batch(next_offset_, timestamps, value_size));
    next_offset_ = batches_.back().last_offset + 1;
    return batches_.back();
  }
  // `count` batches of 1-5 records and values of 0-1500 bytes, timestamps
  // jumping back and forth.
  void add_random(std::mt19937_64& rng, int count) {
    for (int i = 0; i < count; ++i) {
      std::vector<int64_t> timestamps(1 + rng() % 5);
      for (auto& ts : timestamps) ts = 1'000'000 + static_cast<int64_t>(rng() % 10'000);
      add(timestamps, rng() % 1500);
    }
  }
  void truncate_to(int64_t offset) {
    while (!batches_.empty() && batches_.back().base_offset >= offset) batches_.pop_back();
    next_offset_ = offset;
  }

  const std::vector<test_batch>& batches() const { return batches_; }
  int64_t next_offset() const { return next_offset_; }

 private:
  std::vector<test_batch> batches_;
  int64_t next_offset_;
};

void append_all(segment& seg, const std::vector<test_batch>& batches, size_t from = 0) {
  for (size_t i = from; i < batches.size(); ++i) {
    auto appended = seg.append(batches[i].bytes);
    ASSERT_TRUE(appended.ok()) << appended.error().message;
  }
}

// Every byte the segment serves, from its first offset on.
std::vector<uint8_t> read_everything(segment& seg) {
  auto range = seg.read(seg.base_offset(), SIZE_MAX);
  EXPECT_TRUE(range.ok()) << range.error().message;
  if (!range.ok() || !*range) return {};
  auto bytes = seg.read_range(**range);
  EXPECT_TRUE(bytes.ok()) << bytes.error().message;
  return {bytes->begin(), bytes->end()};
}

std::vector<uint8_t> bytes_of(const base::shared_bytes& bytes) {
  return {bytes.begin(), bytes.end()};
}

std::vector<uint8_t> concat(const std::vector<test_batch>& batches, size_t count) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i < count; ++i)
    out.insert(out.end(), batches[i].bytes.begin(), batches[i].bytes.end());
  return out;
}

// The first batch whose max timestamp is >= `timestamp`, by brute force.
std::optional<int64_t> expected_offset_for(const std::vector<test_batch>& batches,
                                           int64_t timestamp) {
  for (const auto& b : batches) {
    if (b.max_timestamp >= timestamp) return b.base_offset;
  }
  return std::nullopt;
}

// Every answer the segment gives about `batches`, which it should hold exactly.
void expect_holds(segment& seg, const std::vector<test_batch>& batches) {
  int64_t next = batches.empty() ? seg.base_offset() : batches.back().last_offset + 1;
  ASSERT_EQ(seg.next_offset(), next);
  ASSERT_EQ(read_everything(seg), concat(batches, batches.size()));
  int64_t max_ts = -1;
  int64_t offset_of_max = -1;
  for (const auto& b : batches) {
    if (b.max_timestamp > max_ts) {
      max_ts = b.max_timestamp;
      offset_of_max = b.last_offset;
    }
  }
  EXPECT_EQ(seg.max_timestamp(), max_ts);
  EXPECT_EQ(seg.offset_of_max_timestamp(), offset_of_max);
  for (const auto& b : batches) {
    for (int64_t offset = b.base_offset; offset <= b.last_offset; ++offset) {
      auto range = seg.read(offset, 1);
      ASSERT_TRUE(range.ok()) << range.error().message;
      ASSERT_TRUE(range->has_value()) << offset;
      EXPECT_EQ((*range)->first_offset, b.base_offset) << offset;
      EXPECT_EQ((*range)->last_offset, b.last_offset) << offset;
      auto bytes = seg.read_range(**range);
      ASSERT_TRUE(bytes.ok());
      ASSERT_EQ(std::vector<uint8_t>(bytes->begin(), bytes->end()), b.bytes) << offset;
    }
  }
  for (int64_t ts :
       {int64_t{-1}, int64_t{0}, int64_t{999'999}, int64_t{1'000'000}, int64_t{1'002'500},
        int64_t{1'005'000}, int64_t{1'007'777}, int64_t{1'009'999}, int64_t{1'010'000}}) {
    auto found = seg.find_offset_by_timestamp(ts);
    ASSERT_TRUE(found.ok()) << found.error().message;
    EXPECT_EQ(*found, expected_offset_for(batches, ts)) << "timestamp " << ts;
  }
}

std::unique_ptr<segment> create_ok(file_system& fs, const std::string& directory,
                                   uint32_t interval = 1024) {
  auto created = segment::create(fs, directory, base, {.index_interval_bytes = interval});
  EXPECT_TRUE(created.ok()) << created.error().message;
  return created.ok() ? std::move(*created) : nullptr;
}

std::unique_ptr<segment> open_ok(file_system& fs, const std::string& directory, bool recover,
                                 uint32_t interval = 1024) {
  auto opened = segment::open(fs, directory, base, {.index_interval_bytes = interval}, recover);
  EXPECT_TRUE(opened.ok()) << opened.error().message;
  return opened.ok() ? std::move(*opened) : nullptr;
}

class Segment : public ::testing::Test {
 protected:
  Segment() {
    EXPECT_TRUE(fs_.create_directories(dir).ok());
    EXPECT_TRUE(fs_.sync_directory("/").ok());
  }

  fault_injecting_file_system fs_;
  std::mt19937_64 rng_{42};
  batch_log log_{base};
};

TEST(SegmentFileName, TwentyDigitsThenTheExtension) {
  EXPECT_EQ(segment_file_name(42, log_extension), "00000000000000000042.log");
  EXPECT_EQ(segment_file_name(INT64_MAX, time_index_extension), "09223372036854775807.timeindex");
  EXPECT_EQ(parse_segment_file_name("00000000000000000042.index", offset_index_extension), 42);
  EXPECT_EQ(parse_segment_file_name("00000000000000000042.index", log_extension), std::nullopt);
  EXPECT_EQ(parse_segment_file_name("0000000000000000042.log", log_extension), std::nullopt);
  EXPECT_EQ(parse_segment_file_name("0000000000000000004x.log", log_extension), std::nullopt);
  EXPECT_EQ(parse_segment_file_name("-0000000000000000042.log", log_extension), std::nullopt);
  EXPECT_EQ(parse_segment_file_name("99999999999999999999.log", log_extension), std::nullopt);
}

TEST_F(Segment, CreateFailsWhenAFileExists) {
  auto seg = create_ok(fs_, dir);
  EXPECT_TRUE(seg->empty());
  EXPECT_EQ(seg->next_offset(), base);
  EXPECT_EQ(seg->max_timestamp(), -1);
  auto again = segment::create(fs_, dir, base, {});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, EEXIST);
  fs_.crash();
  EXPECT_TRUE(*fs_.exists(log_path)) << "created durably";
}

TEST_F(Segment, AppendsAndReadsManyBatchesOfVariedSizes) {
  auto seg = create_ok(fs_, dir, 256);
  log_.add_random(rng_, 150);
  append_all(*seg, log_.batches());
  expect_holds(*seg, log_.batches());
  EXPECT_GT(read_file(fs_, index_path).size(), 50 * offset_index::entry_size)
      << "sparse, not empty";
  EXPECT_GT(read_file(fs_, time_index_path).size(), 0u);

  // Several batches in one append: one write.
  batch_log more(log_.next_offset());
  more.add_random(rng_, 5);
  auto bytes = concat(more.batches(), 5);
  auto writes = fs_.counts().writes;
  ASSERT_TRUE(seg->append(bytes).ok());
  EXPECT_LE(fs_.counts().writes - writes, 3u) << "the log and at most one write per index";
  EXPECT_EQ(seg->next_offset(), more.next_offset());
}

TEST_F(Segment, ReadsWholeBatchesUpToMaxBytesButTheFirstAlwaysWhole) {
  auto seg = create_ok(fs_, dir);
  const auto first = log_.add({1, 2, 3}, 500);
  log_.add({4}, 100);
  log_.add({5}, 100);
  append_all(*seg, log_.batches());

  auto range = seg->read(base + 1, 10);
  ASSERT_TRUE(range.ok());
  ASSERT_TRUE(range->has_value());
  EXPECT_EQ((*range)->position, 0u);
  EXPECT_EQ((*range)->length, first.bytes.size());
  EXPECT_EQ((*range)->first_offset, base);
  EXPECT_EQ((*range)->last_offset, base + 2);

  size_t two = log_.batches()[0].bytes.size() + log_.batches()[1].bytes.size();
  range = seg->read(base, two + 10);
  ASSERT_TRUE(range.ok());
  EXPECT_EQ((*range)->length, two);
  EXPECT_EQ((*range)->last_offset, base + 3);

  range = seg->read(log_.next_offset(), 1 << 20);
  ASSERT_TRUE(range.ok());
  EXPECT_FALSE(range->has_value()) << "at the end";
  range = seg->read(base - 50, 1);
  ASSERT_TRUE(range.ok());
  EXPECT_EQ((*range)->first_offset, base) << "below the base: the first batch";
}

TEST_F(Segment, FindsOffsetsByNonMonotonicTimestamps) {
  auto seg = create_ok(fs_, dir, 0);
  log_.add({500, 400}, 10);
  log_.add({300}, 10);
  log_.add({700, 100}, 10);
  log_.add({600}, 10);
  log_.add({-1}, 10);
  log_.add({900}, 10);
  append_all(*seg, log_.batches());
  auto at = [&](int64_t ts) { return *seg->find_offset_by_timestamp(ts); };
  EXPECT_EQ(at(0), base);
  EXPECT_EQ(at(500), base);
  EXPECT_EQ(at(501), base + 3) << "the batch with 700";
  EXPECT_EQ(at(650), base + 3);
  EXPECT_EQ(at(701), base + 7);
  EXPECT_EQ(at(901), std::nullopt);
  EXPECT_EQ(seg->max_timestamp(), 900);
  EXPECT_EQ(seg->offset_of_max_timestamp(), base + 7);
}

TEST_F(Segment, TruncateThenAppendAgain) {
  auto seg = create_ok(fs_, dir, 300);
  log_.add_random(rng_, 60);
  append_all(*seg, log_.batches());
  int64_t cut = log_.batches()[30].base_offset;
  ASSERT_TRUE(seg->truncate_to(cut).ok());
  log_.truncate_to(cut);
  expect_holds(*seg, log_.batches());
  auto range = seg->read(cut, 1);
  ASSERT_TRUE(range.ok());
  EXPECT_FALSE(range->has_value());

  size_t kept = log_.batches().size();
  log_.add_random(rng_, 40);
  append_all(*seg, log_.batches(), kept);
  expect_holds(*seg, log_.batches());
  ASSERT_TRUE(seg->flush().ok());
  seg.reset();
  auto reopened = open_ok(fs_, dir, false, 300);
  expect_holds(*reopened, log_.batches());

  ASSERT_TRUE(reopened->truncate_to(base - 5).ok());
  log_.truncate_to(base);
  expect_holds(*reopened, {});
  EXPECT_EQ(read_file(fs_, log_path), "");
}

TEST_F(Segment, ReopensWithoutRecoveryUsingTheIndexesOnDisk) {
  auto seg = create_ok(fs_, dir, 256);
  log_.add_random(rng_, 80);
  append_all(*seg, log_.batches());
  ASSERT_TRUE(seg->flush().ok());
  seg.reset();
  // A valid but sparser index: loaded as it is, where a rebuild would fill it.
  std::string index = read_file(fs_, index_path);
  ASSERT_GT(index.size(), 16u);
  write_file(fs_, index_path, index.substr(0, 16));

  auto reopened = open_ok(fs_, dir, false, 256);
  expect_holds(*reopened, log_.batches());
  EXPECT_EQ(read_file(fs_, index_path).size(), 16u) << "not rebuilt";

  // And appending after a reopen indexes as before.
  size_t kept = log_.batches().size();
  log_.add_random(rng_, 20);
  append_all(*reopened, log_.batches(), kept);
  expect_holds(*reopened, log_.batches());
}

TEST_F(Segment, RebuildsMissingOrGarbageIndexesWithTheSameAnswers) {
  auto seg = create_ok(fs_, dir, 256);
  log_.add_random(rng_, 80);
  append_all(*seg, log_.batches());
  ASSERT_TRUE(seg->flush().ok());
  seg.reset();
  std::string index = read_file(fs_, index_path);
  std::string time_index = read_file(fs_, time_index_path);

  ASSERT_TRUE(fs_.remove(index_path).ok());
  auto reopened = open_ok(fs_, dir, false, 256);
  expect_holds(*reopened, log_.batches());
  EXPECT_EQ(read_file(fs_, index_path), index) << "rebuilt";
  reopened.reset();

  write_file(fs_, time_index_path, "not a time index");
  reopened = open_ok(fs_, dir, false, 256);
  expect_holds(*reopened, log_.batches());
  EXPECT_EQ(read_file(fs_, time_index_path), time_index);
  reopened.reset();

  // Entries out of order, and no time index at all.
  std::string swapped = index.substr(8, 8) + index.substr(0, 8) + index.substr(16);
  write_file(fs_, index_path, swapped);
  ASSERT_TRUE(fs_.remove(time_index_path).ok());
  reopened = open_ok(fs_, dir, false, 256);
  expect_holds(*reopened, log_.batches());
  EXPECT_EQ(read_file(fs_, index_path), index);
  EXPECT_EQ(read_file(fs_, time_index_path), time_index);
  reopened.reset();

  // A last entry that decodes but does not name the batch at its position.
  std::string shifted = index;
  shifted[shifted.size() - 1] = static_cast<char>(shifted.back() + 1);
  write_file(fs_, index_path, shifted);
  reopened = open_ok(fs_, dir, false, 256);
  expect_holds(*reopened, log_.batches());
  EXPECT_EQ(read_file(fs_, index_path), index);
}

TEST_F(Segment, RecoveryAfterACrashKeepsWholeBatchesOnly) {
  for (uint64_t seed = 0; seed < 40; ++seed) {
    SCOPED_TRACE(seed);
    fault_injecting_file_system fs;
    ASSERT_TRUE(fs.create_directories(dir).ok());
    ASSERT_TRUE(fs.sync_directory("/").ok());
    std::mt19937_64 rng(seed);
    batch_log log(base);
    log.add_random(rng, 10);
    auto seg = create_ok(fs, dir, 512);
    append_all(*seg, log.batches());
    ASSERT_TRUE(seg->flush().ok());
    size_t synced = log.batches().size();
    log.add_random(rng, 10);
    append_all(*seg, log.batches(), synced);
    seg.reset();

    fs.crash(seed);
    auto recovered = open_ok(fs, dir, true, 512);
    ASSERT_NE(recovered, nullptr);
    size_t kept = 0;
    while (kept < log.batches().size() &&
           recovered->next_offset() > log.batches()[kept].base_offset) {
      ++kept;
    }
    ASSERT_GE(kept, synced);
    std::vector<test_batch> survivors(log.batches().begin(), log.batches().begin() + kept);
    expect_holds(*recovered, survivors);
    EXPECT_EQ(read_file(fs, log_path).size(), recovered->size_bytes()) << "torn tail cut";

    // The log goes on after the cut.
    batch_log after(recovered->next_offset());
    after.add_random(rng, 3);
    append_all(*recovered, after.batches());
    survivors.insert(survivors.end(), after.batches().begin(), after.batches().end());
    expect_holds(*recovered, survivors);
  }
}

TEST_F(Segment, RecoveryCutsAtAFlippedByte) {
  auto seg = create_ok(fs_, dir, 256);
  log_.add_random(rng_, 30);
  append_all(*seg, log_.batches());
  ASSERT_TRUE(seg->flush().ok());
  seg.reset();
  size_t position = concat(log_.batches(), 17).size();
  auto f = fs_.open(log_path, open_mode::read_write);
  ASSERT_TRUE(f.ok());
  uint8_t byte = 0;
  size_t inside = position + log_.batches()[17].bytes.size() - 1;
  ASSERT_TRUE((*f)->read_at(inside, {&byte, 1}).ok());
  byte ^= 0x40;
  ASSERT_TRUE((*f)->write_at(inside, {&byte, 1}).ok());
  f->reset();

  auto recovered = open_ok(fs_, dir, true, 256);
  log_.truncate_to(log_.batches()[17].base_offset);
  expect_holds(*recovered, log_.batches());
  EXPECT_EQ(recovered->size_bytes(), position);
  fs_.crash();
  EXPECT_EQ(read_file(fs_, log_path).size(), position) << "the cut is synced";
}

TEST_F(Segment, RecoversBatchesLargerThanItsReadChunk) {
  auto seg = create_ok(fs_, dir);
  log_.add({1}, 100);
  log_.add({2}, 3 << 20);
  log_.add({3}, 100);
  auto torn = make_batch(log_.next_offset(), {4}, 2 << 20);
  append_all(*seg, log_.batches());
  ASSERT_TRUE(seg->append(torn.bytes).ok());
  ASSERT_TRUE(seg->flush().ok());
  seg.reset();
  auto f = fs_.open(log_path, open_mode::read_write);
  ASSERT_TRUE((*f)->truncate(*(*f)->size() - 1).ok());
  f->reset();

  auto recovered = open_ok(fs_, dir, true);
  expect_holds(*recovered, log_.batches());
}

TEST_F(Segment, RecoveryCutsAtOffsetsThatGoBack) {
  auto seg = create_ok(fs_, dir);
  log_.add({1, 2}, 10);
  append_all(*seg, log_.batches());
  ASSERT_TRUE(seg->flush().ok());
  seg.reset();
  auto stale = make_batch(base + 1, {3}, 10);  // overlaps the batch before
  auto f = fs_.open(log_path, open_mode::read_write);
  ASSERT_TRUE((*f)->write_at(*(*f)->size(), stale.bytes).ok());
  ASSERT_TRUE((*f)->sync().ok());
  f->reset();
  auto recovered = open_ok(fs_, dir, true);
  expect_holds(*recovered, log_.batches());
}

TEST_F(Segment, RejectsBytesThatAreNotBatchesThatFollow) {
  auto seg = create_ok(fs_, dir);
  log_.add({1, 2}, 10);
  append_all(*seg, log_.batches());
  auto behind = make_batch(base + 1, {3}, 10);
  auto failed = seg->append(behind.bytes);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, EINVAL);
  auto garbage = to_bytes("certainly not a record batch, though long enough for a header....");
  failed = seg->append(garbage);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, EINVAL);
  auto too_far = make_batch(base + (int64_t{1} << 31), {3}, 10);
  failed = seg->append(too_far.bytes);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, EFBIG);
  expect_holds(*seg, log_.batches());
}

// A failed append leaves nothing visible, in memory or on disk, and the next
// one works.
class SegmentWriteFault : public Segment {
 protected:
  // `cut_back`: whether the failed call itself cuts the file back (not when
  // the cut is made to fail too: the next append retries it).
  void expect_failed_append_is_invisible(
      const std::function<void()>& inject, int code, const std::function<void()>& heal = [] {},
      bool cut_back = true) {
    auto seg = create_ok(fs_, dir, 0);
    log_.add_random(rng_, 20);
    append_all(*seg, log_.batches());
    size_t kept = log_.batches().size();
    // Batches that add entries to both indexes.
    log_.add_random(rng_, 2);
    log_.add({2'000'000}, 10);
    auto failing = concat(log_.batches(), log_.batches().size());
    failing.erase(failing.begin(), failing.begin() + static_cast<ptrdiff_t>(seg->size_bytes()));

    inject();
    auto failed = seg->append(failing);
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.error().code, code) << failed.error().message;
    std::vector<test_batch> before(log_.batches().begin(), log_.batches().begin() + kept);
    expect_holds(*seg, before);
    EXPECT_EQ(read_file(fs_, log_path).size() == seg->size_bytes(), cut_back);

    heal();
    auto appended = seg->append(failing);
    ASSERT_TRUE(appended.ok()) << appended.error().message;
    EXPECT_EQ(read_file(fs_, log_path).size(), seg->size_bytes());
    expect_holds(*seg, log_.batches());
    ASSERT_TRUE(seg->flush().ok());
    seg.reset();
    fs_.crash();
    auto recovered = open_ok(fs_, dir, true, 0);
    expect_holds(*recovered, log_.batches());
    EXPECT_EQ(read_file(fs_, index_path).size() % offset_index::entry_size, 0u);
  }
};

TEST_F(SegmentWriteFault, NoSpaceLeft) {
  expect_failed_append_is_invisible(
      [&] { fs_.set_capacity(fs_.used_bytes() + 700); }, ENOSPC,
      [&] { fs_.set_capacity(fault_injecting_file_system::unlimited); });
}

TEST_F(SegmentWriteFault, IoErrorOnTheLog) {
  expect_failed_append_is_invisible([&] { fs_.fail_next(operation::write, EIO, 1, ".log"); }, EIO);
}

TEST_F(SegmentWriteFault, ShortWriteOfTheLog) {
  expect_failed_append_is_invisible([&] { fs_.short_write_next(100, ".log"); }, EIO);
}

TEST_F(SegmentWriteFault, FailedOffsetIndexWrite) {
  expect_failed_append_is_invisible([&] { fs_.fail_next(operation::write, EIO, 1, ".index"); },
                                    EIO);
}

TEST_F(SegmentWriteFault, FailedTimeIndexWrite) {
  expect_failed_append_is_invisible(
      [&] { fs_.fail_next(operation::write, ENOSPC, 1, ".timeindex"); }, ENOSPC);
}

TEST_F(SegmentWriteFault, CuttingBackFailsTooAndIsRetried) {
  expect_failed_append_is_invisible(
      [&] {
        fs_.short_write_next(100, ".log");
        fs_.fail_next(operation::truncate, EIO, 1, ".log");
      },
      EIO, [] {}, false);
}

TEST_F(Segment, MapRangeCopiesFromAFileThatCannotBeMapped) {
  log_.add_random(rng_, 20);
  auto seg = create_ok(fs_, dir);
  append_all(*seg, log_.batches());
  auto range = seg->read(base, SIZE_MAX);
  ASSERT_TRUE(range.ok() && *range);
  auto once = seg->map_range(**range);
  auto twice = seg->map_range(**range);
  ASSERT_TRUE(once.ok() && twice.ok());
  EXPECT_EQ(bytes_of(*once), concat(log_.batches(), log_.batches().size()));
  EXPECT_EQ(*once, *twice);
  EXPECT_NE(once->data(), twice->data()) << "copies, not views";
}

// The fault model, like Linux, lets the fsync after a failed one succeed
// although the failed one's pages are gone.
TEST_F(Segment, AFailedFsyncOfTheLogFailsEveryLaterOne) {
  auto seg = create_ok(fs_, dir);
  log_.add_random(rng_, 3);
  append_all(*seg, log_.batches());
  fs_.fail_next(operation::sync, EIO, 1, ".log");
  auto first = seg->sync_log_concurrently();
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.error().code, EIO);
  for (auto later : {seg->flush_log(), seg->flush(), seg->sync_log_concurrently()}) {
    ASSERT_FALSE(later.ok());
    EXPECT_EQ(later.error().code, EIO) << later.error().message;
  }
}

TEST_F(Segment, AFailedReservationLeavesTheAppendAloneAndIsNotRetried) {
  auto seg = create_ok(fs_, dir);
  log_.add_random(rng_, 3);
  fs_.fail_next(operation::reserve, ENOSPC, 1, ".log");
  append_all(*seg, log_.batches());
  expect_holds(*seg, log_.batches());
  // One try at the first append; this segment then writes without.
  EXPECT_EQ(fs_.counts().reserves, 1u);
}

TEST_F(Segment, ReservesAheadOnlyAsItGrowsPastTheReservation) {
  auto seg = create_ok(fs_, dir);
  for (int i = 0; i < 200; ++i) log_.add({1'000'000}, 1000);
  append_all(*seg, log_.batches());
  // Each reservation reaches twice the size it was made at: about log2 of
  // the segment's growth, not one per append.
  EXPECT_GE(fs_.counts().reserves, 1u);
  EXPECT_LE(fs_.counts().reserves, 10u);
}

// Bytes of disk the file at `path` occupies.
uint64_t allocated_bytes(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

// What a file of `bytes` in `directory` may occupy without a reservation: its
// blocks, and a few of the file system's own (an extent tree that no longer
// fits the inode).
uint64_t unreserved_bound(const std::string& directory, uint64_t bytes) {
  struct statvfs fs {};
  EXPECT_EQ(::statvfs(directory.c_str(), &fs), 0);
  const uint64_t block = std::max<uint64_t>(fs.f_frsize, 512);
  return (bytes + block - 1) / block * block + 4 * block;
}

// On the real disk: space reserved past the end while the segment grows,
// given back by flush(), and by the flush after recovery when the writer
// died holding it.
TEST(PosixSegment, ReservedSpaceIsGivenBackByFlushAndAfterACrash) {
  temporary_directory directory;
  auto fs = make_posix_file_system();
  const std::string path = directory.path() + "/" + segment_file_name(base, log_extension);
  batch_log log(base);
  // Each append below starts a reservation: the first of the segment, and
  // the first after a flush gave the last one back.
  log.add(std::vector<int64_t>(200, 1), 1000);
  {
    const std::string probe = directory.path() + "/probe";
    auto f = fs->open(probe, open_mode::create_read_write);
    ASSERT_TRUE(f.ok());
    if (!(*f)->reserve(0, 1 << 20).ok() || allocated_bytes(probe) < (1 << 20)) {
      GTEST_SKIP() << "the file system under /tmp does not reserve with fallocate(2)";
    }
    ASSERT_TRUE(fs->remove(probe).ok());
  }
  auto seg = create_ok(*fs, directory.path());
  append_all(*seg, log.batches());
  const uint64_t size = seg->size_bytes();
  EXPECT_GT(allocated_bytes(path), unreserved_bound(directory.path(), size));
  ASSERT_TRUE(seg->flush().ok());
  EXPECT_LE(allocated_bytes(path), unreserved_bound(directory.path(), size));

  // Growing again reserves again; the process "dies" without a flush.
  log.add({4}, 200'000);
  append_all(*seg, log.batches(), log.batches().size() - 1);
  const uint64_t grown = seg->size_bytes();
  EXPECT_GT(allocated_bytes(path), unreserved_bound(directory.path(), grown));
  seg.reset();
  auto recovered = open_ok(*fs, directory.path(), true);
  expect_holds(*recovered, log.batches());
  ASSERT_TRUE(recovered->flush().ok());
  EXPECT_LE(allocated_bytes(path), unreserved_bound(directory.path(), grown));

  // Cutting the log back gives back what was reserved past the cut too.
  log.add(std::vector<int64_t>(200, 5), 1000);
  append_all(*recovered, log.batches(), log.batches().size() - 1);
  EXPECT_GT(allocated_bytes(path), unreserved_bound(directory.path(), recovered->size_bytes()));
  const int64_t cut = log.batches().back().base_offset;
  ASSERT_TRUE(recovered->truncate_to(cut).ok());
  log.truncate_to(cut);
  expect_holds(*recovered, log.batches());
  EXPECT_LE(allocated_bytes(path), unreserved_bound(directory.path(), grown));
}

// map_range() on the real disk: ranges inside the window are views of one
// mapping (the same address every time: no copy); a read past the window's
// end moves it forward; one behind it, or after stop_mapping(), is copied
// (a fresh buffer every time). Views stay valid after the window moved and
// after the segment was removed.
TEST(PosixSegment, MapsAWindowThatMovesForwardAndCopiesBehindIt) {
  temporary_directory directory;
  auto fs = make_posix_file_system();
  batch_log log(base);
  log.add({1}, 100);
  // Four batches of 20 MiB: the last one starts past 60 MiB and ends past
  // the first window's 64 MiB.
  for (int i = 0; i < 4; ++i) log.add({2}, 20 << 20);
  auto seg = create_ok(*fs, directory.path());
  append_all(*seg, log.batches());
  auto range_of = [&](size_t batch) {
    auto range = seg->read(log.batches()[batch].base_offset, 0);
    EXPECT_TRUE(range.ok() && *range);
    return **range;
  };
  auto map = [&](size_t batch) {
    auto bytes = seg->map_range(range_of(batch));
    EXPECT_TRUE(bytes.ok()) << bytes.error().message;
    EXPECT_EQ(bytes_of(*bytes), log.batches()[batch].bytes) << "batch " << batch;
    return *bytes;
  };

  const auto first = map(0);
  EXPECT_EQ(map(0).data(), first.data()) << "a view of the same window";
  EXPECT_EQ(map(1).data(), first.data() + log.batches()[0].bytes.size());

  const auto last = map(4);
  EXPECT_EQ(map(4).data(), last.data()) << "the window moved forward";
  EXPECT_NE(map(0).data(), map(0).data()) << "behind the window: copied";
  EXPECT_EQ(bytes_of(first), log.batches()[0].bytes) << "the old window lives on in its view";

  // An idle window goes, a used one stays; the next read maps afresh.
  seg->release_idle_window();
  EXPECT_EQ(map(4).data(), last.data()) << "used since: kept";
  seg->release_idle_window();
  seg->release_idle_window();
  const auto remapped = map(4);
  EXPECT_NE(remapped.data(), last.data()) << "idle: let go, mapped again";
  EXPECT_EQ(map(4).data(), remapped.data());

  seg->stop_mapping();
  EXPECT_NE(map(4).data(), map(4).data()) << "stopped: copied";

  ASSERT_TRUE(seg->remove().ok());
  seg.reset();
  EXPECT_EQ(bytes_of(last), log.batches()[4].bytes) << "removed, still mapped";
}

// After a cut, a view could show what is written at the cut positions next:
// the segment copies from then on.
TEST(PosixSegment, ACutSegmentNoLongerMaps) {
  temporary_directory directory;
  auto fs = make_posix_file_system();
  batch_log log(base);
  log.add({1}, 5000);
  log.add({2}, 5000);
  auto seg = create_ok(*fs, directory.path());
  append_all(*seg, log.batches());
  auto range = seg->read(base, 0);
  ASSERT_TRUE(range.ok() && *range);
  auto view = seg->map_range(**range);
  ASSERT_TRUE(view.ok());
  ASSERT_EQ(seg->map_range(**range)->data(), view->data()) << "mapped";
  ASSERT_TRUE(seg->truncate_to(log.batches()[1].base_offset).ok());
  auto after = seg->map_range(**range);
  ASSERT_TRUE(after.ok());
  EXPECT_NE(after->data(), view->data());
  EXPECT_NE(seg->map_range(**range)->data(), after->data()) << "copied";
  EXPECT_EQ(bytes_of(*after), log.batches()[0].bytes);
}

// The same life on the real disk.
TEST(PosixSegment, AppendFlushReopenAndRecover) {
  temporary_directory directory;
  auto fs = make_posix_file_system();
  std::mt19937_64 rng(7);
  batch_log log(base);
  log.add_random(rng, 60);
  auto seg = create_ok(*fs, directory.path(), 512);
  append_all(*seg, log.batches());
  expect_holds(*seg, log.batches());
  ASSERT_TRUE(seg->flush().ok());
  EXPECT_GE(seg->log_file().native_handle(), 0);
  seg.reset();

  auto reopened = open_ok(*fs, directory.path(), false, 512);
  expect_holds(*reopened, log.batches());
  int64_t cut = log.batches()[40].base_offset;
  ASSERT_TRUE(reopened->truncate_to(cut).ok());
  log.truncate_to(cut);
  ASSERT_TRUE(reopened->flush().ok());
  reopened.reset();

  // A torn tail, as a crash mid-write leaves it.
  auto torn = make_batch(log.next_offset(), {1, 2, 3}, 300);
  auto f = fs->open(directory.path() + "/" + segment_file_name(base, log_extension),
                    open_mode::read_write);
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->write_at(*(*f)->size(), std::span(torn.bytes).first(200)).ok());
  f->reset();
  auto recovered = open_ok(*fs, directory.path(), true, 512);
  expect_holds(*recovered, log.batches());
  ASSERT_TRUE(recovered->remove().ok());
  auto names = fs->list(directory.path());
  ASSERT_TRUE(names.ok());
  EXPECT_TRUE(names->empty());
}

}  // namespace
}  // namespace sluice::storage
