#pragma once

// Owners for librdkafka's C handles, and the few calls every client-side tool
// makes: create a configured handle, fetch metadata, read partition offsets.
// Everything returns errors as values with messages that name what failed.

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "client/settings.h"

namespace sluice::client {

struct handle_deleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
struct queue_deleter {
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
};
struct event_deleter {
  void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
};
struct partition_list_deleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
struct admin_options_deleter {
  void operator()(rd_kafka_AdminOptions_t* o) const { rd_kafka_AdminOptions_destroy(o); }
};
struct conf_deleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
struct message_deleter {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};
struct topic_deleter {
  void operator()(rd_kafka_topic_t* t) const { rd_kafka_topic_destroy(t); }
};
struct error_deleter {
  void operator()(rd_kafka_error_t* e) const { rd_kafka_error_destroy(e); }
};
struct headers_deleter {
  void operator()(rd_kafka_headers_t* h) const { rd_kafka_headers_destroy(h); }
};
struct metadata_deleter {
  void operator()(const rd_kafka_metadata_t* m) const { rd_kafka_metadata_destroy(m); }
};

using handle = std::unique_ptr<rd_kafka_t, handle_deleter>;
using queue = std::unique_ptr<rd_kafka_queue_t, queue_deleter>;
using event = std::unique_ptr<rd_kafka_event_t, event_deleter>;
using partition_list = std::unique_ptr<rd_kafka_topic_partition_list_t, partition_list_deleter>;
using admin_options = std::unique_ptr<rd_kafka_AdminOptions_t, admin_options_deleter>;
using conf = std::unique_ptr<rd_kafka_conf_t, conf_deleter>;
using message = std::unique_ptr<rd_kafka_message_t, message_deleter>;
using topic = std::unique_ptr<rd_kafka_topic_t, topic_deleter>;
using error_owner = std::unique_ptr<rd_kafka_error_t, error_deleter>;
using headers = std::unique_ptr<rd_kafka_headers_t, headers_deleter>;
using metadata = std::unique_ptr<const rd_kafka_metadata_t, metadata_deleter>;

using property_list = std::vector<std::pair<std::string, std::string>>;

// A configuration with bootstrap.servers, Sluice's tool settings (quiet
// logs, no topic auto-creation), then `defaults` (the command's own
// choices), then settings.properties (the user's) applied in that order. An
// unknown or invalid property is an error naming it.
base::result<conf> make_conf(const connection_settings& settings, const property_list& defaults);

// A handle of `type` from a configuration made by make_conf (consumed, also
// on failure).
base::result<handle> make_handle(rd_kafka_type_t type, conf configuration);

// make_conf + make_handle, after checking that some bootstrap broker accepts
// a TCP connection within the timeout: librdkafka itself would retry an
// unreachable broker silently until the call's timeout, and a tool should
// say "cannot reach" at once instead. `prepare`, if given, sees the
// configuration last, to set callbacks (delivery reports, errors) and their
// opaque.
base::result<handle> connect(rd_kafka_type_t type, const connection_settings& settings,
                             const property_list& defaults = {},
                             const std::function<void(rd_kafka_conf_t*)>& prepare = {});

// Fails unless one of the bootstrap brokers accepts a TCP connection within
// `timeout` (refused connections fail at once). The message names the
// addresses tried and suggests --brokers / $SLUICE_BROKERS.
base::result<void> check_reachable(const connection_settings& settings,
                                   std::chrono::milliseconds timeout);

struct broker_info {
  int32_t id = -1;
  std::string host;
  int port = 0;
};

struct partition_info {
  int32_t id = 0;
  int32_t leader = -1;
  std::vector<int32_t> replicas;
  std::vector<int32_t> isr;
  rd_kafka_resp_err_t error = RD_KAFKA_RESP_ERR_NO_ERROR;
};

struct topic_info {
  std::string name;
  rd_kafka_resp_err_t error = RD_KAFKA_RESP_ERR_NO_ERROR;
  std::vector<partition_info> partitions;  // sorted by id
};

struct cluster_metadata {
  std::optional<std::string> cluster_id;
  int32_t controller_id = -1;
  std::vector<broker_info> brokers;  // sorted by id
  std::vector<topic_info> topics;    // sorted by name
};

// Metadata of every topic, or of one topic (nullopt: all topics). A topic
// that does not exist comes back with error UNKNOWN_TOPIC_OR_PART, not as a
// failure of the call; auto-creation is never triggered (make_conf turns it
// off for every handle).
base::result<cluster_metadata> fetch_metadata(rd_kafka_t* rk,
                                              const std::optional<std::string>& topic,
                                              std::chrono::milliseconds timeout);

// The log start (low) and end (high) offsets of one partition.
struct watermarks {
  int64_t low = -1;
  int64_t high = -1;
};
base::result<watermarks> query_watermarks(rd_kafka_t* rk, const std::string& topic,
                                          int32_t partition, std::chrono::milliseconds timeout);

// For each (topic, partition) in `query`, the first offset whose timestamp is
// >= timestamp_ms (ListOffsets by time); -1 where no record is that late. The
// answer is in the same order as the query.
struct timestamp_query {
  std::string topic;
  int32_t partition = 0;
  int64_t timestamp_ms = 0;
};
base::result<std::vector<int64_t>> offsets_for_times(rd_kafka_t* rk,
                                                     const std::vector<timestamp_query>& query,
                                                     std::chrono::milliseconds timeout);

// librdkafka's name and description of an error, e.g.
// "UNKNOWN_TOPIC_OR_PART: Broker: Unknown topic or partition".
std::string describe(rd_kafka_resp_err_t error);

// Runs an admin request on its own queue and waits for its result event of
// `expected` type (e.g. RD_KAFKA_EVENT_CREATETOPICS_RESULT). `start` issues
// the request, given the options (request timeout set) and the queue. A
// failure of the whole request (timeout, transport) is an error.
template <typename Start>
base::result<event> run_admin(rd_kafka_t* rk, rd_kafka_admin_op_t op,
                              rd_kafka_event_type_t expected, std::chrono::milliseconds timeout,
                              Start&& start);

// Non-template part of run_admin.
base::result<admin_options> make_admin_options(rd_kafka_t* rk, rd_kafka_admin_op_t op,
                                               std::chrono::milliseconds timeout);
base::result<event> wait_admin_result(rd_kafka_queue_t* q, rd_kafka_event_type_t expected,
                                      std::chrono::milliseconds timeout);

template <typename Start>
base::result<event> run_admin(rd_kafka_t* rk, rd_kafka_admin_op_t op,
                              rd_kafka_event_type_t expected, std::chrono::milliseconds timeout,
                              Start&& start) {
  auto options = make_admin_options(rk, op, timeout);
  if (!options) return base::unexpected(options.error());
  queue q(rd_kafka_queue_new(rk));
  start(options->get(), q.get());
  return wait_admin_result(q.get(), expected, timeout);
}

}  // namespace sluice::client
