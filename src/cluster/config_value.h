#pragma once

// Internal to cluster/: the parsing and printing of configuration values that
// broker_config.cc and topic_config.cc share, so that a topic key and its
// broker synonym (segment.bytes and log.segment.bytes) accept the same values
// and print them alike. Values are parsed as Kafka's ConfigDef does (trimmed,
// booleans in any case) and printed as Kafka prints them.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "cluster/config_entry.h"
#include "storage/log_config.h"

namespace sluice::cluster {
struct broker_config;
}

namespace sluice::cluster::config_value {

// A checked value as Kafka prints it, or what is wrong with the value and
// what is expected instead.
using checked = base::result<std::string, std::string>;
using check_fn = std::function<checked(std::string_view value)>;

std::string_view trim(std::string_view s);

// Integers in [min, max]; `note` explains special values ("-1 means forever").
checked check_integer(std::string_view value, int64_t min, int64_t max, std::string_view note = {});
checked check_boolean(std::string_view value);
checked check_ratio(std::string_view value);  // a number in [0, 1]
checked check_cleanup_policy(std::string_view value);
checked check_timestamp_type(std::string_view value);
checked check_compression_type(std::string_view value);

// Readers of values the checks above accepted.
int64_t to_integer(std::string_view checked_value);
bool to_boolean(std::string_view checked_value);
double to_double(std::string_view checked_value);
storage::cleanup_policy to_cleanup_policy(std::string_view checked_value);

std::string format_double(double v);  // as Java's Double.toString for plain values: 0.5, 1.0
std::string_view format_cleanup_policy(storage::cleanup_policy policy);

// Implemented in topic_config.cc: the topic keys' checks, which their broker
// synonyms share, and their mapping onto storage::log_config.
checked check_topic_value(std::string_view topic_key, std::string_view value);
// Stores a value check_topic_value accepted; keys the log does not carry are
// ignored.
void apply_topic_value(std::string_view topic_key, std::string_view checked_value,
                       storage::log_config& log);
// The value `log` holds for a topic key; nullopt for keys it does not carry.
std::optional<std::string> log_config_value(std::string_view topic_key,
                                            const storage::log_config& log);

// Implemented in broker_config.cc: one broker key's description (value,
// source, synonyms), which a topic key without an override inherits.
std::optional<config_description> describe_broker_key(const broker_config& config,
                                                      std::string_view key);

}  // namespace sluice::cluster::config_value
