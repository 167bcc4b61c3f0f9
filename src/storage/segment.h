#pragma once

// One segment of a partition log: `<base offset>.log` holding record batches
// exactly as validated (offsets assigned), with its two sparse indexes,
// `<base offset>.index` (offset -> file position) and `<base offset>.timeindex`
// (max timestamp -> offset), in Kafka's on-disk formats.
//
// A segment belongs to its partition's owner, which serialises every call
// (not thread-safe). It knows nothing of offset assignment, retention or which
// segment is active: the partition log above it decides that.

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/shared_bytes.h"
#include "storage/file_system.h"
#include "storage/offset_index.h"
#include "storage/time_index.h"

namespace sluice::storage {

// "00000000000000000042.log": base offsets are written as 20 digits, so file
// names sort like offsets. `extension` includes its dot.
inline constexpr std::string_view log_extension = ".log";
inline constexpr std::string_view offset_index_extension = ".index";
inline constexpr std::string_view time_index_extension = ".timeindex";
std::string segment_file_name(int64_t base_offset, std::string_view extension);
// The base offset in a segment file name with that extension, if it is one.
std::optional<int64_t> parse_segment_file_name(std::string_view name, std::string_view extension);

struct segment_config {
  // Bytes of batches between two offset-index entries (Kafka's index.interval.bytes).
  uint32_t index_interval_bytes = 4096;
};

// Where a read landed: a byte range of the .log file holding whole batches.
// The file can be handed to sendfile(2), read into memory with read_range(),
// or mapped with map_range().
struct segment_range {
  uint64_t position = 0;
  uint64_t length = 0;
  int64_t first_offset = -1;  // base offset of the first batch in the range
  int64_t last_offset = -1;   // last offset of the last batch in the range
};

class segment {
 public:
  // A new, empty segment; fails with EEXIST if one of its files exists. Its
  // files' names are durable when this returns.
  static io_result<std::unique_ptr<segment>> create(file_system& fs, const std::string& directory,
                                                    int64_t base_offset,
                                                    const segment_config& config);

  // An existing segment. With `recover`, every batch is checked (lengths, CRC,
  // offsets increasing) from the start, the file is cut at the first torn or
  // corrupt batch and both indexes are rebuilt; without it, the indexes are
  // loaded and checked against the batches after the last offset-index entry.
  // A missing or inconsistent index means the shutdown was not clean after
  // all, so the segment is then recovered as with `recover` (as Kafka does).
  static io_result<std::unique_ptr<segment>> open(file_system& fs, const std::string& directory,
                                                  int64_t base_offset, const segment_config& config,
                                                  bool recover);

  ~segment();
  segment(const segment&) = delete;
  segment& operator=(const segment&) = delete;

  int64_t base_offset() const;
  // One past the last offset stored; base_offset() when empty.
  int64_t next_offset() const;
  uint64_t size_bytes() const;
  // The largest batch max timestamp, and the last offset of its batch; -1 when empty.
  int64_t max_timestamp() const;
  int64_t offset_of_max_timestamp() const;
  bool empty() const { return size_bytes() == 0; }
  // The larger of the two index files' sizes: segment.index.bytes caps it.
  uint64_t index_bytes() const;

  // Appends `batches` (one or more whole, validated magic-2 batches with
  // offsets assigned, the first starting at next_offset() or later) in one
  // write, and indexes them. On failure the segment is cut back to its size
  // before the call: nothing of a failed append is ever visible. Bytes that
  // are not such batches fail with EINVAL before anything is written, and a
  // segment that would pass 2 GiB (positions in the index are int32) or hold
  // offsets more than 2^31-1 past its base with EFBIG. A growing segment
  // reserves disk space ahead of its end (as much as it holds, at most
  // 4 MiB; file::reserve) so that its writes need no block allocation of
  // their own; flush() gives it back.
  io_result<void> append(std::span<const uint8_t> batches);

  // Makes appended batches and index entries durable, and gives back the
  // disk space reserved past the end: the partition log flushes a segment
  // when it rolls, at close and after recovery.
  io_result<void> flush();
  // Makes appended batches durable, not the indexes: what an acknowledgement
  // needs from the active segment, whose indexes recovery rebuilds after a
  // crash anyway. One fsync instead of three.
  io_result<void> flush_log();
  // flush_log() without the cut of a failed write's leftovers: the one call
  // that may run while the owner appends (partition_log::sync). Once an
  // fsync of the .log failed, every later one fails too.
  io_result<void> sync_log_concurrently();

  // Whole batches from the one containing `offset` (or the first after it),
  // up to `max_bytes` — but the first batch is always whole even when larger
  // (KIP-74) — and none whose last offset is at or past `max_offset` (a high
  // watermark). nullopt when there is no such first batch. A batch header
  // that makes no sense fails with EBADMSG.
  io_result<std::optional<segment_range>> read(
      int64_t offset, size_t max_bytes, int64_t max_offset = std::numeric_limits<int64_t>::max());
  io_result<base::shared_bytes> read_range(const segment_range& range);
  // The bytes of `range` without a copy: a view of the .log file mapped into
  // memory (file_mapping), for bytes that only the kernel reads, such as a
  // Fetch response's records written to a socket. Never parse them: see
  // file_mapping for why. The segment maps one window of 64 MiB (more for a
  // larger range); it moves forward when a read passes its end, so the
  // readers at the log's end keep it where they read, and a read before the
  // window copies (read_range). A view keeps its window mapped, even after
  // the segment moved on to another. Copies, too, after stop_mapping(), after
  // truncate_to() and once mapping has failed. Safe to call from any thread
  // beside the owner's calls, as read_range is.
  io_result<base::shared_bytes> map_range(const segment_range& range);
  // map_range() copies from now on, and the window goes when its last view
  // does: the partition log calls this when the segment stops being the
  // active one, so that sealed segments hold no mappings.
  void stop_mapping();
  // Lets the window go (when its last view does) if map_range() has not used
  // it since the last call: an idle partition holds no mapping. The next
  // map_range() maps again.
  void release_idle_window();

  // The base offset of the first batch whose max timestamp is >= `timestamp`,
  // or nullopt when there is none in this segment. ListOffsets narrows this
  // to the first record with such a timestamp by reading that batch.
  io_result<std::optional<int64_t>> find_offset_by_timestamp(int64_t timestamp);

  // Drops every batch whose base offset is >= `offset` (replication's log
  // truncation); the indexes follow. map_range() copies from then on.
  io_result<void> truncate_to(int64_t offset);

  // The .log file, for sendfile(2).
  file& log_file();

  // Deletes the segment's three files and makes that durable. The segment
  // must not be used afterwards.
  io_result<void> remove();

 private:
  struct state;
  explicit segment(std::unique_ptr<state> s);
  std::unique_ptr<state> state_;
};

}  // namespace sluice::storage
