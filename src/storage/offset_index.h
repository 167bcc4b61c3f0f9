#pragma once

// offset_index: a segment's `.index` in Kafka's format, a sparse map from
// offsets to positions in the `.log`, so that a read finds its batch by
// walking a few batch headers instead of the whole file.
//
// An entry is 8 bytes: the offset relative to the segment's base offset and
// the file position of a batch, both int32 big-endian. The offset is the last
// offset of the batch at that position (Kafka's choice), so lookup(offset)
// lands on a batch at or before the one holding `offset`. Entries strictly
// increase in both fields.
//
// The entries live in memory, which is what lookups use; the file follows
// them (appended to, cut back) and is made durable only by flush(). An index
// is derived data: when its file is missing or fails decode(), the segment
// rebuilds it from the log.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "storage/file_system.h"
#include "storage/index_file.h"

namespace sluice::storage {

struct offset_position {
  int64_t offset = 0;
  uint64_t position = 0;

  friend bool operator==(const offset_position&, const offset_position&) = default;
};

class offset_index {
 public:
  static constexpr size_t entry_size = 8;

  // An index with no entries in memory over `file`, whatever it holds:
  // call load() or replace() next.
  offset_index(int64_t base_offset, std::unique_ptr<file> file);

  // The file format. decode() returns nullopt for a file that cannot be a
  // valid index of a log of `log_size` bytes: a size that is not a multiple of
  // 8, entries not strictly increasing, negative relative offsets, positions at
  // or past the end of the log.
  static std::vector<uint8_t> encode(int64_t base_offset, std::span<const offset_position> entries);
  static std::optional<std::vector<offset_position>> decode(int64_t base_offset,
                                                            std::span<const uint8_t> bytes,
                                                            uint64_t log_size);

  // Reads the file into memory. False (and no entries) when it is corrupt.
  io_result<bool> load(uint64_t log_size);
  // Makes `entries` the whole index, in memory and in the file.
  io_result<void> replace(std::vector<offset_position> entries);
  // Adds entries after the last one, in one write. On failure nothing changes
  // in memory.
  io_result<void> append(std::span<const offset_position> entries);
  // Drops every entry whose offset is >= `offset`.
  io_result<void> truncate_to(int64_t offset);
  // Makes the file durable, exactly the entries in memory.
  io_result<void> flush();

  // The greatest entry whose offset is <= `offset`, or (base offset, 0).
  offset_position lookup(int64_t offset) const;
  std::optional<offset_position> last_entry() const;
  const std::vector<offset_position>& entries() const { return entries_; }

 private:
  int64_t base_offset_;
  index_file file_;
  std::vector<offset_position> entries_;
};

}  // namespace sluice::storage
