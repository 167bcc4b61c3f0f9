#include "protocol/legacy_message_set.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "base/byte_writer.h"
#include "base/endian.h"

namespace sluice::protocol {
namespace {

// offset int64 + size int32 before every message.
constexpr size_t log_overhead = 12;
// crc, magic, attributes, key length, value length.
constexpr int32_t min_message_size_v0 = 14;
// ... and the timestamp of magic 1.
constexpr int32_t min_message_size_v1 = 22;
// Where the magic lies from the start of an entry: the offset, size and crc
// come first.
constexpr size_t magic_position = log_overhead + 4;

constexpr int8_t codec_mask = 0x07;
constexpr int8_t log_append_time_bit = 0x08;

base::unexpected<batch_error> corrupt(std::string message) {
  return {{batch_errc::corrupt_message, std::move(message)}};
}
base::unexpected<batch_error> invalid(std::string message) {
  return {{batch_errc::invalid_record, std::move(message)}};
}

std::string str(int64_t v) { return std::to_string(v); }

uint32_t crc32_ieee(const uint8_t* data, size_t n) {
  return static_cast<uint32_t>(::crc32(0L, data, static_cast<uInt>(n)));
}

// One {offset, size, message} of a message set, checked and decoded.
struct entry {
  int8_t attributes = 0;
  legacy_message message;
  size_t size = 0;  // with the offset and size fields
};

// Reads a bytes field (int32 length, -1 for null) of `message` at `at`.
const char* read_bytes32(const base::shared_bytes& message, size_t& at,
                         std::optional<base::shared_bytes>& out) {
  if (message.size() - at < 4) return "truncated length";
  int32_t length = base::load_be<int32_t>(message.data() + at);
  at += 4;
  if (length < -1) return "negative length";
  if (length == -1) {
    out.reset();
    return nullptr;
  }
  if (static_cast<size_t>(length) > message.size() - at) return "length exceeds the message";
  out = message.slice(at, length);
  at += length;
  return nullptr;
}

// Parses the entry at the start of `rest`. nullopt: `rest` is cut short, a
// plausible beginning of an entry that does not fit.
batch_result<std::optional<entry>> parse_entry(const base::shared_bytes& rest, bool verify_crc) {
  if (rest.size() < log_overhead) return std::optional<entry>();
  int32_t size = base::load_be<int32_t>(rest.data() + 8);
  if (size < min_message_size_v0) {
    return corrupt("message size " + str(size) + " is below the minimum " +
                   str(min_message_size_v0));
  }
  if (rest.size() <= magic_position) return std::optional<entry>();
  auto magic = static_cast<int8_t>(rest[magic_position]);
  if (magic != 0 && magic != 1) return corrupt("magic " + str(magic) + " in a legacy message set");
  if (static_cast<size_t>(size) > rest.size() - log_overhead) return std::optional<entry>();
  if (magic == 1 && size < min_message_size_v1) {
    return corrupt("magic-1 message size " + str(size) + " is below the minimum " +
                   str(min_message_size_v1));
  }

  base::shared_bytes m = rest.slice(log_overhead, size);
  if (verify_crc) {
    uint32_t stored = base::load_be<uint32_t>(m.data());
    uint32_t computed = crc32_ieee(m.data() + 4, m.size() - 4);
    if (stored != computed) {
      return corrupt("message CRC mismatch: stored " + str(stored) + ", computed " + str(computed));
    }
  }
  entry e;
  e.size = log_overhead + static_cast<size_t>(size);
  e.attributes = static_cast<int8_t>(m[5]);
  e.message.offset = base::load_be<int64_t>(rest.data());
  e.message.magic = magic;
  size_t at = 6;
  if (magic == 1) {
    e.message.timestamp = base::load_be<int64_t>(m.data() + at);
    at += 8;
    if ((e.attributes & log_append_time_bit) != 0) {
      e.message.ts_type = timestamp_type::log_append_time;
    }
  }
  if (const char* why = read_bytes32(m, at, e.message.key))
    return corrupt("message key: " + std::string(why));
  if (const char* why = read_bytes32(m, at, e.message.value)) {
    return corrupt("message value: " + std::string(why));
  }
  if (at != m.size()) return corrupt(str(m.size() - at) + " bytes follow the message value");
  return std::optional<entry>(std::move(e));
}

}  // namespace

batch_result<bool> legacy_message_reader::next(legacy_message& out) {
  if (next_inner_ < inner_.size()) {
    out = std::move(inner_[next_inner_++]);
    return true;
  }
  if (position_ == set_.size()) return false;
  auto parsed = parse_entry(set_.slice(position_, set_.size() - position_), options_.verify_crc);
  if (!parsed) {
    batch_error e = parsed.error();
    e.message = "message at byte " + str(position_) + ": " + e.message;
    return base::unexpected{std::move(e)};
  }
  if (!parsed->has_value()) {
    if (options_.allow_partial_tail) return false;
    return corrupt("message at byte " + str(position_) +
                   " is cut short: " + str(set_.size() - position_) + " bytes left");
  }
  entry& e = **parsed;
  position_ += e.size;
  if ((e.attributes & codec_mask) == 0) {
    out = std::move(e.message);
    return true;
  }
  if (auto opened = open_wrapper(e.attributes, std::move(e.message)); !opened) {
    return base::unexpected{opened.error()};
  }
  out = std::move(inner_[next_inner_++]);
  return true;
}

batch_result<void> legacy_message_reader::open_wrapper(int8_t attributes, legacy_message wrapper) {
  std::string where = "wrapper message at offset " + str(wrapper.offset) + ": ";
  auto codec = static_cast<compression>(attributes & codec_mask);
  if (codec != compression::gzip && codec != compression::snappy && codec != compression::lz4) {
    return invalid(where + "compression codec " + str(attributes & codec_mask) +
                   " is not allowed in legacy messages");
  }
  if (!wrapper.value) return invalid(where + "null value");
  decompress_options options;
  options.max_output = options_.max_decompressed_bytes;
  // Kafka 0.8/0.9 wrote a wrong LZ4 header checksum in magic-0 messages (KIP-57).
  options.lz4_legacy_header_checksum = wrapper.magic == 0;
  auto decompressed = decompress(codec, wrapper.value->span(), options);
  if (!decompressed) return corrupt(where + "cannot decompress: " + decompressed.error().message);

  base::shared_bytes set(std::move(decompressed).value());
  inner_.clear();
  next_inner_ = 0;
  for (size_t at = 0; at < set.size();) {
    auto parsed = parse_entry(set.slice(at, set.size() - at), options_.verify_crc);
    if (!parsed) {
      batch_error e = parsed.error();
      e.message = where + "inner message at byte " + str(at) + ": " + e.message;
      return base::unexpected{std::move(e)};
    }
    if (!parsed->has_value()) return corrupt(where + "inner message set is cut short");
    entry& e = **parsed;
    if (e.message.magic != wrapper.magic) {
      return invalid(where + "inner message of magic " + str(e.message.magic));
    }
    if ((e.attributes & codec_mask) != 0) return invalid(where + "inner message is compressed");
    e.message.codec = codec;
    if (wrapper.magic == 1) {
      // The wrapper's timestamp type rules its messages; with LogAppendTime
      // the broker stamped only the wrapper.
      e.message.ts_type = wrapper.ts_type;
      if (wrapper.ts_type == timestamp_type::log_append_time) {
        e.message.timestamp = wrapper.timestamp;
      }
    }
    inner_.push_back(std::move(e.message));
    at += e.size;
  }
  if (inner_.empty()) return invalid(where + "no inner messages");

  if (wrapper.magic == 1 && wrapper.offset != 0) {
    // The wrapper holds the absolute offset of the last inner message. Some
    // librdkafka versions send 0 there; Kafka then takes the relative
    // offsets as they are, and so does this.
    int64_t last = inner_.back().offset;
    if (wrapper.offset < last) {
      return invalid(where + "offset is below its last inner offset " + str(last));
    }
    int64_t base_offset = wrapping_add(wrapper.offset, -last);
    for (legacy_message& m : inner_) m.offset = wrapping_add(base_offset, m.offset);
  }
  return {};
}

batch_result<std::vector<legacy_message>> read_legacy_message_set(
    const base::shared_bytes& message_set, const legacy_read_options& options) {
  legacy_message_reader reader(message_set, options);
  std::vector<legacy_message> messages;
  while (true) {
    legacy_message m;
    auto more = reader.next(m);
    if (!more) return base::unexpected{more.error()};
    if (!*more) return messages;
    messages.push_back(std::move(m));
  }
}

// ---------------------------------------------------------------------------

namespace {

void write_bytes32(base::byte_writer& out, const optional_bytes& bytes) {
  if (!bytes) {
    out.write_int32(-1);
    return;
  }
  out.write_int32(static_cast<int32_t>(bytes->size()));
  out.write_bytes(*bytes);
}

void write_message(base::byte_writer& out, int64_t offset, int8_t magic, int8_t attributes,
                   int64_t timestamp, const optional_bytes& key, const optional_bytes& value) {
  out.write_int64(offset);
  size_t size_at = out.size();
  out.write_int32(0);
  size_t crc_at = out.size();
  out.write_uint32(0);
  out.write_int8(magic);
  out.write_int8(attributes);
  if (magic == 1) out.write_int64(timestamp);
  write_bytes32(out, key);
  write_bytes32(out, value);
  out.put_int32_at(size_at, static_cast<int32_t>(out.size() - crc_at));
  const uint8_t* covered = out.buffer().data() + crc_at + 4;
  out.put_int32_at(crc_at, static_cast<int32_t>(crc32_ieee(covered, out.size() - crc_at - 4)));
}

}  // namespace

base::result<std::vector<uint8_t>> write_legacy_message_set(std::span<const legacy_record> records,
                                                            const legacy_write_options& options) {
  if (options.magic != 0 && options.magic != 1) {
    return base::fail("legacy messages have magic 0 or 1, not " + str(options.magic));
  }
  int8_t ts_bit = options.magic == 1 && options.ts_type == timestamp_type::log_append_time
                      ? log_append_time_bit
                      : 0;
  base::byte_writer out;
  if (options.codec == compression::none) {
    for (const legacy_record& r : records) {
      write_message(out, r.offset, options.magic, ts_bit, r.timestamp, r.key, r.value);
    }
    return out.take();
  }

  if (options.codec == compression::zstd) return base::fail("legacy messages cannot use zstd");
  if (records.empty()) return base::fail("a compressed wrapper needs at least one record");
  base::byte_writer inner;
  int64_t max_timestamp = records.front().timestamp;
  for (const legacy_record& r : records) {
    int64_t offset = options.magic == 1 ? r.offset - records.front().offset : r.offset;
    write_message(inner, offset, options.magic, 0, r.timestamp, r.key, r.value);
    max_timestamp = std::max(max_timestamp, r.timestamp);
  }
  auto compressed = compress(options.codec, inner.buffer(), options.compression_options);
  if (!compressed) return base::unexpected{compressed.error()};
  auto attributes = static_cast<int8_t>(static_cast<int8_t>(options.codec) | ts_bit);
  write_message(out, records.back().offset, options.magic, attributes, max_timestamp, std::nullopt,
                std::span<const uint8_t>(*compressed));
  return out.take();
}

}  // namespace sluice::protocol
