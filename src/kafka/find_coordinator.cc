#include "protocol/messages/find_coordinator.h"
#include "kafka/handlers.h"

namespace sluice::kafka {

// A single node coordinates every group and transactional id. librdkafka
// needs FindCoordinator advertised at all to enable LZ4 (CLIENTS.md §4.1).
boost::asio::awaitable<handler_result> handle_find_coordinator(request_context& ctx) {
  auto decoded = decode_request<protocol::find_coordinator_request>(ctx);
  if (auto* closed = std::get_if<close_connection>(&decoded)) co_return *closed;
  auto& request = std::get<protocol::find_coordinator_request>(decoded);
  const auto& self = ctx.broker.advertised.front();
  protocol::find_coordinator_response response;
  if (ctx.version >= 4) {
    for (auto& key : request.coordinator_keys) {
      protocol::find_coordinator_response::coordinator c;
      c.key = key;
      c.node_id = ctx.broker.config.node_id;
      c.host = self.host;
      c.port = self.port;
      c.error_message = std::nullopt;
      response.coordinators.push_back(std::move(c));
    }
  } else {
    response.node_id = ctx.broker.config.node_id;
    response.host = self.host;
    response.port = self.port;
    response.error_message = std::nullopt;
  }
  co_return encode_response(ctx, response);
}

}  // namespace sluice::kafka
