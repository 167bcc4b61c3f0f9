#include <algorithm>
#include <array>

#include "kafka/handlers.h"

namespace sluice::kafka {

using protocol::api_key;

namespace {

// The versions served, chosen from CLIENTS.md §4: every client's highest
// version up to where Sluice's semantics stop (Fetch below 13 and Metadata
// below 13, so no client needs topic ids in Fetch), and the low versions
// librdkafka's feature checks look for (Produce v0 for gzip/snappy/lz4,
// FindCoordinator v0 for lz4 and coordinators).
constexpr std::array served = {
    served_api{api_key::produce, 0, 9},
    served_api{api_key::fetch, 0, 12},
    served_api{api_key::list_offsets, 0, 7},
    served_api{api_key::metadata, 0, 12},
    served_api{api_key::find_coordinator, 0, 4},
    served_api{api_key::api_versions, 0, 3},
    served_api{api_key::create_topics, 0, 7},
    served_api{api_key::delete_topics, 0, 6},
    served_api{api_key::delete_records, 0, 2},
    served_api{api_key::init_producer_id, 0, 4},
    served_api{api_key::describe_configs, 0, 4},
    served_api{api_key::alter_configs, 0, 2},
    served_api{api_key::create_partitions, 0, 3},
    served_api{api_key::incremental_alter_configs, 0, 1},
    served_api{api_key::describe_cluster, 0, 1},
    served_api{api_key::describe_log_dirs, 0, 4},
    // Consumer groups under the classic protocol: OffsetCommit v9 and
    // OffsetFetch v9 belong to KIP-848's consumer groups.
    served_api{api_key::offset_commit, 0, 8},
    served_api{api_key::offset_fetch, 0, 8},
    served_api{api_key::join_group, 0, 9},
    served_api{api_key::heartbeat, 0, 4},
    served_api{api_key::leave_group, 0, 5},
    served_api{api_key::sync_group, 0, 5},
    served_api{api_key::describe_groups, 0, 5},
    served_api{api_key::list_groups, 0, 5},
    served_api{api_key::delete_groups, 0, 2},
    served_api{api_key::offset_delete, 0, 0},
};

}  // namespace

std::span<const served_api> served_apis() { return served; }

const served_api* find_served_api(api_key key) {
  auto it = std::find_if(served.begin(), served.end(),
                         [key](const served_api& api) { return api.key == key; });
  return it == served.end() ? nullptr : &*it;
}

boost::asio::awaitable<handler_result> dispatch(request_context& ctx) {
  switch (ctx.key) {
    case api_key::produce:
      return handle_produce(ctx);
    case api_key::fetch:
      return handle_fetch(ctx);
    case api_key::list_offsets:
      return handle_list_offsets(ctx);
    case api_key::metadata:
      return handle_metadata(ctx);
    case api_key::find_coordinator:
      return handle_find_coordinator(ctx);
    case api_key::api_versions:
      return handle_api_versions(ctx);
    case api_key::create_topics:
      return handle_create_topics(ctx);
    case api_key::delete_topics:
      return handle_delete_topics(ctx);
    case api_key::delete_records:
      return handle_delete_records(ctx);
    case api_key::init_producer_id:
      return handle_init_producer_id(ctx);
    case api_key::describe_configs:
      return handle_describe_configs(ctx);
    case api_key::alter_configs:
      return handle_alter_configs(ctx);
    case api_key::create_partitions:
      return handle_create_partitions(ctx);
    case api_key::incremental_alter_configs:
      return handle_incremental_alter_configs(ctx);
    case api_key::describe_cluster:
      return handle_describe_cluster(ctx);
    case api_key::describe_log_dirs:
      return handle_describe_log_dirs(ctx);
    case api_key::join_group:
      return handle_join_group(ctx);
    case api_key::sync_group:
      return handle_sync_group(ctx);
    case api_key::heartbeat:
      return handle_heartbeat(ctx);
    case api_key::leave_group:
      return handle_leave_group(ctx);
    case api_key::offset_commit:
      return handle_offset_commit(ctx);
    case api_key::offset_fetch:
      return handle_offset_fetch(ctx);
    case api_key::describe_groups:
      return handle_describe_groups(ctx);
    case api_key::list_groups:
      return handle_list_groups(ctx);
    case api_key::delete_groups:
      return handle_delete_groups(ctx);
    case api_key::offset_delete:
      return handle_offset_delete(ctx);
    default:
      break;
  }
  // The connection checks find_served_api first.
  throw std::logic_error("dispatch: no handler for a served api");
}

}  // namespace sluice::kafka
