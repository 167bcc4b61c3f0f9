#include "protocol/messages/api_versions.h"
#include "kafka/handlers.h"

namespace sluice::kafka {

boost::asio::awaitable<handler_result> handle_api_versions(request_context& ctx) {
  // The body is only client software names (v3+); a malformed one still gets
  // the list, as Kafka answers INVALID_REQUEST only when it cannot parse at all.
  auto decoded = decode_request<protocol::api_versions_request>(ctx);
  protocol::api_versions_response response;
  if (std::holds_alternative<close_connection>(decoded)) {
    response.error_code = static_cast<int16_t>(protocol::error_code::invalid_request);
  }
  for (const auto& api : served_apis()) {
    response.api_keys.push_back(
        {static_cast<int16_t>(api.key), api.min_version, api.max_version, {}});
  }
  co_return encode_response(ctx, response);
}

}  // namespace sluice::kafka
