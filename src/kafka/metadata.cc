#include <spdlog/spdlog.h>

#include "cluster/topic_name.h"
#include "coordinator/offsets_records.h"
#include "kafka/group_coordinator.h"
#include "kafka/handlers.h"
#include "protocol/messages/metadata.h"

namespace sluice::kafka {

namespace {

using protocol::error_code;
using topic_entry = protocol::metadata_response::metadata_response_topic;

// The endpoint of the listener the client came in on: the address that works
// from where the client is.
const cluster::endpoint& endpoint_for(const request_context& ctx) {
  for (const auto& endpoint : ctx.broker.advertised) {
    if (endpoint.listener_name == ctx.listener_name) return endpoint;
  }
  return ctx.broker.advertised.front();
}

topic_entry describe(const request_context& ctx, const topic_info& topic) {
  topic_entry entry;
  entry.name = topic.name;
  entry.topic_id = topic.id;
  entry.is_internal = cluster::is_internal_topic(topic.name);
  const int32_t node = ctx.broker.config.node_id;
  for (const auto& p : topic.partitions) {
    protocol::metadata_response::metadata_response_partition out;
    out.partition_index = p->tp.partition;
    out.leader_id = node;
    out.leader_epoch = 0;
    out.replica_nodes = {node};
    out.isr_nodes = {node};
    entry.partitions.push_back(std::move(out));
  }
  return entry;
}

topic_entry failed(std::optional<std::string> name, base::uuid id, error_code code) {
  topic_entry entry;
  entry.name = std::move(name);
  entry.topic_id = id;
  entry.error_code = static_cast<int16_t>(code);
  return entry;
}

}  // namespace

boost::asio::awaitable<handler_result> handle_metadata(request_context& ctx) {
  auto decoded = decode_request<protocol::metadata_request>(ctx);
  if (auto* closed = std::get_if<close_connection>(&decoded)) co_return *closed;
  auto& request = std::get<protocol::metadata_request>(decoded);

  protocol::metadata_response response;
  const auto& self = endpoint_for(ctx);
  response.brokers.push_back({ctx.broker.config.node_id, self.host, self.port, std::nullopt, {}});
  response.cluster_id = ctx.broker.topics.cluster_id();
  response.controller_id = ctx.broker.config.node_id;

  auto image = ctx.broker.topics.image();
  // v0 asks for every topic with an empty list, later versions with null.
  bool all_topics = !request.topics || (ctx.version == 0 && request.topics->empty());
  if (all_topics) {
    for (const auto& [name, topic] : image->topics)
      response.topics.push_back(describe(ctx, *topic));
    co_return encode_response(ctx, response);
  }

  // Before v4 every Metadata request could create topics.
  bool may_create = ctx.broker.config.auto_create_topics_enable &&
                    (ctx.version < 4 || request.allow_auto_topic_creation);
  for (const auto& wanted : *request.topics) {
    if (!wanted.name) {
      const topic_info* topic = image->find(wanted.topic_id);
      response.topics.push_back(
          topic ? describe(ctx, *topic)
                : failed(std::nullopt, wanted.topic_id, error_code::unknown_topic_id));
      continue;
    }
    const std::string& name = *wanted.name;
    if (const topic_info* topic = image->find(name)) {
      response.topics.push_back(describe(ctx, *topic));
      continue;
    }
    if (cluster::check_topic_name(name)) {
      response.topics.push_back(failed(name, {}, error_code::invalid_topic_exception));
      continue;
    }
    if (!may_create) {
      response.topics.push_back(failed(name, {}, error_code::unknown_topic_or_partition));
      continue;
    }
    // The group coordinator's topic is made its way (partitions, compaction),
    // whoever asks for it first.
    if (name == coordinator::offsets_topic_name) {
      auto where = co_await ctx.broker.groups.place(name);
      const topic_info* topic = where.image->find(name);
      response.topics.push_back(topic ? describe(ctx, *topic)
                                      : failed(name, {}, error_code::coordinator_not_available));
      continue;
    }
    auto created = co_await ctx.broker.shards.offload(
        [&] { return ctx.broker.topics.create_topic(name, -1, -1, {}, false); });
    if (created) {
      spdlog::info("auto-created topic {}", name);
      response.topics.push_back(describe(ctx, **created));
    } else if (created.error().code == error_code::topic_already_exists) {
      // Another client created it meanwhile.
      auto now = ctx.broker.topics.image();
      const topic_info* topic = now->find(name);
      response.topics.push_back(topic ? describe(ctx, *topic)
                                      : failed(name, {}, error_code::leader_not_available));
    } else {
      response.topics.push_back(failed(name, {}, created.error().code));
    }
  }
  co_return encode_response(ctx, response);
}

}  // namespace sluice::kafka
