#include "storage/offset_index.h"

#include <algorithm>

#include "base/endian.h"

namespace sluice::storage {

offset_index::offset_index(int64_t base_offset, std::unique_ptr<file> file)
    : base_offset_(base_offset), file_(std::move(file), entry_size) {}

std::vector<uint8_t> offset_index::encode(int64_t base_offset,
                                          std::span<const offset_position> entries) {
  std::vector<uint8_t> bytes(entries.size() * entry_size);
  uint8_t* p = bytes.data();
  for (const auto& e : entries) {
    base::store_be<int32_t>(p, static_cast<int32_t>(e.offset - base_offset));
    base::store_be<int32_t>(p + 4, static_cast<int32_t>(e.position));
    p += entry_size;
  }
  return bytes;
}

std::optional<std::vector<offset_position>> offset_index::decode(int64_t base_offset,
                                                                 std::span<const uint8_t> bytes,
                                                                 uint64_t log_size) {
  if (bytes.size() % entry_size != 0) return std::nullopt;
  std::vector<offset_position> entries;
  entries.reserve(bytes.size() / entry_size);
  for (size_t at = 0; at < bytes.size(); at += entry_size) {
    auto relative = base::load_be<int32_t>(bytes.data() + at);
    auto position = base::load_be<int32_t>(bytes.data() + at + 4);
    if (relative < 0 || position < 0 || static_cast<uint64_t>(position) >= log_size) {
      return std::nullopt;
    }
    offset_position e{base_offset + relative, static_cast<uint64_t>(position)};
    if (!entries.empty() &&
        (e.offset <= entries.back().offset || e.position <= entries.back().position)) {
      return std::nullopt;
    }
    entries.push_back(e);
  }
  return entries;
}

io_result<bool> offset_index::load(uint64_t log_size) {
  entries_.clear();
  // Strictly increasing positions below log_size bound the entries.
  auto bytes = file_.read_all(log_size);
  if (!bytes) return base::unexpected(bytes.error());
  if (!*bytes) return false;
  auto decoded = decode(base_offset_, **bytes, log_size);
  if (!decoded) return false;
  entries_ = std::move(*decoded);
  file_.loaded(entries_.size());
  return true;
}

io_result<void> offset_index::replace(std::vector<offset_position> entries) {
  entries_.clear();
  auto written = file_.replace(encode(base_offset_, entries), entries.size());
  if (!written) return written;
  entries_ = std::move(entries);
  return {};
}

io_result<void> offset_index::append(std::span<const offset_position> entries) {
  if (entries.empty()) return {};
  auto written = file_.append(encode(base_offset_, entries), entries.size());
  if (!written) return written;
  entries_.insert(entries_.end(), entries.begin(), entries.end());
  return {};
}

io_result<void> offset_index::truncate_to(int64_t offset) {
  auto keep = std::lower_bound(entries_.begin(), entries_.end(), offset,
                               [](const offset_position& e, int64_t o) { return e.offset < o; });
  if (keep == entries_.end()) return {};
  entries_.erase(keep, entries_.end());
  return file_.truncate(entries_.size());
}

io_result<void> offset_index::flush() { return file_.flush(); }

offset_position offset_index::lookup(int64_t offset) const {
  auto after = std::upper_bound(entries_.begin(), entries_.end(), offset,
                                [](int64_t o, const offset_position& e) { return o < e.offset; });
  if (after == entries_.begin()) return {base_offset_, 0};
  return *std::prev(after);
}

std::optional<offset_position> offset_index::last_entry() const {
  if (entries_.empty()) return std::nullopt;
  return entries_.back();
}

}  // namespace sluice::storage
