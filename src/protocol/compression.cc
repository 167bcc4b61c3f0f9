#include "protocol/compression.h"

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>
#include <memory>
#include <string>

#define ZLIB_CONST
#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include "base/endian.h"

namespace sluice::protocol {
namespace {

using bytes = std::vector<uint8_t>;

base::unexpected<base::error> limit_exceeded(std::string_view codec, size_t limit) {
  return base::fail(std::string(codec) + ": decompressed size exceeds limit of " +
                    std::to_string(limit) + " bytes");
}

// Collects the output of a streaming decoder. The buffer grows geometrically
// with what the decoder actually produces, never beyond the limit, so no size
// claimed by the input (gzip ISIZE, zstd frame content size) is trusted for
// allocation. Once the buffer is at the limit, space() hands out one scratch
// byte instead: a decoder that writes into it proves the data is too large.
class bounded_output {
 public:
  bounded_output(size_t limit, size_t input_size) : limit_(limit) {
    // Record batches typically compress 2-5x: start near the likely size.
    constexpr size_t min_initial = 64 * 1024;
    initial_ = std::min(limit, std::max(min_initial, input_size * 4));
  }

  std::span<uint8_t> space() {
    if (used_ == buffer_.size() && buffer_.size() < limit_) {
      size_t grown = buffer_.empty() ? initial_ : buffer_.size() * 2;
      buffer_.resize(std::min(grown, limit_));
    }
    if (used_ == buffer_.size()) {
      at_limit_ = true;
      return {&scratch_, 1};
    }
    return {buffer_.data() + used_, buffer_.size() - used_};
  }

  // Records that the decoder wrote `n` bytes into the last space().
  void commit(size_t n) {
    if (at_limit_)
      overflowed_ = overflowed_ || n > 0;
    else
      used_ += n;
  }

  bool overflowed() const { return overflowed_; }

  bytes take() {
    buffer_.resize(used_);
    return std::move(buffer_);
  }

 private:
  size_t limit_;
  size_t initial_;
  bytes buffer_;
  size_t used_ = 0;
  uint8_t scratch_ = 0;
  bool at_limit_ = false;
  bool overflowed_ = false;
};

uint32_t load_le32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

// zlib counts in uInt; larger buffers are handed over in pieces of this size.
constexpr size_t zlib_max_chunk = UINT_MAX;

// ---- none ----

base::result<bytes> copy_bounded(std::span<const uint8_t> input, size_t limit) {
  if (input.size() > limit) return limit_exceeded("none", limit);
  return bytes(input.begin(), input.end());
}

// ---- gzip ----

base::result<bytes> gzip_compress(std::span<const uint8_t> input, int level) {
  z_stream zs{};
  // windowBits 15 + 16: a gzip (RFC 1952) wrapper rather than zlib's.
  int rc = deflateInit2(&zs, level == 0 ? Z_DEFAULT_COMPRESSION : level, Z_DEFLATED, 15 + 16, 8,
                        Z_DEFAULT_STRATEGY);
  if (rc == Z_STREAM_ERROR)
    return base::fail("gzip: invalid compression level " + std::to_string(level));
  if (rc != Z_OK) return base::fail("gzip: cannot initialise the compressor");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, deflateEnd);

  bytes out(deflateBound(&zs, std::min(input.size(), zlib_max_chunk)));
  size_t fed = 0;
  size_t used = 0;
  for (;;) {
    if (zs.avail_in == 0 && fed < input.size()) {
      size_t n = std::min(input.size() - fed, zlib_max_chunk);
      zs.next_in = input.data() + fed;
      zs.avail_in = static_cast<uInt>(n);
      fed += n;
    }
    if (used == out.size()) out.resize(out.size() * 2);
    size_t room = std::min(out.size() - used, zlib_max_chunk);
    zs.next_out = out.data() + used;
    zs.avail_out = static_cast<uInt>(room);
    int flush = zs.avail_in == 0 && fed == input.size() ? Z_FINISH : Z_NO_FLUSH;
    rc = deflate(&zs, flush);
    used += room - zs.avail_out;
    if (rc == Z_STREAM_END) break;
    if (rc != Z_OK && rc != Z_BUF_ERROR) return base::fail("gzip: compression failed");
  }
  out.resize(used);
  return out;
}

// Accepts one gzip member or several concatenated, as GZIPInputStream does.
// Bytes after the last member that do not form another member are an error
// (GZIPInputStream drops them silently, but no client writes them).
base::result<bytes> gzip_decompress(std::span<const uint8_t> input, size_t limit) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK)
    return base::fail("gzip: cannot initialise the decompressor");
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, inflateEnd);

  bounded_output out(limit, input.size());
  size_t fed = 0;
  for (;;) {
    if (zs.avail_in == 0 && fed < input.size()) {
      size_t n = std::min(input.size() - fed, zlib_max_chunk);
      zs.next_in = input.data() + fed;
      zs.avail_in = static_cast<uInt>(n);
      fed += n;
    }
    std::span<uint8_t> dst = out.space();
    size_t room = std::min(dst.size(), zlib_max_chunk);
    zs.next_out = dst.data();
    zs.avail_out = static_cast<uInt>(room);
    int rc = inflate(&zs, Z_NO_FLUSH);
    out.commit(room - zs.avail_out);
    if (out.overflowed()) return limit_exceeded("gzip", limit);
    if (rc == Z_STREAM_END) {
      if (zs.avail_in == 0 && fed == input.size()) break;
      // Another member follows; inflate checks its header like the first.
      inflateReset(&zs);
      continue;
    }
    // There is always room for output, so inflate stalls only for want of input.
    if (rc == Z_BUF_ERROR) return base::fail("gzip: truncated stream");
    if (rc == Z_MEM_ERROR) return base::fail("gzip: out of memory");
    if (rc != Z_OK)
      return base::fail(std::string("gzip: ") + (zs.msg != nullptr ? zs.msg : "corrupt stream"));
  }
  return out.take();
}

// ---- snappy ----

// The xerial/snappy-java stream: a 16-byte header (magic, version, minimum
// compatible version) then blocks of int32 big-endian length + raw snappy.
constexpr std::array<uint8_t, 8> xerial_magic = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
constexpr size_t xerial_header_size = 16;
constexpr int32_t xerial_version = 1;
// snappy-java's default block size, which Kafka's producer uses.
constexpr size_t xerial_block_size = 32 * 1024;

bool append_snappy_block(bytes& out, std::span<const uint8_t> input) {
  size_t at = out.size();
  size_t length = snappy_max_compressed_length(input.size());
  out.resize(at + length);
  if (snappy_compress(reinterpret_cast<const char*>(input.data()), input.size(),
                      reinterpret_cast<char*>(out.data() + at), &length) != SNAPPY_OK)
    return false;
  out.resize(at + length);
  return true;
}

base::result<bytes> snappy_compress_raw(std::span<const uint8_t> input) {
  bytes out;
  if (!append_snappy_block(out, input)) return base::fail("snappy: compression failed");
  return out;
}

base::result<bytes> snappy_compress_xerial(std::span<const uint8_t> input) {
  bytes out(xerial_header_size);
  std::memcpy(out.data(), xerial_magic.data(), xerial_magic.size());
  base::store_be<uint32_t>(out.data() + 8, xerial_version);
  base::store_be<uint32_t>(out.data() + 12, xerial_version);
  for (size_t at = 0; at < input.size(); at += xerial_block_size) {
    size_t length_at = out.size();
    out.resize(length_at + 4);
    if (!append_snappy_block(out,
                             input.subspan(at, std::min(xerial_block_size, input.size() - at))))
      return base::fail("snappy: compression failed");
    base::store_be<uint32_t>(out.data() + length_at,
                             static_cast<uint32_t>(out.size() - length_at - 4));
  }
  return out;
}

// Appends the raw snappy block `block` to `out`, keeping `out` within `limit`.
// The block's declared length is checked before anything is allocated.
base::result<void> append_snappy_uncompressed(bytes& out, std::span<const uint8_t> block,
                                              size_t limit) {
  size_t length = 0;
  if (snappy_uncompressed_length(reinterpret_cast<const char*>(block.data()), block.size(),
                                 &length) != SNAPPY_OK)
    return base::fail("snappy: corrupt block header");
  if (length > limit - out.size()) return limit_exceeded("snappy", limit);
  size_t at = out.size();
  out.resize(at + length);
  if (snappy_uncompress(reinterpret_cast<const char*>(block.data()), block.size(),
                        reinterpret_cast<char*>(out.data() + at), &length) != SNAPPY_OK ||
      length != out.size() - at)
    return base::fail("snappy: corrupt block");
  return {};
}

base::result<bytes> snappy_decompress(std::span<const uint8_t> input, size_t limit) {
  bytes out;
  bool xerial = input.size() >= xerial_magic.size() &&
                std::equal(xerial_magic.begin(), xerial_magic.end(), input.begin());
  if (!xerial) {
    auto r = append_snappy_uncompressed(out, input, limit);
    if (!r) return base::unexpected{r.error()};
    return out;
  }
  // Readers (snappy-java, librdkafka) do not check the version fields: skip them.
  if (input.size() < xerial_header_size) return base::fail("snappy: truncated xerial header");
  for (size_t at = xerial_header_size; at < input.size();) {
    if (input.size() - at < 4) return base::fail("snappy: truncated xerial block length");
    uint32_t length = base::load_be<uint32_t>(input.data() + at);
    at += 4;
    if (length > input.size() - at) return base::fail("snappy: truncated xerial block");
    auto r = append_snappy_uncompressed(out, input.subspan(at, length), limit);
    if (!r) return base::unexpected{r.error()};
    at += length;
  }
  return out;
}

// ---- lz4 ----

struct lz4_dctx_free {
  void operator()(LZ4F_dctx* ctx) const { LZ4F_freeDecompressionContext(ctx); }
};

constexpr uint32_t lz4_frame_magic = 0x184D2204;

base::result<bytes> lz4_compress(std::span<const uint8_t> input, int level) {
  // What Kafka's KafkaLZ4BlockOutputStream writes: 64 KiB independent blocks,
  // no checksums, no content size. Level 0 is LZ4's fast mode, Kafka's default.
  LZ4F_preferences_t prefs{};
  prefs.frameInfo.blockSizeID = LZ4F_max64KB;
  prefs.frameInfo.blockMode = LZ4F_blockIndependent;
  prefs.frameInfo.contentChecksumFlag = LZ4F_noContentChecksum;
  prefs.frameInfo.blockChecksumFlag = LZ4F_noBlockChecksum;
  prefs.compressionLevel = level;
  bytes out(LZ4F_compressFrameBound(input.size(), &prefs));
  size_t n = LZ4F_compressFrame(out.data(), out.size(), input.data(), input.size(), &prefs);
  if (LZ4F_isError(n)) return base::fail(std::string("lz4: ") + LZ4F_getErrorName(n));
  out.resize(n);
  return out;
}

// XXH32 with seed 0, for inputs under 16 bytes (an LZ4 frame descriptor is at
// most 14): the short-input path of the xxHash specification.
uint32_t xxh32_short(const uint8_t* p, size_t n) {
  constexpr uint32_t prime1 = 2654435761u, prime2 = 2246822519u, prime3 = 3266489917u,
                     prime4 = 668265263u, prime5 = 374761393u;
  auto rotl = [](uint32_t x, int r) { return (x << r) | (x >> (32 - r)); };
  uint32_t h = prime5 + static_cast<uint32_t>(n);
  for (; n >= 4; p += 4, n -= 4) h = rotl(h + load_le32(p) * prime3, 17) * prime4;
  for (; n > 0; ++p, --n) h = rotl(h + *p * prime5, 11) * prime1;
  h ^= h >> 15;
  h *= prime2;
  h ^= h >> 13;
  h *= prime3;
  h ^= h >> 16;
  return h;
}

// KIP-57: Kafka 0.8/0.9 computed the frame header checksum (HC) over the magic
// number too. Kafka does not check the HC of magic-0 message sets at all; LZ4F
// always checks it, so it is given a copy of the header with the correct HC.
// Returns how many input bytes the patched header replaced (0 if none).
base::result<size_t> lz4_feed_patched_header(LZ4F_dctx* ctx, std::span<const uint8_t> input) {
  if (input.size() < 4 || load_le32(input.data()) != lz4_frame_magic) return 0;
  size_t size = LZ4F_headerSize(input.data(), input.size());
  // Headers LZ4F cannot size, or truncated ones, fail in the normal path.
  if (LZ4F_isError(size) || size > input.size()) return 0;
  std::array<uint8_t, LZ4F_HEADER_SIZE_MAX> header;
  std::memcpy(header.data(), input.data(), size);
  header[size - 1] = static_cast<uint8_t>(xxh32_short(header.data() + 4, size - 5) >> 8);
  // A header carries no data: no room for output is needed.
  uint8_t unused;
  size_t produced = 0;
  size_t consumed = size;
  size_t rc = LZ4F_decompress(ctx, &unused, &produced, header.data(), &consumed, nullptr);
  if (LZ4F_isError(rc)) return base::fail(std::string("lz4: ") + LZ4F_getErrorName(rc));
  return consumed;
}

base::result<bytes> lz4_decompress(std::span<const uint8_t> input,
                                   const decompress_options& options) {
  LZ4F_dctx* raw = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&raw, LZ4F_VERSION)))
    return base::fail("lz4: cannot initialise the decompressor");
  std::unique_ptr<LZ4F_dctx, lz4_dctx_free> ctx(raw);

  std::span<const uint8_t> src = input;
  if (options.lz4_legacy_header_checksum) {
    auto replaced = lz4_feed_patched_header(ctx.get(), input);
    if (!replaced) return base::unexpected{replaced.error()};
    src = src.subspan(*replaced);
  }

  bounded_output out(options.max_output, input.size());
  for (;;) {
    std::span<uint8_t> dst = out.space();
    size_t produced = dst.size();
    size_t consumed = src.size();
    size_t hint = LZ4F_decompress(ctx.get(), dst.data(), &produced, src.data(), &consumed, nullptr);
    if (LZ4F_isError(hint)) return base::fail(std::string("lz4: ") + LZ4F_getErrorName(hint));
    src = src.subspan(consumed);
    out.commit(produced);
    if (out.overflowed()) return limit_exceeded("lz4", options.max_output);
    // 0: the frame is complete; more input is another frame (the context resets itself).
    if (hint == 0 && src.empty()) break;
    if (src.empty() && produced < dst.size()) return base::fail("lz4: truncated frame");
    if (consumed == 0 && produced == 0) return base::fail("lz4: decoder made no progress");
  }
  return out.take();
}

// ---- zstd ----

base::result<bytes> zstd_compress(std::span<const uint8_t> input, int level) {
  bytes out(ZSTD_compressBound(input.size()));
  size_t n = ZSTD_compress(out.data(), out.size(), input.data(), input.size(),
                           level == 0 ? ZSTD_CLEVEL_DEFAULT : level);
  if (ZSTD_isError(n)) return base::fail(std::string("zstd: ") + ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

// Streams into a bounded buffer; the frame content size is never used to size
// it. The decoder's own window stays under zstd's default limit (128 MiB, as
// for Kafka's zstd-jni); its pages are only touched as output is produced, so
// memory in use follows the bounded output.
base::result<bytes> zstd_decompress(std::span<const uint8_t> input, size_t limit) {
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (!ctx) return base::fail("zstd: cannot initialise the decompressor");

  bounded_output out(limit, input.size());
  ZSTD_inBuffer in{input.data(), input.size(), 0};
  for (;;) {
    std::span<uint8_t> dst = out.space();
    ZSTD_outBuffer o{dst.data(), dst.size(), 0};
    size_t consumed_before = in.pos;
    size_t rc = ZSTD_decompressStream(ctx.get(), &o, &in);
    if (ZSTD_isError(rc)) return base::fail(std::string("zstd: ") + ZSTD_getErrorName(rc));
    out.commit(o.pos);
    if (out.overflowed()) return limit_exceeded("zstd", limit);
    // 0: a frame is complete and flushed; more input is another frame.
    if (rc == 0 && in.pos == in.size) break;
    if (in.pos == in.size && o.pos < o.size) return base::fail("zstd: truncated frame");
    if (in.pos == consumed_before && o.pos == 0)
      return base::fail("zstd: decoder made no progress");
  }
  return out.take();
}

}  // namespace

std::string_view compression_name(compression codec) {
  switch (codec) {
    case compression::none:
      return "none";
    case compression::gzip:
      return "gzip";
    case compression::snappy:
      return "snappy";
    case compression::lz4:
      return "lz4";
    case compression::zstd:
      return "zstd";
  }
  return "unknown";
}

std::optional<compression> parse_compression(std::string_view name) {
  for (auto codec : {compression::none, compression::gzip, compression::snappy, compression::lz4,
                     compression::zstd})
    if (compression_name(codec) == name) return codec;
  return std::nullopt;
}

base::result<std::vector<uint8_t>> compress(compression codec, std::span<const uint8_t> input,
                                            const compress_options& options) {
  switch (codec) {
    case compression::none:
      return bytes(input.begin(), input.end());
    case compression::gzip:
      return gzip_compress(input, options.level);
    case compression::snappy:
      return options.snappy_xerial_framing ? snappy_compress_xerial(input)
                                           : snappy_compress_raw(input);
    case compression::lz4:
      return lz4_compress(input, options.level);
    case compression::zstd:
      return zstd_compress(input, options.level);
  }
  return base::fail("unknown compression codec " + std::to_string(static_cast<int>(codec)));
}

base::result<std::vector<uint8_t>> decompress(compression codec, std::span<const uint8_t> input,
                                              const decompress_options& options) {
  switch (codec) {
    case compression::none:
      return copy_bounded(input, options.max_output);
    case compression::gzip:
      return gzip_decompress(input, options.max_output);
    case compression::snappy:
      return snappy_decompress(input, options.max_output);
    case compression::lz4:
      return lz4_decompress(input, options);
    case compression::zstd:
      return zstd_decompress(input, options.max_output);
  }
  return base::fail("unknown compression codec " + std::to_string(static_cast<int>(codec)));
}

}  // namespace sluice::protocol
