#pragma once

// Variable-length integers as Kafka writes them: 7 data bits per byte, least
// significant group first, high bit set on every byte but the last.
//
// Two flavours share that layout: the unsigned varints of flexible protocol
// versions (lengths, tag numbers) and the ZigZag-signed varints inside record
// batches (record fields). ZigZag maps small negative numbers to small unsigned
// ones: 0, -1, 1, -2 -> 0, 1, 2, 3.

#include <cstddef>
#include <cstdint>

namespace sluice::base::varint {

inline constexpr size_t max_bytes_32 = 5;
inline constexpr size_t max_bytes_64 = 10;

constexpr uint32_t zigzag(int32_t v) {
  return (static_cast<uint32_t>(v) << 1) ^ static_cast<uint32_t>(v >> 31);
}
constexpr uint64_t zigzag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
constexpr int32_t unzigzag(uint32_t v) { return static_cast<int32_t>((v >> 1) ^ (~(v & 1) + 1)); }
constexpr int64_t unzigzag(uint64_t v) { return static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1)); }

// Bytes needed to encode `v`.
constexpr size_t encoded_size(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// Writes `v` at `out`, which must have room for encoded_size(v) bytes.
// Returns the number of bytes written.
inline size_t encode(uint64_t v, uint8_t* out) {
  size_t n = 0;
  while (v >= 0x80) {
    out[n++] = static_cast<uint8_t>(v | 0x80);
    v >>= 7;
  }
  out[n++] = static_cast<uint8_t>(v);
  return n;
}

struct decoded {
  uint64_t value = 0;
  size_t length = 0;  // 0 when the input is truncated or longer than allowed
};

// Reads a varint of at most `max_length` bytes from the `available` bytes at
// `in`. Bits beyond 64 (or beyond what the caller keeps) are dropped, as Kafka
// does; a varint that does not end within `max_length` bytes is an error.
inline decoded decode(const uint8_t* in, size_t available, size_t max_length) {
  uint64_t value = 0;
  size_t limit = available < max_length ? available : max_length;
  for (size_t i = 0; i < limit; ++i) {
    uint8_t b = in[i];
    value |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) return {value, i + 1};
  }
  return {};
}

}  // namespace sluice::base::varint
