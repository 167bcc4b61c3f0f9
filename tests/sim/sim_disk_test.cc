// Unit tests of the simulator's parts that run without a Raft node: the
// simulated disk, the network and the kv state machine.

#include "sim/sim_disk.h"

#include <gtest/gtest.h>

#include "sim/kv_machine.h"
#include "sim/sim_network.h"

namespace sluice::sim {
namespace {

raft::entry make_entry(index_t index, term_t term, int32_t count = 1, std::string_view data = "x") {
  raft::entry e;
  e.index = index;
  e.term = term;
  e.count = count;
  e.data = base::shared_bytes::copy_of(data);
  return e;
}

raft::configuration three() { return raft::configuration{{1, 2, 3}, {}}; }

raft::snapshot make_snapshot(index_t index, term_t term) {
  raft::snapshot s;
  s.meta = {index, term, three()};
  return s;
}

TEST(EntryLog, MultiOffsetEntriesAreFoundByAnyIndexTheySpan) {
  entry_log log;
  ASSERT_TRUE(log.write({make_entry(1, 1, 3), make_entry(4, 1), make_entry(5, 2, 2)}));
  EXPECT_EQ(log.last_index(), 6);
  EXPECT_EQ(log.term_at(0), 0);
  EXPECT_EQ(log.term_at(2), 1);
  EXPECT_EQ(log.term_at(6), 2);
  EXPECT_EQ(log.term_at(7), std::nullopt);
  EXPECT_EQ(log.find(3), 0u);
  EXPECT_EQ(log.find(5), 2u);
  EXPECT_EQ(log.find(9), 3u);
}

TEST(EntryLog, RefusesWritesThatWouldLeaveAHoleOrSplitAnEntry) {
  entry_log log;
  ASSERT_TRUE(log.write({make_entry(1, 1, 3)}));
  EXPECT_FALSE(log.write({make_entry(5, 1)}));                    // a hole after 3
  EXPECT_FALSE(log.write({make_entry(2, 2)}));                    // inside 1..3
  EXPECT_FALSE(log.write({make_entry(4, 1), make_entry(6, 1)}));  // not contiguous
  EXPECT_FALSE(log.write({make_entry(0, 1)}));                    // at the base
  EXPECT_EQ(log.last_index(), 3);
  ASSERT_TRUE(log.write({make_entry(1, 2)}));  // cuts everything
  EXPECT_EQ(log.last_index(), 1);
  EXPECT_EQ(log.term_at(1), 2);
}

TEST(EntryLog, ResetBaseKeepsTheTailOnlyWhenItFollowsTheSnapshot) {
  entry_log log;
  ASSERT_TRUE(log.write({make_entry(1, 1), make_entry(2, 1, 2), make_entry(4, 2)}));
  entry_log copy = log;
  log.reset_base(3, 1);
  EXPECT_EQ(log.base_index(), 3);
  EXPECT_EQ(log.entries().size(), 1u);
  EXPECT_EQ(log.last_index(), 4);
  copy.reset_base(3, 2);  // another term there: the log is not a continuation
  EXPECT_TRUE(copy.empty());
  EXPECT_EQ(copy.last_index(), 3);
}

TEST(SimDisk, StartsEmptyWithTheInitialConfiguration) {
  sim_disk disk(three());
  EXPECT_EQ(disk.snapshot_metadata().index, 0);
  EXPECT_EQ(disk.snapshot_metadata().config, three());
  EXPECT_EQ(disk.first_index(), 1);
  EXPECT_EQ(disk.last_index(), 0);
  EXPECT_EQ(disk.term_at(0), 0);
  EXPECT_EQ(disk.initial_hard_state(), raft::hard_state{});
  EXPECT_FALSE(disk.read(1, 1, 100).ok());
}

TEST(SimDisk, ReadHonoursLastAndMaxBytesButReturnsOneEntry) {
  sim_disk disk(three());
  ASSERT_TRUE(disk.append(
      {make_entry(1, 1, 1, "aaaa"), make_entry(2, 1, 2, "bbbb"), make_entry(4, 1, 1, "cccc")}));
  auto all = disk.read(1, 4, 1000);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 3u);
  auto spanning = disk.read(3, 4, 1000);  // starts with the entry spanning 3
  ASSERT_TRUE(spanning.ok());
  ASSERT_EQ(spanning->size(), 2u);
  EXPECT_EQ(spanning->front().index, 2);
  auto capped = disk.read(1, 4, 5);
  ASSERT_TRUE(capped.ok());
  EXPECT_EQ(capped->size(), 1u);
  auto tiny = disk.read(1, 4, 0);
  ASSERT_TRUE(tiny.ok());
  EXPECT_EQ(tiny->size(), 1u);
  auto to_last = disk.read(1, 3, 1000);  // the entry spanning `last` is included
  ASSERT_TRUE(to_last.ok());
  EXPECT_EQ(to_last->size(), 2u);
  auto spanning_last = disk.read(2, 2, 0);
  ASSERT_TRUE(spanning_last.ok());
  ASSERT_EQ(spanning_last->size(), 1u);
  EXPECT_EQ(spanning_last->front().last_index(), 3);
  EXPECT_FALSE(disk.read(5, 5, 1000).ok());
}

TEST(SimDisk, UnsyncedWritesAreLostInACrashAndSyncedOnesKept) {
  sim_disk disk(three());
  auto w1 = disk.append({make_entry(1, 1), make_entry(2, 1)});
  ASSERT_TRUE(w1);
  disk.sync(*w1);
  ASSERT_TRUE(disk.append({make_entry(3, 1), make_entry(4, 1)}));
  EXPECT_EQ(disk.last_index(), 4);
  EXPECT_EQ(disk.durable_log().last_index(), 2);
  // Every possible outcome keeps the synced prefix and a prefix of the rest.
  for (uint64_t seed = 0; seed < 50; ++seed) {
    sim_disk copy = disk;
    prng random(seed);
    crash_report report = copy.crash(random, 0.5);
    EXPECT_GE(copy.last_index(), 2);
    EXPECT_LE(copy.last_index(), 4);
    EXPECT_EQ(copy.last_index(), copy.durable_log().last_index());
    EXPECT_EQ(report.entries_lost, static_cast<size_t>(4 - copy.last_index()));
    EXPECT_EQ(copy.pending_writes(), 0u);
  }
}

TEST(SimDisk, ACrashCanLoseSomeWritesKeepOthersAndTearTheLast) {
  sim_disk disk(three());
  for (index_t i = 1; i <= 6; i += 2) {
    ASSERT_TRUE(disk.append({make_entry(i, 1), make_entry(i + 1, 1)}));
  }
  bool saw_torn = false, saw_none = false, saw_all = false, saw_partial = false;
  for (uint64_t seed = 0; seed < 400; ++seed) {
    sim_disk copy = disk;
    prng random(seed);
    crash_report report = copy.crash(random, 0.5);
    saw_torn |= report.torn;
    saw_none |= copy.last_index() == 0;
    saw_all |= copy.last_index() == 6;
    saw_partial |= copy.last_index() % 2 == 1;
    if (report.torn) {
      EXPECT_LT(copy.last_index(), 6);
    }
  }
  EXPECT_TRUE(saw_torn);
  EXPECT_TRUE(saw_none);
  EXPECT_TRUE(saw_all);
  EXPECT_TRUE(saw_partial);
}

TEST(SimDisk, ALostCutBringsBackTheDurableEntriesItReplaced) {
  sim_disk disk(three());
  auto w1 = disk.append({make_entry(1, 1), make_entry(2, 1), make_entry(3, 1)});
  disk.sync(*w1);
  ASSERT_TRUE(disk.append({make_entry(2, 2)}));  // a new leader's entry
  EXPECT_EQ(disk.term_at(2), 2);
  EXPECT_EQ(disk.last_index(), 2);
  bool saw_old = false, saw_new = false, saw_cut_only = false;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    sim_disk copy = disk;
    prng random(seed);
    copy.crash(random, 0.5);
    if (copy.last_index() == 3) {
      saw_old = true;
      EXPECT_EQ(copy.term_at(2), 1);
    } else if (copy.last_index() == 2) {
      saw_new = true;
      EXPECT_EQ(copy.term_at(2), 2);
    } else {
      saw_cut_only = true;  // the cut reached the disk, the entry did not
      EXPECT_EQ(copy.last_index(), 1);
    }
  }
  EXPECT_TRUE(saw_old && saw_new && saw_cut_only);
}

TEST(SimDisk, HardStateAndSnapshotsAreDurableAtOnce) {
  sim_disk disk(three());
  disk.save_hard_state({5, 2});
  ASSERT_TRUE(disk.append({make_entry(1, 1), make_entry(2, 1), make_entry(3, 1)}));
  disk.install_snapshot(make_snapshot(2, 1));  // a barrier: the writes before it stay
  EXPECT_EQ(disk.first_index(), 3);
  EXPECT_EQ(disk.last_index(), 3);
  prng random(7);
  disk.crash(random, 1.0);
  EXPECT_EQ(disk.initial_hard_state(), (raft::hard_state{5, 2}));
  EXPECT_EQ(disk.snapshot_metadata().index, 2);
  EXPECT_EQ(disk.last_index(), 3);
  EXPECT_TRUE(disk.durably_holds(1, 1));  // covered by the snapshot
  EXPECT_TRUE(disk.durably_holds(3, 1));
  EXPECT_FALSE(disk.durably_holds(3, 2));
}

TEST(SimDisk, ASnapshotFromAnotherBranchReplacesTheWholeLog) {
  sim_disk disk(three());
  ASSERT_TRUE(disk.append({make_entry(1, 1), make_entry(2, 1), make_entry(3, 1)}));
  disk.install_snapshot(make_snapshot(2, 3));
  EXPECT_EQ(disk.last_index(), 2);
  EXPECT_EQ(disk.term_at(2), 3);
  EXPECT_EQ(disk.term_at(1), std::nullopt);
  EXPECT_FALSE(disk.read(2, 2, 10).ok());
  ASSERT_TRUE(disk.append({make_entry(3, 3)}));
  EXPECT_FALSE(disk.append({make_entry(2, 3)}));  // below the snapshot
}

TEST(SimDisk, ConfigurationEntriesListsThemOldestFirst) {
  sim_disk disk(three());
  raft::entry c1 = make_entry(2, 1);
  c1.type = raft::entry_type::configuration;
  c1.data = raft::encode_configuration({{1, 2, 3}, {4}});
  raft::entry c2 = make_entry(4, 1);
  c2.type = raft::entry_type::configuration;
  c2.data = raft::encode_configuration({{1, 2, 3, 4}, {}});
  ASSERT_TRUE(disk.append({make_entry(1, 1), c1, make_entry(3, 1), c2}));
  auto configs = disk.configuration_entries();
  ASSERT_EQ(configs.size(), 2u);
  EXPECT_EQ(configs[0].index, 2);
  EXPECT_EQ(configs[1].index, 4);
  EXPECT_EQ(disk.configuration_in_force(), (raft::configuration{{1, 2, 3, 4}, {}}));
  ASSERT_TRUE(disk.append({make_entry(4, 2)}));  // cuts the last one
  EXPECT_EQ(disk.configuration_in_force(), (raft::configuration{{1, 2, 3}, {4}}));
  disk.compact(make_snapshot(3, 1));  // its configuration replaces the entry's
  EXPECT_EQ(disk.configuration_in_force(), three());
}

TEST(SimNetwork, DeliversWithinTheDelayBoundsInSendOrderPerStep) {
  network_options options;
  options.min_delay = 2;
  options.max_delay = 5;
  sim_network net(options, prng(1));
  for (int i = 0; i < 100; ++i) net.send({1, 1, 2, raft::heartbeat_request{i, 0, 0}}, 10);
  size_t got = 0;
  for (uint64_t now = 10; now <= 20; ++now) {
    auto due = net.take_due(now);
    if (now < 12) {
      EXPECT_TRUE(due.empty());
    }
    got += due.size();
  }
  EXPECT_EQ(got, 100u);
  EXPECT_EQ(net.in_flight(), 0u);
}

TEST(SimNetwork, ReordersLosesAndDuplicatesAtTheGivenRates) {
  network_options options;
  options.loss = 0.2;
  options.duplicate = 0.1;
  options.min_delay = 1;
  options.max_delay = 10;
  sim_network net(options, prng(2));
  for (int i = 0; i < 1000; ++i) net.send({1, 1, 2, raft::heartbeat_request{i, 0, 0}}, 0);
  std::vector<raft::term_t> order;
  for (uint64_t now = 0; now <= 11; ++now) {
    for (const raft::message& m : net.take_due(now)) order.push_back(raft::message_term(m.body));
  }
  EXPECT_GT(net.stats().lost, 150u);
  EXPECT_LT(net.stats().lost, 250u);
  EXPECT_GT(net.stats().duplicated, 50u);
  EXPECT_EQ(order.size(), 1000 - net.stats().lost + net.stats().duplicated);
  EXPECT_FALSE(std::is_sorted(order.begin(), order.end()));
}

TEST(SimNetwork, CutLinksDropMessagesInFlightAndOneWayCutsAreOneWay) {
  sim_network net({}, prng(3));
  net.send({1, 1, 2, raft::heartbeat_request{}}, 0);
  net.send({1, 2, 1, raft::heartbeat_request{}}, 0);
  net.cut(1, 2);
  auto due = net.take_due(100);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].from, 2);
  net.partition({1}, {1, 2, 3});
  EXPECT_TRUE(net.is_cut(3, 1));
  EXPECT_TRUE(net.is_cut(1, 3));
  EXPECT_FALSE(net.is_cut(2, 3));
  net.heal();
  EXPECT_FALSE(net.partitioned());
}

TEST(KvMachine, CommandsRoundTripAndGarbageIsRefused) {
  kv_command c{3, 42, "key", "value"};
  auto decoded = decode_command(encode_command(c));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, c);
  EXPECT_FALSE(decode_command(base::shared_bytes::copy_of(std::string_view("junk"))));
  base::shared_bytes bytes = encode_command(c);
  EXPECT_FALSE(decode_command(bytes.slice(0, bytes.size() - 1)));
}

TEST(KvMachine, AppliesDataSkipsRaftEntriesAndSnapshotsRoundTrip) {
  kv_machine kv;
  raft::entry put = make_entry(1, 1, 3);
  put.data = encode_command({1, 1, "a", "1"});
  raft::entry noop = make_entry(4, 1);
  noop.type = raft::entry_type::leader_change;
  ASSERT_TRUE(kv.apply(put));
  EXPECT_FALSE(kv.apply(noop));
  EXPECT_EQ(kv.get("a"), "1");
  EXPECT_EQ(kv.get("b"), std::nullopt);
  kv_machine copy;
  ASSERT_TRUE(copy.restore(kv.snapshot().span()));
  EXPECT_EQ(copy.digest(), kv.digest());
  EXPECT_EQ(copy.get("a"), "1");
  EXPECT_FALSE(copy.restore(encode_command({1, 1, "a", "1"}).span()));
  EXPECT_TRUE(copy.restore({}));
  EXPECT_EQ(copy.size(), 0u);
  raft::entry junk = make_entry(5, 1);
  EXPECT_THROW(kv.apply(junk), std::runtime_error);
}

TEST(Prng, SameSeedSameStreamAndStreamsDiffer) {
  prng a(9), b(9);
  prng c = a.derive(1), d = a.derive(2);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.next(), b.next());
  EXPECT_NE(c.next(), d.next());
  prng r(1);
  for (int i = 0; i < 1000; ++i) {
    int64_t v = r.range(-2, 2);
    EXPECT_GE(v, -2);
    EXPECT_LE(v, 2);
  }
}

}  // namespace
}  // namespace sluice::sim
