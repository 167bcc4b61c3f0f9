#include "protocol/legacy_message_set.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <deque>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::protocol {
namespace {

constexpr size_t max_decompressed = 16 << 20;

std::span<const uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

std::string text(const base::shared_bytes& b) { return std::string(b.as_string_view()); }

std::vector<uint8_t> write_ok(std::span<const legacy_record> records,
                              const legacy_write_options& options) {
  auto written = write_legacy_message_set(records, options);
  EXPECT_TRUE(written.ok()) << written.error().message;
  return std::move(written).value();
}

legacy_read_options reading() {
  legacy_read_options options;
  options.max_decompressed_bytes = max_decompressed;
  return options;
}

batch_result<std::vector<legacy_message>> read(const std::vector<uint8_t>& set,
                                               const legacy_read_options& options = reading()) {
  return read_legacy_message_set(base::shared_bytes(set), options);
}

std::vector<legacy_message> read_ok(const std::vector<uint8_t>& set,
                                    const legacy_read_options& options = reading()) {
  auto messages = read(set, options);
  EXPECT_TRUE(messages.ok()) << messages.error().message;
  return messages.ok() ? std::move(messages).value() : std::vector<legacy_message>{};
}

std::vector<legacy_record> sample_records(int64_t first_offset, int n) {
  // The records point into this: a deque keeps earlier strings where they are.
  static std::deque<std::string> storage;
  std::vector<legacy_record> records;
  for (int i = 0; i < n; ++i) {
    storage.push_back("value-" + std::to_string(first_offset + i));
    legacy_record r;
    r.offset = first_offset + i;
    r.timestamp = 5000 + i;
    r.key = i % 2 == 0 ? optional_bytes() : bytes("key");
    r.value = bytes(storage.back());
    records.push_back(r);
  }
  return records;
}

void put_int64(std::vector<uint8_t>& set, size_t at, int64_t v) {
  uint64_t be = __builtin_bswap64(static_cast<uint64_t>(v));
  std::memcpy(set.data() + at, &be, 8);
}

// Recomputes the CRC of the message whose entry starts at `entry`, after a
// test has edited it, so that the check under test is what fires.
void reseal(std::vector<uint8_t>& set, size_t entry = 0) {
  uint32_t size;
  std::memcpy(&size, set.data() + entry + 8, 4);
  size = __builtin_bswap32(size);
  uint32_t crc = static_cast<uint32_t>(::crc32(0L, set.data() + entry + 16, size - 4));
  uint32_t be = __builtin_bswap32(crc);
  std::memcpy(set.data() + entry + 12, &be, 4);
}

// A wrapper message around `inner`, an arbitrary (possibly broken) inner set.
std::vector<uint8_t> wrapper_around(const std::vector<uint8_t>& inner, int8_t magic,
                                    compression codec, int64_t offset) {
  auto compressed = compress(codec, inner);
  EXPECT_TRUE(compressed.ok());
  legacy_record wrapper;
  wrapper.offset = offset;
  wrapper.timestamp = 1;
  wrapper.value = std::span<const uint8_t>(*compressed);
  legacy_write_options options;
  options.magic = magic;
  std::vector<uint8_t> set = write_ok({&wrapper, 1}, options);
  set[12 + 5] = static_cast<uint8_t>(codec);
  reseal(set);
  return set;
}

void expect_error(const std::vector<uint8_t>& set, batch_errc code, std::string_view words) {
  auto messages = read(set);
  ASSERT_FALSE(messages.ok()) << "expected: " << words;
  EXPECT_EQ(messages.error().code, code) << messages.error().message;
  EXPECT_NE(messages.error().message.find(words), std::string::npos) << messages.error().message;
}

// ---------------------------------------------------------------------------

TEST(LegacyMessageSet, WriterProducesKnownBytes) {
  legacy_record v0;
  v0.offset = 7;
  v0.value = bytes("v");
  const std::vector<uint8_t> expected_v0 = {
      0,    0,    0,    0,    0,   0, 0, 7,  // offset
      0,    0,    0,    15,                  // size
      0xd2, 0x0c, 0xbf, 0xf5,                // CRC-32 of the rest (zlib, computed independently)
      0,    0,                               // magic, attributes
      0xff, 0xff, 0xff, 0xff,                // null key
      0,    0,    0,    1,    'v',           // value
  };
  legacy_write_options magic0;
  magic0.magic = 0;
  EXPECT_EQ(write_ok({&v0, 1}, magic0), expected_v0);

  legacy_record v1;
  v1.offset = 0;
  v1.timestamp = 1000;
  v1.key = bytes("k");
  v1.value = bytes("v");
  const std::vector<uint8_t> expected_v1 = {
      0,    0,    0,    0,    0,   0, 0,    0,             // offset
      0,    0,    0,    24,                                // size
      0xe4, 0xe3, 0x21, 0xbc,                              // CRC-32
      1,    0,                                             // magic, attributes
      0,    0,    0,    0,    0,   0, 0x03, 0xe8,          // timestamp
      0,    0,    0,    1,    'k', 0, 0,    0,    1, 'v',  // key, value
  };
  EXPECT_EQ(write_ok({&v1, 1}, {}), expected_v1);
}

TEST(LegacyMessageSet, UncompressedRoundTrip) {
  for (int8_t magic : {0, 1}) {
    SCOPED_TRACE(int(magic));
    std::vector<legacy_record> records = sample_records(40, 5);
    legacy_record empty;
    empty.offset = 45;
    empty.timestamp = 9;
    empty.key = bytes("");
    empty.value = std::nullopt;
    records.push_back(empty);
    legacy_write_options options;
    options.magic = magic;
    std::vector<legacy_message> messages = read_ok(write_ok(records, options));
    ASSERT_EQ(messages.size(), 6u);
    for (size_t i = 0; i < 5; ++i) {
      const legacy_message& m = messages[i];
      EXPECT_EQ(m.offset, 40 + static_cast<int64_t>(i));
      EXPECT_EQ(m.magic, magic);
      EXPECT_EQ(m.codec, compression::none);
      EXPECT_EQ(m.timestamp, magic == 0 ? -1 : 5000 + static_cast<int64_t>(i));
      EXPECT_EQ(m.ts_type, timestamp_type::create_time);
      EXPECT_EQ(m.key.has_value(), i % 2 == 1);
      EXPECT_EQ(text(*m.value), "value-" + std::to_string(40 + i));
    }
    ASSERT_TRUE(messages[5].key.has_value());
    EXPECT_TRUE(messages[5].key->empty());
    EXPECT_FALSE(messages[5].value.has_value());
  }
}

TEST(LegacyMessageSet, LogAppendTimeBitOnMagic1) {
  std::vector<legacy_record> records = sample_records(0, 2);
  legacy_write_options options;
  options.ts_type = timestamp_type::log_append_time;
  std::vector<legacy_message> messages = read_ok(write_ok(records, options));
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].ts_type, timestamp_type::log_append_time);
  EXPECT_EQ(messages[1].timestamp, 5001);
}

TEST(LegacyMessageSet, CompressedWrappersYieldAbsoluteOffsets) {
  for (int8_t magic : {0, 1}) {
    for (compression codec : {compression::gzip, compression::snappy, compression::lz4}) {
      SCOPED_TRACE(std::to_string(magic) + " " + std::string(compression_name(codec)));
      std::vector<legacy_record> records = sample_records(1000, 10);
      legacy_write_options options;
      options.magic = magic;
      options.codec = codec;
      std::vector<uint8_t> set = write_ok(records, options);
      // The wrapper carries the last offset.
      EXPECT_EQ(set[7], (1009 & 0xff));

      std::vector<legacy_message> messages = read_ok(set);
      ASSERT_EQ(messages.size(), 10u);
      for (size_t i = 0; i < 10; ++i) {
        EXPECT_EQ(messages[i].offset, 1000 + static_cast<int64_t>(i));
        EXPECT_EQ(messages[i].codec, codec);
        EXPECT_EQ(messages[i].magic, magic);
        EXPECT_EQ(messages[i].timestamp, magic == 0 ? -1 : 5000 + static_cast<int64_t>(i));
        EXPECT_EQ(text(*messages[i].value), "value-" + std::to_string(1000 + i));
      }
    }
  }
}

TEST(LegacyMessageSet, Magic1InnerOffsetsAreRelative) {
  std::vector<legacy_record> records = sample_records(500, 3);
  legacy_write_options options;
  options.codec = compression::gzip;
  std::vector<uint8_t> set = write_ok(records, options);

  auto messages = read_ok(set);
  ASSERT_EQ(messages.size(), 3u);
  EXPECT_EQ(messages[2].offset, 502);

  // Unwrapped by hand: the inner offsets are 0, 1, 2. The wrapper's value
  // follows offset, size, crc, magic, attributes, timestamp, null key and
  // value length.
  std::vector<uint8_t> value(set.begin() + 12 + 4 + 2 + 8 + 4 + 4, set.end());
  auto inner = decompress(compression::gzip, value, {.max_output = 1 << 20});
  ASSERT_TRUE(inner.ok());
  auto inner_messages = read_ok(*inner);
  ASSERT_EQ(inner_messages.size(), 3u);
  EXPECT_EQ(inner_messages[0].offset, 0);
  EXPECT_EQ(inner_messages[2].offset, 2);

  // librdkafka once sent 0 as the wrapper offset: the relative offsets stand.
  put_int64(set, 0, 0);
  auto zero = read_ok(set);
  ASSERT_EQ(zero.size(), 3u);
  EXPECT_EQ(zero[0].offset, 0);
  EXPECT_EQ(zero[2].offset, 2);

  // A wrapper offset below the last inner offset is impossible.
  put_int64(set, 0, 1);
  expect_error(set, batch_errc::invalid_record, "below its last inner offset");
}

TEST(LegacyMessageSet, WrapperLogAppendTimeOverridesInnerTimestamps) {
  std::vector<legacy_record> records = sample_records(0, 3);
  legacy_write_options options;
  options.codec = compression::gzip;
  options.ts_type = timestamp_type::log_append_time;
  std::vector<legacy_message> messages = read_ok(write_ok(records, options));
  ASSERT_EQ(messages.size(), 3u);
  for (const legacy_message& m : messages) {
    EXPECT_EQ(m.ts_type, timestamp_type::log_append_time);
    EXPECT_EQ(m.timestamp, 5002);  // the wrapper's: the largest
  }
}

TEST(LegacyMessageSet, MixedPlainAndWrappedMessages) {
  std::vector<uint8_t> set;
  legacy_write_options plain;
  legacy_write_options gzip;
  gzip.codec = compression::gzip;
  for (const auto& [first, options] :
       {std::pair{0, plain}, std::pair{2, gzip}, std::pair{6, plain}}) {
    std::vector<uint8_t> part = write_ok(sample_records(first, first == 2 ? 4 : 2), options);
    set.insert(set.end(), part.begin(), part.end());
  }
  std::vector<legacy_message> messages = read_ok(set);
  ASSERT_EQ(messages.size(), 8u);
  for (size_t i = 0; i < 8; ++i) EXPECT_EQ(messages[i].offset, static_cast<int64_t>(i));
  EXPECT_EQ(messages[1].codec, compression::none);
  EXPECT_EQ(messages[2].codec, compression::gzip);
}

TEST(LegacyMessageSet, EveryCorruptedByteFailsTheCrc) {
  for (int8_t magic : {0, 1}) {
    legacy_write_options options;
    options.magic = magic;
    std::vector<uint8_t> set = write_ok(sample_records(0, 1), options);
    // Bytes 0-11 are offset and size; the CRC covers the rest.
    for (size_t i = 12; i < set.size(); ++i) {
      SCOPED_TRACE(i);
      std::vector<uint8_t> bad = set;
      bad[i] ^= 0x04;
      auto messages = read(bad);
      ASSERT_FALSE(messages.ok());
      EXPECT_EQ(messages.error().code, batch_errc::corrupt_message);
    }
    // Without the check, a damaged value byte goes through.
    std::vector<uint8_t> damaged = set;
    damaged.back() ^= 0x04;
    legacy_read_options unchecked = reading();
    unchecked.verify_crc = false;
    EXPECT_EQ(read_ok(damaged, unchecked).size(), 1u);
  }
  std::vector<uint8_t> wrapped =
      write_ok(sample_records(0, 3), {.magic = 1, .codec = compression::gzip});
  wrapped[30] ^= 0x10;
  expect_error(wrapped, batch_errc::corrupt_message, "CRC");
}

TEST(LegacyMessageSet, TruncationAtEveryLength) {
  std::vector<uint8_t> set = write_ok(sample_records(0, 2), {});
  std::vector<uint8_t> wrapped =
      write_ok(sample_records(2, 3), {.magic = 1, .codec = compression::snappy});
  size_t boundary_1 = write_ok(sample_records(0, 1), {}).size();
  size_t boundary_2 = set.size();
  set.insert(set.end(), wrapped.begin(), wrapped.end());

  for (size_t n = 0; n < set.size(); ++n) {
    SCOPED_TRACE(n);
    std::vector<uint8_t> prefix(set.begin(), set.begin() + n);
    size_t complete = n >= boundary_2 ? 2 : n >= boundary_1 ? 1 : 0;
    bool at_boundary = n == 0 || n == boundary_1 || n == boundary_2;
    auto strict = read(prefix);
    EXPECT_EQ(strict.ok(), at_boundary);
    if (!strict.ok()) {
      EXPECT_EQ(strict.error().code, batch_errc::corrupt_message);
    }

    legacy_read_options tolerant = reading();
    tolerant.allow_partial_tail = true;
    legacy_message_reader reader(base::shared_bytes(prefix), tolerant);
    legacy_message m;
    size_t count = 0;
    while (true) {
      auto more = reader.next(m);
      ASSERT_TRUE(more.ok()) << more.error().message;
      if (!*more) break;
      ++count;
    }
    EXPECT_EQ(count, complete);
    EXPECT_EQ(reader.position(), complete == 2 ? boundary_2 : complete == 1 ? boundary_1 : 0);
  }
}

TEST(LegacyMessageSet, HostileSizesAndLengths) {
  std::vector<uint8_t> good = write_ok(sample_records(0, 1), {});
  auto with_size = [&](int32_t size) {
    std::vector<uint8_t> set = good;
    uint32_t be = __builtin_bswap32(static_cast<uint32_t>(size));
    std::memcpy(set.data() + 8, &be, 4);
    return set;
  };
  expect_error(with_size(13), batch_errc::corrupt_message, "below the minimum");
  expect_error(with_size(-1), batch_errc::corrupt_message, "below the minimum");
  expect_error(with_size(std::numeric_limits<int32_t>::max()), batch_errc::corrupt_message,
               "cut short");
  // A magic-1 message too short for its timestamp.
  std::vector<uint8_t> short_v1 = with_size(14);
  short_v1.resize(12 + 14);
  expect_error(short_v1, batch_errc::corrupt_message, "magic-1");

  std::vector<uint8_t> magic2 = good;
  magic2[16] = 2;
  reseal(magic2);
  expect_error(magic2, batch_errc::corrupt_message, "magic 2");

  // Key length beyond the message, and below -1.
  for (int32_t length : {1000, -2, std::numeric_limits<int32_t>::max()}) {
    std::vector<uint8_t> bad = good;
    uint32_t be = __builtin_bswap32(static_cast<uint32_t>(length));
    std::memcpy(bad.data() + 12 + 4 + 2 + 8, &be, 4);
    reseal(bad);
    expect_error(bad, batch_errc::corrupt_message, "key");
  }
  // Bytes after the value, inside the message.
  std::vector<uint8_t> longer = good;
  longer.push_back(0);
  uint32_t be = __builtin_bswap32(static_cast<uint32_t>(good.size() - 12 + 1));
  std::memcpy(longer.data() + 8, &be, 4);
  reseal(longer);
  expect_error(longer, batch_errc::corrupt_message, "follow the message value");
}

TEST(LegacyMessageSet, WrapperRules) {
  std::vector<uint8_t> plain_v1 = write_ok(sample_records(0, 2), {});
  std::vector<uint8_t> plain_v0 = write_ok(sample_records(0, 2), {.magic = 0});
  std::vector<uint8_t> gzip_v1 =
      write_ok(sample_records(0, 2), {.magic = 1, .codec = compression::gzip});

  expect_error(wrapper_around(gzip_v1, 1, compression::gzip, 5), batch_errc::invalid_record,
               "inner message is compressed");
  expect_error(wrapper_around({}, 1, compression::gzip, 5), batch_errc::invalid_record,
               "no inner messages");
  expect_error(wrapper_around(plain_v0, 1, compression::gzip, 5), batch_errc::invalid_record,
               "magic 0");
  expect_error(wrapper_around(plain_v1, 1, compression::zstd, 5), batch_errc::invalid_record,
               "not allowed");
  std::vector<uint8_t> cut(plain_v1.begin(), plain_v1.end() - 1);
  expect_error(wrapper_around(cut, 1, compression::gzip, 5), batch_errc::corrupt_message,
               "cut short");

  // A wrapper with a null value.
  legacy_record null_value;
  std::vector<uint8_t> set = write_ok({&null_value, 1}, {});
  set[12 + 5] = static_cast<uint8_t>(compression::gzip);
  reseal(set);
  expect_error(set, batch_errc::invalid_record, "null value");

  // A value that is not what its codec says.
  std::vector<uint8_t> junk = write_ok(sample_records(0, 1), {});
  junk[12 + 5] = static_cast<uint8_t>(compression::lz4);
  reseal(junk);
  expect_error(junk, batch_errc::corrupt_message, "cannot decompress");
}

TEST(LegacyMessageSet, DecompressionIsBounded) {
  std::string big(1 << 20, 'x');
  legacy_record r;
  r.value = bytes(big);
  std::vector<uint8_t> set = write_ok({&r, 1}, {.magic = 1, .codec = compression::gzip});
  legacy_read_options tight = reading();
  tight.max_decompressed_bytes = 64 << 10;
  auto messages = read(set, tight);
  ASSERT_FALSE(messages.ok());
  EXPECT_EQ(messages.error().code, batch_errc::corrupt_message);
  EXPECT_EQ(read_ok(set).size(), 1u);
}

TEST(LegacyMessageSet, WriterRejectsImpossibleSets) {
  std::vector<legacy_record> records = sample_records(0, 1);
  EXPECT_FALSE(write_legacy_message_set(records, {.magic = 2}).ok());
  EXPECT_FALSE(write_legacy_message_set(records, {.magic = 1, .codec = compression::zstd}).ok());
  EXPECT_FALSE(write_legacy_message_set({}, {.magic = 1, .codec = compression::gzip}).ok());
  auto empty = write_legacy_message_set({}, {});
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

}  // namespace
}  // namespace sluice::protocol
