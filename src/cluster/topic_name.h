#pragma once

// Kafka's rules for topic names (org.apache.kafka.common.internals.Topic).

#include <optional>
#include <string>
#include <string_view>

namespace sluice::cluster {

inline constexpr size_t max_topic_name_length = 249;

// Empty, ".", "..", longer than 249 or a character outside [a-zA-Z0-9._-]:
// the message Kafka gives (INVALID_TOPIC_EXCEPTION); nullopt when legal.
std::optional<std::string> check_topic_name(std::string_view name);

// '.' and '_' collide in metric names, so Kafka refuses a topic whose name
// equals an existing one's with '.' and '_' swapped for each other.
bool topic_names_collide(std::string_view a, std::string_view b);

// Names starting with "__" are Kafka's internal topics (__consumer_offsets,
// __transaction_state).
bool is_internal_topic(std::string_view name);

}  // namespace sluice::cluster
