#pragma once

// partition_log: one partition's log, `<log.dir>/<topic>-<partition>/`, as
// an ordered run of segments of which the last, the active one, takes appends.
// It assigns offsets, rolls segments, keeps the log start offset, the
// recovery point and the leader epochs, and recovers after a crash; the log
// manager above it owns many of these and runs their background work.
//
// Threads. Any thread may call any method. Appends queue up and the appender
// at the head of the queue writes everything queued behind it in one write and
// one fsync (group commit, as LevelDB's writer queue): concurrent appenders
// share the cost of the disk. Reads never wait for a write or an fsync: they
// hold the segment list's lock only to find their segment, and a segment that
// retention or compaction removes stays readable through the slice that holds
// it. Truncation, retention and the cleaner's swap exclude each other.
//
// Offsets. The log stores record batches byte-for-byte as the caller gave
// them, apart from the base offset, the partition leader epoch and, under
// LogAppendTime, the max timestamp, which the log sets. For the Raft log the
// offset is the Raft index and the leader epoch the term (KRaft's model).

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/shared_bytes.h"
#include "storage/checkpoint_file.h"
#include "storage/file_system.h"
#include "storage/log_config.h"
#include "storage/segment.h"

namespace sluice::storage {

// Milliseconds since the epoch; a test clock in tests.
using clock_function = std::function<int64_t()>;
int64_t wall_clock_ms();

struct append_options {
  // fsync before returning (the broker sets it for acks=all writes while
  // flush.on.acks.all holds). flush.messages may fsync without it.
  bool sync = false;
  // Leader appends get offsets from the log, and the leader epoch below when
  // it is >= 0. Replicated appends (assign_offsets = false) keep the offsets
  // and epochs the leader gave them and must start at or after log_end_offset().
  bool assign_offsets = true;
  int32_t leader_epoch = -1;
  // The CRC is checked unless the caller did so already (the broker's
  // produce validation does, and a second pass would cost ~45 us a MiB).
  bool verify_crc = true;
};

struct append_result {
  int64_t base_offset = -1;      // of the first batch appended
  int64_t last_offset = -1;      // of the last record appended
  int64_t log_append_time = -1;  // the time written under LogAppendTime, else -1
  int64_t log_end_offset = -1;   // after this append
};

// Whole batches read from one segment. The slice owns a reference to its
// segment, so the bytes stay readable (the file stays open) while it lives,
// even if retention or compaction removes the segment meanwhile.
class log_slice {
 public:
  log_slice(std::shared_ptr<segment> source, segment_range range, bool from_active_segment)
      : source_(std::move(source)), range_(range), from_active_segment_(from_active_segment) {}

  const segment_range& range() const { return range_; }
  // For sendfile(2): the .log file and range().position/length.
  file& log_file() const { return source_->log_file(); }
  // The bytes in memory.
  io_result<base::shared_bytes> read() const { return source_->read_range(range_); }
  // The bytes for the kernel alone (segment::map_range), mapped rather than
  // copied when they come from the active segment: the tail that consumers
  // which keep up read, and the data most likely in the page cache. Older
  // segments are read as read() does.
  io_result<base::shared_bytes> map() const {
    return from_active_segment_ ? source_->map_range(range_) : source_->read_range(range_);
  }

 private:
  std::shared_ptr<segment> source_;
  segment_range range_;
  bool from_active_segment_;
};

struct timestamp_and_offset {
  int64_t timestamp = -1;
  int64_t offset = -1;
  friend bool operator==(const timestamp_and_offset&, const timestamp_and_offset&) = default;
};

// What partition_log::open needs besides the directory; the log manager
// fills it from its checkpoints.
struct log_open_options {
  log_config config;
  clock_function clock = wall_clock_ms;
  // The shutdown before this open was clean (the log directory's marker was
  // there): segments are opened from their indexes, not scanned.
  bool clean_shutdown = false;
  // Offsets below this were fsynced: segments wholly below it are trusted
  // without a scan even after a crash. 0 scans everything.
  int64_t recovery_point = 0;
  // From the log-start-offset checkpoint; -1 when unknown (the first segment's base).
  int64_t log_start_offset = -1;
};

class partition_log {
 public:
  // Opens the log in `directory`, creating the directory and an empty first
  // segment when there is none. Completes or discards an interrupted
  // compaction swap, removes stray temporary files, and recovers every segment
  // at or past the recovery point (all of them unless the shutdown was clean):
  // the log is cut at the first torn or corrupt batch and indexes are rebuilt.
  static io_result<std::unique_ptr<partition_log>> open(file_system& fs, std::string directory,
                                                        log_open_options options);
  ~partition_log();
  partition_log(const partition_log&) = delete;
  partition_log& operator=(const partition_log&) = delete;

  const std::string& directory() const;
  file_system& fs() const;

  // Appends `batches` (whole magic-2 record batches, back to back), which the
  // log checks — lengths, magic, CRC, offsets contiguous within each batch
  // (last offset delta + 1 = record count) for leader appends — then assigns
  // offsets and writes. The bytes are changed in place (offsets, epochs,
  // LogAppendTime timestamps) before they are written. Fails without writing
  // anything for bad batches (EINVAL) and leaves the log as it was on an I/O
  // error (ENOSPC, EIO): a later append succeeds once the disk recovers.
  io_result<append_result> append(std::span<uint8_t> batches, const append_options& options = {});

  // Makes everything appended so far durable and moves the recovery point up.
  io_result<void> flush();
  // Makes the records below `end` durable the way append(sync) does: one
  // fsync of the active segment's .log (its indexes are rebuilt by recovery
  // and synced when it rolls), and none at all when an earlier call already
  // covered `end`. Callers waiting at once share one fsync, and appends are
  // not held up by it: the broker's acks=all path. After a failed fsync the
  // log goes offline, as for flush().
  io_result<void> sync(int64_t end);
  // Flushes when flush.ms has passed since the oldest unflushed append.
  io_result<void> flush_if_due();

  // Whole batches from the one holding `offset`, at most `max_bytes` except
  // that the first batch is always returned whole (KIP-74), and none holding
  // an offset at or past `max_offset` (a high watermark or last stable
  // offset). nullopt when nothing is there yet (offset at the log end, or the
  // first batch crosses max_offset). ERANGE when `offset` is below the log
  // start offset or past the log end offset (OFFSET_OUT_OF_RANGE).
  io_result<std::optional<log_slice>> read(int64_t offset, size_t max_bytes,
                                           int64_t max_offset = no_limit);

  // ListOffsets: the first record whose timestamp is >= `timestamp` at or
  // after the log start offset, or nullopt when there is none.
  io_result<std::optional<timestamp_and_offset>> offset_for_timestamp(int64_t timestamp);
  // ListOffsets with MAX_TIMESTAMP (KIP-734): the largest record timestamp
  // and the offset of the first record that has it; nullopt when empty.
  io_result<std::optional<timestamp_and_offset>> max_timestamp();

  int64_t log_start_offset() const;
  int64_t log_end_offset() const;
  // Everything below it is durable.
  int64_t recovery_point() const;
  uint64_t size_bytes() const;
  size_t segment_count() const;
  // Base offsets of the segments, oldest first (for tests and dump tools).
  std::vector<int64_t> segment_base_offsets() const;

  // Replication's log truncation: drops every batch at or after `offset`,
  // whole segments included, and leader epochs starting there. The log end
  // offset becomes the end of the last batch kept (<= offset).
  io_result<void> truncate_to(int64_t offset);
  // DeleteRecords: the log start offset moves up to `offset` (never down;
  // at most the log end offset). Reads below it fail with ERANGE at once;
  // segments wholly below it go at the next enforce_retention().
  io_result<int64_t> advance_log_start_offset(int64_t offset);

  // Retention: removes whole segments, oldest first, that are wholly below
  // the log start offset, older than retention.ms (their max timestamp) or
  // beyond retention.bytes, for the delete and compact,delete policies. The
  // active segment goes too when it has expired: it is rolled first, so the
  // log always has a segment. Returns how many segments were removed.
  io_result<size_t> enforce_retention();
  // Rolls when segment.ms has passed for a non-empty active segment even
  // without an append (Kafka rolls on the next append; doing it here lets
  // retention remove an idle partition's data on time).
  io_result<void> roll_if_due();
  // Unmaps the active segment's read window if no slice mapped it since the
  // last call (segment::release_idle_window); the log manager calls it.
  void release_idle_window();

  // The leader epochs, persisted in `leader-epoch-checkpoint` (see
  // leader_epoch_cache.h): the latest, OffsetForLeaderEpoch's answer for
  // `epoch` (the largest epoch <= it and its end offset), and all of them.
  std::optional<int32_t> latest_epoch() const;
  std::optional<epoch_start_offset> end_offset_for_epoch(int32_t epoch) const;
  std::vector<epoch_start_offset> leader_epoch_entries() const;

  void set_config(const log_config& config);
  log_config config() const;

  // --- For the cleaner (log_cleaner.h) ---
  // The segments below the active one, oldest first. Holding them keeps them
  // readable; they change only through replace_segments.
  std::vector<std::shared_ptr<segment>> inactive_segments() const;
  // Swaps `replaced` (consecutive segments, oldest first, as inactive_segments
  // returned them) for the segments the cleaner built, flushed and closed in
  // cleaning_directory() with base offsets `cleaned`, atomically and
  // crash-safely on disk (see segment_swap.h) and in memory. Fails with
  // ESTALE, changing nothing, when `replaced` is no longer a run of the log's
  // segments (retention or truncation got there first); the cleaner then
  // removes its directory.
  io_result<void> replace_segments(const std::vector<std::shared_ptr<segment>>& replaced,
                                   const std::vector<int64_t>& cleaned);
  // The lowest log end offset a truncation left since the last call
  // (no_limit when none): compaction's first dirty offset must come down to
  // it, or records appended again below it would never be compacted.
  int64_t take_truncation_point();
  // Where the cleaner builds segments before the swap.
  std::string cleaning_directory() const;

  // Flushes; every later change fails (ESHUTDOWN), reads still work. A log
  // also stops taking changes after an fsync fails or a change fails half-way
  // (the error says "offline"): the broker then takes it offline, and the
  // next open recovers it from the disk.
  io_result<void> close();

 private:
  struct state;
  explicit partition_log(std::unique_ptr<state> s);
  std::unique_ptr<state> state_;
};

}  // namespace sluice::storage
