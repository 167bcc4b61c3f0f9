#pragma once

// Record batches (magic 2): the unit in which producers send, the broker
// stores and consumers fetch records (CLIENTS.md 6.4-6.6).
//
// The broker keeps batches as the bytes a producer sent: it checks them,
// stamps offsets, leader epoch and (for LogAppendTime) a timestamp into the
// header in place, and writes them to the log byte for byte. So this file is
// mostly about reading and checking bytes without copying them; decoding
// single records and building batches are for the places that need records
// (consumers inside the broker, control markers, tests, down-conversion).
//
// Everything that reads bytes is safe on hostile input: every length is
// checked against what is there before it is used, and nothing is allocated
// in proportion to a count or length the input claims.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/byte_writer.h"
#include "base/result.h"
#include "base/shared_bytes.h"
#include "protocol/compression.h"
#include "protocol/error_code.h"

namespace sluice::protocol {

// Why bytes were rejected: the two Kafka errors a broker answers with for bad
// records.
enum class batch_errc : uint8_t {
  corrupt_message,  // bad CRC, impossible length or magic, undecodable data: CORRUPT_MESSAGE
  invalid_record,   // intact bytes that break a rule of the format: INVALID_RECORD
};

// The Kafka error a broker answers with for `code`.
constexpr error_code to_error_code(batch_errc code) {
  return code == batch_errc::corrupt_message ? error_code::corrupt_message
                                             : error_code::invalid_record;
}

struct batch_error {
  batch_errc code;
  std::string message;
};

template <typename T>
using batch_result = base::result<T, batch_error>;

enum class timestamp_type : uint8_t { create_time = 0, log_append_time = 1 };

// Byte offsets of the magic-2 header fields, from the start of the batch.
namespace batch_layout {
inline constexpr size_t base_offset = 0;
inline constexpr size_t batch_length = 8;
inline constexpr size_t partition_leader_epoch = 12;
inline constexpr size_t magic = 16;
inline constexpr size_t crc = 17;
inline constexpr size_t attributes = 21;
inline constexpr size_t last_offset_delta = 23;
inline constexpr size_t base_timestamp = 27;
inline constexpr size_t max_timestamp = 35;
inline constexpr size_t producer_id = 43;
inline constexpr size_t producer_epoch = 51;
inline constexpr size_t base_sequence = 53;
inline constexpr size_t records_count = 57;
inline constexpr size_t header_size = 61;

// base offset + batch length: the part of a batch its length does not count.
inline constexpr size_t log_overhead = 12;
// The CRC covers everything from the attributes to the end of the batch.
inline constexpr size_t crc_start = attributes;
// The smallest batch length (a header with no records).
inline constexpr int32_t min_batch_length = header_size - log_overhead;
}  // namespace batch_layout

inline constexpr int8_t record_batch_magic = 2;

// Offsets and timestamps come from the sender: sums of them wrap, as they do
// in Kafka, rather than overflow.
constexpr int64_t wrapping_add(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

// The fixed 61-byte header of a magic-2 batch, decoded.
struct batch_header {
  int64_t base_offset = 0;
  int32_t batch_length = 0;
  int32_t partition_leader_epoch = -1;
  int8_t magic = record_batch_magic;
  uint32_t crc = 0;
  int16_t attributes = 0;
  int32_t last_offset_delta = 0;
  int64_t base_timestamp = -1;
  int64_t max_timestamp = -1;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
  int32_t records_count = 0;

  // Attribute bits. parse_batch_header() rejects codec ids beyond zstd.
  compression codec() const { return static_cast<compression>(attributes & 0x07); }
  timestamp_type ts_type() const {
    return (attributes & 0x08) != 0 ? timestamp_type::log_append_time : timestamp_type::create_time;
  }
  bool is_transactional() const { return (attributes & 0x10) != 0; }
  bool is_control() const { return (attributes & 0x20) != 0; }
  // Set by compaction: base_timestamp then holds the delete horizon.
  bool has_delete_horizon() const { return (attributes & 0x40) != 0; }

  int64_t last_offset() const { return wrapping_add(base_offset, last_offset_delta); }
  // Bytes of the whole batch, header included.
  size_t size() const { return batch_layout::log_overhead + static_cast<size_t>(batch_length); }
};

// Decodes the header of the batch at the start of `bytes`. Checks, in this
// order, that the length and magic can be read, that the magic is 2, that the
// length is at least a header's and that the whole batch lies within `bytes`;
// then that the codec id is known. The CRC is not checked here.
batch_result<batch_header> parse_batch_header(std::span<const uint8_t> bytes);

// Decodes a header on its own (the first header_size bytes of a batch), with
// the same checks except that the rest of the batch need not be there: for a
// walk over batch headers in a file.
batch_result<batch_header> decode_batch_header(
    std::span<const uint8_t, batch_layout::header_size> header);

// One magic-2 batch: its header, decoded once, and its bytes, a slice of the
// buffer it arrived in.
class record_batch {
 public:
  // The batch at the start of `bytes` (which may continue past it).
  static batch_result<record_batch> parse(const base::shared_bytes& bytes);

  const batch_header& header() const { return header_; }
  // Exactly the batch: header().size() bytes.
  const base::shared_bytes& bytes() const { return bytes_; }
  // What follows the header: the records, or one compressed stream of them.
  base::shared_bytes records_bytes() const {
    return bytes_.slice(batch_layout::header_size, bytes_.size() - batch_layout::header_size);
  }

 private:
  record_batch(const batch_header& header, base::shared_bytes bytes)
      : header_(header), bytes_(std::move(bytes)) {}

  batch_header header_;
  base::shared_bytes bytes_;
};

struct split_options {
  // Stop quietly at a batch cut short by the end of the range, as a Fetch
  // response may end. Otherwise such a tail is an error. A tail counts as cut
  // short only while what is there of its header is plausible.
  bool allow_partial_tail = false;
};

// Splits a byte range (a Produce request's records, a region of a segment
// file) into batches, each a slice of the range.
class batch_splitter {
 public:
  explicit batch_splitter(base::shared_bytes range, split_options options = {})
      : range_(std::move(range)), options_(options) {}

  // The next batch, or nullopt at the end of the range or at a tolerated
  // partial tail. After an error, returns the same error again.
  batch_result<std::optional<record_batch>> next();

  // Bytes taken up by the batches returned so far: where recovery cuts a log
  // whose tail is torn.
  size_t position() const { return position_; }

 private:
  base::shared_bytes range_;
  split_options options_;
  size_t position_ = 0;
};

batch_result<std::vector<record_batch>> split_batches(const base::shared_bytes& range,
                                                      split_options options = {});

// Checks the CRC-32C over bytes 21..end.
batch_result<void> verify_crc(const record_batch& batch);

// Checks that the records fill the batch exactly: each record's length and
// fields fit, and there are records_count of them. Compressed batches are
// decompressed into at most `max_decompressed_bytes` first; with 0 their
// records are not looked at. Uncompressed batches are walked without
// allocating.
batch_result<void> check_records(const record_batch& batch, size_t max_decompressed_bytes = 0);

// Everything a broker checks on a batch a producer sent, as Kafka's
// LogValidator does: the CRC; at least one record and lastOffsetDelta + 1 ==
// recordsCount; no control bit (only brokers write control batches); a
// producer id only with a base sequence; and check_records().
batch_result<void> validate_produced_batch(const record_batch& batch,
                                           size_t max_decompressed_bytes = 0);

// In-place updates of one batch, `batch` spanning exactly its bytes. The base
// offset and the leader epoch lie outside the CRC, so setting them leaves the
// CRC as it is.
void set_base_offset(std::span<uint8_t> batch, int64_t base_offset);
void set_partition_leader_epoch(std::span<uint8_t> batch, int32_t epoch);
// Sets the timestamp type bit and the max timestamp, as the broker does for
// LogAppendTime topics, and recomputes the CRC over the bytes as they are.
void set_max_timestamp(std::span<uint8_t> batch, timestamp_type type, int64_t max_timestamp);

// ---------------------------------------------------------------------------
// Records inside a batch.

struct record_header {
  std::string key;
  std::optional<base::shared_bytes> value;  // nullopt: a null value (length -1)
};

struct record {
  int8_t attributes = 0;
  int64_t timestamp_delta = 0;
  int32_t offset_delta = 0;
  std::optional<base::shared_bytes> key;  // nullopt: a null key (length -1)
  std::optional<base::shared_bytes> value;
  std::vector<record_header> headers;

  int64_t offset(const batch_header& batch) const {
    return wrapping_add(batch.base_offset, offset_delta);
  }
  // With LogAppendTime every record carries the batch's (broker's) time.
  int64_t timestamp(const batch_header& batch) const {
    return batch.ts_type() == timestamp_type::log_append_time
               ? batch.max_timestamp
               : wrapping_add(batch.base_timestamp, timestamp_delta);
  }
};

// Streams the records of one batch. Keys and values are slices of the
// batch's bytes, or of the decompressed buffer for a compressed batch.
class record_reader {
 public:
  // Decompresses the records if the batch is compressed, producing at most
  // `max_decompressed_bytes`.
  static batch_result<record_reader> open(const record_batch& batch, size_t max_decompressed_bytes);

  // Reads the next record into `out`, reusing its header storage. Returns
  // false after the last record, having checked that no bytes are left over.
  batch_result<bool> next(record& out);

 private:
  record_reader(base::shared_bytes records, int32_t count)
      : records_(std::move(records)), count_(count) {}

  base::shared_bytes records_;
  size_t position_ = 0;
  int32_t count_;
  int32_t index_ = 0;
};

// All records of a batch at once.
batch_result<std::vector<record>> decode_records(const record_batch& batch,
                                                 size_t max_decompressed_bytes);

// ---------------------------------------------------------------------------
// Building batches.

using optional_bytes = std::optional<std::span<const uint8_t>>;

struct header_view {
  std::string_view key;
  optional_bytes value;
};

struct batch_options {
  int64_t base_offset = 0;
  int32_t partition_leader_epoch = -1;
  compression codec = compression::none;
  compress_options compression_options;
  timestamp_type ts_type = timestamp_type::create_time;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int32_t base_sequence = -1;
  bool transactional = false;
  bool control = false;
};

// Builds one complete batch: records get consecutive offset deltas from 0;
// the base timestamp is the first record's, the max timestamp the largest.
class record_batch_builder {
 public:
  explicit record_batch_builder(const batch_options& options = {});

  void add(int64_t timestamp, optional_bytes key, optional_bytes value,
           std::span<const header_view> headers = {});

  // Makes room for a batch of about `bytes`, so that a caller who knows
  // roughly how much is coming saves the buffer growing step by step.
  void reserve(size_t bytes) { out_.reserve(bytes); }

  int32_t record_count() const { return count_; }

  // The finished batch. Fails when no record was added or compression
  // fails. Call once: the builder hands over its buffer.
  base::result<std::vector<uint8_t>> build();

 private:
  batch_options options_;
  // Starts with room for the header, so an uncompressed batch is never copied.
  base::byte_writer out_;
  int32_t count_ = 0;
  int64_t base_timestamp_ = -1;
  int64_t max_timestamp_ = -1;
};

// ---------------------------------------------------------------------------
// Rewriting stored batches: log compaction keeps some records of a batch.

struct rewrite_options {
  // KIP-534: sets the delete-horizon attribute, with this time (when the
  // batch's tombstones may go) as the base timestamp. nullopt keeps the
  // batch's base timestamp and attributes.
  std::optional<int64_t> delete_horizon_ms;
  compress_options compression_options;
};

// The batch `original` holding only `kept`: records decoded from it, in
// order, each keeping its offset delta, timestamp, key, value and headers.
// Everything else of the header stays: base offset, last offset delta,
// partition leader epoch, max timestamp, producer id, epoch and base
// sequence, and the attributes (codec, timestamp type, transactional,
// control), so offsets are never renumbered and the records are compressed
// again with the batch's codec. With nothing kept, the batch is a bare
// header (records count 0, uncompressed) that only keeps its producer's
// place in the log. Fails only when compression fails.
base::result<std::vector<uint8_t>> rewrite_batch(const record_batch& original,
                                                 std::span<const record> kept,
                                                 const rewrite_options& options = {});

// ---------------------------------------------------------------------------
// Control records: the one record of a control batch (attribute bit 5). Its
// key is {int16 version, int16 type}; for ABORT and COMMIT its value is the
// end-transaction marker {int16 version, int32 coordinator epoch}.

enum class control_record_type : int16_t {
  abort = 0,
  commit = 1,
  leader_change = 2,
  snapshot_header = 3,
  snapshot_footer = 4,
  kraft_version = 5,
  kraft_voters = 6,
};

struct control_record_key {
  int16_t version = 0;
  // Any int16: a type this code does not know is passed on, not rejected.
  control_record_type type = control_record_type::abort;
};

std::array<uint8_t, 4> encode_control_record_key(control_record_type type);
// Accepts versions above 0 (their key starts the same); rejects negative ones.
batch_result<control_record_key> decode_control_record_key(std::span<const uint8_t> key);

struct end_txn_marker {
  int16_t version = 0;
  int32_t coordinator_epoch = 0;
};

std::array<uint8_t, 6> encode_end_txn_marker(int32_t coordinator_epoch);
batch_result<end_txn_marker> decode_end_txn_marker(std::span<const uint8_t> value);

struct txn_marker {
  bool commit = false;
  int32_t coordinator_epoch = 0;
  int64_t producer_id = -1;
  int16_t producer_epoch = -1;
  int64_t base_offset = 0;
  int32_t partition_leader_epoch = -1;
  int64_t timestamp = -1;
};

// The control batch a broker appends to end a transaction on a partition:
// transactional and control bits, the producer's id and epoch, no sequence,
// uncompressed, one COMMIT or ABORT record.
std::vector<uint8_t> build_txn_marker_batch(const txn_marker& marker);

}  // namespace sluice::protocol
