#pragma once

// The messages Raft nodes exchange. Every message carries the sender's term;
// a node that sees a higher term than its own steps down to follower first.
//
// Messages are plain values: the core produces and consumes them, the
// transport (codec.h) turns them into bytes, and the simulator delivers them
// as they are.

#include <variant>
#include <vector>

#include "raft/types.h"

namespace sluice::raft {

// RequestVote, and the pre-vote round before it (the candidate asks whether
// it could win, without raising its term, so that a node cut off from the
// cluster cannot force elections on its return).
struct vote_request {
  term_t term = 0;  // for a pre-vote, the term the candidate would take
  index_t last_index = 0;
  term_t last_term = 0;
  bool pre_vote = false;
  // Sent by the target of a leadership transfer: voters grant it even while
  // they still hear from the old leader.
  bool transfer = false;
};

struct vote_response {
  term_t term = 0;
  bool granted = false;
  bool pre_vote = false;
};

// AppendEntries. Entries follow the entry at prev_index (of prev_term).
struct append_request {
  term_t term = 0;
  index_t prev_index = 0;
  term_t prev_term = 0;
  index_t commit = 0;
  std::vector<entry> entries;
};

// A follower's answer. On success `match` is the last index it holds, agrees
// with the leader on, and has made durable: the leader counts a follower
// towards a commit only for entries it has on disk. The follower sends a new
// response when its disk catches up. On failure `hint` is the last index at
// or below the request's prev_index whose term is at most prev_term, and
// `hint_term` the follower's term there: the logs cannot agree after it, and
// the leader skips back to its own last entry of a term no newer than
// hint_term, so a divergent log is repaired a term at a time rather than an
// entry at a time.
struct append_response {
  term_t term = 0;
  bool success = false;
  index_t match = 0;
  index_t hint = 0;
  // Echoes append_request::prev_index for rejections, so the leader can tell
  // a stale rejection from a current one.
  index_t rejected = 0;
  term_t hint_term = 0;
};

// Heartbeats carry the commit index (capped at what the follower is known to
// hold) and a sequence number that read-index rounds and check-quorum count.
struct heartbeat_request {
  term_t term = 0;
  index_t commit = 0;
  uint64_t sequence = 0;
};

struct heartbeat_response {
  term_t term = 0;
  uint64_t sequence = 0;
  // The follower's last index, so a leader learns of a follower that lost
  // entries (a restart with an unsynced tail) without waiting for an append.
  index_t last_index = 0;
  // What an append_response would acknowledge now (durable and agreeing
  // with this leader): repeated every heartbeat, so a lost acknowledgement
  // cannot leave the leader waiting on a full window forever.
  index_t match = 0;
};

// Sent to a follower whose next entry the leader has already compacted away.
// The snapshot travels whole; snapshots of a partition's state are small
// (the data is in the log segments that follow).
struct install_snapshot_request {
  term_t term = 0;
  snapshot snap;
};

struct install_snapshot_response {
  term_t term = 0;
  index_t index = 0;  // the snapshot's index once installed, 0 if refused
};

// Leadership transfer: the leader tells a caught-up target to start an
// election now.
struct timeout_now_request {
  term_t term = 0;
};

using message_body = std::variant<vote_request, vote_response, append_request, append_response,
                                  heartbeat_request, heartbeat_response, install_snapshot_request,
                                  install_snapshot_response, timeout_now_request>;

struct message {
  group_id group = 0;
  node_id from = no_node;
  node_id to = no_node;
  message_body body;
};

// The term a message carries.
term_t message_term(const message_body& body);

}  // namespace sluice::raft
