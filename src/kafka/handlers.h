#pragma once

// One coroutine per Kafka API the broker serves; each lives in the file named
// after its API family. dispatch() picks one by api key.

#include <boost/asio/awaitable.hpp>
#include <span>

#include "kafka/request_context.h"
#include "protocol/api_keys.h"

namespace sluice::kafka {

// The versions this broker serves of one API (ApiVersions advertises exactly these).
struct served_api {
  protocol::api_key key;
  int16_t min_version;
  int16_t max_version;
};
std::span<const served_api> served_apis();
const served_api* find_served_api(protocol::api_key key);

// Runs the handler of ctx.key; the caller checked the version is served.
boost::asio::awaitable<handler_result> dispatch(request_context& ctx);

boost::asio::awaitable<handler_result> handle_api_versions(request_context& ctx);
boost::asio::awaitable<handler_result> handle_metadata(request_context& ctx);
boost::asio::awaitable<handler_result> handle_produce(request_context& ctx);
boost::asio::awaitable<handler_result> handle_fetch(request_context& ctx);
boost::asio::awaitable<handler_result> handle_list_offsets(request_context& ctx);
boost::asio::awaitable<handler_result> handle_find_coordinator(request_context& ctx);
// topic_admin.cc
boost::asio::awaitable<handler_result> handle_create_topics(request_context& ctx);
boost::asio::awaitable<handler_result> handle_delete_topics(request_context& ctx);
boost::asio::awaitable<handler_result> handle_create_partitions(request_context& ctx);
// configs.cc
boost::asio::awaitable<handler_result> handle_describe_configs(request_context& ctx);
boost::asio::awaitable<handler_result> handle_alter_configs(request_context& ctx);
boost::asio::awaitable<handler_result> handle_incremental_alter_configs(request_context& ctx);
// delete_records.cc
boost::asio::awaitable<handler_result> handle_delete_records(request_context& ctx);
// cluster_info.cc
boost::asio::awaitable<handler_result> handle_describe_cluster(request_context& ctx);
// log_dirs.cc
boost::asio::awaitable<handler_result> handle_describe_log_dirs(request_context& ctx);
// init_producer_id.cc
boost::asio::awaitable<handler_result> handle_init_producer_id(request_context& ctx);
// groups.cc
boost::asio::awaitable<handler_result> handle_join_group(request_context& ctx);
boost::asio::awaitable<handler_result> handle_sync_group(request_context& ctx);
boost::asio::awaitable<handler_result> handle_heartbeat(request_context& ctx);
boost::asio::awaitable<handler_result> handle_leave_group(request_context& ctx);
boost::asio::awaitable<handler_result> handle_offset_commit(request_context& ctx);
boost::asio::awaitable<handler_result> handle_offset_fetch(request_context& ctx);
boost::asio::awaitable<handler_result> handle_describe_groups(request_context& ctx);
boost::asio::awaitable<handler_result> handle_list_groups(request_context& ctx);
boost::asio::awaitable<handler_result> handle_delete_groups(request_context& ctx);
boost::asio::awaitable<handler_result> handle_offset_delete(request_context& ctx);

}  // namespace sluice::kafka
