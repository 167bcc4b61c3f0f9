#pragma once

// What DescribeConfigs reports about one configuration key, with Kafka's
// numbering of types and sources (DescribeConfigsResponse v3+).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sluice::cluster {

enum class config_type : int8_t {
  unknown = 0,
  boolean = 1,
  string = 2,
  int32 = 3,     // Kafka's INT
  int16 = 4,     // SHORT
  int64 = 5,     // LONG
  floating = 6,  // DOUBLE
  list = 7,
  class_name = 8,
  password = 9,
};

enum class config_source : int8_t {
  unknown = 0,
  topic = 1,                   // TOPIC_CONFIG
  dynamic_broker = 2,          // DYNAMIC_BROKER_CONFIG
  dynamic_default_broker = 3,  // DYNAMIC_DEFAULT_BROKER_CONFIG
  static_broker = 4,           // STATIC_BROKER_CONFIG (server.properties, --set)
  default_value = 5,           // DEFAULT_CONFIG
};

struct config_synonym {
  std::string name;
  std::optional<std::string> value;
  config_source source = config_source::unknown;
};

struct config_description {
  std::string name;
  std::optional<std::string> value;  // nullopt for sensitive keys
  config_source source = config_source::default_value;
  bool read_only = false;
  bool sensitive = false;
  config_type type = config_type::string;
  std::string documentation;
  // The value's origins, most specific first (DescribeConfigs' include_synonyms).
  std::vector<config_synonym> synonyms;
};

// An invalid key or value, named as the user wrote it.
struct config_error {
  std::string key;
  std::string message;
};

}  // namespace sluice::cluster
