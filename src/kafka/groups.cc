// The consumer-group APIs: JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
// OffsetCommit, OffsetFetch, DescribeGroups, ListGroups, DeleteGroups and
// OffsetDelete. Each finds the group's shard (group_coordinator::place), runs
// there against the group's state machine (coordinator::group), writes what
// changed to __consumer_offsets, and maps the result onto the request's
// version.

#include <spdlog/spdlog.h>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include "kafka/group_coordinator.h"
#include "kafka/handlers.h"
#include "protocol/messages/delete_groups.h"
#include "protocol/messages/describe_groups.h"
#include "protocol/messages/heartbeat.h"
#include "protocol/messages/join_group.h"
#include "protocol/messages/leave_group.h"
#include "protocol/messages/list_groups.h"
#include "protocol/messages/offset_commit.h"
#include "protocol/messages/offset_delete.h"
#include "protocol/messages/offset_fetch.h"
#include "protocol/messages/sync_group.h"
#include "storage/partition_log.h"

namespace sluice::kafka {

namespace asio = boost::asio;
using coordinator::group;
using coordinator::group_state;
using protocol::error_code;

namespace {

int16_t code(error_code c) { return static_cast<int16_t>(c); }

// A JoinGroup or SyncGroup answer that the group gives later, from inside
// another member's call on the same shard: the waiting coroutine sleeps on a
// timer that never expires until the answer cancels it.
template <typename T>
class pending_answer {
 public:
  explicit pending_answer(asio::any_io_executor executor)
      : timer_(executor, asio::steady_timer::time_point::max()) {}

  void set(T value) {
    value_ = std::move(value);
    timer_.cancel();
  }

  asio::awaitable<T> wait() {
    while (!value_) {
      boost::system::error_code ignored;
      co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    }
    co_return std::move(*value_);
  }

 private:
  asio::steady_timer timer_;
  std::optional<T> value_;
};

// Kafka's rule for the group APIs that need a real group (every one but
// OffsetCommit and OffsetFetch, which accept "" for old clients).
bool valid_group_id(const std::string& id) { return !id.empty(); }

// Protocol bytes are kept by the group for as long as it lives: copies, so a
// group never pins the request frame it came in.
base::shared_bytes own(const base::shared_bytes& bytes) {
  return base::shared_bytes::copy_of(bytes.span());
}

// Where a group lives, for the APIs that need a real group id: NONE, or why
// the request cannot reach it.
asio::awaitable<error_code> locate(request_context& ctx, const std::string& group_id,
                                   group_coordinator::placement& where) {
  if (!valid_group_id(group_id)) co_return error_code::invalid_group_id;
  where = co_await ctx.broker.groups.place(group_id);
  co_return where.log_partition == nullptr ? error_code::coordinator_not_available
                                           : error_code::none;
}

// Waits until `end` on the group's partition is on disk: a commit is
// answered only when a crash can no longer lose it, as an acks=all write is
// (and, like one, not when __consumer_offsets has flush.on.acks.all=false).
asio::awaitable<bool> wait_durable(request_context& ctx, const metadata_image& image, partition& p,
                                   int64_t end) {
  const topic_info* offsets = image.find(coordinator::offsets_topic_name);
  if (offsets == nullptr || !offsets->log_config.flush_on_acks_all) co_return true;
  shard_set& shards = ctx.broker.shards;
  auto synced = co_await shards.offload([&] { return p.log->sync(end); });
  if (!synced) {
    spdlog::error("fsync of {}-{} failed: {}", p.tp.topic, p.tp.partition, synced.error().message);
  }
  co_return synced.ok();
}

// A successful JoinGroup or SyncGroup answer may depend on the group's
// metadata written in this rebalance (the leader's assignment, a static
// member's new id): it goes out once that write is durable, or becomes
// COORDINATOR_NOT_AVAILABLE (the client retries) when the write failed.
asio::awaitable<error_code> wait_group_stored(request_context& ctx, const metadata_image& image,
                                              shard_groups& groups, partition& p,
                                              const std::string& group_id) {
  auto end = groups.metadata_end(group_id);
  if (!end) co_return error_code::coordinator_not_available;
  if (*end == 0) co_return error_code::none;
  co_return co_await wait_durable(ctx, image, p, *end) ? error_code::none
                                                       : error_code::coordinator_not_available;
}

}  // namespace

// --- JoinGroup.

asio::awaitable<handler_result> handle_join_group(request_context& ctx) {
  auto decoded = decode_request<protocol::join_group_request>(ctx);
  if (auto* closed = std::get_if<close_connection>(&decoded)) co_return *closed;
  auto& request = std::get<protocol::join_group_request>(decoded);

  auto answer = [&](const coordinator::join_result& result) {
    protocol::join_group_response response;
    response.error_code = code(result.error);
    response.generation_id = result.error == error_code::none ? result.generation : -1;
    response.protocol_type = result.protocol_type;
    // protocol_name is nullable from v7 only.
    response.protocol_name = result.protocol_name;
    if (ctx.version < 7 && !response.protocol_name) response.protocol_name = std::string();
    response.leader = result.leader;
    response.skip_assignment = result.skip_assignment;
    response.member_id = result.member_id;
    for (const auto& m : result.members) {
      auto& out = response.members.emplace_back();
      out.member_id = m.member_id;
      out.group_instance_id = m.group_instance_id;
      out.metadata = m.metadata;
    }
    return encode_response(ctx, response);
  };
  auto fail = [&](error_code error) {
    coordinator::join_result result;
    result.error = error;
    result.member_id = request.member_id;
    return answer(result);
  };
  if (!valid_group_id(request.group_id)) co_return fail(error_code::invalid_group_id);
  // Checked before the group exists, so a refused join leaves none behind.
  const auto& config = ctx.broker.config;
  if (request.session_timeout_ms < config.group_min_session_timeout_ms ||
      request.session_timeout_ms > config.group_max_session_timeout_ms) {
    co_return fail(error_code::invalid_session_timeout);
  }
  group_coordinator::placement where;
  if (auto error = co_await locate(ctx, request.group_id, where); error != error_code::none) {
    co_return fail(error);
  }

  coordinator::join_request join;
  join.member_id = request.member_id;
  join.group_instance_id = request.group_instance_id;
  join.client_id = ctx.header.client_id.value_or("");
  join.client_host = ctx.client_host;
  join.session_timeout_ms = request.session_timeout_ms;
  // v0 has no rebalance timeout: the session timeout serves as both.
  join.rebalance_timeout_ms =
      ctx.version == 0 ? request.session_timeout_ms : request.rebalance_timeout_ms;
  join.protocol_type = request.protocol_type;
  for (const auto& p : request.protocols) join.protocols.emplace_back(p.name, own(p.metadata));
  join.require_known_member_id = ctx.version >= 4;
  join.supports_skip_assignment = ctx.version >= 9;

  auto result = co_await ctx.broker.groups.on_group(
      where, [&](shard_groups& groups, partition& p) -> asio::awaitable<coordinator::join_result> {
        const int64_t now = storage::wall_clock_ms();
        if (groups.stopping()) {
          coordinator::join_result stopping;
          stopping.error = error_code::not_coordinator;
          stopping.member_id = join.member_id;
          co_return stopping;
        }
        group* g = groups.find(request.group_id);
        if (g == nullptr) {
          // Only a new member may create a group.
          if (!join.member_id.empty()) {
            coordinator::join_result unknown;
            unknown.error = error_code::unknown_member_id;
            unknown.member_id = join.member_id;
            co_return unknown;
          }
          g = &groups.get_or_create(request.group_id, now);
        }
        auto pending = std::make_shared<pending_answer<coordinator::join_result>>(
            co_await asio::this_coro::executor);
        g->join(std::move(join), now,
                [pending](coordinator::join_result r) { pending->set(std::move(r)); });
        groups.persist(*g, p);
        auto result = co_await pending->wait();
        if (result.error == error_code::none) {
          result.error = co_await wait_group_stored(ctx, *where.image, groups, p, request.group_id);
        }
        spdlog::debug("group {}: JoinGroup v{} of {} answered {} (generation {}, leader {})",
                      request.group_id, ctx.version, result.member_id,
                      protocol::error_name(result.error), result.generation, result.leader);
        co_return result;
      });
  co_return answer(result);
}

// --- SyncGroup.

asio::awaitable<handler_result> handle_sync_group(request_context& ctx) {
  auto decoded = decode_request<protocol::sync_group_request>(ctx);
  if (auto* closed = std::get_if<close_connection>(&decoded)) co_return *closed;
  auto& request = std::get<protocol::sync_group_request>(decoded);

  auto answer = [&](const coordinator::sync_result& result) {
    protocol::sync_group_response response;
    response.error_code = code(result.error);
    response.protocol_type = result.protocol_type;
    response.protocol_name = result.protocol_name;
    response.assignment = result.assignment;
    return encode_response(ctx, response);
  };
  auto fail = [&](error_code error) {
    coordinator::sync_result result;
    result.error = error;
    return answer(result);
  };
  group_coordinator::placement where;
  if (auto error = co_await locate(ctx, request.group_id, where); error != error_code::none) {
    co_return fail(error);
  }

  coordinator::sync_request sync;
  sync.member_id = request.member_id;
  sync.group_instance_id = request.group_instance_id;
  sync.generation = request.generation_id;
  sync.protocol_type = request.protocol_type;
  sync.protocol_name = request.protocol_name;
  for (const auto& a : request.assignments) {
    sync.assignments.emplace_back(a.member_id, own(a.assignment));
  }

  auto result = co_await ctx.broker.groups.on_group(
      where, [&](shard_groups& groups, partition& p) -> asio::awaitable<coordinator::sync_result> {
        group* g = groups.find(request.group_id);
        if (g == nullptr || groups.stopping()) {
          coordinator::sync_result refused;
          refused.error =
              g == nullptr ? error_code::unknown_member_id : error_code::not_coordinator;
          co_return refused;
        }
        auto pending = std::make_shared<pending_answer<coordinator::sync_result>>(
            co_await asio::this_coro::executor);
        g->sync(std::move(sync), storage::wall_clock_ms(),
                [pending](coordinator::sync_result r) { pending->set(std::move(r)); });
        groups.persist(*g, p);
        auto result = co_await pending->wait();
        if (result.error == error_code::none) {
          result.error = co_await wait_group_stored(ctx, *where.image, groups, p, request.group_id);
          if (result.error != error_code::none) result.assignment = {};
        }
        spdlog::debug("group {}: SyncGroup of {} at generation {} answered {}", request.group_id,
                      request.member_id, request.generation_id, protocol::error_name(result.error));
        co_return result;
      });
  co_return answer(result);
}

// --- Heartbeat.

asio::awaitable<handler_result> handle_heartbeat(request_context& ctx) {
  auto decoded = decode_request<protocol::heartbeat_request>(ctx);
  if (auto* closed = std::get_if<close_connection>(&decoded)) co_return *closed;
  auto& request = std::get<protocol::heartbeat_request>(decoded);

  auto answer = [&](error_code error) {
    protocol::heartbeat_response response;
    response.error_code = code(error);
    return encode_response(ctx, response);
  };
  group_coordinator::placement where;
  if (auto error = co_await locate(ctx, request.group_id, where); error != error_code::none) {
    co_return answer(error);
  }

  auto error = co_await ctx.broker.groups.on_group(
      where, [&](shard_groups& groups, partition& p) -> asio::awaitable<error_code> {
        group* g = groups.find(request.group_id);
        if (g == nullptr) co_return error_code::unknown_member_id;
        auto error = g->heartbeat({request.member_id, request.group_instance_id},
                                  request.generation_id, storage::wall_clock_ms());
        groups.persist(*g, p);
        co_return error;
      });
  co_return answer(error);
}

// --- LeaveGroup.

asio::awaitable<handler_result> handle_leave_group(request_context& ctx) {
  auto decoded = decode_request<protocol::leave_group_request>(ctx);
  if (auto* closed = std::get_if<close_connection>(&decoded)) co_return *closed;
  auto& request = std::get<protocol::leave_group_request>(decoded);

  // v0-2 name one member; v3+ a batch (KIP-345), each answered on its own.
  std::vector<coordinator::member_identity> leaving;
  if (ctx.version < 3) {
    leaving.push_back({request.member_id, std::nullopt});
  } else {
    for (const auto& m : request.members) leaving.push_back({m.member_id, m.group_instance_id});
  }
  protocol::leave_group_response response;
  auto finish = [&](error_code top, const std::vector<error_code>& each) {
    response.error_code = code(top);
    if (ctx.version < 3) {
      if (top == error_code::none && !each.empty()) response.error_code = code(each.front());
    } else {
      for (size_t i = 0; i < each.size(); ++i) {
        auto& out = response.members.emplace_back();
        out.member_id = leaving[i].member_id;
        out.group_instance_id = leaving[i].group_instance_id;
        out.error_code = code(each[i]);
      }
    }
    return encode_response(ctx, response);
  };
  group_coordinator::placement where;
  if (auto error = co_await locate(ctx, request.group_id, where); error != error_code::none) {
    co_return finish(error, {});
  }

  auto errors = co_await ctx.broker.groups.on_group(
      where, [&](shard_groups& groups, partition& p) -> asio::awaitable<std::vector<error_code>> {
        std::vector<error_code> out;
        group* g = groups.find(request.group_id);
        const int64_t now = storage::wall_clock_ms();
        for (const auto& who : leaving) {
          out.push_back(g == nullptr ? error_code::unknown_member_id : g->leave(who, now));
        }
        if (g != nullptr) groups.persist(*g, p);
        co_return out;
      });
  co_return finish(error_code::none, errors);
}

// --- OffsetCommit.

asio::awaitable<handler_result> handle_offset_commit(request_context& ctx) {
  auto decoded = decode_request<protocol::offset_commit_request>(ctx);
  if (auto* closed = std::get_if<close_connection>(&decoded)) co_return *closed;
  auto& request = std::get<protocol::offset_commit_request>(decoded);

  protocol::offset_commit_response response;
  // The answer of every partition, in the request's order; the ones still
  // at NONE after the checks below are written.
  for (const auto& topic : request.topics) {
    auto& out = response.topics.emplace_back();
    out.name = topic.name;
    for (const auto& wanted : topic.partitions) {
      out.partitions.emplace_back().partition_index = wanted.partition_index;
    }
  }
  // A group-level refusal; partitions already refused keep their own error.
  auto fail_all = [&](error_code error) {
    for (auto& topic : response.topics) {
      for (auto& p : topic.partitions) {
        if (p.error_code == 0) p.error_code = code(error);
      }
    }
  };
  auto where = co_await ctx.broker.groups.place(request.group_id);
  if (where.log_partition == nullptr) {
    fail_all(error_code::coordinator_not_available);
    co_return encode_response(ctx, response);
  }

  const auto& image = *where.image;
  const int32_t metadata_limit = ctx.broker.config.offset_metadata_max_bytes;
  for (size_t t = 0; t < request.topics.size(); ++t) {
    const auto& topic = request.topics[t];
    for (size_t i = 0; i < topic.partitions.size(); ++i) {
      const auto& wanted = topic.partitions[i];
      auto& out = response.topics[t].partitions[i];
      if (image.find(topic.name, wanted.partition_index) == nullptr) {
        out.error_code = code(error_code::unknown_topic_or_partition);
      } else if (wanted.committed_metadata &&
                 wanted.committed_metadata->size() > static_cast<size_t>(metadata_limit)) {
        out.error_code = code(error_code::offset_metadata_too_large);
      }
    }
  }

  co_await ctx.broker.groups.on_group(
      where, [&](shard_groups& groups, partition& p) -> asio::awaitable<void> {
        const int64_t now = storage::wall_clock_ms();
        const coordinator::member_identity who{request.member_id, request.group_instance_id};
        const int32_t generation = request.generation_id_or_member_epoch;
        group* g = groups.find(request.group_id);
        if (g == nullptr) {
          // A group Kafka does not manage commits with no generation; a
          // generation names a group that no longer exists.
          if (generation >= 0) {
            fail_all(error_code::illegal_generation);
            co_return;
          }
          g = &groups.get_or_create(request.group_id, now);
        }
        if (auto error = g->check_offset_commit(who, generation); error != error_code::none) {
          fail_all(error);
          co_return;
        }
        g->extend_session(who.member_id, now);
        // OffsetCommit v2-v4 may ask for its own retention.
        const int64_t expire_at =
            ctx.version >= 2 && ctx.version <= 4 && request.retention_time_ms > 0
                ? now + request.retention_time_ms
                : -1;
        std::vector<coordinator::offsets_record> records;
        std::vector<std::pair<coordinator::topic_partition_key, coordinator::committed_offset>>
            commits;
        for (size_t t = 0; t < request.topics.size(); ++t) {
          const auto& topic = request.topics[t];
          for (size_t i = 0; i < topic.partitions.size(); ++i) {
            if (response.topics[t].partitions[i].error_code != 0) continue;
            const auto& wanted = topic.partitions[i];
            coordinator::committed_offset value;
            value.offset = wanted.committed_offset;
            value.leader_epoch = ctx.version >= 6 ? wanted.committed_leader_epoch : -1;
            value.metadata = wanted.committed_metadata.value_or("");
            value.commit_timestamp_ms = now;
            value.expire_timestamp_ms = expire_at;
            records.push_back(coordinator::offset_commit_record(request.group_id, topic.name,
                                                                wanted.partition_index, value));
            commits.emplace_back(
                coordinator::topic_partition_key{topic.name, wanted.partition_index},
                std::move(value));
          }
        }
        if (records.empty()) co_return;
        auto end = groups.append(p, records);
        if (!end) {
          spdlog::warn("group {}: committing offsets: {}", request.group_id, end.error().message);
          fail_all(error_code::coordinator_not_available);
          co_return;
        }
        for (auto& [key, value] : commits) g->commit_offset(key, std::move(value));
        if (!co_await wait_durable(ctx, *where.image, p, *end)) {
          fail_all(error_code::coordinator_not_available);
        }
      });
  co_return encode_response(ctx, response);
}

// --- OffsetFetch.

namespace {

struct fetched_group {
  error_code error = error_code::none;
  // topic -> the partitions and their committed offsets (-1: none).
  std::vector<
      std::pair<std::string, std::vector<std::pair<int32_t, coordinator::committed_offset>>>>
      topics;
};

// What one group has committed for `wanted` (nullopt: everything it has).
asio::awaitable<fetched_group> fetch_offsets(
    request_context& ctx, const std::string& group_id,
    const std::optional<std::vector<std::pair<std::string, std::vector<int32_t>>>>& wanted) {
  fetched_group out;
  auto where = co_await ctx.broker.groups.place(group_id);
  if (where.log_partition == nullptr) {
    out.error = error_code::coordinator_not_available;
    co_return out;
  }
  co_await ctx.broker.groups.on_group(
      where, [&](shard_groups& groups, partition&) -> asio::awaitable<void> {
        group* g = groups.find(group_id);
        if (wanted) {
          for (const auto& [topic, partitions] : *wanted) {
            auto& entry = out.topics.emplace_back(
                topic, std::vector<std::pair<int32_t, coordinator::committed_offset>>{});
            for (int32_t index : partitions) {
              coordinator::committed_offset value;
              if (g != nullptr) {
                auto it = g->offsets().find({topic, index});
                if (it != g->offsets().end()) value = it->second;
              }
              entry.second.emplace_back(index, std::move(value));
            }
          }
        } else if (g != nullptr) {
          for (const auto& [key, value] : g->offsets()) {
            if (out.topics.empty() || out.topics.back().first != key.topic) {
              out.topics.emplace_back(
                  key.topic, std::vector<std::pair<int32_t, coordinator::committed_offset>>{});
            }
            out.topics.back().second.emplace_back(key.partition, value);
          }
        }
        co_return;
      });
  co_return out;
}

template <typename Partition>
void fill_fetched(Partition& out, int32_t index, const coordinator::committed_offset& value) {
  out.partition_index = index;
  out.committed_offset = value.offset;
  out.committed_leader_epoch = value.leader_epoch;
  out.metadata = value.metadata;
  out.error_code = 0;
}

}  // namespace

asio::awaitable<handler_result> handle_offset_fetch(request_context& ctx) {
  auto decoded = decode_request<protocol::offset_fetch_request>(ctx);
  if (auto* closed = std::get_if<close_connection>(&decoded)) co_return *closed;
  auto& request = std::get<protocol::offset_fetch_request>(decoded);

  // Transactions are not served yet, so no offset is ever pending and
  // require_stable (v7+) never has to answer UNSTABLE_OFFSET_COMMIT.
  protocol::offset_fetch_response response;
  if (ctx.version < 8) {
    std::optional<std::vector<std::pair<std::string, std::vector<int32_t>>>> wanted;
    // v0-1 always name topics; from v2 a null list asks for everything.
    if (request.topics) {
      wanted.emplace();
      for (const auto& t : *request.topics) wanted->emplace_back(t.name, t.partition_indexes);
    }
    auto fetched = co_await fetch_offsets(ctx, request.group_id, wanted);
    response.error_code = code(fetched.error);
    for (const auto& [topic, partitions] : fetched.topics) {
      auto& out = response.topics.emplace_back();
      out.name = topic;
      for (const auto& [index, value] : partitions) {
        fill_fetched(out.partitions.emplace_back(), index, value);
      }
    }
    if (fetched.error != error_code::none && ctx.version < 2 && request.topics) {
      // v0-1 carry errors per partition only.
      for (const auto& t : *request.topics) {
        auto& out = response.topics.emplace_back();
        out.name = t.name;
        for (int32_t index : t.partition_indexes) {
          auto& p = out.partitions.emplace_back();
          p.partition_index = index;
          p.committed_offset = -1;
          p.error_code = code(fetched.error);
        }
      }
    }
    co_return encode_response(ctx, response);
  }
  for (const auto& group_request : request.groups) {
    std::optional<std::vector<std::pair<std::string, std::vector<int32_t>>>> wanted;
    if (group_request.topics) {
      wanted.emplace();
      for (const auto& t : *group_request.topics) wanted->emplace_back(t.name, t.partition_indexes);
    }
    auto fetched = co_await fetch_offsets(ctx, group_request.group_id, wanted);
    auto& out_group = response.groups.emplace_back();
    out_group.group_id = group_request.group_id;
    out_group.error_code = code(fetched.error);
    for (const auto& [topic, partitions] : fetched.topics) {
      auto& out = out_group.topics.emplace_back();
      out.name = topic;
      for (const auto& [index, value] : partitions) {
        fill_fetched(out.partitions.emplace_back(), index, value);
      }
    }
  }
  co_return encode_response(ctx, response);
}

// --- DescribeGroups.

asio::awaitable<handler_result> handle_describe_groups(request_context& ctx) {
  auto decoded = decode_request<protocol::describe_groups_request>(ctx);
  if (auto* closed = std::get_if<close_connection>(&decoded)) co_return *closed;
  auto& request = std::get<protocol::describe_groups_request>(decoded);

  protocol::describe_groups_response response;
  for (const auto& group_id : request.groups) {
    auto& out = response.groups.emplace_back();
    out.group_id = group_id;
    group_coordinator::placement where;
    if (auto error = co_await locate(ctx, group_id, where); error != error_code::none) {
      out.error_code = code(error);
      continue;
    }
    co_await ctx.broker.groups.on_group(
        where, [&](shard_groups& groups, partition&) -> asio::awaitable<void> {
          group* g = groups.find(group_id);
          // Kafka describes a group it does not know as Dead, without error.
          if (g == nullptr) {
            out.group_state = std::string(coordinator::group_state_name(group_state::dead));
            co_return;
          }
          out.group_state = std::string(coordinator::group_state_name(g->state()));
          out.protocol_type = g->protocol_type();
          // Only a Stable group has a protocol, metadata and assignments
          // worth showing; in a rebalance they are about to change.
          const bool stable = g->state() == group_state::stable;
          if (stable) out.protocol_data = g->protocol_name().value_or("");
          for (const auto& [id, member] : g->members()) {
            auto& m = out.members.emplace_back();
            m.member_id = id;
            m.group_instance_id = member.group_instance_id;
            m.client_id = member.client_id;
            m.client_host = member.client_host;
            if (!stable) continue;
            for (const auto& [name, metadata] : member.protocols) {
              if (name == g->protocol_name()) m.member_metadata = metadata;
            }
            m.member_assignment = member.assignment;
          }
          co_return;
        });
  }
  co_return encode_response(ctx, response);
}

// --- ListGroups.

asio::awaitable<handler_result> handle_list_groups(request_context& ctx) {
  auto decoded = decode_request<protocol::list_groups_request>(ctx);
  if (auto* closed = std::get_if<close_connection>(&decoded)) co_return *closed;
  auto& request = std::get<protocol::list_groups_request>(decoded);

  auto lower = [](std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  std::vector<std::string> states;
  for (const auto& s : request.states_filter) states.push_back(lower(s));
  // Every group here is a classic one (KIP-848's "consumer" groups are not served).
  bool classic_wanted = request.types_filter.empty();
  for (const auto& t : request.types_filter) classic_wanted |= lower(t) == "classic";

  protocol::list_groups_response response;
  if (classic_wanted) {
    co_await ctx.broker.groups.on_every_shard([&](shard_groups& groups) {
      for (const auto& [id, g] : groups.all()) {
        if (g->state() == group_state::dead) continue;
        std::string state(coordinator::group_state_name(g->state()));
        if (!states.empty() &&
            std::find(states.begin(), states.end(), lower(state)) == states.end()) {
          continue;
        }
        auto& out = response.groups.emplace_back();
        out.group_id = id;
        out.protocol_type = g->protocol_type();
        out.group_state = std::move(state);
        out.group_type = "classic";
      }
    });
  }
  co_return encode_response(ctx, response);
}

// --- DeleteGroups.

asio::awaitable<handler_result> handle_delete_groups(request_context& ctx) {
  auto decoded = decode_request<protocol::delete_groups_request>(ctx);
  if (auto* closed = std::get_if<close_connection>(&decoded)) co_return *closed;
  auto& request = std::get<protocol::delete_groups_request>(decoded);

  protocol::delete_groups_response response;
  for (const auto& group_id : request.groups_names) {
    auto& out = response.results.emplace_back();
    out.group_id = group_id;
    group_coordinator::placement where;
    if (auto error = co_await locate(ctx, group_id, where); error != error_code::none) {
      out.error_code = code(error);
      continue;
    }
    auto error = co_await ctx.broker.groups.on_group(
        where, [&](shard_groups& groups, partition& p) -> asio::awaitable<error_code> {
          group* g = groups.find(group_id);
          if (g == nullptr || g->state() == group_state::dead) {
            co_return error_code::group_id_not_found;
          }
          if (!g->members().empty() || g->state() != group_state::empty) {
            co_return error_code::non_empty_group;
          }
          // The offsets' tombstones first, then the group's, in one batch.
          std::vector<coordinator::offsets_record> tombstones;
          for (const auto& [key, value] : g->offsets()) {
            tombstones.push_back(coordinator::offset_tombstone(group_id, key.topic, key.partition));
          }
          tombstones.push_back(coordinator::group_tombstone(group_id));
          auto end = groups.append(p, tombstones);
          if (!end) {
            spdlog::warn("group {}: deleting: {}", group_id, end.error().message);
            co_return error_code::coordinator_not_available;
          }
          (void)g->mark_dead();
          groups.erase(group_id);
          co_return co_await wait_durable(ctx, *where.image, p, *end)
              ? error_code::none
              : error_code::coordinator_not_available;
        });
    out.error_code = code(error);
  }
  co_return encode_response(ctx, response);
}

// --- OffsetDelete.

asio::awaitable<handler_result> handle_offset_delete(request_context& ctx) {
  auto decoded = decode_request<protocol::offset_delete_request>(ctx);
  if (auto* closed = std::get_if<close_connection>(&decoded)) co_return *closed;
  auto& request = std::get<protocol::offset_delete_request>(decoded);

  protocol::offset_delete_response response;
  auto top_level = [&](error_code error) {
    response.error_code = code(error);
    response.topics.clear();
    return encode_response(ctx, response);
  };
  group_coordinator::placement where;
  if (auto error = co_await locate(ctx, request.group_id, where); error != error_code::none) {
    co_return top_level(error);
  }
  const auto& image = *where.image;

  auto error = co_await ctx.broker.groups.on_group(
      where, [&](shard_groups& groups, partition& p) -> asio::awaitable<error_code> {
        group* g = groups.find(request.group_id);
        if (g == nullptr || g->state() == group_state::dead) {
          co_return error_code::group_id_not_found;
        }
        // Only a consumer group says what it subscribes to; any other group
        // with members might still use every offset.
        const bool empty = g->state() == group_state::empty;
        if (!empty && g->protocol_type() != "consumer") co_return error_code::non_empty_group;
        std::vector<coordinator::offsets_record> tombstones;
        std::vector<coordinator::topic_partition_key> deleted;
        for (const auto& topic : request.topics) {
          auto& out = response.topics.emplace_back();
          out.name = topic.name;
          const bool subscribed = !empty && g->subscribed_to(topic.name);
          for (const auto& wanted : topic.partitions) {
            auto& result = out.partitions.emplace_back();
            result.partition_index = wanted.partition_index;
            if (image.find(topic.name, wanted.partition_index) == nullptr) {
              result.error_code = code(error_code::unknown_topic_or_partition);
            } else if (subscribed) {
              result.error_code = code(error_code::group_subscribed_to_topic);
            } else if (g->offsets().contains({topic.name, wanted.partition_index})) {
              tombstones.push_back(coordinator::offset_tombstone(request.group_id, topic.name,
                                                                 wanted.partition_index));
              deleted.push_back({topic.name, wanted.partition_index});
            }
          }
        }
        if (tombstones.empty()) co_return error_code::none;
        auto end = groups.append(p, tombstones);
        if (!end) co_return error_code::coordinator_not_available;
        for (const auto& key : deleted) g->delete_offset(key);
        co_return co_await wait_durable(ctx, *where.image, p, *end)
            ? error_code::none
            : error_code::coordinator_not_available;
      });
  if (error != error_code::none) co_return top_level(error);
  co_return encode_response(ctx, response);
}

}  // namespace sluice::kafka
