#include "protocol/compression.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <map>
#include <random>
#include <string>

namespace sluice::protocol {
namespace {

using bytes = std::vector<uint8_t>;

constexpr size_t kib = 1024;
constexpr size_t mib = 1024 * kib;

constexpr compression all_codecs[] = {compression::none, compression::gzip, compression::snappy,
                                      compression::lz4, compression::zstd};
constexpr compression real_codecs[] = {compression::gzip, compression::snappy, compression::lz4,
                                       compression::zstd};

decompress_options limit(size_t max_output) { return {.max_output = max_output}; }

bytes random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  bytes out(n);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

// Text-like data that compresses well but not trivially.
bytes compressible_bytes(size_t n) {
  static const std::string words[] = {"sluice ", "kafka ",     "record ", "batch ",
                                      "offset ", "partition ", "leader ", "\n"};
  std::mt19937 rng(7);
  bytes out;
  while (out.size() < n) {
    const std::string& w = words[rng() % std::size(words)];
    out.insert(out.end(), w.begin(), w.end());
  }
  out.resize(n);
  return out;
}

bytes compress_ok(compression codec, const bytes& input, compress_options options = {}) {
  auto r = compress(codec, input, options);
  EXPECT_TRUE(r.ok()) << compression_name(codec) << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? std::move(r).value() : bytes{};
}

// A failure whose message starts with the codec's name, as every one must.
::testing::AssertionResult fails_cleanly(compression codec, const base::result<bytes>& r) {
  if (r.ok()) return ::testing::AssertionFailure() << "decoded " << r->size() << " bytes";
  std::string prefix = std::string(compression_name(codec)) + ": ";
  if (r.error().message.rfind(prefix, 0) != 0)
    return ::testing::AssertionFailure() << "message without the codec: " << r.error().message;
  return ::testing::AssertionSuccess();
}

// ---- names ----

TEST(Compression, NamesRoundTrip) {
  for (auto codec : all_codecs) {
    auto parsed = parse_compression(compression_name(codec));
    ASSERT_TRUE(parsed.has_value()) << compression_name(codec);
    EXPECT_EQ(*parsed, codec);
  }
  EXPECT_EQ(compression_name(compression::lz4), "lz4");
  EXPECT_EQ(compression_name(compression::none), "none");
}

TEST(Compression, ParseIsCaseSensitiveAndStrict) {
  for (std::string_view name : {"GZIP", "Snappy", "uncompressed", "producer", "", "zstd "})
    EXPECT_FALSE(parse_compression(name).has_value()) << name;
}

TEST(Compression, UnknownCodecIdFails) {
  auto codec = static_cast<compression>(5);
  EXPECT_FALSE(compress(codec, bytes{1, 2, 3}).ok());
  EXPECT_FALSE(decompress(codec, bytes{1, 2, 3}, limit(mib)).ok());
}

// ---- round trips ----

TEST(Compression, RoundTripsEveryCodecAndSize) {
  const std::map<std::string, bytes> inputs = {
      {"empty", {}},
      {"one byte", {0x42}},
      {"100 KiB compressible", compressible_bytes(100 * kib)},
      {"1 MiB random", random_bytes(mib, 1)},
  };
  for (auto codec : all_codecs) {
    for (const auto& [label, input] : inputs) {
      SCOPED_TRACE(std::string(compression_name(codec)) + ", " + label);
      bytes packed = compress_ok(codec, input);
      auto unpacked = decompress(codec, packed, limit(input.size()));
      ASSERT_TRUE(unpacked.ok()) << unpacked.error().message;
      EXPECT_EQ(*unpacked, input);
    }
  }
}

TEST(Compression, CompressibleInputShrinks) {
  bytes input = compressible_bytes(100 * kib);
  for (auto codec : real_codecs)
    EXPECT_LT(compress_ok(codec, input).size(), input.size() / 2) << compression_name(codec);
}

TEST(Compression, LevelsAreHonouredAndInvalidOnesFail) {
  bytes input = compressible_bytes(100 * kib);
  for (auto codec : {compression::gzip, compression::lz4, compression::zstd}) {
    for (int level : {1, 9}) {
      bytes packed = compress_ok(codec, input, {.level = level});
      auto unpacked = decompress(codec, packed, limit(input.size()));
      ASSERT_TRUE(unpacked.ok()) << compression_name(codec) << " level " << level;
      EXPECT_EQ(*unpacked, input);
    }
  }
  auto bad = compress(compression::gzip, input, {.level = 42});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "gzip: invalid compression level 42");
}

// ---- limits ----

TEST(Compression, OutputExactlyAtTheLimitSucceedsOneByteLessFails) {
  bytes input = compressible_bytes(100 * kib);
  for (auto codec : all_codecs) {
    SCOPED_TRACE(compression_name(codec));
    bytes packed = compress_ok(codec, input);
    EXPECT_TRUE(decompress(codec, packed, limit(input.size())).ok());
    auto r = decompress(codec, packed, limit(input.size() - 1));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message, std::string(compression_name(codec)) +
                                     ": decompressed size exceeds limit of " +
                                     std::to_string(input.size() - 1) + " bytes");
  }
}

TEST(Compression, ZeroLimitAllowsOnlyEmptyOutput) {
  for (auto codec : all_codecs) {
    SCOPED_TRACE(compression_name(codec));
    EXPECT_TRUE(decompress(codec, compress_ok(codec, {}), limit(0)).ok());
    EXPECT_FALSE(decompress(codec, compress_ok(codec, {0x42}), limit(0)).ok());
  }
}

// 100 MiB of zeros shrinks to a few hundred KiB or less: decompressing it with
// a 1 MiB limit must fail early instead of inflating it all.
TEST(Compression, ZipBombsFailAtTheLimit) {
  const bytes zeros(100 * mib);
  for (auto codec : real_codecs) {
    for (bool xerial : {false, true}) {
      if (xerial && codec != compression::snappy) continue;
      SCOPED_TRACE(std::string(compression_name(codec)) + (xerial ? " xerial" : ""));
      bytes bomb = compress_ok(codec, zeros, {.snappy_xerial_framing = xerial});
      ASSERT_LT(bomb.size(), 5 * mib);
      auto r = decompress(codec, bomb, limit(mib));
      ASSERT_FALSE(r.ok());
      EXPECT_NE(r.error().message.find("exceeds limit of 1048576 bytes"), std::string::npos)
          << r.error().message;
    }
  }
  EXPECT_FALSE(decompress(compression::none, bytes(mib + 1), limit(mib)).ok());
}

// ---- hostile input ----

TEST(Compression, TruncatedInputFails) {
  bytes input = compressible_bytes(100 * kib);
  for (auto codec : real_codecs) {
    SCOPED_TRACE(compression_name(codec));
    bytes packed = compress_ok(codec, input);
    for (size_t keep : {size_t{0}, size_t{1}, size_t{4}, size_t{10}, packed.size() / 2,
                        packed.size() - 4, packed.size() - 1}) {
      bytes cut(packed.begin(), packed.begin() + static_cast<ptrdiff_t>(keep));
      EXPECT_TRUE(fails_cleanly(codec, decompress(codec, cut, limit(input.size()))))
          << "kept " << keep << " of " << packed.size();
    }
  }
}

// Every prefix of a small stream, to let the sanitizers see each decoder state.
// Snappy's xerial framing has no end marker: a prefix that ends on a block
// boundary is a valid, shorter stream, so it may succeed with a prefix of the data.
TEST(Compression, EveryPrefixIsHandledCleanly) {
  bytes input = compressible_bytes(70 * kib);
  for (auto codec : real_codecs) {
    for (bool xerial : {false, true}) {
      if (xerial && codec != compression::snappy) continue;
      SCOPED_TRACE(std::string(compression_name(codec)) + (xerial ? " xerial" : ""));
      bytes packed = compress_ok(codec, input, {.snappy_xerial_framing = xerial});
      for (size_t keep = 0; keep < packed.size(); ++keep) {
        bytes cut(packed.begin(), packed.begin() + static_cast<ptrdiff_t>(keep));
        auto r = decompress(codec, cut, limit(input.size()));
        if (!xerial) {
          EXPECT_TRUE(fails_cleanly(codec, r)) << "kept " << keep;
        } else if (r.ok()) {
          ASSERT_LE(r->size(), input.size());
          EXPECT_TRUE(std::equal(r->begin(), r->end(), input.begin())) << "kept " << keep;
        }
      }
    }
  }
}

TEST(Compression, GarbageFails) {
  std::vector<bytes> garbage = {random_bytes(1, 2), random_bytes(7, 3), random_bytes(64, 4),
                                random_bytes(100 * kib, 5), bytes(1000, 0xff)};
  for (auto codec : real_codecs) {
    for (const bytes& input : garbage) {
      EXPECT_TRUE(fails_cleanly(codec, decompress(codec, input, limit(mib))))
          << compression_name(codec) << ", " << input.size() << " bytes";
    }
  }
}

// A valid header followed by garbage: the decoders must not trust the body.
TEST(Compression, ValidHeaderThenGarbageFails) {
  bytes input = compressible_bytes(10 * kib);
  for (auto codec : real_codecs) {
    SCOPED_TRACE(compression_name(codec));
    bytes packed = compress_ok(codec, input);
    bytes noise = random_bytes(packed.size(), 9);
    std::copy(noise.begin() + 12, noise.end(), packed.begin() + 12);
    EXPECT_TRUE(fails_cleanly(codec, decompress(codec, packed, limit(mib))));
  }
}

// ---- gzip ----

TEST(Gzip, WritesAnRfc1952Stream) {
  bytes input = compressible_bytes(10 * kib);
  bytes packed = compress_ok(compression::gzip, input);
  ASSERT_GE(packed.size(), 18u);
  EXPECT_EQ(packed[0], 0x1f);
  EXPECT_EQ(packed[1], 0x8b);
  EXPECT_EQ(packed[2], 8);  // deflate
  auto le32 = [&](size_t at) {
    return uint32_t{packed[at]} | uint32_t{packed[at + 1]} << 8 | uint32_t{packed[at + 2]} << 16 |
           uint32_t{packed[at + 3]} << 24;
  };
  // The trailer: CRC-32 of the data, then its size.
  EXPECT_EQ(le32(packed.size() - 8), crc32(0, input.data(), static_cast<uInt>(input.size())));
  EXPECT_EQ(le32(packed.size() - 4), input.size());
}

// `printf 'hello ' | gzip -n; printf 'world' | gzip -n`: two members, as
// GZIPInputStream accepts.
const bytes gzip_cli_two_members = {
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xcb, 0x48, 0xcd,
    0xc9, 0xc9, 0x57, 0x00, 0x00, 0xf6, 0xf9, 0x81, 0xed, 0x06, 0x00, 0x00, 0x00,
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x2b, 0xcf, 0x2f,
    0xca, 0x49, 0x01, 0x00, 0x43, 0x11, 0x77, 0x3a, 0x05, 0x00, 0x00, 0x00};

TEST(Gzip, DecodesConcatenatedMembersFromTheGzipTool) {
  auto r = decompress(compression::gzip, gzip_cli_two_members, limit(100));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(std::string(r->begin(), r->end()), "hello world");
  // The limit covers all members together.
  EXPECT_FALSE(decompress(compression::gzip, gzip_cli_two_members, limit(10)).ok());
}

TEST(Gzip, TrailingGarbageFails) {
  bytes input = gzip_cli_two_members;
  input.push_back(0);
  EXPECT_FALSE(decompress(compression::gzip, input, limit(100)).ok());
}

TEST(Gzip, ZlibWrappedStreamIsNotGzip) {
  bytes input = compressible_bytes(kib);
  bytes packed(compressBound(input.size()));
  uLongf size = packed.size();
  ASSERT_EQ(compress2(packed.data(), &size, input.data(), input.size(), 6), Z_OK);
  packed.resize(size);
  EXPECT_FALSE(decompress(compression::gzip, packed, limit(mib)).ok());
}

TEST(Gzip, CorruptChecksumFails) {
  bytes packed = compress_ok(compression::gzip, compressible_bytes(kib));
  packed[packed.size() - 6] ^= 1;
  auto r = decompress(compression::gzip, packed, limit(mib));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "gzip: incorrect data check");
}

// ---- snappy ----

uint32_t be32(const bytes& b, size_t at) {
  return uint32_t{b[at]} << 24 | uint32_t{b[at + 1]} << 16 | uint32_t{b[at + 2]} << 8 |
         uint32_t{b[at + 3]};
}

void put_be32(bytes& b, uint32_t v) {
  for (int shift : {24, 16, 8, 0}) b.push_back(static_cast<uint8_t>(v >> shift));
}

const bytes xerial_header = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1};

TEST(Snappy, XerialFramingHasMagicVersionsAnd32KiBBlocks) {
  bytes input = compressible_bytes(100 * kib);
  bytes packed = compress_ok(compression::snappy, input, {.snappy_xerial_framing = true});
  ASSERT_GE(packed.size(), xerial_header.size());
  EXPECT_TRUE(std::equal(xerial_header.begin(), xerial_header.end(), packed.begin()));
  // Walk the blocks: each one is raw snappy for at most 32 KiB of input.
  bytes joined;
  size_t blocks = 0;
  for (size_t at = xerial_header.size(); at < packed.size(); ++blocks) {
    ASSERT_LE(at + 4, packed.size());
    uint32_t length = be32(packed, at);
    at += 4;
    ASSERT_LE(at + length, packed.size());
    bytes block(packed.begin() + static_cast<ptrdiff_t>(at),
                packed.begin() + static_cast<ptrdiff_t>(at + length));
    auto raw = decompress(compression::snappy, block, limit(32 * kib));
    ASSERT_TRUE(raw.ok()) << raw.error().message;
    joined.insert(joined.end(), raw->begin(), raw->end());
    at += length;
  }
  EXPECT_EQ(blocks, 4u);  // 100 KiB in 32 KiB blocks
  EXPECT_EQ(joined, input);
}

TEST(Snappy, XerialDecodesWithoutBeingAskedFor) {
  for (size_t size : {size_t{0}, size_t{1}, 100 * kib}) {
    bytes input = compressible_bytes(size);
    bytes packed = compress_ok(compression::snappy, input, {.snappy_xerial_framing = true});
    auto r = decompress(compression::snappy, packed, limit(size));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(*r, input);
  }
}

// Other writers pick other block sizes (kafka-python uses 32 KiB too, but
// nothing requires it): blocks of any size are read.
TEST(Snappy, XerialBlocksOfAnySizeDecode) {
  bytes input = compressible_bytes(100 * kib);
  bytes stream = xerial_header;
  for (size_t at = 0, step = 1; at < input.size(); at += step, step = step * 3 + 1) {
    bytes chunk(input.begin() + static_cast<ptrdiff_t>(at),
                input.begin() + static_cast<ptrdiff_t>(std::min(input.size(), at + step)));
    bytes block = compress_ok(compression::snappy, chunk);
    put_be32(stream, static_cast<uint32_t>(block.size()));
    stream.insert(stream.end(), block.begin(), block.end());
  }
  auto r = decompress(compression::snappy, stream, limit(input.size()));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, input);
}

TEST(Snappy, XerialBadBlocksFail) {
  bytes block = compress_ok(compression::snappy, compressible_bytes(kib));
  auto stream_with = [&](uint32_t declared_length) {
    bytes stream = xerial_header;
    put_be32(stream, declared_length);
    stream.insert(stream.end(), block.begin(), block.end());
    return stream;
  };
  EXPECT_TRUE(decompress(compression::snappy, stream_with(block.size()), limit(mib)).ok());
  EXPECT_FALSE(decompress(compression::snappy, stream_with(block.size() + 1), limit(mib)).ok());
  EXPECT_FALSE(decompress(compression::snappy, stream_with(0xffffffff), limit(mib)).ok());
  EXPECT_FALSE(decompress(compression::snappy, stream_with(0), limit(mib)).ok());
  // A header cut short.
  EXPECT_FALSE(decompress(compression::snappy,
                          bytes(xerial_header.begin(), xerial_header.begin() + 12), limit(mib))
                   .ok());
}

// A raw snappy block starts with its uncompressed length: a huge claim is
// refused from the length alone.
TEST(Snappy, RawLengthIsCheckedBeforeDecoding) {
  bytes claim = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x00};  // varint 4 GiB - 1, then nothing
  auto r = decompress(compression::snappy, claim, limit(mib));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "snappy: decompressed size exceeds limit of 1048576 bytes");
  bytes overlong = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
  EXPECT_FALSE(decompress(compression::snappy, overlong, limit(mib)).ok());
}

// ---- lz4 ----

// XXH32 (seed 0) of fewer than 16 bytes, straight from the xxHash spec, to
// forge headers independently of the code under test.
uint32_t reference_xxh32(const bytes& data) {
  constexpr uint32_t p1 = 2654435761u, p2 = 2246822519u, p3 = 3266489917u, p4 = 668265263u,
                     p5 = 374761393u;
  auto rotl = [](uint32_t x, int r) { return (x << r) | (x >> (32 - r)); };
  uint32_t h = p5 + static_cast<uint32_t>(data.size());
  size_t i = 0;
  for (; i + 4 <= data.size(); i += 4) {
    uint32_t lane = uint32_t{data[i]} | uint32_t{data[i + 1]} << 8 | uint32_t{data[i + 2]} << 16 |
                    uint32_t{data[i + 3]} << 24;
    h = rotl(h + lane * p3, 17) * p4;
  }
  for (; i < data.size(); ++i) h = rotl(h + data[i] * p5, 11) * p1;
  h ^= h >> 15;
  h *= p2;
  h ^= h >> 13;
  h *= p3;
  return h ^ (h >> 16);
}

TEST(Lz4, ReferenceXxh32MatchesKnownValues) {
  EXPECT_EQ(reference_xxh32({}), 0x02CC5D05u);
  // The well-known HC of a 64 KiB independent-block frame descriptor.
  EXPECT_EQ((reference_xxh32({0x60, 0x40}) >> 8) & 0xff, 0x82u);
}

TEST(Lz4, WritesTheFrameHeaderKafkaWrites) {
  bytes packed = compress_ok(compression::lz4, compressible_bytes(kib));
  // Magic 0x184D2204 (LE); FLG: version 01, independent blocks, no checksums,
  // no content size; BD: 64 KiB blocks; HC.
  const bytes header = {0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82};
  ASSERT_GE(packed.size(), header.size());
  EXPECT_TRUE(std::equal(header.begin(), header.end(), packed.begin()));
  // Ends with the end mark (a zero block size) and no content checksum.
  EXPECT_EQ(be32(packed, packed.size() - 4), 0u);
}

// The frame Kafka 0.8/0.9 wrote for magic-0 message sets (KIP-57): the HC was
// computed over the magic bytes too.
bytes with_legacy_header_checksum(bytes frame) {
  bytes magic_and_descriptor(frame.begin(), frame.begin() + 6);
  frame[6] = static_cast<uint8_t>(reference_xxh32(magic_and_descriptor) >> 8);
  return frame;
}

TEST(Lz4, LegacyHeaderChecksumNeedsTheOption) {
  bytes input = compressible_bytes(100 * kib);
  bytes frame = compress_ok(compression::lz4, input);
  bytes legacy = with_legacy_header_checksum(frame);
  ASSERT_NE(legacy[6], frame[6]);

  auto strict = decompress(compression::lz4, legacy, limit(input.size()));
  ASSERT_FALSE(strict.ok());
  EXPECT_NE(strict.error().message.find("lz4: "), std::string::npos);

  decompress_options lenient = {.max_output = input.size(), .lz4_legacy_header_checksum = true};
  auto r = decompress(compression::lz4, legacy, lenient);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(*r, input);
  // Correct frames still decode with the option, and limits still apply.
  EXPECT_TRUE(decompress(compression::lz4, frame, lenient).ok());
  lenient.max_output = input.size() - 1;
  EXPECT_FALSE(decompress(compression::lz4, legacy, lenient).ok());
}

TEST(Lz4, LegacyOptionStillRejectsBrokenFrames) {
  decompress_options lenient = {.max_output = mib, .lz4_legacy_header_checksum = true};
  bytes frame = with_legacy_header_checksum(compress_ok(compression::lz4, compressible_bytes(kib)));
  for (size_t keep : {size_t{0}, size_t{3}, size_t{5}, size_t{6}, size_t{7}, frame.size() - 1}) {
    bytes cut(frame.begin(), frame.begin() + static_cast<ptrdiff_t>(keep));
    EXPECT_FALSE(decompress(compression::lz4, cut, lenient).ok()) << "kept " << keep;
  }
  EXPECT_FALSE(decompress(compression::lz4, random_bytes(100, 11), lenient).ok());
}

// `printf 'sluice sluice sluice sluice sluice!' | lz4 -c`: a content checksum,
// which Kafka's writer never sets but the format allows.
const bytes lz4_cli_frame = {0x04, 0x22, 0x4d, 0x18, 0x64, 0x40, 0xa7, 0x11, 0x00,
                             0x00, 0x00, 0x7f, 0x73, 0x6c, 0x75, 0x69, 0x63, 0x65,
                             0x20, 0x07, 0x00, 0x04, 0x50, 0x75, 0x69, 0x63, 0x65,
                             0x21, 0x00, 0x00, 0x00, 0x00, 0x41, 0x31, 0xff, 0x73};

TEST(Lz4, DecodesTheLz4ToolsFrames) {
  auto r = decompress(compression::lz4, lz4_cli_frame, limit(100));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(std::string(r->begin(), r->end()), "sluice sluice sluice sluice sluice!");
  bytes corrupt = lz4_cli_frame;
  corrupt[corrupt.size() - 1] ^= 1;  // the content checksum
  EXPECT_FALSE(decompress(compression::lz4, corrupt, limit(100)).ok());
}

TEST(Lz4, ConcatenatedFramesDecode) {
  bytes stream = lz4_cli_frame;
  stream.insert(stream.end(), lz4_cli_frame.begin(), lz4_cli_frame.end());
  auto r = decompress(compression::lz4, stream, limit(100));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->size(), 70u);
}

// ---- zstd ----

// `printf 'sluice sluice sluice sluice sluice!' | zstd -c`: with content size
// and checksum.
const bytes zstd_cli_frame = {0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x58, 0x75, 0x00, 0x00,
                              0x40, 0x73, 0x6c, 0x75, 0x69, 0x63, 0x65, 0x20, 0x21,
                              0x01, 0x00, 0x0a, 0x8b, 0x11, 0x41, 0xc1, 0x17, 0x18};

TEST(Zstd, DecodesTheZstdToolsFrames) {
  auto r = decompress(compression::zstd, zstd_cli_frame, limit(100));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(std::string(r->begin(), r->end()), "sluice sluice sluice sluice sluice!");
  bytes corrupt = zstd_cli_frame;
  corrupt[corrupt.size() - 1] ^= 1;  // the content checksum
  EXPECT_FALSE(decompress(compression::zstd, corrupt, limit(100)).ok());
}

TEST(Zstd, ContentSizeClaimDoesNotRaiseTheLimit) {
  // The frame says 35 bytes; a 34-byte limit must still win.
  auto r = decompress(compression::zstd, zstd_cli_frame, limit(34));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "zstd: decompressed size exceeds limit of 34 bytes");
}

TEST(Zstd, ConcatenatedFramesDecode) {
  bytes stream = zstd_cli_frame;
  stream.insert(stream.end(), zstd_cli_frame.begin(), zstd_cli_frame.end());
  auto r = decompress(compression::zstd, stream, limit(100));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->size(), 70u);
  stream.push_back(0);
  EXPECT_FALSE(decompress(compression::zstd, stream, limit(100)).ok());
}

}  // namespace
}  // namespace sluice::protocol
