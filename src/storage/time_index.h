#pragma once

// time_index: a segment's `.timeindex` in Kafka's format, a sparse map from
// timestamps to offsets, so that ListOffsets by time starts its scan of batch
// headers close to the answer.
//
// An entry is 12 bytes: a timestamp (int64 big-endian) and an offset relative
// to the segment's base offset (int32 big-endian). Each entry records the
// largest batch max timestamp seen so far and the last offset of the batch
// that first reached it, so every batch before that one has a smaller max
// timestamp. Timestamps strictly increase; offsets never decrease (Kafka
// allows equal ones).
//
// Like offset_index: entries in memory, the file following them, durable only
// after flush(), rebuilt from the log when missing or corrupt.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "storage/file_system.h"
#include "storage/index_file.h"

namespace sluice::storage {

struct timestamp_offset {
  int64_t timestamp = -1;
  int64_t offset = 0;

  friend bool operator==(const timestamp_offset&, const timestamp_offset&) = default;
};

class time_index {
 public:
  static constexpr size_t entry_size = 12;

  // An index with no entries in memory over `file`, whatever it holds:
  // call load() or replace() next.
  time_index(int64_t base_offset, std::unique_ptr<file> file);

  // The file format. decode() returns nullopt for a file that cannot be a
  // valid index of a log whose last offset is `last_offset`: a size that is
  // not a multiple of 12, timestamps not strictly increasing, offsets
  // decreasing, below the base offset or past `last_offset`.
  static std::vector<uint8_t> encode(int64_t base_offset,
                                     std::span<const timestamp_offset> entries);
  static std::optional<std::vector<timestamp_offset>> decode(int64_t base_offset,
                                                             std::span<const uint8_t> bytes,
                                                             int64_t last_offset);

  // Reads the file into memory. False (and no entries) when it is corrupt.
  io_result<bool> load(int64_t last_offset);
  // Makes `entries` the whole index, in memory and in the file.
  io_result<void> replace(std::vector<timestamp_offset> entries);
  // Adds entries after the last one, in one write. On failure nothing changes
  // in memory.
  io_result<void> append(std::span<const timestamp_offset> entries);
  // Drops every entry whose offset is >= `offset`.
  io_result<void> truncate_to(int64_t offset);
  // Makes the file durable, exactly the entries in memory.
  io_result<void> flush();

  // The greatest entry whose timestamp is <= `timestamp`, or (-1, base offset).
  timestamp_offset lookup(int64_t timestamp) const;
  // The last entry, or (-1, base offset) when there is none (Kafka's lastEntry).
  timestamp_offset last_entry() const;
  const std::vector<timestamp_offset>& entries() const { return entries_; }

 private:
  int64_t base_offset_;
  index_file file_;
  std::vector<timestamp_offset> entries_;
};

}  // namespace sluice::storage
