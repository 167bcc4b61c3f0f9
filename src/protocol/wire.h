#pragma once

// The primitive encodings of the Kafka protocol that generated code builds on.
//
// Classic (non-flexible) versions prefix strings with an int16 length, bytes
// and arrays with an int32 length, and write null as -1. Flexible versions
// ("compact") prefix everything with an unsigned varint of length + 1, so that
// 0 means null. See CLIENTS.md 6.2 for the full story.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/byte_reader.h"
#include "base/byte_writer.h"
#include "base/uuid.h"
#include "protocol/wire_types.h"

namespace sluice::protocol::wire {

enum class length_kind { string, bytes, array };

inline void write_length(base::byte_writer& w, size_t length, bool compact, length_kind kind) {
  if (compact) {
    w.write_uvarint(static_cast<uint32_t>(length + 1));
  } else if (kind == length_kind::string) {
    w.write_int16(static_cast<int16_t>(length));
  } else {
    w.write_int32(static_cast<int32_t>(length));
  }
}

inline void write_null_length(base::byte_writer& w, bool compact, length_kind kind) {
  if (compact) {
    w.write_uvarint(0);
  } else if (kind == length_kind::string) {
    w.write_int16(-1);
  } else {
    w.write_int32(-1);
  }
}

// Reads a length prefix: -1 for null, otherwise the length. Lengths that
// cannot be right (below -1, a classic string over 32767) fail the reader.
inline int32_t read_length(base::byte_reader& r, bool compact, length_kind kind) {
  int64_t length;
  if (compact) {
    length = static_cast<int64_t>(r.read_uvarint()) - 1;
  } else if (kind == length_kind::string) {
    length = r.read_int16();
  } else {
    length = r.read_int32();
  }
  if (length < -1 || length > INT32_MAX) {
    r.fail("invalid length");
    return 0;
  }
  return static_cast<int32_t>(length);
}

inline void write_string(base::byte_writer& w, std::string_view s, bool compact) {
  write_length(w, s.size(), compact, length_kind::string);
  w.write_bytes(s);
}

inline void write_bytes(base::byte_writer& w, const base::shared_bytes& b, bool compact) {
  write_length(w, b.size(), compact, length_kind::bytes);
  if (!w.splice(b)) w.write_bytes(b.span());
}

inline void write_array_length(base::byte_writer& w, size_t count, bool compact) {
  write_length(w, count, compact, length_kind::array);
}

inline void write_uuid(base::byte_writer& w, const base::uuid& id) { w.write_bytes(id.bytes); }

inline base::uuid read_uuid(base::byte_reader& r) {
  base::uuid id;
  base::shared_bytes raw = r.read_bytes(id.bytes.size());
  if (raw.size() == id.bytes.size()) std::copy(raw.begin(), raw.end(), id.bytes.begin());
  return id;
}

inline std::optional<std::string> read_nullable_string(base::byte_reader& r, bool compact) {
  int32_t length = read_length(r, compact, length_kind::string);
  if (length < 0) return std::nullopt;
  return r.read_string(static_cast<size_t>(length));
}

inline std::string read_string(base::byte_reader& r, bool compact) {
  int32_t length = read_length(r, compact, length_kind::string);
  if (length < 0) {
    r.fail("null in a non-nullable string");
    return {};
  }
  return r.read_string(static_cast<size_t>(length));
}

inline std::optional<base::shared_bytes> read_nullable_bytes(base::byte_reader& r, bool compact) {
  int32_t length = read_length(r, compact, length_kind::bytes);
  if (length < 0) return std::nullopt;
  return r.read_bytes(static_cast<size_t>(length));
}

inline base::shared_bytes read_bytes(base::byte_reader& r, bool compact) {
  int32_t length = read_length(r, compact, length_kind::bytes);
  if (length < 0) {
    r.fail("null in a non-nullable bytes field");
    return {};
  }
  return r.read_bytes(static_cast<size_t>(length));
}

// Tagged-field sections list tags in ascending order. Known and unknown tags
// are merged: write_unknown_tags_before() writes the unknown ones that sort
// before the next known tag, write_remaining_tags() the rest.
using tag_iterator = std::vector<raw_tagged_field>::const_iterator;

inline void write_tagged_field(base::byte_writer& w, uint32_t tag, const base::byte_writer& value) {
  w.write_uvarint(tag);
  w.write_uvarint(static_cast<uint32_t>(value.size()));
  w.write_bytes(value.buffer());
}

inline void write_raw_tagged_field(base::byte_writer& w, const raw_tagged_field& field) {
  w.write_uvarint(field.tag);
  w.write_uvarint(static_cast<uint32_t>(field.data.size()));
  w.write_bytes(field.data.span());
}

inline tag_iterator write_unknown_tags_before(base::byte_writer& w, tag_iterator it,
                                              tag_iterator end, uint32_t next_known_tag) {
  for (; it != end && it->tag < next_known_tag; ++it) write_raw_tagged_field(w, *it);
  return it;
}

inline void write_remaining_tags(base::byte_writer& w, tag_iterator it, tag_iterator end) {
  for (; it != end; ++it) write_raw_tagged_field(w, *it);
}

// Reads a tagged-field section of a struct that has no known tags.
inline void read_unknown_tags(base::byte_reader& r, std::vector<raw_tagged_field>& tags) {
  uint32_t count = r.read_uvarint();
  if (!r.require(count, "tagged field count larger than its frame")) return;
  for (uint32_t i = 0; i < count && r.ok(); ++i) {
    uint32_t tag = r.read_uvarint();
    uint32_t size = r.read_uvarint();
    if (!r.require(size, "tagged field larger than its frame")) return;
    tags.push_back({tag, r.read_bytes(size)});
  }
}

inline void write_unknown_tags(base::byte_writer& w, const std::vector<raw_tagged_field>& tags) {
  w.write_uvarint(static_cast<uint32_t>(tags.size()));
  write_remaining_tags(w, tags.begin(), tags.end());
}

}  // namespace sluice::protocol::wire
