#pragma once

// partition: one partition this broker hosts, and who may touch what of it.
//
// The log is safe to read from any shard (Fetch, ListOffsets read it where
// the connection lives); appends and the producer state belong to the owner
// shard. A single node is always the leader, so the high watermark is the
// log end offset; the Raft issue replaces that with the commit index.

#include <atomic>
#include <cstdint>
#include <memory>

#include "base/uuid.h"
#include "coordinator/producer_state.h"
#include "kafka/shard.h"
#include "storage/log_manager.h"
#include "storage/partition_log.h"

namespace sluice::kafka {

struct partition {
  partition(storage::topic_partition tp_, base::uuid topic_id_, shard_id owner_,
            std::shared_ptr<storage::partition_log> log_)
      : tp(std::move(tp_)), topic_id(topic_id_), owner(owner_), log(std::move(log_)) {}

  const storage::topic_partition tp;
  const base::uuid topic_id;
  const shard_id owner;
  const std::shared_ptr<storage::partition_log> log;

  int64_t high_watermark() const { return log->log_end_offset(); }

  // Owner shard only. The producer state is snapshotted whenever the log
  // rolls a segment (as Kafka does), so a restart replays at most about a
  // segment's batches to rebuild it.
  coordinator::producer_state producers;
  size_t producer_snapshot_segments = 0;  // the segment count at the last snapshot
  bool producer_snapshot_running = false;

  // A bit per shard with a Fetch waiting for this partition to grow. A
  // waiting shard sets its bit before it looks at the log end one last time;
  // the owner clears the bits after each append and wakes those shards, so
  // no wakeup is lost between the two.
  std::atomic<uint64_t> waiting_shards{0};
};

}  // namespace sluice::kafka
