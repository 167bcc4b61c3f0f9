#pragma once

// log_cleaner: log compaction (cleanup.policy=compact and compact,delete),
// on Kafka's LogCleaner model, which __consumer_offsets and
// __transaction_state rely on: the log keeps at least the last record of
// every key.
//
// A run cleans the log's inactive segments up to the cleanable end: the
// first segment that holds a record younger than min.compaction.lag.ms or the
// first record of a transaction still open. Below it, the dirty section (from
// the first dirty offset, where the last run stopped) is read once into a map
// key -> latest offset; then every segment from the first one to the end of
// the dirty section is copied into `cleaning/` without the records that a
// later record of their key overwrites, without aborted transactions and
// without tombstones past their delete horizon (KIP-534), and the copies are
// swapped in (segment_swap.h). Offsets never change: a batch keeps its base
// and last offset even when records inside it go.
//
// The log manager calls this from its cleaner thread, one run per log at a
// time; appends and reads go on meanwhile.

#include <cstddef>
#include <cstdint>

#include "storage/file_system.h"
#include "storage/partition_log.h"

namespace sluice::storage {

struct compaction_stats {
  bool compacted = false;
  // Where the next run starts: the end of what this run cleaned, or the
  // offset given when it did not run.
  int64_t first_dirty_offset = 0;
  // Segments and bytes replaced, and what replaced them.
  size_t segments_before = 0;
  size_t segments_after = 0;
  uint64_t bytes_before = 0;
  uint64_t bytes_after = 0;
  uint64_t records_removed = 0;
};

struct cleaner_limits {
  // log.cleaner.dedupe.buffer.size: the memory of the key -> offset map, at
  // 24 bytes a key. A dirty section with more keys is cleaned in parts.
  uint64_t dedupe_buffer_bytes = 128 << 20;
  // How much of a segment is read at a time, and written at a time.
  uint64_t io_buffer_bytes = 1 << 20;
  // The most a compressed batch may decompress to; a larger one fails the
  // run (EBADMSG) rather than exhaust memory.
  size_t max_decompressed_batch_bytes = 256 << 20;
};

// The part of the log's inactive segments at or past first_dirty_offset, by
// bytes: what the log manager ranks logs by. 0 when there is none.
double dirty_ratio(partition_log& log, int64_t first_dirty_offset);

// Compacts `log` once when its policy compacts, its cleanable part has dirty
// bytes and their ratio to the cleanable part is at least
// min.cleanable.dirty.ratio; otherwise returns stats with compacted=false.
// The log is unchanged on any error (the cleaning directory is removed);
// when retention or truncation changed its segments meanwhile (ESTALE from
// replace_segments) the run is dropped without an error.
io_result<compaction_stats> compact_if_due(partition_log& log, int64_t first_dirty_offset,
                                           int64_t now_ms, const cleaner_limits& limits = {});

}  // namespace sluice::storage
