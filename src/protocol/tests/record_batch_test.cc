#include "protocol/record_batch.h"

#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "base/byte_writer.h"
#include "base/crc32c.h"

namespace sluice::protocol {
namespace {

namespace layout = batch_layout;

constexpr size_t max_decompressed = 64 << 20;

std::span<const uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string text(const base::shared_bytes& b) { return std::string(b.as_string_view()); }

record_batch parse_ok(const std::vector<uint8_t>& batch) {
  auto parsed = record_batch::parse(base::shared_bytes(batch));
  EXPECT_TRUE(parsed.ok()) << parsed.error().message;
  return std::move(parsed).value();
}

std::vector<uint8_t> build_ok(record_batch_builder& builder) {
  auto built = builder.build();
  EXPECT_TRUE(built.ok()) << built.error().message;
  return std::move(built).value();
}

// A batch of `n` small records with keys "key-<i>" and values "value-<i>".
std::vector<uint8_t> small_batch(int n, const batch_options& options = {}) {
  record_batch_builder builder(options);
  for (int i = 0; i < n; ++i) {
    std::string key = "key-" + std::to_string(i);
    std::string value = "value-" + std::to_string(i);
    header_view header{"h", bytes("x")};
    builder.add(1000 + i, bytes(key), bytes(value), {&header, 1});
  }
  return build_ok(builder);
}

void put_int32(std::vector<uint8_t>& batch, size_t at, int32_t v) {
  uint32_t be = __builtin_bswap32(static_cast<uint32_t>(v));
  std::memcpy(batch.data() + at, &be, 4);
}
void put_int16(std::vector<uint8_t>& batch, size_t at, int16_t v) {
  uint16_t be = __builtin_bswap16(static_cast<uint16_t>(v));
  std::memcpy(batch.data() + at, &be, 2);
}

// Recomputes the CRC after a test has edited covered bytes, so that the
// check under test, not the CRC, is what rejects the batch.
void reseal(std::vector<uint8_t>& batch) {
  uint32_t crc =
      base::crc32c::value(batch.data() + layout::crc_start, batch.size() - layout::crc_start);
  put_int32(batch, layout::crc, static_cast<int32_t>(crc));
}

// A sealed batch whose records region is exactly `records`, claiming `count`
// records.
std::vector<uint8_t> with_records(std::span<const uint8_t> records, int32_t count) {
  std::vector<uint8_t> batch = small_batch(1);
  batch.resize(layout::header_size);
  batch.insert(batch.end(), records.begin(), records.end());
  put_int32(batch, layout::batch_length, static_cast<int32_t>(batch.size() - layout::log_overhead));
  put_int32(batch, layout::last_offset_delta, count - 1);
  put_int32(batch, layout::records_count, count);
  reseal(batch);
  return batch;
}

// Encodes one record field by field, lengths included, so tests can lie in any of them.
struct raw_record {
  base::byte_writer body;
  std::vector<uint8_t> finish(int32_t length_delta = 0) {
    base::byte_writer out;
    out.write_varint(static_cast<int32_t>(body.size()) + length_delta);
    out.write_bytes(body.buffer());
    return out.take();
  }
};

// ---------------------------------------------------------------------------

TEST(RecordBatch, BuilderWritesKnownBytesForOneRecord) {
  // One record, key "k", value "v", timestamp 1000, written out by hand.
  const std::vector<uint8_t> expected = {
      0,    0,    0,    0,    0,    0,    0,    0,  // base offset
      0,    0,    0,    58,                         // batch length: 70 - 12
      0xff, 0xff, 0xff, 0xff,                       // partition leader epoch -1
      2,                                            // magic
      0x71, 0x6a, 0x61, 0x89,  // CRC-32C of bytes 21..69 (computed independently)
      0,    0,                 // attributes
      0,    0,    0,    0,     // last offset delta
      0,    0,    0,    0,    0,    0,    0x03, 0xe8,  // base timestamp 1000
      0,    0,    0,    0,    0,    0,    0x03, 0xe8,  // max timestamp 1000
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  // producer id -1
      0xff, 0xff,                                      // producer epoch -1
      0xff, 0xff, 0xff, 0xff,                          // base sequence -1
      0,    0,    0,    1,                             // records count
      0x10,                                            // record length 8 (zigzag)
      0,                                               // attributes
      0,                                               // timestamp delta
      0,                                               // offset delta
      0x02, 'k',                                       // key
      0x02, 'v',                                       // value
      0,                                               // header count
  };
  record_batch_builder builder;
  builder.add(1000, bytes("k"), bytes("v"));
  EXPECT_EQ(build_ok(builder), expected);

  record_batch batch = parse_ok(expected);
  EXPECT_TRUE(verify_crc(batch).ok());
  EXPECT_TRUE(validate_produced_batch(batch).ok());
  auto records = decode_records(batch, 0);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 1u);
  EXPECT_EQ(text(*(*records)[0].key), "k");
  EXPECT_EQ(text(*(*records)[0].value), "v");
  EXPECT_EQ((*records)[0].timestamp(batch.header()), 1000);
}

TEST(RecordBatch, HeaderFieldsAndAttributes) {
  batch_options options;
  options.base_offset = 100;
  options.partition_leader_epoch = 7;
  options.codec = compression::lz4;
  options.ts_type = timestamp_type::log_append_time;
  options.producer_id = 42;
  options.producer_epoch = 3;
  options.base_sequence = 9;
  options.transactional = true;
  record_batch_builder builder(options);
  builder.add(500, bytes("a"), bytes("b"));
  builder.add(400, bytes("c"), bytes("d"));
  builder.add(900, std::nullopt, bytes("e"));
  EXPECT_EQ(builder.record_count(), 3);
  std::vector<uint8_t> bytes = build_ok(builder);

  auto h = parse_batch_header(bytes);
  ASSERT_TRUE(h.ok()) << h.error().message;
  EXPECT_EQ(h->base_offset, 100);
  EXPECT_EQ(h->batch_length, static_cast<int32_t>(bytes.size() - 12));
  EXPECT_EQ(h->size(), bytes.size());
  EXPECT_EQ(h->partition_leader_epoch, 7);
  EXPECT_EQ(h->magic, 2);
  EXPECT_EQ(h->codec(), compression::lz4);
  EXPECT_EQ(h->ts_type(), timestamp_type::log_append_time);
  EXPECT_TRUE(h->is_transactional());
  EXPECT_FALSE(h->is_control());
  EXPECT_FALSE(h->has_delete_horizon());
  EXPECT_EQ(h->last_offset_delta, 2);
  EXPECT_EQ(h->last_offset(), 102);
  EXPECT_EQ(h->base_timestamp, 500);
  EXPECT_EQ(h->max_timestamp, 900);
  EXPECT_EQ(h->producer_id, 42);
  EXPECT_EQ(h->producer_epoch, 3);
  EXPECT_EQ(h->base_sequence, 9);
  EXPECT_EQ(h->records_count, 3);

  bytes[layout::attributes + 1] |= 0x40;
  reseal(bytes);
  EXPECT_TRUE(parse_batch_header(bytes)->has_delete_horizon());
}

TEST(RecordBatch, HeaderDecodesWithoutTheRestOfTheBatch) {
  auto bytes = small_batch(3);
  std::span<const uint8_t, batch_layout::header_size> header(bytes.data(),
                                                             batch_layout::header_size);
  auto alone = decode_batch_header(header);
  auto whole = parse_batch_header(bytes);
  ASSERT_TRUE(alone.ok());
  ASSERT_TRUE(whole.ok());
  EXPECT_EQ(alone->last_offset(), whole->last_offset());
  EXPECT_EQ(alone->size(), bytes.size());
  EXPECT_FALSE(parse_batch_header(std::span<const uint8_t>(header)).ok());  // the rest is missing

  bytes[batch_layout::magic] = 1;
  EXPECT_EQ(decode_batch_header(header).error().code, batch_errc::invalid_record);
}

TEST(RecordBatch, RoundTripEveryCodec) {
  for (compression codec : {compression::none, compression::gzip, compression::snappy,
                            compression::lz4, compression::zstd}) {
    SCOPED_TRACE(std::string(compression_name(codec)));
    batch_options options;
    options.codec = codec;
    options.base_offset = 1000;
    record_batch_builder builder(options);
    std::vector<std::string> values(300);
    for (int i = 0; i < 300; ++i) values[i].assign(i * 7 % 500, char('a' + i % 26));
    for (int i = 0; i < 300; ++i) {
      std::string key = "key-" + std::to_string(i);
      std::vector<header_view> headers;
      if (i % 3 == 0) headers.push_back({"trace", bytes(key)});
      if (i % 5 == 0) headers.push_back({"null-header", std::nullopt});
      builder.add(10'000 + i, i % 4 == 0 ? optional_bytes() : bytes(key), bytes(values[i]),
                  headers);
    }
    std::vector<uint8_t> built = build_ok(builder);
    auto batches = split_batches(base::shared_bytes(built));
    ASSERT_TRUE(batches.ok()) << batches.error().message;
    ASSERT_EQ(batches->size(), 1u);
    const record_batch& batch = (*batches)[0];
    EXPECT_EQ(batch.header().codec(), codec);
    auto valid = validate_produced_batch(batch, max_decompressed);
    EXPECT_TRUE(valid.ok()) << valid.error().message;

    auto records = decode_records(batch, max_decompressed);
    ASSERT_TRUE(records.ok()) << records.error().message;
    ASSERT_EQ(records->size(), 300u);
    for (int i = 0; i < 300; ++i) {
      const record& r = (*records)[i];
      EXPECT_EQ(r.offset(batch.header()), 1000 + i);
      EXPECT_EQ(r.timestamp(batch.header()), 10'000 + i);
      EXPECT_EQ(r.offset_delta, i);
      if (i % 4 == 0) {
        EXPECT_FALSE(r.key.has_value());
      } else {
        EXPECT_EQ(text(*r.key), "key-" + std::to_string(i));
      }
      EXPECT_EQ(text(*r.value), values[i]);
      size_t expected_headers = (i % 3 == 0) + (i % 5 == 0);
      ASSERT_EQ(r.headers.size(), expected_headers);
      if (i % 3 == 0) {
        EXPECT_EQ(text(*r.headers[0].value), "key-" + std::to_string(i));
      }
      if (i % 5 == 0) {
        EXPECT_EQ(r.headers.back().key, "null-header");
        EXPECT_FALSE(r.headers.back().value.has_value());
      }
    }
  }
}

TEST(RecordBatch, CompressedRecordsNeedADecompressionBudget) {
  batch_options options;
  options.codec = compression::gzip;
  record_batch_builder builder(options);
  std::string big(100'000, 'z');
  builder.add(1, std::nullopt, bytes(big));
  record_batch batch = parse_ok(build_ok(builder));
  // Without a budget the compressed records are not looked at...
  EXPECT_TRUE(check_records(batch).ok());
  // ... and a budget smaller than the records is a clean failure.
  auto small = check_records(batch, 1000);
  ASSERT_FALSE(small.ok());
  EXPECT_EQ(small.error().code, batch_errc::corrupt_message);
  EXPECT_FALSE(decode_records(batch, 1000).ok());
  EXPECT_TRUE(decode_records(batch, 200'000).ok());
}

TEST(RecordBatch, NullAndEmptyAreDistinct) {
  record_batch_builder builder;
  std::vector<header_view> headers = {
      {"empty", bytes("")}, {"null", std::nullopt}, {"", bytes("v")}};
  builder.add(0, std::nullopt, bytes(""));
  builder.add(0, bytes(""), std::nullopt, headers);
  record_batch batch = parse_ok(build_ok(builder));
  auto records = decode_records(batch, 0);
  ASSERT_TRUE(records.ok()) << records.error().message;
  const record& a = (*records)[0];
  const record& b = (*records)[1];
  EXPECT_FALSE(a.key.has_value());
  ASSERT_TRUE(a.value.has_value());
  EXPECT_TRUE(a.value->empty());
  ASSERT_TRUE(b.key.has_value());
  EXPECT_TRUE(b.key->empty());
  EXPECT_FALSE(b.value.has_value());
  ASSERT_EQ(b.headers.size(), 3u);
  EXPECT_EQ(b.headers[0].key, "empty");
  ASSERT_TRUE(b.headers[0].value.has_value());
  EXPECT_TRUE(b.headers[0].value->empty());
  EXPECT_EQ(b.headers[1].key, "null");
  EXPECT_FALSE(b.headers[1].value.has_value());
  EXPECT_EQ(b.headers[2].key, "");
  EXPECT_EQ(text(*b.headers[2].value), "v");
}

TEST(RecordBatch, VarintBoundaryLengthsRoundTrip) {
  // ZigZag doubles a length: one byte holds up to 63, two up to 8191, three up to 1048575.
  for (size_t n : {0, 1, 63, 64, 65, 127, 128, 8191, 8192, 8193, 16383, 16384, 1048575, 1048576}) {
    SCOPED_TRACE(n);
    std::string key(n, 'k');
    std::string value(n, 'v');
    std::string header_key(n % 300, 'h');
    header_view header{header_key, bytes(value)};
    record_batch_builder builder;
    builder.add(-1, bytes(key), bytes(value), {&header, 1});
    // Timestamp deltas far from the base and across varlong byte boundaries.
    builder.add(std::numeric_limits<int32_t>::max(), std::nullopt, bytes(key));
    record_batch batch = parse_ok(build_ok(builder));
    ASSERT_TRUE(validate_produced_batch(batch).ok());
    auto records = decode_records(batch, 0);
    ASSERT_TRUE(records.ok()) << records.error().message;
    EXPECT_EQ((*records)[0].key->size(), n);
    EXPECT_EQ((*records)[0].value->size(), n);
    EXPECT_EQ((*records)[0].headers[0].key, header_key);
    EXPECT_EQ((*records)[0].headers[0].value->size(), n);
    EXPECT_EQ((*records)[1].timestamp(batch.header()), std::numeric_limits<int32_t>::max());
  }
}

TEST(RecordBatch, ManyRecordsStreamThroughTheReader) {
  record_batch_builder builder;
  for (int i = 0; i < 20'000; ++i) {
    std::string value = std::to_string(i);
    std::vector<header_view> headers(i % 4, header_view{"k", bytes(value)});
    builder.add(i % 2 == 0 ? i : -i, std::nullopt, bytes(value), headers);
  }
  record_batch batch = parse_ok(build_ok(builder));
  EXPECT_EQ(batch.header().max_timestamp, 19'998);
  ASSERT_TRUE(validate_produced_batch(batch).ok());

  auto reader = record_reader::open(batch, 0);
  ASSERT_TRUE(reader.ok());
  record r;
  int count = 0;
  while (true) {
    auto more = reader->next(r);
    ASSERT_TRUE(more.ok()) << more.error().message;
    if (!*more) break;
    // The header vector is reused, so its size must follow each record.
    ASSERT_EQ(r.headers.size(), static_cast<size_t>(count % 4));
    EXPECT_EQ(text(*r.value), std::to_string(count));
    EXPECT_EQ(r.timestamp(batch.header()), count % 2 == 0 ? count : -count);
    ++count;
  }
  EXPECT_EQ(count, 20'000);
  // The end stays the end.
  auto again = reader->next(r);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
}

TEST(RecordBatch, SplitsARangeIntoSlices) {
  std::vector<uint8_t> range;
  for (int i = 1; i <= 3; ++i) {
    batch_options options;
    options.base_offset = int64_t{i} * 100;
    std::vector<uint8_t> b = small_batch(i, options);
    range.insert(range.end(), b.begin(), b.end());
  }
  base::shared_bytes shared(range);
  auto batches = split_batches(shared);
  ASSERT_TRUE(batches.ok()) << batches.error().message;
  ASSERT_EQ(batches->size(), 3u);
  size_t at = 0;
  for (int i = 0; i < 3; ++i) {
    const record_batch& b = (*batches)[i];
    EXPECT_EQ(b.header().base_offset, (i + 1) * 100);
    EXPECT_EQ(b.header().records_count, i + 1);
    // A view into the range, not a copy.
    EXPECT_EQ(b.bytes().data(), shared.data() + at);
    at += b.bytes().size();
  }
  EXPECT_EQ(at, range.size());

  EXPECT_TRUE(split_batches(base::shared_bytes()).ok());
}

TEST(RecordBatch, PartialTailIsAnErrorUnlessTolerated) {
  std::vector<uint8_t> one = small_batch(2);
  std::vector<uint8_t> range = one;
  range.insert(range.end(), one.begin(), one.begin() + 30);
  base::shared_bytes shared(range);

  auto strict = split_batches(shared);
  ASSERT_FALSE(strict.ok());
  EXPECT_EQ(strict.error().code, batch_errc::corrupt_message);

  batch_splitter splitter(shared, {.allow_partial_tail = true});
  auto first = splitter.next();
  ASSERT_TRUE(first.ok() && first->has_value());
  auto tail = splitter.next();
  ASSERT_TRUE(tail.ok());
  EXPECT_FALSE(tail->has_value());
  EXPECT_EQ(splitter.position(), one.size());

  // Garbage is not a partial batch, even at the end.
  std::vector<uint8_t> garbage = one;
  std::vector<uint8_t> junk(20, 0x55);
  garbage.insert(garbage.end(), junk.begin(), junk.end());
  auto bad = split_batches(base::shared_bytes(garbage), {.allow_partial_tail = true});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("byte " + std::to_string(one.size())), std::string::npos);
}

TEST(RecordBatch, TruncationAtEveryLengthFailsCleanly) {
  std::vector<uint8_t> whole = small_batch(3);
  for (size_t n = 0; n < whole.size(); ++n) {
    SCOPED_TRACE(n);
    std::vector<uint8_t> prefix(whole.begin(), whole.begin() + n);
    base::shared_bytes shared(prefix);
    auto parsed = record_batch::parse(shared);
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.error().code, batch_errc::corrupt_message);
    EXPECT_EQ(split_batches(shared).ok(), n == 0);
    auto tolerant = split_batches(shared, {.allow_partial_tail = true});
    ASSERT_TRUE(tolerant.ok());
    EXPECT_TRUE(tolerant->empty());
  }
}

TEST(RecordBatch, TruncatedRecordsWithAConsistentHeaderFailCleanly) {
  // The header agrees with the cut (length and CRC), so only the record walk can notice.
  std::vector<uint8_t> whole = small_batch(3);
  for (size_t k = 0; k < whole.size() - layout::header_size; ++k) {
    SCOPED_TRACE(k);
    std::vector<uint8_t> cut(whole.begin(), whole.begin() + layout::header_size + k);
    put_int32(cut, layout::batch_length, static_cast<int32_t>(cut.size() - layout::log_overhead));
    reseal(cut);
    record_batch batch = parse_ok(cut);
    EXPECT_TRUE(verify_crc(batch).ok());
    auto checked = check_records(batch);
    ASSERT_FALSE(checked.ok());
    EXPECT_EQ(checked.error().code, batch_errc::invalid_record);
    EXPECT_FALSE(validate_produced_batch(batch).ok());
    EXPECT_FALSE(decode_records(batch, 0).ok());
  }
}

TEST(RecordBatch, ACorruptedByteAnywhereIsDetected) {
  std::vector<uint8_t> whole = small_batch(3);
  for (size_t i = 0; i < whole.size(); ++i) {
    SCOPED_TRACE(i);
    std::vector<uint8_t> bad = whole;
    bad[i] ^= 0x01;
    base::shared_bytes shared(bad);
    auto batches = split_batches(shared);
    bool rejected =
        !batches.ok() || batches->size() != 1 || !validate_produced_batch((*batches)[0]).ok();
    bool outside_crc =
        i < layout::batch_length || (i >= layout::partition_leader_epoch && i < layout::magic);
    // Base offset and leader epoch are the broker's to set; everything else is checked.
    EXPECT_EQ(rejected, !outside_crc);
  }
}

TEST(RecordBatch, HeaderChecks) {
  std::vector<uint8_t> good = small_batch(1);

  std::vector<uint8_t> magic = good;
  magic[layout::magic] = 3;
  auto e = parse_batch_header(magic);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, batch_errc::corrupt_message);
  magic[layout::magic] = 1;
  e = parse_batch_header(magic);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, batch_errc::invalid_record);
  EXPECT_NE(e.error().message.find("legacy"), std::string::npos);

  for (int32_t length : {-1, 0, 48, std::numeric_limits<int32_t>::min()}) {
    std::vector<uint8_t> short_length = good;
    put_int32(short_length, layout::batch_length, length);
    e = parse_batch_header(short_length);
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.error().code, batch_errc::corrupt_message);
  }
  for (int32_t length :
       {static_cast<int32_t>(good.size() - 11), std::numeric_limits<int32_t>::max()}) {
    std::vector<uint8_t> long_length = good;
    put_int32(long_length, layout::batch_length, length);
    EXPECT_FALSE(parse_batch_header(long_length).ok());
  }

  for (int16_t codec : {5, 6, 7}) {
    std::vector<uint8_t> unknown = good;
    put_int16(unknown, layout::attributes, codec);
    reseal(unknown);
    e = parse_batch_header(unknown);
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.error().code, batch_errc::invalid_record);
  }

  // A header followed by more bytes parses as the batch alone.
  std::vector<uint8_t> longer = good;
  longer.push_back(0);
  EXPECT_EQ(parse_ok(longer).bytes().size(), good.size());
}

TEST(RecordBatch, ErrorKindsMapToKafkaCodes) {
  EXPECT_EQ(to_error_code(batch_errc::corrupt_message), error_code::corrupt_message);
  EXPECT_EQ(to_error_code(batch_errc::invalid_record), error_code::invalid_record);
}

TEST(RecordBatch, BadCrcIsCorrupt) {
  std::vector<uint8_t> bad = small_batch(2);
  bad[layout::crc] ^= 0x80;
  record_batch batch = parse_ok(bad);
  auto e = verify_crc(batch);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code, batch_errc::corrupt_message);
  EXPECT_NE(e.error().message.find("CRC"), std::string::npos);
  EXPECT_EQ(validate_produced_batch(batch).error().code, batch_errc::corrupt_message);
}

void expect_invalid(const std::vector<uint8_t>& bytes, std::string_view words) {
  record_batch batch = parse_ok(bytes);
  auto e = validate_produced_batch(batch);
  ASSERT_FALSE(e.ok()) << "expected: " << words;
  EXPECT_EQ(e.error().code, batch_errc::invalid_record) << e.error().message;
  EXPECT_NE(e.error().message.find(words), std::string::npos) << e.error().message;
}

TEST(RecordBatch, ProducedBatchRules) {
  std::vector<uint8_t> zero = with_records({}, 0);
  expect_invalid(zero, "needs records");
  std::vector<uint8_t> negative = with_records({}, -1);
  expect_invalid(negative, "needs records");

  std::vector<uint8_t> delta = small_batch(3);
  put_int32(delta, layout::last_offset_delta, 3);
  reseal(delta);
  expect_invalid(delta, "last offset delta");
  put_int32(delta, layout::last_offset_delta, std::numeric_limits<int32_t>::max());
  reseal(delta);
  expect_invalid(delta, "last offset delta");

  batch_options control;
  control.control = true;
  expect_invalid(small_batch(1, control), "control");

  batch_options no_sequence;
  no_sequence.producer_id = 5;
  no_sequence.producer_epoch = 0;
  expect_invalid(small_batch(1, no_sequence), "base sequence");
  batch_options idempotent = no_sequence;
  idempotent.base_sequence = 0;
  EXPECT_TRUE(validate_produced_batch(parse_ok(small_batch(1, idempotent))).ok());

  // More records than the bytes hold, and bytes after the last record.
  std::vector<uint8_t> more = small_batch(2);
  put_int32(more, layout::records_count, 3);
  put_int32(more, layout::last_offset_delta, 2);
  reseal(more);
  expect_invalid(more, "record 2");
  std::vector<uint8_t> fewer = small_batch(2);
  put_int32(fewer, layout::records_count, 1);
  put_int32(fewer, layout::last_offset_delta, 0);
  reseal(fewer);
  expect_invalid(fewer, "follow the last");
}

TEST(RecordBatch, MalformedRecordsAreInvalid) {
  auto check = [](std::vector<uint8_t> records, int32_t count, std::string_view words) {
    SCOPED_TRACE(std::string(words));
    std::vector<uint8_t> batch = with_records(records, count);
    expect_invalid(batch, words);
    auto decoded = decode_records(parse_ok(batch), 0);
    ASSERT_FALSE(decoded.ok());
    EXPECT_EQ(decoded.error().code, batch_errc::invalid_record);
  };
  auto fields = [](int32_t key_length, int32_t header_count, int32_t header_key_length) {
    raw_record r;
    r.body.write_int8(0);
    r.body.write_varlong(0);
    r.body.write_varint(0);
    r.body.write_varint(key_length);
    r.body.write_varint(-1);  // value
    r.body.write_varint(header_count);
    if (header_count > 0) {
      r.body.write_varint(header_key_length);
      r.body.write_varint(-1);  // header value
    }
    return r;
  };

  check(fields(-2, 0, 0).finish(), 1, "negative length");
  check(fields(1000, 0, 0).finish(), 1, "length exceeds the record");
  check(fields(std::numeric_limits<int32_t>::max(), 0, 0).finish(), 1, "length exceeds the record");
  check(fields(-1, -1, 0).finish(), 1, "negative header count");
  check(fields(-1, std::numeric_limits<int32_t>::max(), 0).finish(), 1, "header count exceeds");
  check(fields(-1, 1, -1).finish(), 1, "negative header key length");
  check(fields(-1, 1, 50).finish(), 1, "header key exceeds");
  // Record length that disagrees with its fields, both ways.
  check(fields(-1, 0, 0).finish(+1), 1, "record length exceeds the batch");
  {
    raw_record r = fields(-1, 0, 0);
    r.body.write_int8(0);
    check(r.finish(), 1, "left over");
  }
  check(fields(-1, 0, 0).finish(-1), 1, "record");
  check({0x01}, 1, "negative record length");
  check({0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, 1, "overlong record length");
  check({0x80}, 1, "truncated or overlong record length");
  {
    // An unterminated varint inside the record.
    raw_record r;
    r.body.write_int8(0);
    for (int i = 0; i < 12; ++i) r.body.write_uint8(0x80);
    check(r.finish(), 1, "timestamp delta");
  }
  std::vector<uint8_t> one = fields(-1, 0, 0).finish();
  check(one, std::numeric_limits<int32_t>::max(), "record 1");
}

TEST(RecordBatch, HostileCountsFailWithoutHugeAllocations) {
  raw_record r;
  r.body.write_int8(0);
  r.body.write_varlong(0);
  r.body.write_varint(0);
  r.body.write_varint(-1);
  r.body.write_varint(-1);
  r.body.write_varint(0);
  std::vector<uint8_t> batch = with_records(r.finish(), 1);
  put_int32(batch, layout::records_count, std::numeric_limits<int32_t>::max());
  reseal(batch);
  record_batch parsed = parse_ok(batch);
  auto checked = check_records(parsed);
  ASSERT_FALSE(checked.ok());
  EXPECT_NE(checked.error().message.find("record 1"), std::string::npos);
  EXPECT_FALSE(decode_records(parsed, 0).ok());

  put_int32(batch, layout::records_count, -5);
  reseal(batch);
  EXPECT_FALSE(check_records(parse_ok(batch)).ok());
  EXPECT_FALSE(record_reader::open(parse_ok(batch), 0).ok());
}

TEST(RecordBatch, GarbageCompressedRecordsAreCorrupt) {
  for (compression codec :
       {compression::gzip, compression::snappy, compression::lz4, compression::zstd}) {
    SCOPED_TRACE(std::string(compression_name(codec)));
    std::vector<uint8_t> junk(100, 0xa5);
    std::vector<uint8_t> batch = with_records(junk, 1);
    put_int16(batch, layout::attributes, static_cast<int16_t>(codec));
    reseal(batch);
    record_batch parsed = parse_ok(batch);
    auto e = validate_produced_batch(parsed, max_decompressed);
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.error().code, batch_errc::corrupt_message);
    EXPECT_FALSE(decode_records(parsed, max_decompressed).ok());
  }
}

TEST(RecordBatch, RandomDamageToRecordsNeverCrashes) {
  std::vector<uint8_t> whole = small_batch(5);
  std::mt19937 random(1234);
  for (int round = 0; round < 3000; ++round) {
    std::vector<uint8_t> bad = whole;
    int flips = 1 + static_cast<int>(random() % 4);
    for (int f = 0; f < flips; ++f) {
      size_t at = layout::header_size + random() % (bad.size() - layout::header_size);
      bad[at] = static_cast<uint8_t>(random());
    }
    reseal(bad);
    record_batch batch = parse_ok(bad);
    auto checked = check_records(batch);
    auto decoded = decode_records(batch, 0);
    // The allocation-free walk and the decoder agree on every input.
    EXPECT_EQ(checked.ok(), decoded.ok());
  }
}

TEST(RecordBatch, SettingBaseOffsetAndEpochKeepsTheCrc) {
  std::vector<uint8_t> batch = small_batch(3);
  std::vector<uint8_t> crc_before(batch.begin() + layout::crc, batch.begin() + layout::crc + 4);
  set_base_offset(batch, 123'456'789'012);
  set_partition_leader_epoch(batch, 17);
  std::vector<uint8_t> crc_after(batch.begin() + layout::crc, batch.begin() + layout::crc + 4);
  EXPECT_EQ(crc_before, crc_after);
  record_batch parsed = parse_ok(batch);
  EXPECT_EQ(parsed.header().base_offset, 123'456'789'012);
  EXPECT_EQ(parsed.header().partition_leader_epoch, 17);
  EXPECT_EQ(parsed.header().last_offset(), 123'456'789'014);
  EXPECT_TRUE(validate_produced_batch(parsed).ok());
  auto records = decode_records(parsed, 0);
  ASSERT_TRUE(records.ok());
  EXPECT_EQ((*records)[2].offset(parsed.header()), 123'456'789'014);
}

TEST(RecordBatch, SettingLogAppendTimeRecomputesTheCrc) {
  for (compression codec : {compression::none, compression::zstd}) {
    batch_options options;
    options.codec = codec;
    std::vector<uint8_t> batch = small_batch(3, options);
    set_max_timestamp(batch, timestamp_type::log_append_time, 5'000'000);
    record_batch parsed = parse_ok(batch);
    EXPECT_EQ(parsed.header().ts_type(), timestamp_type::log_append_time);
    EXPECT_EQ(parsed.header().codec(), codec);
    EXPECT_EQ(parsed.header().max_timestamp, 5'000'000);
    auto valid = validate_produced_batch(parsed, max_decompressed);
    EXPECT_TRUE(valid.ok()) << valid.error().message;
    auto records = decode_records(parsed, max_decompressed);
    ASSERT_TRUE(records.ok());
    for (const record& r : *records) EXPECT_EQ(r.timestamp(parsed.header()), 5'000'000);

    // Back to CreateTime with the records' own maximum.
    set_max_timestamp(batch, timestamp_type::create_time, 1002);
    EXPECT_EQ(batch, small_batch(3, options));
  }
}

TEST(RecordBatch, ControlRecordKeysAndMarkers) {
  auto key = encode_control_record_key(control_record_type::commit);
  EXPECT_EQ(key, (std::array<uint8_t, 4>{0, 0, 0, 1}));
  for (int16_t type = 0; type <= 6; ++type) {
    auto encoded = encode_control_record_key(static_cast<control_record_type>(type));
    auto decoded = decode_control_record_key(encoded);
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(decoded->version, 0);
    EXPECT_EQ(static_cast<int16_t>(decoded->type), type);
  }
  // A later key version still starts with the type; a negative one is invalid.
  std::vector<uint8_t> later = {0, 1, 0, 6, 0xaa};
  EXPECT_EQ(decode_control_record_key(later)->type, control_record_type::kraft_voters);
  std::vector<uint8_t> unknown_type = {0, 0, 0x7f, 0};
  EXPECT_EQ(static_cast<int16_t>(decode_control_record_key(unknown_type)->type), 0x7f00);
  std::vector<uint8_t> negative = {0xff, 0xff, 0, 0};
  EXPECT_EQ(decode_control_record_key(negative).error().code, batch_errc::invalid_record);
  std::vector<uint8_t> short_key = {0, 0, 0};
  EXPECT_FALSE(decode_control_record_key(short_key).ok());

  auto marker = encode_end_txn_marker(0x01020304);
  EXPECT_EQ(marker, (std::array<uint8_t, 6>{0, 0, 1, 2, 3, 4}));
  auto decoded = decode_end_txn_marker(marker);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->version, 0);
  EXPECT_EQ(decoded->coordinator_epoch, 0x01020304);
  std::vector<uint8_t> short_marker = {0, 0, 1, 2, 3};
  EXPECT_FALSE(decode_end_txn_marker(short_marker).ok());
  std::vector<uint8_t> negative_marker = {0x80, 0, 1, 2, 3, 4};
  EXPECT_FALSE(decode_end_txn_marker(negative_marker).ok());
}

TEST(RecordBatch, TransactionMarkerBatch) {
  for (bool commit : {true, false}) {
    txn_marker marker;
    marker.commit = commit;
    marker.coordinator_epoch = 12;
    marker.producer_id = 9000;
    marker.producer_epoch = 4;
    marker.base_offset = 77;
    marker.partition_leader_epoch = 3;
    marker.timestamp = 1'700'000'000'000;
    record_batch batch = parse_ok(build_txn_marker_batch(marker));
    const batch_header& h = batch.header();
    EXPECT_TRUE(h.is_control());
    EXPECT_TRUE(h.is_transactional());
    EXPECT_EQ(h.codec(), compression::none);
    EXPECT_EQ(h.producer_id, 9000);
    EXPECT_EQ(h.producer_epoch, 4);
    EXPECT_EQ(h.base_sequence, -1);
    EXPECT_EQ(h.base_offset, 77);
    EXPECT_EQ(h.partition_leader_epoch, 3);
    EXPECT_EQ(h.records_count, 1);
    EXPECT_EQ(h.max_timestamp, 1'700'000'000'000);
    EXPECT_TRUE(verify_crc(batch).ok());
    EXPECT_TRUE(check_records(batch).ok());
    // Brokers write control batches; a producer may not.
    EXPECT_FALSE(validate_produced_batch(batch).ok());

    auto records = decode_records(batch, 0);
    ASSERT_TRUE(records.ok());
    ASSERT_EQ(records->size(), 1u);
    auto key = decode_control_record_key((*records)[0].key->span());
    ASSERT_TRUE(key.ok());
    EXPECT_EQ(key->type, commit ? control_record_type::commit : control_record_type::abort);
    auto value = decode_end_txn_marker((*records)[0].value->span());
    ASSERT_TRUE(value.ok());
    EXPECT_EQ(value->coordinator_epoch, 12);
  }
}

TEST(RecordBatch, BuilderNeedsARecord) {
  record_batch_builder builder;
  EXPECT_FALSE(builder.build().ok());
}

TEST(RecordBatch, SnappyFramingOptionIsReadBack) {
  batch_options options;
  options.codec = compression::snappy;
  options.compression_options.snappy_xerial_framing = true;
  std::vector<uint8_t> batch = small_batch(50, options);
  // The xerial magic follows the header.
  EXPECT_EQ(batch[layout::header_size], 0x82);
  auto records = decode_records(parse_ok(batch), max_decompressed);
  ASSERT_TRUE(records.ok()) << records.error().message;
  EXPECT_EQ(records->size(), 50u);
}

}  // namespace
}  // namespace sluice::protocol
