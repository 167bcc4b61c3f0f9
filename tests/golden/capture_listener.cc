// golden_capture_listener: a fake one-broker Kafka cluster that records the
// request frames real clients send, for the golden-frame fixtures.
//
//   golden_capture_listener --port N --out DIR [--keep-similar K]
//
// It answers each request just well enough for the client to carry on to its
// next step: node 1 at 127.0.0.1:PORT leads every partition, topic "golden"
// (1 partition) exists from the start, produced batches are kept in memory and
// fetched back, and consumer groups have one member, which leads. Every
// request frame (without its size prefix) goes to DIR/NNNN-<ApiName>-v<V>.bin.
// Clients repeat themselves (fetch loops, heartbeats), so beyond K frames with
// the same client id, API, version and body size the rest are answered but not
// written.
//
// Single-threaded: one poll() loop over the listening socket and every client.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "protocol/error_code.h"
#include "protocol/frame.h"
#include "protocol/messages/api_versions.h"
#include "protocol/messages/create_partitions.h"
#include "protocol/messages/create_topics.h"
#include "protocol/messages/delete_records.h"
#include "protocol/messages/delete_topics.h"
#include "protocol/messages/describe_configs.h"
#include "protocol/messages/fetch.h"
#include "protocol/messages/find_coordinator.h"
#include "protocol/messages/heartbeat.h"
#include "protocol/messages/init_producer_id.h"
#include "protocol/messages/join_group.h"
#include "protocol/messages/leave_group.h"
#include "protocol/messages/list_offsets.h"
#include "protocol/messages/metadata.h"
#include "protocol/messages/offset_commit.h"
#include "protocol/messages/offset_fetch.h"
#include "protocol/messages/produce.h"
#include "protocol/messages/sync_group.h"

namespace sluice::golden {
namespace {

using namespace sluice::protocol;
using steady = std::chrono::steady_clock;

// Bounds: the scenarios need a fraction of each.
constexpr int32_t max_frame_size = 16 * 1024 * 1024;
constexpr size_t max_connections = 64;
constexpr size_t max_topics = 256;
constexpr int32_t max_partitions = 64;
constexpr size_t max_log_bytes = size_t{64} * 1024 * 1024;
constexpr int max_files = 10000;
// A client that sends requests without reading the replies is dropped.
constexpr size_t max_queued_replies = 1024;
constexpr size_t max_unsent_bytes = size_t{64} * 1024 * 1024;
// An empty Fetch is held back this long at most (less if the client asks for
// less), so consumers poll at a calm pace instead of spinning.
constexpr int max_empty_fetch_wait_ms = 200;

constexpr int32_t node_id = 1;
constexpr const char* host = "127.0.0.1";
constexpr const char* cluster_id = "golden-cluster";
constexpr const char* initial_topic = "golden";

// What each API is advertised at: the "Advertise" column of CLIENTS.md §4.2,
// for the APIs this listener answers. Negotiating clients then send the
// versions they would send to a real broker.
struct advertised_range {
  api_key key;
  int16_t min_version;
  int16_t max_version;
};
constexpr advertised_range advertised[] = {
    {api_key::produce, 0, 7},          {api_key::fetch, 4, 11},
    {api_key::list_offsets, 1, 3},     {api_key::metadata, 0, 6},
    {api_key::offset_commit, 1, 7},    {api_key::offset_fetch, 1, 7},
    {api_key::find_coordinator, 0, 2}, {api_key::join_group, 0, 5},
    {api_key::heartbeat, 0, 3},        {api_key::leave_group, 0, 3},
    {api_key::sync_group, 0, 3},       {api_key::api_versions, 0, 3},
    {api_key::create_topics, 0, 4},    {api_key::delete_topics, 0, 3},
    {api_key::delete_records, 0, 1},   {api_key::init_producer_id, 0, 4},
    {api_key::describe_configs, 0, 2}, {api_key::create_partitions, 0, 1},
};

constexpr int16_t advertised_max(api_key key) {
  for (const auto& range : advertised) {
    if (range.key == key) return range.max_version;
  }
  return -1;
}

volatile std::sig_atomic_t stop_requested = 0;

void request_stop(int) { stop_requested = 1; }

int16_t code(error_code e) { return static_cast<int16_t>(e); }

int32_t read_be32(const uint8_t* p) {
  return static_cast<int32_t>(uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 |
                              uint32_t{p[3]});
}

// ---------------------------------------------------------------- cluster state

struct stored_batch {
  int64_t next_offset;  // the offset after its last record
  std::vector<uint8_t> bytes;
};

struct partition_log {
  std::vector<stored_batch> batches;
  int64_t log_start_offset = 0;
  int64_t end_offset = 0;
};

struct committed_offset {
  int64_t offset;
  std::optional<std::string> metadata;
};

struct group_state {
  int32_t generation = 0;
  std::string member_id;
  base::shared_bytes assignment;
  std::map<std::pair<std::string, int32_t>, committed_offset> offsets;
};

struct cluster {
  int32_t port = 0;
  std::map<std::string, std::vector<partition_log>> topics;
  std::map<std::string, group_state> groups;
  size_t log_bytes = 0;
  int64_t next_producer_id = 1000;
  int next_member = 1;

  bool create_topic(const std::string& name, int32_t partitions) {
    if (topics.size() >= max_topics) return false;
    topics[name].resize(partitions);
    return true;
  }

  partition_log* find_partition(const std::string& topic, int32_t partition) {
    auto it = topics.find(topic);
    if (it == topics.end() || partition < 0 ||
        static_cast<size_t>(partition) >= it->second.size()) {
      return nullptr;
    }
    return &it->second[partition];
  }

  // Kafka names members "<client id>-<uuid>"; a counter is enough here.
  std::string new_member_id(const request_header& header) {
    return header.client_id.value_or("member") + "-" + std::to_string(next_member++);
  }
};

// Appends the magic-2 batches of one Produce partition, assigning offsets as a
// broker does (base offset only: it is outside the CRC). Returns the first
// batch's base offset.
base::result<int64_t, error_code> append(cluster& c, partition_log& log,
                                         const base::shared_bytes& records) {
  constexpr size_t batch_header_size = 61;
  std::vector<stored_batch> parsed;
  int64_t next = log.end_offset;
  size_t pos = 0;
  while (pos < records.size()) {
    if (records.size() - pos < batch_header_size) {
      return base::unexpected{error_code::corrupt_message};
    }
    const uint8_t* batch = records.data() + pos;
    int32_t length = read_be32(batch + 8);
    if (length < static_cast<int32_t>(batch_header_size - 12) ||
        static_cast<size_t>(length) > records.size() - pos - 12) {
      return base::unexpected{error_code::corrupt_message};
    }
    if (batch[16] != 2) return base::unexpected{error_code::unsupported_for_message_format};
    int32_t last_offset_delta = read_be32(batch + 23);
    if (last_offset_delta < 0) return base::unexpected{error_code::invalid_record};
    stored_batch stored{next + last_offset_delta + 1,
                        std::vector<uint8_t>(batch, batch + 12 + length)};
    for (int i = 0; i < 8; ++i) stored.bytes[i] = static_cast<uint8_t>(next >> (56 - 8 * i));
    next = stored.next_offset;
    pos += 12 + length;
    parsed.push_back(std::move(stored));
  }
  if (parsed.empty()) return base::unexpected{error_code::invalid_record};
  if (c.log_bytes + records.size() > max_log_bytes) {
    return base::unexpected{error_code::record_list_too_large};
  }
  c.log_bytes += records.size();
  int64_t base_offset = log.end_offset;
  for (auto& batch : parsed) log.batches.push_back(std::move(batch));
  log.end_offset = next;
  return base_offset;
}

// ---------------------------------------------------------------- one function per API

struct reply {
  std::vector<uint8_t> frame;  // empty: nothing to send (Produce with acks=0)
  int delay_ms = 0;
};

template <typename Response>
reply respond(const Response& response, const request_header& header) {
  return {encode_response_frame(response, header.request_api_version, header.correlation_id)};
}

reply answer_api_versions(cluster&, const api_versions_request&, const request_header& header) {
  api_versions_response response;
  for (const auto& range : advertised) {
    api_versions_response::api_version entry;
    entry.api_key = static_cast<int16_t>(range.key);
    entry.min_version = range.min_version;
    entry.max_version = range.max_version;
    response.api_keys.push_back(entry);
  }
  return respond(response, header);
}

metadata_response::metadata_response_topic describe_topic(const cluster& c,
                                                          const std::string& name) {
  metadata_response::metadata_response_topic topic;
  topic.name = name;
  auto it = c.topics.find(name);
  if (it == c.topics.end()) {
    topic.error_code = code(error_code::unknown_topic_or_partition);
    return topic;
  }
  for (size_t i = 0; i < it->second.size(); ++i) {
    metadata_response::metadata_response_partition partition;
    partition.partition_index = static_cast<int32_t>(i);
    partition.leader_id = node_id;
    partition.leader_epoch = 0;
    partition.replica_nodes = {node_id};
    partition.isr_nodes = {node_id};
    topic.partitions.push_back(partition);
  }
  return topic;
}

reply answer_metadata(cluster& c, const metadata_request& request, const request_header& header) {
  int16_t version = header.request_api_version;
  metadata_response response;
  response.brokers.push_back({.node_id = node_id, .host = host, .port = c.port});
  response.cluster_id = cluster_id;
  response.controller_id = node_id;
  // "All topics" is an empty array in v0 and a null one from v1 on.
  bool all_topics = !request.topics || (version == 0 && request.topics->empty());
  if (all_topics) {
    for (const auto& [name, partitions] : c.topics) {
      response.topics.push_back(describe_topic(c, name));
    }
    return respond(response, header);
  }
  for (const auto& wanted : *request.topics) {
    if (!wanted.name) continue;  // lookups by topic id (v10+) are never advertised
    // Before v4 there is no flag and Kafka's default auto.create.topics.enable applies.
    bool auto_create = version < 4 || request.allow_auto_topic_creation;
    if (auto_create && !c.topics.contains(*wanted.name)) c.create_topic(*wanted.name, 1);
    response.topics.push_back(describe_topic(c, *wanted.name));
  }
  return respond(response, header);
}

reply answer_produce(cluster& c, const produce_request& request, const request_header& header) {
  produce_response response;
  for (const auto& topic : request.topic_data) {
    produce_response::topic_produce_response topic_response;
    topic_response.name = topic.name;
    for (const auto& partition : topic.partition_data) {
      produce_response::partition_produce_response result;
      result.index = partition.index;
      partition_log* log = c.find_partition(topic.name, partition.index);
      if (log == nullptr) {
        result.error_code = code(error_code::unknown_topic_or_partition);
      } else if (!partition.records) {
        result.error_code = code(error_code::invalid_record);
      } else if (auto appended = append(c, *log, *partition.records); !appended.ok()) {
        result.error_code = code(appended.error());
      } else {
        result.base_offset = *appended;
        result.log_start_offset = log->log_start_offset;
      }
      topic_response.partition_responses.push_back(result);
    }
    response.responses.push_back(std::move(topic_response));
  }
  if (request.acks == 0) return {};  // Kafka sends no response at all for acks=0
  return respond(response, header);
}

// The batches of `log` from `offset` on, whole batches only, at least one.
base::shared_bytes read_log(const partition_log& log, int64_t offset, int32_t max_bytes) {
  std::vector<uint8_t> out;
  for (const auto& batch : log.batches) {
    if (batch.next_offset <= offset) continue;
    if (!out.empty() && out.size() + batch.bytes.size() > static_cast<size_t>(max_bytes)) break;
    out.insert(out.end(), batch.bytes.begin(), batch.bytes.end());
  }
  return base::shared_bytes(std::move(out));
}

reply answer_fetch(cluster& c, const fetch_request& request, const request_header& header) {
  fetch_response response;
  bool any_records = false;
  for (const auto& topic : request.topics) {
    fetch_response::fetchable_topic_response topic_response;
    topic_response.topic = topic.topic;
    for (const auto& partition : topic.partitions) {
      fetch_response::partition_data data;
      data.partition_index = partition.partition;
      const partition_log* log = c.find_partition(topic.topic, partition.partition);
      if (log == nullptr) {
        data.error_code = code(error_code::unknown_topic_or_partition);
      } else if (partition.fetch_offset < log->log_start_offset ||
                 partition.fetch_offset > log->end_offset) {
        data.error_code = code(error_code::offset_out_of_range);
      } else {
        data.high_watermark = log->end_offset;
        data.last_stable_offset = log->end_offset;
        data.log_start_offset = log->log_start_offset;
        data.records = read_log(*log, partition.fetch_offset, partition.partition_max_bytes);
        any_records = any_records || !data.records->empty();
      }
      topic_response.partitions.push_back(std::move(data));
    }
    response.responses.push_back(std::move(topic_response));
  }
  reply out = respond(response, header);
  if (!any_records) out.delay_ms = std::clamp(request.max_wait_ms, 0, max_empty_fetch_wait_ms);
  return out;
}

reply answer_list_offsets(cluster& c, const list_offsets_request& request,
                          const request_header& header) {
  constexpr int64_t earliest_timestamp = -2;
  list_offsets_response response;
  for (const auto& topic : request.topics) {
    list_offsets_response::list_offsets_topic_response topic_response;
    topic_response.name = topic.name;
    for (const auto& partition : topic.partitions) {
      list_offsets_response::list_offsets_partition_response result;
      result.partition_index = partition.partition_index;
      const partition_log* log = c.find_partition(topic.name, partition.partition_index);
      if (log == nullptr) {
        result.error_code = code(error_code::unknown_topic_or_partition);
      } else {
        // No timestamps are indexed: any lookup but "earliest" answers the log end.
        int64_t offset =
            partition.timestamp == earliest_timestamp ? log->log_start_offset : log->end_offset;
        result.offset = offset;
        result.old_style_offsets = {offset};
        result.leader_epoch = 0;
      }
      topic_response.partitions.push_back(result);
    }
    response.topics.push_back(std::move(topic_response));
  }
  return respond(response, header);
}

reply answer_find_coordinator(cluster& c, const find_coordinator_request& request,
                              const request_header& header) {
  find_coordinator_response response;
  response.error_message = std::nullopt;
  response.node_id = node_id;
  response.host = host;
  response.port = c.port;
  // v4+ batches the lookup.
  for (const auto& key : request.coordinator_keys) {
    response.coordinators.push_back(
        {.key = key, .node_id = node_id, .host = host, .port = c.port, .error_message = {}});
  }
  return respond(response, header);
}

reply answer_join_group(cluster& c, const join_group_request& request,
                        const request_header& header) {
  join_group_response response;
  if (request.protocols.empty()) {
    response.error_code = code(error_code::inconsistent_group_protocol);
    return respond(response, header);
  }
  // From v4 on a member without an id is sent away with one (KIP-394), and joins again.
  if (request.member_id.empty() && header.request_api_version >= 4) {
    response.error_code = code(error_code::member_id_required);
    response.member_id = c.new_member_id(header);
    return respond(response, header);
  }
  group_state& group = c.groups[request.group_id];
  group.member_id = request.member_id.empty() ? c.new_member_id(header) : request.member_id;
  ++group.generation;
  const auto& chosen = request.protocols.front();
  response.generation_id = group.generation;
  response.protocol_type = request.protocol_type;
  response.protocol_name = chosen.name;
  response.leader = group.member_id;
  response.member_id = group.member_id;
  response.members.push_back({.member_id = group.member_id,
                              .group_instance_id = request.group_instance_id,
                              .metadata = chosen.metadata});
  return respond(response, header);
}

reply answer_sync_group(cluster& c, const sync_group_request& request,
                        const request_header& header) {
  sync_group_response response;
  response.protocol_type = request.protocol_type;
  response.protocol_name = request.protocol_name;
  auto it = c.groups.find(request.group_id);
  if (it == c.groups.end() || it->second.member_id != request.member_id) {
    response.error_code = code(error_code::unknown_member_id);
    return respond(response, header);
  }
  // The only member leads, so it sends the assignment it gets back.
  for (const auto& assignment : request.assignments) {
    if (assignment.member_id == request.member_id) it->second.assignment = assignment.assignment;
  }
  response.assignment = it->second.assignment;
  return respond(response, header);
}

reply answer_heartbeat(cluster& c, const heartbeat_request& request, const request_header& header) {
  heartbeat_response response;
  auto it = c.groups.find(request.group_id);
  if (it == c.groups.end() || it->second.member_id != request.member_id) {
    response.error_code = code(error_code::unknown_member_id);
  }
  return respond(response, header);
}

reply answer_leave_group(cluster& c, const leave_group_request& request,
                         const request_header& header) {
  leave_group_response response;
  auto it = c.groups.find(request.group_id);
  if (it != c.groups.end()) it->second.member_id.clear();
  // v3+ names the members that leave.
  for (const auto& member : request.members) {
    response.members.push_back({.member_id = member.member_id,
                                .group_instance_id = member.group_instance_id,
                                .error_code = 0});
  }
  return respond(response, header);
}

reply answer_offset_commit(cluster& c, const offset_commit_request& request,
                           const request_header& header) {
  offset_commit_response response;
  group_state& group = c.groups[request.group_id];
  for (const auto& topic : request.topics) {
    offset_commit_response::offset_commit_response_topic topic_response;
    topic_response.name = topic.name;
    for (const auto& partition : topic.partitions) {
      group.offsets[{topic.name, partition.partition_index}] = {partition.committed_offset,
                                                                partition.committed_metadata};
      topic_response.partitions.push_back({.partition_index = partition.partition_index});
    }
    response.topics.push_back(std::move(topic_response));
  }
  return respond(response, header);
}

offset_fetch_response::offset_fetch_response_partition committed(const group_state& group,
                                                                 const std::string& topic,
                                                                 int32_t partition) {
  offset_fetch_response::offset_fetch_response_partition result;
  result.partition_index = partition;
  result.committed_offset = -1;  // nothing committed
  auto it = group.offsets.find({topic, partition});
  if (it != group.offsets.end()) {
    result.committed_offset = it->second.offset;
    result.metadata = it->second.metadata;
  }
  return result;
}

// Versions 0-7 only (one group per request), as advertised.
reply answer_offset_fetch(cluster& c, const offset_fetch_request& request,
                          const request_header& header) {
  offset_fetch_response response;
  const group_state& group = c.groups[request.group_id];
  std::map<std::string, std::vector<int32_t>> wanted;
  if (request.topics) {
    for (const auto& topic : *request.topics) wanted[topic.name] = topic.partition_indexes;
  } else {  // null: every committed offset of the group
    for (const auto& [key, offset] : group.offsets) wanted[key.first].push_back(key.second);
  }
  for (const auto& [topic, partitions] : wanted) {
    offset_fetch_response::offset_fetch_response_topic topic_response;
    topic_response.name = topic;
    for (int32_t partition : partitions) {
      topic_response.partitions.push_back(committed(group, topic, partition));
    }
    response.topics.push_back(std::move(topic_response));
  }
  return respond(response, header);
}

reply answer_init_producer_id(cluster& c, const init_producer_id_request&,
                              const request_header& header) {
  init_producer_id_response response;
  response.producer_id = c.next_producer_id++;
  response.producer_epoch = 0;
  return respond(response, header);
}

reply answer_create_topics(cluster& c, const create_topics_request& request,
                           const request_header& header) {
  create_topics_response response;
  for (const auto& topic : request.topics) {
    create_topics_response::creatable_topic_result result;
    result.name = topic.name;
    result.error_message = std::nullopt;
    int32_t partitions = topic.num_partitions == -1 ? 1 : topic.num_partitions;
    if (c.topics.contains(topic.name)) {
      result.error_code = code(error_code::topic_already_exists);
    } else if (partitions < 1 || partitions > max_partitions) {
      result.error_code = code(error_code::invalid_partitions);
    } else if (!request.validate_only && !c.create_topic(topic.name, partitions)) {
      result.error_code = code(error_code::policy_violation);
    } else {
      result.num_partitions = partitions;
      result.replication_factor = 1;
    }
    response.topics.push_back(std::move(result));
  }
  return respond(response, header);
}

reply answer_delete_topics(cluster& c, const delete_topics_request& request,
                           const request_header& header) {
  delete_topics_response response;
  // v6 moved the names into `topics`, next to topic ids.
  std::vector<std::string> names = request.topic_names;
  for (const auto& topic : request.topics) {
    if (topic.name) names.push_back(*topic.name);
  }
  for (const auto& name : names) {
    delete_topics_response::deletable_topic_result result;
    result.name = name;
    if (c.topics.erase(name) == 0) result.error_code = code(error_code::unknown_topic_or_partition);
    response.responses.push_back(std::move(result));
  }
  return respond(response, header);
}

reply answer_delete_records(cluster& c, const delete_records_request& request,
                            const request_header& header) {
  delete_records_response response;
  for (const auto& topic : request.topics) {
    delete_records_response::delete_records_topic_result topic_result;
    topic_result.name = topic.name;
    for (const auto& partition : topic.partitions) {
      delete_records_response::delete_records_partition_result result;
      result.partition_index = partition.partition_index;
      partition_log* log = c.find_partition(topic.name, partition.partition_index);
      // -1 means "up to the high watermark".
      int64_t offset =
          log != nullptr && partition.offset == -1 ? log->end_offset : partition.offset;
      if (log == nullptr) {
        result.error_code = code(error_code::unknown_topic_or_partition);
      } else if (offset < 0 || offset > log->end_offset) {
        result.error_code = code(error_code::offset_out_of_range);
      } else {
        // Batches stay stored; fetches below the new log start are refused.
        log->log_start_offset = std::max(log->log_start_offset, offset);
        result.low_watermark = log->log_start_offset;
      }
      topic_result.partitions.push_back(result);
    }
    response.topics.push_back(std::move(topic_result));
  }
  return respond(response, header);
}

reply answer_describe_configs(cluster& c, const describe_configs_request& request,
                              const request_header& header) {
  constexpr int8_t topic_resource = 2;
  constexpr int8_t default_config_source = 5;
  // A couple of defaults, enough for admin clients to print something.
  const std::pair<const char*, const char*> topic_defaults[] = {{"cleanup.policy", "delete"},
                                                                {"retention.ms", "604800000"}};
  describe_configs_response response;
  for (const auto& resource : request.resources) {
    describe_configs_response::describe_configs_result result;
    result.error_message = std::nullopt;
    result.resource_type = resource.resource_type;
    result.resource_name = resource.resource_name;
    if (resource.resource_type == topic_resource && !c.topics.contains(resource.resource_name)) {
      result.error_code = code(error_code::unknown_topic_or_partition);
    } else if (resource.resource_type == topic_resource) {
      for (const auto& [name, value] : topic_defaults) {
        const auto& keys = resource.configuration_keys;
        if (keys && std::find(keys->begin(), keys->end(), name) == keys->end()) continue;
        describe_configs_response::describe_configs_resource_result config;
        config.name = name;
        config.value = value;
        config.is_default = true;
        config.config_source = default_config_source;
        config.documentation = std::nullopt;
        result.configs.push_back(std::move(config));
      }
    }
    response.results.push_back(std::move(result));
  }
  return respond(response, header);
}

reply answer_create_partitions(cluster& c, const create_partitions_request& request,
                               const request_header& header) {
  create_partitions_response response;
  for (const auto& topic : request.topics) {
    create_partitions_response::create_partitions_topic_result result;
    result.name = topic.name;
    auto it = c.topics.find(topic.name);
    if (it == c.topics.end()) {
      result.error_code = code(error_code::unknown_topic_or_partition);
    } else if (topic.count <= static_cast<int32_t>(it->second.size()) ||
               topic.count > max_partitions) {
      result.error_code = code(error_code::invalid_partitions);
    } else if (!request.validate_only) {
      it->second.resize(topic.count);
    }
    response.results.push_back(std::move(result));
  }
  return respond(response, header);
}

// ---------------------------------------------------------------- dispatch

// Decodes the body as `Request` and hands it to `answer`; an error closes the
// connection, as Kafka does with a request it cannot read.
template <typename Request>
base::result<reply, std::string> serve(cluster& c, const parsed_request& request,
                                       reply (*answer)(cluster&, const Request&,
                                                       const request_header&)) {
  auto decoded = decode_body<Request>(request.body, request.header.request_api_version);
  if (!decoded.ok()) return base::unexpected{decoded.error().message};
  return answer(c, *decoded, request.header);
}

base::result<reply, std::string> dispatch(cluster& c, const parsed_request& request) {
  switch (request.api->key) {
    case api_key::api_versions:
      // Newer than advertised: answered the KIP-511 way, so the client retries lower.
      if (request.header.request_api_version > advertised_max(api_key::api_versions)) {
        return reply{encode_unsupported_api_versions_frame(request.header.correlation_id, 0,
                                                           advertised_max(api_key::api_versions))};
      }
      return serve(c, request, answer_api_versions);
    case api_key::metadata:
      return serve(c, request, answer_metadata);
    case api_key::produce:
      return serve(c, request, answer_produce);
    case api_key::fetch:
      return serve(c, request, answer_fetch);
    case api_key::list_offsets:
      return serve(c, request, answer_list_offsets);
    case api_key::find_coordinator:
      return serve(c, request, answer_find_coordinator);
    case api_key::join_group:
      return serve(c, request, answer_join_group);
    case api_key::sync_group:
      return serve(c, request, answer_sync_group);
    case api_key::heartbeat:
      return serve(c, request, answer_heartbeat);
    case api_key::leave_group:
      return serve(c, request, answer_leave_group);
    case api_key::offset_commit:
      return serve(c, request, answer_offset_commit);
    case api_key::offset_fetch:
      return serve(c, request, answer_offset_fetch);
    case api_key::init_producer_id:
      return serve(c, request, answer_init_producer_id);
    case api_key::create_topics:
      return serve(c, request, answer_create_topics);
    case api_key::delete_topics:
      return serve(c, request, answer_delete_topics);
    case api_key::delete_records:
      return serve(c, request, answer_delete_records);
    case api_key::describe_configs:
      return serve(c, request, answer_describe_configs);
    case api_key::create_partitions:
      return serve(c, request, answer_create_partitions);
    default:
      return base::unexpected{std::string(request.api->name) + " is not answered by this listener"};
  }
}

// ---------------------------------------------------------------- recording

class recorder {
 public:
  recorder(std::filesystem::path dir, int keep_similar)
      : dir_(std::move(dir)), keep_similar_(keep_similar) {}

  void record(const parsed_request& request, const base::shared_bytes& frame) {
    const request_header& header = request.header;
    auto key = std::make_tuple(header.client_id.value_or(""), header.request_api_key,
                               header.request_api_version, request.body.size());
    if (++similar_[key] > keep_similar_ || written_ >= max_files) return;
    char name[128];
    std::snprintf(name, sizeof name, "%04d-%.*s-v%d.bin", ++written_,
                  static_cast<int>(request.api->name.size()), request.api->name.data(),
                  header.request_api_version);
    std::ofstream out(dir_ / name, std::ios::binary);
    out.write(reinterpret_cast<const char*>(frame.data()),
              static_cast<std::streamsize>(frame.size()));
    if (!out) std::fprintf(stderr, "cannot write %s\n", (dir_ / name).c_str());
  }

 private:
  std::filesystem::path dir_;
  int keep_similar_;
  int written_ = 0;
  std::map<std::tuple<std::string, int16_t, int16_t, size_t>, int> similar_;
};

// ---------------------------------------------------------------- sockets

struct queued_reply {
  steady::time_point ready_at;
  std::vector<uint8_t> frame;
};

struct connection {
  int fd = -1;
  std::vector<uint8_t> in;
  // Replies in request order: a held-back empty Fetch holds back those behind
  // it too, as Kafka answers one request at a time per connection.
  std::deque<queued_reply> queued;
  std::vector<uint8_t> out;
  size_t out_pos = 0;
  bool closing = false;
};

class server {
 public:
  server(int listen_fd, cluster& c, recorder& r)
      : listen_fd_(listen_fd), cluster_(c), recorder_(r) {}

  ~server() {
    for (auto& conn : connections_) ::close(conn->fd);
  }

  void run() {
    while (!stop_requested) {
      std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}};
      for (auto& conn : connections_) {
        short events = POLLIN;
        if (conn->out_pos < conn->out.size()) events |= POLLOUT;
        fds.push_back({conn->fd, events, 0});
      }
      int ready = ::poll(fds.data(), fds.size(), poll_timeout_ms());
      if (ready < 0 && errno != EINTR) {
        std::perror("poll");
        return;
      }
      if (ready > 0) {
        if (fds[0].revents & POLLIN) accept_one();
        // connections_ may have grown in accept_one(); only the polled ones have revents.
        for (size_t i = 1; i < fds.size(); ++i) {
          connection& conn = *connections_[i - 1];
          if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) read_from(conn);
          if (fds[i].revents & POLLOUT) write_to(conn);
        }
      }
      for (auto& conn : connections_) release_ready(*conn);
      std::erase_if(connections_, [](const std::unique_ptr<connection>& conn) {
        if (!conn->closing) return false;
        ::close(conn->fd);
        return true;
      });
    }
  }

 private:
  int poll_timeout_ms() const {
    auto now = steady::now();
    auto wait = std::chrono::milliseconds(1000);
    for (const auto& conn : connections_) {
      if (conn->queued.empty()) continue;
      auto until =
          std::chrono::ceil<std::chrono::milliseconds>(conn->queued.front().ready_at - now);
      wait = std::clamp(until, std::chrono::milliseconds(0), wait);
    }
    return static_cast<int>(wait.count());
  }

  void accept_one() {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    if (connections_.size() >= max_connections) {
      std::fprintf(stderr, "refusing a connection: %zu already open\n", connections_.size());
      ::close(fd);
      return;
    }
    auto conn = std::make_unique<connection>();
    conn->fd = fd;
    connections_.push_back(std::move(conn));
  }

  void read_from(connection& conn) {
    uint8_t buffer[64 * 1024];
    ssize_t n = ::recv(conn.fd, buffer, sizeof buffer, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
      conn.closing = true;
      return;
    }
    if (n < 0) return;
    conn.in.insert(conn.in.end(), buffer, buffer + n);
    while (!conn.closing && conn.in.size() >= 4) {
      auto size = parse_frame_size(std::span<const uint8_t, 4>(conn.in.data(), 4), max_frame_size);
      if (!size.ok()) {
        std::fprintf(stderr, "closing a connection: %s\n", size.error().message.c_str());
        conn.closing = true;
        return;
      }
      if (conn.in.size() - 4 < static_cast<size_t>(*size)) return;
      base::shared_bytes frame(
          std::vector<uint8_t>(conn.in.begin() + 4, conn.in.begin() + 4 + *size));
      conn.in.erase(conn.in.begin(), conn.in.begin() + 4 + *size);
      handle(conn, frame);
    }
  }

  void handle(connection& conn, const base::shared_bytes& frame) {
    auto request = parse_request(frame);
    if (!request.ok()) {
      std::fprintf(stderr, "closing a connection: %s\n", request.error().message.c_str());
      conn.closing = true;
      return;
    }
    recorder_.record(*request, frame);
    auto answer = dispatch(cluster_, *request);
    if (!answer.ok()) {
      std::fprintf(stderr, "closing a connection: %s\n", answer.error().c_str());
      conn.closing = true;
      return;
    }
    if (answer->frame.empty()) return;
    if (conn.queued.size() >= max_queued_replies ||
        conn.out.size() - conn.out_pos > max_unsent_bytes) {
      std::fprintf(stderr, "closing a connection: its client does not read the replies\n");
      conn.closing = true;
      return;
    }
    conn.queued.push_back(
        {steady::now() + std::chrono::milliseconds(answer->delay_ms), std::move(answer->frame)});
    release_ready(conn);
  }

  void release_ready(connection& conn) {
    auto now = steady::now();
    bool released = false;
    while (!conn.queued.empty() && conn.queued.front().ready_at <= now) {
      auto& frame = conn.queued.front().frame;
      conn.out.insert(conn.out.end(), frame.begin(), frame.end());
      conn.queued.pop_front();
      released = true;
    }
    if (released) write_to(conn);
  }

  void write_to(connection& conn) {
    while (conn.out_pos < conn.out.size()) {
      ssize_t n = ::send(conn.fd, conn.out.data() + conn.out_pos, conn.out.size() - conn.out_pos,
                         MSG_NOSIGNAL);
      if (n < 0) {
        if (errno != EAGAIN && errno != EINTR) conn.closing = true;
        return;
      }
      conn.out_pos += static_cast<size_t>(n);
    }
    conn.out.clear();
    conn.out_pos = 0;
  }

  int listen_fd_;
  cluster& cluster_;
  recorder& recorder_;
  std::vector<std::unique_ptr<connection>> connections_;
};

// A non-blocking socket listening on 127.0.0.1:port (0: any free port);
// returns the fd and the port it got, or fd -1.
std::pair<int, int32_t> listen_on(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return {-1, 0};
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) < 0 ||
      ::listen(fd, 64) < 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) < 0) {
    ::close(fd);
    return {-1, 0};
  }
  return {fd, ntohs(address.sin_port)};
}

struct options {
  uint16_t port = 0;
  std::filesystem::path out;
  int keep_similar = 3;
};

std::optional<options> parse_options(int argc, char** argv) {
  options parsed;
  bool have_port = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    std::string value = argv[i + 1];
    try {
      if (flag == "--port") {
        int port = std::stoi(value);
        if (port < 0 || port > 65535) return std::nullopt;
        parsed.port = static_cast<uint16_t>(port);
        have_port = true;
      } else if (flag == "--out") {
        parsed.out = value;
      } else if (flag == "--keep-similar") {
        parsed.keep_similar = std::stoi(value);
      } else {
        return std::nullopt;
      }
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  if (argc % 2 == 0 || !have_port || parsed.out.empty() || parsed.keep_similar < 1) {
    return std::nullopt;
  }
  return parsed;
}

int run(int argc, char** argv) {
  auto opts = parse_options(argc, argv);
  if (!opts) {
    std::fprintf(stderr, "usage: %s --port N --out DIR [--keep-similar K]\n", argv[0]);
    return 2;
  }
  std::error_code ec;
  std::filesystem::create_directories(opts->out, ec);
  if (ec) {
    std::fprintf(stderr, "cannot create %s: %s\n", opts->out.c_str(), ec.message().c_str());
    return 1;
  }
  // No SA_RESTART: poll() must return so the loop sees the stop request.
  struct sigaction action {};
  action.sa_handler = request_stop;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGTERM, &action, nullptr);
  ::sigaction(SIGINT, &action, nullptr);

  auto [fd, port] = listen_on(opts->port);
  if (fd < 0) {
    std::perror("listen");
    return 1;
  }
  cluster c;
  c.port = port;
  c.create_topic(initial_topic, 1);
  recorder r(opts->out, opts->keep_similar);
  std::printf("listening on %d\n", port);
  std::fflush(stdout);
  {
    server s(fd, c, r);
    s.run();
  }
  ::close(fd);
  return 0;
}

}  // namespace
}  // namespace sluice::golden

int main(int argc, char** argv) {
  try {
    return sluice::golden::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "golden_capture_listener: %s\n", e.what());
    return 1;
  }
}
