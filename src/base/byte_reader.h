#pragma once

// byte_reader: bounds-checked, big-endian reads from a shared_bytes buffer.
//
// Errors are sticky: the first failed read (a truncated field, an impossible
// length) records why, and every later read returns zeros without touching
// memory. Decoders can therefore read a whole message straight-line and check
// ok() once at the end, with no over-read possible on hostile input.

#include <cstdint>
#include <cstring>
#include <string>

#include "base/endian.h"
#include "base/shared_bytes.h"
#include "base/varint.h"

namespace sluice::base {

class byte_reader {
 public:
  explicit byte_reader(shared_bytes buffer) : buffer_(std::move(buffer)) {}

  bool ok() const { return error_ == nullptr; }
  // Why reading failed (a static string), or nullptr while ok().
  const char* error() const { return error_; }
  // Where the first failure happened.
  size_t error_position() const { return error_position_; }
  size_t position() const { return position_; }
  size_t remaining() const { return buffer_.size() - position_; }

  // Marks the reader failed (first failure wins) with a static description.
  void fail(const char* why) {
    if (error_ == nullptr) {
      error_ = why;
      error_position_ = position_;
      position_ = buffer_.size();
    }
  }

  int8_t read_int8() { return static_cast<int8_t>(read_fixed<uint8_t>()); }
  uint8_t read_uint8() { return read_fixed<uint8_t>(); }
  int16_t read_int16() { return static_cast<int16_t>(read_fixed<uint16_t>()); }
  uint16_t read_uint16() { return read_fixed<uint16_t>(); }
  int32_t read_int32() { return static_cast<int32_t>(read_fixed<uint32_t>()); }
  uint32_t read_uint32() { return read_fixed<uint32_t>(); }
  int64_t read_int64() { return static_cast<int64_t>(read_fixed<uint64_t>()); }
  double read_float64() {
    uint64_t bits = read_fixed<uint64_t>();
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return d;
  }
  bool read_bool() { return read_fixed<uint8_t>() != 0; }

  // Unsigned varint of at most 5 bytes (flexible-version lengths and tags).
  uint32_t read_uvarint() { return static_cast<uint32_t>(read_varint_bits(varint::max_bytes_32)); }
  // ZigZag varints as used inside record batches.
  int32_t read_varint() {
    return varint::unzigzag(static_cast<uint32_t>(read_varint_bits(varint::max_bytes_32)));
  }
  int64_t read_varlong() { return varint::unzigzag(read_varint_bits(varint::max_bytes_64)); }

  // True if `length` more bytes can be read; otherwise fails the reader.
  bool require(size_t length, const char* why = "truncated input") {
    if (length <= remaining()) return true;
    fail(why);
    return false;
  }

  std::string read_string(size_t length) {
    if (!require(length)) return {};
    std::string s(reinterpret_cast<const char*>(buffer_.data() + position_), length);
    position_ += length;
    return s;
  }

  // A slice sharing the buffer's storage: no copy.
  shared_bytes read_bytes(size_t length) {
    if (!require(length)) return {};
    shared_bytes s = buffer_.slice(position_, length);
    position_ += length;
    return s;
  }

  void skip(size_t length) {
    if (require(length)) position_ += length;
  }

 private:
  template <typename T>
  T read_fixed() {
    if (!require(sizeof(T))) return 0;
    T v = load_be<T>(buffer_.data() + position_);
    position_ += sizeof v;
    return v;
  }

  uint64_t read_varint_bits(size_t max_length) {
    if (!ok()) return 0;
    auto d = varint::decode(buffer_.data() + position_, remaining(), max_length);
    if (d.length == 0) {
      fail(remaining() < max_length ? "truncated varint" : "varint too long");
      return 0;
    }
    position_ += d.length;
    return d.value;
  }

  shared_bytes buffer_;
  size_t position_ = 0;
  const char* error_ = nullptr;
  size_t error_position_ = 0;
};

}  // namespace sluice::base
