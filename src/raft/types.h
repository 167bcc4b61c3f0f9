#pragma once

// The vocabulary of the Raft core: who (node ids, group ids), when (terms),
// where (indexes), and what is replicated (entries, configurations).
//
// KRaft's model: the Raft log is a Kafka partition log. An entry is a record
// batch, its index is the batch's base offset and its term the batch's
// partition leader epoch. A batch of n records spans n offsets, so an entry
// spans `count` consecutive indexes and the next entry starts at
// index + count. The core never looks inside a data entry's bytes.

#include <algorithm>
#include <cstdint>
#include <vector>

#include "base/shared_bytes.h"

namespace sluice::raft {

using node_id = int32_t;
using group_id = uint64_t;
using term_t = int64_t;
using index_t = int64_t;

inline constexpr node_id no_node = -1;

enum class entry_type : uint8_t {
  // Application data: for partitions a record batch, for the controller a
  // batch of metadata records.
  data = 0,
  // Written by a new leader at the start of its term (Raft's no-op): it lets
  // the leader commit, and so learn the commit index, without waiting for a
  // client. A control batch in the partition log.
  leader_change = 1,
  // The replica set from this index on (voters and learners). A control batch.
  configuration = 2,
};

struct entry {
  index_t index = 0;
  term_t term = 0;
  // How many indexes (record offsets) the entry spans; at least 1.
  int32_t count = 1;
  entry_type type = entry_type::data;
  base::shared_bytes data;

  index_t last_index() const { return index + count - 1; }
};

// The replicas of a group. Voters elect leaders and make up majorities;
// learners receive the log but do not vote until promoted (they catch up
// first, so adding one never stalls commits).
struct configuration {
  std::vector<node_id> voters;
  std::vector<node_id> learners;

  bool is_voter(node_id id) const {
    return std::find(voters.begin(), voters.end(), id) != voters.end();
  }
  bool is_learner(node_id id) const {
    return std::find(learners.begin(), learners.end(), id) != learners.end();
  }
  bool contains(node_id id) const { return is_voter(id) || is_learner(id); }
  size_t quorum() const { return voters.size() / 2 + 1; }

  friend bool operator==(const configuration&, const configuration&) = default;
};

// What a node must make durable before it acts on it: the term it is in and
// whom it voted for in that term. Granting a vote before the vote is on disk
// would let a restarted node vote twice in one term.
struct hard_state {
  term_t term = 0;
  node_id voted_for = no_node;

  friend bool operator==(const hard_state&, const hard_state&) = default;
};

// A snapshot covers the log up to and including `index`; the entries it
// replaces are gone from the log. It carries the configuration in force at
// its index, because the configuration entries it replaced are gone too.
struct snapshot_meta {
  index_t index = 0;
  term_t term = 0;
  configuration config;

  friend bool operator==(const snapshot_meta&, const snapshot_meta&) = default;
};

struct snapshot {
  snapshot_meta meta;
  base::shared_bytes data;  // the state machine's image, opaque to Raft
};

// Configurations are encoded by the core (they are Raft's own records); the
// adapters store the bytes as they are.
base::shared_bytes encode_configuration(const configuration& config);
// False for bytes that are not an encoded configuration.
bool decode_configuration(std::span<const uint8_t> bytes, configuration& out);

}  // namespace sluice::raft
