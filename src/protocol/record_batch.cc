#include "protocol/record_batch.h"

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <cstring>

#include "base/crc32c.h"
#include "base/endian.h"
#include "base/varint.h"

namespace sluice::protocol {
namespace {

namespace layout = batch_layout;

constexpr int16_t codec_mask = 0x07;
constexpr int16_t log_append_time_bit = 0x08;
constexpr int16_t transactional_bit = 0x10;
constexpr int16_t control_bit = 0x20;
constexpr int16_t delete_horizon_bit = 0x40;

// The smallest encoded record: its length and six one-byte fields
// (attributes, timestamp delta, offset delta, key, value, header count).
constexpr size_t min_record_size = 7;

base::unexpected<batch_error> corrupt(std::string message) {
  return {{batch_errc::corrupt_message, std::move(message)}};
}
base::unexpected<batch_error> invalid(std::string message) {
  return {{batch_errc::invalid_record, std::move(message)}};
}

std::string hex32(uint32_t v) {
  char text[11];
  std::snprintf(text, sizeof text, "0x%08x", v);
  return text;
}

std::string str(int64_t v) { return std::to_string(v); }

// True when `rest` looks like the beginning of a batch that the end of the
// data cut off: what can be read of its length and magic is plausible, and
// the batch does not fit.
bool is_cut_short(std::span<const uint8_t> rest) {
  if (rest.size() >= layout::log_overhead) {
    int32_t length = base::load_be<int32_t>(rest.data() + layout::batch_length);
    if (length < layout::min_batch_length) return false;
    if (static_cast<size_t>(length) <= rest.size() - layout::log_overhead) return false;
  }
  return rest.size() <= layout::magic ||
         static_cast<int8_t>(rest[layout::magic]) == record_batch_magic;
}

// Reads the fields of records without trusting a single length: every read
// checks the bytes are there and fails without moving when they are not.
struct cursor {
  const uint8_t* at;
  const uint8_t* end;

  size_t left() const { return static_cast<size_t>(end - at); }

  bool read_varint(int32_t& v) {
    uint64_t bits;
    if (!read_bits(bits, base::varint::max_bytes_32)) return false;
    v = base::varint::unzigzag(static_cast<uint32_t>(bits));
    return true;
  }
  bool read_varlong(int64_t& v) {
    uint64_t bits;
    if (!read_bits(bits, base::varint::max_bytes_64)) return false;
    v = base::varint::unzigzag(bits);
    return true;
  }

  bool read_bits(uint64_t& bits, size_t max_length) {
    // Most fields fit in one byte and most lengths in two: those are decoded
    // here, without the general loop.
    if (at != end && *at < 0x80) {
      bits = *at++;
      return true;
    }
    if (left() >= 2 && at[1] < 0x80) {
      bits = (at[0] & 0x7fu) | (uint64_t{at[1]} << 7);
      at += 2;
      return true;
    }
    auto d = base::varint::decode(at, left(), max_length);
    if (d.length == 0) return false;
    at += d.length;
    bits = d.value;
    return true;
  }
};

// Reads a length-prefixed byte field that may be null (length -1) as a slice
// of `whole`, or only skips it when `out` is null. Always inlined, so that
// the cursor stays in registers through the chain of dependent reads that
// walking a record is.
[[gnu::always_inline]] inline const char* read_nullable_bytes(
    cursor& c, const base::shared_bytes& whole, std::optional<base::shared_bytes>* out) {
  int32_t length;
  if (!c.read_varint(length)) return "truncated or overlong length varint";
  if (length < -1) return "negative length";
  if (length == -1) {
    if (out != nullptr) out->reset();
    return nullptr;
  }
  if (static_cast<size_t>(length) > c.left()) return "length exceeds the record";
  if (out != nullptr) *out = whole.slice(static_cast<size_t>(c.at - whole.data()), length);
  c.at += length;
  return nullptr;
}

// Reads the record at `c` (which spans the rest of the records in `whole`)
// into `out`, or with `out` == nullptr only checks that it is well formed,
// without allocating. Returns why the record is malformed, or nullptr.
const char* read_record(cursor& c, const base::shared_bytes& whole, record* out) {
  int32_t length;
  if (!c.read_varint(length)) return "truncated or overlong record length varint";
  if (length < 0) return "negative record length";
  if (static_cast<size_t>(length) > c.left()) return "record length exceeds the batch";
  cursor body{c.at, c.at + length};
  c.at = body.end;

  if (body.left() < 1) return "record too short for its attributes";
  int8_t attributes = static_cast<int8_t>(*body.at++);
  int64_t timestamp_delta;
  int32_t offset_delta;
  if (!body.read_varlong(timestamp_delta)) return "truncated or overlong timestamp delta";
  if (!body.read_varint(offset_delta)) return "truncated or overlong offset delta";
  if (out != nullptr) {
    out->attributes = attributes;
    out->timestamp_delta = timestamp_delta;
    out->offset_delta = offset_delta;
  }
  if (const char* why = read_nullable_bytes(body, whole, out ? &out->key : nullptr)) return why;
  if (const char* why = read_nullable_bytes(body, whole, out ? &out->value : nullptr)) return why;

  int32_t header_count;
  if (!body.read_varint(header_count)) return "truncated or overlong header count";
  if (header_count < 0) return "negative header count";
  // Each header takes at least two bytes: checked before anything is sized by the count.
  if (static_cast<size_t>(header_count) > body.left() / 2) return "header count exceeds the record";
  if (out != nullptr) out->headers.resize(header_count);
  for (int32_t i = 0; i < header_count; ++i) {
    int32_t key_length;
    if (!body.read_varint(key_length)) return "truncated or overlong header key length";
    if (key_length < 0) return "negative header key length";
    if (static_cast<size_t>(key_length) > body.left()) return "header key exceeds the record";
    if (out != nullptr) {
      out->headers[i].key.assign(reinterpret_cast<const char*>(body.at), key_length);
    }
    body.at += key_length;
    if (const char* why =
            read_nullable_bytes(body, whole, out ? &out->headers[i].value : nullptr)) {
      return why;
    }
  }
  if (body.left() != 0) return "bytes left over after the last header";
  return nullptr;
}

std::string record_error(int32_t index, size_t position, const char* why) {
  return "record " + str(index) + " (byte " + str(static_cast<int64_t>(position)) +
         " of the records): " + why;
}

// The records of a batch, decompressed into at most `max_output` bytes if the
// batch is compressed.
batch_result<base::shared_bytes> records_of(const record_batch& batch, size_t max_output) {
  compression codec = batch.header().codec();
  if (codec == compression::none) return batch.records_bytes();
  decompress_options options;
  options.max_output = max_output;
  auto out = decompress(codec, batch.records_bytes().span(), options);
  if (!out) {
    return corrupt("cannot decompress " + std::string(compression_name(codec)) +
                   " records: " + out.error().message);
  }
  return base::shared_bytes(std::move(out).value());
}

batch_result<void> check_count(int32_t count) {
  if (count < 0) return invalid("negative records count " + str(count));
  return {};
}

// The LogValidator rules that need only the header.
batch_result<void> check_produced_header(const batch_header& h) {
  if (h.records_count <= 0) {
    return invalid("a produced batch needs records; its count is " + str(h.records_count));
  }
  if (int64_t{h.last_offset_delta} + 1 != h.records_count) {
    return invalid("last offset delta " + str(h.last_offset_delta) + " does not match " +
                   str(h.records_count) + " records");
  }
  if (h.is_control()) return invalid("clients may not write control batches");
  if (h.producer_id >= 0 && h.base_sequence < 0) {
    return invalid("producer id " + str(h.producer_id) + " with no base sequence");
  }
  return {};
}

}  // namespace

namespace {

// The checks of the magic and the length, which come before anything else
// is read: offsets 0-16 mean the same in every magic.
batch_result<int32_t> check_magic_and_length(const uint8_t* p) {
  auto magic = static_cast<int8_t>(p[layout::magic]);
  if (magic != record_batch_magic) {
    if (magic == 0 || magic == 1) {
      return invalid("legacy message (magic " + str(magic) +
                     ") where a record batch (magic 2) was expected");
    }
    return corrupt("unknown magic " + str(magic));
  }
  int32_t length = base::load_be<int32_t>(p + layout::batch_length);
  if (length < layout::min_batch_length) {
    return corrupt("batch length " + str(length) + " is below the minimum " +
                   str(layout::min_batch_length));
  }
  return length;
}

// The fields of a header whose magic and length were checked.
batch_result<batch_header> decode_checked_header(const uint8_t* p, int32_t length) {
  batch_header h;
  h.base_offset = base::load_be<int64_t>(p + layout::base_offset);
  h.batch_length = length;
  h.partition_leader_epoch = base::load_be<int32_t>(p + layout::partition_leader_epoch);
  h.magic = record_batch_magic;
  h.crc = base::load_be<uint32_t>(p + layout::crc);
  h.attributes = base::load_be<int16_t>(p + layout::attributes);
  h.last_offset_delta = base::load_be<int32_t>(p + layout::last_offset_delta);
  h.base_timestamp = base::load_be<int64_t>(p + layout::base_timestamp);
  h.max_timestamp = base::load_be<int64_t>(p + layout::max_timestamp);
  h.producer_id = base::load_be<int64_t>(p + layout::producer_id);
  h.producer_epoch = base::load_be<int16_t>(p + layout::producer_epoch);
  h.base_sequence = base::load_be<int32_t>(p + layout::base_sequence);
  h.records_count = base::load_be<int32_t>(p + layout::records_count);
  if ((h.attributes & codec_mask) > static_cast<int16_t>(compression::zstd)) {
    return invalid("unknown compression codec " + str(h.attributes & codec_mask));
  }
  return h;
}

}  // namespace

batch_result<batch_header> parse_batch_header(std::span<const uint8_t> bytes) {
  if (bytes.size() <= layout::magic) {
    return corrupt("truncated batch: " + str(bytes.size()) + " bytes, a header needs " +
                   str(layout::header_size));
  }
  auto length = check_magic_and_length(bytes.data());
  if (!length) return base::unexpected(length.error());
  if (static_cast<size_t>(*length) > bytes.size() - layout::log_overhead) {
    return corrupt("truncated batch: length " + str(*length) + " but " +
                   str(bytes.size() - layout::log_overhead) + " bytes follow it");
  }
  return decode_checked_header(bytes.data(), *length);
}

batch_result<batch_header> decode_batch_header(
    std::span<const uint8_t, batch_layout::header_size> header) {
  auto length = check_magic_and_length(header.data());
  if (!length) return base::unexpected(length.error());
  return decode_checked_header(header.data(), *length);
}

batch_result<record_batch> record_batch::parse(const base::shared_bytes& bytes) {
  auto header = parse_batch_header(bytes.span());
  if (!header) return base::unexpected{header.error()};
  return record_batch(*header, bytes.slice(0, header->size()));
}

batch_result<std::optional<record_batch>> batch_splitter::next() {
  size_t left = range_.size() - position_;
  if (left == 0) return std::optional<record_batch>();
  if (is_cut_short(range_.span().subspan(position_))) {
    if (options_.allow_partial_tail) return std::optional<record_batch>();
    return corrupt("batch at byte " + str(position_) + " is cut short: " + str(left) +
                   " bytes left");
  }
  auto batch = record_batch::parse(range_.slice(position_, left));
  if (!batch) {
    batch_error e = batch.error();
    e.message = "batch at byte " + str(position_) + ": " + e.message;
    return base::unexpected{std::move(e)};
  }
  position_ += batch->bytes().size();
  return std::optional<record_batch>(std::move(batch).value());
}

batch_result<std::vector<record_batch>> split_batches(const base::shared_bytes& range,
                                                      split_options options) {
  batch_splitter splitter(range, options);
  std::vector<record_batch> batches;
  while (true) {
    auto next = splitter.next();
    if (!next) return base::unexpected{next.error()};
    if (!next->has_value()) return batches;
    batches.push_back(std::move(**next));
  }
}

batch_result<void> verify_crc(const record_batch& batch) {
  const base::shared_bytes& b = batch.bytes();
  uint32_t computed =
      base::crc32c::value(b.data() + layout::crc_start, b.size() - layout::crc_start);
  if (computed != batch.header().crc) {
    return corrupt("CRC mismatch: the batch says " + hex32(batch.header().crc) +
                   ", its bytes give " + hex32(computed));
  }
  return {};
}

batch_result<void> check_records(const record_batch& batch, size_t max_decompressed_bytes) {
  const batch_header& h = batch.header();
  if (auto ok = check_count(h.records_count); !ok) return ok;
  if (h.codec() != compression::none && max_decompressed_bytes == 0) return {};
  auto records = records_of(batch, max_decompressed_bytes);
  if (!records) return base::unexpected{records.error()};

  cursor c{records->data(), records->data() + records->size()};
  for (int32_t i = 0; i < h.records_count; ++i) {
    size_t position = static_cast<size_t>(c.at - records->data());
    if (const char* why = read_record(c, *records, nullptr)) {
      return invalid(record_error(i, position, why));
    }
  }
  if (c.left() != 0) {
    return invalid(str(c.left()) + " bytes follow the last of " + str(h.records_count) +
                   " records");
  }
  return {};
}

batch_result<void> validate_produced_batch(const record_batch& batch,
                                           size_t max_decompressed_bytes) {
  if (auto ok = verify_crc(batch); !ok) return ok;
  if (auto ok = check_produced_header(batch.header()); !ok) return ok;
  return check_records(batch, max_decompressed_bytes);
}

void set_base_offset(std::span<uint8_t> batch, int64_t base_offset) {
  assert(batch.size() >= layout::header_size);
  base::store_be(batch.data() + layout::base_offset, base_offset);
}

void set_partition_leader_epoch(std::span<uint8_t> batch, int32_t epoch) {
  assert(batch.size() >= layout::header_size);
  base::store_be(batch.data() + layout::partition_leader_epoch, epoch);
}

void set_max_timestamp(std::span<uint8_t> batch, timestamp_type type, int64_t max_timestamp) {
  assert(batch.size() >= layout::header_size);
  uint8_t* p = batch.data();
  int16_t old_attributes = base::load_be<int16_t>(p + layout::attributes);
  auto attributes = static_cast<int16_t>(type == timestamp_type::log_append_time
                                             ? old_attributes | log_append_time_bit
                                             : old_attributes & ~log_append_time_bit);
  // Unchanged bytes keep their CRC: skip a pass over the whole batch.
  if (attributes == old_attributes &&
      base::load_be<int64_t>(p + layout::max_timestamp) == max_timestamp) {
    return;
  }
  base::store_be(p + layout::attributes, attributes);
  base::store_be(p + layout::max_timestamp, max_timestamp);
  base::store_be(p + layout::crc,
                 base::crc32c::value(p + layout::crc_start, batch.size() - layout::crc_start));
}

batch_result<record_reader> record_reader::open(const record_batch& batch,
                                                size_t max_decompressed_bytes) {
  if (auto ok = check_count(batch.header().records_count); !ok) {
    return base::unexpected{ok.error()};
  }
  auto records = records_of(batch, max_decompressed_bytes);
  if (!records) return base::unexpected{records.error()};
  return record_reader(std::move(records).value(), batch.header().records_count);
}

batch_result<bool> record_reader::next(record& out) {
  if (index_ == count_) {
    if (position_ != records_.size()) {
      return invalid(str(records_.size() - position_) + " bytes follow the last of " + str(count_) +
                     " records");
    }
    return false;
  }
  cursor c{records_.data() + position_, records_.data() + records_.size()};
  if (const char* why = read_record(c, records_, &out)) {
    return invalid(record_error(index_, position_, why));
  }
  position_ = static_cast<size_t>(c.at - records_.data());
  ++index_;
  return true;
}

batch_result<std::vector<record>> decode_records(const record_batch& batch,
                                                 size_t max_decompressed_bytes) {
  auto reader = record_reader::open(batch, max_decompressed_bytes);
  if (!reader) return base::unexpected{reader.error()};
  std::vector<record> records;
  // The count is the sender's claim: reserve no more than the bytes can hold.
  records.reserve(std::min<size_t>(batch.header().records_count,
                                   batch.records_bytes().size() / min_record_size));
  while (true) {
    record r;
    auto more = reader->next(r);
    if (!more) return base::unexpected{more.error()};
    if (!*more) return records;
    records.push_back(std::move(r));
  }
}

// ---------------------------------------------------------------------------

namespace {

size_t varint_size(int32_t v) { return base::varint::encoded_size(base::varint::zigzag(v)); }
size_t varlong_size(int64_t v) { return base::varint::encoded_size(base::varint::zigzag(v)); }

size_t nullable_size(const optional_bytes& bytes) {
  if (!bytes) return varint_size(-1);
  return varint_size(static_cast<int32_t>(bytes->size())) + bytes->size();
}

void write_nullable(base::byte_writer& out, const optional_bytes& bytes) {
  if (!bytes) {
    out.write_varint(-1);
    return;
  }
  out.write_varint(static_cast<int32_t>(bytes->size()));
  out.write_bytes(*bytes);
}

int64_t wrapping_sub(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}

optional_bytes view_of(const std::optional<base::shared_bytes>& bytes) {
  if (!bytes) return std::nullopt;
  return bytes->span();
}
optional_bytes view_of(const optional_bytes& bytes) { return bytes; }

// Encodes one record. The builder passes header_views and the rewrite passes
// decoded record_headers: both have a key and a nullable value.
template <typename Header>
void write_record(base::byte_writer& out, int8_t attributes, int64_t timestamp_delta,
                  int32_t offset_delta, optional_bytes key, optional_bytes value,
                  std::span<const Header> headers) {
  size_t length = 1 + varlong_size(timestamp_delta) + varint_size(offset_delta) +
                  nullable_size(key) + nullable_size(value) +
                  varint_size(static_cast<int32_t>(headers.size()));
  for (const Header& h : headers) {
    length += varint_size(static_cast<int32_t>(h.key.size())) + h.key.size() +
              nullable_size(view_of(h.value));
  }
  out.write_varint(static_cast<int32_t>(length));
  out.write_int8(attributes);
  out.write_varlong(timestamp_delta);
  out.write_varint(offset_delta);
  write_nullable(out, key);
  write_nullable(out, value);
  out.write_varint(static_cast<int32_t>(headers.size()));
  for (const Header& h : headers) {
    out.write_varint(static_cast<int32_t>(h.key.size()));
    out.write_bytes(std::string_view(h.key));
    write_nullable(out, view_of(h.value));
  }
}

// Makes `records` (encoded records after room for a header) a batch: compresses
// them with `h`'s codec, then writes `h` with its batch length and CRC.
base::result<std::vector<uint8_t>> seal_batch(std::vector<uint8_t> records, const batch_header& h,
                                              const compress_options& options) {
  std::vector<uint8_t> batch;
  if (h.codec() == compression::none) {
    batch = std::move(records);
  } else {
    std::span<const uint8_t> plain(records.data() + layout::header_size,
                                   records.size() - layout::header_size);
    auto compressed = compress(h.codec(), plain, options);
    if (!compressed) return base::unexpected{compressed.error()};
    batch.reserve(layout::header_size + compressed->size());
    batch.resize(layout::header_size);
    batch.insert(batch.end(), compressed->begin(), compressed->end());
  }

  uint8_t* p = batch.data();
  base::store_be(p + layout::base_offset, h.base_offset);
  base::store_be(p + layout::batch_length,
                 static_cast<int32_t>(batch.size() - layout::log_overhead));
  base::store_be(p + layout::partition_leader_epoch, h.partition_leader_epoch);
  p[layout::magic] = static_cast<uint8_t>(record_batch_magic);
  base::store_be(p + layout::attributes, h.attributes);
  base::store_be(p + layout::last_offset_delta, h.last_offset_delta);
  base::store_be(p + layout::base_timestamp, h.base_timestamp);
  base::store_be(p + layout::max_timestamp, h.max_timestamp);
  base::store_be(p + layout::producer_id, h.producer_id);
  base::store_be(p + layout::producer_epoch, h.producer_epoch);
  base::store_be(p + layout::base_sequence, h.base_sequence);
  base::store_be(p + layout::records_count, h.records_count);
  base::store_be(p + layout::crc,
                 base::crc32c::value(p + layout::crc_start, batch.size() - layout::crc_start));
  return batch;
}

}  // namespace

record_batch_builder::record_batch_builder(const batch_options& options) : options_(options) {
  out_.write_bytes(std::array<uint8_t, layout::header_size>{});
}

void record_batch_builder::add(int64_t timestamp, optional_bytes key, optional_bytes value,
                               std::span<const header_view> headers) {
  if (count_ == 0) {
    base_timestamp_ = timestamp;
    max_timestamp_ = timestamp;
  }
  max_timestamp_ = std::max(max_timestamp_, timestamp);
  write_record(out_, 0, timestamp - base_timestamp_, count_, key, value, headers);
  ++count_;
}

base::result<std::vector<uint8_t>> record_batch_builder::build() {
  if (count_ == 0) return base::fail("a record batch needs at least one record");
  batch_header h;
  h.base_offset = options_.base_offset;
  h.partition_leader_epoch = options_.partition_leader_epoch;
  h.attributes = static_cast<int16_t>(options_.codec);
  if (options_.ts_type == timestamp_type::log_append_time) h.attributes |= log_append_time_bit;
  if (options_.transactional) h.attributes |= transactional_bit;
  if (options_.control) h.attributes |= control_bit;
  h.last_offset_delta = count_ - 1;
  h.base_timestamp = base_timestamp_;
  h.max_timestamp = max_timestamp_;
  h.producer_id = options_.producer_id;
  h.producer_epoch = options_.producer_epoch;
  h.base_sequence = options_.base_sequence;
  h.records_count = count_;
  return seal_batch(out_.take(), h, options_.compression_options);
}

base::result<std::vector<uint8_t>> rewrite_batch(const record_batch& original,
                                                 std::span<const record> kept,
                                                 const rewrite_options& options) {
  const batch_header& from = original.header();
  batch_header h = from;
  h.records_count = static_cast<int32_t>(kept.size());
  if (options.delete_horizon_ms) {
    h.attributes |= delete_horizon_bit;
    h.base_timestamp = *options.delete_horizon_ms;
  }
  // An empty payload is not a valid compressed stream: Kafka writes empty
  // batches uncompressed too.
  if (kept.empty()) h.attributes &= ~codec_mask;

  base::byte_writer out;
  out.write_bytes(std::array<uint8_t, layout::header_size>{});
  for (const record& r : kept) {
    // Deltas are taken again from the new base timestamp, so that every
    // record keeps its own timestamp under a delete horizon.
    int64_t timestamp = wrapping_add(from.base_timestamp, r.timestamp_delta);
    write_record(out, r.attributes, wrapping_sub(timestamp, h.base_timestamp), r.offset_delta,
                 view_of(r.key), view_of(r.value), std::span<const record_header>(r.headers));
  }
  return seal_batch(out.take(), h, options.compression_options);
}

// ---------------------------------------------------------------------------

std::array<uint8_t, 4> encode_control_record_key(control_record_type type) {
  std::array<uint8_t, 4> key{};
  base::store_be(key.data() + 2, static_cast<int16_t>(type));
  return key;
}

batch_result<control_record_key> decode_control_record_key(std::span<const uint8_t> key) {
  if (key.size() < 4) return invalid("control record key of " + str(key.size()) + " bytes");
  control_record_key k;
  k.version = base::load_be<int16_t>(key.data());
  if (k.version < 0) return invalid("control record key version " + str(k.version));
  k.type = static_cast<control_record_type>(base::load_be<int16_t>(key.data() + 2));
  return k;
}

std::array<uint8_t, 6> encode_end_txn_marker(int32_t coordinator_epoch) {
  std::array<uint8_t, 6> value{};
  base::store_be(value.data() + 2, coordinator_epoch);
  return value;
}

batch_result<end_txn_marker> decode_end_txn_marker(std::span<const uint8_t> value) {
  if (value.size() < 6) return invalid("end transaction marker of " + str(value.size()) + " bytes");
  end_txn_marker m;
  m.version = base::load_be<int16_t>(value.data());
  if (m.version < 0) return invalid("end transaction marker version " + str(m.version));
  m.coordinator_epoch = base::load_be<int32_t>(value.data() + 2);
  return m;
}

std::vector<uint8_t> build_txn_marker_batch(const txn_marker& marker) {
  batch_options options;
  options.base_offset = marker.base_offset;
  options.partition_leader_epoch = marker.partition_leader_epoch;
  options.producer_id = marker.producer_id;
  options.producer_epoch = marker.producer_epoch;
  options.transactional = true;
  options.control = true;
  record_batch_builder builder(options);
  auto key = encode_control_record_key(marker.commit ? control_record_type::commit
                                                     : control_record_type::abort);
  auto value = encode_end_txn_marker(marker.coordinator_epoch);
  builder.add(marker.timestamp, std::span<const uint8_t>(key), std::span<const uint8_t>(value));
  // Uncompressed and with one record, building cannot fail.
  return std::move(builder.build()).value();
}

}  // namespace sluice::protocol
