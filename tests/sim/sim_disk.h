#pragma once

// sim_disk: one node's disk in the simulator, in memory, with the failure
// modes of a real one.
//
// It is the node's raft::log_store (what the core reads back) and takes the
// host's writes with the API of raft::storage_log: hard state and snapshots
// are durable on return; append() is a write that survives a crash only once
// a later sync() covers it. The host decides when a sync completes (after a
// random latency) and then tells the node with on_persisted().
//
// Two logs are kept: the written one (what the core sees, unsynced writes
// included) and the durable one (what survives a crash). crash() models a
// power cut: pending writes reach the platter in order, so a random prefix of
// them survives, the last survivor possibly only in part, and sometimes its
// last entry is torn; recovery detects the torn entry (in the real log, a bad
// checksum) and drops it. The rest is lost.
//
// Snapshot installs and compactions are barriers: pending writes become
// durable first. Without that, dropping the durable prefix under a pending
// cut could leave, after a crash, a durable tail from a stale branch behind
// the snapshot.

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "raft/log_store.h"
#include "sim/random.h"

namespace sluice::sim {

using raft::index_t;
using raft::term_t;

// Entries after a snapshot point, contiguous, in index order.
class entry_log {
 public:
  index_t base_index() const { return base_index_; }
  term_t base_term() const { return base_term_; }
  index_t last_index() const {
    return entries_.empty() ? base_index_ : entries_.back().last_index();
  }
  bool empty() const { return entries_.empty(); }
  const std::deque<raft::entry>& entries() const { return entries_; }

  // The term of the entry spanning `index`; the base term at the base index.
  std::optional<term_t> term_at(index_t index) const;
  // The position of the entry spanning `index`, or entries().size().
  size_t find(index_t index) const;

  // Removes the entries at and after `index`. False when `index` is inside an
  // entry or past the end (the log would not stay contiguous); then nothing
  // changes.
  bool cut(index_t index);
  // Appends after the last entry; false (and no change) if not contiguous.
  bool append(const raft::entry& e);
  // Cuts at the first entry's index and appends all; false if that is not
  // possible (nothing changes then).
  bool write(const std::vector<raft::entry>& entries);
  // Forgets everything up to `index` (of term `term`). Keeps the entries after
  // it only if the log holds the entry ending at `index` with that term.
  void reset_base(index_t index, term_t term);

  // The configuration of the last configuration entry, if the log holds one.
  const raft::configuration* last_configuration() const {
    return configs_.empty() ? nullptr : &configs_.rbegin()->second;
  }

 private:
  void push(const raft::entry& e);

  index_t base_index_ = 0;
  term_t base_term_ = 0;
  std::deque<raft::entry> entries_;
  // The configuration entries among entries_, decoded, by index.
  std::map<index_t, raft::configuration> configs_;
};

// What a crash did to the disk, for the trace and statistics.
struct crash_report {
  size_t writes_pending = 0;
  size_t writes_kept = 0;  // the last one possibly in part
  size_t entries_lost = 0;
  bool torn = false;
};

class sim_disk final : public raft::log_store {
 public:
  // A fresh disk: an empty log after a snapshot at index 0 whose
  // configuration is `initial` (empty for a node that joins as a learner).
  explicit sim_disk(const raft::configuration& initial);

  // --- raft::log_store: the written view ---
  raft::hard_state initial_hard_state() const override { return hard_state_; }
  std::vector<raft::entry> configuration_entries() const override;
  raft::snapshot_meta snapshot_metadata() const override { return snapshot_.meta; }
  base::result<raft::snapshot> load_snapshot() const override { return snapshot_; }
  index_t first_index() const override { return written_.base_index() + 1; }
  index_t last_index() const override { return written_.last_index(); }
  std::optional<term_t> term_at(index_t index) const override { return written_.term_at(index); }
  base::result<std::vector<raft::entry>> read(index_t from, index_t last,
                                              size_t max_bytes) const override;

  // --- The host's writes ---
  void save_hard_state(const raft::hard_state& state) { hard_state_ = state; }
  // A snapshot from the leader, durable on return.
  void install_snapshot(const raft::snapshot& snap);
  // This node's own snapshot, durable on return; the log up to its index goes.
  void compact(const raft::snapshot& snap);
  // Cuts the log at entries.front().index and writes `entries`; not durable
  // until a sync covers it. Returns the write's sequence number, or nullopt
  // (and writes nothing) when the entries would not keep the log contiguous.
  std::optional<uint64_t> append(const std::vector<raft::entry>& entries);
  // The sequence number of the last write (0 before any).
  uint64_t last_write() const { return next_write_ - 1; }
  // Makes every write up to `write` durable.
  void sync(uint64_t write);
  size_t pending_writes() const { return pending_.size(); }

  // A power cut. Afterwards the written view equals the durable one: what a
  // restarted node finds.
  crash_report crash(prng& random, double torn_probability);

  // --- The durable state, for invariant checks ---
  const entry_log& durable_log() const { return durable_; }
  const raft::snapshot& durable_snapshot() const { return snapshot_; }
  // Whether the durable state holds the entry ending at or spanning `index`
  // with `term`, or a snapshot covering it.
  bool durably_holds(index_t index, term_t term) const;
  // The configuration in force at the end of the written log: its last
  // configuration entry's, else the snapshot's. The node's own view must
  // be the same.
  const raft::configuration& configuration_in_force() const {
    const raft::configuration* last = written_.last_configuration();
    return last != nullptr ? *last : snapshot_.meta.config;
  }

 private:
  struct pending_write {
    uint64_t sequence = 0;
    std::vector<raft::entry> entries;
  };

  // Makes every pending write durable (snapshot barrier).
  void flush();

  raft::hard_state hard_state_;
  raft::snapshot snapshot_;
  entry_log written_;
  entry_log durable_;
  std::deque<pending_write> pending_;
  uint64_t next_write_ = 1;
};

}  // namespace sluice::sim
