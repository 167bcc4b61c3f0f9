#include "raft/node.h"

#include <gtest/gtest.h>

#include "raft/tests/memory_store.h"

namespace sluice::raft {
namespace {

using testing::harness;

base::shared_bytes bytes(std::string_view text) { return base::shared_bytes::copy_of(text); }

std::vector<std::string> applied_data(harness& h, node_id id) {
  std::vector<std::string> out;
  for (const entry& e : h.applied(id))
    if (e.type == entry_type::data) out.emplace_back(e.data.as_string_view());
  return out;
}

TEST(Node, OneVoterElectsItselfAndCommitsOnceDurable) {
  harness h({1});
  h.at(1).campaign();
  h.settle();
  ASSERT_EQ(h.at(1).current_role(), role::leader);
  auto index = h.at(1).propose(bytes("a"));
  ASSERT_TRUE(index.ok());
  EXPECT_EQ(h.at(1).commit_index(), 1);  // the leader's no-op only
  h.settle();
  EXPECT_EQ(h.at(1).commit_index(), *index);
  EXPECT_EQ(applied_data(h, 1), std::vector<std::string>{"a"});
}

TEST(Node, ThreeVotersElectOneLeaderAndReplicate) {
  harness h({1, 2, 3});
  node_id leader = h.elect();
  ASSERT_NE(leader, no_node);
  for (node_id id : {1, 2, 3}) {
    if (id != leader) {
      EXPECT_EQ(h.at(id).current_role(), role::follower);
    }
    EXPECT_EQ(h.at(id).leader(), leader);
  }
  ASSERT_TRUE(h.at(leader).propose(bytes("x"), 3).ok());
  ASSERT_TRUE(h.at(leader).propose(bytes("y")).ok());
  // Followers learn the commit index from the next heartbeat.
  h.tick(2);
  for (node_id id : {1, 2, 3}) {
    EXPECT_EQ(applied_data(h, id), (std::vector<std::string>{"x", "y"})) << id;
    EXPECT_EQ(h.at(id).commit_index(), 5);  // no-op 1, x 2..4, y 5
  }
}

TEST(Node, FollowerAcknowledgesOnlyDurableEntries) {
  // Without on_persisted on the followers the leader must not commit.
  testing::memory_store s1({{1, 2, 3}}), s2({{1, 2, 3}}), s3({{1, 2, 3}});
  uint64_t r = 7;
  auto random = [&] { return r++; };
  node n1({.id = 1}, s1, random), n2({.id = 2}, s2, random), n3({.id = 3}, s3, random);
  std::map<node_id, node*> nodes{{1, &n1}, {2, &n2}, {3, &n3}};
  n1.campaign();
  // Deliver without ever reporting follower writes durable.
  for (int round = 0; round < 20; ++round) {
    for (auto& [id, n] : nodes) {
      if (!n->has_ready()) continue;
      ready rd = n->take_ready();
      (id == 1 ? s1 : id == 2 ? s2 : s3).save(rd);
      if (id == 1 && !rd.entries.empty())
        n->on_persisted(rd.entries.back().last_index(), rd.entries.back().term);
      for (message& m : rd.messages) nodes[m.to]->step(std::move(m));
    }
  }
  ASSERT_EQ(n1.current_role(), role::leader);
  EXPECT_EQ(n1.last_index(), 1);
  EXPECT_EQ(n1.commit_index(), 0);
  n2.on_persisted(1, n1.term());
  ready rd = n2.take_ready();
  ASSERT_EQ(rd.messages.size(), 1u);
  n1.step(std::move(rd.messages[0]));
  EXPECT_EQ(n1.commit_index(), 1);
}

TEST(Node, VoteIsSavedInTheSameReadyAsTheGrant) {
  testing::memory_store s1({{1, 2, 3}}), s2({{1, 2, 3}});
  uint64_t r = 0;
  node n1({.id = 1}, s1, [&] { return r++; }), n2({.id = 2}, s2, [&] { return r++; });
  n1.campaign();
  ready pre = n1.take_ready();
  ASSERT_EQ(pre.messages.size(), 2u);
  n2.step(pre.messages[0]);  // pre-vote: no term change, no vote recorded
  ready pre_answer = n2.take_ready();
  EXPECT_FALSE(pre_answer.hard_state_to_save);
  n1.step(pre_answer.messages.at(0));
  ready vote = n1.take_ready();
  ASSERT_TRUE(vote.hard_state_to_save);
  EXPECT_EQ(vote.hard_state_to_save->voted_for, 1);
  n2.step(vote.messages.at(0));
  ready grant = n2.take_ready();
  ASSERT_TRUE(grant.hard_state_to_save);
  EXPECT_EQ(grant.hard_state_to_save->voted_for, 1);
  ASSERT_EQ(grant.messages.size(), 1u);
  EXPECT_TRUE(std::get<vote_response>(grant.messages[0].body).granted);
}

TEST(Node, IsolatedFollowerDoesNotRaiseItsTerm) {
  harness h({1, 2, 3});
  node_id leader = h.elect();
  node_id loner = leader == 3 ? 2 : 3;
  term_t term = h.at(leader).term();
  h.isolate(loner);
  h.tick(100);
  EXPECT_EQ(h.at(loner).term(), term);  // pre-vote never succeeds
  h.heal();
  h.tick(5);
  EXPECT_EQ(h.at(leader).current_role(), role::leader);
  EXPECT_EQ(h.at(leader).term(), term);
}

TEST(Node, IsolatedLeaderStepsDownAndMajorityElectsAnother) {
  harness h({1, 2, 3});
  node_id old_leader = h.elect();
  h.isolate(old_leader);
  h.tick(40);
  EXPECT_NE(h.at(old_leader).current_role(), role::leader);  // check-quorum
  node_id leader = h.elect();
  ASSERT_NE(leader, no_node);
  EXPECT_NE(leader, old_leader);
  ASSERT_TRUE(h.at(leader).propose(bytes("after")).ok());
  h.heal();
  h.tick(5);
  EXPECT_EQ(applied_data(h, old_leader), std::vector<std::string>{"after"});
}

TEST(Node, DivergentFollowerLogIsRepaired) {
  harness h({1, 2, 3});
  node_id leader = h.elect();
  ASSERT_TRUE(h.at(leader).propose(bytes("committed")).ok());
  h.tick();
  // Entries the cut-off leader appends alone never commit and are replaced.
  h.isolate(leader);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(h.at(leader).propose(bytes("lost"), 2).ok());
  h.settle();
  h.tick(40);
  node_id next = h.elect();
  ASSERT_NE(next, leader);
  ASSERT_TRUE(h.at(next).propose(bytes("new")).ok());
  h.tick();
  h.heal();
  h.tick(10);
  EXPECT_EQ(applied_data(h, leader), (std::vector<std::string>{"committed", "new"}));
  EXPECT_EQ(h.at(leader).last_index(), h.at(next).last_index());
}

TEST(Node, ALongDivergentTailIsSkippedATermAtATime) {
  harness h({1, 2, 3});
  node_id old_leader = h.elect();
  h.isolate(old_leader);
  // 1,500 entries of the old term that never commit.
  for (int i = 0; i < 1500; ++i) ASSERT_TRUE(h.at(old_leader).propose(bytes("stale")).ok());
  h.settle();
  h.tick(40);
  node_id leader = h.elect();
  ASSERT_NE(leader, old_leader);
  ASSERT_TRUE(h.at(leader).propose(bytes("fresh")).ok());
  h.tick();
  int before = h.rejections();
  h.heal();
  h.tick(10);
  EXPECT_EQ(h.at(old_leader).last_index(), h.at(leader).last_index());
  EXPECT_EQ(applied_data(h, old_leader), std::vector<std::string>{"fresh"});
  // One entry at a time would take about 1,500.
  EXPECT_LE(h.rejections() - before, 4);
}

TEST(Node, AReadIsAnsweredWhenTheConfigurationShrinksToTheLeader) {
  harness h({1, 2});
  node_id leader = h.elect();
  node_id other = leader == 1 ? 2 : 1;
  h.tick();
  h.cut(leader, other);
  ASSERT_TRUE(h.at(leader).read_index(7).ok());
  h.settle();
  EXPECT_TRUE(h.reads(leader).empty());
  ASSERT_TRUE(h.at(leader).change_configuration({config_change::kind::remove_node, other}).ok());
  h.settle();
  ASSERT_EQ(h.reads(leader).size(), 1u);
  EXPECT_EQ(h.reads(leader)[0].request, 7u);
  EXPECT_GE(h.reads(leader)[0].index, 0);
}

TEST(Node, UnansweredReadsFailAfterAnElectionTimeout) {
  node_options options;
  options.id = 1;
  options.check_quorum = false;  // the leader never steps down by itself
  testing::memory_store store({{1, 2, 3}});
  uint64_t r = 0;
  node n(options, store, [&] { return r++; });
  n.campaign();
  // Make it leader by hand: nobody answers, so drive the votes directly.
  for (node_id voter : {2, 3}) n.step({0, voter, 1, vote_response{n.term() + 1, true, true}});
  for (node_id voter : {2, 3}) n.step({0, voter, 1, vote_response{n.term(), true, false}});
  ASSERT_EQ(n.current_role(), role::leader);
  store.save(n.take_ready());
  // Commit the no-op with one follower's acknowledgement.
  n.on_persisted(1, n.term());
  n.step({0, 2, 1, append_response{n.term(), true, 1, 0, 0}});
  ASSERT_TRUE(n.read_index(9).ok());
  std::vector<read_state> reads;
  for (int i = 0; i < 3 * options.election_ticks && reads.empty(); ++i) {
    n.tick();
    for (const read_state& read : n.take_ready().reads) reads.push_back(read);
  }
  ASSERT_EQ(reads.size(), 1u);
  EXPECT_EQ(reads[0].index, -1);
}

TEST(Node, AnEntryLargerThanAnAppendIsRefused) {
  harness h({1});
  h.at(1).campaign();
  h.settle();
  std::string huge((1 << 20) + 1, 'x');
  auto refused = h.at(1).propose(bytes(huge));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error(), refusal::entry_too_large);
}

TEST(Node, ReadIndexWaitsForAQuorumOfHeartbeats) {
  harness h({1, 2, 3});
  node_id leader = h.elect();
  h.tick();
  ASSERT_TRUE(h.at(leader).read_index(42).ok());
  h.settle();
  ASSERT_EQ(h.reads(leader).size(), 1u);
  EXPECT_EQ(h.reads(leader)[0].request, 42u);
  EXPECT_EQ(h.reads(leader)[0].index, h.at(leader).commit_index());
  // A cut-off leader cannot confirm it still leads.
  h.isolate(leader);
  ASSERT_TRUE(h.at(leader).read_index(43).ok());
  h.settle();
  EXPECT_EQ(h.reads(leader).size(), 1u);
  h.tick(40);
  ASSERT_EQ(h.reads(leader).size(), 2u);
  EXPECT_EQ(h.reads(leader)[1].index, -1);  // failed when it stepped down
}

TEST(Node, LeadershipMovesToTheTransferTarget) {
  harness h({1, 2, 3});
  node_id leader = h.elect();
  node_id target = leader == 1 ? 2 : 1;
  ASSERT_TRUE(h.at(leader).propose(bytes("v")).ok());
  ASSERT_TRUE(h.at(leader).transfer_leadership(target).ok());
  h.settle();
  EXPECT_EQ(h.at(target).current_role(), role::leader);
  EXPECT_EQ(h.at(leader).leader(), target);
}

TEST(Node, LearnerCatchesUpThenVotes) {
  harness h({1, 2, 3});
  node_id leader = h.elect();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(h.at(leader).propose(bytes("d")).ok());
  h.tick();
  h.add(4, configuration{});
  ASSERT_TRUE(h.at(leader).change_configuration({config_change::kind::add_learner, 4}).ok());
  // One change at a time.
  EXPECT_FALSE(h.at(leader).change_configuration({config_change::kind::remove_node, 3}).ok());
  h.tick(3);
  EXPECT_TRUE(h.at(4).config().is_learner(4));
  EXPECT_EQ(applied_data(h, 4).size(), 10u);
  ASSERT_TRUE(h.at(leader).change_configuration({config_change::kind::promote_learner, 4}).ok());
  h.tick(3);
  EXPECT_TRUE(h.at(4).config().is_voter(4));
  ASSERT_TRUE(h.at(leader).change_configuration({config_change::kind::remove_node, leader}).ok());
  h.tick(3);
  EXPECT_NE(h.at(leader).current_role(), role::leader);
  node_id next = h.elect();
  ASSERT_NE(next, no_node);
  EXPECT_NE(next, leader);
}

TEST(Node, LaggingFollowerGetsASnapshot) {
  harness h({1, 2, 3});
  node_id leader = h.elect();
  node_id lagging = leader == 3 ? 2 : 3;
  h.crash(lagging);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(h.at(leader).propose(bytes("s")).ok());
  h.tick();
  snapshot_meta meta{h.at(leader).applied_index(),
                     *h.at(leader).term_at(h.at(leader).applied_index()), h.at(leader).config()};
  h.store(leader).compact(meta);
  h.at(leader).on_snapshot(meta);
  ASSERT_TRUE(h.at(leader).propose(bytes("tail")).ok());
  h.tick();
  h.start(lagging);
  h.tick(5);
  EXPECT_EQ(h.store(lagging).snapshot_metadata().index, meta.index);
  EXPECT_EQ(applied_data(h, lagging), std::vector<std::string>{"tail"});
  EXPECT_EQ(h.at(lagging).commit_index(), h.at(leader).commit_index());
}

TEST(Node, RestartKeepsTermVoteAndLog) {
  harness h({1, 2, 3});
  node_id leader = h.elect();
  ASSERT_TRUE(h.at(leader).propose(bytes("kept")).ok());
  h.tick();
  term_t term = h.at(leader).term();
  for (node_id id : {1, 2, 3}) {
    h.crash(id);
    h.start(id);
    EXPECT_EQ(h.at(id).term(), term);
    EXPECT_EQ(h.at(id).last_index(), 2);
  }
  node_id next = h.elect();
  ASSERT_NE(next, no_node);
  EXPECT_GT(h.at(next).term(), term);
}

}  // namespace
}  // namespace sluice::raft
