#pragma once

// multi_raft: every Raft group one node takes part in (the controller and
// one group per partition replica), ticked together, with the messages for
// each other node gathered into one batch per round.
//
// With thousands of partitions, a heartbeat per group per tick would be
// thousands of messages between each pair of brokers; batched, it is one
// message per pair per tick whose size grows by a few bytes per group
// (codec.h keeps a heartbeat to about a dozen bytes). Appends for groups
// that happen to have entries in the same round travel in the same batch.
//
// Not thread-safe: one shard owns a multi_raft and all its groups.

#include <functional>
#include <map>
#include <memory>
#include <vector>

#include "raft/node.h"

namespace sluice::raft {

struct outbound_batch {
  node_id to = no_node;
  std::vector<message> messages;
};

class multi_raft {
 public:
  explicit multi_raft(node_id self) : self_(self) {}

  // Adds a group whose state is in `store` (which must outlive it).
  node& add(group_id group, const log_store& store, node_options options, random_function random);
  void remove(group_id group);
  node* find(group_id group);
  size_t size() const { return groups_.size(); }
  node_id self() const { return self_; }

  void tick();
  // Steps each message into its group. Messages for groups this node does
  // not have are dropped and counted (a group being created or deleted).
  void deliver(std::vector<message> batch);
  uint64_t dropped() const { return dropped_; }

  // Hands every group's ready to `handle`, which carries out node.h's
  // contract except sending: the ready's messages are queued for
  // take_outbound() when `handle` returns, so they go out after whatever it
  // made durable.
  void process_ready(const std::function<void(node&, ready&)>& handle);
  // The queued messages, one batch per destination.
  std::vector<outbound_batch> take_outbound();

 private:
  node_id self_;
  // Ordered, so that ticks and readies run in the same order every time
  // (the simulator replays runs exactly).
  std::map<group_id, std::unique_ptr<node>> groups_;
  std::map<node_id, std::vector<message>> outbound_;
  uint64_t dropped_ = 0;
};

}  // namespace sluice::raft
