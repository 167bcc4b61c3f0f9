#pragma once

// shared_bytes: an immutable byte range that shares ownership of its storage.
//
// A request frame is read once into one buffer; every bytes/records field
// decoded from it is a slice of that buffer rather than a copy. Slices keep the
// buffer alive, so a handler may hold on to a record batch after the request
// object is gone (e.g. while it waits on an fsync).

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

namespace sluice::base {

class shared_bytes {
 public:
  shared_bytes() = default;

  // Takes ownership of `owned`.
  explicit shared_bytes(std::vector<uint8_t> owned);

  // A view of `size` bytes at `data`, kept valid by `owner`.
  shared_bytes(std::shared_ptr<const void> owner, const uint8_t* data, size_t size)
      : owner_(std::move(owner)), data_(data), size_(size) {}

  static shared_bytes copy_of(std::span<const uint8_t> bytes);
  static shared_bytes copy_of(std::string_view text);

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::span<const uint8_t> span() const { return {data_, size_}; }
  std::string_view as_string_view() const { return {reinterpret_cast<const char*>(data_), size_}; }
  const uint8_t* begin() const { return data_; }
  const uint8_t* end() const { return data_ + size_; }
  uint8_t operator[](size_t i) const { return data_[i]; }

  // A sub-range sharing the same storage. `offset + length` must be <= size().
  shared_bytes slice(size_t offset, size_t length) const {
    return shared_bytes(owner_, data_ + offset, length);
  }

  friend bool operator==(const shared_bytes& a, const shared_bytes& b) {
    return a.size_ == b.size_ && (a.size_ == 0 || std::memcmp(a.data_, b.data_, a.size_) == 0);
  }

 private:
  std::shared_ptr<const void> owner_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace sluice::base
