#pragma once

// invariants: Raft's safety properties, checked as the simulation runs.
//
// The cluster reports what the hosts see (roles and terms, hard states
// saved, entries written, entries applied, snapshots installed, crashes);
// this class keeps the global history each property needs and records the
// first violation, readable, with the step it happened at:
//
// - election safety: at most one leader per term, ever;
// - vote safety: a node's durable term never falls, and its vote in a term
//   never changes once cast;
// - log matching: every entry (index, term) ever written anywhere has one
//   content and follows the same (index - 1, term). By induction two logs
//   that share an entry then share everything before it, and each write is
//   checked once, where it happens, instead of comparing whole logs;
// - state machine safety: no two nodes apply different entries at an index;
// - leader completeness: an entry committed in term t is in the log of every
//   leader of a later term. The term an entry was committed in is not
//   observable, but it is at most the applying node's term at the moment it
//   applies, so leaders of terms above that bound are checked: when they
//   are elected, and for entries first applied while they lead;
// - durability: after a crash, the highest committed entry is still on the
//   disk (log or snapshot) of a majority of the committed configuration or of
//   the newest configuration written.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "raft/node.h"
#include "sim/sim_disk.h"

namespace sluice::sim {

// "voters {1,2,3} learners {4}", for reports.
std::string describe(const raft::configuration& config);

class invariants {
 public:
  explicit invariants(raft::configuration initial);

  bool failed() const { return !violation_.empty(); }
  const std::string& violation() const { return violation_; }
  uint64_t violation_step() const { return violation_step_; }
  // The step the next observations belong to.
  void set_step(uint64_t step) { step_ = step; }
  // Records a violation found elsewhere (the host's contract checks); only
  // the first one is kept.
  void fail(std::string what);

  // --- Observations ---
  void on_role(raft::node_id node, raft::role role, term_t term);
  void on_hard_state(raft::node_id node, const raft::hard_state& before,
                     const raft::hard_state& after);
  // `prev_term` is the term at entries.front().index - 1 in the node's log
  // before the write.
  void on_write(raft::node_id node, term_t prev_term, const std::vector<raft::entry>& entries);
  // `node_term` is the applying node's term now.
  void on_apply(raft::node_id node, const raft::entry& e, term_t node_term);
  void on_snapshot_install(raft::node_id node, const raft::snapshot_meta& meta);

  // --- Checks over several nodes ---
  struct leader_view {
    raft::node_id id = raft::no_node;
    term_t term = 0;
    index_t snapshot_index = 0;  // the leader's log starts after it
    std::function<std::optional<term_t>(index_t)> term_at;
  };
  // Leader completeness for the current leaders: in full for those not seen
  // leading their term before, for the newly committed entries otherwise.
  void check_leaders(const std::vector<leader_view>& leaders);
  // Durability, after a crash. `disk_of` gives a node's disk (null if none).
  void check_durability(const std::function<const sim_disk*(raft::node_id)>& disk_of);

  // --- For reports and tests ---
  index_t highest_committed() const {
    return committed_.empty() ? 0 : committed_.rbegin()->second.last_index;
  }
  size_t leaders_elected() const { return leaders_.size(); }
  const raft::configuration& committed_config() const { return committed_config_; }

 private:
  struct written_entry {
    int32_t count = 0;
    raft::entry_type type = raft::entry_type::data;
    uint64_t data_hash = 0;
    term_t prev_term = 0;
    raft::node_id first_writer = raft::no_node;
  };
  struct committed_entry {
    term_t term = 0;
    index_t last_index = 0;
    raft::entry_type type = raft::entry_type::data;
    uint64_t data_hash = 0;
    // At least the term the entry was committed in (see above).
    term_t commit_term_bound = 0;
    raft::node_id first_applier = raft::no_node;
  };
  struct entry_key {
    index_t index;
    term_t term;
    friend bool operator==(const entry_key&, const entry_key&) = default;
  };
  struct entry_key_hash {
    size_t operator()(const entry_key& k) const;
  };

  bool check_leader_has(const leader_view& leader, index_t index, const committed_entry& c);

  std::string violation_;
  uint64_t violation_step_ = 0;
  uint64_t step_ = 0;

  std::map<term_t, raft::node_id> leaders_;
  // Leaders already checked in full, by node: the term they were checked at.
  std::map<raft::node_id, term_t> checked_leaders_;
  std::unordered_map<entry_key, written_entry, entry_key_hash> written_;
  std::map<index_t, committed_entry> committed_;
  // Entries first committed (or given a lower bound) since check_leaders.
  std::vector<index_t> fresh_;

  raft::configuration committed_config_;
  index_t committed_config_index_ = 0;
  raft::configuration newest_config_;
  index_t newest_config_index_ = 0;
};

}  // namespace sluice::sim
