#pragma once

// What the topic and cluster commands share: the admin connection, config
// descriptions (DescribeConfigs through librdkafka) and changes
// (IncrementalAlterConfigs through client::protocol_connection, since
// librdkafka 2.0.2 lacks it and plain AlterConfigs would replace the whole
// set), broker addresses, and the pure pieces of the commands, which
// tests/topic_cluster_test.cc checks without a broker.

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "cli/invocation.h"
#include "cli/output.h"
#include "client/protocol_connection.h"
#include "client/rdkafka.h"
#include "protocol/error_code.h"

namespace sluice::cli {

// An admin-capable client for the invocation's cluster; fails at once when
// no bootstrap broker is reachable.
base::result<client::handle> connect_admin(const invocation& inv);

// A repeatable option taking one value each time it is given, so that in
// `topic create -c retention.ms=1 orders` the name stays a positional.
template <typename T>
CLI::Option* add_repeatable(CLI::App* command, const std::string& name, std::vector<T>& values,
                            const std::string& description) {
  return command->add_option(name, values, description)->allow_extra_args(false);
}

// --- Topics ---

// Kafka's convention (and the broker's): names starting with "__".
bool is_internal_topic(const std::string& name);

// `topic "x" does not exist: see sluice topic list`.
std::string no_such_topic(const std::string& topic);

// The one-line message for a topic operation the cluster refused. `verb` says
// what was tried ("create", "delete", ...); the usual errors get a hint.
std::string topic_error(const std::string& verb, const std::string& topic,
                        rd_kafka_resp_err_t error, const std::string& detail);

// The partitions a command acts on: `wanted` (deduplicated, sorted) or, when
// empty, all of `topic`'s. Partitions the topic lacks are an error.
base::result<std::vector<int32_t>> select_partitions(const client::topic_info& topic,
                                                     const std::vector<int32_t>& wanted);

// `topic trim --offset`: a non-negative offset, or "end" (the high
// watermark, RD_KAFKA_OFFSET_END).
base::result<int64_t> parse_trim_offset(const std::string& text);

// Bytes on disk of each replica as DescribeLogDirs reports them:
// broker id -> (topic, partition) -> bytes.
using replica_sizes = std::map<int32_t, std::map<std::pair<std::string, int32_t>, int64_t>>;

// A partition's size: its leader's replica, else the largest replica
// reported; nullopt when no broker reported one.
std::optional<int64_t> partition_size(const replica_sizes& sizes, const std::string& topic,
                                      const client::partition_info& partition);

// --- Brokers ---

// "host:port" of broker `id` (IPv6 hosts bracketed); nullopt if unknown.
std::optional<std::string> broker_address(const client::cluster_metadata& metadata, int32_t id);

// A protocol connection to broker `id` of `metadata`.
base::result<client::protocol_connection> connect_broker(const client::cluster_metadata& metadata,
                                                         int32_t id,
                                                         std::chrono::milliseconds timeout);

// `requested` if the cluster has that broker, else an error listing the
// brokers; without a request, the controller, else the lowest id.
base::result<int32_t> pick_broker(const client::cluster_metadata& metadata,
                                  std::optional<int32_t> requested);

// `cluster health`: healthy, controller, brokers_up, brokers_down (ids that
// replicas name but metadata lacks), offline_partitions (no leader) and
// under_replicated_partitions (isr smaller than replicas).
document health_report(const client::cluster_metadata& metadata);

// --- Configs ---

// Kafka's ConfigResource types; librdkafka's rd_kafka_ResourceType_t uses
// the same numbers.
enum class config_resource_type : int8_t { topic = 2, broker = 4 };

struct config_entry {
  std::string name;
  std::optional<std::string> value;  // nullopt: unset, or hidden as sensitive
  std::string source;                // Kafka's name: DEFAULT_CONFIG, DYNAMIC_TOPIC_CONFIG, ...
  bool read_only = false;
  bool sensitive = false;
};

// DescribeConfigs of one resource (a topic, or a broker by its id).
base::result<std::vector<config_entry>> describe_configs(rd_kafka_t* rk, config_resource_type type,
                                                         const std::string& name,
                                                         std::chrono::milliseconds timeout);

// Table rows (name, value, source, read_only, sensitive) sorted by name;
// `non_default_only` leaves out DEFAULT_CONFIG entries.
document config_rows(std::vector<config_entry> entries, bool non_default_only);

enum class config_operation : int8_t { set = 0, remove = 1 };  // Kafka's SET and DELETE

struct config_change {
  std::string name;
  config_operation operation = config_operation::set;
  std::string value;  // for set
};

// "key=value" entries (named `set_label` in errors) to set and keys to
// delete. Each key may appear once: Kafka refuses a request that names one
// twice. At least one change is required.
base::result<std::vector<config_change>> parse_config_changes(
    const std::vector<std::string>& sets, const std::string& set_label,
    const std::vector<std::string>& deletes);

// Rows (name, operation "set"/"delete", value) for printing changes.
document change_rows(const std::vector<config_change>& changes);

// A broker's error for one resource; `code` none when it succeeded.
struct resource_error {
  protocol::error_code code = protocol::error_code::none;
  std::string message;  // the broker's, else Kafka's default for the code

  // "INVALID_CONFIG: Unknown topic config name: nope".
  std::string text() const;
};

// IncrementalAlterConfigs for one resource on `connection`. The result is the
// resource's outcome; failing to get an answer at all is the error.
base::result<resource_error> alter_configs(client::protocol_connection& connection,
                                           config_resource_type type, const std::string& name,
                                           const std::vector<config_change>& changes,
                                           bool validate_only);

}  // namespace sluice::cli
