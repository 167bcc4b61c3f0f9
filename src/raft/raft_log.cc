#include "raft/raft_log.h"

#include <algorithm>
#include <cassert>

namespace sluice::raft {

raft_log::raft_log(const log_store& store)
    : store_(store),
      snapshot_(store.snapshot_metadata()),
      unstable_start_(store.last_index() + 1),
      unsent_from_(unstable_start_),
      // What a restarted node finds in its store is on disk: the host
      // recovers only what survived.
      durable_(store.last_index()),
      commit_(snapshot_.index),
      applied_(snapshot_.index) {}

index_t raft_log::last_index() const {
  return unstable_.empty() ? unstable_start_ - 1 : unstable_.back().last_index();
}

term_t raft_log::last_term() const { return term_at(last_index()).value_or(0); }

const entry* raft_log::find_unstable(index_t index) const {
  if (unstable_.empty() || index < unstable_start_ || index > last_index()) return nullptr;
  // The first entry starting after `index`; the one before it spans it.
  auto after = std::upper_bound(unstable_.begin(), unstable_.end(), index,
                                [](index_t i, const entry& e) { return i < e.index; });
  assert(after != unstable_.begin());
  return &*std::prev(after);
}

std::optional<term_t> raft_log::term_at(index_t index) const {
  if (index == snapshot_.index) return snapshot_.term;
  if (index < snapshot_.index || index > last_index()) return std::nullopt;
  if (index >= unstable_start_) return find_unstable(index)->term;
  return store_.term_at(index);
}

bool raft_log::matches(index_t index, term_t term) const {
  auto t = term_at(index);
  return t && *t == term;
}

bool raft_log::is_up_to_date(index_t last_index, term_t last_term) const {
  term_t mine = this->last_term();
  return last_term > mine || (last_term == mine && last_index >= this->last_index());
}

index_t raft_log::last_index_with_term_at_most(index_t at_most, term_t term) const {
  auto fits = [&](index_t i) {
    auto t = term_at(i);
    return t && *t <= term;
  };
  index_t low = snapshot_.index;  // the answer when nothing fits
  index_t high = std::min(at_most, last_index());
  if (high <= low) return low;
  if (fits(high)) return high;
  // Invariant: the answer is in [low, high).
  while (high - low > 1) {
    index_t mid = low + (high - low) / 2;
    if (fits(mid)) {
      low = mid;
    } else {
      high = mid;
    }
  }
  return low;
}

std::optional<index_t> raft_log::entry_start(index_t index) const {
  if (index > last_index()) return last_index() + 1;
  if (index <= snapshot_.index) return std::nullopt;
  if (index >= unstable_start_) return find_unstable(index)->index;
  auto first = store_.read(index, index, 0);
  if (!first.ok() || first->empty()) return std::nullopt;
  return first->front().index;
}

base::result<std::vector<entry>> raft_log::read(index_t from, index_t last,
                                                size_t max_bytes) const {
  std::vector<entry> out;
  last = std::min(last, last_index());
  if (from > last) return out;
  if (from <= snapshot_.index) return base::fail("entries compacted away");
  size_t bytes = 0;
  if (from < unstable_start_) {
    auto stored = store_.read(from, std::min(last, unstable_start_ - 1), max_bytes);
    if (!stored.ok()) return base::unexpected(stored.error());
    out = std::move(stored.value());
    for (const entry& e : out) bytes += e.data.size();
    if (out.empty() || bytes >= max_bytes || out.back().last_index() >= last) return out;
    from = out.back().last_index() + 1;
  }
  for (const entry* e = find_unstable(from); e != nullptr && e->index <= last;) {
    if (!out.empty() && bytes + e->data.size() > max_bytes) break;
    bytes += e->data.size();
    out.push_back(*e);
    e = find_unstable(e->last_index() + 1);
  }
  return out;
}

void raft_log::append(entry e) {
  assert(e.index == last_index() + 1 && e.count >= 1);
  unstable_.push_back(std::move(e));
}

void raft_log::cut_unstable(index_t from) {
  if (from <= unstable_start_) {
    unstable_.clear();
    unstable_start_ = from;
  } else {
    while (!unstable_.empty() && unstable_.back().index >= from) unstable_.pop_back();
    assert(last_index() == from - 1);
  }
  unsent_from_ = std::min(unsent_from_, from);
  durable_ = std::min(durable_, from - 1);
}

std::optional<index_t> raft_log::append_from_leader(std::vector<entry> entries) {
  std::optional<index_t> cut;
  for (entry& e : entries) {
    // Below the snapshot everything is committed and so agrees with the
    // leader already.
    if (e.last_index() <= snapshot_.index) continue;
    if (e.index <= last_index()) {
      if (matches(e.index, e.term)) continue;
      // Committed entries never conflict: the leader holds them all.
      assert(e.index > commit_);
      cut = e.index;
      cut_unstable(e.index);
    }
    unstable_.push_back(std::move(e));
  }
  return cut;
}

std::vector<entry> raft_log::take_unsent() {
  std::vector<entry> out;
  for (const entry* e = find_unstable(unsent_from_); e != nullptr;
       e = find_unstable(e->last_index() + 1)) {
    out.push_back(*e);
  }
  unsent_from_ = last_index() + 1;
  return out;
}

bool raft_log::mark_durable(index_t index, term_t term) {
  if (index <= durable_ || index >= unsent_from_ || !matches(index, term)) return false;
  durable_ = index;
  // Durable entries are in the store: read them from there from now on.
  auto kept = std::find_if(unstable_.begin(), unstable_.end(),
                           [&](const entry& e) { return e.last_index() > index; });
  if (kept != unstable_.begin()) {
    unstable_start_ = std::prev(kept)->last_index() + 1;
    unstable_.erase(unstable_.begin(), kept);
  }
  return true;
}

void raft_log::commit_to(index_t index) {
  commit_ = std::max(commit_, std::min(index, last_index()));
}

bool raft_log::has_committed() const { return std::min(commit_, durable_) > applied_; }

std::vector<entry> raft_log::take_committed(size_t max_bytes) {
  index_t last = std::min(commit_, durable_);
  if (last <= applied_) return {};
  auto entries = read(applied_ + 1, last, max_bytes);
  // A failed read leaves them for the next ready.
  if (!entries.ok()) return {};
  // The read ends on an entry boundary; commit and durable indexes do too.
  while (!entries->empty() && entries->back().last_index() > last) entries->pop_back();
  if (!entries->empty()) applied_ = entries->back().last_index();
  return std::move(entries.value());
}

void raft_log::restore(const snapshot_meta& meta) {
  snapshot_ = meta;
  unstable_.clear();
  unstable_start_ = meta.index + 1;
  unsent_from_ = unstable_start_;
  durable_ = meta.index;
  commit_ = meta.index;
  applied_ = meta.index;
}

void raft_log::compacted(const snapshot_meta& meta) {
  if (meta.index <= snapshot_.index) return;
  assert(meta.index <= applied_ && meta.index <= durable_);
  snapshot_ = meta;
}

size_t raft_log::unstable_bytes() const {
  size_t bytes = 0;
  for (const entry& e : unstable_) bytes += e.data.size();
  return bytes;
}

}  // namespace sluice::raft
