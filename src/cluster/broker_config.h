#pragma once

// broker_config: the broker's settings, read from a server.properties file
// with Kafka's key names plus `--set key=value` overrides. Every key Sluice
// knows has a type, a default and a check; an invalid value stops startup
// with a message naming the key, an unknown key is warned about by name.

#include <cstdint>
#include <string>
#include <vector>

#include "base/properties.h"
#include "base/result.h"
#include "cluster/config_entry.h"
#include "storage/log_config.h"

namespace sluice::cluster {

// One entry of `listeners` / `advertised.listeners`: NAME://host:port.
// An empty host binds every interface (as Kafka's "PLAINTEXT://:9092").
struct endpoint {
  std::string listener_name;  // "PLAINTEXT"
  std::string host;
  uint16_t port = 0;
  friend bool operator==(const endpoint&, const endpoint&) = default;
};

// Parses "PLAINTEXT://127.0.0.1:9092,OTHER://[::1]:9093". Port 0 (bind any
// free port) is allowed in `listeners`; the broker reports the bound port.
base::result<std::vector<endpoint>, config_error> parse_listeners(std::string_view key,
                                                                  std::string_view value);

struct broker_config {
  int32_t node_id = 1;                           // node.id (broker.id is a synonym)
  std::vector<endpoint> listeners;               // listeners: PLAINTEXT://127.0.0.1:9092
  std::vector<endpoint> advertised_listeners;    // advertised.listeners: defaults to listeners
  std::vector<std::string> log_dirs;             // log.dirs, else log.dir: ./data
  int32_t num_partitions = 1;                    // num.partitions
  int16_t default_replication_factor = 1;        // default.replication.factor
  bool auto_create_topics_enable = true;         // auto.create.topics.enable
  bool delete_topic_enable = true;               // delete.topic.enable
  int32_t message_max_bytes = 1048588;           // message.max.bytes
  int32_t socket_request_max_bytes = 104857600;  // socket.request.max.bytes
  int32_t fetch_max_bytes = 57671680;            // fetch.max.bytes (55 MiB)
  int32_t queued_max_requests = 500;             // queued.max.requests (per connection here)
  int64_t queued_max_request_bytes =
      -1;  // queued.max.request.bytes (-1: 2 * socket.request.max.bytes... see .cc)
  int64_t connections_max_idle_ms = 600000;              // connections.max.idle.ms
  int32_t max_connections = 2147483647;                  // max.connections
  int64_t producer_id_expiration_ms = 86400000;          // producer.id.expiration.ms
  int32_t group_min_session_timeout_ms = 6000;           // group.min.session.timeout.ms
  int32_t group_max_session_timeout_ms = 1800000;        // group.max.session.timeout.ms
  int32_t group_initial_rebalance_delay_ms = 3000;       // group.initial.rebalance.delay.ms
  int32_t group_max_size = 2147483647;                   // group.max.size
  int32_t offsets_topic_num_partitions = 50;             // offsets.topic.num.partitions
  int32_t offsets_topic_segment_bytes = 104857600;       // offsets.topic.segment.bytes
  int64_t offsets_retention_minutes = 10080;             // offsets.retention.minutes
  int64_t offsets_retention_check_interval_ms = 600000;  // offsets.retention.check.interval.ms
  int32_t offset_metadata_max_bytes = 4096;              // offset.metadata.max.bytes
  int32_t num_recovery_threads_per_data_dir = 2;         // num.recovery.threads.per.data.dir
  int64_t log_flush_scheduler_interval_ms =
      1000;  // log.flush.scheduler.interval.ms (Kafka: Long.MAX)
  int64_t log_retention_check_interval_ms = 300000;  // log.retention.check.interval.ms
  int64_t log_flush_offset_checkpoint_interval_ms =
      60000;                                           // log.flush.offset.checkpoint.interval.ms
  bool log_cleaner_enable = true;                      // log.cleaner.enable
  int64_t log_cleaner_backoff_ms = 15000;              // log.cleaner.backoff.ms
  int64_t log_cleaner_dedupe_buffer_size = 134217728;  // log.cleaner.dedupe.buffer.size
  // Topic defaults from the log.* keys (log.segment.bytes, log.retention.ms /
  // .minutes / .hours, log.retention.bytes, log.cleanup.policy,
  // log.flush.interval.messages, log.flush.interval.ms, log.flush.on.acks.all,
  // log.message.timestamp.type, log.index.interval.bytes, log.roll.ms/.hours,
  // log.index.size.max.bytes, log.cleaner.delete.retention.ms,
  // log.cleaner.min.cleanable.ratio, log.cleaner.min.compaction.lag.ms).
  storage::log_config log_defaults;

  // The keys the file and --set gave, as given: DescribeConfigs reports them
  // as STATIC_BROKER_CONFIG, everything else as DEFAULT_CONFIG.
  base::properties explicit_values;

  // Kafka's dynamic broker configs (AlterConfigs on a BROKER resource), as
  // set: the cluster-wide defaults (resource "", DYNAMIC_DEFAULT_BROKER_CONFIG)
  // and this broker's own (resource "<node.id>", DYNAMIC_BROKER_CONFIG). Empty
  // in a config as loaded; with_dynamic_configs() fills them and the fields
  // above that they change.
  base::properties dynamic_default_values;
  base::properties dynamic_broker_values;
};

struct loaded_broker_config {
  broker_config config;
  std::vector<std::string> warnings;  // "unknown configuration key 'foo.bar' (ignored)"
};

// Applies `file`, then `overrides`, to the defaults. Fails on the first
// invalid value: the key, and what is wrong with the value.
base::result<loaded_broker_config, config_error> load_broker_config(
    const base::properties& file, const base::properties& overrides);

// Every broker key with its current value and source, for DescribeConfigs on
// the broker's own BROKER resource (read_only = true for keys that cannot
// change at runtime). Sources and synonyms go from the most specific layer:
// DYNAMIC_BROKER_CONFIG, DYNAMIC_DEFAULT_BROKER_CONFIG, STATIC_BROKER_CONFIG,
// DEFAULT_CONFIG.
std::vector<config_description> describe_broker_config(const broker_config& config);

// DescribeConfigs on the "" BROKER resource: only the keys the cluster-wide
// dynamic defaults set, with their values there (as Kafka answers it).
std::vector<config_description> describe_dynamic_broker_defaults(const broker_config& config);

// --- Dynamic broker configs.

// Whether Sluice knows `key` as a broker config.
bool is_broker_config_key(std::string_view key);
// Whether AlterConfigs may change `key` at runtime: Kafka's dynamic log
// configs, the broker keys that give topic defaults (log.retention.ms,
// log.segment.bytes, message.max.bytes, compression.type, ...). Topics that
// do not override them follow a change at once.
bool is_dynamic_broker_config_key(std::string_view key);

// Why a set of dynamic broker configs was refused; the handler maps the
// problem onto Kafka's error code.
struct dynamic_config_error {
  enum class problem {
    unknown_key,    // "Unknown broker config name: foo.bar"
    not_dynamic,    // "Cannot update these configs dynamically: [log.dirs]"
    invalid_value,  // "Invalid value x for configuration log.retention.ms: ..."
  };
  problem what;
  std::string message;
};

// Checks one scope's whole set as AlterConfigs does: every key known and
// dynamic, every value passing the check static loading applies.
base::result<void, dynamic_config_error> validate_dynamic_broker_configs(
    const base::properties& configs);

struct layered_broker_config {
  broker_config config;
  // "dynamic broker config 'log.dirs' (cluster default) ... (ignored)"
  std::vector<std::string> warnings;
};

// `static_config` (as loaded: its own dynamic layers are replaced) with the
// dynamic layers on top. As in Kafka the layers merge key by key — the
// broker's own over the cluster defaults over the file — and synonyms then
// resolve within the merge, so log.retention.ms in the file still wins over
// log.retention.hours set dynamically. Entries a newer or older Sluice kept
// that are not valid dynamic configs here are left out with a warning rather
// than failing startup.
layered_broker_config with_dynamic_configs(const broker_config& static_config,
                                           const base::properties& cluster_default,
                                           const base::properties& per_broker);

// The value of one broker key as DescribeConfigs prints it (nullopt: unknown key).
std::optional<std::string> broker_config_value(const broker_config& config, std::string_view key);

}  // namespace sluice::cluster
