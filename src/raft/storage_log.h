#pragma once

// storage_log: a node's Raft state on a real disk, in KRaft's model. The log
// is a Kafka partition log (storage/partition_log.h): an entry is a record
// batch at its Raft index (the base offset) with its term as the partition
// leader epoch; data entries are the batches the leader was given, and Raft's
// own entries (leader change, configuration) are control batches that
// consumers skip. Beside the log, in the same directory: `quorum-state` (term
// and vote) and `raft-snapshot` (the latest snapshot), both replaced
// atomically.
//
// The core reads it through log_store; the host (driver.h) writes it as
// node.h's contract says: hard state and snapshots durably on return, entries
// written by append() and made durable by sync().
//
// Terms and configuration entries are kept in memory, so term_at() and
// configuration_entries() never read the disk; open() builds them with one
// pass over the batch headers after the partition log's own recovery. A
// snapshot written and a crash before the log follows it are repaired at the
// next open: the log is made to continue the snapshot, or dropped.
//
// Threads: one owner (the driver) makes every call, with one exception that
// group commit needs: sync() may run on another thread while the owner reads
// through log_store, as long as no write (append, save_hard_state,
// install_snapshot, compact) overlaps it. sync() touches only the partition
// log's sync (thread-safe) and the snapshot index, which only writes change.

#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "raft/log_store.h"
#include "storage/file_system.h"
#include "storage/log_config.h"

namespace sluice::storage {
class partition_log;
}

namespace sluice::raft {

class storage_log final : public log_store {
 public:
  // Opens the Raft state in `directory`, creating it when there is none: a
  // new group starts from a snapshot at index 0 whose configuration is
  // `initial` (empty for a node that joins later as a learner).
  // The log's retention.ms and retention.bytes are turned off: they would
  // delete entries no snapshot covers. Only compact() releases the log.
  static base::result<std::unique_ptr<storage_log>> open(storage::file_system& fs,
                                                         std::string directory,
                                                         const configuration& initial,
                                                         storage::log_config config = {});
  ~storage_log() override;

  // --- log_store ---
  hard_state initial_hard_state() const override;
  std::vector<entry> configuration_entries() const override;
  snapshot_meta snapshot_metadata() const override;
  base::result<snapshot> load_snapshot() const override;
  index_t first_index() const override;
  index_t last_index() const override;
  std::optional<term_t> term_at(index_t index) const override;
  base::result<std::vector<entry>> read(index_t from, index_t last,
                                        size_t max_bytes) const override;

  // --- The host's writes ---
  // Durable on return.
  base::result<void> save_hard_state(const hard_state& state);
  // A snapshot from the leader: durable on return. Entries it covers go; if
  // the log does not hold the snapshot's last entry, the whole log goes.
  base::result<void> install_snapshot(const snapshot& snap);
  // Writes `entries` (contiguous), first cutting the log at
  // entries.front().index. Data entries must be record batches of `count`
  // records; the base offset and leader epoch are set here. Not durable
  // until sync().
  base::result<void> append(const std::vector<entry>& entries);
  // Makes everything appended durable; returns the last durable index.
  base::result<index_t> sync();
  // A snapshot this node took of its own state machine: saved durably, then
  // the log before snap.meta.index + 1 is released.
  base::result<void> compact(const snapshot& snap);

  // The partition log itself, for Kafka's reads. Do not keep the reference
  // across install_snapshot(): dropping the whole log replaces the object.
  storage::partition_log& partition();

 private:
  struct impl;
  explicit storage_log(std::unique_ptr<impl> impl);
  std::unique_ptr<impl> impl_;
};

}  // namespace sluice::raft
