// CreateTopics, DeleteTopics and CreatePartitions, answered as Kafka 3.9's
// controller answers them. topic_manager checks what needs the topic table
// (names, counts, configs, existence); this file checks what depends on the
// request itself: duplicate entries, replica assignments, and which fields
// each version carries.
//
// A replica assignment names brokers. One node can honour only the trivial
// one (every partition a single replica, on this node); anything else is
// refused rather than quietly ignored, so the client learns the topic is not
// laid out as it asked.

#include <array>
#include <map>
#include <set>

#include "cluster/topic_config.h"
#include "kafka/group_coordinator.h"
#include "kafka/handlers.h"
#include "protocol/messages/create_partitions.h"
#include "protocol/messages/create_topics.h"
#include "protocol/messages/delete_topics.h"

namespace sluice::kafka {

namespace {

using protocol::error_code;

int16_t code(error_code c) { return static_cast<int16_t>(c); }

// The message a client gets: the specific one, else Kafka's default.
std::string message_of(const admin_error& error) {
  return error.message.empty() ? std::string(protocol::error_message(error.code)) : error.message;
}

const std::string manual_assignment_refused = "manual replica assignment is not supported";

// Whether every replica list is exactly this node.
template <typename Assignments>
bool all_on_this_node(const Assignments& assignments, int32_t node_id) {
  for (const auto& assignment : assignments) {
    if (assignment.broker_ids.size() != 1 || assignment.broker_ids.front() != node_id) {
      return false;
    }
  }
  return true;
}

// The partition count a CreateTopics entry's replica assignment describes.
admin_result<int32_t> assigned_partition_count(
    const protocol::create_topics_request::creatable_topic& topic, int32_t node_id) {
  if (topic.num_partitions != -1 || topic.replication_factor != -1) {
    return base::unexpected{
        admin_error{error_code::invalid_request,
                    "Both numPartitions or replicationFactor and replicasAssignments were set. "
                    "Both cannot be used at the same time."}};
  }
  if (!all_on_this_node(topic.assignments, node_id)) {
    return base::unexpected{admin_error{error_code::invalid_request, manual_assignment_refused}};
  }
  std::set<int32_t> indexes;
  for (const auto& assignment : topic.assignments) indexes.insert(assignment.partition_index);
  const auto count = static_cast<int32_t>(topic.assignments.size());
  if (static_cast<int32_t>(indexes.size()) != count || *indexes.begin() != 0 ||
      *indexes.rbegin() != count - 1) {
    return base::unexpected{
        admin_error{error_code::invalid_replica_assignment,
                    "Partitions should be a consecutive 0-based integer sequence"}};
  }
  return count;
}

// What the entry asks to create: partitions, replication factor, configs.
struct creation {
  int32_t partitions = -1;
  int16_t replication_factor = -1;
  base::properties configs;
};

admin_result<creation> creation_of(const protocol::create_topics_request::creatable_topic& topic,
                                   int32_t node_id) {
  creation c;
  if (topic.assignments.empty()) {
    c.partitions = topic.num_partitions;
    c.replication_factor = topic.replication_factor;
  } else {
    auto count = assigned_partition_count(topic, node_id);
    if (!count) return base::unexpected{count.error()};
    c.partitions = *count;
    c.replication_factor = 1;
  }
  for (const auto& config : topic.configs) {
    if (!config.value) {
      return base::unexpected{
          admin_error{error_code::invalid_config,
                      "Null value not supported for topic configs: " + config.name}};
    }
    c.configs[config.name] = *config.value;
  }
  return c;
}

// v5+ tells the client what the topic got, defaults included.
void describe_created(const cluster::broker_config& broker, const topic_info& topic,
                      protocol::create_topics_response::creatable_topic_result& result) {
  result.num_partitions = topic.partition_count;
  result.replication_factor = topic.replication_factor;
  auto& configs = result.configs.emplace();
  for (auto& description : cluster::describe_topic_config(topic.configs, broker)) {
    auto& out = configs.emplace_back();
    out.name = std::move(description.name);
    out.value = std::move(description.value);
    out.read_only = description.read_only;
    out.config_source = static_cast<int8_t>(description.source);
    out.is_sensitive = description.sensitive;
  }
}

}  // namespace

boost::asio::awaitable<handler_result> handle_create_topics(request_context& ctx) {
  auto decoded = decode_request<protocol::create_topics_request>(ctx);
  if (auto* closed = std::get_if<close_connection>(&decoded)) co_return *closed;
  auto& request = std::get<protocol::create_topics_request>(decoded);

  std::map<std::string_view, int> entries;
  for (const auto& topic : request.topics) ++entries[topic.name];

  protocol::create_topics_response response;
  for (const auto& topic : request.topics) {
    auto& result = response.topics.emplace_back();
    result.name = topic.name;
    auto fail = [&result](error_code c, std::string message) {
      result.error_code = code(c);
      result.error_message = std::move(message);
    };
    // Kafka cannot tell which of two entries for one name the client meant.
    if (entries[topic.name] > 1) {
      fail(error_code::invalid_request, "Found multiple entries for this topic.");
      continue;
    }
    auto wanted = creation_of(topic, ctx.broker.config.node_id);
    if (!wanted) {
      fail(wanted.error().code, message_of(wanted.error()));
      continue;
    }
    auto created = co_await ctx.broker.shards.offload([&] {
      return ctx.broker.topics.create_topic(topic.name, wanted->partitions,
                                            wanted->replication_factor, wanted->configs,
                                            request.validate_only);
    });
    if (!created) {
      fail(created.error().code, message_of(created.error()));
      continue;
    }
    result.error_message = std::nullopt;
    // A validated topic was never made, so it has no id anyone could use.
    if (!request.validate_only) result.topic_id = (*created)->id;
    describe_created(*ctx.broker.topics.effective_broker_config(), **created, result);
  }
  co_return encode_response(ctx, response);
}

boost::asio::awaitable<handler_result> handle_delete_topics(request_context& ctx) {
  auto decoded = decode_request<protocol::delete_topics_request>(ctx);
  if (auto* closed = std::get_if<close_connection>(&decoded)) co_return *closed;
  auto& request = std::get<protocol::delete_topics_request>(decoded);

  // v6 names topics by name or id; earlier versions by name only.
  std::vector<protocol::delete_topics_request::delete_topic_state> wanted = request.topics;
  for (const auto& name : request.topic_names) wanted.push_back({name, {}, {}});

  std::map<std::string_view, int> names;
  std::map<std::array<uint8_t, 16>, int> ids;
  for (const auto& topic : wanted) {
    if (topic.name && topic.topic_id.is_zero()) ++names[*topic.name];
    if (!topic.name && !topic.topic_id.is_zero()) ++ids[topic.topic_id.bytes];
  }

  auto image = ctx.broker.topics.image();
  protocol::delete_topics_response response;
  for (const auto& topic : wanted) {
    auto& result = response.responses.emplace_back();
    result.name = topic.name;
    result.topic_id = topic.topic_id;
    auto fail = [&result](error_code c, std::string message) {
      result.error_code = code(c);
      result.error_message = std::move(message);
    };
    if (topic.name && !topic.topic_id.is_zero()) {
      fail(error_code::invalid_request, "You may not specify both topic name and topic id.");
      continue;
    }
    if (!topic.name && topic.topic_id.is_zero()) {
      fail(error_code::invalid_request, "Neither topic name nor id were specified.");
      continue;
    }
    if (topic.name ? names[*topic.name] > 1 : ids[topic.topic_id.bytes] > 1) {
      fail(error_code::invalid_request,
           topic.name ? "Duplicate topic name." : "Duplicate topic id.");
      continue;
    }
    std::string name;
    if (topic.name) {
      name = *topic.name;
    } else if (const topic_info* found = image->find(topic.topic_id)) {
      name = found->name;
      result.name = name;
    } else {
      fail(error_code::unknown_topic_id,
           std::string(protocol::error_message(error_code::unknown_topic_id)));
      continue;
    }
    if (const topic_info* found = image->find(name)) result.topic_id = found->id;

    auto deleted =
        co_await ctx.broker.shards.offload([&] { return ctx.broker.topics.delete_topic(name); });
    if (!deleted) {
      // TOPIC_DELETION_DISABLED came with v3; older clients get what Kafka
      // sent them before it.
      if (deleted.error().code == error_code::topic_deletion_disabled && ctx.version < 3) {
        fail(error_code::invalid_request, "Topic deletion is disabled.");
      } else {
        fail(deleted.error().code, message_of(deleted.error()));
      }
      continue;
    }
    co_await ctx.broker.groups.forget_topic(name);
  }
  co_return encode_response(ctx, response);
}

boost::asio::awaitable<handler_result> handle_create_partitions(request_context& ctx) {
  auto decoded = decode_request<protocol::create_partitions_request>(ctx);
  if (auto* closed = std::get_if<close_connection>(&decoded)) co_return *closed;
  auto& request = std::get<protocol::create_partitions_request>(decoded);

  std::map<std::string_view, int> entries;
  for (const auto& topic : request.topics) ++entries[topic.name];

  auto image = ctx.broker.topics.image();
  protocol::create_partitions_response response;
  for (const auto& topic : request.topics) {
    auto& result = response.results.emplace_back();
    result.name = topic.name;
    auto fail = [&result](error_code c, std::string message) {
      result.error_code = code(c);
      result.error_message = std::move(message);
    };
    if (entries[topic.name] > 1) {
      fail(error_code::invalid_request, "Duplicate topic in request.");
      continue;
    }
    // Assignments are checked only for a growing topic that exists: for the
    // others topic_manager's error says more.
    const topic_info* current = image->find(topic.name);
    if (topic.assignments && current != nullptr && topic.count > current->partition_count) {
      const int32_t added = topic.count - current->partition_count;
      if (static_cast<int32_t>(topic.assignments->size()) != added) {
        fail(error_code::invalid_replica_assignment,
             "Attempted to add " + std::to_string(added) + " additional partition(s), but only " +
                 std::to_string(topic.assignments->size()) + " assignment(s) were specified.");
        continue;
      }
      if (!all_on_this_node(*topic.assignments, ctx.broker.config.node_id)) {
        fail(error_code::invalid_request, manual_assignment_refused);
        continue;
      }
    }
    auto grown = co_await ctx.broker.shards.offload([&] {
      return ctx.broker.topics.create_partitions(topic.name, topic.count, request.validate_only);
    });
    if (!grown) fail(grown.error().code, message_of(grown.error()));
  }
  co_return encode_response(ctx, response);
}

}  // namespace sluice::kafka
