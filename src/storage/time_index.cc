#include "storage/time_index.h"

#include <algorithm>

#include "base/endian.h"

namespace sluice::storage {

time_index::time_index(int64_t base_offset, std::unique_ptr<file> file)
    : base_offset_(base_offset), file_(std::move(file), entry_size) {}

std::vector<uint8_t> time_index::encode(int64_t base_offset,
                                        std::span<const timestamp_offset> entries) {
  std::vector<uint8_t> bytes(entries.size() * entry_size);
  uint8_t* p = bytes.data();
  for (const auto& e : entries) {
    base::store_be<int64_t>(p, e.timestamp);
    base::store_be<int32_t>(p + 8, static_cast<int32_t>(e.offset - base_offset));
    p += entry_size;
  }
  return bytes;
}

std::optional<std::vector<timestamp_offset>> time_index::decode(int64_t base_offset,
                                                                std::span<const uint8_t> bytes,
                                                                int64_t last_offset) {
  if (bytes.size() % entry_size != 0) return std::nullopt;
  std::vector<timestamp_offset> entries;
  entries.reserve(bytes.size() / entry_size);
  for (size_t at = 0; at < bytes.size(); at += entry_size) {
    auto timestamp = base::load_be<int64_t>(bytes.data() + at);
    auto relative = base::load_be<int32_t>(bytes.data() + at + 8);
    timestamp_offset e{timestamp, base_offset + relative};
    if (relative < 0 || e.offset > last_offset) return std::nullopt;
    if (!entries.empty() &&
        (e.timestamp <= entries.back().timestamp || e.offset < entries.back().offset)) {
      return std::nullopt;
    }
    entries.push_back(e);
  }
  return entries;
}

io_result<bool> time_index::load(int64_t last_offset) {
  entries_.clear();
  // Entries point at distinct batches of the log, so there are at most as
  // many as offsets.
  uint64_t max_entries =
      last_offset < base_offset_ ? 0 : static_cast<uint64_t>(last_offset - base_offset_) + 1;
  auto bytes = file_.read_all(max_entries);
  if (!bytes) return base::unexpected(bytes.error());
  if (!*bytes) return false;
  auto decoded = decode(base_offset_, **bytes, last_offset);
  if (!decoded) return false;
  entries_ = std::move(*decoded);
  file_.loaded(entries_.size());
  return true;
}

io_result<void> time_index::replace(std::vector<timestamp_offset> entries) {
  entries_.clear();
  auto written = file_.replace(encode(base_offset_, entries), entries.size());
  if (!written) return written;
  entries_ = std::move(entries);
  return {};
}

io_result<void> time_index::append(std::span<const timestamp_offset> entries) {
  if (entries.empty()) return {};
  auto written = file_.append(encode(base_offset_, entries), entries.size());
  if (!written) return written;
  entries_.insert(entries_.end(), entries.begin(), entries.end());
  return {};
}

io_result<void> time_index::truncate_to(int64_t offset) {
  // Offsets never decrease, so the entries to drop are a suffix.
  auto keep = std::lower_bound(entries_.begin(), entries_.end(), offset,
                               [](const timestamp_offset& e, int64_t o) { return e.offset < o; });
  if (keep == entries_.end()) return {};
  entries_.erase(keep, entries_.end());
  return file_.truncate(entries_.size());
}

io_result<void> time_index::flush() { return file_.flush(); }

timestamp_offset time_index::lookup(int64_t timestamp) const {
  auto after =
      std::upper_bound(entries_.begin(), entries_.end(), timestamp,
                       [](int64_t t, const timestamp_offset& e) { return t < e.timestamp; });
  if (after == entries_.begin()) return {-1, base_offset_};
  return *std::prev(after);
}

timestamp_offset time_index::last_entry() const {
  if (entries_.empty()) return {-1, base_offset_};
  return entries_.back();
}

}  // namespace sluice::storage
