// Focused, scripted runs of the simulated cluster: each drives one Raft
// behaviour (election, check-quorum, pre-vote, crash recovery, leadership
// transfer, membership change, snapshot catch-up) and checks its outcome
// and, after every step, the safety invariants.

#include "sim/cluster.h"

#include <gtest/gtest.h>

#include "sim/scenario.h"

namespace sluice::sim {
namespace {

// A quiet network and quick disk: the tests add the faults they are about.
cluster_options calm(int nodes = 3) {
  cluster_options o;
  o.nodes = nodes;
  o.node.election_ticks = 10;
  o.node.heartbeat_ticks = 1;
  o.steps_per_tick = 2;
  o.network.min_delay = 1;
  o.network.max_delay = 2;
  o.min_sync_steps = 0;
  o.max_sync_steps = 2;
  return o;
}

// Steps in a few election timeouts: the bound for anything that should
// happen promptly.
constexpr uint64_t prompt = 10 * 2 * 2 * 10;

std::optional<node_id> elect(cluster& c) {
  EXPECT_TRUE(c.run_until([&] { return c.leader().has_value(); }, prompt))
      << c.checks().violation();
  return c.leader();
}

// Proposes key=value on the leader, retrying refusals, and waits until every
// running member has applied it.
void put(cluster& c, const std::string& key, const std::string& value) {
  static uint64_t op = 0;
  ++op;
  bool accepted = c.run_until(
      [&] {
        std::optional<node_id> leader = c.leader();
        return leader && c.propose(*leader, {9, op, key, value}).ok();
      },
      prompt);
  ASSERT_TRUE(accepted) << c.checks().violation();
  bool applied = c.run_until(
      [&] {
        for (node_id id : c.members()) {
          if (c.is_up(id) && c.kv(id).get(key) != value) return false;
        }
        return true;
      },
      prompt);
  ASSERT_TRUE(applied) << c.checks().violation();
}

TEST(Cluster, ThreeNodesElectOneLeaderAndCommit) {
  cluster c(calm(), 1);
  std::optional<node_id> leader = elect(c);
  ASSERT_TRUE(leader);
  put(c, "a", "1");
  put(c, "b", "2");
  for (node_id id : c.members()) {
    EXPECT_EQ(c.kv(id).get("a"), "1");
    EXPECT_EQ(c.node(id)->leader(), *leader);
  }
  EXPECT_EQ(c.checks().leaders_elected(), 1u);
  EXPECT_FALSE(c.failed()) << c.checks().violation();
}

TEST(Cluster, MultiOffsetEntriesCommitAndApplyInOrder) {
  cluster c(calm(), 2);
  ASSERT_TRUE(elect(c));
  for (int i = 0; i < 10; ++i) {
    node_id leader = *c.leader();
    ASSERT_TRUE(
        c.propose(leader, {1, static_cast<uint64_t>(i), "k", std::to_string(i)}, 1 + i % 3).ok());
  }
  ASSERT_TRUE(c.run_until(
      [&] {
        for (node_id id : c.members()) {
          if (c.kv(id).get("k") != "9") return false;
        }
        return true;
      },
      prompt));
  EXPECT_GE(c.checks().highest_committed(), 20);
  EXPECT_FALSE(c.failed()) << c.checks().violation();
}

TEST(Cluster, APartitionedLeaderStepsDownAndTheMajorityElectsAnother) {
  cluster c(calm(5), 3);
  node_id old = *elect(c);
  put(c, "a", "1");
  raft::term_t old_term = c.node(old)->term();
  c.network().isolate(old, c.members());
  ASSERT_TRUE(c.run_until(
      [&] {
        std::optional<node_id> leader = c.leader();
        return c.node(old)->current_role() != raft::role::leader && leader && *leader != old;
      },
      prompt))
      << c.checks().violation();
  EXPECT_GT(c.node(*c.leader())->term(), old_term);
  // The majority side keeps committing.
  bool accepted = c.run_until(
      [&] {
        std::optional<node_id> leader = c.leader();
        return leader && c.propose(*leader, {1, 1, "b", "2"}).ok();
      },
      prompt);
  ASSERT_TRUE(accepted);
  ASSERT_TRUE(c.run_until(
      [&] {
        std::optional<node_id> leader = c.leader();
        return leader && c.kv(*leader).get("b") == "2";
      },
      prompt));
  EXPECT_NE(c.kv(old).get("b"), "2");
  c.network().heal();
  ASSERT_TRUE(c.run_until([&] { return c.kv(old).get("b") == "2"; }, prompt));
  EXPECT_FALSE(c.failed()) << c.checks().violation();
}

TEST(Cluster, AnIsolatedFollowerCannotDisruptTheClusterWhenItReturns) {
  cluster c(calm(), 4);
  node_id leader = *elect(c);
  put(c, "a", "1");
  node_id follower = leader == 1 ? 2 : 1;
  raft::term_t term = c.node(leader)->term();
  c.network().isolate(follower, c.members());
  for (int i = 0; i < 20 * 20 && !c.failed(); ++i) c.step();  // ~20 election timeouts
  // Pre-vote: the isolated node never won a pre-vote, so never raised its term.
  EXPECT_EQ(c.node(follower)->term(), term);
  c.network().heal();
  for (int i = 0; i < 200 && !c.failed(); ++i) c.step();
  EXPECT_EQ(c.leader(), leader);
  EXPECT_EQ(c.node(leader)->term(), term);
  put(c, "b", "2");
  EXPECT_EQ(c.kv(follower).get("b"), "2");
  EXPECT_FALSE(c.failed()) << c.checks().violation();
}

TEST(Cluster, ACrashedLeaderIsReplacedAndCatchesUpAfterRestart) {
  cluster_options o = calm();
  o.max_sync_steps = 6;  // leave unsynced entries for the crash to lose
  cluster c(o, 5);
  node_id old = *elect(c);
  put(c, "a", "1");
  c.crash(old);
  EXPECT_FALSE(c.is_up(old));
  std::optional<node_id> next = elect(c);
  ASSERT_TRUE(next);
  EXPECT_NE(*next, old);
  put(c, "b", "2");
  c.restart(old);
  ASSERT_TRUE(c.run_until([&] { return c.kv(old).get("b") == "2"; }, prompt))
      << c.checks().violation();
  EXPECT_EQ(c.kv(old).get("a"), "1");
  EXPECT_EQ(c.stats().crashes, 1u);
  EXPECT_FALSE(c.failed()) << c.checks().violation();
}

TEST(Cluster, LeadershipMovesToTheChosenTarget) {
  cluster c(calm(5), 6);
  node_id leader = *elect(c);
  put(c, "a", "1");
  node_id target = leader == 5 ? 4 : 5;
  ASSERT_TRUE(c.transfer_leadership(leader, target).ok());
  ASSERT_TRUE(c.run_until([&] { return c.leader() == target; }, prompt)) << c.checks().violation();
  put(c, "b", "2");
  EXPECT_FALSE(c.failed()) << c.checks().violation();
}

TEST(Cluster, ALearnerIsAddedCatchesUpAndIsPromoted) {
  cluster c(calm(), 7);
  ASSERT_TRUE(elect(c));
  put(c, "a", "1");
  node_id fresh = c.add_node();
  EXPECT_EQ(fresh, 4);
  ASSERT_TRUE(c.run_until(
      [&] {
        return c.change_configuration(*c.leader(), {raft::config_change::kind::add_learner, fresh})
            .ok();
      },
      prompt));
  ASSERT_TRUE(c.run_until([&] { return c.kv(fresh).get("a") == "1"; }, prompt))
      << c.checks().violation();
  EXPECT_TRUE(c.node(*c.leader())->config().is_learner(fresh));
  ASSERT_TRUE(c.run_until(
      [&] {
        return c.leader() && c.change_configuration(
                                  *c.leader(), {raft::config_change::kind::promote_learner, fresh})
                                 .ok();
      },
      prompt))
      << c.checks().violation();
  ASSERT_TRUE(c.run_until([&] { return c.checks().committed_config().is_voter(fresh); }, prompt))
      << c.checks().violation();
  EXPECT_EQ(c.checks().committed_config().voters.size(), 4u);
  put(c, "b", "2");
  EXPECT_EQ(c.kv(fresh).get("b"), "2");
  EXPECT_FALSE(c.failed()) << c.checks().violation();
}

TEST(Cluster, ARemovedVoterLeavesAndTheRestCarryOn) {
  cluster c(calm(5), 8);
  node_id leader = *elect(c);
  put(c, "a", "1");
  node_id gone = leader == 1 ? 2 : 1;
  ASSERT_TRUE(c.run_until(
      [&] {
        return c.change_configuration(*c.leader(), {raft::config_change::kind::remove_node, gone})
            .ok();
      },
      prompt));
  ASSERT_TRUE(c.run_until([&] { return !c.checks().committed_config().contains(gone); }, prompt))
      << c.checks().violation();
  c.decommission(gone);
  put(c, "b", "2");
  EXPECT_EQ(c.members().size(), 4u);
  EXPECT_FALSE(c.failed()) << c.checks().violation();
}

TEST(Cluster, ALaggingFollowerCatchesUpFromASnapshot) {
  cluster_options o = calm();
  o.snapshot_every = 10;
  cluster c(o, 9);
  node_id leader = *elect(c);
  node_id lagging = leader == 3 ? 2 : 3;
  c.crash(lagging);
  for (int i = 0; i < 40; ++i) put(c, "k" + std::to_string(i % 5), std::to_string(i));
  EXPECT_GT(c.stats().snapshots_taken, 0u);
  EXPECT_GT(c.disk(*c.leader()).snapshot_metadata().index, 0);
  c.restart(lagging);
  ASSERT_TRUE(
      c.run_until([&] { return c.kv(lagging).digest() == c.kv(*c.leader()).digest(); }, prompt))
      << c.checks().violation();
  EXPECT_GT(c.stats().snapshots_installed, 0u);
  EXPECT_FALSE(c.failed()) << c.checks().violation();
}

TEST(Cluster, ACrashOfEveryNodeLosesNothingCommitted) {
  cluster_options o = calm();
  o.max_sync_steps = 8;
  o.torn_probability = 0.5;
  cluster c(o, 10);
  ASSERT_TRUE(elect(c));
  for (int i = 0; i < 10; ++i) put(c, "k", std::to_string(i));
  for (node_id id : c.members()) c.crash(id);
  for (node_id id : c.members()) c.restart(id);
  ASSERT_TRUE(elect(c));
  put(c, "after", "1");
  for (node_id id : c.members()) EXPECT_EQ(c.kv(id).get("k"), "9");
  EXPECT_FALSE(c.failed()) << c.checks().violation();
}

TEST(Cluster, TheInvariantsCatchABrokenHistory) {
  // The checks must be able to fail: feed them two leaders of one term and
  // two different entries applied at one index.
  invariants checks(raft::configuration{{1, 2, 3}, {}});
  checks.on_role(1, raft::role::leader, 3);
  EXPECT_FALSE(checks.failed());
  checks.on_role(2, raft::role::leader, 3);
  EXPECT_TRUE(checks.failed());
  EXPECT_NE(checks.violation().find("election safety"), std::string::npos);

  invariants apply(raft::configuration{{1, 2, 3}, {}});
  raft::entry a{1, 1, 1, raft::entry_type::data, encode_command({1, 1, "k", "a"})};
  raft::entry b{1, 1, 1, raft::entry_type::data, encode_command({1, 2, "k", "b"})};
  apply.on_apply(1, a, 1);
  apply.on_apply(2, b, 1);
  EXPECT_NE(apply.violation().find("state machine safety"), std::string::npos);

  invariants matching(raft::configuration{{1, 2, 3}, {}});
  matching.on_write(1, 0, {a});
  raft::entry a2 = a;
  a2.index = 2;
  matching.on_write(1, 1, {a2});
  matching.on_write(2, 2, {a2});  // the same (2, 1) after another term
  EXPECT_NE(matching.violation().find("log matching"), std::string::npos);

  invariants votes(raft::configuration{{1, 2, 3}, {}});
  votes.on_hard_state(1, {2, 1}, {2, 3});
  EXPECT_NE(votes.violation().find("vote safety"), std::string::npos);
}

TEST(Cluster, TheSameSeedReplaysTheSameRun) {
  for (int nodes : {3, 5}) {
    scenario s = scenario::generate(12345, nodes, 1500);
    run_report first = run(s);
    run_report second = run(s);
    EXPECT_TRUE(first.ok) << first.failure_report(s);
    EXPECT_EQ(first.trace_hash, second.trace_hash);
    EXPECT_EQ(first.steps_run, second.steps_run);
    EXPECT_EQ(first.operations, second.operations);
    run_report other = run(scenario::generate(12346, nodes, 1500));
    EXPECT_NE(first.trace_hash, other.trace_hash);
  }
}

}  // namespace
}  // namespace sluice::sim
