#pragma once

// group: one consumer group under Kafka's classic rebalance protocol, as a
// state machine with no clock, thread or disk inside. The broker feeds it
// requests and the time, and it answers; answers that must wait (a JoinGroup
// until every member has rejoined, a SyncGroup until the leader has sent the
// assignment) go to callbacks, called from inside a later call (join, sync,
// leave, heartbeat or tick). That keeps every rule below testable with a
// fake clock, and lets the broker run each group on the shard that owns its
// __consumer_offsets partition without locks.
//
// States (Kafka's names): Empty (no members; committed offsets may remain),
// PreparingRebalance (waiting for the members to rejoin), CompletingRebalance
// (waiting for the leader's assignment), Stable, Dead (deleted; the broker
// drops the object).
//
// What must reach the log: after a call, stored_changed() says the group's
// stored form (GroupMetadataValue) changed; the broker then writes
// to_stored() to __consumer_offsets. Committed offsets are kept here too,
// but written by the broker (commit_offsets after its append succeeded).

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "base/shared_bytes.h"
#include "coordinator/offsets_records.h"
#include "protocol/error_code.h"

namespace sluice::coordinator {

enum class group_state { empty, preparing_rebalance, completing_rebalance, stable, dead };

// "Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead".
std::string_view group_state_name(group_state state);

// The broker bounds that apply to every group.
struct group_limits {
  int32_t min_session_timeout_ms = 6000;      // group.min.session.timeout.ms
  int32_t max_session_timeout_ms = 1800000;   // group.max.session.timeout.ms
  int32_t initial_rebalance_delay_ms = 3000;  // group.initial.rebalance.delay.ms
  int32_t max_size = 2147483647;              // group.max.size
};

struct group_member {
  std::string member_id;
  std::optional<std::string> group_instance_id;  // static membership (KIP-345)
  std::string client_id;
  std::string client_host;
  int32_t session_timeout_ms = 0;
  int32_t rebalance_timeout_ms = 0;
  std::string protocol_type;
  // The member's protocols in its order of preference: name and metadata.
  std::vector<std::pair<std::string, base::shared_bytes>> protocols;
  base::shared_bytes assignment;
  int64_t session_deadline_ms = 0;
};

struct join_request {
  std::string member_id;  // "" on a first join
  std::optional<std::string> group_instance_id;
  std::string client_id;
  std::string client_host;
  int32_t session_timeout_ms = 0;
  int32_t rebalance_timeout_ms = 0;  // v0 clients: the session timeout
  std::string protocol_type;
  std::vector<std::pair<std::string, base::shared_bytes>> protocols;
  // JoinGroup v4+: a member without an id is given one and must join again
  // with it (MEMBER_ID_REQUIRED, KIP-394).
  bool require_known_member_id = false;
  // JoinGroup v9+: a static leader rejoining a stable group may be told to
  // skip the assignment (KIP-814).
  bool supports_skip_assignment = false;
};

struct join_member {
  std::string member_id;
  std::optional<std::string> group_instance_id;
  base::shared_bytes metadata;  // of the chosen protocol
};

struct join_result {
  protocol::error_code error = protocol::error_code::none;
  int32_t generation = -1;
  std::optional<std::string> protocol_type;
  std::optional<std::string> protocol_name;
  std::string leader;
  std::string member_id;
  bool skip_assignment = false;
  std::vector<join_member> members;  // the leader's answer only
};
using join_callback = std::function<void(join_result)>;

struct sync_request {
  std::string member_id;
  std::optional<std::string> group_instance_id;
  int32_t generation = 0;
  std::optional<std::string> protocol_type;                             // v5+
  std::optional<std::string> protocol_name;                             // v5+
  std::vector<std::pair<std::string, base::shared_bytes>> assignments;  // the leader's
};

struct sync_result {
  protocol::error_code error = protocol::error_code::none;
  std::optional<std::string> protocol_type;
  std::optional<std::string> protocol_name;
  base::shared_bytes assignment;
};
using sync_callback = std::function<void(sync_result)>;

// Who a Heartbeat, LeaveGroup or OffsetCommit comes from.
struct member_identity {
  std::string member_id;
  std::optional<std::string> group_instance_id;
};

struct topic_partition_key {
  std::string topic;
  int32_t partition = 0;
  friend auto operator<=>(const topic_partition_key&, const topic_partition_key&) = default;
};

class group {
 public:
  group(std::string id, const group_limits& limits, int64_t now_ms);
  // Rebuilds a group from its stored form (broker start): members keep their
  // assignments and get a fresh session timeout from `now_ms`.
  group(std::string id, const group_limits& limits, const stored_group& stored, int64_t now_ms);

  const std::string& id() const { return id_; }
  group_state state() const { return state_; }
  int32_t generation() const { return generation_; }
  const std::string& protocol_type() const { return protocol_type_; }
  const std::optional<std::string>& protocol_name() const { return protocol_name_; }
  const std::string& leader() const { return leader_; }
  const std::map<std::string, group_member>& members() const { return members_; }
  // When the group entered its state; -1 when a stored group did not say.
  int64_t state_timestamp_ms() const { return state_timestamp_ms_; }

  // JoinGroup. Answers at once (an error, MEMBER_ID_REQUIRED, or a rejoin
  // that changes nothing) or once the rebalance completes. The caller checked
  // the group id is valid.
  void join(join_request request, int64_t now_ms, join_callback done);
  // SyncGroup: the leader's call stores the assignment and answers everyone.
  void sync(sync_request request, int64_t now_ms, sync_callback done);
  protocol::error_code heartbeat(const member_identity& who, int32_t generation, int64_t now_ms);
  // LeaveGroup for one member. A member_id of "" with an instance id leaves
  // by instance id (v3+).
  protocol::error_code leave(const member_identity& who, int64_t now_ms);

  // Session expiry, the end of a rebalance's wait, a leader that never sent
  // SyncGroup. Call when next_deadline_ms() has passed (calling early is
  // harmless).
  void tick(int64_t now_ms);
  // The earliest time tick() has something to do; INT64_MAX when none.
  int64_t next_deadline_ms() const;

  // Whether an OffsetCommit from `who` at `generation` may commit: NONE,
  // or UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS,
  // FENCED_INSTANCE_ID as Kafka decides. A generation < 0 with no member id
  // is a simple consumer's (or an admin's) commit: allowed while Empty.
  protocol::error_code check_offset_commit(const member_identity& who, int32_t generation) const;
  // A member's accepted commit also proves it alive (its session restarts).
  void extend_session(const std::string& member_id, int64_t now_ms);

  // --- Committed offsets.
  const std::map<topic_partition_key, committed_offset>& offsets() const { return offsets_; }
  void commit_offset(const topic_partition_key& key, committed_offset value);
  void delete_offset(const topic_partition_key& key);
  // The offsets offsets.retention.minutes has expired at `now_ms`: every
  // offset of a group Empty for that long; in a Stable consumer group, those
  // of topics no member subscribes to, by commit time. The caller writes
  // tombstones and then calls delete_offset.
  std::vector<topic_partition_key> expired_offsets(int64_t now_ms, int64_t retention_ms) const;
  // Whether any member's subscription (protocol type "consumer") names
  // `topic`: OffsetDelete refuses those (GROUP_SUBSCRIBED_TO_TOPIC).
  bool subscribed_to(std::string_view topic) const;

  // The broker is stopping: every JoinGroup and SyncGroup still waiting is
  // answered NOT_COORDINATOR, so its client looks for the coordinator again
  // (as Kafka answers when it unloads a group). The group stays as it is.
  void abort_waiting();

  // DeleteGroups: NONE when the group could be deleted (it is Dead now),
  // NON_EMPTY_GROUP while it has members.
  protocol::error_code mark_dead();

  // --- Persistence.
  bool stored_changed() const { return stored_changed_; }
  stored_group to_stored() const;
  void clear_stored_changed() { stored_changed_ = false; }

 private:
  bool has_all_members_joined() const;
  void add_member(group_member member, int64_t now_ms, join_callback done);
  static group_member new_member(const join_request& request);
  void update_member(group_member& member, const join_request& request, int64_t now_ms);
  // A member's waiting JoinGroup or SyncGroup; one it replaces (the same
  // member asking again, e.g. on a new connection) is answered
  // REBALANCE_IN_PROGRESS so that no request waits forever.
  void await_join(const std::string& member_id, join_callback done);
  void await_sync(const std::string& member_id, sync_callback done);
  void remove_member(const std::string& member_id, int64_t now_ms);
  void prepare_rebalance(int64_t now_ms);
  void maybe_complete_join(int64_t now_ms);
  void complete_join(int64_t now_ms);
  void transition(group_state next, int64_t now_ms);
  std::optional<std::string> select_protocol() const;
  // The union of the members' subscriptions; nullopt when unknown (not a
  // consumer group, or a subscription that does not parse).
  std::optional<std::set<std::string>> all_subscribed_topics() const;
  bool accept_joining_member(const std::string& member_id) const;
  bool all_members_support(const std::string& protocol) const;
  bool supports_protocols(const std::string& type,
                          const std::vector<std::pair<std::string, base::shared_bytes>>&) const;
  join_result result_for(const group_member& member) const;
  void fail_pending_syncs(protocol::error_code error);
  void reset_assignments();
  protocol::error_code check_member(const member_identity& who) const;
  void static_rejoin(join_request request, int64_t now_ms, join_callback done);
  void new_member_join(join_request request, int64_t now_ms, join_callback done);
  void known_member_join(join_request request, int64_t now_ms, join_callback done);

  std::string id_;
  group_limits limits_;
  group_state state_ = group_state::empty;
  int64_t state_timestamp_ms_ = 0;
  int32_t generation_ = 0;
  std::string protocol_type_;
  std::optional<std::string> protocol_name_;
  std::string leader_;
  std::map<std::string, group_member> members_;
  std::map<std::string, std::string> static_members_;  // instance id -> member id
  // Members given an id by MEMBER_ID_REQUIRED that have not joined with it:
  // member id -> the time they are forgotten.
  std::map<std::string, int64_t> pending_members_;
  std::map<std::string, join_callback> awaiting_join_;
  std::map<std::string, sync_callback> awaiting_sync_;
  // PreparingRebalance: when the wait for rejoins ends; during the initial
  // delay of an Empty group, when the delay ends and the latest it may grow to.
  int64_t rebalance_deadline_ms_ = 0;
  bool in_initial_delay_ = false;
  int64_t initial_delay_limit_ms_ = 0;
  bool joined_during_delay_ = false;
  // Members of this generation that have not sent SyncGroup yet, and when
  // they are removed for it (the rebalance timeout after the join).
  std::set<std::string> pending_sync_;
  int64_t sync_deadline_ms_ = 0;
  std::map<topic_partition_key, committed_offset> offsets_;
  bool stored_changed_ = false;
};

}  // namespace sluice::coordinator
