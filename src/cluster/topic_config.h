#pragma once

// Topic-level configuration: Kafka's topic keys (cleanup.policy, retention.ms,
// segment.bytes, max.message.bytes, message.timestamp.type, ...), each with
// the broker key that gives its default (retention.ms <- log.retention.ms,
// max.message.bytes <- message.max.bytes, ...). A topic stores only the keys
// set on it; everything else follows the broker.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/properties.h"
#include "base/result.h"
#include "cluster/broker_config.h"
#include "cluster/config_entry.h"
#include "storage/log_config.h"

namespace sluice::cluster {

// Whether Kafka knows `key` as a topic config.
bool is_topic_config_key(std::string_view key);

// Checks one key/value as CreateTopics and AlterConfigs do: unknown keys and
// bad values are INVALID_CONFIG with this message.
base::result<void, config_error> validate_topic_config(std::string_view key,
                                                       std::string_view value);
// All of them, stopping at the first error.
base::result<void, config_error> validate_topic_configs(const base::properties& configs);

// What the partition logs of a topic with `overrides` obey; the rest comes
// from `broker`, the config in force (dynamic layers included).
storage::log_config to_log_config(const base::properties& overrides, const broker_config& broker);
// The topic's max.message.bytes (a batch larger than this is MESSAGE_TOO_LARGE).
int32_t max_message_bytes(const base::properties& overrides, const broker_config& broker);

// Every topic key with its value and source (TOPIC_CONFIG when set on the
// topic, else what the broker key has: DYNAMIC_BROKER_CONFIG,
// DYNAMIC_DEFAULT_BROKER_CONFIG, STATIC_BROKER_CONFIG or DEFAULT_CONFIG), with
// synonyms, for DescribeConfigs on a TOPIC resource. `broker` is the config in
// force, dynamic layers included (with_dynamic_configs()).
std::vector<config_description> describe_topic_config(const base::properties& overrides,
                                                      const broker_config& broker);

}  // namespace sluice::cluster
