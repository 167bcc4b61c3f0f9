#pragma once

// byte_writer: appends big-endian integers, varints and raw bytes to a growing
// buffer. Lengths that are only known later (frame sizes, batch lengths) are
// written as placeholders and patched with put_int32_at().
//
// A writer may splice instead of copy: with enable_splicing(), byte strings of
// at least the given size passed to splice() are kept by reference at their
// place in the output (a Fetch response's records), and the output is the
// buffer with those strings inserted, sent as several buffers at once.

#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include "base/endian.h"
#include "base/shared_bytes.h"
#include "base/varint.h"

namespace sluice::base {

class byte_writer {
 public:
  byte_writer() = default;
  explicit byte_writer(size_t reserve) { buffer_.reserve(reserve); }

  // A byte string kept by reference: it goes right after buffer()[0, at).
  struct splice_point {
    size_t at;
    shared_bytes bytes;
  };

  // Bytes written, spliced ones included.
  size_t size() const { return buffer_.size() + spliced_bytes_; }
  const std::vector<uint8_t>& buffer() const { return buffer_; }
  std::vector<uint8_t> take() { return std::move(buffer_); }

  void enable_splicing(size_t min_bytes) { splice_min_bytes_ = min_bytes; }
  // Keeps `bytes` by reference when splicing is on and they are large
  // enough; false when the caller must copy them instead.
  bool splice(const shared_bytes& bytes) {
    if (splice_min_bytes_ == 0 || bytes.size() < splice_min_bytes_) return false;
    splices_.push_back({buffer_.size(), bytes});
    spliced_bytes_ += bytes.size();
    return true;
  }
  std::vector<splice_point> take_splices() { return std::move(splices_); }
  void reserve(size_t n) { buffer_.reserve(n); }

  void write_int8(int8_t v) { buffer_.push_back(static_cast<uint8_t>(v)); }
  void write_uint8(uint8_t v) { buffer_.push_back(v); }
  void write_int16(int16_t v) { write_fixed(v); }
  void write_uint16(uint16_t v) { write_fixed(v); }
  void write_int32(int32_t v) { write_fixed(v); }
  void write_uint32(uint32_t v) { write_fixed(v); }
  void write_int64(int64_t v) { write_fixed(v); }
  void write_float64(double d) {
    uint64_t bits;
    std::memcpy(&bits, &d, sizeof bits);
    write_fixed(bits);
  }
  void write_bool(bool v) { buffer_.push_back(v ? 1 : 0); }

  void write_uvarint(uint32_t v) { write_varint_bits(v); }
  void write_varint(int32_t v) { write_varint_bits(varint::zigzag(v)); }
  void write_varlong(int64_t v) { write_varint_bits(varint::zigzag(v)); }

  // Copies once, without zero-filling first (records can be megabytes).
  void write_bytes(std::span<const uint8_t> bytes) {
    buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
  }
  void write_bytes(std::string_view text) {
    write_bytes({reinterpret_cast<const uint8_t*>(text.data()), text.size()});
  }

  // Overwrites four bytes at `position` (already written) with `v`.
  void put_int32_at(size_t position, int32_t v) { store_be(buffer_.data() + position, v); }

 private:
  size_t grow(size_t n) {
    size_t at = buffer_.size();
    buffer_.resize(at + n);
    return at;
  }
  template <typename T>
  void write_fixed(T v) {
    size_t at = grow(sizeof v);  // before data(): growing may move the buffer
    store_be(buffer_.data() + at, v);
  }
  void write_varint_bits(uint64_t v) {
    uint8_t tmp[varint::max_bytes_64];
    size_t n = varint::encode(v, tmp);
    write_bytes({tmp, n});
  }

  std::vector<uint8_t> buffer_;
  size_t splice_min_bytes_ = 0;  // 0: splicing off
  std::vector<splice_point> splices_;
  size_t spliced_bytes_ = 0;
};

}  // namespace sluice::base
