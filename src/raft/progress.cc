#include "raft/progress.h"

#include <algorithm>

namespace sluice::raft {

bool progress::can_send() const {
  switch (mode_) {
    case mode::probe:
      return !probe_sent_;
    case mode::replicate:
      return inflight_.size() < max_inflight_;
    case mode::snapshot:
      return false;
  }
  return false;
}

void progress::sent(index_t last, bool had_entries) {
  if (mode_ == mode::probe) {
    probe_sent_ = true;
  } else if (mode_ == mode::replicate && had_entries) {
    next_ = last + 1;
    inflight_.push_back(last);
  }
}

bool progress::acknowledged(index_t match) {
  inflight_.erase(inflight_.begin(), std::upper_bound(inflight_.begin(), inflight_.end(), match));
  probe_sent_ = false;
  if (match <= match_) return false;
  match_ = match;
  stalled_ticks = 0;
  next_ = std::max(next_, match + 1);
  if (mode_ == mode::probe) {
    mode_ = mode::replicate;
    next_ = match + 1;
    inflight_.clear();
  } else if (mode_ == mode::snapshot && match >= pending_snapshot_) {
    become_probe();
  }
  return true;
}

bool progress::rejected(index_t rejected, index_t restart) {
  // A rejection at or below what the follower acknowledged is old news (a
  // delayed or duplicated answer): a follower never loses entries it has
  // acknowledged, so acting on it would only walk back and forth.
  if (rejected <= match_) return false;
  if (mode_ != mode::replicate && rejected != next_ - 1) return false;
  become_probe();
  next_ = std::max(restart, match_ + 1);
  return true;
}

void progress::heartbeat_answered(index_t follower_last_index) {
  if (mode_ == mode::probe) probe_sent_ = false;
  if (mode_ == mode::replicate && inflight_.size() >= max_inflight_ &&
      follower_last_index < next_ - 1) {
    become_probe();
    next_ = std::max(follower_last_index + 1, match_ + 1);
  }
}

void progress::become_probe() {
  mode_ = mode::probe;
  probe_sent_ = false;
  inflight_.clear();
  // After a snapshot that arrived, match is past it; after one that was
  // lost, probing finds the entries compacted and sends another.
  next_ = std::max(next_, match_ + 1);
  pending_snapshot_ = 0;
  snapshot_ticks = 0;
  stalled_ticks = 0;
}

void progress::become_snapshot(index_t snapshot_index) {
  mode_ = mode::snapshot;
  pending_snapshot_ = snapshot_index;
  inflight_.clear();
  snapshot_ticks = 0;
}

}  // namespace sluice::raft
