#include "storage/index_file.h"

namespace sluice::storage {

index_file::index_file(std::unique_ptr<file> f, size_t entry_size)
    : file_(std::move(f)), entry_size_(entry_size) {}

io_result<std::optional<std::vector<uint8_t>>> index_file::read_all(uint64_t max_entries) {
  auto size = file_->size();
  if (!size) return base::unexpected(size.error());
  if (*size / entry_size_ > max_entries) return std::optional<std::vector<uint8_t>>();
  std::vector<uint8_t> bytes(*size);
  auto n = file_->read_at(0, bytes);
  if (!n) return base::unexpected(n.error());
  bytes.resize(*n);
  return std::optional<std::vector<uint8_t>>(std::move(bytes));
}

io_result<void> index_file::replace(std::span<const uint8_t> encoded, size_t entries) {
  // Emptied first, so that a failure leaves a valid (empty) index, not a mix.
  entries_ = 0;
  longer_than_entries_ = true;
  auto emptied = cut();
  if (!emptied) return emptied;
  return append(encoded, entries);
}

io_result<void> index_file::append(std::span<const uint8_t> encoded, size_t entries) {
  auto written = file_->write_at(entries_ * entry_size_, encoded);
  if (!written) {
    longer_than_entries_ = true;
    static_cast<void>(cut());  // retried by the next flush() if it fails too
    return written;
  }
  entries_ += entries;
  return {};
}

io_result<void> index_file::truncate(size_t entries) {
  entries_ = entries;
  longer_than_entries_ = true;
  return cut();
}

io_result<void> index_file::flush() {
  if (longer_than_entries_) {
    auto cut_back = cut();
    if (!cut_back) return cut_back;
  }
  return file_->sync();
}

io_result<void> index_file::cut() {
  auto cut_back = file_->truncate(entries_ * entry_size_);
  if (cut_back) longer_than_entries_ = false;
  return cut_back;
}

}  // namespace sluice::storage
