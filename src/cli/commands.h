#pragma once

// The client-side `sluice` commands. They talk to any Kafka-compatible
// cluster over the Kafka protocol (librdkafka, or client/protocol_connection
// where librdkafka lacks a call) and never link broker internals.

#include "cli/invocation.h"

namespace CLI {
class App;
}

namespace sluice::cli {

// Adds topic, produce, consume, group, cluster, bench, dump-log, profile and
// completion to `root`, with the global flags (--brokers, --profile,
// --format, -X, --timeout) bound to `inv.globals`.
void add_client_commands(CLI::App& root, invocation& inv);

}  // namespace sluice::cli
