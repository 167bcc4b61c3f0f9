#pragma once

// progress: what a leader knows of one follower's log, and how it feeds it.
//
// A follower is in one of three modes:
//   probe      the leader does not know where the logs agree; it sends one
//              append at a time and walks back on each rejection.
//   replicate  the logs agree up to `match`; the leader streams appends
//              without waiting, up to a window of in-flight requests (flow
//              control), and moves `next` optimistically.
//   snapshot   the follower needs entries the leader compacted away; one
//              snapshot is on its way.

#include <cstdint>
#include <vector>

#include "raft/types.h"

namespace sluice::raft {

class progress {
 public:
  enum class mode : uint8_t { probe, replicate, snapshot };

  progress(index_t next, size_t max_inflight) : next_(next), max_inflight_(max_inflight) {}

  mode state() const { return mode_; }
  index_t match() const { return match_; }
  index_t next() const { return next_; }

  // Whether the leader may send an append now.
  bool can_send() const;
  // An append ending at `last` (or, with no entries, a probe) went out.
  void sent(index_t last, bool had_entries);

  // The follower holds the leader's entries through `match`, durably.
  // Returns whether match moved.
  bool acknowledged(index_t match);
  // The follower rejected an append after `rejected`; `restart` is where to
  // probe next. Returns false for a stale rejection (ignored).
  bool rejected(index_t rejected, index_t restart);
  // A heartbeat answered: a waiting probe may be sent again; a full window
  // whose follower lost its tail (a restart) falls back to probing.
  void heartbeat_answered(index_t follower_last_index);

  void become_probe();
  void become_snapshot(index_t snapshot_index);
  index_t pending_snapshot() const { return pending_snapshot_; }

  // Check-quorum: heard from since the last check.
  bool recently_active = false;
  // Read-index: the highest heartbeat sequence it answered.
  uint64_t acked_sequence = 0;
  // Ticks spent waiting in snapshot mode (a lost snapshot is resent).
  int snapshot_ticks = 0;
  // Ticks spent with a full window and no acknowledgement: appends lost on
  // the way (or to a follower that restarted) are never answered, so after
  // an election timeout the leader starts probing again.
  int stalled_ticks = 0;

 private:
  mode mode_ = mode::probe;
  index_t match_ = 0;
  index_t next_ = 1;
  bool probe_sent_ = false;
  index_t pending_snapshot_ = 0;
  size_t max_inflight_;
  // The last index of each append in flight, oldest first.
  std::vector<index_t> inflight_;
};

}  // namespace sluice::raft
