#pragma once

// A linearizability checker for histories of a key-value store, in the style
// of Knossos and Porcupine: a history is linearizable when every operation
// can be given one instant between its invocation and its completion such
// that the operations, run one by one in that order on a plain map, return
// what the clients saw.
//
// Operations on different keys never constrain each other, so the history is
// split by key and each key's history is checked alone (Herlihy and Wing's
// locality); each search then explores which pending operation takes effect
// next, with a cache of (operations done, register value) states already
// explored (Lowe's just-in-time linearisation with memoisation).
//
// Time: `invoked` and `completed` are steps of the simulator's counter. One
// operation precedes another only when it completed at a step strictly
// before the other's invocation; an operation completed at step t and one
// invoked at the same step t are concurrent (either may take effect first).
// That is the weaker claim, so the checker never blames the system for an
// order the simulator's clock cannot tell.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sluice::sim {

struct kv_operation {
  enum class kind : uint8_t { get, put };
  int client = 0;
  kind what = kind::get;
  std::string key;
  // put: the value written. get: the value read, nullopt for an absent key.
  std::optional<std::string> value;
  // Logical times (the simulator's step counter). An operation whose outcome
  // the client never learned (it timed out) has no completion: it may have
  // taken effect at any moment after its invocation, or never. A get that
  // timed out tells nothing and may be left out.
  uint64_t invoked = 0;
  std::optional<uint64_t> completed;
};

struct check_result {
  bool linearizable = true;
  // The search gave up after `state_budget` states on some key: the history
  // is neither proven nor refuted (counted, reported, not a failure).
  // `linearizable` then stays true unless another key was refuted.
  bool inconclusive = false;
  // For a violation: the key, the longest order of its operations found
  // that works, the operations that could not come next, and all the
  // operations on the key, one per line, readable. For a search that gave
  // up: the keys and their state counts.
  std::string explanation;
  // Search states (distinct sets of operations done with a register value)
  // entered, summed over keys.
  uint64_t states_explored = 0;
};

// Checks keys in lexicographic order and stops at the first violation.
// `state_budget` bounds the states of each key's search. Throws
// std::invalid_argument for an operation completed before its invocation.
check_result check_linearizable(const std::vector<kv_operation>& history,
                                uint64_t state_budget = 5'000'000);

// One line for an operation, for explanations and failure reports.
std::string describe(const kv_operation& op);

}  // namespace sluice::sim
