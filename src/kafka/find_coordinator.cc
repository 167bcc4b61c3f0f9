#include "protocol/messages/find_coordinator.h"
#include "kafka/group_coordinator.h"
#include "kafka/handlers.h"

namespace sluice::kafka {

// A single node coordinates every group and transactional id. A group's
// coordinator needs __consumer_offsets, which the first FindCoordinator for
// a group creates (as Kafka does). librdkafka needs FindCoordinator
// advertised at all to enable LZ4 (CLIENTS.md §4.1).
boost::asio::awaitable<handler_result> handle_find_coordinator(request_context& ctx) {
  auto decoded = decode_request<protocol::find_coordinator_request>(ctx);
  if (auto* closed = std::get_if<close_connection>(&decoded)) co_return *closed;
  auto& request = std::get<protocol::find_coordinator_request>(decoded);
  constexpr int8_t group_key_type = 0;

  // The error for one key: none when this node can coordinate it.
  auto check = [&](const std::string& key) -> boost::asio::awaitable<protocol::error_code> {
    if (request.key_type != group_key_type) co_return protocol::error_code::none;
    auto where = co_await ctx.broker.groups.place(key);
    co_return where.log_partition == nullptr ? protocol::error_code::coordinator_not_available
                                             : protocol::error_code::none;
  };
  const auto& self = ctx.broker.advertised.front();
  protocol::find_coordinator_response response;
  if (ctx.version >= 4) {
    for (auto& key : request.coordinator_keys) {
      protocol::find_coordinator_response::coordinator c;
      c.error_code = static_cast<int16_t>(co_await check(key));
      c.key = key;
      c.node_id = c.error_code == 0 ? ctx.broker.config.node_id : -1;
      c.host = c.error_code == 0 ? self.host : "";
      c.port = c.error_code == 0 ? self.port : -1;
      c.error_message = std::nullopt;
      response.coordinators.push_back(std::move(c));
    }
  } else {
    response.error_code = static_cast<int16_t>(co_await check(request.key));
    const bool ok = response.error_code == 0;
    response.node_id = ok ? ctx.broker.config.node_id : -1;
    response.host = ok ? self.host : "";
    response.port = ok ? self.port : -1;
    response.error_message = std::nullopt;
  }
  co_return encode_response(ctx, response);
}

}  // namespace sluice::kafka
