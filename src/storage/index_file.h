#pragma once

// index_file: the file behind a sparse index (offset_index, time_index): a
// file of fixed-size entries that mirrors the entries the index keeps in
// memory. It is derived data, so it is written without fsync and made
// durable only by flush(); what it must never do is hold entries the index
// has dropped, so after a failed write or truncate it is cut back to the
// entries in memory, and the cut is retried until it succeeds.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "storage/file_system.h"

namespace sluice::storage {

class index_file {
 public:
  index_file(std::unique_ptr<file> f, size_t entry_size);

  // The whole file, or nullopt when it holds more than `max_entries` entries
  // (it cannot belong to the log then, and is not read into memory).
  io_result<std::optional<std::vector<uint8_t>>> read_all(uint64_t max_entries);
  // Records that the file's content was accepted as `entries` entries.
  void loaded(size_t entries) { entries_ = entries; }

  // Makes `encoded` (`entries` entries) the whole file.
  io_result<void> replace(std::span<const uint8_t> encoded, size_t entries);
  // Adds `encoded` (`entries` entries) after the last entry.
  io_result<void> append(std::span<const uint8_t> encoded, size_t entries);
  // Keeps the first `entries` entries.
  io_result<void> truncate(size_t entries);
  // Makes the file durable, exactly the entries recorded.
  io_result<void> flush();

 private:
  io_result<void> cut();

  std::unique_ptr<file> file_;
  size_t entry_size_;
  size_t entries_ = 0;
  bool longer_than_entries_ = false;
};

}  // namespace sluice::storage
