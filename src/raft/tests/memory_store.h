#pragma once

// memory_store: a log_store in memory whose writes are durable at once, and
// a tiny harness that delivers every message, for the node's unit tests.
// (The simulator in tests/sim models disks and networks that fail.)

#include <map>
#include <random>
#include <vector>

#include "raft/log_store.h"
#include "raft/node.h"

namespace sluice::raft::testing {

class memory_store final : public log_store {
 public:
  explicit memory_store(configuration initial = {}) { snap_.meta.config = std::move(initial); }

  hard_state initial_hard_state() const override { return hard_; }
  std::vector<entry> configuration_entries() const override {
    std::vector<entry> out;
    for (const entry& e : entries_)
      if (e.type == entry_type::configuration) out.push_back(e);
    return out;
  }
  snapshot_meta snapshot_metadata() const override { return snap_.meta; }
  base::result<snapshot> load_snapshot() const override { return snap_; }
  index_t first_index() const override { return snap_.meta.index + 1; }
  index_t last_index() const override {
    return entries_.empty() ? snap_.meta.index : entries_.back().last_index();
  }
  std::optional<term_t> term_at(index_t index) const override {
    if (index == snap_.meta.index) return snap_.meta.term;
    for (const entry& e : entries_)
      if (e.index <= index && index <= e.last_index()) return e.term;
    return std::nullopt;
  }
  base::result<std::vector<entry>> read(index_t from, index_t last,
                                        size_t max_bytes) const override {
    std::vector<entry> out;
    size_t bytes = 0;
    for (const entry& e : entries_) {
      if (e.last_index() < from || e.index > last) continue;
      if (!out.empty() && bytes + e.data.size() > max_bytes) break;
      bytes += e.data.size();
      out.push_back(e);
    }
    return out;
  }

  // The host's side.
  void save(const ready& r) {
    if (r.snapshot_to_install) {
      snap_ = *r.snapshot_to_install;
      entries_.clear();
    }
    if (r.hard_state_to_save) hard_ = *r.hard_state_to_save;
    if (!r.entries.empty()) {
      index_t from = r.entries.front().index;
      std::erase_if(entries_, [&](const entry& e) { return e.index >= from; });
      entries_.insert(entries_.end(), r.entries.begin(), r.entries.end());
    }
  }
  void compact(const snapshot_meta& meta) {
    snap_.meta = meta;
    std::erase_if(entries_, [&](const entry& e) { return e.last_index() <= meta.index; });
  }
  const std::vector<entry>& entries() const { return entries_; }

 private:
  hard_state hard_;
  snapshot snap_;
  std::vector<entry> entries_;
};

// Nodes that share a perfect network, with links that can be cut.
class harness {
 public:
  harness(std::vector<node_id> voters, uint64_t seed = 1) : random_(seed) {
    for (node_id id : voters) add(id, configuration{voters, {}});
  }

  void add(node_id id, configuration initial) {
    stores_[id] = std::make_unique<memory_store>(std::move(initial));
    start(id);
  }
  void start(node_id id) {
    node_options options;
    options.id = id;
    nodes_[id] = std::make_unique<node>(options, *stores_[id], [this] { return random_(); });
  }
  void crash(node_id id) { nodes_.erase(id); }

  node& at(node_id id) { return *nodes_.at(id); }
  memory_store& store(node_id id) { return *stores_.at(id); }
  void cut(node_id a, node_id b) { cut_[{a, b}] = cut_[{b, a}] = true; }
  void isolate(node_id a) {
    for (auto& [id, n] : nodes_) cut(a, id);
  }
  void heal() { cut_.clear(); }

  // Takes every ready, persists it (durable at once), delivers the messages,
  // until nothing moves (bounded).
  void settle(int max_rounds = 1000) {
    for (int round = 0; round < max_rounds; ++round) {
      bool moved = false;
      std::vector<message> in_flight;
      for (auto& [id, n] : nodes_) {
        if (!n->has_ready()) continue;
        moved = true;
        ready r = n->take_ready();
        stores_[id]->save(r);
        for (message& m : r.messages) in_flight.push_back(std::move(m));
        if (!r.entries.empty())
          n->on_persisted(r.entries.back().last_index(), r.entries.back().term);
        for (entry& e : r.committed) applied_[id].push_back(e);
        for (read_state& read : r.reads) reads_[id].push_back(read);
      }
      for (message& m : in_flight) {
        if (cut_[{m.from, m.to}] || !nodes_.contains(m.to)) continue;
        if (auto* r = std::get_if<append_response>(&m.body); r && !r->success) ++rejections_;
        nodes_[m.to]->step(std::move(m));
      }
      if (!moved && in_flight.empty()) return;
    }
  }
  void tick(int n = 1) {
    for (int i = 0; i < n; ++i) {
      for (auto& [id, node] : nodes_) node->tick();
      settle();
    }
  }
  // Ticks until some node leads (bounded); returns it or no_node.
  node_id elect(int max_ticks = 200) {
    for (int i = 0; i < max_ticks; ++i) {
      for (auto& [id, n] : nodes_)
        if (n->current_role() == role::leader && !isolated(id)) return id;
      tick();
    }
    return no_node;
  }
  bool isolated(node_id id) {
    for (auto& [other, n] : nodes_)
      if (other != id && !cut_[{id, other}]) return false;
    return nodes_.size() > 1;
  }
  const std::vector<entry>& applied(node_id id) { return applied_[id]; }
  const std::vector<read_state>& reads(node_id id) { return reads_[id]; }
  // Append rejections delivered so far.
  int rejections() const { return rejections_; }

 private:
  std::mt19937_64 random_;
  std::map<node_id, std::unique_ptr<memory_store>> stores_;
  std::map<node_id, std::unique_ptr<node>> nodes_;
  std::map<std::pair<node_id, node_id>, bool> cut_;
  std::map<node_id, std::vector<entry>> applied_;
  std::map<node_id, std::vector<read_state>> reads_;
  int rejections_ = 0;
};

}  // namespace sluice::raft::testing
