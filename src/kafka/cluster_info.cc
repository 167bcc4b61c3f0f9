// DescribeCluster (KIP-700): this node is the whole cluster, its only broker
// and, for clients that ask, its controller.

#include "kafka/handlers.h"
#include "protocol/messages/describe_cluster.h"

namespace sluice::kafka {

namespace {

using protocol::error_code;

// DescribeClusterRequest v1's endpoint types.
constexpr int8_t broker_endpoints = 1;
constexpr int8_t controller_endpoints = 2;

// Without an authorizer Kafka grants every operation the cluster resource
// has: ALTER (7), CREATE (5), DESCRIBE (8), CLUSTER_ACTION (9),
// DESCRIBE_CONFIGS (10), ALTER_CONFIGS (11) and IDEMPOTENT_WRITE (12), one
// bit each by AclOperation code.
constexpr int32_t all_cluster_operations =
    (1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12);

// The endpoint of the listener the client came in on: the address that works
// from where the client is.
const cluster::endpoint* endpoint_for(const request_context& ctx) {
  for (const auto& endpoint : ctx.broker.advertised) {
    if (endpoint.listener_name == ctx.listener_name) return &endpoint;
  }
  return ctx.broker.advertised.empty() ? nullptr : &ctx.broker.advertised.front();
}

}  // namespace

boost::asio::awaitable<handler_result> handle_describe_cluster(request_context& ctx) {
  auto decoded = decode_request<protocol::describe_cluster_request>(ctx);
  if (auto* closed = std::get_if<close_connection>(&decoded)) co_return *closed;
  auto& request = std::get<protocol::describe_cluster_request>(decoded);

  protocol::describe_cluster_response response;
  response.endpoint_type = broker_endpoints;
  if (request.endpoint_type != broker_endpoints) {
    // Controllers are described by a controller listener (KIP-919), which
    // this broker does not have; other types are unknown.
    const bool controllers = request.endpoint_type == controller_endpoints;
    response.error_code = static_cast<int16_t>(controllers ? error_code::mismatched_endpoint_type
                                                           : error_code::unsupported_endpoint_type);
    response.error_message =
        controllers ? "The request was sent to an endpoint of type BROKER, but we wanted an "
                      "endpoint of type CONTROLLER"
                    : "Unsupported endpoint type " + std::to_string(request.endpoint_type);
    co_return encode_response(ctx, response);
  }

  const int32_t node_id = ctx.broker.config.node_id;
  response.cluster_id = ctx.broker.topics.cluster_id();
  response.controller_id = node_id;
  if (const cluster::endpoint* self = endpoint_for(ctx)) {
    auto& broker = response.brokers.emplace_back();
    broker.broker_id = node_id;
    broker.host = self->host;
    broker.port = self->port;
  }
  if (request.include_cluster_authorized_operations) {
    response.cluster_authorized_operations = all_cluster_operations;
  }
  co_return encode_response(ctx, response);
}

}  // namespace sluice::kafka
