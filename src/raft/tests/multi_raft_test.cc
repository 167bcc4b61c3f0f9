#include "raft/multi_raft.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdio>
#include <random>

#include "raft/tests/memory_store.h"

namespace sluice::raft {
namespace {

using testing::memory_store;

// Three nodes sharing `groups` groups, delivering batches perfectly.
class three_nodes {
 public:
  explicit three_nodes(int groups) : random_(3) {
    configuration voters{{1, 2, 3}, {}};
    for (node_id id : {1, 2, 3}) {
      nodes_.emplace(id, std::make_unique<multi_raft>(id));
      for (int g = 0; g < groups; ++g) {
        auto& store = stores_[{id, g}];
        store = std::make_unique<memory_store>(voters);
        nodes_[id]->add(g, *store, {}, [this] { return random_(); });
      }
    }
  }

  // One round: every node ticks once, then readies and batches flow until
  // quiet. Returns the number of batches sent.
  size_t round() {
    for (auto& [id, n] : nodes_) n->tick();
    size_t batches = 0;
    for (int i = 0; i < 50; ++i) {
      std::vector<outbound_batch> all;
      for (auto& [id, n] : nodes_) {
        n->process_ready([&, id = id](node& group, ready& r) {
          stores_[{id, static_cast<int>(group.group())}]->save(r);
          if (!r.entries.empty())
            group.on_persisted(r.entries.back().last_index(), r.entries.back().term);
        });
        for (auto& b : n->take_outbound()) all.push_back(std::move(b));
      }
      if (all.empty()) break;
      batches += all.size();
      for (auto& b : all) nodes_[b.to]->deliver(std::move(b.messages));
    }
    return batches;
  }

  multi_raft& at(node_id id) { return *nodes_.at(id); }

 private:
  std::mt19937_64 random_;
  std::map<node_id, std::unique_ptr<multi_raft>> nodes_;
  std::map<std::pair<node_id, int>, std::unique_ptr<memory_store>> stores_;
};

size_t leaders(multi_raft& n, int groups) {
  size_t count = 0;
  for (int g = 0; g < groups; ++g)
    if (n.find(g)->current_role() == role::leader) ++count;
  return count;
}

TEST(MultiRaft, EveryGroupElectsAndIdleHeartbeatsTravelInOneBatchPerPair) {
  constexpr int groups = 500;
  three_nodes cluster(groups);
  for (int i = 0; i < 100; ++i) {
    cluster.round();
    if (leaders(cluster.at(1), groups) + leaders(cluster.at(2), groups) +
            leaders(cluster.at(3), groups) ==
        groups)
      break;
  }
  ASSERT_EQ(leaders(cluster.at(1), groups) + leaders(cluster.at(2), groups) +
                leaders(cluster.at(3), groups),
            groups);
  cluster.round();
  // Idle: each node sends at most one batch of heartbeats to each other node
  // and gets one batch of answers back: at most 6 + 6 batches per round, not
  // thousands of messages.
  size_t batches = cluster.round();
  EXPECT_LE(batches, 12u);
  EXPECT_GT(batches, 0u);
}

TEST(MultiRaft, MessagesForUnknownGroupsAreDroppedAndCounted) {
  multi_raft n(1);
  message m;
  m.group = 99;
  m.to = 1;
  m.body = heartbeat_request{1, 0, 1};
  n.deliver({m});
  EXPECT_EQ(n.dropped(), 1u);
}

TEST(MultiRaft, MemoryPerIdleGroup) {
  constexpr int groups = 10'000;
  configuration voters{{1, 2, 3}, {}};
  std::vector<std::unique_ptr<memory_store>> stores;
  for (int g = 0; g < groups; ++g) stores.push_back(std::make_unique<memory_store>(voters));
  std::mt19937_64 random(1);
  size_t before = mallinfo2().uordblks;
  multi_raft n(1);
  for (int g = 0; g < groups; ++g) n.add(g, *stores[g], {}, [&] { return random(); });
  for (int t = 0; t < 3; ++t) n.tick();
  size_t after = mallinfo2().uordblks;
  size_t per_group = (after - before) / groups;
  size_t footprint = n.find(0)->memory_footprint();
  std::printf("memory per idle follower group: %zu bytes allocated (node's own estimate %zu)\n",
              per_group, footprint);
  // A bound that catches a regression by an order of magnitude, not a target.
  EXPECT_LT(per_group, 4096u);
}

}  // namespace
}  // namespace sluice::raft
