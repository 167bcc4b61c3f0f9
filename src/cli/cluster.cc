// `sluice cluster`: info (brokers, controller, API versions), health, and
// the brokers' configs (config get / config set). DescribeCluster (for
// racks), ApiVersions listings and IncrementalAlterConfigs go through
// client::protocol_connection, which speaks the calls librdkafka 2.0.2 lacks.

#include <algorithm>
#include <memory>

#include "cli/admin.h"
#include "cli/command_families.h"
#include "protocol/messages/describe_cluster.h"

namespace sluice::cli {
namespace {

// --- info ---

// `cluster info` from metadata, which has no racks.
document info_from_metadata(const client::cluster_metadata& metadata) {
  document brokers = document::array();
  for (const auto& b : metadata.brokers) {
    brokers.push_back({{"id", b.id}, {"host", b.host}, {"port", b.port}, {"rack", nullptr}});
  }
  return {{"cluster_id", metadata.cluster_id ? document(*metadata.cluster_id) : document(nullptr)},
          {"controller",
           metadata.controller_id >= 0 ? document(metadata.controller_id) : document(nullptr)},
          {"brokers", brokers}};
}

document info_from_answer(const protocol::describe_cluster_response& answer) {
  auto listed = answer.brokers;
  std::sort(listed.begin(), listed.end(),
            [](const auto& a, const auto& b) { return a.broker_id < b.broker_id; });
  document brokers = document::array();
  for (const auto& b : listed) {
    brokers.push_back({{"id", b.broker_id},
                       {"host", b.host},
                       {"port", b.port},
                       {"rack", b.rack ? document(*b.rack) : document(nullptr)}});
  }
  return {{"cluster_id", answer.cluster_id},
          {"controller",
           answer.controller_id >= 0 ? document(answer.controller_id) : document(nullptr)},
          {"brokers", brokers}};
}

// The cluster as DescribeCluster gives it (with racks), or as metadata does
// when the broker does not serve DescribeCluster (Kafka before 2.8).
base::result<document> describe_cluster(const client::cluster_metadata& metadata,
                                        std::chrono::milliseconds timeout) {
  auto broker = pick_broker(metadata, std::nullopt);
  if (!broker) return base::unexpected(broker.error());
  auto connection = connect_broker(metadata, *broker, timeout);
  if (!connection) return base::unexpected(connection.error());
  if (!connection->versions(protocol::api_key::describe_cluster)) {
    return info_from_metadata(metadata);
  }
  auto answer =
      connection->call<protocol::describe_cluster_response>(protocol::describe_cluster_request{});
  if (!answer) return base::unexpected(answer.error());
  auto error = static_cast<protocol::error_code>(answer->error_code);
  if (error != protocol::error_code::none) {
    return base::fail("DescribeCluster: " + std::string(protocol::error_name(error)) + ": " +
                      answer->error_message.value_or(std::string(protocol::error_message(error))));
  }
  return info_from_answer(*answer);
}

// One row per API each broker serves: what a client may send it.
base::result<document> api_version_rows(const client::cluster_metadata& metadata,
                                        std::chrono::milliseconds timeout) {
  document rows = document::array();
  for (const auto& b : metadata.brokers) {
    auto connection = connect_broker(metadata, b.id, timeout);
    if (!connection) return base::unexpected(connection.error());
    for (const auto& [key, range] : connection->all_versions()) {
      const auto* api = protocol::find_api(key);
      rows.push_back({{"broker", b.id},
                      {"api", api ? std::string(api->name) : "unknown"},
                      {"key", key},
                      {"min", range.first},
                      {"max", range.second}});
    }
  }
  return rows;
}

base::result<void> cluster_info(const invocation& inv, bool versions) {
  auto rk = connect_admin(inv);
  if (!rk) return base::unexpected(rk.error());
  auto metadata = client::fetch_metadata(rk->get(), std::nullopt, inv.timeout());
  if (!metadata) return base::unexpected(metadata.error());
  auto info = describe_cluster(*metadata, inv.timeout());
  if (!info) return base::unexpected(info.error());
  if (versions) {
    auto rows = api_version_rows(*metadata, inv.timeout());
    if (!rows) return base::unexpected(rows.error());
    (*info)["api_versions"] = std::move(*rows);
  }
  print(*info, inv.format());
  return {};
}

void add_info(CLI::App& cluster, invocation& inv) {
  auto versions = std::make_shared<bool>(false);
  auto* cmd = cluster.add_subcommand("info", "Show the cluster id, controller and brokers");
  cmd->add_flag("--versions", *versions, "Also list the API versions each broker serves");
  cmd->footer(
      "Examples:\n"
      "  sluice cluster info\n"
      "  sluice cluster info --versions --format json");
  on_run(cmd, inv, [&inv, versions] { return cluster_info(inv, *versions); });
}

// --- health ---

base::result<void> cluster_health(const invocation& inv) {
  auto rk = connect_admin(inv);
  if (!rk) return base::unexpected(rk.error());
  auto metadata = client::fetch_metadata(rk->get(), std::nullopt, inv.timeout());
  if (!metadata) return base::unexpected(metadata.error());
  print(health_report(*metadata), inv.format());
  return {};
}

void add_health(CLI::App& cluster, invocation& inv) {
  auto* cmd = cluster.add_subcommand(
      "health", "Check for down brokers, offline and under-replicated partitions");
  cmd->footer(
      "The exit status is 0 either way: read HEALTHY (or .healthy in JSON).\n"
      "Examples:\n"
      "  sluice cluster health\n"
      "  sluice cluster health --format json | jq .healthy");
  on_run(cmd, inv, [&inv] { return cluster_health(inv); });
}

// --- config get / set ---

// Broker ids are never negative, so -1 stands for "not given".
constexpr int32_t no_broker = -1;

std::optional<int32_t> requested_broker(int32_t id) {
  return id == no_broker ? std::nullopt : std::optional<int32_t>(id);
}

struct config_get_options {
  std::vector<std::string> keys;
  int32_t broker = no_broker;
  bool non_default = false;
};

// Only `keys` of `entries` (all when empty); asking for one the broker does
// not have is an error, as it is most likely a typo.
base::result<std::vector<config_entry>> only_keys(std::vector<config_entry> entries,
                                                  const std::vector<std::string>& keys,
                                                  int32_t broker) {
  if (keys.empty()) return entries;
  std::vector<config_entry> out;
  for (const auto& key : keys) {
    auto found =
        std::find_if(entries.begin(), entries.end(), [&](const auto& e) { return e.name == key; });
    if (found == entries.end()) {
      return base::fail("broker " + std::to_string(broker) + " has no config \"" + key +
                        "\": sluice cluster config get lists them all");
    }
    out.push_back(*found);
  }
  return out;
}

// The broker a `config` command acts on, with the connection that found it.
struct target_broker {
  client::handle rk;
  client::cluster_metadata metadata;
  int32_t id = no_broker;
};

base::result<target_broker> find_target_broker(const invocation& inv, int32_t requested) {
  auto rk = connect_admin(inv);
  if (!rk) return base::unexpected(rk.error());
  auto metadata = client::fetch_metadata(rk->get(), std::nullopt, inv.timeout());
  if (!metadata) return base::unexpected(metadata.error());
  auto id = pick_broker(*metadata, requested_broker(requested));
  if (!id) return base::unexpected(id.error());
  return target_broker{std::move(*rk), std::move(*metadata), *id};
}

base::result<void> config_get(const invocation& inv, const config_get_options& o) {
  auto broker = find_target_broker(inv, o.broker);
  if (!broker) return base::unexpected(broker.error());
  auto entries = describe_configs(broker->rk.get(), config_resource_type::broker,
                                  std::to_string(broker->id), inv.timeout());
  if (!entries) return base::unexpected(entries.error());
  auto selected = only_keys(std::move(*entries), o.keys, broker->id);
  if (!selected) return base::unexpected(selected.error());
  print({{"broker", broker->id}, {"configs", config_rows(std::move(*selected), o.non_default)}},
        inv.format());
  return {};
}

void add_config_get(CLI::App& config, invocation& inv) {
  auto o = std::make_shared<config_get_options>();
  auto* cmd = config.add_subcommand("get", "Show a broker's configs and where each comes from");
  cmd->add_option("key", o->keys, "Config names (default: all)");
  cmd->add_option("--broker", o->broker, "Broker id (default: the controller)");
  cmd->add_flag("--non-default", o->non_default, "Only configs not at Kafka's default");
  cmd->footer(
      "Examples:\n"
      "  sluice cluster config get\n"
      "  sluice cluster config get log.retention.ms num.partitions --broker 2\n"
      "  sluice cluster config get --non-default --format json");
  on_run(cmd, inv, [&inv, o] { return config_get(inv, *o); });
}

struct config_set_options {
  std::vector<std::string> sets;
  std::vector<std::string> deletes;
  int32_t broker = no_broker;
  bool dry_run = false;
};

base::result<void> config_set(const invocation& inv, const config_set_options& o) {
  auto changes = parse_config_changes(o.sets, "setting", o.deletes);
  if (!changes) return base::unexpected(changes.error());
  auto broker = find_target_broker(inv, o.broker);
  if (!broker) return base::unexpected(broker.error());
  // A broker's own configs are altered on that broker (Kafka refuses them
  // elsewhere).
  auto connection = connect_broker(broker->metadata, broker->id, inv.timeout());
  if (!connection) return base::unexpected(connection.error());
  auto outcome = alter_configs(*connection, config_resource_type::broker,
                               std::to_string(broker->id), *changes, o.dry_run);
  const std::string what = "cannot change the configs of broker " + std::to_string(broker->id);
  if (!outcome) return base::fail(what + ": " + outcome.error().message);
  if (outcome->code != protocol::error_code::none) {
    return base::fail(what + ": " + outcome->text() +
                      " (sluice cluster config get shows the values and which are read-only)");
  }
  print({{"broker", broker->id}, {"dry_run", o.dry_run}, {"changes", change_rows(*changes)}},
        inv.format());
  return {};
}

void add_config_set(CLI::App& config, invocation& inv) {
  auto o = std::make_shared<config_set_options>();
  auto* cmd = config.add_subcommand(
      "set", "Set or delete a broker's dynamic configs, leaving the others as they are");
  cmd->add_option("setting", o->sets, "Config key=value to set");
  add_repeatable(cmd, "-d,--delete", o->deletes, "Config key to delete (repeatable)");
  cmd->add_option("--broker", o->broker, "Broker id (default: the controller)");
  cmd->add_flag("--dry-run", o->dry_run, "Let the broker validate the change, apply nothing");
  cmd->footer(
      "Examples:\n"
      "  sluice cluster config set log.retention.ms=86400000\n"
      "  sluice cluster config set num.partitions=6 --broker 2\n"
      "  sluice cluster config set --delete log.retention.ms");
  on_run(cmd, inv, [&inv, o] { return config_set(inv, *o); });
}

}  // namespace

void add_cluster_commands(CLI::App& root, invocation& inv) {
  auto* cluster = root.add_subcommand("cluster", "Inspect the cluster and its brokers' configs");
  cluster->require_subcommand(1);
  add_info(*cluster, inv);
  add_health(*cluster, inv);
  auto* config = cluster->add_subcommand("config", "Get and set broker configs");
  config->require_subcommand(1);
  add_config_get(*config, inv);
  add_config_set(*config, inv);
}

}  // namespace sluice::cli
