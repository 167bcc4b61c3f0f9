#include "coordinator/group.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/byte_writer.h"
#include "protocol/messages/consumer_protocol_subscription.h"

// The rules below are Apache Kafka's classic group coordinator (3.x,
// kafka.coordinator.group.GroupCoordinator and GroupMetadata): the tests name
// the Kafka rule each one checks.

namespace sluice::protocol {
// Error codes by name in failure messages.
inline void PrintTo(error_code code, std::ostream* os) {
  *os << error_name(code) << " (" << static_cast<int>(code) << ")";
}
}  // namespace sluice::protocol

namespace sluice::coordinator {
inline void PrintTo(group_state state, std::ostream* os) { *os << group_state_name(state); }
inline void PrintTo(const topic_partition_key& key, std::ostream* os) {
  *os << key.topic << "-" << key.partition;
}
}  // namespace sluice::coordinator

namespace sluice::coordinator {
namespace {

using protocol::error_code;
using protocol_list = std::vector<std::pair<std::string, base::shared_bytes>>;
using assignment_list = std::vector<std::pair<std::string, base::shared_bytes>>;

constexpr int64_t t0 = 1'700'000'000'000;
constexpr int64_t no_deadline = std::numeric_limits<int64_t>::max();

base::shared_bytes bytes_of(std::string_view text) { return base::shared_bytes::copy_of(text); }
std::string text_of(const base::shared_bytes& bytes) { return std::string(bytes.as_string_view()); }
std::string assignment_for(const std::string& member_id) { return "assign:" + member_id; }
bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

group_limits limits_with(int32_t initial_delay_ms = 0, int32_t max_size = 1000) {
  group_limits limits;
  limits.min_session_timeout_ms = 6000;
  limits.max_session_timeout_ms = 1800000;
  limits.initial_rebalance_delay_ms = initial_delay_ms;
  limits.max_size = max_size;
  return limits;
}

// ConsumerProtocolSubscription as a Java consumer sends it in JoinGroup: an
// int16 version, then the struct of that version.
base::shared_bytes subscription(std::vector<std::string> topics, int16_t version) {
  protocol::consumer_protocol_subscription s;
  s.topics = std::move(topics);
  if (version >= 1) s.owned_partitions.push_back({s.topics.front(), {0, 2}});
  if (version >= 2) s.generation_id = 4;
  if (version >= 3) s.rack_id = "rack-b";
  base::byte_writer w;
  w.write_int16(version);
  s.encode(w, version);
  return base::shared_bytes(w.take());
}

// A consumer's JoinGroup as a current client (v4+) sends it the first time:
// no member id, one protocol "range" whose metadata names the client.
join_request member(const std::string& client_id, int32_t session_ms = 10000,
                    int32_t rebalance_ms = 30000) {
  join_request r;
  r.client_id = client_id;
  r.client_host = "/10.0.0.7";
  r.session_timeout_ms = session_ms;
  r.rebalance_timeout_ms = rebalance_ms;
  r.protocol_type = "consumer";
  r.protocols = {{"range", bytes_of("range/" + client_id)}};
  r.require_known_member_id = true;
  return r;
}

join_request static_member(const std::string& client_id, const std::string& instance_id,
                           int32_t session_ms = 10000, int32_t rebalance_ms = 30000) {
  join_request r = member(client_id, session_ms, rebalance_ms);
  r.group_instance_id = instance_id;
  return r;
}

join_request with_id(join_request r, const std::string& member_id) {
  r.member_id = member_id;
  return r;
}

join_request with_protocols(join_request r, protocol_list protocols) {
  r.protocols = std::move(protocols);
  return r;
}

// Records what a deferred JoinGroup answer said, and how often it came.
class join_probe {
 public:
  join_callback callback() const {
    auto results = results_;
    return [results](join_result r) { results->push_back(std::move(r)); };
  }
  bool answered() const { return !results_->empty(); }
  size_t calls() const { return results_->size(); }
  const join_result& result() const {
    static const join_result unanswered = [] {
      join_result r;
      r.error = error_code::unknown_server_error;
      r.member_id = "<no answer>";
      return r;
    }();
    return results_->empty() ? unanswered : results_->back();
  }
  error_code error() const { return result().error; }

 private:
  std::shared_ptr<std::vector<join_result>> results_ = std::make_shared<std::vector<join_result>>();
};

class sync_probe {
 public:
  sync_callback callback() const {
    auto results = results_;
    return [results](sync_result r) { results->push_back(std::move(r)); };
  }
  bool answered() const { return !results_->empty(); }
  size_t calls() const { return results_->size(); }
  const sync_result& result() const {
    static const sync_result unanswered = [] {
      sync_result r;
      r.error = error_code::unknown_server_error;
      return r;
    }();
    return results_->empty() ? unanswered : results_->back();
  }
  error_code error() const { return result().error; }
  std::string assignment() const { return text_of(result().assignment); }

 private:
  std::shared_ptr<std::vector<sync_result>> results_ = std::make_shared<std::vector<sync_result>>();
};

std::vector<std::string> member_ids(const join_result& r) {
  std::vector<std::string> ids;
  for (const auto& m : r.members) ids.push_back(m.member_id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

const join_member* find_member(const join_result& r, const std::string& id) {
  for (const auto& m : r.members) {
    if (m.member_id == id) return &m;
  }
  return nullptr;
}

const stored_member* find_member(const stored_group& s, const std::string& id) {
  for (const auto& m : s.members) {
    if (m.member_id == id) return &m;
  }
  return nullptr;
}

std::vector<std::string> ids_of(const std::map<std::string, group_member>& members) {
  std::vector<std::string> ids;
  for (const auto& [id, m] : members) ids.push_back(id);
  return ids;
}

committed_offset offset_at(int64_t offset, int64_t commit_ms, int64_t expire_ms = -1) {
  committed_offset o;
  o.offset = offset;
  o.commit_timestamp_ms = commit_ms;
  o.expire_timestamp_ms = expire_ms;
  return o;
}

std::vector<topic_partition_key> sorted_keys(std::vector<topic_partition_key> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// A group with a fake clock. Like the broker, the helpers call tick() at
// once when a call leaves a deadline that has already come (a rebalance with
// no delay left ends then).
class group_test : public ::testing::Test {
 protected:
  void SetUp() override { reset(limits_with()); }

  void reset(const group_limits& limits) {
    g_ = std::make_unique<group>("payments-app", limits, now_);
  }
  void restore(const group_limits& limits, const stored_group& stored) {
    g_ = std::make_unique<group>("payments-app", limits, stored, now_);
  }

  group& g() { return *g_; }
  int64_t now() const { return now_; }

  // Whatever is due now happens now, as the broker's timer would do it.
  void settle() {
    if (g_->next_deadline_ms() <= now_) g_->tick(now_);
  }

  // Moves the clock to `t`, ticking at every deadline on the way as the
  // broker's timer would.
  void advance_to(int64_t t) {
    int64_t last_tick = std::numeric_limits<int64_t>::min();
    for (int guard = 0; guard < 10000; ++guard) {
      int64_t next = g_->next_deadline_ms();
      if (next > t) break;
      int64_t at = std::max(next, now_);
      if (at == last_tick) break;  // a deadline tick() did not clear; go on to t
      now_ = at;
      g_->tick(now_);
      last_tick = now_;
    }
    now_ = t;
    g_->tick(now_);
  }
  void advance(int64_t ms) { advance_to(now_ + ms); }

  join_probe join(join_request r) {
    join_probe probe;
    g_->join(std::move(r), now_, probe.callback());
    settle();
    return probe;
  }

  // A new member's JoinGroup: a dynamic member of a v4+ client is first told
  // MEMBER_ID_REQUIRED with its id and joins again with it (KIP-394); a static
  // member or an old client joins at once. Returns the probe of the join that
  // enters the group.
  join_probe join_new(join_request r) {
    if (!r.group_instance_id && r.require_known_member_id && r.member_id.empty()) {
      join_probe first = join(r);
      EXPECT_EQ(first.error(), error_code::member_id_required);
      r.member_id = first.result().member_id;
    }
    return join(std::move(r));
  }

  sync_probe sync(sync_request r) {
    sync_probe probe;
    g_->sync(std::move(r), now_, probe.callback());
    settle();
    return probe;
  }
  sync_probe sync(const std::string& member_id, int32_t generation,
                  assignment_list assignments = {},
                  std::optional<std::string> instance_id = std::nullopt) {
    sync_request r;
    r.member_id = member_id;
    r.group_instance_id = std::move(instance_id);
    r.generation = generation;
    r.assignments = std::move(assignments);
    return sync(std::move(r));
  }

  error_code heartbeat(const std::string& member_id, int32_t generation,
                       std::optional<std::string> instance_id = std::nullopt) {
    error_code e =
        g_->heartbeat(member_identity{member_id, std::move(instance_id)}, generation, now_);
    settle();
    return e;
  }

  error_code leave(const std::string& member_id,
                   std::optional<std::string> instance_id = std::nullopt) {
    error_code e = g_->leave(member_identity{member_id, std::move(instance_id)}, now_);
    settle();
    return e;
  }

  error_code check_commit(const std::string& member_id, int32_t generation,
                          std::optional<std::string> instance_id = std::nullopt) {
    return g_->check_offset_commit(member_identity{member_id, std::move(instance_id)}, generation);
  }

  bool has_member(const std::string& id) { return g_->members().count(id) == 1; }

  // Members join one after the other, starting from a group with no members:
  // each newcomer starts a rebalance that the earlier members join again, so
  // the group ends in CompletingRebalance with one generation per member and
  // the first member as its leader. Returns the member ids in join order.
  std::vector<std::string> make_completing(const std::vector<join_request>& requests) {
    std::vector<std::string> ids;
    const int32_t start = g_->generation();
    for (size_t i = 0; i < requests.size(); ++i) {
      std::vector<join_probe> probes;
      probes.push_back(join_new(requests[i]));
      for (size_t j = 0; j < i; ++j) probes.push_back(join(with_id(requests[j], ids[j])));
      for (const auto& p : probes) {
        EXPECT_TRUE(p.answered()) << "setup: the join of member " << i << " did not complete";
        EXPECT_EQ(p.error(), error_code::none) << "setup, member " << i;
        EXPECT_EQ(p.result().generation, start + static_cast<int32_t>(i) + 1)
            << "setup, member " << i;
      }
      ids.push_back(probes.front().result().member_id);
    }
    EXPECT_EQ(g_->state(), group_state::completing_rebalance) << "setup";
    if (!ids.empty()) {
      EXPECT_EQ(g_->leader(), ids.front()) << "setup";
    }
    g_->clear_stored_changed();
    return ids;
  }

  // make_completing, then the leader assigns "assign:<member id>" to every
  // member and every member syncs: a Stable group.
  std::vector<std::string> make_stable(const std::vector<join_request>& requests) {
    std::vector<std::string> ids = make_completing(requests);
    if (ids.empty()) return ids;
    const int32_t generation = g_->generation();
    assignment_list assignments;
    for (const auto& id : ids) assignments.emplace_back(id, bytes_of(assignment_for(id)));
    sync_probe leader = sync(ids[0], generation, assignments, requests[0].group_instance_id);
    EXPECT_TRUE(leader.answered()) << "setup: the leader's sync";
    EXPECT_EQ(leader.error(), error_code::none) << "setup: the leader's sync";
    EXPECT_EQ(leader.assignment(), assignment_for(ids[0])) << "setup";
    for (size_t i = 1; i < ids.size(); ++i) {
      sync_probe follower = sync(ids[i], generation, {}, requests[i].group_instance_id);
      EXPECT_TRUE(follower.answered()) << "setup: sync of member " << i;
      EXPECT_EQ(follower.error(), error_code::none) << "setup: sync of member " << i;
      EXPECT_EQ(follower.assignment(), assignment_for(ids[i])) << "setup";
    }
    EXPECT_EQ(g_->state(), group_state::stable) << "setup";
    g_->clear_stored_changed();
    return ids;
  }

 private:
  int64_t now_ = t0;
  std::unique_ptr<group> g_;
};

using GroupState = group_test;
using GroupJoin = group_test;
using GroupProtocol = group_test;
using GroupHeartbeat = group_test;
using GroupSession = group_test;
using GroupSync = group_test;
using GroupLeave = group_test;
using GroupStatic = group_test;
using GroupOffsetCommit = group_test;
using GroupOffsets = group_test;
using GroupDelete = group_test;
using GroupStore = group_test;
using GroupAbort = group_test;
using GroupRestore = group_test;
using GroupInitialDelay = group_test;

// --- States.

TEST_F(GroupState, NamesAreKafkas) {
  EXPECT_EQ(group_state_name(group_state::empty), "Empty");
  EXPECT_EQ(group_state_name(group_state::preparing_rebalance), "PreparingRebalance");
  EXPECT_EQ(group_state_name(group_state::completing_rebalance), "CompletingRebalance");
  EXPECT_EQ(group_state_name(group_state::stable), "Stable");
  EXPECT_EQ(group_state_name(group_state::dead), "Dead");
}

TEST_F(GroupState, NewGroupIsEmptyAtGenerationZero) {
  EXPECT_EQ(g().id(), "payments-app");
  EXPECT_EQ(g().state(), group_state::empty);
  EXPECT_EQ(g().generation(), 0);
  EXPECT_TRUE(g().members().empty());
  EXPECT_EQ(g().leader(), "");
  EXPECT_FALSE(g().protocol_name().has_value());
  EXPECT_EQ(g().next_deadline_ms(), no_deadline);
  EXPECT_FALSE(g().stored_changed());
}

// --- JoinGroup.

// KIP-394: a v4+ member without an id gets one (client id + "-" + a UUID)
// with MEMBER_ID_REQUIRED, and joins with it.
TEST_F(GroupJoin, FirstJoinIsToldItsMemberIdThenCompletesTheRebalance) {
  join_probe first = join(member("alpha"));
  ASSERT_TRUE(first.answered()) << "MEMBER_ID_REQUIRED is answered at once";
  EXPECT_EQ(first.error(), error_code::member_id_required);
  const std::string id = first.result().member_id;
  EXPECT_TRUE(starts_with(id, "alpha-")) << id;
  EXPECT_GT(id.size(), std::string("alpha-").size()) << id;
  // Only a pending member so far: no member, no rebalance.
  EXPECT_EQ(g().state(), group_state::empty);
  EXPECT_TRUE(g().members().empty());

  join_probe second = join(with_id(member("alpha"), id));
  ASSERT_TRUE(second.answered());
  const join_result& r = second.result();
  EXPECT_EQ(r.error, error_code::none);
  EXPECT_EQ(r.generation, 1);
  EXPECT_EQ(r.member_id, id);
  EXPECT_EQ(r.leader, id);
  EXPECT_EQ(r.protocol_type, std::optional<std::string>("consumer"));
  EXPECT_EQ(r.protocol_name, std::optional<std::string>("range"));
  EXPECT_FALSE(r.skip_assignment);
  ASSERT_EQ(r.members.size(), 1u) << "the leader gets the member list";
  EXPECT_EQ(r.members[0].member_id, id);
  EXPECT_FALSE(r.members[0].group_instance_id.has_value());
  EXPECT_EQ(text_of(r.members[0].metadata), "range/alpha");

  EXPECT_EQ(g().state(), group_state::completing_rebalance);
  EXPECT_EQ(g().generation(), 1);
  EXPECT_EQ(g().leader(), id);
  EXPECT_EQ(g().protocol_type(), "consumer");
  EXPECT_EQ(g().protocol_name(), std::optional<std::string>("range"));
  ASSERT_TRUE(has_member(id));
  const group_member& m = g().members().at(id);
  EXPECT_EQ(m.client_id, "alpha");
  EXPECT_EQ(m.client_host, "/10.0.0.7");
  EXPECT_EQ(m.session_timeout_ms, 10000);
  EXPECT_EQ(m.rebalance_timeout_ms, 30000);
}

TEST_F(GroupJoin, EveryNewMemberGetsADistinctId) {
  join_probe a = join(member("alpha"));
  join_probe b = join(member("alpha"));
  ASSERT_TRUE(a.answered() && b.answered());
  EXPECT_EQ(a.error(), error_code::member_id_required);
  EXPECT_EQ(b.error(), error_code::member_id_required);
  EXPECT_NE(a.result().member_id, b.result().member_id);
}

// With no initial delay, the rebalance of the first member ends at once; the
// answer should not need a tick. (Kafka completes it from a 0 ms timer.)
TEST_F(GroupJoin, WithoutInitialDelayTheFirstJoinIsAnsweredInTheJoinCall) {
  join_probe first;
  g().join(member("alpha"), now(), first.callback());
  ASSERT_EQ(first.error(), error_code::member_id_required);
  join_probe second;
  g().join(with_id(member("alpha"), first.result().member_id), now(), second.callback());
  EXPECT_TRUE(second.answered());
  EXPECT_EQ(g().state(), group_state::completing_rebalance);
}

// JoinGroup v0-v3 (and v4+ never asks for static members): joins at once.
TEST_F(GroupJoin, OldClientJoinsWithoutTheMemberIdRoundTrip) {
  join_request r = member("legacy");
  r.require_known_member_id = false;
  join_probe p = join(r);
  ASSERT_TRUE(p.answered());
  EXPECT_EQ(p.error(), error_code::none);
  EXPECT_EQ(p.result().generation, 1);
  EXPECT_TRUE(starts_with(p.result().member_id, "legacy-")) << p.result().member_id;
  EXPECT_EQ(p.result().leader, p.result().member_id);
  EXPECT_EQ(g().state(), group_state::completing_rebalance);
  EXPECT_TRUE(has_member(p.result().member_id));
}

// SyncGroup from the leader in CompletingRebalance: the assignment is stored
// (GroupMetadataValue written) and the group is Stable.
TEST_F(GroupJoin, LeaderSyncMakesTheGroupStableAndStoresIt) {
  std::vector<std::string> ids = make_completing({member("alpha")});
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_FALSE(g().stored_changed());

  advance(250);
  sync_probe s = sync(ids[0], 1, {{ids[0], bytes_of("alpha-assignment")}});
  ASSERT_TRUE(s.answered());
  EXPECT_EQ(s.error(), error_code::none);
  EXPECT_EQ(s.assignment(), "alpha-assignment");
  EXPECT_EQ(s.result().protocol_type, std::optional<std::string>("consumer"));
  EXPECT_EQ(s.result().protocol_name, std::optional<std::string>("range"));
  EXPECT_EQ(g().state(), group_state::stable);
  EXPECT_EQ(text_of(g().members().at(ids[0]).assignment), "alpha-assignment");

  EXPECT_TRUE(g().stored_changed());
  stored_group stored = g().to_stored();
  EXPECT_EQ(stored.protocol_type, "consumer");
  EXPECT_EQ(stored.generation, 1);
  EXPECT_EQ(stored.protocol, std::optional<std::string>("range"));
  EXPECT_EQ(stored.leader, std::optional<std::string>(ids[0]));
  EXPECT_EQ(stored.current_state_timestamp_ms, g().state_timestamp_ms());
  EXPECT_EQ(g().state_timestamp_ms(), now()) << "Stable since the leader's sync";
  ASSERT_EQ(stored.members.size(), 1u);
  const stored_member& m = stored.members[0];
  EXPECT_EQ(m.member_id, ids[0]);
  EXPECT_FALSE(m.group_instance_id.has_value());
  EXPECT_EQ(m.client_id, "alpha");
  EXPECT_EQ(m.client_host, "/10.0.0.7");
  EXPECT_EQ(m.session_timeout_ms, 10000);
  EXPECT_EQ(m.rebalance_timeout_ms, 30000);
  EXPECT_EQ(text_of(m.subscription), "range/alpha");
  EXPECT_EQ(text_of(m.assignment), "alpha-assignment");
}

// A new member of a Stable group starts a rebalance; the others learn of it
// by REBALANCE_IN_PROGRESS on heartbeat and rejoin; the join completes when
// all have, and only the leader gets the member list.
TEST_F(GroupJoin, SecondMemberMakesTheGroupRebalance) {
  std::vector<std::string> ids = make_stable({member("alpha")});
  ASSERT_EQ(ids.size(), 1u);
  const std::string alpha = ids[0];

  advance(1000);
  join_probe pending = join(member("beta"));
  ASSERT_EQ(pending.error(), error_code::member_id_required);
  const std::string beta = pending.result().member_id;
  EXPECT_TRUE(starts_with(beta, "beta-")) << beta;
  EXPECT_EQ(g().state(), group_state::stable) << "a pending member id does not rebalance";

  join_probe b = join(with_id(member("beta"), beta));
  EXPECT_FALSE(b.answered()) << "waits for alpha to rejoin";
  EXPECT_EQ(g().state(), group_state::preparing_rebalance);
  EXPECT_TRUE(has_member(beta));
  EXPECT_EQ(heartbeat(alpha, 1), error_code::rebalance_in_progress);

  advance(500);
  join_probe a = join(with_id(member("alpha"), alpha));
  ASSERT_TRUE(a.answered());
  ASSERT_TRUE(b.answered());
  EXPECT_EQ(g().state(), group_state::completing_rebalance);
  EXPECT_EQ(g().generation(), 2);

  EXPECT_EQ(a.error(), error_code::none);
  EXPECT_EQ(a.result().generation, 2);
  EXPECT_EQ(a.result().leader, alpha);
  EXPECT_EQ(a.result().member_id, alpha);
  EXPECT_EQ(member_ids(a.result()), sorted({alpha, beta}));
  const join_member* bm = find_member(a.result(), beta);
  ASSERT_NE(bm, nullptr);
  EXPECT_EQ(text_of(bm->metadata), "range/beta");
  const join_member* am = find_member(a.result(), alpha);
  ASSERT_NE(am, nullptr);
  EXPECT_EQ(text_of(am->metadata), "range/alpha");

  EXPECT_EQ(b.error(), error_code::none);
  EXPECT_EQ(b.result().generation, 2);
  EXPECT_EQ(b.result().leader, alpha);
  EXPECT_EQ(b.result().member_id, beta);
  EXPECT_EQ(b.result().protocol_name, std::optional<std::string>("range"));
  EXPECT_EQ(b.result().protocol_type, std::optional<std::string>("consumer"));
  EXPECT_TRUE(b.result().members.empty()) << "followers get no member list";

  sync_probe bs = sync(beta, 2);
  EXPECT_FALSE(bs.answered()) << "a follower waits for the leader's assignment";
  sync_probe as = sync(alpha, 2, {{alpha, bytes_of("a0")}, {beta, bytes_of("b0")}});
  ASSERT_TRUE(as.answered());
  ASSERT_TRUE(bs.answered());
  EXPECT_EQ(as.error(), error_code::none);
  EXPECT_EQ(as.assignment(), "a0");
  EXPECT_EQ(bs.error(), error_code::none);
  EXPECT_EQ(bs.assignment(), "b0");
  EXPECT_EQ(bs.result().protocol_name, std::optional<std::string>("range"));
  EXPECT_EQ(g().state(), group_state::stable);

  stored_group stored = g().to_stored();
  EXPECT_EQ(stored.generation, 2);
  ASSERT_EQ(stored.members.size(), 2u);
  ASSERT_NE(find_member(stored, beta), nullptr);
  EXPECT_EQ(text_of(find_member(stored, beta)->assignment), "b0");
  EXPECT_EQ(text_of(find_member(stored, beta)->subscription), "range/beta");
  EXPECT_EQ(text_of(find_member(stored, alpha)->assignment), "a0");
}

// Stable: a follower rejoining with the same metadata gets the current
// generation back without a rebalance; with new metadata it rebalances.
TEST_F(GroupJoin, FollowerRejoinInStableGroup) {
  std::vector<std::string> ids = make_stable({member("alpha"), member("beta")});
  ASSERT_EQ(ids.size(), 2u);

  join_probe same = join(with_id(member("beta"), ids[1]));
  ASSERT_TRUE(same.answered());
  EXPECT_EQ(same.error(), error_code::none);
  EXPECT_EQ(same.result().generation, 2);
  EXPECT_EQ(same.result().leader, ids[0]);
  EXPECT_EQ(same.result().member_id, ids[1]);
  EXPECT_EQ(same.result().protocol_name, std::optional<std::string>("range"));
  EXPECT_TRUE(same.result().members.empty());
  EXPECT_EQ(g().state(), group_state::stable);
  EXPECT_EQ(heartbeat(ids[0], 2), error_code::none);

  join_probe changed =
      join(with_protocols(with_id(member("beta"), ids[1]), {{"range", bytes_of("range/beta-v2")}}));
  EXPECT_FALSE(changed.answered());
  EXPECT_EQ(g().state(), group_state::preparing_rebalance);
  EXPECT_EQ(heartbeat(ids[0], 2), error_code::rebalance_in_progress);
}

// Stable: the leader's JoinGroup always rebalances (it may have seen a
// metadata change the others have not).
TEST_F(GroupJoin, LeaderRejoinInStableGroupRebalances) {
  std::vector<std::string> ids = make_stable({member("alpha"), member("beta")});
  join_probe a = join(with_id(member("alpha"), ids[0]));
  EXPECT_FALSE(a.answered());
  EXPECT_EQ(g().state(), group_state::preparing_rebalance);

  join_probe b = join(with_id(member("beta"), ids[1]));
  ASSERT_TRUE(a.answered());
  ASSERT_TRUE(b.answered());
  EXPECT_EQ(a.result().generation, 3);
  EXPECT_EQ(a.result().leader, ids[0]);
  EXPECT_EQ(a.result().members.size(), 2u);
}

// CompletingRebalance: a member rejoining with the same metadata (it lost the
// answer) gets the current generation again; new metadata rebalances.
TEST_F(GroupJoin, RejoinDuringCompletingRebalance) {
  std::vector<std::string> ids = make_completing({member("alpha"), member("beta")});
  ASSERT_EQ(ids.size(), 2u);

  join_probe a = join(with_id(member("alpha"), ids[0]));
  ASSERT_TRUE(a.answered());
  EXPECT_EQ(a.error(), error_code::none);
  EXPECT_EQ(a.result().generation, 2);
  EXPECT_EQ(a.result().leader, ids[0]);
  EXPECT_EQ(member_ids(a.result()), sorted(ids)) << "the leader gets the member list again";
  EXPECT_EQ(g().state(), group_state::completing_rebalance);

  join_probe b = join(with_id(member("beta"), ids[1]));
  ASSERT_TRUE(b.answered());
  EXPECT_EQ(b.result().generation, 2);
  EXPECT_TRUE(b.result().members.empty());
  EXPECT_EQ(g().state(), group_state::completing_rebalance);

  join_probe changed =
      join(with_protocols(with_id(member("beta"), ids[1]), {{"range", bytes_of("range/beta-v2")}}));
  EXPECT_FALSE(changed.answered());
  EXPECT_EQ(g().state(), group_state::preparing_rebalance);
}

// onCompleteJoin: when the rebalance timeout (the largest of the members')
// ends, dynamic members that did not rejoin are removed.
TEST_F(GroupJoin, MemberThatDoesNotRejoinIsRemovedAtTheRebalanceTimeout) {
  std::vector<std::string> ids =
      make_stable({member("alpha", 60000, 30000), member("beta", 60000, 45000)});
  ASSERT_EQ(ids.size(), 2u);

  advance(1000);
  const int64_t started = now();
  join_probe a = join(with_id(member("alpha", 60000, 30000), ids[0]));
  EXPECT_FALSE(a.answered());
  EXPECT_LE(g().next_deadline_ms(), started + 45000);

  advance_to(started + 20000);
  EXPECT_EQ(heartbeat(ids[1], 2), error_code::rebalance_in_progress);
  advance_to(started + 44999);
  EXPECT_FALSE(a.answered()) << "the wait is the largest rebalance timeout, 45 s";
  EXPECT_TRUE(has_member(ids[1]));

  advance_to(started + 45000);
  ASSERT_TRUE(a.answered());
  EXPECT_EQ(a.error(), error_code::none);
  EXPECT_EQ(a.result().generation, 3);
  EXPECT_EQ(a.result().leader, ids[0]);
  EXPECT_EQ(member_ids(a.result()), std::vector<std::string>{ids[0]});
  EXPECT_FALSE(has_member(ids[1]));
  EXPECT_EQ(g().members().size(), 1u);
  EXPECT_EQ(g().state(), group_state::completing_rebalance);
  EXPECT_EQ(heartbeat(ids[1], 2), error_code::unknown_member_id);
}

// maybeElectNewJoinedLeader: a leader that did not rejoin is replaced by a
// member that did.
TEST_F(GroupJoin, LeaderThatDoesNotRejoinIsReplaced) {
  std::vector<std::string> ids = make_stable({member("alpha", 60000), member("beta", 60000)});
  advance(1000);
  const int64_t started = now();
  join_probe b = join(with_protocols(with_id(member("beta", 60000), ids[1]),
                                     {{"range", bytes_of("range/beta-v2")}}));
  EXPECT_FALSE(b.answered());
  EXPECT_EQ(g().state(), group_state::preparing_rebalance);

  advance_to(started + 30000);
  ASSERT_TRUE(b.answered());
  EXPECT_EQ(b.error(), error_code::none);
  EXPECT_EQ(b.result().generation, 3);
  EXPECT_EQ(b.result().leader, ids[1]);
  ASSERT_EQ(b.result().members.size(), 1u);
  EXPECT_EQ(text_of(b.result().members[0].metadata), "range/beta-v2");
  EXPECT_EQ(g().leader(), ids[1]);
  EXPECT_FALSE(has_member(ids[0]));
}

// handleJoinGroup: the session timeout must lie within
// [group.min.session.timeout.ms, group.max.session.timeout.ms].
TEST_F(GroupJoin, SessionTimeoutOutsideTheBrokerBoundsIsInvalid) {
  join_probe too_short = join(member("alpha", 5999));
  ASSERT_TRUE(too_short.answered());
  EXPECT_EQ(too_short.error(), error_code::invalid_session_timeout);
  join_probe too_long = join(member("alpha", 1800001));
  ASSERT_TRUE(too_long.answered());
  EXPECT_EQ(too_long.error(), error_code::invalid_session_timeout);
  EXPECT_EQ(g().state(), group_state::empty);
  EXPECT_TRUE(g().members().empty());

  join_probe lowest = join(member("alpha", 6000));
  EXPECT_EQ(lowest.error(), error_code::member_id_required);
  join_probe highest = join(member("alpha", 1800000));
  EXPECT_EQ(highest.error(), error_code::member_id_required);
}

// A member id the group does not know: UNKNOWN_MEMBER_ID, whatever the state.
TEST_F(GroupJoin, UnknownMemberIdIsRejected) {
  join_probe on_empty = join(with_id(member("alpha"), "ghost-1"));
  ASSERT_TRUE(on_empty.answered());
  EXPECT_EQ(on_empty.error(), error_code::unknown_member_id);
  EXPECT_EQ(g().state(), group_state::empty);

  std::vector<std::string> ids = make_stable({member("alpha")});
  join_probe on_stable = join(with_id(member("beta"), "ghost-2"));
  ASSERT_TRUE(on_stable.answered());
  EXPECT_EQ(on_stable.error(), error_code::unknown_member_id);
  EXPECT_EQ(g().state(), group_state::stable);
  EXPECT_EQ(g().members().size(), 1u);
}

// acceptJoiningMember, CompletingRebalance | Stable: a new member is accepted
// while the group has fewer than group.max.size members.
TEST_F(GroupJoin, FullGroupRejectsNewMembers) {
  reset(limits_with(0, 2));
  std::vector<std::string> ids = make_stable({member("alpha"), member("beta")});
  ASSERT_EQ(ids.size(), 2u);

  join_probe modern = join(member("gamma"));
  ASSERT_TRUE(modern.answered());
  EXPECT_EQ(modern.error(), error_code::group_max_size_reached);
  join_request old = member("gamma");
  old.require_known_member_id = false;
  join_probe legacy = join(old);
  ASSERT_TRUE(legacy.answered());
  EXPECT_EQ(legacy.error(), error_code::group_max_size_reached);
  EXPECT_EQ(g().state(), group_state::stable);
  EXPECT_EQ(g().members().size(), 2u);

  // Members already in are welcome.
  join_probe again = join(with_id(member("beta"), ids[1]));
  ASSERT_TRUE(again.answered());
  EXPECT_EQ(again.error(), error_code::none);
}

// acceptJoiningMember, PreparingRebalance: new members count against the
// members that have rejoined, so the last to rejoin of a full group are the
// ones turned away (and removed).
TEST_F(GroupJoin, FullGroupDuringRebalanceTurnsAwayTheLastToRejoin) {
  reset(limits_with(0, 2));
  std::vector<std::string> ids = make_stable({member("alpha"), member("beta")});
  join_probe a = join(with_id(member("alpha"), ids[0]));
  ASSERT_EQ(g().state(), group_state::preparing_rebalance);

  join_request old = member("gamma");
  old.require_known_member_id = false;
  join_probe c = join(old);
  EXPECT_FALSE(c.answered()) << "one member has rejoined, so gamma fits";

  join_probe b = join(with_id(member("beta"), ids[1]));
  ASSERT_TRUE(b.answered());
  EXPECT_EQ(b.error(), error_code::group_max_size_reached);
  EXPECT_FALSE(has_member(ids[1]));
  ASSERT_TRUE(a.answered());
  ASSERT_TRUE(c.answered());
  EXPECT_EQ(a.result().generation, 3);
  EXPECT_EQ(member_ids(a.result()), sorted({ids[0], c.result().member_id}));
}

// A member id handed out with MEMBER_ID_REQUIRED is forgotten after the
// session timeout if the member never joins with it.
TEST_F(GroupJoin, PendingMemberIdExpiresAfterTheSessionTimeout) {
  std::vector<std::string> ids = make_stable({member("alpha", 60000)});
  advance(1000);
  join_probe pending = join(member("gamma", 10000));
  ASSERT_EQ(pending.error(), error_code::member_id_required);
  EXPECT_EQ(g().state(), group_state::stable);
  const std::string gamma = pending.result().member_id;

  advance(10000);
  join_probe late = join(with_id(member("gamma", 10000), gamma));
  ASSERT_TRUE(late.answered());
  EXPECT_EQ(late.error(), error_code::unknown_member_id);
  EXPECT_FALSE(has_member(gamma));
  EXPECT_EQ(g().state(), group_state::stable);
}

// hasAllMembersJoined: a rebalance also waits for the members that were
// given an id (MEMBER_ID_REQUIRED) and have not joined with it yet.
TEST_F(GroupJoin, RebalanceWaitsForPendingMembers) {
  std::vector<std::string> ids = make_stable({member("alpha"), member("beta")});
  join_probe pending = join(member("gamma"));
  ASSERT_EQ(pending.error(), error_code::member_id_required);

  join_probe a = join(with_id(member("alpha"), ids[0]));
  join_probe b = join(with_id(member("beta"), ids[1]));
  EXPECT_FALSE(a.answered()) << "gamma has an id but has not joined yet";
  EXPECT_FALSE(b.answered());

  join_probe c = join(with_id(member("gamma"), pending.result().member_id));
  ASSERT_TRUE(a.answered());
  ASSERT_TRUE(b.answered());
  ASSERT_TRUE(c.answered());
  EXPECT_EQ(a.result().generation, 3);
  EXPECT_EQ(member_ids(a.result()), sorted({ids[0], ids[1], pending.result().member_id}));
}

// ... until the pending member id expires (its session timeout).
TEST_F(GroupJoin, RebalanceStopsWaitingForAnExpiredPendingMember) {
  std::vector<std::string> ids = make_stable({member("alpha", 60000), member("beta", 60000)});
  advance(1000);
  const int64_t handed_out = now();
  join_probe pending = join(member("gamma", 10000));
  ASSERT_EQ(pending.error(), error_code::member_id_required);
  join_probe a = join(with_id(member("alpha", 60000), ids[0]));
  join_probe b = join(with_id(member("beta", 60000), ids[1]));
  EXPECT_FALSE(a.answered());

  advance_to(handed_out + 9999);
  EXPECT_FALSE(a.answered());
  advance_to(handed_out + 10000);
  ASSERT_TRUE(a.answered())
      << "the rebalance ends when gamma's id expires, before its 30 s timeout";
  ASSERT_TRUE(b.answered());
  EXPECT_EQ(a.result().generation, 3);
  EXPECT_EQ(member_ids(a.result()), sorted(ids));
}

// removeMemberAndUpdateGroup: a member removed while its JoinGroup waits is
// answered UNKNOWN_MEMBER_ID.
TEST_F(GroupJoin, LeavingWhileTheJoinWaitsAnswersTheJoin) {
  std::vector<std::string> ids = make_stable({member("alpha"), member("beta")});
  join_probe a = join(with_id(member("alpha"), ids[0]));
  ASSERT_FALSE(a.answered());

  EXPECT_EQ(leave(ids[0]), error_code::none);
  ASSERT_TRUE(a.answered());
  EXPECT_EQ(a.error(), error_code::unknown_member_id);
  EXPECT_EQ(a.calls(), 1u);

  join_probe b = join(with_id(member("beta"), ids[1]));
  ASSERT_TRUE(b.answered());
  EXPECT_EQ(b.error(), error_code::none);
  EXPECT_EQ(b.result().generation, 3);
  EXPECT_EQ(b.result().leader, ids[1]);
  EXPECT_EQ(member_ids(b.result()), std::vector<std::string>{ids[1]});
}

// A member's JoinGroup that waits is replaced by the same member's next one
// (e.g. sent again on a new connection after a timeout): the replaced one is
// answered REBALANCE_IN_PROGRESS at once, so that no request waits forever,
// and the later one gets the answer of the join.
TEST_F(GroupJoin, JoinAgainWhileTheRebalanceWaitsAnswersTheFirstJoin) {
  std::vector<std::string> ids = make_stable({member("alpha"), member("beta")});
  join_probe first = join(with_id(member("alpha"), ids[0]));
  ASSERT_FALSE(first.answered());
  ASSERT_EQ(g().state(), group_state::preparing_rebalance);

  join_probe second = join(with_id(member("alpha"), ids[0]));
  ASSERT_TRUE(first.answered()) << "the replaced JoinGroup is answered at once";
  EXPECT_EQ(first.error(), error_code::rebalance_in_progress);
  EXPECT_EQ(first.result().member_id, ids[0]);
  EXPECT_FALSE(second.answered()) << "beta has not rejoined";
  EXPECT_EQ(g().state(), group_state::preparing_rebalance);

  join_probe b = join(with_id(member("beta"), ids[1]));
  ASSERT_TRUE(second.answered());
  ASSERT_TRUE(b.answered());
  EXPECT_EQ(first.calls(), 1u) << "the replaced JoinGroup is answered once";
  EXPECT_EQ(second.calls(), 1u);
  EXPECT_EQ(second.error(), error_code::none);
  EXPECT_EQ(second.result().generation, 3);
  EXPECT_EQ(second.result().member_id, ids[0]);
  EXPECT_EQ(second.result().leader, ids[0]);
  EXPECT_EQ(member_ids(second.result()), sorted(ids));
  EXPECT_EQ(b.error(), error_code::none);
  EXPECT_EQ(b.result().generation, 3);
  EXPECT_EQ(g().state(), group_state::completing_rebalance);
}

// The same for a new member that joins again with its id while its first
// join (the one that made it a member) still waits.
TEST_F(GroupJoin, NewMemberJoiningAgainWhileItWaitsAnswersTheFirstJoin) {
  std::vector<std::string> ids = make_stable({member("alpha")});
  join_probe pending = join(member("beta"));
  ASSERT_EQ(pending.error(), error_code::member_id_required);
  const std::string beta = pending.result().member_id;

  join_probe first = join(with_id(member("beta"), beta));
  ASSERT_FALSE(first.answered()) << "waits for alpha";
  ASSERT_TRUE(has_member(beta));
  join_probe second = join(with_id(member("beta"), beta));
  ASSERT_TRUE(first.answered());
  EXPECT_EQ(first.error(), error_code::rebalance_in_progress);
  EXPECT_EQ(first.result().member_id, beta);
  EXPECT_FALSE(second.answered());

  join_probe a = join(with_id(member("alpha"), ids[0]));
  ASSERT_TRUE(a.answered());
  ASSERT_TRUE(second.answered());
  EXPECT_EQ(first.calls(), 1u);
  EXPECT_EQ(second.error(), error_code::none);
  EXPECT_EQ(second.result().generation, 2);
  EXPECT_EQ(second.result().member_id, beta);
  EXPECT_EQ(member_ids(a.result()), sorted({ids[0], beta}));
}

// GroupMetadata.updateMember: a rejoin changes the member's protocols and
// timeouts, never its client id or host (those of its first join).
TEST_F(GroupJoin, RejoinKeepsTheClientIdAndHostOfTheFirstJoin) {
  std::vector<std::string> ids = make_stable({member("alpha"), member("beta")});
  join_request changed = with_protocols(with_id(member("beta-renamed", 20000, 40000), ids[1]),
                                        {{"range", bytes_of("range/beta-v2")}});
  changed.client_host = "/10.9.9.9";
  join_probe b = join(changed);
  ASSERT_FALSE(b.answered());
  join_probe a = join(with_id(member("alpha"), ids[0]));
  ASSERT_TRUE(b.answered());
  EXPECT_EQ(b.error(), error_code::none);

  const group_member& m = g().members().at(ids[1]);
  EXPECT_EQ(m.client_id, "beta");
  EXPECT_EQ(m.client_host, "/10.0.0.7");
  EXPECT_EQ(m.session_timeout_ms, 20000) << "what it asks for does change";
  EXPECT_EQ(m.rebalance_timeout_ms, 40000);
  ASSERT_EQ(m.protocols.size(), 1u);
  EXPECT_EQ(text_of(m.protocols[0].second), "range/beta-v2");

  sync_probe s = sync(ids[0], 3, {{ids[0], bytes_of("a")}, {ids[1], bytes_of("b")}});
  ASSERT_EQ(s.error(), error_code::none);
  const stored_group written = g().to_stored();
  const stored_member* stored = find_member(written, ids[1]);
  ASSERT_NE(stored, nullptr);
  EXPECT_EQ(stored->client_id, "beta");
  EXPECT_EQ(stored->client_host, "/10.0.0.7");
  EXPECT_EQ(text_of(stored->subscription), "range/beta-v2");
}

// --- Protocol selection.

// selectProtocol: among the protocols every member supports, each member
// votes for the first in its own order; most votes wins (not the leader's
// preference).
TEST_F(GroupProtocol, MembersVoteForTheProtocol) {
  join_request a = with_protocols(
      member("alpha"), {{"range", bytes_of("range/alpha")}, {"roundrobin", bytes_of("rr/alpha")}});
  join_request b = with_protocols(
      member("beta"), {{"roundrobin", bytes_of("rr/beta")}, {"range", bytes_of("range/beta")}});
  join_request c = with_protocols(member("gamma"), {{"roundrobin", bytes_of("rr/gamma")},
                                                    {"range", bytes_of("range/gamma")},
                                                    {"sticky", bytes_of("sticky/gamma")}});
  std::vector<std::string> ids = make_completing({a});
  EXPECT_EQ(g().protocol_name(), std::optional<std::string>("range"));

  // beta and gamma join, alpha rejoins: roundrobin 2 votes, range 1.
  join_probe bj = join_new(b);
  join_probe cj = join_new(c);
  join_probe aj = join(with_id(a, ids[0]));
  ASSERT_TRUE(aj.answered());
  ASSERT_TRUE(bj.answered());
  ASSERT_TRUE(cj.answered());
  EXPECT_EQ(g().protocol_name(), std::optional<std::string>("roundrobin"));
  EXPECT_EQ(aj.result().protocol_name, std::optional<std::string>("roundrobin"));
  EXPECT_EQ(bj.result().protocol_name, std::optional<std::string>("roundrobin"));
  ASSERT_EQ(aj.result().members.size(), 3u);
  EXPECT_EQ(text_of(find_member(aj.result(), ids[0])->metadata), "rr/alpha");
  ASSERT_NE(find_member(aj.result(), bj.result().member_id), nullptr);
  EXPECT_EQ(text_of(find_member(aj.result(), bj.result().member_id)->metadata), "rr/beta");
  EXPECT_EQ(text_of(find_member(aj.result(), cj.result().member_id)->metadata), "rr/gamma");
}

// candidateProtocols: only protocols every member supports can win, however
// many prefer another.
TEST_F(GroupProtocol, OnlyAProtocolEveryMemberSupportsIsChosen) {
  join_request a = with_protocols(
      member("alpha"), {{"sticky", bytes_of("sticky/alpha")}, {"range", bytes_of("range/alpha")}});
  join_request b = with_protocols(
      member("beta"), {{"sticky", bytes_of("sticky/beta")}, {"range", bytes_of("range/beta")}});
  join_request c = with_protocols(member("gamma"), {{"range", bytes_of("range/gamma")}});
  std::vector<std::string> ids = make_completing({a, b});
  EXPECT_EQ(g().protocol_name(), std::optional<std::string>("sticky"));

  join_probe cj = join_new(c);
  join_probe aj = join(with_id(a, ids[0]));
  join_probe bj = join(with_id(b, ids[1]));
  ASSERT_TRUE(aj.answered());
  ASSERT_TRUE(cj.answered());
  EXPECT_EQ(aj.error(), error_code::none);
  EXPECT_EQ(g().protocol_name(), std::optional<std::string>("range"));
  EXPECT_EQ(cj.result().protocol_name, std::optional<std::string>("range"));
  EXPECT_EQ(text_of(find_member(aj.result(), ids[1])->metadata), "range/beta");
}

// supportsProtocols: a joining member must have the group's protocol type
// and share a protocol with every member; otherwise INCONSISTENT_GROUP_PROTOCOL
// (checked before a member id is handed out).
TEST_F(GroupProtocol, JoinWithoutACommonProtocolIsInconsistent) {
  std::vector<std::string> ids = make_stable({member("alpha"), member("beta")});

  join_probe other_protocol =
      join(with_protocols(member("gamma"), {{"roundrobin", bytes_of("rr/gamma")}}));
  ASSERT_TRUE(other_protocol.answered());
  EXPECT_EQ(other_protocol.error(), error_code::inconsistent_group_protocol);

  join_request connect = member("gamma");
  connect.protocol_type = "connect";
  join_probe other_type = join(connect);
  ASSERT_TRUE(other_type.answered());
  EXPECT_EQ(other_type.error(), error_code::inconsistent_group_protocol);

  // A known member too.
  join_probe known =
      join(with_protocols(with_id(member("beta"), ids[1]), {{"roundrobin", bytes_of("rr/beta")}}));
  ASSERT_TRUE(known.answered());
  EXPECT_EQ(known.error(), error_code::inconsistent_group_protocol);

  EXPECT_EQ(g().state(), group_state::stable);
  EXPECT_EQ(g().members().size(), 2u);
  EXPECT_EQ(g().generation(), 2);
}

// supportsProtocols on an Empty group: the first member needs a protocol type
// and at least one protocol.
TEST_F(GroupProtocol, FirstMemberNeedsAProtocolTypeAndProtocols) {
  join_request no_type = member("alpha");
  no_type.protocol_type = "";
  join_probe p1 = join(no_type);
  ASSERT_TRUE(p1.answered());
  EXPECT_EQ(p1.error(), error_code::inconsistent_group_protocol);

  join_probe p2 = join(with_protocols(member("alpha"), {}));
  ASSERT_TRUE(p2.answered());
  EXPECT_EQ(p2.error(), error_code::inconsistent_group_protocol);

  join_request old = with_protocols(member("alpha"), {});
  old.require_known_member_id = false;
  join_probe p3 = join(old);
  ASSERT_TRUE(p3.answered());
  EXPECT_EQ(p3.error(), error_code::inconsistent_group_protocol);

  EXPECT_EQ(g().state(), group_state::empty);
  EXPECT_TRUE(g().members().empty());
}

// --- Heartbeat.

TEST_F(GroupHeartbeat, AnswersByStateAndIdentity) {
  EXPECT_EQ(heartbeat("ghost", 0), error_code::unknown_member_id) << "Empty group";

  std::vector<std::string> ids = make_completing({member("alpha")});
  EXPECT_EQ(heartbeat(ids[0], 1), error_code::none) << "CompletingRebalance";
  EXPECT_EQ(heartbeat(ids[0], 0), error_code::illegal_generation);
  EXPECT_EQ(heartbeat("ghost", 1), error_code::unknown_member_id);

  sync_probe s = sync(ids[0], 1, {{ids[0], bytes_of("x")}});
  ASSERT_EQ(g().state(), group_state::stable);
  EXPECT_EQ(heartbeat(ids[0], 1), error_code::none) << "Stable";
  EXPECT_EQ(heartbeat(ids[0], 2), error_code::illegal_generation);
  EXPECT_EQ(heartbeat("ghost", 1), error_code::unknown_member_id);

  join_probe beta = join_new(member("beta"));
  ASSERT_EQ(g().state(), group_state::preparing_rebalance);
  EXPECT_EQ(heartbeat(ids[0], 1), error_code::rebalance_in_progress);
  // The member and generation are checked before the state.
  EXPECT_EQ(heartbeat(ids[0], 0), error_code::illegal_generation);
  EXPECT_EQ(heartbeat("ghost", 1), error_code::unknown_member_id);
}

// --- Sessions.

// A member whose heartbeats stop is removed session.timeout.ms after the
// last one, and the group rebalances.
TEST_F(GroupSession, MemberThatStopsHeartbeatingIsRemoved) {
  std::vector<std::string> ids = make_stable({member("alpha"), member("beta")});
  const int64_t synced = now();
  EXPECT_GT(g().next_deadline_ms(), synced);
  EXPECT_LE(g().next_deadline_ms(), synced + 10000);

  advance_to(synced + 5000);
  EXPECT_EQ(heartbeat(ids[0], 2), error_code::none);
  advance_to(synced + 9000);
  EXPECT_EQ(heartbeat(ids[0], 2), error_code::none);
  EXPECT_EQ(g().next_deadline_ms(), synced + 10000) << "beta's session ends first";

  advance_to(synced + 9999);
  EXPECT_TRUE(has_member(ids[1]));
  EXPECT_EQ(g().state(), group_state::stable);

  advance_to(synced + 10000);
  EXPECT_FALSE(has_member(ids[1]));
  EXPECT_TRUE(has_member(ids[0]));
  EXPECT_EQ(g().state(), group_state::preparing_rebalance);
  EXPECT_EQ(heartbeat(ids[1], 2), error_code::unknown_member_id);
  EXPECT_EQ(heartbeat(ids[0], 2), error_code::rebalance_in_progress);

  join_probe a = join(with_id(member("alpha"), ids[0]));
  ASSERT_TRUE(a.answered());
  EXPECT_EQ(a.result().generation, 3);
  EXPECT_EQ(member_ids(a.result()), std::vector<std::string>{ids[0]});
}

// Heartbeats during PreparingRebalance keep a member (answered
// REBALANCE_IN_PROGRESS); a member waiting in JoinGroup needs none
// (hasSatisfiedHeartbeat); a member that neither rejoins nor heartbeats is
// removed, which can end the rebalance early.
TEST_F(GroupSession, HeartbeatsDuringARebalanceKeepTheSession) {
  std::vector<std::string> ids = make_stable({member("alpha"), member("beta")});
  const int64_t synced = now();
  advance_to(synced + 1000);
  join_probe a = join(with_id(member("alpha"), ids[0]));
  ASSERT_EQ(g().state(), group_state::preparing_rebalance);

  advance_to(synced + 6000);
  EXPECT_EQ(heartbeat(ids[1], 2), error_code::rebalance_in_progress);
  advance_to(synced + 14000);
  EXPECT_TRUE(has_member(ids[1])) << "the heartbeat at +6 s moved beta's deadline to +16 s";
  EXPECT_TRUE(has_member(ids[0])) << "alpha waits in JoinGroup and needs no heartbeat";
  EXPECT_EQ(heartbeat(ids[1], 2), error_code::rebalance_in_progress);

  advance_to(synced + 23999);
  EXPECT_TRUE(has_member(ids[1]));
  EXPECT_FALSE(a.answered());
  advance_to(synced + 24000);
  EXPECT_FALSE(has_member(ids[1]));
  ASSERT_TRUE(a.answered()) << "with beta gone every member has joined";
  EXPECT_EQ(a.result().generation, 3);
  EXPECT_EQ(member_ids(a.result()), std::vector<std::string>{ids[0]});
}

// A member waiting in SyncGroup for the leader needs no heartbeat
// (hasSatisfiedHeartbeat); the answer starts its session anew.
TEST_F(GroupSession, MemberWaitingForItsAssignmentDoesNotExpire) {
  std::vector<std::string> ids = make_completing({member("alpha"), member("beta")});
  const int64_t joined = now();
  advance_to(joined + 1000);
  sync_probe b = sync(ids[1], 2);
  ASSERT_FALSE(b.answered());

  for (int64_t t = joined + 5000; t <= joined + 25000; t += 5000) {
    advance_to(t);
    EXPECT_EQ(heartbeat(ids[0], 2), error_code::none);
  }
  EXPECT_TRUE(has_member(ids[1])) << "beta's session would have ended at +10 s";
  EXPECT_FALSE(b.answered());

  sync_probe a = sync(ids[0], 2, {{ids[0], bytes_of("a")}, {ids[1], bytes_of("b")}});
  ASSERT_TRUE(b.answered());
  EXPECT_EQ(b.assignment(), "b");
  // propagateAssignment: answering beta's SyncGroup starts its session anew,
  // so beta is not expired for the time it spent waiting.
  EXPECT_TRUE(has_member(ids[1])) << "beta was dropped right after getting its assignment";
  EXPECT_EQ(g().state(), group_state::stable);
  const int64_t assigned = now();
  EXPECT_EQ(heartbeat(ids[0], 2), error_code::none);
  advance_to(assigned + 9999);
  EXPECT_TRUE(has_member(ids[1]));
  EXPECT_EQ(heartbeat(ids[0], 2), error_code::none);
  advance_to(assigned + 10000);
  EXPECT_FALSE(has_member(ids[1]));
}

TEST_F(GroupSession, EmptyGroupHasNoDeadline) {
  EXPECT_EQ(g().next_deadline_ms(), no_deadline);
  std::vector<std::string> ids = make_stable({member("alpha")});
  EXPECT_NE(g().next_deadline_ms(), no_deadline);
  EXPECT_EQ(leave(ids[0]), error_code::none);
  EXPECT_EQ(g().state(), group_state::empty);
  EXPECT_EQ(g().next_deadline_ms(), no_deadline);
  advance(3600 * 1000);
  EXPECT_EQ(g().state(), group_state::empty);
}

// --- SyncGroup.

// validateSyncGroup: the member, then the generation, then protocol type
// and name (v5+); then the state.
TEST_F(GroupSync, ErrorsInKafkasOrder) {
  sync_probe on_empty = sync("ghost", 0);
  ASSERT_TRUE(on_empty.answered());
  EXPECT_EQ(on_empty.error(), error_code::unknown_member_id);

  std::vector<std::string> ids = make_completing({member("alpha"), member("beta")});
  sync_probe unknown = sync("ghost", 2);
  ASSERT_TRUE(unknown.answered());
  EXPECT_EQ(unknown.error(), error_code::unknown_member_id);
  sync_probe old_generation = sync(ids[1], 1);
  ASSERT_TRUE(old_generation.answered());
  EXPECT_EQ(old_generation.error(), error_code::illegal_generation);

  sync_request wrong_type;
  wrong_type.member_id = ids[1];
  wrong_type.generation = 2;
  wrong_type.protocol_type = "connect";
  sync_probe t = sync(wrong_type);
  ASSERT_TRUE(t.answered());
  EXPECT_EQ(t.error(), error_code::inconsistent_group_protocol);

  sync_request wrong_name;
  wrong_name.member_id = ids[1];
  wrong_name.generation = 2;
  wrong_name.protocol_type = "consumer";
  wrong_name.protocol_name = "roundrobin";
  sync_probe n = sync(wrong_name);
  ASSERT_TRUE(n.answered());
  EXPECT_EQ(n.error(), error_code::inconsistent_group_protocol);

  sync_request right;
  right.member_id = ids[1];
  right.generation = 2;
  right.protocol_type = "consumer";
  right.protocol_name = "range";
  sync_probe ok = sync(right);
  EXPECT_FALSE(ok.answered()) << "waits for the leader";
  sync_probe leader = sync(ids[0], 2, {{ids[0], bytes_of("a")}, {ids[1], bytes_of("b")}});
  ASSERT_TRUE(ok.answered());
  EXPECT_EQ(ok.error(), error_code::none);
  EXPECT_EQ(ok.assignment(), "b");

  // PreparingRebalance: REBALANCE_IN_PROGRESS, but a stale generation is
  // ILLEGAL_GENERATION first.
  join_probe a = join(with_id(member("alpha"), ids[0]));
  ASSERT_EQ(g().state(), group_state::preparing_rebalance);
  sync_probe during = sync(ids[1], 2);
  ASSERT_TRUE(during.answered());
  EXPECT_EQ(during.error(), error_code::rebalance_in_progress);
  sync_probe stale = sync(ids[1], 1);
  ASSERT_TRUE(stale.answered());
  EXPECT_EQ(stale.error(), error_code::illegal_generation);
}

// setAndPropagateAssignment: members the leader left out get an empty
// assignment; ids that are not members are ignored.
TEST_F(GroupSync, MembersMissingFromTheLeadersAssignmentGetAnEmptyOne) {
  std::vector<std::string> ids = make_completing({member("alpha"), member("beta")});
  sync_probe b = sync(ids[1], 2);
  sync_probe a = sync(ids[0], 2, {{ids[0], bytes_of("a")}, {"not-a-member", bytes_of("z")}});
  ASSERT_TRUE(a.answered());
  ASSERT_TRUE(b.answered());
  EXPECT_EQ(b.error(), error_code::none);
  EXPECT_EQ(b.assignment(), "");
  EXPECT_EQ(g().state(), group_state::stable);
  EXPECT_EQ(g().members().size(), 2u);
  stored_group stored = g().to_stored();
  EXPECT_EQ(stored.members.size(), 2u);
}

// Stable: SyncGroup returns the member's current assignment at once.
TEST_F(GroupSync, StableGroupReturnsTheCurrentAssignment) {
  std::vector<std::string> ids = make_stable({member("alpha"), member("beta")});
  sync_probe again = sync(ids[1], 2);
  ASSERT_TRUE(again.answered());
  EXPECT_EQ(again.error(), error_code::none);
  EXPECT_EQ(again.assignment(), assignment_for(ids[1]));
  EXPECT_EQ(again.result().protocol_name, std::optional<std::string>("range"));
  // The leader syncing again does not change anything.
  sync_probe leader = sync(ids[0], 2, {{ids[0], bytes_of("other")}});
  ASSERT_TRUE(leader.answered());
  EXPECT_EQ(leader.assignment(), assignment_for(ids[0]));
  EXPECT_EQ(g().state(), group_state::stable);
}

// prepareRebalance in CompletingRebalance: waiting SyncGroups are answered
// REBALANCE_IN_PROGRESS.
TEST_F(GroupSync, NewRebalanceFailsWaitingSyncs) {
  std::vector<std::string> ids = make_completing({member("alpha"), member("beta")});
  sync_probe b = sync(ids[1], 2);
  ASSERT_FALSE(b.answered());

  join_request old = member("gamma");
  old.require_known_member_id = false;
  join_probe c = join(old);
  EXPECT_EQ(g().state(), group_state::preparing_rebalance);
  ASSERT_TRUE(b.answered());
  EXPECT_EQ(b.error(), error_code::rebalance_in_progress);
  EXPECT_EQ(b.calls(), 1u);

  sync_probe a = sync(ids[0], 2, {{ids[0], bytes_of("a")}, {ids[1], bytes_of("b")}});
  ASSERT_TRUE(a.answered());
  EXPECT_EQ(a.error(), error_code::rebalance_in_progress);
  EXPECT_EQ(g().state(), group_state::preparing_rebalance);
}

// Kafka 3.x pending sync (DelayedSync, onExpirePendingSync): when the leader
// never sends SyncGroup, the members that did not sync are removed after the
// rebalance timeout and the group rebalances.
TEST_F(GroupSync, LeaderThatNeverSyncsIsRemovedAfterTheRebalanceTimeout) {
  std::vector<std::string> ids =
      make_completing({member("alpha", 60000, 30000), member("beta", 60000, 30000)});
  const int64_t joined = now();
  advance_to(joined + 1000);
  sync_probe b = sync(ids[1], 2);
  ASSERT_FALSE(b.answered());
  EXPECT_LE(g().next_deadline_ms(), joined + 30000);

  advance_to(joined + 29999);
  EXPECT_FALSE(b.answered());
  EXPECT_EQ(g().state(), group_state::completing_rebalance);
  EXPECT_TRUE(has_member(ids[0]));

  advance_to(joined + 30000);
  EXPECT_FALSE(has_member(ids[0]));
  EXPECT_TRUE(has_member(ids[1]));
  ASSERT_TRUE(b.answered());
  EXPECT_EQ(b.error(), error_code::rebalance_in_progress);
  EXPECT_EQ(g().state(), group_state::preparing_rebalance);

  join_probe bj = join(with_id(member("beta", 60000, 30000), ids[1]));
  ASSERT_TRUE(bj.answered());
  EXPECT_EQ(bj.result().generation, 3);
  EXPECT_EQ(bj.result().leader, ids[1]);
}

// onExpirePendingSync handles CompletingRebalance | Stable: a follower that
// never asked for its assignment is removed even after the leader's sync.
TEST_F(GroupSync, FollowerThatNeverSyncsIsRemovedAfterTheRebalanceTimeout) {
  std::vector<std::string> ids =
      make_completing({member("alpha", 60000, 30000), member("beta", 60000, 30000)});
  const int64_t joined = now();
  sync_probe a = sync(ids[0], 2, {{ids[0], bytes_of("a")}, {ids[1], bytes_of("b")}});
  ASSERT_TRUE(a.answered());
  ASSERT_EQ(g().state(), group_state::stable);

  advance_to(joined + 20000);
  EXPECT_EQ(heartbeat(ids[0], 2), error_code::none);
  EXPECT_EQ(heartbeat(ids[1], 2), error_code::none);
  advance_to(joined + 29999);
  EXPECT_EQ(g().state(), group_state::stable);
  EXPECT_TRUE(has_member(ids[1]));

  advance_to(joined + 30000);
  EXPECT_FALSE(has_member(ids[1])) << "beta never sent SyncGroup";
  EXPECT_TRUE(has_member(ids[0]));
  EXPECT_EQ(g().state(), group_state::preparing_rebalance);
  EXPECT_EQ(heartbeat(ids[0], 2), error_code::rebalance_in_progress);
}

// No member syncs: all are removed, and the rebalance that follows leaves
// the group Empty at the next generation.
TEST_F(GroupSync, GroupNobodySyncsBecomesEmpty) {
  std::vector<std::string> ids = make_completing({member("alpha", 60000, 30000)});
  const int64_t joined = now();
  advance_to(joined + 30000);
  EXPECT_TRUE(g().members().empty());
  EXPECT_EQ(g().state(), group_state::empty);
  EXPECT_EQ(g().generation(), 2);
  EXPECT_TRUE(g().stored_changed());
}

// A member's SyncGroup that waits for the leader is replaced by the same
// member's next one: the replaced one is answered REBALANCE_IN_PROGRESS at
// once, the later one gets the assignment.
TEST_F(GroupSync, SyncAgainWhileWaitingAnswersTheFirstSync) {
  std::vector<std::string> ids = make_completing({member("alpha"), member("beta")});
  sync_probe first = sync(ids[1], 2);
  ASSERT_FALSE(first.answered());

  sync_probe second = sync(ids[1], 2);
  ASSERT_TRUE(first.answered()) << "the replaced SyncGroup is answered at once";
  EXPECT_EQ(first.error(), error_code::rebalance_in_progress);
  EXPECT_FALSE(second.answered()) << "waits for the leader";
  EXPECT_EQ(g().state(), group_state::completing_rebalance);

  sync_probe leader = sync(ids[0], 2, {{ids[0], bytes_of("a")}, {ids[1], bytes_of("b")}});
  ASSERT_TRUE(leader.answered());
  ASSERT_TRUE(second.answered());
  EXPECT_EQ(first.calls(), 1u) << "the replaced SyncGroup is answered once";
  EXPECT_EQ(second.calls(), 1u);
  EXPECT_EQ(second.error(), error_code::none);
  EXPECT_EQ(second.assignment(), "b");
  EXPECT_EQ(leader.assignment(), "a");
  EXPECT_EQ(g().state(), group_state::stable);
}

// --- LeaveGroup.

TEST_F(GroupLeave, MemberLeavesAndTheGroupRebalances) {
  std::vector<std::string> ids = make_stable({member("alpha"), member("beta")});
  EXPECT_EQ(leave(ids[1]), error_code::none);
  EXPECT_FALSE(has_member(ids[1]));
  EXPECT_EQ(g().state(), group_state::preparing_rebalance);
  EXPECT_EQ(heartbeat(ids[0], 2), error_code::rebalance_in_progress);
  EXPECT_EQ(heartbeat(ids[1], 2), error_code::unknown_member_id);

  join_probe a = join(with_id(member("alpha"), ids[0]));
  ASSERT_TRUE(a.answered());
  EXPECT_EQ(a.result().generation, 3);
  EXPECT_EQ(member_ids(a.result()), std::vector<std::string>{ids[0]});
}

// The last member leaving ends the rebalance at once with no members: Empty,
// next generation, no protocol, written to the log.
TEST_F(GroupLeave, LastMemberLeavingEmptiesTheGroup) {
  std::vector<std::string> ids = make_stable({member("alpha")});
  advance(500);
  const int64_t left = now();
  EXPECT_EQ(leave(ids[0]), error_code::none);
  EXPECT_EQ(g().state(), group_state::empty);
  EXPECT_EQ(g().generation(), 2);
  EXPECT_TRUE(g().members().empty());
  EXPECT_FALSE(g().protocol_name().has_value());
  EXPECT_EQ(g().state_timestamp_ms(), left);
  EXPECT_TRUE(g().stored_changed());

  stored_group stored = g().to_stored();
  EXPECT_EQ(stored.generation, 2);
  EXPECT_TRUE(stored.members.empty());
  EXPECT_FALSE(stored.protocol.has_value());
  EXPECT_FALSE(stored.leader.has_value() && !stored.leader->empty()) << stored.leader.value_or("");
  EXPECT_EQ(stored.current_state_timestamp_ms, left);
  EXPECT_EQ(stored.protocol_type, "consumer");

  EXPECT_EQ(heartbeat(ids[0], 1), error_code::unknown_member_id);
  join_probe again = join_new(member("alpha"));
  ASSERT_TRUE(again.answered());
  EXPECT_EQ(again.result().generation, 3);
}

TEST_F(GroupLeave, UnknownMembersCannotLeave) {
  EXPECT_EQ(leave("ghost"), error_code::unknown_member_id);
  std::vector<std::string> ids = make_stable({member("alpha")});
  EXPECT_EQ(leave("ghost"), error_code::unknown_member_id);
  EXPECT_EQ(leave(""), error_code::unknown_member_id);
  EXPECT_EQ(leave("", "no-such-instance"), error_code::unknown_member_id);
  EXPECT_EQ(g().state(), group_state::stable);
  EXPECT_EQ(g().members().size(), 1u);
}

// handleLeaveGroup: a pending member (given an id, not joined) may leave.
TEST_F(GroupLeave, PendingMemberCanLeave) {
  std::vector<std::string> ids = make_stable({member("alpha")});
  join_probe pending = join(member("gamma"));
  ASSERT_EQ(pending.error(), error_code::member_id_required);
  EXPECT_EQ(leave(pending.result().member_id), error_code::none);
  EXPECT_EQ(g().state(), group_state::stable);
  join_probe late = join(with_id(member("gamma"), pending.result().member_id));
  ASSERT_TRUE(late.answered());
  EXPECT_EQ(late.error(), error_code::unknown_member_id);
}

// --- Static membership (KIP-345).

// A static member is never asked for MEMBER_ID_REQUIRED; its id is
// generated from the instance id (GroupMetadata.generateMemberId).
TEST_F(GroupStatic, StaticMemberJoinsWithoutTheMemberIdRoundTrip) {
  join_probe s = join(static_member("sigma", "sigma-host-1"));
  ASSERT_TRUE(s.answered());
  EXPECT_EQ(s.error(), error_code::none);
  EXPECT_EQ(s.result().generation, 1);
  EXPECT_TRUE(starts_with(s.result().member_id, "sigma-host-1-")) << s.result().member_id;
  ASSERT_EQ(s.result().members.size(), 1u);
  EXPECT_EQ(s.result().members[0].group_instance_id, std::optional<std::string>("sigma-host-1"));
  ASSERT_TRUE(has_member(s.result().member_id));
  EXPECT_EQ(g().members().at(s.result().member_id).group_instance_id,
            std::optional<std::string>("sigma-host-1"));
}

// A static member restarting (member id "") in a Stable group takes a new
// member id, keeps its assignment, and the group does not rebalance; the old
// id is fenced.
TEST_F(GroupStatic, RestartedMemberKeepsItsAssignmentWithoutARebalance) {
  std::vector<std::string> ids =
      make_stable({member("alpha"), static_member("sigma", "sigma-host-1")});
  const std::string old_id = ids[1];
  advance(1000);

  join_probe r = join(static_member("sigma", "sigma-host-1"));
  ASSERT_TRUE(r.answered()) << "answered at once";
  EXPECT_EQ(r.error(), error_code::none);
  const std::string new_id = r.result().member_id;
  EXPECT_FALSE(new_id.empty());
  EXPECT_NE(new_id, old_id);
  EXPECT_EQ(r.result().generation, 2);
  EXPECT_EQ(r.result().leader, ids[0]);
  EXPECT_EQ(r.result().protocol_name, std::optional<std::string>("range"));
  EXPECT_TRUE(r.result().members.empty());
  EXPECT_FALSE(r.result().skip_assignment);

  EXPECT_EQ(g().state(), group_state::stable);
  EXPECT_EQ(g().generation(), 2);
  EXPECT_TRUE(has_member(new_id));
  EXPECT_FALSE(has_member(old_id));
  EXPECT_EQ(text_of(g().members().at(new_id).assignment), assignment_for(old_id));
  EXPECT_TRUE(g().stored_changed()) << "the new member id must reach the log";
  stored_group stored = g().to_stored();
  ASSERT_NE(find_member(stored, new_id), nullptr);
  EXPECT_EQ(find_member(stored, old_id), nullptr);
  EXPECT_EQ(text_of(find_member(stored, new_id)->assignment), assignment_for(old_id));
  EXPECT_EQ(find_member(stored, new_id)->group_instance_id,
            std::optional<std::string>("sigma-host-1"));

  sync_probe s = sync(new_id, 2, {}, "sigma-host-1");
  ASSERT_TRUE(s.answered());
  EXPECT_EQ(s.error(), error_code::none);
  EXPECT_EQ(s.assignment(), assignment_for(old_id));

  EXPECT_EQ(heartbeat(new_id, 2, "sigma-host-1"), error_code::none);
  EXPECT_EQ(heartbeat(ids[0], 2), error_code::none) << "no rebalance for the others";

  // The old id: fenced.
  EXPECT_EQ(heartbeat(old_id, 2, "sigma-host-1"), error_code::fenced_instance_id);
  sync_probe old_sync = sync(old_id, 2, {}, "sigma-host-1");
  ASSERT_TRUE(old_sync.answered());
  EXPECT_EQ(old_sync.error(), error_code::fenced_instance_id);
  EXPECT_EQ(check_commit(old_id, 2, "sigma-host-1"), error_code::fenced_instance_id);
  join_probe old_join = join(with_id(static_member("sigma", "sigma-host-1"), old_id));
  ASSERT_TRUE(old_join.answered());
  EXPECT_EQ(old_join.error(), error_code::fenced_instance_id);
  EXPECT_EQ(leave(old_id, "sigma-host-1"), error_code::fenced_instance_id);
  EXPECT_EQ(g().state(), group_state::stable);
  EXPECT_EQ(check_commit(new_id, 2, "sigma-host-1"), error_code::none);
}

// Before JoinGroup v9, a restarted static leader is answered with the old
// leader id, so it does not run an assignment a Stable group would ignore;
// the group's leader is its new id.
TEST_F(GroupStatic, RestartedLeaderIsNotToldItLeads) {
  std::vector<std::string> ids =
      make_stable({static_member("sigma", "sigma-host-1"), member("beta")});
  join_probe r = join(static_member("sigma", "sigma-host-1"));
  ASSERT_TRUE(r.answered());
  EXPECT_EQ(r.error(), error_code::none);
  const std::string new_id = r.result().member_id;
  EXPECT_NE(new_id, ids[0]);
  EXPECT_EQ(r.result().leader, ids[0]) << "the old leader id";
  EXPECT_TRUE(r.result().members.empty());
  EXPECT_FALSE(r.result().skip_assignment);
  EXPECT_EQ(g().leader(), new_id);
  EXPECT_EQ(g().state(), group_state::stable);
}

// KIP-814 (JoinGroup v9+): the restarted static leader is told it leads,
// with the member list, and to skip the assignment.
TEST_F(GroupStatic, RestartedLeaderSkipsTheAssignment) {
  std::vector<std::string> ids =
      make_stable({static_member("sigma", "sigma-host-1"), member("beta")});
  join_request rejoin = static_member("sigma", "sigma-host-1");
  rejoin.supports_skip_assignment = true;
  join_probe r = join(rejoin);
  ASSERT_TRUE(r.answered());
  EXPECT_EQ(r.error(), error_code::none);
  const std::string new_id = r.result().member_id;
  EXPECT_EQ(r.result().leader, new_id);
  EXPECT_TRUE(r.result().skip_assignment);
  EXPECT_EQ(r.result().generation, 2);
  EXPECT_EQ(member_ids(r.result()), sorted({new_id, ids[1]}));
  EXPECT_EQ(g().state(), group_state::stable);

  // A follower restarting with v9 is not the leader: no skip, no list.
  std::vector<std::string> ids2;
  reset(limits_with());
  ids2 = make_stable({member("alpha"), static_member("sigma", "sigma-host-1")});
  join_probe f = join(rejoin);
  ASSERT_TRUE(f.answered());
  EXPECT_FALSE(f.result().skip_assignment);
  EXPECT_TRUE(f.result().members.empty());
  EXPECT_EQ(f.result().leader, ids2[0]);
}

// onCompleteJoin removes only dynamic members that did not rejoin: a static
// member stays, and the leader's list has it with its instance id.
TEST_F(GroupStatic, StaticMemberThatDoesNotRejoinIsKept) {
  std::vector<std::string> ids =
      make_stable({member("alpha", 60000), static_member("sigma", "sigma-host-1", 60000)});
  advance(1000);
  const int64_t started = now();
  join_probe a = join(with_id(member("alpha", 60000), ids[0]));
  ASSERT_FALSE(a.answered());
  advance_to(started + 30000);
  ASSERT_TRUE(a.answered());
  EXPECT_EQ(a.result().generation, 3);
  EXPECT_TRUE(has_member(ids[1]));
  const join_member* s = find_member(a.result(), ids[1]);
  ASSERT_NE(s, nullptr) << "the static member is in the new generation";
  EXPECT_EQ(s->group_instance_id, std::optional<std::string>("sigma-host-1"));
  EXPECT_EQ(text_of(s->metadata), "range/sigma");
}

// A static member is still removed when its session times out; its
// instance id is then free, and a join with it is a new member.
TEST_F(GroupStatic, StaticMemberExpiresAtTheSessionTimeout) {
  std::vector<std::string> ids =
      make_stable({member("alpha", 60000), static_member("sigma", "sigma-host-1", 10000)});
  const int64_t synced = now();
  advance_to(synced + 9999);
  EXPECT_TRUE(has_member(ids[1]));
  advance_to(synced + 10000);
  EXPECT_FALSE(has_member(ids[1]));
  EXPECT_EQ(g().state(), group_state::preparing_rebalance);
  EXPECT_EQ(heartbeat(ids[1], 2, "sigma-host-1"), error_code::unknown_member_id);

  join_probe a = join(with_id(member("alpha", 60000), ids[0]));
  ASSERT_TRUE(a.answered());
  EXPECT_EQ(a.result().generation, 3);

  join_probe s = join(static_member("sigma", "sigma-host-1"));
  EXPECT_FALSE(s.answered()) << "a new member: the group rebalances";
  EXPECT_EQ(g().state(), group_state::preparing_rebalance);
  join_probe a2 = join(with_id(member("alpha", 60000), ids[0]));
  ASSERT_TRUE(s.answered());
  EXPECT_EQ(s.error(), error_code::none);
  EXPECT_EQ(s.result().generation, 4);
  EXPECT_NE(s.result().member_id, ids[1]);
}

// LeaveGroup v3+: by instance id with no member id; a member id that does
// not match the instance's is fenced.
TEST_F(GroupStatic, LeaveByInstanceId) {
  std::vector<std::string> ids =
      make_stable({member("alpha"), static_member("sigma", "sigma-host-1")});
  EXPECT_EQ(leave("sigma-host-1-not-the-id", "sigma-host-1"), error_code::fenced_instance_id);
  EXPECT_EQ(leave(ids[0], "sigma-host-1"), error_code::fenced_instance_id);
  EXPECT_TRUE(has_member(ids[1]));
  EXPECT_TRUE(has_member(ids[0]));
  EXPECT_EQ(g().state(), group_state::stable);

  EXPECT_EQ(leave("", "sigma-host-1"), error_code::none);
  EXPECT_FALSE(has_member(ids[1]));
  EXPECT_EQ(g().state(), group_state::preparing_rebalance);
  EXPECT_EQ(leave("", "sigma-host-1"), error_code::unknown_member_id);
}

// validateCurrentMember: an instance id the group does not know is
// UNKNOWN_MEMBER_ID; one mapped to another member id is FENCED_INSTANCE_ID.
TEST_F(GroupStatic, InstanceIdMustMatchTheMemberId) {
  std::vector<std::string> ids =
      make_stable({member("alpha"), static_member("sigma", "sigma-host-1")});
  join_probe unknown = join(with_id(static_member("x", "no-such-instance"), "ghost"));
  ASSERT_TRUE(unknown.answered());
  EXPECT_EQ(unknown.error(), error_code::unknown_member_id);
  EXPECT_EQ(heartbeat(ids[0], 2, "no-such-instance"), error_code::unknown_member_id);
  EXPECT_EQ(heartbeat(ids[0], 2, "sigma-host-1"), error_code::fenced_instance_id);
  EXPECT_EQ(heartbeat(ids[1], 2, "sigma-host-1"), error_code::none);
  EXPECT_EQ(g().state(), group_state::stable);
}

// replaceStaticMember: a second instance with the same instance id fences a
// JoinGroup the old member id has waiting, and takes its place in the
// rebalance.
TEST_F(GroupStatic, DuplicateInstanceFencesTheWaitingJoin) {
  std::vector<std::string> ids =
      make_stable({member("alpha", 60000), static_member("sigma", "sigma-host-1", 60000),
                   member("gamma", 60000)});
  join_probe a = join(with_id(member("alpha", 60000), ids[0]));
  join_probe old_s = join(with_id(static_member("sigma", "sigma-host-1", 60000), ids[1]));
  ASSERT_FALSE(old_s.answered());

  join_probe new_s = join(static_member("sigma", "sigma-host-1", 60000));
  ASSERT_TRUE(old_s.answered());
  EXPECT_EQ(old_s.error(), error_code::fenced_instance_id);
  EXPECT_FALSE(new_s.answered()) << "gamma has not rejoined";

  join_probe c = join(with_id(member("gamma", 60000), ids[2]));
  ASSERT_TRUE(a.answered());
  ASSERT_TRUE(new_s.answered());
  ASSERT_TRUE(c.answered());
  EXPECT_EQ(old_s.calls(), 1u);
  const std::string new_id = new_s.result().member_id;
  EXPECT_NE(new_id, ids[1]);
  EXPECT_EQ(new_s.result().generation, 4);
  EXPECT_EQ(member_ids(a.result()), sorted({ids[0], new_id, ids[2]}));
  EXPECT_EQ(heartbeat(ids[1], 4, "sigma-host-1"), error_code::fenced_instance_id);
}

// A restarted static member during CompletingRebalance: the old id's
// waiting SyncGroup is fenced and the group rebalances (its new id may
// not be in the leader's assignment).
TEST_F(GroupStatic, RestartDuringCompletingRebalanceRebalances) {
  std::vector<std::string> ids =
      make_completing({member("alpha"), static_member("sigma", "sigma-host-1")});
  sync_probe old_sync = sync(ids[1], 2, {}, "sigma-host-1");
  ASSERT_FALSE(old_sync.answered());

  join_probe s = join(static_member("sigma", "sigma-host-1"));
  ASSERT_TRUE(old_sync.answered());
  EXPECT_EQ(old_sync.error(), error_code::fenced_instance_id);
  EXPECT_EQ(g().state(), group_state::preparing_rebalance);
  EXPECT_FALSE(s.answered());

  join_probe a = join(with_id(member("alpha"), ids[0]));
  ASSERT_TRUE(s.answered());
  EXPECT_EQ(s.result().generation, 3);
  EXPECT_NE(s.result().member_id, ids[1]);
}

// A static member rejoining by its member id without its instance id (a
// client that sends it only on some requests) stays static: its instance id
// is who it is, not something a rejoin changes. After it leaves, the instance
// id is free, and a JoinGroup with it and no member id is a new member.
TEST_F(GroupStatic, RejoinWithoutTheInstanceIdKeepsIt) {
  std::vector<std::string> ids =
      make_stable({member("alpha"), static_member("sigma", "sigma-host-1")});
  const std::string sigma = ids[1];
  join_probe s = join(
      with_protocols(with_id(member("sigma"), sigma), {{"range", bytes_of("range/sigma-v2")}}));
  ASSERT_FALSE(s.answered()) << "new metadata: a rebalance";
  join_probe a = join(with_id(member("alpha"), ids[0]));
  ASSERT_TRUE(s.answered());
  EXPECT_EQ(s.error(), error_code::none);
  EXPECT_EQ(g().members().at(sigma).group_instance_id, std::optional<std::string>("sigma-host-1"));
  const join_member* listed = find_member(a.result(), sigma);
  ASSERT_NE(listed, nullptr);
  EXPECT_EQ(listed->group_instance_id, std::optional<std::string>("sigma-host-1"));
  sync_probe leader = sync(ids[0], 3, {{ids[0], bytes_of("a")}, {sigma, bytes_of("s")}});
  ASSERT_EQ(leader.error(), error_code::none);
  const stored_group written = g().to_stored();
  const stored_member* stored = find_member(written, sigma);
  ASSERT_NE(stored, nullptr);
  EXPECT_EQ(stored->group_instance_id, std::optional<std::string>("sigma-host-1"));
  EXPECT_EQ(heartbeat(sigma, 3, "sigma-host-1"), error_code::none);

  // It leaves by member id alone: its instance id goes with it.
  EXPECT_EQ(leave(sigma), error_code::none);
  EXPECT_FALSE(has_member(sigma));
  EXPECT_EQ(heartbeat(sigma, 3, "sigma-host-1"), error_code::unknown_member_id);
  EXPECT_EQ(check_commit(sigma, 3, "sigma-host-1"), error_code::unknown_member_id);

  join_probe again;
  EXPECT_NO_THROW(again = join(static_member("sigma", "sigma-host-1")));
  join_probe a2 = join(with_id(member("alpha"), ids[0]));
  ASSERT_TRUE(again.answered());
  EXPECT_EQ(again.error(), error_code::none);
  const std::string new_id = again.result().member_id;
  EXPECT_NE(new_id, sigma);
  EXPECT_TRUE(starts_with(new_id, "sigma-host-1-")) << new_id;
  EXPECT_EQ(again.result().generation, 4);
  ASSERT_TRUE(has_member(new_id));
  EXPECT_EQ(g().members().at(new_id).group_instance_id, std::optional<std::string>("sigma-host-1"));
  EXPECT_EQ(member_ids(a2.result()), sorted({ids[0], new_id}));
}

// validateCurrentMember: an instance id mapped to the member id given is
// that member: every request of it is served.
TEST_F(GroupStatic, InstanceIdWithItsOwnMemberIdIsServed) {
  std::vector<std::string> ids =
      make_stable({member("alpha"), static_member("sigma", "sigma-host-1")});
  EXPECT_EQ(heartbeat(ids[1], 2, "sigma-host-1"), error_code::none);
  EXPECT_EQ(check_commit(ids[1], 2, "sigma-host-1"), error_code::none);
  sync_probe s = sync(ids[1], 2, {}, "sigma-host-1");
  ASSERT_TRUE(s.answered());
  EXPECT_EQ(s.error(), error_code::none);
  EXPECT_EQ(s.assignment(), assignment_for(ids[1]));
  join_probe same = join(with_id(static_member("sigma", "sigma-host-1"), ids[1]));
  ASSERT_TRUE(same.answered());
  EXPECT_EQ(same.error(), error_code::none);
  EXPECT_EQ(same.result().member_id, ids[1]);
  EXPECT_EQ(g().state(), group_state::stable);
  EXPECT_EQ(leave(ids[1], "sigma-host-1"), error_code::none);
  EXPECT_FALSE(has_member(ids[1]));
  // The mapping went with the member.
  EXPECT_EQ(heartbeat(ids[1], 2, "sigma-host-1"), error_code::unknown_member_id);
  EXPECT_EQ(leave("", "sigma-host-1"), error_code::unknown_member_id);
}

// --- OffsetCommit checks (validateOffsetCommit, doCommitOffsets).

TEST_F(GroupOffsetCommit, SimpleConsumerMayCommitWhileEmpty) {
  EXPECT_EQ(check_commit("", -1), error_code::none);
  std::vector<std::string> ids = make_stable({member("alpha")});
  ASSERT_EQ(leave(ids[0]), error_code::none);
  ASSERT_EQ(g().state(), group_state::empty);
  EXPECT_EQ(check_commit("", -1), error_code::none);
  // With a generation, the committer must be a member.
  EXPECT_EQ(check_commit("", 2), error_code::unknown_member_id);
  EXPECT_EQ(check_commit(ids[0], 1), error_code::unknown_member_id);
}

TEST_F(GroupOffsetCommit, OnlyMembersOfTheGenerationCommitWhileTheGroupHasMembers) {
  std::vector<std::string> ids = make_stable({member("alpha"), member("beta")});
  EXPECT_EQ(check_commit("", -1), error_code::unknown_member_id);
  EXPECT_EQ(check_commit("ghost", 2), error_code::unknown_member_id);
  EXPECT_EQ(check_commit(ids[1], 1), error_code::illegal_generation);
  EXPECT_EQ(check_commit(ids[1], 3), error_code::illegal_generation);
  EXPECT_EQ(check_commit(ids[1], 2), error_code::none);
  EXPECT_EQ(check_commit(ids[0], 2), error_code::none);
}

// PreparingRebalance: members of the current generation may still commit
// (the rebalance reaches them by heartbeat); CompletingRebalance:
// REBALANCE_IN_PROGRESS.
TEST_F(GroupOffsetCommit, CommitsDuringARebalance) {
  std::vector<std::string> ids = make_stable({member("alpha"), member("beta")});
  join_probe a = join(with_id(member("alpha"), ids[0]));
  ASSERT_EQ(g().state(), group_state::preparing_rebalance);
  EXPECT_EQ(check_commit(ids[1], 2), error_code::none);
  EXPECT_EQ(check_commit(ids[0], 2), error_code::none);
  EXPECT_EQ(check_commit(ids[1], 1), error_code::illegal_generation);

  join_probe b = join(with_id(member("beta"), ids[1]));
  ASSERT_EQ(g().state(), group_state::completing_rebalance);
  EXPECT_EQ(check_commit(ids[1], 3), error_code::rebalance_in_progress);
  EXPECT_EQ(check_commit(ids[0], 3), error_code::rebalance_in_progress);
}

// --- Committed offsets.

TEST_F(GroupOffsets, CommitReplaceAndDelete) {
  const topic_partition_key orders0{"orders", 0};
  const topic_partition_key orders1{"orders", 1};
  g().commit_offset(orders0, offset_at(10, t0));
  g().commit_offset(orders1, offset_at(20, t0));
  ASSERT_EQ(g().offsets().size(), 2u);
  EXPECT_EQ(g().offsets().at(orders0).offset, 10);

  committed_offset next = offset_at(15, t0 + 5);
  next.metadata = "m";
  next.leader_epoch = 3;
  g().commit_offset(orders0, next);
  EXPECT_EQ(g().offsets().size(), 2u);
  EXPECT_EQ(g().offsets().at(orders0).offset, 15);
  EXPECT_EQ(g().offsets().at(orders0).metadata, "m");
  EXPECT_EQ(g().offsets().at(orders0).leader_epoch, 3);
  EXPECT_EQ(g().offsets().at(orders0).commit_timestamp_ms, t0 + 5);

  g().delete_offset(orders1);
  EXPECT_EQ(g().offsets().size(), 1u);
  EXPECT_EQ(g().offsets().count(orders1), 0u);
  g().delete_offset(topic_partition_key{"nothing", 9});
  EXPECT_EQ(g().offsets().size(), 1u);
}

// removeExpiredOffsets, Empty group with a protocol type: every offset
// expires once the group has been Empty for the retention, whenever it was
// committed.
TEST_F(GroupOffsets, EmptyGroupExpiresEveryOffsetByItsStateTimestamp) {
  constexpr int64_t retention = 100000;
  std::vector<std::string> ids = make_stable({member("alpha")});
  const topic_partition_key a{"audit", 0};
  const topic_partition_key b{"audit", 1};
  g().commit_offset(a, offset_at(1, now() - 50000));
  advance(1000);
  ASSERT_EQ(leave(ids[0]), error_code::none);
  ASSERT_EQ(g().state(), group_state::empty);
  const int64_t emptied = now();
  g().commit_offset(b, offset_at(2, emptied + 5000));

  EXPECT_TRUE(g().expired_offsets(emptied + retention - 1, retention).empty());
  EXPECT_EQ(sorted_keys(g().expired_offsets(emptied + retention, retention)), sorted_keys({a, b}));
}

// removeExpiredOffsets, no protocol type (a group that only stores offsets,
// it never had members): each offset expires by its own commit time.
TEST_F(GroupOffsets, StandaloneGroupExpiresOffsetsByCommitTime) {
  constexpr int64_t retention = 100000;
  const topic_partition_key p0{"orders", 0};
  const topic_partition_key p1{"orders", 1};
  ASSERT_EQ(check_commit("", -1), error_code::none);
  g().commit_offset(p0, offset_at(5, t0));
  g().commit_offset(p1, offset_at(6, t0 + 60000));

  EXPECT_TRUE(g().expired_offsets(t0 + retention - 1, retention).empty());
  EXPECT_EQ(g().expired_offsets(t0 + retention, retention), std::vector<topic_partition_key>{p0})
      << "orders-1 was committed 40 s ago";
  EXPECT_EQ(sorted_keys(g().expired_offsets(t0 + 60000 + retention, retention)),
            sorted_keys({p0, p1}));
}

// removeExpiredOffsets, Stable consumer group: offsets of topics no member
// subscribes to expire by commit time; an explicit expire timestamp
// (OffsetCommit v1) overrides the retention.
TEST_F(GroupOffsets, StableConsumerGroupExpiresOnlyTopicsNobodySubscribesTo) {
  constexpr int64_t retention = 100000;
  std::vector<std::string> ids = make_stable(
      {with_protocols(member("alpha"), {{"range", subscription({"orders", "payments"}, 1)}}),
       with_protocols(member("beta"), {{"range", subscription({"payments", "users"}, 3)}})});
  const int64_t t = now();
  const topic_partition_key orders{"orders", 0};
  const topic_partition_key users{"users", 3};
  const topic_partition_key audit_old{"audit", 0};
  const topic_partition_key audit_new{"audit", 1};
  const topic_partition_key legacy{"legacy", 0};
  const topic_partition_key legacy_later{"legacy", 1};
  g().commit_offset(orders, offset_at(1, t - 500000));
  g().commit_offset(users, offset_at(1, t - 500000));
  g().commit_offset(audit_old, offset_at(1, t - 500000));
  g().commit_offset(audit_new, offset_at(1, t - 1000));
  g().commit_offset(legacy, offset_at(1, t - 1000, t - 1));
  g().commit_offset(legacy_later, offset_at(1, t - 500000, t + 1000));

  EXPECT_EQ(sorted_keys(g().expired_offsets(t, retention)), sorted_keys({audit_old, legacy}));
  EXPECT_EQ(sorted_keys(g().expired_offsets(t + retention - 1000, retention)),
            sorted_keys({audit_old, audit_new, legacy, legacy_later}));

  EXPECT_TRUE(g().subscribed_to("orders"));
  EXPECT_TRUE(g().subscribed_to("payments"));
  EXPECT_TRUE(g().subscribed_to("users"));
  EXPECT_FALSE(g().subscribed_to("audit"));
  EXPECT_FALSE(g().subscribed_to("legacy"));

  // Nothing expires while the group rebalances.
  join_probe a = join(
      with_id(with_protocols(member("alpha"), {{"range", subscription({"orders", "payments"}, 1)}}),
              ids[0]));
  ASSERT_EQ(g().state(), group_state::preparing_rebalance);
  EXPECT_TRUE(g().expired_offsets(t + 10 * retention, retention).empty());
}

// The subscriptions are those of the current generation's protocol.
TEST_F(GroupOffsets, SubscriptionsFollowTheChosenProtocol) {
  std::vector<std::string> ids = make_stable(
      {with_protocols(member("alpha"), {{"cooperative-sticky", subscription({"orders"}, 2)},
                                        {"range", subscription({"payments"}, 0)}})});
  EXPECT_EQ(g().protocol_name(), std::optional<std::string>("cooperative-sticky"));
  EXPECT_TRUE(g().subscribed_to("orders"));
  EXPECT_FALSE(g().subscribed_to("payments"));
}

// computeSubscribedTopics reads every subscription as version 0, the prefix
// of all versions: a client's version number does not matter, nor do the
// fields of later versions (present or not).
TEST_F(GroupOffsets, SubscriptionIsReadAsItsVersion0Prefix) {
  protocol::consumer_protocol_subscription v0;
  v0.topics = {"orders"};
  base::byte_writer w;
  w.write_int16(1);  // says version 1, but has only the version 0 fields
  v0.encode(w, 0);
  base::shared_bytes short_v1(w.take());
  std::vector<std::string> ids =
      make_stable({with_protocols(member("alpha"), {{"range", short_v1}})});
  const topic_partition_key p{"orders", 0};
  g().commit_offset(p, offset_at(1, now() - 10'000'000));
  EXPECT_TRUE(g().subscribed_to("orders"));
  EXPECT_TRUE(g().expired_offsets(now(), 100000).empty());
}

// Only "consumer" groups have subscriptions Kafka understands: other Stable
// groups keep their offsets.
TEST_F(GroupOffsets, OffsetsOfOtherActiveGroupsDoNotExpire) {
  join_request connect = member("worker");
  connect.protocol_type = "connect";
  connect.protocols = {{"sessioned", bytes_of("worker-config")}};
  std::vector<std::string> ids = make_stable({connect});
  const topic_partition_key p{"connect-offsets", 0};
  g().commit_offset(p, offset_at(1, now() - 10'000'000));
  EXPECT_TRUE(g().expired_offsets(now(), 100000).empty());
}

// computeSubscribedTopics: a subscription that does not parse leaves the
// topics unknown: nothing expires, and isSubscribedToTopic says true.
TEST_F(GroupOffsets, UnreadableSubscriptionCountsAsSubscribedToEverything) {
  const uint8_t garbage[] = {0x00, 0x01, 0x7f};
  std::vector<std::string> ids = make_stable(
      {with_protocols(member("alpha"), {{"range", base::shared_bytes::copy_of(garbage)}})});
  const topic_partition_key p{"audit", 0};
  g().commit_offset(p, offset_at(1, now() - 10'000'000));
  EXPECT_TRUE(g().expired_offsets(now(), 100000).empty());
  EXPECT_TRUE(g().subscribed_to("audit"));
}

// --- DeleteGroups.

TEST_F(GroupDelete, GroupWithMembersCannotBeDeleted) {
  std::vector<std::string> ids = make_stable({member("alpha"), member("beta")});
  EXPECT_EQ(g().mark_dead(), error_code::non_empty_group);
  EXPECT_EQ(g().state(), group_state::stable);
  join_probe a = join(with_id(member("alpha"), ids[0]));
  ASSERT_EQ(g().state(), group_state::preparing_rebalance);
  EXPECT_EQ(g().mark_dead(), error_code::non_empty_group);
  EXPECT_EQ(g().state(), group_state::preparing_rebalance);
  join_probe b = join(with_id(member("beta"), ids[1]));
  ASSERT_EQ(g().state(), group_state::completing_rebalance);
  EXPECT_EQ(g().mark_dead(), error_code::non_empty_group);
}

TEST_F(GroupDelete, EmptyGroupBecomesDead) {
  g().commit_offset({"orders", 0}, offset_at(1, t0));
  EXPECT_EQ(g().mark_dead(), error_code::none);
  EXPECT_EQ(g().state(), group_state::dead);

  reset(limits_with());
  std::vector<std::string> ids = make_stable({member("alpha")});
  ASSERT_EQ(leave(ids[0]), error_code::none);
  EXPECT_EQ(g().mark_dead(), error_code::none);
  EXPECT_EQ(g().state(), group_state::dead);
}

// --- What is stored (GroupMetadataManager.storeGroup).

// Kafka writes a group at the leader's SyncGroup and when it turns Empty,
// never at the end of a join: a generation stored without its assignment
// would come back from a restart Stable with nothing assigned.
TEST_F(GroupStore, JoinThatCompletesAGenerationIsNotStoredTheLeadersSyncIs) {
  join_probe a = join_new(member("alpha"));
  ASSERT_TRUE(a.answered());
  ASSERT_EQ(g().state(), group_state::completing_rebalance);
  EXPECT_FALSE(g().stored_changed()) << "generation 1 has no assignment yet";

  sync_probe s = sync(a.result().member_id, 1, {{a.result().member_id, bytes_of("a1")}});
  ASSERT_EQ(s.error(), error_code::none);
  EXPECT_TRUE(g().stored_changed()) << "the leader's assignment is stored";
  g().clear_stored_changed();

  // A rebalance of a Stable group: the new generation is not stored until
  // its leader syncs.
  const std::string alpha = a.result().member_id;
  join_probe b = join_new(member("beta"));
  ASSERT_FALSE(b.answered());
  EXPECT_FALSE(g().stored_changed());
  join_probe a2 = join(with_id(member("alpha"), alpha));
  ASSERT_TRUE(b.answered());
  ASSERT_EQ(g().state(), group_state::completing_rebalance);
  ASSERT_EQ(g().generation(), 2);
  EXPECT_FALSE(g().stored_changed()) << "generation 2 has no assignment yet";
  EXPECT_EQ(g().to_stored().generation, 2) << "(what would be stored, if it were)";

  const std::string beta = b.result().member_id;
  sync_probe follower = sync(beta, 2);
  EXPECT_FALSE(g().stored_changed()) << "a follower's SyncGroup stores nothing";
  sync_probe leader = sync(alpha, 2, {{alpha, bytes_of("a2")}, {beta, bytes_of("b2")}});
  ASSERT_EQ(leader.error(), error_code::none);
  ASSERT_EQ(follower.error(), error_code::none);
  EXPECT_TRUE(g().stored_changed());
  g().clear_stored_changed();

  // Both leave: Empty is stored at once.
  EXPECT_EQ(leave(beta), error_code::none);
  EXPECT_EQ(g().state(), group_state::preparing_rebalance);
  EXPECT_FALSE(g().stored_changed());
  EXPECT_EQ(leave(alpha), error_code::none);
  EXPECT_EQ(g().state(), group_state::empty);
  EXPECT_TRUE(g().stored_changed());
  EXPECT_EQ(g().to_stored().generation, 3);
  EXPECT_TRUE(g().to_stored().members.empty());
}

// A rebalance whose only rejoining member left ends Empty: stored at once.
TEST_F(GroupStore, RebalanceThatEndsEmptyIsStored) {
  std::vector<std::string> ids = make_stable({member("alpha", 60000, 30000)});
  join_probe a = join(with_id(member("alpha", 60000, 30000), ids[0]));
  ASSERT_EQ(g().state(), group_state::completing_rebalance);
  EXPECT_FALSE(g().stored_changed());
  advance(30000);  // alpha never syncs
  EXPECT_EQ(g().state(), group_state::empty);
  EXPECT_TRUE(g().stored_changed());
}

// A static member's restart that needs no rebalance changes its member id
// in the stored group: stored at once.
TEST_F(GroupStore, StaticRejoinWithoutARebalanceIsStored) {
  std::vector<std::string> ids =
      make_stable({member("alpha"), static_member("sigma", "sigma-host-1")});
  ASSERT_FALSE(g().stored_changed());
  join_probe r = join(static_member("sigma", "sigma-host-1"));
  ASSERT_TRUE(r.answered());
  ASSERT_EQ(r.error(), error_code::none);
  EXPECT_EQ(g().state(), group_state::stable);
  EXPECT_TRUE(g().stored_changed());
  EXPECT_NE(find_member(g().to_stored(), r.result().member_id), nullptr);
}

// --- Stopping (the broker unloads its groups).

// The broker stops: every waiting JoinGroup is answered NOT_COORDINATOR
// (its client looks for the coordinator again), once; the members stay.
TEST_F(GroupAbort, WaitingJoinsAreAnsweredNotCoordinator) {
  std::vector<std::string> ids = make_stable({member("alpha"), member("beta"), member("gamma")});
  join_probe a = join(with_id(member("alpha"), ids[0]));
  join_probe b = join(with_id(member("beta"), ids[1]));
  join_probe pending = join(member("delta"));
  ASSERT_EQ(pending.error(), error_code::member_id_required);
  join_probe d = join(with_id(member("delta"), pending.result().member_id));
  ASSERT_FALSE(a.answered() || b.answered() || d.answered());
  ASSERT_EQ(g().state(), group_state::preparing_rebalance);
  const int32_t generation = g().generation();

  g().abort_waiting();
  for (const join_probe* p : {&a, &b, &d}) {
    ASSERT_TRUE(p->answered());
    EXPECT_EQ(p->error(), error_code::not_coordinator);
    EXPECT_EQ(p->calls(), 1u);
  }
  EXPECT_EQ(a.result().member_id, ids[0]);
  EXPECT_EQ(b.result().member_id, ids[1]);
  EXPECT_EQ(d.result().member_id, pending.result().member_id);
  EXPECT_EQ(ids_of(g().members()), sorted({ids[0], ids[1], ids[2], pending.result().member_id}));
  EXPECT_EQ(g().state(), group_state::preparing_rebalance);
  EXPECT_EQ(g().generation(), generation);
  EXPECT_EQ(g().leader(), ids[0]);
  EXPECT_FALSE(g().stored_changed());
  g().abort_waiting();
  EXPECT_EQ(a.calls(), 1u) << "nothing is answered twice";
}

// ... and every waiting SyncGroup, with the members and the generation kept.
TEST_F(GroupAbort, WaitingSyncsAreAnsweredNotCoordinator) {
  std::vector<std::string> ids =
      make_completing({member("alpha"), member("beta"), member("gamma")});
  sync_probe b = sync(ids[1], 3);
  sync_probe c = sync(ids[2], 3);
  ASSERT_FALSE(b.answered() || c.answered());

  g().abort_waiting();
  for (const sync_probe* p : {&b, &c}) {
    ASSERT_TRUE(p->answered());
    EXPECT_EQ(p->error(), error_code::not_coordinator);
    EXPECT_EQ(p->calls(), 1u);
  }
  EXPECT_EQ(ids_of(g().members()), sorted(ids));
  EXPECT_EQ(g().state(), group_state::completing_rebalance);
  EXPECT_EQ(g().generation(), 3);
  EXPECT_EQ(g().leader(), ids[0]);
  EXPECT_FALSE(g().stored_changed());
}

// Nothing waiting: nothing changes.
TEST_F(GroupAbort, StableGroupIsLeftAsItIs) {
  std::vector<std::string> ids = make_stable({member("alpha"), member("beta")});
  g().abort_waiting();
  EXPECT_EQ(g().state(), group_state::stable);
  EXPECT_EQ(ids_of(g().members()), sorted(ids));
  EXPECT_EQ(heartbeat(ids[1], 2), error_code::none);
}

// --- Restore from __consumer_offsets (loadGroup, onGroupLoaded).

stored_group stored_two_members() {
  stored_group s;
  s.protocol_type = "consumer";
  s.generation = 5;
  s.protocol = "range";
  s.leader = "alpha-m1";
  s.current_state_timestamp_ms = t0 - 10000;
  stored_member m1;
  m1.member_id = "alpha-m1";
  m1.client_id = "alpha";
  m1.client_host = "/10.0.0.1";
  m1.rebalance_timeout_ms = 30000;
  m1.session_timeout_ms = 10000;
  m1.subscription = subscription({"orders"}, 1);
  m1.assignment = bytes_of("assign:alpha-m1");
  stored_member m2;
  m2.member_id = "sigma-host-1-m2";
  m2.group_instance_id = "sigma-host-1";
  m2.client_id = "sigma";
  m2.client_host = "/10.0.0.2";
  m2.rebalance_timeout_ms = 30000;
  m2.session_timeout_ms = 20000;
  m2.subscription = subscription({"users"}, 0);
  m2.assignment = bytes_of("assign:sigma-m2");
  s.members = {m1, m2};
  return s;
}

TEST_F(GroupRestore, StableGroupKeepsItsMembersAndAssignments) {
  restore(limits_with(), stored_two_members());
  EXPECT_EQ(g().state(), group_state::stable);
  EXPECT_EQ(g().generation(), 5);
  EXPECT_EQ(g().leader(), "alpha-m1");
  EXPECT_EQ(g().protocol_type(), "consumer");
  EXPECT_EQ(g().protocol_name(), std::optional<std::string>("range"));
  ASSERT_EQ(ids_of(g().members()), sorted({"alpha-m1", "sigma-host-1-m2"}));
  EXPECT_EQ(text_of(g().members().at("alpha-m1").assignment), "assign:alpha-m1");
  EXPECT_EQ(g().members().at("sigma-host-1-m2").group_instance_id,
            std::optional<std::string>("sigma-host-1"));
  EXPECT_EQ(g().members().at("sigma-host-1-m2").session_timeout_ms, 20000);
  EXPECT_GT(g().next_deadline_ms(), now());
  EXPECT_LE(g().next_deadline_ms(), now() + 10000);

  EXPECT_EQ(heartbeat("alpha-m1", 5), error_code::none);
  EXPECT_EQ(heartbeat("alpha-m1", 4), error_code::illegal_generation);
  sync_probe s = sync("sigma-host-1-m2", 5, {}, "sigma-host-1");
  ASSERT_TRUE(s.answered());
  EXPECT_EQ(s.error(), error_code::none);
  EXPECT_EQ(s.assignment(), "assign:sigma-m2");
  EXPECT_EQ(check_commit("alpha-m1", 5), error_code::none);
  EXPECT_TRUE(g().subscribed_to("orders"));
  EXPECT_TRUE(g().subscribed_to("users"));
  EXPECT_FALSE(g().subscribed_to("audit"));

  stored_group again = g().to_stored();
  EXPECT_EQ(again.generation, 5);
  EXPECT_EQ(again.protocol, std::optional<std::string>("range"));
  EXPECT_EQ(again.leader, std::optional<std::string>("alpha-m1"));
  ASSERT_EQ(again.members.size(), 2u);
  const stored_member* m2 = find_member(again, "sigma-host-1-m2");
  ASSERT_NE(m2, nullptr);
  EXPECT_EQ(m2->subscription, subscription({"users"}, 0));
  EXPECT_EQ(text_of(m2->assignment), "assign:sigma-m2");
  EXPECT_EQ(m2->group_instance_id, std::optional<std::string>("sigma-host-1"));
  EXPECT_EQ(m2->client_id, "sigma");
  EXPECT_EQ(m2->rebalance_timeout_ms, 30000);
}

// What a group stores is what its leader's SyncGroup made of it: restored,
// it is Stable in that generation with the same leader and assignments (the
// only generations with members that are stored are synced ones).
TEST_F(GroupRestore, StoredAfterTheLeadersSyncRestoresStableWithTheAssignments) {
  std::vector<std::string> ids =
      make_stable({member("alpha"), static_member("sigma", "sigma-host-1")});
  join_probe a = join(with_id(member("alpha"), ids[0]));
  join_probe s = join(with_id(static_member("sigma", "sigma-host-1"), ids[1]));
  ASSERT_TRUE(a.answered() && s.answered());
  ASSERT_EQ(g().generation(), 3);
  sync_probe leader = sync(ids[0], 3, {{ids[0], bytes_of("a3")}, {ids[1], bytes_of("s3")}});
  ASSERT_EQ(leader.error(), error_code::none);
  ASSERT_TRUE(g().stored_changed());
  const stored_group stored = g().to_stored();

  advance(5000);
  restore(limits_with(), stored);
  EXPECT_EQ(g().state(), group_state::stable);
  EXPECT_EQ(g().generation(), 3);
  EXPECT_EQ(g().leader(), ids[0]);
  EXPECT_EQ(g().protocol_name(), std::optional<std::string>("range"));
  EXPECT_EQ(ids_of(g().members()), sorted(ids));
  EXPECT_EQ(text_of(g().members().at(ids[0]).assignment), "a3");
  EXPECT_EQ(text_of(g().members().at(ids[1]).assignment), "s3");
  EXPECT_EQ(g().members().at(ids[1]).group_instance_id, std::optional<std::string>("sigma-host-1"));
  sync_probe again = sync(ids[1], 3, {}, "sigma-host-1");
  ASSERT_TRUE(again.answered());
  EXPECT_EQ(again.error(), error_code::none);
  EXPECT_EQ(again.assignment(), "s3");
  EXPECT_EQ(heartbeat(ids[0], 3), error_code::none);
}

// onGroupLoaded: every member gets a session timeout from the load; members
// that never come back expire, and the group ends Empty.
TEST_F(GroupRestore, MembersThatNeverHeartbeatExpire) {
  restore(limits_with(), stored_two_members());
  const int64_t loaded = now();
  advance_to(loaded + 9999);
  EXPECT_EQ(g().members().size(), 2u);
  EXPECT_EQ(g().state(), group_state::stable);

  advance_to(loaded + 10000);
  EXPECT_FALSE(has_member("alpha-m1"));
  EXPECT_TRUE(has_member("sigma-host-1-m2"));
  EXPECT_EQ(g().state(), group_state::preparing_rebalance);

  advance_to(loaded + 20000);
  EXPECT_TRUE(g().members().empty());
  EXPECT_EQ(g().state(), group_state::empty);
  EXPECT_EQ(g().generation(), 6);
  EXPECT_TRUE(g().stored_changed());
  EXPECT_EQ(g().to_stored().generation, 6);
}

// A restored static member restarting joins without a rebalance.
TEST_F(GroupRestore, RestoredStaticMemberRejoinsWithoutARebalance) {
  restore(limits_with(), stored_two_members());
  join_probe r = join(with_protocols(static_member("sigma", "sigma-host-1"),
                                     {{"range", subscription({"users"}, 0)}}));
  ASSERT_TRUE(r.answered());
  EXPECT_EQ(r.error(), error_code::none);
  EXPECT_EQ(r.result().generation, 5);
  EXPECT_NE(r.result().member_id, "sigma-host-1-m2");
  EXPECT_EQ(g().state(), group_state::stable);
  EXPECT_EQ(heartbeat("sigma-host-1-m2", 5, "sigma-host-1"), error_code::fenced_instance_id);
  sync_probe s = sync(r.result().member_id, 5, {}, "sigma-host-1");
  ASSERT_TRUE(s.answered());
  EXPECT_EQ(s.assignment(), "assign:sigma-m2");
}

TEST_F(GroupRestore, EmptyStoredGroupIsEmpty) {
  stored_group s;
  s.protocol_type = "consumer";
  s.generation = 3;
  s.current_state_timestamp_ms = t0 - 5000;
  restore(limits_with(), s);
  EXPECT_EQ(g().state(), group_state::empty);
  EXPECT_EQ(g().generation(), 3);
  EXPECT_TRUE(g().members().empty());
  EXPECT_EQ(g().state_timestamp_ms(), t0 - 5000) << "GroupMetadataValue.current_state_timestamp";
  EXPECT_EQ(g().next_deadline_ms(), no_deadline);
  EXPECT_EQ(check_commit("", -1), error_code::none);

  // Expiry counts from the stored state timestamp.
  constexpr int64_t retention = 100000;
  const topic_partition_key p{"orders", 0};
  g().commit_offset(p, offset_at(1, t0 - 200000));
  EXPECT_TRUE(g().expired_offsets(t0 - 5000 + retention - 1, retention).empty());
  EXPECT_EQ(g().expired_offsets(t0 - 5000 + retention, retention),
            std::vector<topic_partition_key>{p});

  join_probe a = join_new(member("alpha"));
  ASSERT_TRUE(a.answered());
  EXPECT_EQ(a.result().generation, 4);
}

// A group written without a state timestamp (GroupMetadataValue v0/v1):
// its offsets expire by commit time.
TEST_F(GroupRestore, EmptyGroupWithoutStateTimestampExpiresByCommitTime) {
  stored_group s;
  s.protocol_type = "consumer";
  s.generation = 3;
  s.current_state_timestamp_ms = -1;
  restore(limits_with(), s);
  constexpr int64_t retention = 100000;
  const topic_partition_key old_p{"orders", 0};
  const topic_partition_key new_p{"orders", 1};
  g().commit_offset(old_p, offset_at(1, t0 - 200000));
  g().commit_offset(new_p, offset_at(1, t0 - 1000));
  EXPECT_EQ(g().expired_offsets(t0, retention), std::vector<topic_partition_key>{old_p});
}

// --- group.initial.rebalance.delay.ms (InitialDelayedJoin).

TEST_F(GroupInitialDelay, FirstJoinWaitsForTheDelay) {
  reset(limits_with(3000));
  join_probe first = join(member("alpha"));
  ASSERT_TRUE(first.answered()) << "MEMBER_ID_REQUIRED is not delayed";
  ASSERT_EQ(first.error(), error_code::member_id_required);
  join_probe a = join(with_id(member("alpha"), first.result().member_id));
  EXPECT_FALSE(a.answered());
  EXPECT_EQ(g().state(), group_state::preparing_rebalance);
  EXPECT_EQ(g().next_deadline_ms(), t0 + 3000);

  advance_to(t0 + 2999);
  EXPECT_FALSE(a.answered());
  advance_to(t0 + 3000);
  ASSERT_TRUE(a.answered());
  EXPECT_EQ(a.error(), error_code::none);
  EXPECT_EQ(a.result().generation, 1);
  EXPECT_EQ(g().state(), group_state::completing_rebalance);
}

TEST_F(GroupInitialDelay, MembersJoiningDuringTheDelayShareTheFirstGeneration) {
  reset(limits_with(3000));
  join_probe a = join_new(member("alpha"));
  advance_to(t0 + 1000);
  join_probe b = join_new(member("beta"));
  EXPECT_EQ(g().state(), group_state::preparing_rebalance);
  advance_to(t0 + 2999);
  EXPECT_FALSE(a.answered());
  EXPECT_FALSE(b.answered());

  advance_to(t0 + 6000);
  ASSERT_TRUE(a.answered());
  ASSERT_TRUE(b.answered());
  EXPECT_EQ(a.result().generation, 1);
  EXPECT_EQ(b.result().generation, 1);
  EXPECT_EQ(a.result().leader, a.result().member_id) << "the first to join leads";
  EXPECT_EQ(b.result().leader, a.result().member_id);
  EXPECT_EQ(member_ids(a.result()), sorted({a.result().member_id, b.result().member_id}));
  EXPECT_EQ(g().generation(), 1);
}

// InitialDelayedJoin: a member joining during the delay extends it by
// another delay.
TEST_F(GroupInitialDelay, JoinDuringTheDelayExtendsIt) {
  reset(limits_with(3000));
  join_probe a = join_new(member("alpha"));
  advance_to(t0 + 1000);
  join_probe b = join_new(member("beta"));
  advance_to(t0 + 3000);
  EXPECT_FALSE(a.answered()) << "beta joined during the first delay";
  advance_to(t0 + 5999);
  EXPECT_FALSE(a.answered());
  advance_to(t0 + 6000);
  EXPECT_TRUE(a.answered());
  EXPECT_TRUE(b.answered());
}

// ... but never beyond the rebalance timeout from the first join.
TEST_F(GroupInitialDelay, DelayIsBoundedByTheRebalanceTimeout) {
  reset(limits_with(3000));
  std::vector<join_probe> probes;
  probes.push_back(join_new(member("m0", 10000, 10000)));
  const int64_t joins_at[] = {1000, 4000, 7000, 9500};
  int n = 1;
  for (int64_t at : joins_at) {
    advance_to(t0 + at);
    probes.push_back(join_new(member("m" + std::to_string(n++), 10000, 10000)));
  }
  advance_to(t0 + 9999);
  for (const auto& p : probes) EXPECT_FALSE(p.answered());
  advance_to(t0 + 10000);
  for (const auto& p : probes) {
    ASSERT_TRUE(p.answered());
    EXPECT_EQ(p.error(), error_code::none);
    EXPECT_EQ(p.result().generation, 1);
  }
  EXPECT_EQ(probes[0].result().members.size(), 5u);
}

}  // namespace
}  // namespace sluice::coordinator
