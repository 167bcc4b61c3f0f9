#pragma once

// node: one member of one Raft group, as a pure state machine.
//
// Inputs are method calls: a message received (step), a tick of logical time
// (tick), a client proposal (propose), a linearizable read (read_index), an
// administrative request (transfer_leadership, change_configuration), and a
// storage completion (on_persisted, on_snapshot). Outputs accumulate in a
// `ready` that the host takes and carries out. There is no clock, socket,
// thread, disk or randomness inside: time arrives as ticks and randomness from
// the injected generator, so the same inputs always give the same outputs.
// The simulator (tests/sim) and the real host (driver.h) run this same code.
//
// The host's contract for each ready, in this order:
//   1. If `snapshot` is set: install it (replace the log up to its index and
//      the state machine) durably.
//   2. If `hard_state` is set: make it durable.
//   3. Send `messages` (they may depend on 1 and 2: a vote is granted only
//      once it is on disk).
//   4. Write `entries`, first cutting the log at entries.front().index. The
//      write may complete later; once entries up to index i (of term t) are
//      durable, call on_persisted(i, t). Writes complete in the order the
//      readies were taken, so one fsync may cover many readies (group
//      commit). A node counts its own entries towards a commit, and a
//      follower acknowledges them, only after on_persisted.
//   5. Apply `committed` to the state machine in order; answer `reads` once
//      the applied index reaches each read's index.
// A node restarted from what the host made durable never breaks safety.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "base/result.h"
#include "raft/log_store.h"
#include "raft/messages.h"
#include "raft/types.h"

namespace sluice::raft {

struct node_options {
  node_id id = no_node;
  group_id group = 0;
  // A follower that hears nothing from a leader for a randomised timeout in
  // [election_ticks, 2 * election_ticks) starts an election.
  int election_ticks = 10;
  int heartbeat_ticks = 1;
  // Flow control per follower: at most this many append requests in flight,
  // each with at most this many bytes of entry data (always at least one
  // entry).
  size_t max_inflight_appends = 32;
  size_t max_append_bytes = 1 << 20;
  // Proposals are refused while this many bytes are appended but not
  // committed (back-pressure on a leader whose followers fall behind).
  size_t max_uncommitted_bytes = 64 << 20;
  bool pre_vote = true;
  // A leader that has not heard from a majority within an election timeout
  // steps down, and voters ignore candidates while they hear from a leader.
  bool check_quorum = true;
};

enum class role : uint8_t { follower, pre_candidate, candidate, leader };
const char* role_name(role r);

// A linearizable read (read-index): serve it from the state machine once the
// applied index reaches `index`. `index` is -1 when the read failed (this node
// is not, or stopped being, the leader): the client retries elsewhere.
struct read_state {
  uint64_t request = 0;
  index_t index = -1;
};

struct ready {
  std::optional<snapshot> snapshot_to_install;
  std::optional<hard_state> hard_state_to_save;
  std::vector<message> messages;
  std::vector<entry> entries;
  std::vector<entry> committed;
  std::vector<read_state> reads;

  bool empty() const {
    return !snapshot_to_install && !hard_state_to_save && messages.empty() && entries.empty() &&
           committed.empty() && reads.empty();
  }
};

enum class refusal : uint8_t {
  not_leader,            // see leader() for where to go
  transfer_in_progress,  // leadership is moving; retry on the new leader
  change_in_progress,    // one configuration change at a time
  leader_not_ready,      // no entry of this term committed yet
  too_much_uncommitted,  // back-pressure
  learner_behind,        // promote a learner only once it has caught up
  entry_too_large,       // larger than node_options::max_append_bytes
  invalid_request,       // e.g. removing the last voter, an unknown node
};
const char* refusal_name(refusal r);

struct config_change {
  enum class kind : uint8_t { add_learner, promote_learner, remove_node };
  kind what = kind::add_learner;
  node_id node = no_node;
};

// Uniform random numbers, injected: the simulator seeds it, the broker uses
// a real generator.
using random_function = std::function<uint64_t()>;

class node {
 public:
  // Starts as a follower from what `store` holds. `store` must outlive the
  // node.
  node(node_options options, const log_store& store, random_function random);
  ~node();
  node(const node&) = delete;
  node& operator=(const node&) = delete;

  // --- Inputs ---
  void tick();
  void step(message m);
  // Appends an entry spanning `count` indexes. Returns its index; it is
  // committed when it appears in a ready's `committed`. An entry that never
  // appears there was lost with a change of leader: the client retries.
  base::result<index_t, refusal> propose(base::shared_bytes data, int32_t count = 1);
  // Starts a read-index round; the answer arrives in a ready's `reads`.
  base::result<void, refusal> read_index(uint64_t request);
  base::result<void, refusal> transfer_leadership(node_id target);
  // One server at a time (Ongaro, section 4.1): the new configuration takes
  // effect as soon as it is appended, and no second change starts before it
  // is committed. Returns the configuration entry's index.
  base::result<index_t, refusal> change_configuration(config_change change);
  // Starts an election now (tests, bootstrap of a one-node group).
  void campaign();
  // Entries up to `index` (and the entry there has term `term`) are durable.
  void on_persisted(index_t index, term_t term);
  // The host took a snapshot through meta.index (at most the applied index)
  // and dropped the log before it.
  void on_snapshot(const snapshot_meta& meta);

  // --- Outputs ---
  bool has_ready() const;
  ready take_ready();

  // --- State, for the host and for checks ---
  node_id id() const;
  group_id group() const;
  role current_role() const;
  term_t term() const;
  node_id leader() const;
  index_t commit_index() const;
  index_t applied_index() const;  // the last index handed out in `committed`
  index_t last_index() const;
  index_t durable_index() const;
  const configuration& config() const;
  // The entry spanning `index` (from the unstable tail or the store).
  std::optional<term_t> term_at(index_t index) const;
  // Bytes of memory the node holds while idle (for the multi-raft report).
  size_t memory_footprint() const;

 private:
  class state;
  std::unique_ptr<state> state_;
};

}  // namespace sluice::raft
