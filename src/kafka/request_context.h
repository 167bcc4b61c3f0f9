#pragma once

// What a request handler is given, and what it gives back.

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "base/shared_bytes.h"
#include "cluster/broker_config.h"
#include "kafka/shard.h"
#include "kafka/topic_manager.h"
#include "protocol/frame.h"

namespace sluice::kafka {

class group_coordinator;

// The broker's parts a handler may use. One per broker, shared by all shards.
struct broker_services {
  const cluster::broker_config& config;
  topic_manager& topics;
  shard_set& shards;
  group_coordinator& groups;
  // Where clients reach this broker: advertised.listeners, with a port of 0
  // replaced by the port the listener bound.
  std::vector<cluster::endpoint> advertised;
};

struct request_context {
  broker_services& broker;
  const protocol::request_header& header;
  int16_t version;
  protocol::api_key key;
  base::shared_bytes body;
  std::string listener_name;  // the listener the connection came in on
  std::string client_host;    // "/127.0.0.1", as Kafka shows a client's address
};

// Work a handler left running on other shards when it returned: a
// Produce's appends to partitions other shards own. A connection's later
// requests other than Produce wait for it, so that they see it done, as they
// would had the broker handled the connection's requests one at a time (as
// Kafka does). Produce requests need not wait: posts from one shard to
// another run in order, so a partition's appends keep the requests' order.
// (The answers behind it wait anyway: it belongs to a deferred answer.)
// Used on the connection's shard only.
class work_elsewhere {
 public:
  virtual ~work_elsewhere() = default;
  virtual bool done() const = 0;
  virtual boost::asio::awaitable<void> wait() = 0;
};

// A handler's answer: a whole response frame, nothing (Produce with
// acks=0), or a reason to close the connection (an undecodable request, as
// Kafka closes it).
struct no_response {};
struct close_connection {
  std::string reason;
};
// An answer to send once `finish` completes: a Produce whose appends run on
// other shards, or an acks=all write waiting for its fsync. The connection's
// writer starts `finish` when it reaches the answer, in request order; the
// connection handles the next requests meanwhile. An empty answer sends
// nothing: an acks=0 Produce whose appends elsewhere the answers behind it
// wait for (Kafka answers them only after handling it).
struct deferred_response {
  boost::asio::awaitable<std::vector<uint8_t>> finish;
  // Whether `finish` would complete without waiting: its appends are done
  // and an fsync the writer waited for for an earlier answer covered it too.
  // The writer then sends it with the answers before it, in one write; it
  // writes those first when this is false (or empty).
  std::function<bool()> ready;
  std::shared_ptr<work_elsewhere> elsewhere;  // null when there is none
};
using handler_result = std::variant<std::vector<uint8_t>, protocol::gathered_frame, no_response,
                                    close_connection, deferred_response>;

// Decodes the request body or says why the connection must close.
template <typename Request>
std::variant<Request, close_connection> decode_request(const request_context& ctx) {
  auto decoded = protocol::decode_body<Request>(ctx.body, ctx.version);
  if (!decoded) return close_connection{decoded.error().message};
  return std::move(decoded).value();
}

template <typename Response>
std::vector<uint8_t> encode_response(const request_context& ctx, const Response& response,
                                     size_t size_hint = 0) {
  return protocol::encode_response_frame(response, ctx.version, ctx.header.correlation_id,
                                         size_hint);
}

}  // namespace sluice::kafka
