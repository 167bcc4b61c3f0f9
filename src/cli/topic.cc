// `sluice topic`: create, list, describe, delete, alter-config,
// add-partitions and trim, as Kafka's admin API offers them. librdkafka
// carries most calls; IncrementalAlterConfigs and DescribeLogDirs, which
// librdkafka 2.0.2 lacks, go through client::protocol_connection.

#include <algorithm>
#include <cstdio>
#include <memory>
#include <set>

#include "cli/admin.h"
#include "cli/command_families.h"
#include "client/admin_owners.h"
#include "protocol/messages/describe_log_dirs.h"

namespace sluice::cli {
namespace {

// What the cluster said about one topic of a CreateTopics, DeleteTopics or
// CreatePartitions request.
struct topic_outcome {
  std::string name;
  rd_kafka_resp_err_t error = RD_KAFKA_RESP_ERR_NO_ERROR;
  std::string detail;
};

std::vector<topic_outcome> outcomes_of(const rd_kafka_topic_result_t* const* results,
                                       size_t count) {
  std::vector<topic_outcome> out;
  for (size_t i = 0; i < count; ++i) {
    const char* detail = rd_kafka_topic_result_error_string(results[i]);
    out.push_back({rd_kafka_topic_result_name(results[i]), rd_kafka_topic_result_error(results[i]),
                   detail ? detail : ""});
  }
  return out;
}

// Lets the cluster take as long as the request may to finish the operation
// (topic creation spreading to every broker, ...), rather than librdkafka's
// 60 s default, which would outlive --timeout. librdkafka refuses values
// above an hour.
void wait_for_operation(rd_kafka_AdminOptions_t* options, std::chrono::milliseconds timeout) {
  char errstr[256];
  int ms = static_cast<int>(std::clamp<int64_t>(timeout.count(), 0, 3600 * 1000));
  rd_kafka_AdminOptions_set_operation_timeout(options, ms, errstr, sizeof errstr);
}

void set_validate_only(rd_kafka_AdminOptions_t* options, bool validate_only) {
  char errstr[256];
  rd_kafka_AdminOptions_set_validate_only(options, validate_only ? 1 : 0, errstr, sizeof errstr);
}

// Joins the failures of a multi-topic command into its one-line error.
base::result<void> fail_if_any(const std::vector<std::string>& failures) {
  if (failures.empty()) return {};
  std::string message;
  for (const auto& f : failures) message += (message.empty() ? "" : "; ") + f;
  return base::fail(message);
}

// A topic's replication factor: the size of its replica sets (the largest,
// should they differ, as Kafka allows with explicit assignments).
size_t replication_factor(const client::topic_info& topic) {
  size_t factor = 0;
  for (const auto& p : topic.partitions) factor = std::max(factor, p.replicas.size());
  return factor;
}

// Metadata of one topic, with the cluster's brokers; a missing topic is an
// error that says so.
base::result<client::cluster_metadata> topic_metadata(rd_kafka_t* rk, const std::string& topic,
                                                      std::chrono::milliseconds timeout) {
  auto metadata = client::fetch_metadata(rk, topic, timeout);
  if (!metadata) return metadata;
  auto found = std::find_if(metadata->topics.begin(), metadata->topics.end(),
                            [&](const auto& t) { return t.name == topic; });
  if (found == metadata->topics.end() || found->error == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
    return base::fail(no_such_topic(topic));
  }
  if (found->error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return base::fail("metadata of topic \"" + topic + "\": " + client::describe(found->error));
  }
  // Only this topic stays, so callers can take topics.front().
  client::topic_info info = std::move(*found);
  metadata->topics.assign(1, std::move(info));
  return metadata;
}

// --- create ---

struct create_options {
  std::vector<std::string> names;
  int partitions = -1;
  int replication_factor = -1;
  std::vector<std::string> configs;
  bool if_not_exists = false;
  bool dry_run = false;
};

base::result<std::vector<client::new_topic>> new_topics(const create_options& o) {
  auto configs = parse_key_values(o.configs, "--config");
  if (!configs) return base::unexpected(configs.error());
  std::vector<client::new_topic> out;
  for (const auto& name : o.names) {
    char errstr[512];
    client::new_topic topic(rd_kafka_NewTopic_new(name.c_str(), o.partitions, o.replication_factor,
                                                  errstr, sizeof errstr));
    if (!topic) return base::fail("cannot create topic \"" + name + "\": " + errstr);
    for (const auto& [key, value] : *configs) {
      rd_kafka_NewTopic_set_config(topic.get(), key.c_str(), value.c_str());
    }
    out.push_back(std::move(topic));
  }
  return out;
}

// -1 (the broker's default) is shown as null: unknown until created.
document requested(int value) { return value < 0 ? document(nullptr) : document(value); }

// A row of `topic create`: the topic's real partition count and replication
// factor where it exists (the broker picks them for -1), else those asked for.
document created_row(rd_kafka_t* rk, const std::string& name, const create_options& o,
                     const std::string& result, std::chrono::milliseconds timeout) {
  document row = {{"name", name},
                  {"partitions", requested(o.partitions)},
                  {"replication_factor", requested(o.replication_factor)},
                  {"result", result}};
  auto metadata = topic_metadata(rk, name, timeout);
  if (metadata && !metadata->topics.front().partitions.empty()) {
    row["partitions"] = metadata->topics.front().partitions.size();
    row["replication_factor"] = replication_factor(metadata->topics.front());
  }
  return row;
}

base::result<void> create_topics(const invocation& inv, const create_options& o) {
  auto topics = new_topics(o);
  if (!topics) return base::unexpected(topics.error());
  auto rk = connect_admin(inv);
  if (!rk) return base::unexpected(rk.error());
  std::vector<rd_kafka_NewTopic_t*> raw;
  for (const auto& t : *topics) raw.push_back(t.get());
  auto done = client::run_admin(
      rk->get(), RD_KAFKA_ADMIN_OP_CREATETOPICS, RD_KAFKA_EVENT_CREATETOPICS_RESULT, inv.timeout(),
      [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* q) {
        wait_for_operation(options, inv.timeout());
        set_validate_only(options, o.dry_run);
        rd_kafka_CreateTopics(rk->get(), raw.data(), raw.size(), options, q);
      });
  if (!done) return base::fail("cannot create topics: " + done.error().message);
  size_t count = 0;
  const auto* results =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(done->get()), &count);
  document rows = document::array();
  std::vector<std::string> failures;
  for (const auto& outcome : outcomes_of(results, count)) {
    bool exists = outcome.error == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS;
    if (outcome.error != RD_KAFKA_RESP_ERR_NO_ERROR && !(exists && o.if_not_exists)) {
      failures.push_back(topic_error("create", outcome.name, outcome.error, outcome.detail));
      continue;
    }
    std::string result = exists ? "exists" : o.dry_run ? "validated" : "created";
    rows.push_back(created_row(rk->get(), outcome.name, o, result, inv.timeout()));
  }
  if (!rows.empty()) print({{"topics", rows}}, inv.format());
  return fail_if_any(failures);
}

void add_create(CLI::App& topic, invocation& inv) {
  auto o = std::make_shared<create_options>();
  auto* cmd = topic.add_subcommand("create", "Create topics");
  cmd->add_option("name", o->names, "Topic names")->required();
  cmd->add_option("-p,--partitions", o->partitions,
                  "Partitions per topic (default: the broker's num.partitions)");
  cmd->add_option("-r,--replication-factor", o->replication_factor,
                  "Replicas per partition (default: the broker's default.replication.factor)");
  add_repeatable(cmd, "-c,--config", o->configs, "Topic config key=value (repeatable)");
  cmd->add_flag("--if-not-exists", o->if_not_exists, "Succeed when a topic already exists");
  cmd->add_flag("--dry-run", o->dry_run, "Let the cluster validate the request, create nothing");
  cmd->footer(
      "Examples:\n"
      "  sluice topic create orders -p 6 -r 3\n"
      "  sluice topic create audit -c cleanup.policy=compact -c retention.ms=-1\n"
      "  sluice topic create a b c --if-not-exists\n"
      "  sluice topic create big -p 64 --dry-run");
  on_run(cmd, inv, [&inv, o] { return create_topics(inv, *o); });
}

// --- list ---

base::result<void> list_topics(const invocation& inv, bool internal) {
  auto rk = connect_admin(inv);
  if (!rk) return base::unexpected(rk.error());
  auto metadata = client::fetch_metadata(rk->get(), std::nullopt, inv.timeout());
  if (!metadata) return base::unexpected(metadata.error());
  document rows = document::array();
  for (const auto& topic : metadata->topics) {
    if (!internal && is_internal_topic(topic.name)) continue;
    rows.push_back({{"name", topic.name},
                    {"partitions", topic.partitions.size()},
                    {"replication_factor", replication_factor(topic)}});
  }
  print({{"topics", rows}}, inv.format());
  return {};
}

void add_list(CLI::App& topic, invocation& inv) {
  auto internal = std::make_shared<bool>(false);
  auto* cmd = topic.add_subcommand("list", "List topics, sorted by name");
  cmd->alias("ls");
  cmd->add_flag("-i,--internal", *internal, "Include internal topics (names starting with __)");
  cmd->footer(
      "Examples:\n"
      "  sluice topic list\n"
      "  sluice topic list --internal --format json");
  on_run(cmd, inv, [&inv, internal] { return list_topics(inv, *internal); });
}

// --- describe ---

struct describe_options {
  std::vector<std::string> names;
  bool non_default = false;
};

// Broker `broker`'s DescribeLogDirs answer to `request`, added to `sizes`.
base::result<void> read_log_dirs(const client::cluster_metadata& metadata, int32_t broker,
                                 const protocol::describe_log_dirs_request& request,
                                 std::chrono::milliseconds timeout, replica_sizes& sizes) {
  auto connection = connect_broker(metadata, broker, timeout);
  if (!connection) return base::unexpected(connection.error());
  auto response = connection->call<protocol::describe_log_dirs_response>(request);
  if (!response) return base::unexpected(response.error());
  auto error = static_cast<protocol::error_code>(response->error_code);
  if (error != protocol::error_code::none) {
    return base::fail(std::string(protocol::error_name(error)));
  }
  for (const auto& dir : response->results) {
    // An offline directory (KAFKA_STORAGE_ERROR) reports nothing usable.
    if (dir.error_code != 0) continue;
    for (const auto& topic : dir.topics) {
      for (const auto& p : topic.partitions) {
        // A future replica is a copy being moved between directories; the
        // current one is the partition's size.
        if (!p.is_future_key) sizes[broker][{topic.name, p.partition_index}] += p.partition_size;
      }
    }
  }
  return {};
}

// The size of every replica of `topics` on the brokers holding them. Sizes
// are extra information: a broker that cannot say is reported on stderr and
// its replicas are left unknown rather than failing the description.
replica_sizes log_dir_sizes(const client::cluster_metadata& metadata,
                            const std::vector<client::topic_info>& topics,
                            std::chrono::milliseconds timeout) {
  protocol::describe_log_dirs_request request;
  request.topics.emplace();
  std::set<int32_t> holders;
  for (const auto& topic : topics) {
    auto& wanted = request.topics->emplace_back();
    wanted.topic = topic.name;
    for (const auto& p : topic.partitions) {
      wanted.partitions.push_back(p.id);
      holders.insert(p.replicas.begin(), p.replicas.end());
    }
  }
  replica_sizes sizes;
  for (int32_t broker : holders) {
    if (auto read = read_log_dirs(metadata, broker, request, timeout, sizes); !read) {
      std::fprintf(stderr, "warning: sizes on broker %d unknown: %s\n", broker,
                   read.error().message.c_str());
    }
  }
  return sizes;
}

document partition_rows(rd_kafka_t* rk, const client::topic_info& topic, const replica_sizes& sizes,
                        std::chrono::milliseconds timeout) {
  document rows = document::array();
  for (const auto& p : topic.partitions) {
    document start = nullptr;
    document end = nullptr;
    // A leaderless partition cannot answer; asking would only wait out the timeout.
    if (p.leader >= 0) {
      if (auto w = client::query_watermarks(rk, topic.name, p.id, timeout)) {
        start = w->low;
        end = w->high;
      }
    }
    auto size = partition_size(sizes, topic.name, p);
    rows.push_back({{"partition", p.id},
                    {"leader", p.leader},
                    {"replicas", p.replicas},
                    {"isr", p.isr},
                    {"start_offset", start},
                    {"end_offset", end},
                    {"size_bytes", size ? document(*size) : document(nullptr)}});
  }
  return rows;
}

base::result<document> describe_one(rd_kafka_t* rk, const client::topic_info& topic,
                                    const replica_sizes& sizes, const describe_options& o,
                                    std::chrono::milliseconds timeout) {
  auto configs = describe_configs(rk, config_resource_type::topic, topic.name, timeout);
  if (!configs) return base::unexpected(configs.error());
  document cleanup_policy = nullptr;
  for (const auto& c : *configs) {
    if (c.name == "cleanup.policy" && c.value) cleanup_policy = *c.value;
  }
  document partitions = partition_rows(rk, topic, sizes, timeout);
  // The sum of the sizes known, null when none is.
  document total = nullptr;
  for (const auto& p : partitions) {
    if (!p["size_bytes"].is_number()) continue;
    total = (total.is_null() ? 0 : total.get<int64_t>()) + p["size_bytes"].get<int64_t>();
  }
  return document{{"name", topic.name},
                  {"internal", is_internal_topic(topic.name)},
                  {"partition_count", topic.partitions.size()},
                  {"replication_factor", replication_factor(topic)},
                  {"cleanup_policy", cleanup_policy},
                  {"size_bytes", total},
                  {"partitions", partitions},
                  {"configs", config_rows(std::move(*configs), o.non_default)}};
}

base::result<void> describe_topics(const invocation& inv, const describe_options& o) {
  auto rk = connect_admin(inv);
  if (!rk) return base::unexpected(rk.error());
  client::cluster_metadata metadata;
  std::vector<client::topic_info> topics;
  for (const auto& name : o.names) {
    bool repeated =
        std::any_of(topics.begin(), topics.end(), [&](const auto& t) { return t.name == name; });
    if (repeated) continue;
    auto one = topic_metadata(rk->get(), name, inv.timeout());
    if (!one) return base::unexpected(one.error());
    topics.push_back(one->topics.front());
    metadata = std::move(*one);
  }
  auto sizes = log_dir_sizes(metadata, topics, inv.timeout());
  document described = document::array();
  for (const auto& topic : topics) {
    auto doc = describe_one(rk->get(), topic, sizes, o, inv.timeout());
    if (!doc) return base::unexpected(doc.error());
    described.push_back(std::move(*doc));
  }
  print({{"topics", described}}, inv.format());
  return {};
}

void add_describe(CLI::App& topic, invocation& inv) {
  auto o = std::make_shared<describe_options>();
  auto* cmd = topic.add_subcommand(
      "describe", "Show topics: summary, partitions (leaders, offsets, sizes) and configs");
  cmd->add_option("name", o->names, "Topic names")->required();
  cmd->add_flag(
      "--non-default", o->non_default,
      "Only configs that differ from Kafka's defaults (source other than DEFAULT_CONFIG)");
  cmd->footer(
      "Examples:\n"
      "  sluice topic describe orders\n"
      "  sluice topic describe orders payments --non-default\n"
      "  sluice topic describe orders --format json");
  on_run(cmd, inv, [&inv, o] { return describe_topics(inv, *o); });
}

// --- delete ---

base::result<void> delete_topics(const invocation& inv, const std::vector<std::string>& names,
                                 bool if_exists) {
  auto rk = connect_admin(inv);
  if (!rk) return base::unexpected(rk.error());
  std::vector<client::delete_topic> owners;
  std::vector<rd_kafka_DeleteTopic_t*> raw;
  for (const auto& name : names) {
    owners.emplace_back(rd_kafka_DeleteTopic_new(name.c_str()));
    raw.push_back(owners.back().get());
  }
  auto done = client::run_admin(
      rk->get(), RD_KAFKA_ADMIN_OP_DELETETOPICS, RD_KAFKA_EVENT_DELETETOPICS_RESULT, inv.timeout(),
      [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* q) {
        wait_for_operation(options, inv.timeout());
        rd_kafka_DeleteTopics(rk->get(), raw.data(), raw.size(), options, q);
      });
  if (!done) return base::fail("cannot delete topics: " + done.error().message);
  size_t count = 0;
  const auto* results =
      rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(done->get()), &count);
  document rows = document::array();
  std::vector<std::string> failures;
  for (const auto& outcome : outcomes_of(results, count)) {
    bool absent = outcome.error == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
    if (outcome.error == RD_KAFKA_RESP_ERR_NO_ERROR || (absent && if_exists)) {
      rows.push_back({{"name", outcome.name}, {"result", absent ? "absent" : "deleted"}});
    } else {
      failures.push_back(topic_error("delete", outcome.name, outcome.error, outcome.detail));
    }
  }
  if (!rows.empty()) print({{"topics", rows}}, inv.format());
  return fail_if_any(failures);
}

void add_delete(CLI::App& topic, invocation& inv) {
  auto names = std::make_shared<std::vector<std::string>>();
  auto if_exists = std::make_shared<bool>(false);
  auto* cmd = topic.add_subcommand("delete", "Delete topics and all their records");
  cmd->alias("rm");
  cmd->add_option("name", *names, "Topic names")->required();
  cmd->add_flag("--if-exists", *if_exists, "Succeed when a topic does not exist");
  cmd->footer(
      "Examples:\n"
      "  sluice topic delete orders\n"
      "  sluice topic delete a b c --if-exists");
  on_run(cmd, inv, [&inv, names, if_exists] { return delete_topics(inv, *names, *if_exists); });
}

// --- alter-config ---

struct alter_options {
  std::string name;
  std::vector<std::string> sets;
  std::vector<std::string> deletes;
  bool dry_run = false;
};

base::result<void> alter_topic_config(const invocation& inv, const alter_options& o) {
  auto changes = parse_config_changes(o.sets, "--set", o.deletes);
  if (!changes) return base::unexpected(changes.error());
  auto rk = connect_admin(inv);
  if (!rk) return base::unexpected(rk.error());
  auto metadata = topic_metadata(rk->get(), o.name, inv.timeout());
  if (!metadata) return base::unexpected(metadata.error());
  // Any broker takes a topic's configs; the controller applies them first.
  auto broker = pick_broker(*metadata, std::nullopt);
  if (!broker) return base::unexpected(broker.error());
  auto connection = connect_broker(*metadata, *broker, inv.timeout());
  if (!connection) return base::unexpected(connection.error());
  auto outcome =
      alter_configs(*connection, config_resource_type::topic, o.name, *changes, o.dry_run);
  if (!outcome) {
    return base::fail("cannot alter topic \"" + o.name + "\": " + outcome.error().message);
  }
  if (outcome->code == protocol::error_code::unknown_topic_or_partition) {
    return base::fail(no_such_topic(o.name));
  }
  if (outcome->code != protocol::error_code::none) {
    return base::fail("cannot alter the configs of topic \"" + o.name + "\": " + outcome->text() +
                      " (sluice topic describe " + o.name + " shows the current ones)");
  }
  print({{"topic", o.name}, {"dry_run", o.dry_run}, {"changes", change_rows(*changes)}},
        inv.format());
  return {};
}

void add_alter_config(CLI::App& topic, invocation& inv) {
  auto o = std::make_shared<alter_options>();
  auto* cmd = topic.add_subcommand("alter-config",
                                   "Set or delete topic configs, leaving the others as they are");
  cmd->add_option("name", o->name, "Topic name")->required();
  add_repeatable(cmd, "-s,--set", o->sets, "Config key=value to set (repeatable)");
  add_repeatable(cmd, "-d,--delete", o->deletes,
                 "Config key to delete, back to the broker's default (repeatable)");
  cmd->add_flag("--dry-run", o->dry_run, "Let the cluster validate the change, apply nothing");
  cmd->footer(
      "Examples:\n"
      "  sluice topic alter-config orders --set retention.ms=86400000\n"
      "  sluice topic alter-config orders --set cleanup.policy=compact --delete retention.ms\n"
      "  sluice topic alter-config orders --set segment.bytes=1048576 --dry-run");
  on_run(cmd, inv, [&inv, o] { return alter_topic_config(inv, *o); });
}

// --- add-partitions ---

struct add_partitions_options {
  std::string name;
  int total = 0;
  bool dry_run = false;
};

base::result<void> add_partitions(const invocation& inv, const add_partitions_options& o) {
  auto rk = connect_admin(inv);
  if (!rk) return base::unexpected(rk.error());
  auto metadata = topic_metadata(rk->get(), o.name, inv.timeout());
  if (!metadata) return base::unexpected(metadata.error());
  size_t current = metadata->topics.front().partitions.size();
  if (o.total <= static_cast<int64_t>(current)) {
    return base::fail("topic \"" + o.name + "\" already has " + std::to_string(current) +
                      " partitions: --total must be more (Kafka cannot remove partitions)");
  }
  char errstr[512];
  client::new_partitions request(rd_kafka_NewPartitions_new(
      o.name.c_str(), static_cast<size_t>(o.total), errstr, sizeof errstr));
  if (!request) return base::fail("cannot add partitions to topic \"" + o.name + "\": " + errstr);
  auto done = client::run_admin(rk->get(), RD_KAFKA_ADMIN_OP_CREATEPARTITIONS,
                                RD_KAFKA_EVENT_CREATEPARTITIONS_RESULT, inv.timeout(),
                                [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* q) {
                                  wait_for_operation(options, inv.timeout());
                                  set_validate_only(options, o.dry_run);
                                  rd_kafka_NewPartitions_t* raw[] = {request.get()};
                                  rd_kafka_CreatePartitions(rk->get(), raw, 1, options, q);
                                });
  if (!done) {
    return base::fail("cannot add partitions to topic \"" + o.name + "\": " + done.error().message);
  }
  size_t count = 0;
  const auto* results = rd_kafka_CreatePartitions_result_topics(
      rd_kafka_event_CreatePartitions_result(done->get()), &count);
  for (const auto& outcome : outcomes_of(results, count)) {
    if (outcome.error != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return base::fail(
          topic_error("add partitions to", outcome.name, outcome.error, outcome.detail));
    }
  }
  print({{"topic", o.name},
         {"partitions_before", current},
         {"partitions_after", o.total},
         {"dry_run", o.dry_run}},
        inv.format());
  return {};
}

void add_add_partitions(CLI::App& topic, invocation& inv) {
  auto o = std::make_shared<add_partitions_options>();
  auto* cmd = topic.add_subcommand("add-partitions", "Raise a topic's partition count");
  cmd->add_option("name", o->name, "Topic name")->required();
  cmd->add_option("-t,--total", o->total, "The partition count wanted (more than now)")->required();
  cmd->add_flag("--dry-run", o->dry_run, "Let the cluster validate the change, apply nothing");
  cmd->footer(
      "Keys hash to partitions by their count: adding partitions sends new records of a key\n"
      "to another partition than its older ones.\n"
      "Examples:\n"
      "  sluice topic add-partitions orders --total 12\n"
      "  sluice topic add-partitions orders --total 12 --dry-run");
  on_run(cmd, inv, [&inv, o] { return add_partitions(inv, *o); });
}

// --- trim ---

struct trim_options {
  std::string name;
  std::vector<int32_t> partitions;
  std::string offset;
};

std::string trim_error(const std::string& topic, int32_t partition, rd_kafka_resp_err_t error) {
  std::string message = "cannot trim partition " + std::to_string(partition) + " of topic \"" +
                        topic + "\": " + client::describe(error);
  if (error == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
    message += " (the offset is past the end: sluice topic describe " + topic +
               " shows END-OFFSET; use --offset end to empty it)";
  }
  return message;
}

base::result<void> trim_topic(const invocation& inv, const trim_options& o) {
  auto offset = parse_trim_offset(o.offset);
  if (!offset) return base::unexpected(offset.error());
  auto rk = connect_admin(inv);
  if (!rk) return base::unexpected(rk.error());
  auto metadata = topic_metadata(rk->get(), o.name, inv.timeout());
  if (!metadata) return base::unexpected(metadata.error());
  auto partitions = select_partitions(metadata->topics.front(), o.partitions);
  if (!partitions) return base::unexpected(partitions.error());
  client::partition_list before(
      rd_kafka_topic_partition_list_new(static_cast<int>(partitions->size())));
  for (int32_t p : *partitions) {
    rd_kafka_topic_partition_list_add(before.get(), o.name.c_str(), p)->offset = *offset;
  }
  client::delete_records request(rd_kafka_DeleteRecords_new(before.get()));
  auto done = client::run_admin(rk->get(), RD_KAFKA_ADMIN_OP_DELETERECORDS,
                                RD_KAFKA_EVENT_DELETERECORDS_RESULT, inv.timeout(),
                                [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* q) {
                                  wait_for_operation(options, inv.timeout());
                                  rd_kafka_DeleteRecords_t* raw[] = {request.get()};
                                  rd_kafka_DeleteRecords(rk->get(), raw, 1, options, q);
                                });
  if (!done) return base::fail("cannot trim topic \"" + o.name + "\": " + done.error().message);
  const auto* after =
      rd_kafka_DeleteRecords_result_offsets(rd_kafka_event_DeleteRecords_result(done->get()));
  document rows = document::array();
  std::vector<std::string> failures;
  for (int i = 0; i < after->cnt; ++i) {
    const auto& e = after->elems[i];
    if (e.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      failures.push_back(trim_error(o.name, e.partition, e.err));
    } else {
      rows.push_back({{"partition", e.partition}, {"start_offset", e.offset}});
    }
  }
  if (!rows.empty()) print({{"topic", o.name}, {"partitions", rows}}, inv.format());
  return fail_if_any(failures);
}

void add_trim(CLI::App& topic, invocation& inv) {
  auto o = std::make_shared<trim_options>();
  auto* cmd = topic.add_subcommand(
      "trim", "Delete the records before an offset (DeleteRecords); prints the new start offsets");
  cmd->add_option("name", o->name, "Topic name")->required();
  add_repeatable(cmd, "-p,--partition", o->partitions,
                 "Partition to trim (repeatable; default: all)");
  cmd->add_option("-o,--offset", o->offset,
                  "First offset to keep, or \"end\" to delete every record")
      ->required();
  cmd->footer(
      "Examples:\n"
      "  sluice topic trim orders --partition 0 --offset 1500\n"
      "  sluice topic trim orders --offset end");
  on_run(cmd, inv, [&inv, o] { return trim_topic(inv, *o); });
}

}  // namespace

void add_topic_commands(CLI::App& root, invocation& inv) {
  auto* topic = root.add_subcommand("topic", "Create, inspect, change and delete topics");
  topic->require_subcommand(1);
  add_create(*topic, inv);
  add_list(*topic, inv);
  add_describe(*topic, inv);
  add_delete(*topic, inv);
  add_alter_config(*topic, inv);
  add_add_partitions(*topic, inv);
  add_trim(*topic, inv);
}

}  // namespace sluice::cli
