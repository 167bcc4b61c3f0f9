#include "sim/invariants.h"

#include <sstream>

#include "sim/random.h"

namespace sluice::sim {

namespace {

const char* type_name(raft::entry_type t) {
  switch (t) {
    case raft::entry_type::data:
      return "data";
    case raft::entry_type::leader_change:
      return "leader_change";
    case raft::entry_type::configuration:
      return "configuration";
  }
  return "?";
}

}  // namespace

std::string describe(const raft::configuration& c) {
  std::ostringstream out;
  out << "voters {";
  for (size_t i = 0; i < c.voters.size(); ++i) out << (i ? "," : "") << c.voters[i];
  out << "} learners {";
  for (size_t i = 0; i < c.learners.size(); ++i) out << (i ? "," : "") << c.learners[i];
  out << "}";
  return out.str();
}

size_t invariants::entry_key_hash::operator()(const entry_key& k) const {
  return static_cast<size_t>(
      hash_mix(static_cast<uint64_t>(k.index), static_cast<uint64_t>(k.term)));
}

invariants::invariants(raft::configuration initial)
    : committed_config_(initial), newest_config_(std::move(initial)) {}

void invariants::fail(std::string what) {
  if (!violation_.empty()) return;
  violation_ = std::move(what);
  violation_step_ = step_;
}

void invariants::on_role(raft::node_id node, raft::role role, term_t term) {
  if (role != raft::role::leader) return;
  auto [it, inserted] = leaders_.emplace(term, node);
  if (!inserted && it->second != node) {
    fail("election safety: nodes " + std::to_string(it->second) + " and " + std::to_string(node) +
         " are both leaders of term " + std::to_string(term));
  }
}

void invariants::on_hard_state(raft::node_id node, const raft::hard_state& before,
                               const raft::hard_state& after) {
  if (after.term < before.term) {
    fail("vote safety: node " + std::to_string(node) + " saved term " + std::to_string(after.term) +
         " after term " + std::to_string(before.term));
  } else if (after.term == before.term && before.voted_for != raft::no_node &&
             after.voted_for != before.voted_for) {
    fail("vote safety: node " + std::to_string(node) + " changed its vote in term " +
         std::to_string(after.term) + " from " + std::to_string(before.voted_for) + " to " +
         std::to_string(after.voted_for));
  }
}

void invariants::on_write(raft::node_id node, term_t prev_term,
                          const std::vector<raft::entry>& entries) {
  term_t prev = prev_term;
  for (const raft::entry& e : entries) {
    written_entry w{e.count, e.type, hash_bytes(e.data.span()), prev, node};
    auto [it, inserted] = written_.emplace(entry_key{e.index, e.term}, w);
    if (!inserted) {
      const written_entry& old = it->second;
      if (old.count != w.count || old.type != w.type || old.data_hash != w.data_hash) {
        fail("log matching: node " + std::to_string(node) + " wrote entry (index " +
             std::to_string(e.index) + ", term " + std::to_string(e.term) + ") as " +
             type_name(e.type) + " x" + std::to_string(e.count) + ", but node " +
             std::to_string(old.first_writer) + " wrote it as " + type_name(old.type) + " x" +
             std::to_string(old.count) + " with other data");
      } else if (old.prev_term != w.prev_term) {
        fail("log matching: node " + std::to_string(node) + " wrote entry (index " +
             std::to_string(e.index) + ", term " + std::to_string(e.term) +
             ") after an entry of term " + std::to_string(prev) + ", but node " +
             std::to_string(old.first_writer) + " has it after term " +
             std::to_string(old.prev_term));
      }
    }
    if (e.type == raft::entry_type::configuration && e.index >= newest_config_index_) {
      raft::configuration c;
      if (raft::decode_configuration(e.data.span(), c)) {
        newest_config_ = std::move(c);
        newest_config_index_ = e.index;
      }
    }
    prev = e.term;
  }
}

void invariants::on_apply(raft::node_id node, const raft::entry& e, term_t node_term) {
  committed_entry c{e.term, e.last_index(), e.type, hash_bytes(e.data.span()), node_term, node};
  auto [it, inserted] = committed_.emplace(e.index, c);
  if (inserted) {
    fresh_.push_back(e.index);
    // Entries are applied in order, so a neighbour overlapping this one
    // means two nodes applied entries of different spans.
    auto next = std::next(it);
    if (next != committed_.end() && next->first <= c.last_index) {
      fail("state machine safety: node " + std::to_string(node) + " applied entry " +
           std::to_string(e.index) + ".." + std::to_string(c.last_index) + " overlapping entry " +
           std::to_string(next->first) + " applied by node " +
           std::to_string(next->second.first_applier));
    }
    if (it != committed_.begin()) {
      auto prev = std::prev(it);
      if (prev->second.last_index >= e.index) {
        fail("state machine safety: node " + std::to_string(node) + " applied entry " +
             std::to_string(e.index) + " inside entry " + std::to_string(prev->first) + ".." +
             std::to_string(prev->second.last_index) + " applied by node " +
             std::to_string(prev->second.first_applier));
      }
    }
  } else {
    committed_entry& old = it->second;
    if (old.term != c.term || old.last_index != c.last_index || old.type != c.type ||
        old.data_hash != c.data_hash) {
      fail("state machine safety: node " + std::to_string(node) + " applied (index " +
           std::to_string(e.index) + ", term " + std::to_string(e.term) + ", " + type_name(e.type) +
           ") but node " + std::to_string(old.first_applier) + " applied (term " +
           std::to_string(old.term) + ", " + type_name(old.type) + ") there");
    }
    if (node_term < old.commit_term_bound) {
      old.commit_term_bound = node_term;
      fresh_.push_back(e.index);
    }
  }
  if (e.type == raft::entry_type::configuration && e.index > committed_config_index_) {
    raft::configuration config;
    if (raft::decode_configuration(e.data.span(), config)) {
      committed_config_ = std::move(config);
      committed_config_index_ = e.index;
    }
  }
}

void invariants::on_snapshot_install(raft::node_id node, const raft::snapshot_meta& meta) {
  if (meta.index == 0) return;
  auto it = committed_.upper_bound(meta.index);
  if (it == committed_.begin()) return;
  --it;
  if (it->second.last_index < meta.index) {
    // Past everything known committed: nothing to compare yet, unless the
    // snapshot claims an index no node has applied.
    if (meta.index > highest_committed()) {
      fail("snapshot: node " + std::to_string(node) + " installed a snapshot at " +
           std::to_string(meta.index) + ", past anything applied (" +
           std::to_string(highest_committed()) + ")");
    }
    return;
  }
  if (it->second.last_index != meta.index || it->second.term != meta.term) {
    fail("snapshot: node " + std::to_string(node) + " installed a snapshot at (index " +
         std::to_string(meta.index) + ", term " + std::to_string(meta.term) +
         ") but the committed entry there is (" + std::to_string(it->first) + ".." +
         std::to_string(it->second.last_index) + ", term " + std::to_string(it->second.term) + ")");
  }
}

bool invariants::check_leader_has(const leader_view& leader, index_t index,
                                  const committed_entry& c) {
  if (c.last_index <= leader.snapshot_index || c.commit_term_bound >= leader.term) return true;
  std::optional<term_t> t = leader.term_at(index);
  if (t == c.term) return true;
  fail("leader completeness: node " + std::to_string(leader.id) + ", leader of term " +
       std::to_string(leader.term) + ", lacks entry (index " + std::to_string(index) + ", term " +
       std::to_string(c.term) + ") committed by term " + std::to_string(c.commit_term_bound) +
       " at the latest; its log has " + (t ? "term " + std::to_string(*t) : "nothing") + " there");
  return false;
}

void invariants::check_leaders(const std::vector<leader_view>& leaders) {
  for (const leader_view& leader : leaders) {
    auto [it, inserted] = checked_leaders_.emplace(leader.id, leader.term);
    bool full = inserted || it->second != leader.term;
    it->second = leader.term;
    if (full) {
      for (auto c = committed_.upper_bound(leader.snapshot_index); c != committed_.end(); ++c) {
        if (!check_leader_has(leader, c->first, c->second)) return;
      }
      // Entries spanning the snapshot index are covered by the snapshot.
    } else {
      for (index_t index : fresh_) {
        if (!check_leader_has(leader, index, committed_.at(index))) return;
      }
    }
  }
  fresh_.clear();
}

void invariants::check_durability(const std::function<const sim_disk*(raft::node_id)>& disk_of) {
  if (committed_.empty()) return;
  const auto& [index, c] = *committed_.rbegin();
  std::string counts;
  for (const raft::configuration* config : {&committed_config_, &newest_config_}) {
    if (config == &newest_config_ && newest_config_ == committed_config_) break;
    size_t holders = 0;
    for (raft::node_id voter : config->voters) {
      const sim_disk* disk = disk_of(voter);
      if (disk != nullptr && disk->durably_holds(c.last_index, c.term)) ++holders;
    }
    if (holders >= config->quorum()) return;
    counts += " " + std::to_string(holders) + " of " + describe(*config) + ";";
  }
  fail("durability: committed entry (index " + std::to_string(index) + ", term " +
       std::to_string(c.term) + ") is on the disk of too few voters:" + counts);
}

}  // namespace sluice::sim
