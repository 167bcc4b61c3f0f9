// InitProducerId for idempotent producers. Transactions are not supported
// yet: a transactional id gets COORDINATOR_NOT_AVAILABLE, a retriable error,
// so the client gives up at its own timeout instead of failing fatally.
//
// An idempotent producer gets a new id at epoch 0. From v3 (KIP-360) it may
// instead present the id and epoch it has, after a sequence error, and gets
// the same id one epoch later, which the partitions accept from sequence 0
// again. (Kafka hands such a producer a new id instead; both are valid
// answers to the client.) The id presented is not checked against the ids
// handed out: that would grant nothing, since Produce takes any id and epoch
// without asking where they came from, as in Kafka.

#include <limits>

#include "kafka/handlers.h"
#include "protocol/messages/init_producer_id.h"

namespace sluice::kafka {

namespace {

using protocol::error_code;

constexpr int64_t no_producer_id = -1;
constexpr int16_t no_producer_epoch = -1;

}  // namespace

boost::asio::awaitable<handler_result> handle_init_producer_id(request_context& ctx) {
  auto decoded = decode_request<protocol::init_producer_id_request>(ctx);
  if (auto* closed = std::get_if<close_connection>(&decoded)) co_return *closed;
  auto& request = std::get<protocol::init_producer_id_request>(decoded);

  protocol::init_producer_id_response response;
  auto fail = [&](error_code c) {
    response.error_code = static_cast<int16_t>(c);
    response.producer_id = no_producer_id;
    response.producer_epoch = no_producer_epoch;
    return encode_response(ctx, response);
  };
  if (request.transactional_id) {
    // Kafka refuses an empty transactional id as the producer client does.
    co_return fail(request.transactional_id->empty() ? error_code::invalid_request
                                                     : error_code::coordinator_not_available);
  }
  const bool fresh =
      request.producer_id == no_producer_id && request.producer_epoch == no_producer_epoch;
  if (!fresh && (request.producer_id < 0 || request.producer_epoch < 0)) {
    co_return fail(error_code::invalid_request);
  }
  if (!fresh && request.producer_epoch < std::numeric_limits<int16_t>::max()) {
    response.producer_id = request.producer_id;
    response.producer_epoch = static_cast<int16_t>(request.producer_epoch + 1);
    co_return encode_response(ctx, response);
  }
  // A new id, also when the epoch has nowhere left to go.
  auto allocated =
      co_await ctx.broker.shards.offload([&] { return ctx.broker.topics.allocate_producer_id(); });
  if (!allocated) co_return fail(allocated.error().code);
  response.producer_id = *allocated;
  response.producer_epoch = 0;
  co_return encode_response(ctx, response);
}

}  // namespace sluice::kafka
