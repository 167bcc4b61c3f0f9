#include "cli/admin.h"

#include <algorithm>
#include <charconv>
#include <set>

#include "cli/command_families.h"
#include "client/admin_owners.h"
#include "protocol/messages/incremental_alter_configs.h"

namespace sluice::cli {

static_assert(static_cast<int>(config_resource_type::topic) == RD_KAFKA_RESOURCE_TOPIC);
static_assert(static_cast<int>(config_resource_type::broker) == RD_KAFKA_RESOURCE_BROKER);

base::result<client::handle> connect_admin(const invocation& inv) {
  auto settings = inv.connection();
  if (!settings) return base::unexpected(settings.error());
  return client::connect(RD_KAFKA_PRODUCER, *settings);
}

bool is_internal_topic(const std::string& name) { return name.starts_with("__"); }

std::string no_such_topic(const std::string& topic) {
  return "topic \"" + topic + "\" does not exist: see sluice topic list";
}

std::string topic_error(const std::string& verb, const std::string& topic,
                        rd_kafka_resp_err_t error, const std::string& detail) {
  if (error == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) return no_such_topic(topic);
  if (error == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
    return "topic \"" + topic + "\" already exists: add --if-not-exists to accept that";
  }
  std::string message = "cannot " + verb + " topic \"" + topic + "\": " + rd_kafka_err2name(error) +
                        ": " + (detail.empty() ? rd_kafka_err2str(error) : detail);
  if (error == RD_KAFKA_RESP_ERR_INVALID_CONFIG) {
    message += " (sluice topic describe TOPIC lists the valid config names)";
  }
  return message;
}

base::result<std::vector<int32_t>> select_partitions(const client::topic_info& topic,
                                                     const std::vector<int32_t>& wanted) {
  std::vector<int32_t> out;
  if (wanted.empty()) {
    for (const auto& p : topic.partitions) out.push_back(p.id);
    return out;
  }
  for (int32_t id : wanted) {
    bool known = std::any_of(topic.partitions.begin(), topic.partitions.end(),
                             [id](const auto& p) { return p.id == id; });
    if (!known) {
      return base::fail("topic \"" + topic.name + "\" has no partition " + std::to_string(id) +
                        ": it has " + std::to_string(topic.partitions.size()) +
                        ", numbered from 0");
    }
    out.push_back(id);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

base::result<int64_t> parse_trim_offset(const std::string& text) {
  if (text == "end") return int64_t{RD_KAFKA_OFFSET_END};
  int64_t offset = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), offset);
  if (ec != std::errc() || end != text.data() + text.size() || offset < 0) {
    return base::fail("--offset " + text + ": expected an offset (0 or more) or \"end\"");
  }
  return offset;
}

std::optional<int64_t> partition_size(const replica_sizes& sizes, const std::string& topic,
                                      const client::partition_info& partition) {
  auto size_on = [&](int32_t broker) -> std::optional<int64_t> {
    auto on_broker = sizes.find(broker);
    if (on_broker == sizes.end()) return std::nullopt;
    auto size = on_broker->second.find({topic, partition.id});
    if (size == on_broker->second.end()) return std::nullopt;
    return size->second;
  };
  if (auto leader = size_on(partition.leader)) return leader;
  // A leaderless partition still has data; the largest replica is the
  // closest to what its leader held.
  std::optional<int64_t> largest;
  for (int32_t replica : partition.replicas) {
    if (auto size = size_on(replica); size && (!largest || *size > *largest)) largest = size;
  }
  return largest;
}

std::optional<std::string> broker_address(const client::cluster_metadata& metadata, int32_t id) {
  for (const auto& broker : metadata.brokers) {
    if (broker.id != id) continue;
    std::string host =
        broker.host.find(':') == std::string::npos ? broker.host : "[" + broker.host + "]";
    return host + ":" + std::to_string(broker.port);
  }
  return std::nullopt;
}

base::result<client::protocol_connection> connect_broker(const client::cluster_metadata& metadata,
                                                         int32_t id,
                                                         std::chrono::milliseconds timeout) {
  auto address = broker_address(metadata, id);
  if (!address) return base::fail("broker " + std::to_string(id) + " is not in the metadata");
  auto connection = client::protocol_connection::open(*address, timeout);
  if (!connection) {
    return base::fail("broker " + std::to_string(id) + ": " + connection.error().message);
  }
  return connection;
}

base::result<int32_t> pick_broker(const client::cluster_metadata& metadata,
                                  std::optional<int32_t> requested) {
  if (metadata.brokers.empty()) return base::fail("the cluster reported no brokers");
  auto known = [&](int32_t id) {
    return std::any_of(metadata.brokers.begin(), metadata.brokers.end(),
                       [id](const auto& b) { return b.id == id; });
  };
  if (requested) {
    if (known(*requested)) return *requested;
    std::string ids;
    for (const auto& b : metadata.brokers) ids += (ids.empty() ? "" : ",") + std::to_string(b.id);
    return base::fail("broker " + std::to_string(*requested) +
                      " is not in the cluster (brokers: " + ids + "): see sluice cluster info");
  }
  if (known(metadata.controller_id)) return metadata.controller_id;
  return metadata.brokers.front().id;
}

document health_report(const client::cluster_metadata& metadata) {
  std::set<int32_t> up;
  for (const auto& b : metadata.brokers) up.insert(b.id);
  // Metadata lists live brokers only; a broker that replicas name but that
  // is missing from the list is down.
  std::set<int32_t> down;
  document offline = document::array();
  document under_replicated = document::array();
  for (const auto& topic : metadata.topics) {
    for (const auto& p : topic.partitions) {
      for (int32_t replica : p.replicas) {
        if (!up.contains(replica)) down.insert(replica);
      }
      if (p.leader < 0 || !up.contains(p.leader)) {
        offline.push_back({{"topic", topic.name}, {"partition", p.id}, {"replicas", p.replicas}});
      } else if (p.isr.size() < p.replicas.size()) {
        under_replicated.push_back({{"topic", topic.name},
                                    {"partition", p.id},
                                    {"leader", p.leader},
                                    {"replicas", p.replicas},
                                    {"isr", p.isr}});
      }
    }
  }
  bool has_controller = up.contains(metadata.controller_id);
  bool healthy = has_controller && down.empty() && offline.empty() && under_replicated.empty();
  return {{"healthy", healthy},
          {"controller", has_controller ? document(metadata.controller_id) : document(nullptr)},
          {"brokers_up", up},
          {"brokers_down", down},
          {"offline_partitions", offline},
          {"under_replicated_partitions", under_replicated}};
}

namespace {

std::string resource_label(config_resource_type type, const std::string& name) {
  return type == config_resource_type::topic ? "topic \"" + name + "\"" : "broker " + name;
}

config_entry entry_of(const rd_kafka_ConfigEntry_t* raw) {
  config_entry entry;
  entry.name = rd_kafka_ConfigEntry_name(raw);
  if (const char* value = rd_kafka_ConfigEntry_value(raw)) entry.value = value;
  entry.source = rd_kafka_ConfigSource_name(rd_kafka_ConfigEntry_source(raw));
  entry.read_only = rd_kafka_ConfigEntry_is_read_only(raw) == 1;
  entry.sensitive = rd_kafka_ConfigEntry_is_sensitive(raw) == 1;
  return entry;
}

}  // namespace

base::result<std::vector<config_entry>> describe_configs(rd_kafka_t* rk, config_resource_type type,
                                                         const std::string& name,
                                                         std::chrono::milliseconds timeout) {
  client::config_resource resource(
      rd_kafka_ConfigResource_new(static_cast<rd_kafka_ResourceType_t>(type), name.c_str()));
  auto done = client::run_admin(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS,
                                RD_KAFKA_EVENT_DESCRIBECONFIGS_RESULT, timeout,
                                [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* q) {
                                  rd_kafka_ConfigResource_t* resources[] = {resource.get()};
                                  rd_kafka_DescribeConfigs(rk, resources, 1, options, q);
                                });
  const std::string label = resource_label(type, name);
  if (!done) {
    return base::fail("cannot describe the configs of " + label + ": " + done.error().message);
  }
  size_t count = 0;
  const auto* results = rd_kafka_DescribeConfigs_result_resources(
      rd_kafka_event_DescribeConfigs_result(done->get()), &count);
  if (count != 1) return base::fail("DescribeConfigs for " + label + " came back without it");
  auto error = rd_kafka_ConfigResource_error(results[0]);
  if (error == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART && type == config_resource_type::topic) {
    return base::fail(no_such_topic(name));
  }
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* detail = rd_kafka_ConfigResource_error_string(results[0]);
    return base::fail("cannot describe the configs of " + label + ": " + rd_kafka_err2name(error) +
                      ": " + (detail ? detail : rd_kafka_err2str(error)));
  }
  size_t entry_count = 0;
  const auto* entries = rd_kafka_ConfigResource_configs(results[0], &entry_count);
  std::vector<config_entry> out;
  for (size_t i = 0; i < entry_count; ++i) out.push_back(entry_of(entries[i]));
  return out;
}

document config_rows(std::vector<config_entry> entries, bool non_default_only) {
  std::sort(entries.begin(), entries.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  document rows = document::array();
  for (const auto& e : entries) {
    if (non_default_only && e.source == "DEFAULT_CONFIG") continue;
    rows.push_back({{"name", e.name},
                    {"value", e.value ? document(*e.value) : document(nullptr)},
                    {"source", e.source},
                    {"read_only", e.read_only},
                    {"sensitive", e.sensitive}});
  }
  return rows;
}

base::result<std::vector<config_change>> parse_config_changes(
    const std::vector<std::string>& sets, const std::string& set_label,
    const std::vector<std::string>& deletes) {
  auto pairs = parse_key_values(sets, set_label);
  if (!pairs) return base::unexpected(pairs.error());
  std::vector<config_change> out;
  for (auto& [key, value] : *pairs) {
    out.push_back({key, config_operation::set, std::move(value)});
  }
  for (const auto& key : deletes) {
    if (key.empty() || key.find('=') != std::string::npos) {
      return base::fail("--delete " + key + ": expected a config name, without =value");
    }
    out.push_back({key, config_operation::remove, {}});
  }
  if (out.empty()) {
    return base::fail("nothing to change: name a config to set (key=value) or to --delete");
  }
  std::set<std::string> seen;
  for (const auto& change : out) {
    if (!seen.insert(change.name).second) {
      return base::fail("config " + change.name + " is changed twice: give each key once");
    }
  }
  return out;
}

document change_rows(const std::vector<config_change>& changes) {
  document rows = document::array();
  for (const auto& c : changes) {
    bool set = c.operation == config_operation::set;
    rows.push_back({{"name", c.name},
                    {"operation", set ? "set" : "delete"},
                    {"value", set ? document(c.value) : document(nullptr)}});
  }
  return rows;
}

std::string resource_error::text() const {
  return std::string(protocol::error_name(code)) + ": " + message;
}

base::result<resource_error> alter_configs(client::protocol_connection& connection,
                                           config_resource_type type, const std::string& name,
                                           const std::vector<config_change>& changes,
                                           bool validate_only) {
  protocol::incremental_alter_configs_request request;
  request.validate_only = validate_only;
  auto& resource = request.resources.emplace_back();
  resource.resource_type = static_cast<int8_t>(type);
  resource.resource_name = name;
  for (const auto& change : changes) {
    auto& config = resource.configs.emplace_back();
    config.name = change.name;
    config.config_operation = static_cast<int8_t>(change.operation);
    if (change.operation == config_operation::set) {
      config.value = change.value;
    } else {
      config.value = std::nullopt;
    }
  }
  auto response = connection.call<protocol::incremental_alter_configs_response>(request);
  if (!response) return base::unexpected(response.error());
  if (response->responses.size() != 1) {
    return base::fail(connection.address() + ": IncrementalAlterConfigs answered " +
                      std::to_string(response->responses.size()) + " resources for 1");
  }
  const auto& answer = response->responses.front();
  resource_error out;
  out.code = static_cast<protocol::error_code>(answer.error_code);
  out.message = answer.error_message.value_or("");
  if (out.message.empty()) out.message = protocol::error_message(out.code);
  return out;
}

}  // namespace sluice::cli
