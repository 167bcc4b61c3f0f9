#pragma once

// sim_network: the wires between simulated nodes.
//
// A sent message is lost, delivered once or delivered twice, each copy after
// its own random delay (so messages overtake each other: reordering); now and
// then a copy takes a much longer path. Links can be cut one way or both
// ways; a message on a cut link is dropped when sent and when it would
// arrive, like a packet on a pulled cable. Time is the simulator's step
// counter; messages due at the same step arrive in the order they were sent.

#include <cstdint>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "raft/messages.h"
#include "sim/random.h"

namespace sluice::sim {

struct network_options {
  double loss = 0;
  double duplicate = 0;
  // Delay of a copy in steps, uniform in [min_delay, max_delay].
  int min_delay = 1;
  int max_delay = 3;
  // With this probability a copy is held up to long_delay steps instead.
  double long_delay_probability = 0;
  int long_delay = 50;
};

struct network_stats {
  uint64_t sent = 0;
  uint64_t lost = 0;
  uint64_t duplicated = 0;
  uint64_t cut = 0;  // dropped on a cut link
  uint64_t delivered = 0;
};

class sim_network {
 public:
  sim_network(network_options options, prng random);

  const network_options& options() const { return options_; }
  void set_options(const network_options& options) { options_ = options; }

  // Returns how many copies are on their way (0: lost or cut).
  int send(raft::message m, uint64_t now);
  // Puts a message back to arrive at `when`, untouched by loss and delay (a
  // paused receiver takes it later).
  void redeliver(raft::message m, uint64_t when);
  // Removes and returns the messages due at or before `now`, in arrival
  // order, less those on links cut meanwhile.
  std::vector<raft::message> take_due(uint64_t now);

  // --- Partitions ---
  void cut(raft::node_id from, raft::node_id to) { cut_.insert({from, to}); }
  void cut_both(raft::node_id a, raft::node_id b) {
    cut(a, b);
    cut(b, a);
  }
  // Cuts every link between `side` and the rest of `all`, both ways.
  void partition(const std::vector<raft::node_id>& side, const std::vector<raft::node_id>& all);
  void isolate(raft::node_id node, const std::vector<raft::node_id>& all);
  void heal() { cut_.clear(); }
  bool is_cut(raft::node_id from, raft::node_id to) const { return cut_.contains({from, to}); }
  bool partitioned() const { return !cut_.empty(); }
  size_t cut_links() const { return cut_.size(); }

  size_t in_flight() const { return queue_.size(); }
  const network_stats& stats() const { return stats_; }

 private:
  // Arrival step, then send order: a total order independent of the contents.
  using key = std::pair<uint64_t, uint64_t>;

  void enqueue(raft::message m, uint64_t when);

  network_options options_;
  prng random_;
  std::map<key, raft::message> queue_;
  std::set<std::pair<raft::node_id, raft::node_id>> cut_;
  uint64_t sequence_ = 0;
  network_stats stats_;
};

}  // namespace sluice::sim
