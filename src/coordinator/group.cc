#include "coordinator/group.h"

#include <algorithm>
#include <limits>
#include <set>

#include "base/byte_reader.h"
#include "base/uuid.h"
#include "protocol/messages/consumer_protocol_subscription.h"

namespace sluice::coordinator {

using protocol::error_code;

std::string_view group_state_name(group_state state) {
  switch (state) {
    case group_state::empty:
      return "Empty";
    case group_state::preparing_rebalance:
      return "PreparingRebalance";
    case group_state::completing_rebalance:
      return "CompletingRebalance";
    case group_state::stable:
      return "Stable";
    case group_state::dead:
      return "Dead";
  }
  return "Unknown";
}

namespace {

constexpr int64_t never = std::numeric_limits<int64_t>::max();

std::string new_member_id(std::string_view prefix) {
  return std::string(prefix) + "-" + base::uuid::random().to_string();
}

bool same_protocols(const std::vector<std::pair<std::string, base::shared_bytes>>& a,
                    const std::vector<std::pair<std::string, base::shared_bytes>>& b) {
  return a == b;
}

// The topics a "consumer" member subscribes to, from its protocol metadata:
// an int16 version, then ConsumerProtocolSubscription. Every version starts
// with version 0's fields, and the broker reads only those (as Kafka does),
// so a client newer than this broker is still understood. nullopt when the
// bytes do not parse.
std::optional<std::vector<std::string>> subscribed_topics(const base::shared_bytes& metadata) {
  base::byte_reader reader(metadata);
  const int16_t version = reader.read_int16();
  if (!reader.ok() || version < 0) return std::nullopt;
  protocol::consumer_protocol_subscription subscription;
  subscription.decode(reader, 0);
  if (!reader.ok()) return std::nullopt;
  return std::move(subscription.topics);
}

}  // namespace

group::group(std::string id, const group_limits& limits, int64_t now_ms)
    : id_(std::move(id)), limits_(limits), state_timestamp_ms_(now_ms) {}

group::group(std::string id, const group_limits& limits, const stored_group& stored, int64_t now_ms)
    : id_(std::move(id)),
      limits_(limits),
      state_timestamp_ms_(stored.current_state_timestamp_ms),
      generation_(stored.generation),
      protocol_type_(stored.protocol_type),
      protocol_name_(stored.protocol),
      leader_(stored.leader.value_or("")) {
  for (const auto& m : stored.members) {
    group_member member;
    member.member_id = m.member_id;
    member.group_instance_id = m.group_instance_id;
    member.client_id = m.client_id;
    member.client_host = m.client_host;
    member.session_timeout_ms = m.session_timeout_ms;
    member.rebalance_timeout_ms = m.rebalance_timeout_ms;
    member.protocol_type = protocol_type_;
    if (protocol_name_) member.protocols.emplace_back(*protocol_name_, m.subscription);
    member.assignment = m.assignment;
    member.session_deadline_ms = now_ms + m.session_timeout_ms;
    if (member.group_instance_id) static_members_[*member.group_instance_id] = member.member_id;
    members_.emplace(member.member_id, std::move(member));
  }
  state_ = members_.empty() ? group_state::empty : group_state::stable;
  if (!members_.contains(leader_)) leader_ = members_.empty() ? "" : members_.begin()->first;
}

// --- JoinGroup.

void group::join(join_request request, int64_t now_ms, join_callback done) {
  auto fail = [&](error_code error) {
    join_result result;
    result.error = error;
    result.member_id = request.member_id;
    done(std::move(result));
  };
  if (request.session_timeout_ms < limits_.min_session_timeout_ms ||
      request.session_timeout_ms > limits_.max_session_timeout_ms) {
    return fail(error_code::invalid_session_timeout);
  }
  if (state_ == group_state::dead) return fail(error_code::coordinator_not_available);
  if (!accept_joining_member(request.member_id)) {
    // A member turned away is out of the group (and of the rebalance).
    pending_members_.erase(request.member_id);
    remove_member(request.member_id, now_ms);
    join_result result;
    result.error = error_code::group_max_size_reached;
    return done(std::move(result));
  }
  if (!supports_protocols(request.protocol_type, request.protocols)) {
    return fail(error_code::inconsistent_group_protocol);
  }
  if (request.member_id.empty()) {
    if (request.group_instance_id && static_members_.contains(*request.group_instance_id)) {
      return static_rejoin(std::move(request), now_ms, std::move(done));
    }
    return new_member_join(std::move(request), now_ms, std::move(done));
  }
  known_member_join(std::move(request), now_ms, std::move(done));
}

// group.max.size, as Kafka counts it: during a rebalance only the members
// that have rejoined (so the last to rejoin of an oversized group are turned
// away), otherwise all members; an Empty group takes anyone.
bool group::accept_joining_member(const std::string& member_id) const {
  const auto max = static_cast<size_t>(limits_.max_size);
  switch (state_) {
    case group_state::empty:
    case group_state::dead:
      return true;
    case group_state::preparing_rebalance:
      return awaiting_join_.contains(member_id) || awaiting_join_.size() < max;
    case group_state::completing_rebalance:
    case group_state::stable:
      return members_.contains(member_id) || members_.size() < max;
  }
  return false;
}

void group::new_member_join(join_request request, int64_t now_ms, join_callback done) {
  const bool is_static = request.group_instance_id.has_value();
  std::string member_id = new_member_id(is_static ? *request.group_instance_id : request.client_id);
  // KIP-394: a dynamic member must come back with the id it is given, so a
  // client that never receives the answer leaves no ghost member behind.
  // Static members are known by their instance id instead.
  if (request.require_known_member_id && !is_static) {
    pending_members_[member_id] = now_ms + request.session_timeout_ms;
    join_result result;
    result.error = error_code::member_id_required;
    result.member_id = std::move(member_id);
    return done(std::move(result));
  }
  request.member_id = std::move(member_id);
  group_member member = new_member(request);
  update_member(member, request, now_ms);
  add_member(std::move(member), now_ms, std::move(done));
}

void group::known_member_join(join_request request, int64_t now_ms, join_callback done) {
  auto fail = [&](error_code error) {
    join_result result;
    result.error = error;
    result.member_id = request.member_id;
    done(std::move(result));
  };
  if (auto pending = pending_members_.find(request.member_id); pending != pending_members_.end()) {
    pending_members_.erase(pending);
    group_member member = new_member(request);
    update_member(member, request, now_ms);
    return add_member(std::move(member), now_ms, std::move(done));
  }
  if (auto error = check_member({request.member_id, request.group_instance_id});
      error != error_code::none) {
    return fail(error);
  }
  group_member& member = members_.at(request.member_id);
  switch (state_) {
    case group_state::preparing_rebalance:
      update_member(member, request, now_ms);
      await_join(member.member_id, std::move(done));
      maybe_complete_join(now_ms);
      return;
    case group_state::completing_rebalance:
      // The same metadata again: most likely the member missed the answer
      // of this generation, so it gets that answer again.
      if (same_protocols(member.protocols, request.protocols)) {
        return done(result_for(member));
      }
      update_member(member, request, now_ms);
      await_join(member.member_id, std::move(done));
      prepare_rebalance(now_ms);
      return;
    case group_state::stable:
      // A follower rejoining with what it had changes nothing; the leader
      // rejoining means it wants a new assignment (metadata it cannot see
      // changed, e.g. a topic's partition count).
      if (member.member_id != leader_ && same_protocols(member.protocols, request.protocols)) {
        member.session_deadline_ms = now_ms + member.session_timeout_ms;
        return done(result_for(member));
      }
      update_member(member, request, now_ms);
      await_join(member.member_id, std::move(done));
      prepare_rebalance(now_ms);
      return;
    case group_state::empty:
    case group_state::dead:
      return fail(error_code::unknown_member_id);
  }
}

// KIP-345: a static member that restarts comes back with its instance id and
// no member id. It takes a new member id (the old one is fenced from now on)
// and, when nothing it subscribes to changed, the group does not rebalance:
// it gets its old assignment from SyncGroup.
void group::static_rejoin(join_request request, int64_t now_ms, join_callback done) {
  const std::string old_id = static_members_.at(*request.group_instance_id);
  group_member member = std::move(members_.at(old_id));
  members_.erase(old_id);
  // Whatever the old incarnation was waiting for is over: it is fenced.
  if (auto it = awaiting_join_.find(old_id); it != awaiting_join_.end()) {
    auto callback = std::move(it->second);
    awaiting_join_.erase(it);
    join_result fenced;
    fenced.error = error_code::fenced_instance_id;
    fenced.member_id = old_id;
    callback(std::move(fenced));
  }
  if (auto it = awaiting_sync_.find(old_id); it != awaiting_sync_.end()) {
    auto callback = std::move(it->second);
    awaiting_sync_.erase(it);
    sync_result fenced;
    fenced.error = error_code::fenced_instance_id;
    callback(std::move(fenced));
  }
  const bool was_leader = leader_ == old_id;
  request.member_id = new_member_id(*request.group_instance_id);
  member.member_id = request.member_id;
  update_member(member, request, now_ms);
  static_members_[*request.group_instance_id] = member.member_id;
  if (was_leader) leader_ = member.member_id;
  if (pending_sync_.erase(old_id) > 0) pending_sync_.insert(member.member_id);
  auto& placed = members_.emplace(member.member_id, std::move(member)).first->second;

  switch (state_) {
    case group_state::stable:
      if (select_protocol() == protocol_name_) {
        stored_changed_ = true;
        join_result result = result_for(placed);
        if (!was_leader) return done(std::move(result));
        if (request.supports_skip_assignment) {
          // KIP-814: the leader learns the members but keeps the
          // assignment the group already has.
          result.skip_assignment = true;
        } else {
          // Before v9 a leader would assign anew, and from an empty member
          // list: it is told the old leader id, so it syncs as a follower
          // and gets its assignment back (as Kafka does).
          result.leader = old_id;
          result.members.clear();
        }
        return done(std::move(result));
      }
      await_join(placed.member_id, std::move(done));
      prepare_rebalance(now_ms);
      return;
    case group_state::completing_rebalance:
      // Its new id is in no assignment yet.
      await_join(placed.member_id, std::move(done));
      prepare_rebalance(now_ms);
      return;
    case group_state::preparing_rebalance:
      await_join(placed.member_id, std::move(done));
      maybe_complete_join(now_ms);
      return;
    case group_state::empty:
    case group_state::dead:
      break;
  }
  // A static member is always in members_, so the group has members.
  join_result result;
  result.error = error_code::unknown_member_id;
  done(std::move(result));
}

// A rejoin changes what a member asks for, never who it is: its instance id,
// client id and host stay those of its first join (as in Kafka).
group_member group::new_member(const join_request& request) {
  group_member member;
  member.member_id = request.member_id;
  member.group_instance_id = request.group_instance_id;
  member.client_id = request.client_id;
  member.client_host = request.client_host;
  return member;
}

void group::update_member(group_member& member, const join_request& request, int64_t now_ms) {
  member.session_timeout_ms = request.session_timeout_ms;
  member.rebalance_timeout_ms = request.rebalance_timeout_ms;
  member.protocol_type = request.protocol_type;
  member.protocols = request.protocols;
  member.session_deadline_ms = now_ms + request.session_timeout_ms;
}

void group::await_join(const std::string& member_id, join_callback done) {
  auto [it, added] = awaiting_join_.try_emplace(member_id, std::move(done));
  if (added) return;
  auto replaced = std::exchange(it->second, std::move(done));
  join_result result;
  result.error = error_code::rebalance_in_progress;
  result.member_id = member_id;
  replaced(std::move(result));
}

void group::await_sync(const std::string& member_id, sync_callback done) {
  auto [it, added] = awaiting_sync_.try_emplace(member_id, std::move(done));
  if (added) return;
  auto replaced = std::exchange(it->second, std::move(done));
  sync_result result;
  result.error = error_code::rebalance_in_progress;
  replaced(std::move(result));
}

void group::add_member(group_member member, int64_t now_ms, join_callback done) {
  if (members_.empty()) protocol_type_ = member.protocol_type;
  if (leader_.empty()) leader_ = member.member_id;
  if (member.group_instance_id) static_members_[*member.group_instance_id] = member.member_id;
  const std::string id = member.member_id;
  members_.emplace(id, std::move(member));
  await_join(id, std::move(done));
  if (state_ == group_state::preparing_rebalance) {
    if (in_initial_delay_) joined_during_delay_ = true;
    maybe_complete_join(now_ms);
  } else {
    prepare_rebalance(now_ms);
  }
}

// --- SyncGroup, Heartbeat, LeaveGroup.

void group::sync(sync_request request, int64_t now_ms, sync_callback done) {
  auto fail = [&](error_code error) {
    sync_result result;
    result.error = error;
    done(std::move(result));
  };
  if (state_ == group_state::dead) return fail(error_code::coordinator_not_available);
  if (auto error = check_member({request.member_id, request.group_instance_id});
      error != error_code::none) {
    return fail(error);
  }
  if (request.generation != generation_) return fail(error_code::illegal_generation);
  if ((request.protocol_type && *request.protocol_type != protocol_type_) ||
      (request.protocol_name && request.protocol_name != protocol_name_)) {
    return fail(error_code::inconsistent_group_protocol);
  }
  group_member& member = members_.at(request.member_id);
  switch (state_) {
    case group_state::empty:
    case group_state::dead:
      return fail(error_code::unknown_member_id);
    case group_state::preparing_rebalance:
      return fail(error_code::rebalance_in_progress);
    case group_state::stable: {
      member.session_deadline_ms = now_ms + member.session_timeout_ms;
      pending_sync_.erase(member.member_id);
      sync_result result;
      result.protocol_type = protocol_type_;
      result.protocol_name = protocol_name_;
      result.assignment = member.assignment;
      return done(std::move(result));
    }
    case group_state::completing_rebalance:
      break;
  }
  member.session_deadline_ms = now_ms + member.session_timeout_ms;
  pending_sync_.erase(member.member_id);
  await_sync(member.member_id, std::move(done));
  if (member.member_id != leader_) return;

  // The leader's assignment: members it left out get an empty one.
  for (auto& [id, m] : members_) m.assignment = {};
  for (auto& [id, assignment] : request.assignments) {
    if (auto it = members_.find(id); it != members_.end()) it->second.assignment = assignment;
  }
  stored_changed_ = true;
  transition(group_state::stable, now_ms);
  auto waiting = std::move(awaiting_sync_);
  awaiting_sync_.clear();
  for (auto& [id, callback] : waiting) {
    // Its session restarts now: it could not heartbeat while it waited.
    group_member& answered = members_.at(id);
    answered.session_deadline_ms = now_ms + answered.session_timeout_ms;
    sync_result result;
    result.protocol_type = protocol_type_;
    result.protocol_name = protocol_name_;
    result.assignment = answered.assignment;
    callback(std::move(result));
  }
}

error_code group::heartbeat(const member_identity& who, int32_t generation, int64_t now_ms) {
  if (state_ == group_state::dead) return error_code::coordinator_not_available;
  if (auto error = check_member(who); error != error_code::none) return error;
  if (state_ == group_state::empty) return error_code::unknown_member_id;
  if (generation != generation_) return error_code::illegal_generation;
  group_member& member = members_.at(who.member_id);
  member.session_deadline_ms = now_ms + member.session_timeout_ms;
  return state_ == group_state::preparing_rebalance ? error_code::rebalance_in_progress
                                                    : error_code::none;
}

error_code group::leave(const member_identity& who, int64_t now_ms) {
  if (state_ == group_state::dead) return error_code::coordinator_not_available;
  std::string member_id = who.member_id;
  if (member_id.empty()) {
    auto it = who.group_instance_id ? static_members_.find(*who.group_instance_id)
                                    : static_members_.end();
    if (it == static_members_.end()) return error_code::unknown_member_id;
    member_id = it->second;
  } else {
    if (pending_members_.erase(member_id) > 0) {
      maybe_complete_join(now_ms);
      return error_code::none;
    }
    if (auto error = check_member(who); error != error_code::none) return error;
  }
  remove_member(member_id, now_ms);
  return error_code::none;
}

error_code group::check_member(const member_identity& who) const {
  if (who.group_instance_id) {
    auto it = static_members_.find(*who.group_instance_id);
    if (it == static_members_.end()) return error_code::unknown_member_id;
    if (it->second != who.member_id) return error_code::fenced_instance_id;
  }
  return members_.contains(who.member_id) ? error_code::none : error_code::unknown_member_id;
}

void group::remove_member(const std::string& member_id, int64_t now_ms) {
  auto it = members_.find(member_id);
  if (it == members_.end()) return;
  if (it->second.group_instance_id) {
    auto s = static_members_.find(*it->second.group_instance_id);
    if (s != static_members_.end() && s->second == member_id) static_members_.erase(s);
  }
  members_.erase(it);
  pending_sync_.erase(member_id);
  if (auto join = awaiting_join_.find(member_id); join != awaiting_join_.end()) {
    auto callback = std::move(join->second);
    awaiting_join_.erase(join);
    join_result result;
    result.error = error_code::unknown_member_id;
    result.member_id = member_id;
    callback(std::move(result));
  }
  if (auto sync = awaiting_sync_.find(member_id); sync != awaiting_sync_.end()) {
    auto callback = std::move(sync->second);
    awaiting_sync_.erase(sync);
    sync_result result;
    result.error = error_code::unknown_member_id;
    callback(std::move(result));
  }
  if (leader_ == member_id) {
    leader_.clear();
    for (const auto& [id, callback] : awaiting_join_) {
      leader_ = id;
      break;
    }
    if (leader_.empty() && !members_.empty()) leader_ = members_.begin()->first;
  }
  switch (state_) {
    case group_state::stable:
    case group_state::completing_rebalance:
      prepare_rebalance(now_ms);
      break;
    case group_state::preparing_rebalance:
      maybe_complete_join(now_ms);
      break;
    case group_state::empty:
    case group_state::dead:
      break;
  }
}

// --- Rebalancing.

void group::prepare_rebalance(int64_t now_ms) {
  if (state_ == group_state::completing_rebalance) {
    reset_assignments();
    fail_pending_syncs(error_code::rebalance_in_progress);
  }
  pending_sync_.clear();
  int32_t rebalance_timeout = 0;
  for (const auto& [id, member] : members_) {
    rebalance_timeout = std::max(rebalance_timeout, member.rebalance_timeout_ms);
  }
  // An Empty group's first rebalance waits group.initial.rebalance.delay.ms
  // for more members (a whole fleet starting at once then shares one
  // rebalance), growing by the delay while members keep arriving, but never
  // past the rebalance timeout.
  in_initial_delay_ = state_ == group_state::empty && limits_.initial_rebalance_delay_ms > 0;
  if (in_initial_delay_) {
    rebalance_deadline_ms_ =
        now_ms + std::min<int64_t>(limits_.initial_rebalance_delay_ms, rebalance_timeout);
    initial_delay_limit_ms_ = now_ms + rebalance_timeout;
    joined_during_delay_ = false;
  } else {
    rebalance_deadline_ms_ = now_ms + rebalance_timeout;
  }
  transition(group_state::preparing_rebalance, now_ms);
  maybe_complete_join(now_ms);
}

bool group::has_all_members_joined() const {
  return awaiting_join_.size() == members_.size() && pending_members_.empty();
}

void group::maybe_complete_join(int64_t now_ms) {
  if (state_ == group_state::preparing_rebalance && !in_initial_delay_ &&
      has_all_members_joined()) {
    complete_join(now_ms);
  }
}

void group::complete_join(int64_t now_ms) {
  in_initial_delay_ = false;
  // Dynamic members that did not rejoin in time are gone; static members
  // keep their place until their session expires.
  for (auto it = members_.begin(); it != members_.end();) {
    if (!awaiting_join_.contains(it->first) && !it->second.group_instance_id) {
      it = members_.erase(it);
    } else {
      ++it;
    }
  }
  if (!members_.empty() && awaiting_join_.empty()) {
    // Only static members that have not rejoined: wait for them again.
    prepare_rebalance(now_ms);
    return;
  }
  if (!awaiting_join_.contains(leader_)) {
    leader_ = awaiting_join_.empty() ? "" : awaiting_join_.begin()->first;
  }
  ++generation_;
  // A generation with members is stored when its leader's assignment
  // arrives (sync): stored now, a restart would bring it back as Stable
  // with no assignment. An Empty group is stored at once.
  if (members_.empty()) {
    stored_changed_ = true;
    protocol_name_.reset();
    leader_.clear();
    transition(group_state::empty, now_ms);
    return;
  }
  protocol_name_ = select_protocol();
  int32_t rebalance_timeout = 0;
  for (auto& [id, member] : members_) {
    rebalance_timeout = std::max(rebalance_timeout, member.rebalance_timeout_ms);
    member.session_deadline_ms = now_ms + member.session_timeout_ms;
  }
  sync_deadline_ms_ = now_ms + rebalance_timeout;
  for (const auto& [id, member] : members_) pending_sync_.insert(id);
  transition(group_state::completing_rebalance, now_ms);
  auto waiting = std::move(awaiting_join_);
  awaiting_join_.clear();
  for (auto& [id, callback] : waiting) callback(result_for(members_.at(id)));
}

void group::tick(int64_t now_ms) {
  for (auto it = pending_members_.begin(); it != pending_members_.end();) {
    it = it->second <= now_ms ? pending_members_.erase(it) : std::next(it);
  }
  // Members waiting for the rebalance to finish are kept alive: their
  // clients cannot heartbeat while a JoinGroup or SyncGroup is in flight.
  std::vector<std::string> expired;
  for (const auto& [id, member] : members_) {
    if (member.session_deadline_ms <= now_ms && !awaiting_join_.contains(id) &&
        !awaiting_sync_.contains(id)) {
      expired.push_back(id);
    }
  }
  for (const auto& id : expired) remove_member(id, now_ms);

  if (state_ == group_state::preparing_rebalance && rebalance_deadline_ms_ <= now_ms) {
    if (in_initial_delay_ && joined_during_delay_ && now_ms < initial_delay_limit_ms_) {
      rebalance_deadline_ms_ = now_ms + std::min<int64_t>(limits_.initial_rebalance_delay_ms,
                                                          initial_delay_limit_ms_ - now_ms);
      joined_during_delay_ = false;
    } else {
      complete_join(now_ms);
    }
  } else if (state_ == group_state::preparing_rebalance) {
    maybe_complete_join(now_ms);
  }

  // A leader that never sends its assignment would hold the group forever,
  // a follower that never asks for its own holds partitions nobody reads:
  // after the rebalance timeout, members of this generation that have not
  // sent SyncGroup are removed and the rest rebalance (as Kafka 3.x).
  if ((state_ == group_state::completing_rebalance || state_ == group_state::stable) &&
      !pending_sync_.empty() && sync_deadline_ms_ <= now_ms) {
    const std::set<std::string> silent = pending_sync_;
    for (const auto& id : silent) remove_member(id, now_ms);
  }
}

int64_t group::next_deadline_ms() const {
  int64_t next = never;
  for (const auto& [id, deadline] : pending_members_) next = std::min(next, deadline);
  for (const auto& [id, member] : members_) {
    if (!awaiting_join_.contains(id) && !awaiting_sync_.contains(id)) {
      next = std::min(next, member.session_deadline_ms);
    }
  }
  if (state_ == group_state::preparing_rebalance) next = std::min(next, rebalance_deadline_ms_);
  if ((state_ == group_state::completing_rebalance || state_ == group_state::stable) &&
      !pending_sync_.empty()) {
    next = std::min(next, sync_deadline_ms_);
  }
  return next;
}

void group::transition(group_state next, int64_t now_ms) {
  state_ = next;
  state_timestamp_ms_ = now_ms;
}

bool group::supports_protocols(
    const std::string& type,
    const std::vector<std::pair<std::string, base::shared_bytes>>& protocols) const {
  if (type.empty() || protocols.empty()) return false;
  if (members_.empty()) return true;
  if (type != protocol_type_) return false;
  return std::any_of(protocols.begin(), protocols.end(),
                     [&](const auto& protocol) { return all_members_support(protocol.first); });
}

bool group::all_members_support(const std::string& protocol) const {
  return std::all_of(members_.begin(), members_.end(), [&](const auto& entry) {
    const auto& theirs = entry.second.protocols;
    return std::any_of(theirs.begin(), theirs.end(),
                       [&](const auto& p) { return p.first == protocol; });
  });
}

// Every member votes for the first protocol in its own order of preference
// that all members support; the most votes win (ties: the name first in
// order, so the choice is the same on every run).
std::optional<std::string> group::select_protocol() const {
  std::map<std::string, int> votes;
  if (members_.empty()) return std::nullopt;
  const auto& first = members_.begin()->second.protocols;
  std::vector<std::string> candidates;
  for (const auto& [name, metadata] : first) {
    if (all_members_support(name)) candidates.push_back(name);
  }
  if (candidates.empty()) return std::nullopt;
  for (const auto& [id, member] : members_) {
    for (const auto& [name, metadata] : member.protocols) {
      if (std::find(candidates.begin(), candidates.end(), name) != candidates.end()) {
        ++votes[name];
        break;
      }
    }
  }
  auto best = std::max_element(votes.begin(), votes.end(),
                               [](const auto& a, const auto& b) { return a.second < b.second; });
  return best->first;
}

join_result group::result_for(const group_member& member) const {
  join_result result;
  result.generation = generation_;
  result.protocol_type = protocol_type_;
  result.protocol_name = protocol_name_;
  result.leader = leader_;
  result.member_id = member.member_id;
  if (member.member_id == leader_) {
    for (const auto& [id, m] : members_) {
      join_member entry;
      entry.member_id = id;
      entry.group_instance_id = m.group_instance_id;
      for (const auto& [name, metadata] : m.protocols) {
        if (name == protocol_name_) entry.metadata = metadata;
      }
      result.members.push_back(std::move(entry));
    }
  }
  return result;
}

void group::fail_pending_syncs(error_code error) {
  auto waiting = std::move(awaiting_sync_);
  awaiting_sync_.clear();
  for (auto& [id, callback] : waiting) {
    sync_result result;
    result.error = error;
    callback(std::move(result));
  }
}

void group::reset_assignments() {
  for (auto& [id, member] : members_) member.assignment = {};
}

// --- Offsets.

error_code group::check_offset_commit(const member_identity& who, int32_t generation) const {
  if (state_ == group_state::dead) return error_code::coordinator_not_available;
  // A group Kafka does not manage (assign() plus commits, or an admin):
  // no member id, no instance id and no generation; only while Empty.
  if (generation < 0 && who.member_id.empty() && !who.group_instance_id) {
    return state_ == group_state::empty ? error_code::none : error_code::unknown_member_id;
  }
  // Between the JoinGroup and SyncGroup answers a commit cannot be judged
  // yet: a member's commit sent before its JoinGroup answer (and queued
  // behind it on the connection) still carries the old generation, and
  // ILLEGAL_GENERATION would make a cooperative consumer drop all its
  // partitions. REBALANCE_IN_PROGRESS lets it retry (as Kafka answers).
  if (state_ == group_state::completing_rebalance) return error_code::rebalance_in_progress;
  if (auto error = check_member(who); error != error_code::none) return error;
  if (generation != generation_) return error_code::illegal_generation;
  return error_code::none;
}

void group::extend_session(const std::string& member_id, int64_t now_ms) {
  if (auto it = members_.find(member_id); it != members_.end()) {
    it->second.session_deadline_ms = now_ms + it->second.session_timeout_ms;
  }
}

void group::commit_offset(const topic_partition_key& key, committed_offset value) {
  offsets_[key] = std::move(value);
}

void group::delete_offset(const topic_partition_key& key) { offsets_.erase(key); }

std::vector<topic_partition_key> group::expired_offsets(int64_t now_ms,
                                                        int64_t retention_ms) const {
  std::vector<topic_partition_key> expired;
  // An offset with its own expiry time (OffsetCommit v1-v4) keeps to it;
  // the others live for the retention from `since`.
  auto collect = [&](auto since_of, auto wanted) {
    for (const auto& [key, offset] : offsets_) {
      if (!wanted(key)) continue;
      const bool gone = offset.expire_timestamp_ms >= 0 ? now_ms >= offset.expire_timestamp_ms
                                                        : now_ms - since_of(offset) >= retention_ms;
      if (gone) expired.push_back(key);
    }
  };
  auto by_commit = [](const committed_offset& o) { return o.commit_timestamp_ms; };
  auto every = [](const topic_partition_key&) { return true; };
  if (state_ == group_state::empty) {
    // A group that had members counts from when it became Empty; a group
    // that never had any (assign() and commits) from each commit.
    if (!protocol_type_.empty() && state_timestamp_ms_ >= 0) {
      collect([&](const committed_offset&) { return state_timestamp_ms_; }, every);
    } else {
      collect(by_commit, every);
    }
  } else if (state_ == group_state::stable && protocol_type_ == "consumer") {
    // In use: only the offsets of topics nobody subscribes to any more.
    auto subscribed = all_subscribed_topics();
    if (!subscribed) return expired;
    collect(by_commit,
            [&](const topic_partition_key& key) { return !subscribed->contains(key.topic); });
  }
  return expired;
}

std::optional<std::set<std::string>> group::all_subscribed_topics() const {
  if (protocol_type_ != "consumer" || !protocol_name_) return std::nullopt;
  std::set<std::string> topics;
  for (const auto& [id, member] : members_) {
    for (const auto& [name, metadata] : member.protocols) {
      if (name != *protocol_name_) continue;
      auto theirs = subscribed_topics(metadata);
      if (!theirs) return std::nullopt;
      topics.insert(theirs->begin(), theirs->end());
    }
  }
  return topics;
}

bool group::subscribed_to(std::string_view topic) const {
  // A subscription the broker cannot read might name any topic.
  auto topics = all_subscribed_topics();
  return !topics || topics->contains(std::string(topic));
}

void group::abort_waiting() {
  auto joins = std::move(awaiting_join_);
  awaiting_join_.clear();
  for (auto& [id, callback] : joins) {
    join_result result;
    result.error = error_code::not_coordinator;
    result.member_id = id;
    callback(std::move(result));
  }
  fail_pending_syncs(error_code::not_coordinator);
}

error_code group::mark_dead() {
  if (!members_.empty() || state_ != group_state::empty) return error_code::non_empty_group;
  transition(group_state::dead, state_timestamp_ms_);
  return error_code::none;
}

stored_group group::to_stored() const {
  stored_group stored;
  stored.protocol_type = protocol_type_;
  stored.generation = generation_;
  stored.protocol = protocol_name_;
  if (!leader_.empty()) stored.leader = leader_;
  stored.current_state_timestamp_ms = state_timestamp_ms_;
  for (const auto& [id, member] : members_) {
    stored_member m;
    m.member_id = id;
    m.group_instance_id = member.group_instance_id;
    m.client_id = member.client_id;
    m.client_host = member.client_host;
    m.rebalance_timeout_ms = member.rebalance_timeout_ms;
    m.session_timeout_ms = member.session_timeout_ms;
    for (const auto& [name, metadata] : member.protocols) {
      if (name == protocol_name_) m.subscription = metadata;
    }
    m.assignment = member.assignment;
    stored.members.push_back(std::move(m));
  }
  return stored;
}

}  // namespace sluice::coordinator
