#include <gtest/gtest.h>

#include "cli/admin.h"

namespace sluice::cli {
namespace {

client::partition_info partition(int32_t id, int32_t leader, std::vector<int32_t> replicas,
                                 std::vector<int32_t> isr) {
  client::partition_info p;
  p.id = id;
  p.leader = leader;
  p.replicas = std::move(replicas);
  p.isr = std::move(isr);
  return p;
}

client::cluster_metadata three_brokers() {
  client::cluster_metadata m;
  m.controller_id = 2;
  m.brokers = {{1, "k1", 9092}, {2, "k2", 9092}, {3, "::1", 9093}};
  return m;
}

TEST(ConfigChanges, SetsThenDeletesInOrder) {
  auto changes = parse_config_changes({"retention.ms=1000", "cleanup.policy=compact,delete"},
                                      "--set", {"segment.bytes"});
  ASSERT_TRUE(changes) << changes.error().message;
  ASSERT_EQ(changes->size(), 3u);
  EXPECT_EQ((*changes)[0].name, "retention.ms");
  EXPECT_EQ((*changes)[0].value, "1000");
  EXPECT_EQ((*changes)[1].value, "compact,delete");
  EXPECT_EQ((*changes)[2].name, "segment.bytes");
  EXPECT_EQ((*changes)[2].operation, config_operation::remove);
}

TEST(ConfigChanges, EmptyValueIsASet) {
  auto changes = parse_config_changes({"message.timestamp.type="}, "--set", {});
  ASSERT_TRUE(changes);
  EXPECT_EQ((*changes)[0].operation, config_operation::set);
  EXPECT_EQ((*changes)[0].value, "");
}

TEST(ConfigChanges, RejectsNothingDuplicatesAndMalformedEntries) {
  auto nothing = parse_config_changes({}, "--set", {});
  ASSERT_FALSE(nothing);
  EXPECT_EQ(nothing.error().message,
            "nothing to change: name a config to set (key=value) or to --delete");

  auto twice = parse_config_changes({"retention.ms=1"}, "--set", {"retention.ms"});
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().message, "config retention.ms is changed twice: give each key once");

  auto no_equals = parse_config_changes({"retention.ms"}, "--set", {});
  ASSERT_FALSE(no_equals);
  EXPECT_EQ(no_equals.error().message, "--set retention.ms: expected key=value");

  auto delete_with_value = parse_config_changes({}, "--set", {"retention.ms=1"});
  ASSERT_FALSE(delete_with_value);
  EXPECT_EQ(delete_with_value.error().message,
            "--delete retention.ms=1: expected a config name, without =value");
}

TEST(ConfigChanges, RowsShowDeletesWithoutValue) {
  auto rows = change_rows({{"a", config_operation::set, "1"}, {"b", config_operation::remove, ""}});
  EXPECT_EQ(rows.dump(), R"([{"name":"a","operation":"set","value":"1"},)"
                         R"({"name":"b","operation":"delete","value":null}])");
}

TEST(ConfigRows, SortedAndFilteredByDefaultness) {
  std::vector<config_entry> entries = {
      {"segment.bytes", "1024", "DYNAMIC_TOPIC_CONFIG", false, false},
      {"cleanup.policy", "delete", "DEFAULT_CONFIG", false, false},
      {"ssl.key.password", std::nullopt, "STATIC_BROKER_CONFIG", false, true},
  };
  auto all = config_rows(entries, false);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0]["name"], "cleanup.policy");
  EXPECT_EQ(all[1]["name"], "segment.bytes");
  EXPECT_TRUE(all[2]["value"].is_null());
  EXPECT_EQ(all[2]["sensitive"], true);

  auto non_default = config_rows(entries, true);
  ASSERT_EQ(non_default.size(), 2u);
  EXPECT_EQ(non_default[0]["name"], "segment.bytes");
  EXPECT_EQ(non_default[0].dump(),
            R"({"name":"segment.bytes","value":"1024","source":"DYNAMIC_TOPIC_CONFIG",)"
            R"("read_only":false,"sensitive":false})");
}

TEST(TrimOffset, NumberOrEnd) {
  EXPECT_EQ(*parse_trim_offset("end"), RD_KAFKA_OFFSET_END);
  EXPECT_EQ(*parse_trim_offset("0"), 0);
  EXPECT_EQ(*parse_trim_offset("1500"), 1500);
  for (const char* bad : {"-3", "abc", "12x", "", "END"}) {
    auto offset = parse_trim_offset(bad);
    ASSERT_FALSE(offset) << bad;
    EXPECT_EQ(offset.error().message,
              std::string("--offset ") + bad + ": expected an offset (0 or more) or \"end\"");
  }
}

TEST(SelectPartitions, AllByDefaultElseTheKnownOnesSorted) {
  client::topic_info topic{
      "orders",
      RD_KAFKA_RESP_ERR_NO_ERROR,
      {partition(0, 1, {1}, {1}), partition(1, 1, {1}, {1}), partition(2, 1, {1}, {1})}};
  EXPECT_EQ(*select_partitions(topic, {}), (std::vector<int32_t>{0, 1, 2}));
  EXPECT_EQ(*select_partitions(topic, {2, 0, 2}), (std::vector<int32_t>{0, 2}));
  auto unknown = select_partitions(topic, {1, 3});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message,
            "topic \"orders\" has no partition 3: it has 3, numbered from 0");
}

TEST(PartitionSize, LeaderFirstThenLargestReplica) {
  replica_sizes sizes;
  sizes[1][{"t", 0}] = 100;
  sizes[2][{"t", 0}] = 120;
  sizes[3][{"t", 0}] = 90;
  EXPECT_EQ(partition_size(sizes, "t", partition(0, 1, {1, 2, 3}, {1, 2, 3})), 100);
  // No leader, or the leader did not answer: the largest replica.
  EXPECT_EQ(partition_size(sizes, "t", partition(0, -1, {1, 2, 3}, {})), 120);
  EXPECT_EQ(partition_size(sizes, "t", partition(0, 4, {1, 3, 4}, {4})), 100);
  EXPECT_EQ(partition_size(sizes, "t", partition(1, 1, {1}, {1})), std::nullopt);
  EXPECT_EQ(partition_size(sizes, "other", partition(0, 1, {1}, {1})), std::nullopt);
}

TEST(Brokers, AddressesBracketIpv6) {
  auto m = three_brokers();
  EXPECT_EQ(broker_address(m, 1), "k1:9092");
  EXPECT_EQ(broker_address(m, 3), "[::1]:9093");
  EXPECT_EQ(broker_address(m, 9), std::nullopt);
}

TEST(Brokers, PickTheRequestedElseTheControllerElseTheLowest) {
  auto m = three_brokers();
  EXPECT_EQ(*pick_broker(m, 3), 3);
  EXPECT_EQ(*pick_broker(m, std::nullopt), 2);
  m.controller_id = -1;
  EXPECT_EQ(*pick_broker(m, std::nullopt), 1);
  auto unknown = pick_broker(m, 7);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message,
            "broker 7 is not in the cluster (brokers: 1,2,3): see sluice cluster info");
  EXPECT_FALSE(pick_broker(client::cluster_metadata{}, std::nullopt));
}

TEST(Health, HealthyCluster) {
  auto m = three_brokers();
  m.topics = {{"t", RD_KAFKA_RESP_ERR_NO_ERROR, {partition(0, 1, {1, 2}, {2, 1})}}};
  EXPECT_EQ(health_report(m).dump(),
            R"({"healthy":true,"controller":2,"brokers_up":[1,2,3],"brokers_down":[],)"
            R"("offline_partitions":[],"under_replicated_partitions":[]})");
}

TEST(Health, ReportsDownBrokersOfflineAndUnderReplicatedPartitions) {
  auto m = three_brokers();
  m.topics = {{"a",
               RD_KAFKA_RESP_ERR_NO_ERROR,
               {partition(0, -1, {4}, {}), partition(1, 1, {1, 2, 3}, {1, 2})}},
              {"b", RD_KAFKA_RESP_ERR_NO_ERROR, {partition(0, 2, {2, 5}, {2})}}};
  auto report = health_report(m);
  EXPECT_EQ(report["healthy"], false);
  EXPECT_EQ(report["brokers_down"].dump(), "[4,5]");
  EXPECT_EQ(report["offline_partitions"].dump(), R"([{"topic":"a","partition":0,"replicas":[4]}])");
  EXPECT_EQ(report["under_replicated_partitions"].dump(),
            R"([{"topic":"a","partition":1,"leader":1,"replicas":[1,2,3],"isr":[1,2]},)"
            R"({"topic":"b","partition":0,"leader":2,"replicas":[2,5],"isr":[2]}])");
}

TEST(Health, NoControllerIsUnhealthy) {
  auto m = three_brokers();
  m.controller_id = -1;
  auto report = health_report(m);
  EXPECT_EQ(report["healthy"], false);
  EXPECT_TRUE(report["controller"].is_null());
}

TEST(TopicErrors, SayWhatWentWrongAndWhatToDo) {
  EXPECT_EQ(topic_error("delete", "x", RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, ""),
            "topic \"x\" does not exist: see sluice topic list");
  EXPECT_EQ(topic_error("create", "x", RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS, "exists"),
            "topic \"x\" already exists: add --if-not-exists to accept that");
  EXPECT_EQ(topic_error("create", "x", RD_KAFKA_RESP_ERR_INVALID_CONFIG, "Unknown config nope"),
            "cannot create topic \"x\": INVALID_CONFIG: Unknown config nope "
            "(sluice topic describe TOPIC lists the valid config names)");
  EXPECT_EQ(topic_error("create", "x", RD_KAFKA_RESP_ERR_INVALID_PARTITIONS, ""),
            std::string("cannot create topic \"x\": INVALID_PARTITIONS: ") +
                rd_kafka_err2str(RD_KAFKA_RESP_ERR_INVALID_PARTITIONS));
}

TEST(Topics, InternalByPrefix) {
  EXPECT_TRUE(is_internal_topic("__consumer_offsets"));
  EXPECT_FALSE(is_internal_topic("_schemas"));
  EXPECT_FALSE(is_internal_topic("orders"));
}

}  // namespace
}  // namespace sluice::cli
