#include "sim/linearizability.h"

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>
#include <tuple>
#include <unordered_set>
#include <utility>

namespace sluice::sim {
namespace {

// Register values are interned per key so that a search state is a small
// integer: 0 is the absent value, the register's initial state; 1 stands for
// every value that no get returned (nothing tells those apart, so states that
// differ only in which of them the register holds are one state); each value
// some get returned has its own id from 2 on.
using value_id = uint32_t;
constexpr value_id absent_id = 0;
constexpr value_id unread_id = 1;

// Lines of operations listed in one explanation, so that a huge key still
// yields a readable report.
constexpr size_t max_listed = 200;

// One operation of the key being checked, reduced to what the search needs.
struct register_op {
  const kv_operation* source = nullptr;
  bool is_put = false;
  value_id value = absent_id;
};

// A set of operation indices with an incrementally maintained hash: each
// operation owns a random 64-bit word and the hash is the XOR of the words
// of the members (Zobrist hashing), so adding or removing one costs O(1).
class op_set {
 public:
  explicit op_set(size_t n) : words_((n + 63) / 64, 0) {}

  void flip(uint32_t i) {
    words_[i / 64] ^= uint64_t{1} << (i % 64);
    hash_ ^= word_of(i);
  }
  uint64_t hash() const { return hash_; }
  const std::vector<uint64_t>& words() const { return words_; }

 private:
  // splitmix64: a fixed, well-mixed word per index, no table to keep.
  static uint64_t word_of(uint64_t i) {
    uint64_t z = (i + 1) * 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  std::vector<uint64_t> words_;
  uint64_t hash_ = 0;
};

// A memoised search state: which operations took effect, and the value
// they left in the register.
struct search_state {
  std::vector<uint64_t> done;
  value_id value = absent_id;
  uint64_t hash = 0;

  bool operator==(const search_state& o) const { return value == o.value && done == o.done; }
};

struct search_state_hash {
  size_t operator()(const search_state& s) const {
    return static_cast<size_t>(s.hash ^ (uint64_t{s.value} * 0xff51afd7ed558ccdULL));
  }
};

// Call and return events of one key's operations in a doubly linked list
// ordered by time. Taking an operation out ("lifting" it once it has taken
// effect) unlinks both its events but leaves their own links intact, so
// putting it back, in the reverse order of removal, is O(1) as in dancing
// links. Node 0 is the sentinel of the circular list.
class event_list {
 public:
  static constexpr uint32_t sentinel = 0;
  static constexpr uint32_t none = UINT32_MAX;

  // Completed operations get a call and a return; the others (puts that
  // timed out) only a call, so they are never forced to take effect.
  explicit event_list(const std::vector<register_op>& ops) {
    struct event {
      uint64_t time;
      bool is_return;
      uint32_t op;
    };
    std::vector<event> events;
    for (uint32_t i = 0; i < ops.size(); ++i) {
      events.push_back({ops[i].source->invoked, false, i});
      if (ops[i].source->completed) events.push_back({*ops[i].source->completed, true, i});
    }
    // At equal times calls come first: operations that meet at one step
    // are concurrent (see the header).
    std::sort(events.begin(), events.end(), [](const event& a, const event& b) {
      return std::tie(a.time, a.is_return, a.op) < std::tie(b.time, b.is_return, b.op);
    });
    nodes_.resize(events.size() + 1);
    std::vector<uint32_t> call_of(ops.size());
    for (uint32_t i = 0; i < events.size(); ++i) {
      node& n = nodes_[i + 1];
      n.op = events[i].op;
      n.is_call = !events[i].is_return;
      n.prev = i;
      n.next = i + 2 == nodes_.size() ? sentinel : i + 2;
      if (n.is_call) {
        call_of[n.op] = i + 1;
      } else {
        nodes_[call_of[n.op]].match = i + 1;
      }
    }
    nodes_[sentinel].next = nodes_.size() > 1 ? 1 : sentinel;
    nodes_[sentinel].prev = static_cast<uint32_t>(nodes_.size() - 1);
  }

  uint32_t first() const { return nodes_[sentinel].next; }
  uint32_t next(uint32_t e) const { return nodes_[e].next; }
  uint32_t op(uint32_t e) const { return nodes_[e].op; }
  bool is_call(uint32_t e) const { return nodes_[e].is_call; }

  void lift(uint32_t call) {
    unlink(call);
    if (nodes_[call].match != none) unlink(nodes_[call].match);
  }
  void unlift(uint32_t call) {
    if (nodes_[call].match != none) relink(nodes_[call].match);
    relink(call);
  }

 private:
  struct node {
    uint32_t op = 0;
    bool is_call = false;
    uint32_t match = none;  // a call's return event, if it completed
    uint32_t prev = 0;
    uint32_t next = 0;
  };

  void unlink(uint32_t e) {
    nodes_[nodes_[e].prev].next = nodes_[e].next;
    nodes_[nodes_[e].next].prev = nodes_[e].prev;
  }
  void relink(uint32_t e) {
    nodes_[nodes_[e].prev].next = e;
    nodes_[nodes_[e].next].prev = e;
  }

  std::vector<node> nodes_;
};

// The single-register search for one key (Wing and Gong's algorithm with
// Lowe's memoisation): walk the events from the head; a call before the
// first return names an operation that may take effect now, so try it and
// restart; reaching a return means the operations taken so far leave that
// one no place, so undo the last choice and try the next candidate.
//
// One pruning on top: an operation that may take effect now and leaves the
// register as it is (a get of the current value, or a put of an unread
// value over an unread value) is taken without trying the alternatives.
// Any order that works without taking it first still works once it is
// moved to the front (nothing reads the register differently), so if
// nothing works after it, nothing works at all.
class register_search {
 public:
  enum class outcome { linearizable, violation, gave_up };

  register_search(std::vector<register_op> ops, uint64_t budget)
      : ops_(std::move(ops)), budget_(budget), events_(ops_), done_(ops_.size()) {}

  outcome run() {
    for (const auto& op : ops_) returns_left_ += op.source->completed ? 1 : 0;
    uint32_t entry = events_.first();
    bool fresh = true;  // in a state just entered, not yet scanned
    while (returns_left_ > 0) {
      if (fresh) {
        fresh = false;
        if (const uint32_t call = neutral_candidate(); call != event_list::none) {
          const step_result r = take(call, /*forced=*/true);
          if (r == step_result::over_budget) return outcome::gave_up;
          if (r == step_result::entered) {
            fresh = true;
            entry = events_.first();
          } else if (!backtrack(entry)) {
            return outcome::violation;
          }
          continue;
        }
      }
      if (!events_.is_call(entry)) {
        if (!backtrack(entry)) return outcome::violation;
        continue;
      }
      switch (take(entry, /*forced=*/false)) {
        case step_result::entered:
          fresh = true;
          entry = events_.first();
          break;
        case step_result::over_budget:
          return outcome::gave_up;
        case step_result::rejected:
          entry = events_.next(entry);
          break;
      }
    }
    return outcome::linearizable;
  }

  uint64_t states() const { return states_; }

  // Why no order works: the deepest order reached and what was left.
  std::string explain() const {
    std::string out = "longest order that works (" + std::to_string(best_.size()) + " of " +
                      std::to_string(ops_.size()) + " operations):\n";
    list(out, best_);
    out += "after it the value is " + value_text(best_value_) +
           " and no order of these pending operations goes on from there:\n";
    list(out, stuck_);
    return out;
  }

 private:
  enum class step_result { entered, rejected, over_budget };

  struct frame {
    uint32_t call;    // the lifted call event
    value_id before;  // the register's value before it
    bool forced;      // taken by the pruning, without alternatives
  };

  // The register's sequential specification.
  static bool apply(const register_op& op, value_id& value) {
    if (op.is_put) {
      value = op.value;
      return true;
    }
    return op.value == value;
  }

  // A call that may take effect now and leaves the register unchanged.
  uint32_t neutral_candidate() const {
    for (uint32_t e = events_.first(); e != event_list::sentinel && events_.is_call(e);
         e = events_.next(e)) {
      const register_op& op = ops_[events_.op(e)];
      if (op.value == value_ && (!op.is_put || value_ == unread_id)) return e;
    }
    return event_list::none;
  }

  // Lets the operation of `call` take effect, unless the register refuses
  // it or the state it leads to was explored already (and so failed: every
  // state in seen_ failed or is on the path, and the path only grows).
  step_result take(uint32_t call, bool forced) {
    const uint32_t i = events_.op(call);
    value_id after = value_;
    if (!apply(ops_[i], after)) return step_result::rejected;
    done_.flip(i);
    if (!seen_.insert({done_.words(), after, done_.hash()}).second) {
      done_.flip(i);
      return step_result::rejected;
    }
    if (++states_ > budget_) return step_result::over_budget;
    stack_.push_back({call, value_, forced});
    events_.lift(call);
    returns_left_ -= ops_[i].source->completed ? 1 : 0;
    value_ = after;
    note_progress();
    return step_result::entered;
  }

  // Undoes choices up to and including the last one that had alternatives
  // and points `entry` at the next of them; false when none is left.
  bool backtrack(uint32_t& entry) {
    while (!stack_.empty()) {
      const frame f = stack_.back();
      stack_.pop_back();
      agreed_ = std::min(agreed_, stack_.size());
      const uint32_t i = events_.op(f.call);
      done_.flip(i);
      events_.unlift(f.call);
      returns_left_ += ops_[i].source->completed ? 1 : 0;
      value_ = f.before;
      if (!f.forced) {
        entry = events_.next(f.call);
        return true;
      }
    }
    return false;
  }

  // Keeps the deepest order seen, for explain(). best_ shares its first
  // agreed_ entries with the stack, so only the rest is copied.
  void note_progress() {
    if (stack_.size() <= best_.size()) return;
    best_.resize(stack_.size());
    for (size_t d = agreed_; d < stack_.size(); ++d) best_[d] = events_.op(stack_[d].call);
    agreed_ = stack_.size();
    best_value_ = value_;
    stuck_.clear();
    // The calls before the first return: the operations that could come
    // next. The one whose return is first is among them, since a call sorts
    // before its own return.
    for (uint32_t e = events_.first(); e != event_list::sentinel && events_.is_call(e);
         e = events_.next(e)) {
      stuck_.push_back(events_.op(e));
    }
  }

  std::string value_text(value_id v) const {
    if (v == unread_id) return "one that no get returned";
    for (const auto& op : ops_) {
      if (op.is_put && op.value == v && v != absent_id) return "\"" + *op.source->value + "\"";
    }
    return "absent";
  }

  void list(std::string& out, const std::vector<uint32_t>& ids) const {
    for (size_t k = 0; k < ids.size() && k < max_listed; ++k) {
      out += "  " + describe(*ops_[ids[k]].source) + "\n";
    }
    if (ids.size() > max_listed) {
      out += "  (" + std::to_string(ids.size() - max_listed) + " more)\n";
    }
  }

  std::vector<register_op> ops_;
  uint64_t budget_;
  event_list events_;
  op_set done_;
  std::unordered_set<search_state, search_state_hash> seen_;
  std::vector<frame> stack_;
  value_id value_ = absent_id;
  size_t returns_left_ = 0;
  uint64_t states_ = 0;

  std::vector<uint32_t> best_;
  size_t agreed_ = 0;
  value_id best_value_ = absent_id;
  std::vector<uint32_t> stuck_;
};

std::string list_all(const std::vector<const kv_operation*>& ops) {
  std::vector<const kv_operation*> sorted = ops;
  std::stable_sort(sorted.begin(), sorted.end(), [](const kv_operation* a, const kv_operation* b) {
    return a->invoked < b->invoked;
  });
  std::string out = "all " + std::to_string(sorted.size()) + " operations on the key:\n";
  for (size_t k = 0; k < sorted.size() && k < max_listed; ++k) {
    out += "  " + describe(*sorted[k]) + "\n";
  }
  if (sorted.size() > max_listed) {
    out += "  (" + std::to_string(sorted.size() - max_listed) + " more)\n";
  }
  return out;
}

struct key_outcome {
  register_search::outcome result = register_search::outcome::linearizable;
  uint64_t states = 0;
  std::string explanation;
};

key_outcome check_key(const std::string& key, const std::vector<const kv_operation*>& ops,
                      uint64_t budget) {
  key_outcome out;
  const std::string header = "key \"" + key + "\" is not linearizable\n";
  std::set<std::string> written;
  for (const kv_operation* op : ops) {
    if (op->what == kv_operation::kind::put && op->value) written.insert(*op->value);
  }
  std::map<std::string, value_id> read_ids;
  std::vector<register_op> reduced;
  for (const kv_operation* op : ops) {
    if (op->what != kv_operation::kind::get || !op->completed) continue;
    value_id v = absent_id;
    if (op->value) {
      if (!written.contains(*op->value)) {
        out.result = register_search::outcome::violation;
        out.explanation =
            header + "it reads a value no put wrote:\n  " + describe(*op) + "\n" + list_all(ops);
        return out;
      }
      v = read_ids.emplace(*op->value, static_cast<value_id>(read_ids.size() + 2)).first->second;
    }
    reduced.push_back({op, false, v});
  }
  for (const kv_operation* op : ops) {
    if (op->what != kv_operation::kind::put) continue;
    value_id v = absent_id;
    if (op->value) {
      auto it = read_ids.find(*op->value);
      v = it == read_ids.end() ? unread_id : it->second;
    }
    // A put that never completed and whose value nobody read is left out:
    // leaving it out never changes what a get sees.
    if (op->completed || v != unread_id) reduced.push_back({op, true, v});
  }

  register_search search(std::move(reduced), budget);
  out.result = search.run();
  out.states = search.states();
  if (out.result == register_search::outcome::violation) {
    out.explanation = header + search.explain() + list_all(ops);
  } else if (out.result == register_search::outcome::gave_up) {
    out.explanation = "key \"" + key + "\": gave up after " + std::to_string(out.states) +
                      " states (" + std::to_string(ops.size()) + " operations)\n";
  }
  return out;
}

}  // namespace

check_result check_linearizable(const std::vector<kv_operation>& history, uint64_t state_budget) {
  std::map<std::string, std::vector<const kv_operation*>> by_key;
  for (const auto& op : history) {
    if (op.completed && *op.completed < op.invoked) {
      throw std::invalid_argument("operation completed before its invocation: " + describe(op));
    }
    by_key[op.key].push_back(&op);
  }
  check_result result;
  for (const auto& [key, ops] : by_key) {
    key_outcome k = check_key(key, ops, state_budget);
    result.states_explored += k.states;
    if (k.result == register_search::outcome::violation) {
      result.linearizable = false;
      result.explanation = std::move(k.explanation);
      return result;
    }
    if (k.result == register_search::outcome::gave_up) {
      result.inconclusive = true;
      result.explanation += k.explanation;
    }
  }
  return result;
}

std::string describe(const kv_operation& op) {
  std::string out = "client " + std::to_string(op.client) + " ";
  const std::string value = op.value ? "\"" + *op.value + "\"" : "absent";
  if (op.what == kv_operation::kind::put) {
    out += "put(" + op.key + ", " + value + ")";
  } else {
    out += "get(" + op.key + ") -> " + value;
  }
  out += " [" + std::to_string(op.invoked) + ", " +
         (op.completed ? std::to_string(*op.completed) : "?") + "]";
  return out;
}

}  // namespace sluice::sim
