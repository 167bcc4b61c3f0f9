#include "sim/sim_network.h"

#include <algorithm>

namespace sluice::sim {

sim_network::sim_network(network_options options, prng random)
    : options_(options), random_(random) {}

void sim_network::enqueue(raft::message m, uint64_t when) {
  queue_.emplace(key{when, sequence_++}, std::move(m));
}

int sim_network::send(raft::message m, uint64_t now) {
  ++stats_.sent;
  if (is_cut(m.from, m.to)) {
    ++stats_.cut;
    return 0;
  }
  if (random_.chance(options_.loss)) {
    ++stats_.lost;
    return 0;
  }
  int copies = 1;
  if (random_.chance(options_.duplicate)) {
    ++stats_.duplicated;
    copies = 2;
  }
  for (int i = 0; i < copies; ++i) {
    int64_t delay = random_.chance(options_.long_delay_probability)
                        ? random_.range(options_.max_delay, options_.long_delay)
                        : random_.range(options_.min_delay, options_.max_delay);
    uint64_t when = now + static_cast<uint64_t>(std::max<int64_t>(delay, 0));
    if (i + 1 < copies) {
      enqueue(m, when);
    } else {
      enqueue(std::move(m), when);
    }
  }
  return copies;
}

void sim_network::redeliver(raft::message m, uint64_t when) { enqueue(std::move(m), when); }

std::vector<raft::message> sim_network::take_due(uint64_t now) {
  std::vector<raft::message> due;
  while (!queue_.empty() && queue_.begin()->first.first <= now) {
    auto node = queue_.extract(queue_.begin());
    raft::message& m = node.mapped();
    if (is_cut(m.from, m.to)) {
      ++stats_.cut;
      continue;
    }
    ++stats_.delivered;
    due.push_back(std::move(m));
  }
  return due;
}

void sim_network::partition(const std::vector<raft::node_id>& side,
                            const std::vector<raft::node_id>& all) {
  for (raft::node_id a : side) {
    for (raft::node_id b : all) {
      if (std::find(side.begin(), side.end(), b) == side.end()) cut_both(a, b);
    }
  }
}

void sim_network::isolate(raft::node_id node, const std::vector<raft::node_id>& all) {
  partition({node}, all);
}

}  // namespace sluice::sim
