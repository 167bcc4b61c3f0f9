#pragma once

// log_config: what a partition log is told by its topic's configuration.
// Every field is named after the Kafka topic config it carries (the broker's
// `log.*` keys are their defaults), so a user's mental model of Kafka applies
// unchanged; the broker parses and validates the keys, the log only obeys.

#include <cstdint>
#include <limits>

#include "storage/segment.h"

namespace sluice::storage {

inline constexpr int64_t no_limit = std::numeric_limits<int64_t>::max();

enum class cleanup_policy {
  remove,              // cleanup.policy=delete
  compact,             // cleanup.policy=compact
  compact_and_remove,  // cleanup.policy=compact,delete
};

struct log_config {
  // segment.bytes: the active segment is rolled before it would pass this.
  uint64_t segment_bytes = 1024 * 1024 * 1024;
  // segment.ms: the active segment is rolled once its first batch is this old.
  int64_t segment_ms = 7LL * 24 * 60 * 60 * 1000;
  // segment.index.bytes: the active segment is rolled when its offset index
  // (8 bytes an entry) or time index (12 bytes an entry) would pass this.
  uint64_t segment_index_bytes = 10 * 1024 * 1024;
  // index.interval.bytes
  uint32_t index_interval_bytes = 4096;

  // retention.ms (-1: forever) and retention.bytes (-1: no limit), applied to
  // whole segments by enforce_retention().
  int64_t retention_ms = 7LL * 24 * 60 * 60 * 1000;
  int64_t retention_bytes = -1;

  cleanup_policy policy = cleanup_policy::remove;
  // delete.retention.ms: how long a tombstone survives compaction.
  int64_t delete_retention_ms = 24LL * 60 * 60 * 1000;
  // min.cleanable.dirty.ratio: the part of the log not yet compacted that
  // makes it worth compacting.
  double min_cleanable_dirty_ratio = 0.5;
  // min.compaction.lag.ms: records younger than this are never compacted.
  int64_t min_compaction_lag_ms = 0;

  // flush.messages: fsync once this many records arrived since the last
  // fsync. flush.ms: fsync once the oldest unflushed append is this old
  // (checked by the log manager's flusher). Kafka's defaults leave both to the
  // OS and replication.
  int64_t flush_messages = no_limit;
  int64_t flush_ms = no_limit;
  // flush.on.acks.all (Sluice's own; broker default log.flush.on.acks.all):
  // an acks=all write is fsynced before it is acknowledged. The broker reads
  // this to choose append_options::sync; the log itself only obeys that.
  bool flush_on_acks_all = true;

  // message.timestamp.type=LogAppendTime: every batch gets the log's clock as
  // its max timestamp on append.
  bool log_append_time = false;

  segment_config segment() const { return {index_interval_bytes}; }
};

}  // namespace sluice::storage
