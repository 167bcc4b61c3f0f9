#pragma once

// producer_state: what one partition knows of idempotent producers, so that a
// producer's retry is written once (Kafka's ProducerStateManager).
//
// For every producer id it keeps the epoch and the last five batches written
// (first/last sequence, first/last offset). A batch whose sequences match one
// of those is a duplicate: the broker answers with the original offsets and
// writes nothing. Otherwise its first sequence must follow the last one
// (OUT_OF_ORDER_SEQUENCE_NUMBER), and its epoch must not be older than the
// producer's (INVALID_PRODUCER_EPOCH); a new epoch starts again at sequence 0.
//
// The state is rebuilt after a restart from the newest snapshot file in the
// partition directory (`<offset>.snapshot`, as Kafka names them) plus the
// batches written after it, so retries across a crash are still deduplicated.
//
// Threads: none of its own; the partition's owner shard calls it.

#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "protocol/error_code.h"
#include "protocol/record_batch.h"
#include "storage/file_system.h"
#include "storage/partition_log.h"

namespace sluice::coordinator {

// One batch a producer wrote, as its sequences and offsets.
struct producer_batch {
  int32_t first_sequence = 0;
  int32_t last_sequence = 0;
  int64_t first_offset = 0;
  int64_t last_offset = 0;
  int64_t max_timestamp = -1;
  friend bool operator==(const producer_batch&, const producer_batch&) = default;
};

struct producer_entry {
  int64_t producer_id = -1;
  int16_t epoch = -1;
  std::deque<producer_batch> batches;  // oldest first, at most batches_kept
  int64_t last_timestamp = -1;         // the max timestamp of its newest batch (expiry)
};

struct sequence_check {
  enum class verdict { accept, duplicate, out_of_order, invalid_epoch };
  verdict outcome = verdict::accept;
  producer_batch original;             // for duplicate: where the batch already is
  std::string message;                 // why, for the produce response's error_message
  protocol::error_code error() const;  // NONE for accept and duplicate
};

class producer_state {
 public:
  static constexpr size_t batches_kept = 5;

  // What to do with a batch that carries a producer id (>= 0).
  sequence_check check(const protocol::batch_header& batch) const;
  // Records a batch after it was appended: `appended` has its offsets. Also
  // used to replay the log after a restart (no checks then).
  void update(const protocol::batch_header& appended);
  // Forgets producers whose newest batch is older than producer.id.expiration.ms.
  void expire(int64_t now_ms, int64_t expiration_ms);

  const producer_entry* find(int64_t producer_id) const;
  size_t producer_count() const { return producers_.size(); }

  // A snapshot of the state, self-checking (version and CRC-32C).
  std::vector<uint8_t> encode_snapshot() const;
  static base::result<producer_state> decode_snapshot(std::span<const uint8_t> bytes);

 private:
  std::unordered_map<int64_t, producer_entry> producers_;
};

// Rebuilds a partition's producer state: the newest readable snapshot below
// the log end (a corrupt one is skipped), then every batch after it. Snapshot
// files above the log end (left by a truncation) are deleted.
storage::io_result<producer_state> recover_producer_state(storage::partition_log& log);

// Writes `<as_of, 20 digits>.snapshot` into the log's directory atomically
// and removes all but the newest two snapshots. `state` must be the state of
// the log's batches below `as_of` (its log end offset when the state was
// copied), so the writing may happen off the owner shard while appends go on.
storage::io_result<void> write_producer_snapshot(storage::partition_log& log,
                                                 const producer_state& state, int64_t as_of);

}  // namespace sluice::coordinator
