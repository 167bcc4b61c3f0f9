#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "protocol/record_batch.h"

namespace sluice::protocol {
namespace {

namespace layout = batch_layout;

constexpr size_t max_decompressed = 64 << 20;

std::span<const uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

record_batch parse_ok(const std::vector<uint8_t>& batch) {
  auto parsed = record_batch::parse(base::shared_bytes(batch));
  EXPECT_TRUE(parsed.ok()) << parsed.error().message;
  return std::move(parsed).value();
}

std::vector<record> decode_ok(const record_batch& batch) {
  auto records = decode_records(batch, max_decompressed);
  EXPECT_TRUE(records.ok()) << records.error().message;
  return std::move(records).value();
}

std::vector<uint8_t> rewrite_ok(const record_batch& batch, const std::vector<record>& kept,
                                const rewrite_options& options = {}) {
  auto rewritten = rewrite_batch(batch, kept, options);
  EXPECT_TRUE(rewritten.ok()) << rewritten.error().message;
  return std::move(rewritten).value();
}

// A stored batch as a transactional producer sent it and the log stamped it:
// `n` records "key-<i>" = "value-<i>" (every third one a tombstone), each
// with a header, timestamps 1000 + 10 i.
record_batch stored_batch(int n, compression codec = compression::none,
                          timestamp_type ts_type = timestamp_type::create_time) {
  batch_options options;
  options.codec = codec;
  options.ts_type = ts_type;
  options.producer_id = 4242;
  options.producer_epoch = 7;
  options.base_sequence = 19;
  options.transactional = true;
  record_batch_builder builder(options);
  for (int i = 0; i < n; ++i) {
    std::string key = "key-" + std::to_string(i);
    std::string value = "value-" + std::to_string(i);
    std::string header_value = "x" + std::to_string(i);
    header_view header{"h", bytes(header_value)};
    optional_bytes v = i % 3 == 2 ? std::nullopt : optional_bytes(bytes(value));
    builder.add(1000 + 10 * i, bytes(key), v, {&header, 1});
  }
  auto built = builder.build();
  EXPECT_TRUE(built.ok());
  set_base_offset(*built, 500);
  set_partition_leader_epoch(*built, 3);
  if (ts_type == timestamp_type::log_append_time) {
    set_max_timestamp(*built, ts_type, 99'000);
  }
  return parse_ok(*built);
}

// Keeps the records at these indexes.
std::vector<record> pick(const std::vector<record>& all, std::vector<size_t> indexes) {
  std::vector<record> kept;
  for (size_t i : indexes) kept.push_back(all[i]);
  return kept;
}

void expect_same_records(const record_batch& original, const std::vector<record>& expected,
                         const record_batch& rewritten) {
  auto got = decode_ok(rewritten);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].offset(rewritten.header()), expected[i].offset(original.header()));
    EXPECT_EQ(got[i].timestamp(rewritten.header()), expected[i].timestamp(original.header()));
    EXPECT_EQ(got[i].key, expected[i].key);
    EXPECT_EQ(got[i].value, expected[i].value);
    ASSERT_EQ(got[i].headers.size(), expected[i].headers.size());
    EXPECT_EQ(got[i].headers[0].key, expected[i].headers[0].key);
    EXPECT_EQ(got[i].headers[0].value, expected[i].headers[0].value);
  }
}

// The header fields a rewrite must leave as they were.
void expect_same_frame(const batch_header& a, const batch_header& b) {
  EXPECT_EQ(a.base_offset, b.base_offset);
  EXPECT_EQ(a.last_offset_delta, b.last_offset_delta);
  EXPECT_EQ(a.partition_leader_epoch, b.partition_leader_epoch);
  EXPECT_EQ(a.max_timestamp, b.max_timestamp);
  EXPECT_EQ(a.producer_id, b.producer_id);
  EXPECT_EQ(a.producer_epoch, b.producer_epoch);
  EXPECT_EQ(a.base_sequence, b.base_sequence);
  EXPECT_EQ(a.is_transactional(), b.is_transactional());
  EXPECT_EQ(a.is_control(), b.is_control());
  EXPECT_EQ(a.ts_type(), b.ts_type());
}

TEST(BatchRewrite, KeepsOffsetsAndHeaderOfASubset) {
  record_batch original = stored_batch(6);
  auto all = decode_ok(original);
  auto kept = pick(all, {1, 4});
  record_batch rewritten = parse_ok(rewrite_ok(original, kept));

  ASSERT_TRUE(verify_crc(rewritten).ok());
  ASSERT_TRUE(check_records(rewritten).ok());
  expect_same_frame(original.header(), rewritten.header());
  EXPECT_EQ(rewritten.header().attributes, original.header().attributes);
  EXPECT_EQ(rewritten.header().base_timestamp, original.header().base_timestamp);
  EXPECT_EQ(rewritten.header().records_count, 2);
  EXPECT_EQ(rewritten.header().last_offset(), 505);
  EXPECT_LT(rewritten.bytes().size(), original.bytes().size());
  expect_same_records(original, kept, rewritten);
  auto got = decode_ok(rewritten);
  EXPECT_EQ(got[0].offset(rewritten.header()), 501);
  EXPECT_EQ(got[1].offset(rewritten.header()), 504);
}

TEST(BatchRewrite, KeepingEveryRecordGivesTheSameBytes) {
  record_batch original = stored_batch(5);
  std::vector<uint8_t> rewritten = rewrite_ok(original, decode_ok(original));
  EXPECT_EQ(base::shared_bytes(rewritten), original.bytes());
}

TEST(BatchRewrite, RecompressesWithTheSameCodec) {
  for (compression codec :
       {compression::gzip, compression::snappy, compression::lz4, compression::zstd}) {
    SCOPED_TRACE(std::string(compression_name(codec)));
    record_batch original = stored_batch(20, codec);
    auto all = decode_ok(original);
    auto kept = pick(all, {0, 7, 19});
    record_batch rewritten = parse_ok(rewrite_ok(original, kept));
    ASSERT_TRUE(verify_crc(rewritten).ok());
    EXPECT_EQ(rewritten.header().codec(), codec);
    expect_same_frame(original.header(), rewritten.header());
    expect_same_records(original, kept, rewritten);
  }
}

TEST(BatchRewrite, DeleteHorizonTakesTheBaseTimestamp) {
  record_batch original = stored_batch(4, compression::lz4);
  ASSERT_FALSE(original.header().has_delete_horizon());
  auto kept = pick(decode_ok(original), {1, 2});  // 2 is a tombstone
  rewrite_options options;
  options.delete_horizon_ms = 86'400'000;
  record_batch rewritten = parse_ok(rewrite_ok(original, kept, options));

  ASSERT_TRUE(verify_crc(rewritten).ok());
  EXPECT_TRUE(rewritten.header().has_delete_horizon());
  EXPECT_EQ(rewritten.header().base_timestamp, 86'400'000);
  EXPECT_EQ(rewritten.header().codec(), compression::lz4);
  EXPECT_TRUE(rewritten.header().is_transactional());
  expect_same_frame(original.header(), rewritten.header());
  // Timestamps are the records' own, not the horizon's.
  expect_same_records(original, kept, rewritten);
  EXPECT_FALSE(decode_ok(rewritten)[1].value.has_value());

  // A later rewrite without a new horizon keeps the one there.
  auto again = pick(decode_ok(rewritten), {1});
  record_batch second = parse_ok(rewrite_ok(rewritten, again));
  EXPECT_TRUE(second.header().has_delete_horizon());
  EXPECT_EQ(second.header().base_timestamp, 86'400'000);
  expect_same_records(rewritten, again, second);
}

TEST(BatchRewrite, LogAppendTimeStays) {
  record_batch original = stored_batch(3, compression::none, timestamp_type::log_append_time);
  auto kept = pick(decode_ok(original), {2});
  rewrite_options options;
  options.delete_horizon_ms = 5'000'000;
  record_batch rewritten = parse_ok(rewrite_ok(original, kept, options));
  EXPECT_EQ(rewritten.header().ts_type(), timestamp_type::log_append_time);
  EXPECT_EQ(rewritten.header().max_timestamp, 99'000);
  EXPECT_EQ(decode_ok(rewritten)[0].timestamp(rewritten.header()), 99'000);
}

TEST(BatchRewrite, NothingKeptLeavesAnEmptyUncompressedHeader) {
  record_batch original = stored_batch(8, compression::zstd);
  record_batch rewritten = parse_ok(rewrite_ok(original, {}));

  EXPECT_EQ(rewritten.bytes().size(), layout::header_size);
  ASSERT_TRUE(verify_crc(rewritten).ok());
  ASSERT_TRUE(check_records(rewritten).ok());
  EXPECT_EQ(rewritten.header().records_count, 0);
  EXPECT_EQ(rewritten.header().codec(), compression::none);
  EXPECT_EQ(rewritten.header().last_offset(), 507);
  expect_same_frame(original.header(), rewritten.header());
  EXPECT_TRUE(decode_ok(rewritten).empty());
}

TEST(BatchRewrite, ControlBatchStaysAControlBatch) {
  txn_marker marker;
  marker.commit = true;
  marker.producer_id = 9;
  marker.producer_epoch = 2;
  marker.base_offset = 77;
  marker.timestamp = 1234;
  record_batch original = parse_ok(build_txn_marker_batch(marker));
  record_batch rewritten = parse_ok(rewrite_ok(original, decode_ok(original)));
  EXPECT_TRUE(rewritten.header().is_control());
  EXPECT_EQ(rewritten.bytes(), original.bytes());
}

}  // namespace
}  // namespace sluice::protocol
