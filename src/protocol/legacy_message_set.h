#pragma once

// Legacy message sets (magic 0 and 1), the format before record batches
// (CLIENTS.md 6.7). Old clients (sarama at its default version, Produce v0-2
// and Fetch v0-3) still send and expect them.
//
// A message set is a run of {offset int64, size int32, message}; a message is
// {crc uint32 (CRC-32 IEEE over the rest), magic int8, attributes int8,
// timestamp int64 (magic 1 only), key bytes, value bytes}. A compressed
// message is a wrapper: its value is a compressed inner message set. For magic
// 1 the inner offsets are relative and the wrapper carries the absolute offset
// of the last inner message; for magic 0 the inner offsets are absolute.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "base/result.h"
#include "base/shared_bytes.h"
#include "protocol/compression.h"
#include "protocol/record_batch.h"

namespace sluice::protocol {

// One message as a consumer sees it: inner messages of a wrapper come out one
// by one, with absolute offsets.
struct legacy_message {
  int64_t offset = 0;
  int8_t magic = 0;
  int64_t timestamp = -1;  // -1 for magic 0
  timestamp_type ts_type = timestamp_type::create_time;
  // The codec of the wrapper the message came in; none for a plain message.
  compression codec = compression::none;
  std::optional<base::shared_bytes> key;  // nullopt: null (length -1)
  std::optional<base::shared_bytes> value;
};

struct legacy_read_options {
  // A wrapper's inner message set may not decompress to more than this.
  size_t max_decompressed_bytes = 0;
  // Stop quietly at a message cut short by the end of the data (Fetch
  // responses end with one); otherwise such a tail is an error.
  bool allow_partial_tail = false;
  // Whether to check each message's CRC. Off only where nothing depends on
  // the bytes being intact (fuzzing the decoders behind the check).
  bool verify_crc = true;
};

// Reads the messages of a message set, decompressing wrappers one level deep.
// Errors use the kinds of record batches: a bad CRC, size or magic is
// corrupt_message; a wrapper breaking the rules (nested compression, no inner
// messages, mismatched magic, an impossible offset) is invalid_record.
class legacy_message_reader {
 public:
  legacy_message_reader(base::shared_bytes message_set, const legacy_read_options& options)
      : set_(std::move(message_set)), options_(options) {}

  // Reads the next message into `out`; false at the end of the set or at a
  // tolerated partial tail.
  batch_result<bool> next(legacy_message& out);

  // Bytes of the outer message set consumed so far.
  size_t position() const { return position_; }

 private:
  // Decompresses and checks a wrapper's inner messages into inner_.
  batch_result<void> open_wrapper(int8_t attributes, legacy_message wrapper);

  base::shared_bytes set_;
  legacy_read_options options_;
  size_t position_ = 0;
  // The inner messages of the current wrapper, already checked and placed at
  // their absolute offsets.
  std::vector<legacy_message> inner_;
  size_t next_inner_ = 0;
};

batch_result<std::vector<legacy_message>> read_legacy_message_set(
    const base::shared_bytes& message_set, const legacy_read_options& options);

// ---------------------------------------------------------------------------
// Writing, for tests and for down-converting Fetch responses to old clients.

struct legacy_record {
  int64_t offset = 0;
  int64_t timestamp = -1;  // ignored for magic 0
  optional_bytes key;
  optional_bytes value;
};

struct legacy_write_options {
  int8_t magic = 1;
  // Not none: all records go into one wrapper message of this codec (gzip,
  // snappy or lz4; Kafka never allowed zstd in legacy messages).
  compression codec = compression::none;
  compress_options compression_options;
  timestamp_type ts_type = timestamp_type::create_time;
};

// Writes `records` as a message set. Records keep their offsets; in a magic-1
// wrapper they are stored relative to the first, and the wrapper carries the
// last record's offset and the largest timestamp.
base::result<std::vector<uint8_t>> write_legacy_message_set(std::span<const legacy_record> records,
                                                            const legacy_write_options& options);

}  // namespace sluice::protocol
