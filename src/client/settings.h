#pragma once

// Where a client-side tool connects and with which librdkafka settings. Built
// by the CLI from its flags, environment and profile; read by everything in
// client/.

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace sluice::client {

struct connection_settings {
  // Kafka's bootstrap.servers: "host:port[,host:port...]".
  std::string bootstrap = "127.0.0.1:9092";
  // Extra librdkafka properties (from a profile or -X key=value), applied to
  // every handle after Sluice's own defaults, so the user has the last word.
  std::vector<std::pair<std::string, std::string>> properties;
  // How long one call (a metadata request, an admin request) may take.
  std::chrono::milliseconds timeout{10'000};
};

// "a:1,b:2" -> {"a:1", "b:2"}; blanks around entries are dropped.
std::vector<std::string> split_bootstrap(const std::string& bootstrap);

}  // namespace sluice::client
