#include <gtest/gtest.h>

#include <limits>

#include "base/byte_reader.h"
#include "base/byte_writer.h"
#include "base/result.h"
#include "base/uuid.h"

namespace sluice::base {
namespace {

shared_bytes bytes_of(std::initializer_list<uint8_t> b) {
  return shared_bytes(std::vector<uint8_t>(b));
}

TEST(ByteIo, FixedWidthIsBigEndian) {
  byte_writer w;
  w.write_int16(0x0102);
  w.write_int32(-2);
  w.write_int64(0x0102030405060708);
  w.write_float64(1.5);
  EXPECT_EQ(w.buffer()[0], 0x01);
  EXPECT_EQ(w.buffer()[1], 0x02);
  byte_reader r(shared_bytes(w.take()));
  EXPECT_EQ(r.read_int16(), 0x0102);
  EXPECT_EQ(r.read_int32(), -2);
  EXPECT_EQ(r.read_int64(), 0x0102030405060708);
  EXPECT_EQ(r.read_float64(), 1.5);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(ByteIo, TruncatedReadFailsAndStaysFailed) {
  byte_reader r(bytes_of({0x00, 0x01, 0x02}));
  EXPECT_EQ(r.read_int16(), 1);
  EXPECT_EQ(r.read_int32(), 0);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error_position(), 2u);
  EXPECT_EQ(r.read_int8(), 0);  // no read past the end once failed
  EXPECT_STREQ(r.error(), "truncated input");
}

TEST(ByteIo, UnsignedVarintLimits) {
  for (uint32_t v : {0u, 1u, 127u, 128u, 16383u, 16384u, std::numeric_limits<uint32_t>::max()}) {
    byte_writer w;
    w.write_uvarint(v);
    EXPECT_EQ(w.size(), varint::encoded_size(v));
    byte_reader r(shared_bytes(w.take()));
    EXPECT_EQ(r.read_uvarint(), v);
    EXPECT_TRUE(r.ok());
  }
  // Six bytes is too long for a 32-bit varint.
  byte_reader r(bytes_of({0x80, 0x80, 0x80, 0x80, 0x80, 0x01}));
  r.read_uvarint();
  EXPECT_STREQ(r.error(), "varint too long");
  byte_reader t(bytes_of({0x80, 0x80}));
  t.read_uvarint();
  EXPECT_STREQ(t.error(), "truncated varint");
}

TEST(ByteIo, ZigZagVarintsRoundTripAtTheLimits) {
  byte_writer w;
  const int32_t ints[] = {
      0, -1, 1, -64, 64, std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()};
  const int64_t longs[] = {0, -1, std::numeric_limits<int64_t>::min(),
                           std::numeric_limits<int64_t>::max()};
  for (auto v : ints) w.write_varint(v);
  for (auto v : longs) w.write_varlong(v);
  byte_reader r(shared_bytes(w.take()));
  for (auto v : ints) EXPECT_EQ(r.read_varint(), v);
  for (auto v : longs) EXPECT_EQ(r.read_varlong(), v);
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(varint::zigzag(int32_t{-1}), 1u);
  EXPECT_EQ(varint::zigzag(int32_t{1}), 2u);
}

TEST(ByteIo, ReadBytesSharesStorage) {
  auto buf = bytes_of({1, 2, 3, 4});
  byte_reader r(buf);
  r.skip(1);
  shared_bytes s = r.read_bytes(2);
  EXPECT_EQ(s.data(), buf.data() + 1);
  EXPECT_EQ(s, bytes_of({2, 3}));
}

TEST(ByteIo, PatchLengthPlaceholder) {
  byte_writer w;
  size_t at = w.size();
  w.write_int32(0);
  w.write_bytes(std::string_view("abc"));
  w.put_int32_at(at, 3);
  byte_reader r(shared_bytes(w.take()));
  EXPECT_EQ(r.read_int32(), 3);
  EXPECT_EQ(r.read_string(3), "abc");
}

TEST(Result, HoldsValueOrError) {
  result<int> good = 7;
  result<int> bad = fail("nope");
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 7);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "nope");
  result<void> done;
  EXPECT_TRUE(done.ok());
}

TEST(Uuid, PrintsLikeKafka) {
  uuid zero;
  EXPECT_TRUE(zero.is_zero());
  EXPECT_EQ(zero.to_string(), "AAAAAAAAAAAAAAAAAAAAAA");
  uuid id;
  id.bytes.fill(0xff);
  EXPECT_EQ(id.to_string(), "_____________________w");
}

}  // namespace
}  // namespace sluice::base
