#include "sim/sim_disk.h"

#include <algorithm>

namespace sluice::sim {

std::optional<term_t> entry_log::term_at(index_t index) const {
  if (index == base_index_) return base_term_;
  if (index < base_index_ || index > last_index()) return std::nullopt;
  return entries_[find(index)].term;
}

size_t entry_log::find(index_t index) const {
  auto it = std::partition_point(entries_.begin(), entries_.end(),
                                 [&](const raft::entry& e) { return e.last_index() < index; });
  if (it == entries_.end() || it->index > index) return entries_.size();
  return static_cast<size_t>(it - entries_.begin());
}

bool entry_log::cut(index_t index) {
  if (index <= base_index_ || index > last_index() + 1) return false;
  if (index == last_index() + 1) return true;
  size_t pos = find(index);
  if (pos == entries_.size() || entries_[pos].index != index) return false;
  entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(pos), entries_.end());
  configs_.erase(configs_.lower_bound(index), configs_.end());
  return true;
}

bool entry_log::append(const raft::entry& e) {
  if (e.count < 1 || e.index != last_index() + 1) return false;
  push(e);
  return true;
}

void entry_log::push(const raft::entry& e) {
  entries_.push_back(e);
  raft::configuration config;
  if (e.type == raft::entry_type::configuration &&
      raft::decode_configuration(e.data.span(), config)) {
    configs_.emplace(e.index, std::move(config));
  }
}

bool entry_log::write(const std::vector<raft::entry>& entries) {
  if (entries.empty()) return true;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].count < 1) return false;
    if (i > 0 && entries[i].index != entries[i - 1].last_index() + 1) return false;
  }
  index_t first = entries.front().index;
  if (first <= base_index_ || first > last_index() + 1) return false;
  if (first <= last_index() && entries_[find(first)].index != first) return false;
  cut(first);
  for (const raft::entry& e : entries) push(e);
  return true;
}

void entry_log::reset_base(index_t index, term_t term) {
  bool holds = term_at(index) == term &&
               (index == base_index_ || entries_[find(index)].last_index() == index);
  if (!holds || index < base_index_) {
    entries_.clear();
    configs_.clear();
  } else {
    while (!entries_.empty() && entries_.front().last_index() <= index) entries_.pop_front();
    configs_.erase(configs_.begin(), configs_.upper_bound(index));
  }
  base_index_ = index;
  base_term_ = term;
}

sim_disk::sim_disk(const raft::configuration& initial) { snapshot_.meta.config = initial; }

std::vector<raft::entry> sim_disk::configuration_entries() const {
  std::vector<raft::entry> out;
  for (const raft::entry& e : written_.entries()) {
    if (e.type == raft::entry_type::configuration) out.push_back(e);
  }
  return out;
}

base::result<std::vector<raft::entry>> sim_disk::read(index_t from, index_t last,
                                                      size_t max_bytes) const {
  if (from <= written_.base_index() || from > written_.last_index()) {
    return base::fail("sim_disk: read from " + std::to_string(from) + " outside (" +
                      std::to_string(written_.base_index()) + ", " +
                      std::to_string(written_.last_index()) + "]");
  }
  std::vector<raft::entry> out;
  size_t bytes = 0;
  const auto& entries = written_.entries();
  for (size_t pos = written_.find(from); pos < entries.size(); ++pos) {
    const raft::entry& e = entries[pos];
    // The entry spanning `last` is included: the core trims to entry
    // boundaries itself (raft_log::read), and needs the entry spanning an
    // index to learn where it starts.
    if (e.index > last) break;
    if (!out.empty() && bytes + e.data.size() > max_bytes) break;
    bytes += e.data.size();
    out.push_back(e);
  }
  return out;
}

void sim_disk::flush() { sync(last_write()); }

void sim_disk::install_snapshot(const raft::snapshot& snap) {
  flush();
  snapshot_ = snap;
  written_.reset_base(snap.meta.index, snap.meta.term);
  durable_.reset_base(snap.meta.index, snap.meta.term);
}

void sim_disk::compact(const raft::snapshot& snap) { install_snapshot(snap); }

std::optional<uint64_t> sim_disk::append(const std::vector<raft::entry>& entries) {
  if (entries.empty() || !written_.write(entries)) return std::nullopt;
  pending_.push_back({next_write_, entries});
  return next_write_++;
}

void sim_disk::sync(uint64_t write) {
  while (!pending_.empty() && pending_.front().sequence <= write) {
    // Cannot fail: the durable log is the written one as it was when this
    // write was accepted (pending writes apply in order, barriers flush).
    durable_.write(pending_.front().entries);
    pending_.pop_front();
  }
}

crash_report sim_disk::crash(prng& random, double torn_probability) {
  crash_report report;
  report.writes_pending = pending_.size();
  size_t total = 0;
  for (const pending_write& w : pending_) total += w.entries.size();
  size_t kept_entries = 0;
  if (!pending_.empty()) {
    report.writes_kept = static_cast<size_t>(random.below(pending_.size() + 1));
    for (size_t i = 0; i < report.writes_kept; ++i) {
      std::vector<raft::entry>& entries = pending_[i].entries;
      if (i + 1 == report.writes_kept) {
        // The last write to reach the disk: its cut did, its entries only in
        // part, and the last of those may be torn.
        auto keep = static_cast<size_t>(random.below(entries.size() + 1));
        if (keep > 0 && random.chance(torn_probability)) {
          report.torn = true;
          --keep;
        }
        durable_.cut(entries.front().index);
        entries.resize(keep);
      }
      durable_.write(entries);
      kept_entries += entries.size();
    }
  }
  report.entries_lost = total - kept_entries;
  pending_.clear();
  written_ = durable_;
  return report;
}

bool sim_disk::durably_holds(index_t index, term_t term) const {
  if (index <= snapshot_.meta.index) return true;
  return durable_.term_at(index) == term;
}

}  // namespace sluice::sim
