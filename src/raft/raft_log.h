#pragma once

// raft_log: the core's view of its log, stitched from two parts.
//
//   [snapshot] [ entries the host wrote: log_store ] [ unstable entries ]
//                first_index() ...   unstable_start()-1  unstable_start() ... last_index()
//
// The store is authoritative below unstable_start(); the entries at and
// above it live in memory until the host reports them durable. The host may
// still hold older, superseded entries at or past unstable_start() (a
// follower's log cut by a new leader): they are ignored here and cut by the
// host when it writes the entries that replace them.
//
// It also keeps the three positions the node moves forward: what is
// durable, what is committed, what was handed out for applying.

#include <optional>
#include <vector>

#include "raft/log_store.h"
#include "raft/types.h"

namespace sluice::raft {

class raft_log {
 public:
  explicit raft_log(const log_store& store);

  const snapshot_meta& snapshot() const { return snapshot_; }
  index_t first_index() const { return snapshot_.index + 1; }
  index_t last_index() const;
  term_t last_term() const;
  index_t unstable_start() const { return unstable_start_; }

  std::optional<term_t> term_at(index_t index) const;
  bool matches(index_t index, term_t term) const;
  // Whether a candidate whose log ends at (last_index, last_term) has a log
  // at least as up to date as this one (Raft's election restriction).
  bool is_up_to_date(index_t last_index, term_t last_term) const;
  // The first index of the entry spanning `index`; last_index() + 1 past the
  // end. Entries span several indexes (record batches), and appends must
  // start at an entry boundary.
  std::optional<index_t> entry_start(index_t index) const;
  // The largest index at or below `at_most` whose term is at most `term`
  // (the snapshot's index when there is none). Terms never fall along a log,
  // so this is a binary search over term_at, which the stores answer from
  // memory: no entry is read.
  index_t last_index_with_term_at_most(index_t at_most, term_t term) const;
  // Whole entries from the one spanning `from` up to `last`, at most
  // `max_bytes` of data but at least one entry.
  base::result<std::vector<entry>> read(index_t from, index_t last, size_t max_bytes) const;

  // Leader: appends entries of the leader's own making at last_index() + 1.
  void append(entry e);
  // Follower: makes the log hold `entries`, which follow an entry that
  // matched the leader's and one another (the caller checked): entries it
  // holds already are skipped, the first conflicting one and everything after
  // it are replaced. Returns the index of the first entry that was cut, if
  // any, so the node can forget configurations there.
  std::optional<index_t> append_from_leader(std::vector<entry> entries);

  // Entries not yet handed to the host for writing.
  std::vector<entry> take_unsent();
  bool has_unsent() const { return unsent_from_ <= last_index(); }

  // Durability.
  index_t durable_index() const { return durable_; }
  // Entries through `index` (whose term is `term`) are durable; a stale
  // report (the entry was replaced meanwhile) is ignored. Returns whether
  // the durable index moved.
  bool mark_durable(index_t index, term_t term);

  index_t commit_index() const { return commit_; }
  void commit_to(index_t index);
  index_t applied_index() const { return applied_; }
  // Committed, durable entries not yet handed out for applying, up to
  // `max_bytes` (at least one); marks them handed out.
  std::vector<entry> take_committed(size_t max_bytes);
  bool has_committed() const;

  // A snapshot from the leader replaces the whole log.
  void restore(const snapshot_meta& meta);
  // The host compacted through meta.index.
  void compacted(const snapshot_meta& meta);

  size_t unstable_bytes() const;
  size_t unstable_count() const { return unstable_.size(); }

 private:
  // The unstable entry spanning `index`, nullptr when none.
  const entry* find_unstable(index_t index) const;
  void cut_unstable(index_t from);

  const log_store& store_;
  snapshot_meta snapshot_;
  index_t unstable_start_ = 1;
  // A vector, not a deque: an empty deque allocates, and thousands of idle
  // groups each hold one.
  std::vector<entry> unstable_;
  index_t unsent_from_ = 1;
  index_t durable_ = 0;
  index_t commit_ = 0;
  index_t applied_ = 0;
};

}  // namespace sluice::raft
