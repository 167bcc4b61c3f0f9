#pragma once

// Compression codecs of Kafka record batches: gzip, snappy, lz4 and zstd, as
// the codec id in bits 0-2 of a batch's attributes names them.
//
// Decompression is bounded: every call takes the largest output it may produce
// and fails, without allocating more, when the input would expand beyond it
// (a zip bomb in a produce request must not take the broker down).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace sluice::protocol {

enum class compression : uint8_t { none = 0, gzip = 1, snappy = 2, lz4 = 3, zstd = 4 };

// "none", "gzip", "snappy", "lz4", "zstd" (Kafka's compression.type values).
std::string_view compression_name(compression codec);
std::optional<compression> parse_compression(std::string_view name);

struct compress_options {
  // Codec-specific level; 0 picks the codec's default (what Kafka uses):
  // gzip 1-9 (default 6), lz4 as LZ4F reads it (0 is the fast mode, 3 and up
  // LZ4 HC), zstd its usual levels (default 3). Snappy has no levels.
  int level = 0;
  // Write snappy in the xerial/snappy-java framing (as the Java client and
  // kafka-python do) instead of one raw snappy block (as librdkafka does).
  bool snappy_xerial_framing = false;
};

// Compresses `input` into the stream a Kafka producer would write for `codec`:
// a gzip (RFC 1952) stream, raw snappy, an LZ4 frame, a zstd frame.
base::result<std::vector<uint8_t>> compress(compression codec, std::span<const uint8_t> input,
                                            const compress_options& options = {});

struct decompress_options {
  // The decompressed data may not exceed this many bytes.
  size_t max_output = 0;
  // Accept the wrong LZ4 frame-header checksum that Kafka 0.8/0.9 wrote for
  // magic-0 messages (KIP-57). Only for legacy message sets.
  bool lz4_legacy_header_checksum = false;
};

// Decompresses any stream a Kafka client may write for `codec`. Snappy is
// accepted both raw and xerial-framed; gzip members, LZ4 frames and zstd frames
// may be concatenated. Fails, with a message starting "<codec>: ", on corrupt
// or truncated input and as soon as the output would exceed max_output.
base::result<std::vector<uint8_t>> decompress(compression codec, std::span<const uint8_t> input,
                                              const decompress_options& options);

}  // namespace sluice::protocol
