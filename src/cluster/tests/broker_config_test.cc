#include "cluster/broker_config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace sluice::cluster {
namespace {

broker_config load(const base::properties& file, const base::properties& overrides = {}) {
  auto loaded = load_broker_config(file, overrides);
  EXPECT_TRUE(loaded.ok()) << (loaded.ok() ? ""
                                           : loaded.error().key + ": " + loaded.error().message);
  EXPECT_TRUE(!loaded.ok() || loaded->warnings.empty());
  return loaded.ok() ? loaded->config : broker_config{};
}

config_error load_error(const base::properties& file) {
  auto loaded = load_broker_config(file, {});
  EXPECT_FALSE(loaded.ok());
  return loaded.ok() ? config_error{} : loaded.error();
}

const config_description& find(const std::vector<config_description>& all, std::string_view name) {
  auto it = std::find_if(all.begin(), all.end(), [&](const auto& d) { return d.name == name; });
  EXPECT_NE(it, all.end()) << name;
  static const config_description none;
  return it == all.end() ? none : *it;
}

TEST(BrokerConfig, Defaults) {
  broker_config c = load({});
  EXPECT_EQ(c.node_id, 1);
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.listeners[0], (endpoint{"PLAINTEXT", "127.0.0.1", 9092}));
  EXPECT_EQ(c.advertised_listeners, c.listeners);
  EXPECT_EQ(c.log_dirs, std::vector<std::string>{"./data"});
  EXPECT_EQ(c.num_partitions, 1);
  EXPECT_EQ(c.queued_max_request_bytes, -1);
  EXPECT_TRUE(c.explicit_values.empty());

  storage::log_config defaults;
  EXPECT_EQ(c.log_defaults.segment_bytes, defaults.segment_bytes);
  EXPECT_EQ(c.log_defaults.segment_ms, 7LL * 24 * 3600 * 1000);
  EXPECT_EQ(c.log_defaults.retention_ms, 7LL * 24 * 3600 * 1000);
  EXPECT_EQ(c.log_defaults.retention_bytes, -1);
  EXPECT_EQ(c.log_defaults.policy, storage::cleanup_policy::remove);
  EXPECT_EQ(c.log_defaults.flush_messages, storage::no_limit);
  EXPECT_EQ(c.log_defaults.flush_ms, storage::no_limit);
  EXPECT_TRUE(c.log_defaults.flush_on_acks_all);
  EXPECT_FALSE(c.log_defaults.log_append_time);
}

TEST(BrokerConfig, KafkaServerProperties) {
  auto file = base::parse_properties(
      "broker.id=3\n"
      "listeners=PLAINTEXT://:9092,internal://10.0.0.1:9093\n"
      "advertised.listeners=PLAINTEXT://broker3.example.com:9092\n"
      "num.network.threads=3\n"
      "num.io.threads=8\n"
      "socket.send.buffer.bytes=102400\n"
      "socket.receive.buffer.bytes=102400\n"
      "socket.request.max.bytes=104857600\n"
      "log.dirs=/var/lib/kafka/a, /var/lib/kafka/b\n"
      "num.partitions=6\n"
      "num.recovery.threads.per.data.dir=1\n"
      "offsets.topic.replication.factor=1\n"
      "transaction.state.log.replication.factor=1\n"
      "transaction.state.log.min.isr=1\n"
      "log.retention.hours=168\n"
      "log.segment.bytes=1073741824\n"
      "log.retention.check.interval.ms=300000\n"
      "zookeeper.connect=localhost:2181\n"
      "zookeeper.connection.timeout.ms=18000\n"
      "group.initial.rebalance.delay.ms=0\n"
      "process.roles=broker,controller\n"
      "controller.quorum.voters=1@localhost:9093\n"
      "controller.listener.names=CONTROLLER\n"
      "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT\n"
      "inter.broker.listener.name=PLAINTEXT\n");
  ASSERT_TRUE(file.ok());
  broker_config c = load(*file);
  EXPECT_EQ(c.node_id, 3);
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_EQ(c.listeners[0], (endpoint{"PLAINTEXT", "", 9092}));
  EXPECT_EQ(c.listeners[1], (endpoint{"INTERNAL", "10.0.0.1", 9093}));
  ASSERT_EQ(c.advertised_listeners.size(), 1u);
  EXPECT_EQ(c.advertised_listeners[0], (endpoint{"PLAINTEXT", "broker3.example.com", 9092}));
  EXPECT_EQ(c.log_dirs, (std::vector<std::string>{"/var/lib/kafka/a", "/var/lib/kafka/b"}));
  EXPECT_EQ(c.num_partitions, 6);
  EXPECT_EQ(c.num_recovery_threads_per_data_dir, 1);
  EXPECT_EQ(c.log_defaults.retention_ms, 168LL * 3600 * 1000);
  EXPECT_EQ(c.explicit_values.size(), file->size());
}

TEST(BrokerConfig, EveryActedOnKey) {
  broker_config c = load({
      {"node.id", "7"},
      {"default.replication.factor", "1"},
      {"auto.create.topics.enable", "false"},
      {"delete.topic.enable", "FALSE"},
      {"message.max.bytes", "2000000"},
      {"socket.request.max.bytes", "5000000"},
      {"queued.max.requests", "64"},
      {"queued.max.request.bytes", "100000000"},
      {"connections.max.idle.ms", "-1"},
      {"max.connections", "1000"},
      {"producer.id.expiration.ms", "3600000"},
      {"num.recovery.threads.per.data.dir", "4"},
      {"log.flush.scheduler.interval.ms", "250"},
      {"log.retention.check.interval.ms", "1000"},
      {"log.flush.offset.checkpoint.interval.ms", "5000"},
      {"log.cleaner.enable", "false"},
      {"log.cleaner.backoff.ms", "100"},
      {"log.cleaner.dedupe.buffer.size", "1048576"},
      {"log.segment.bytes", "1048576"},
      {"log.roll.ms", "60000"},
      {"log.index.size.max.bytes", "4096"},
      {"log.index.interval.bytes", "1024"},
      {"log.retention.bytes", "1000000"},
      {"log.cleanup.policy", "delete, compact"},
      {"log.cleaner.delete.retention.ms", "1000"},
      {"log.cleaner.min.cleanable.ratio", "0.25"},
      {"log.cleaner.min.compaction.lag.ms", "500"},
      {"log.flush.interval.messages", "1"},
      {"log.flush.interval.ms", "10"},
      {"log.flush.on.acks.all", "false"},
      {"log.message.timestamp.type", "LogAppendTime"},
  });
  EXPECT_EQ(c.node_id, 7);
  EXPECT_FALSE(c.auto_create_topics_enable);
  EXPECT_FALSE(c.delete_topic_enable);
  EXPECT_EQ(c.message_max_bytes, 2000000);
  EXPECT_EQ(c.socket_request_max_bytes, 5000000);
  EXPECT_EQ(c.queued_max_requests, 64);
  EXPECT_EQ(c.queued_max_request_bytes, 100000000);
  EXPECT_EQ(c.connections_max_idle_ms, -1);
  EXPECT_EQ(c.max_connections, 1000);
  EXPECT_EQ(c.producer_id_expiration_ms, 3600000);
  EXPECT_EQ(c.num_recovery_threads_per_data_dir, 4);
  EXPECT_EQ(c.log_flush_scheduler_interval_ms, 250);
  EXPECT_EQ(c.log_retention_check_interval_ms, 1000);
  EXPECT_EQ(c.log_flush_offset_checkpoint_interval_ms, 5000);
  EXPECT_FALSE(c.log_cleaner_enable);
  EXPECT_EQ(c.log_cleaner_backoff_ms, 100);
  EXPECT_EQ(c.log_cleaner_dedupe_buffer_size, 1048576);
  const storage::log_config& l = c.log_defaults;
  EXPECT_EQ(l.segment_bytes, 1048576u);
  EXPECT_EQ(l.segment_ms, 60000);
  EXPECT_EQ(l.segment_index_bytes, 4096u);
  EXPECT_EQ(l.index_interval_bytes, 1024u);
  EXPECT_EQ(l.retention_bytes, 1000000);
  EXPECT_EQ(l.policy, storage::cleanup_policy::compact_and_remove);
  EXPECT_EQ(l.delete_retention_ms, 1000);
  EXPECT_DOUBLE_EQ(l.min_cleanable_dirty_ratio, 0.25);
  EXPECT_EQ(l.min_compaction_lag_ms, 500);
  EXPECT_EQ(l.flush_messages, 1);
  EXPECT_EQ(l.flush_ms, 10);
  EXPECT_FALSE(l.flush_on_acks_all);
  EXPECT_TRUE(l.log_append_time);
}

TEST(BrokerConfig, OverridesWinOverTheFile) {
  broker_config c = load({{"num.partitions", "3"}, {"node.id", "2"}}, {{"num.partitions", "12"}});
  EXPECT_EQ(c.num_partitions, 12);
  EXPECT_EQ(c.node_id, 2);
  EXPECT_EQ(c.explicit_values.at("num.partitions"), "12");
}

TEST(BrokerConfig, BrokerIdIsASynonymOfNodeId) {
  EXPECT_EQ(load({{"broker.id", "5"}}).node_id, 5);
  EXPECT_EQ(load({{"node.id", "5"}}).node_id, 5);
  EXPECT_EQ(load({{"node.id", "5"}, {"broker.id", "5"}}).node_id, 5);
  auto e = load_error({{"node.id", "5"}, {"broker.id", "6"}});
  EXPECT_EQ(e.key, "broker.id");
  EXPECT_NE(e.message.find("node.id=5"), std::string::npos) << e.message;
  EXPECT_EQ(load_error({{"broker.id", "-1"}}).key, "broker.id");
}

TEST(BrokerConfig, LogDirsWinOverLogDir) {
  EXPECT_EQ(load({{"log.dir", "/a"}}).log_dirs, std::vector<std::string>{"/a"});
  EXPECT_EQ(load({{"log.dir", "/a"}, {"log.dirs", "/b,/c"}}).log_dirs,
            (std::vector<std::string>{"/b", "/c"}));
  EXPECT_EQ(load({{"log.dirs", " /b , ,/c "}}).log_dirs, (std::vector<std::string>{"/b", "/c"}));
  EXPECT_EQ(load_error({{"log.dirs", " , "}}).key, "log.dirs");
  EXPECT_EQ(load_error({{"log.dir", ""}}).key, "log.dir");
}

TEST(BrokerConfig, RetentionPrecedence) {
  constexpr int64_t hour = 3600 * 1000;
  EXPECT_EQ(load({{"log.retention.hours", "2"}}).log_defaults.retention_ms, 2 * hour);
  EXPECT_EQ(load({{"log.retention.minutes", "3"}}).log_defaults.retention_ms, 3 * 60 * 1000);
  EXPECT_EQ(load({{"log.retention.hours", "2"}, {"log.retention.minutes", "3"}})
                .log_defaults.retention_ms,
            3 * 60 * 1000);
  EXPECT_EQ(load({{"log.retention.hours", "2"},
                  {"log.retention.minutes", "3"},
                  {"log.retention.ms", "1234"}})
                .log_defaults.retention_ms,
            1234);
  EXPECT_EQ(
      load({{"log.retention.ms", "1234"}, {"log.retention.hours", "2"}}).log_defaults.retention_ms,
      1234);
  EXPECT_EQ(load({{"log.retention.hours", "-1"}}).log_defaults.retention_ms, -1);
  EXPECT_EQ(load({{"log.retention.minutes", "-1"}}).log_defaults.retention_ms, -1);
  EXPECT_EQ(load({{"log.retention.ms", "-1"}}).log_defaults.retention_ms, -1);
  // A value a synonym overrides is still checked.
  EXPECT_EQ(load_error({{"log.retention.ms", "1"}, {"log.retention.hours", "x"}}).key,
            "log.retention.hours");
  EXPECT_EQ(load_error({{"log.retention.ms", "-2"}}).key, "log.retention.ms");
}

TEST(BrokerConfig, RollPrecedence) {
  EXPECT_EQ(load({{"log.roll.hours", "1"}}).log_defaults.segment_ms, 3600 * 1000);
  EXPECT_EQ(load({{"log.roll.hours", "1"}, {"log.roll.ms", "500"}}).log_defaults.segment_ms, 500);
  EXPECT_EQ(load_error({{"log.roll.hours", "0"}}).key, "log.roll.hours");
  EXPECT_EQ(load_error({{"log.roll.ms", "0"}}).key, "log.roll.ms");
}

TEST(BrokerConfig, CleanupPolicies) {
  using storage::cleanup_policy;
  EXPECT_EQ(load({{"log.cleanup.policy", "delete"}}).log_defaults.policy, cleanup_policy::remove);
  EXPECT_EQ(load({{"log.cleanup.policy", "compact"}}).log_defaults.policy, cleanup_policy::compact);
  EXPECT_EQ(load({{"log.cleanup.policy", "compact,delete"}}).log_defaults.policy,
            cleanup_policy::compact_and_remove);
  EXPECT_EQ(load({{"log.cleanup.policy", " delete , compact "}}).log_defaults.policy,
            cleanup_policy::compact_and_remove);
  for (const char* bad : {"", "remove", "compact;delete", "compact,", "Delete"}) {
    auto e = load_error({{"log.cleanup.policy", bad}});
    EXPECT_EQ(e.key, "log.cleanup.policy") << bad;
    EXPECT_NE(e.message.find("expected delete, compact or compact,delete"), std::string::npos);
  }
}

TEST(BrokerConfig, UnknownKeysAreWarnedAboutByName) {
  auto loaded = load_broker_config({{"foo.bar", "1"}, {"num.io.threads", "4"}}, {{"baz", "2"}});
  ASSERT_TRUE(loaded.ok());
  ASSERT_EQ(loaded->warnings.size(), 2u);
  EXPECT_NE(loaded->warnings[0].find("'baz'"), std::string::npos);
  EXPECT_NE(loaded->warnings[1].find("'foo.bar'"), std::string::npos);
}

TEST(BrokerConfig, AcceptedKafkaKeysLoadWithoutWarnings) {
  base::properties kafka_keys = {
      {"num.network.threads", "3"},
      {"num.io.threads", "8"},
      {"socket.send.buffer.bytes", "-1"},
      {"socket.receive.buffer.bytes", "102400"},
      {"zookeeper.connect", "zk:2181/kafka"},
      {"group.initial.rebalance.delay.ms", "0"},
      {"offsets.topic.replication.factor", "1"},
      {"transaction.state.log.replication.factor", "1"},
      {"transaction.state.log.min.isr", "1"},
      {"process.roles", "broker,controller"},
      {"controller.quorum.voters", "1@localhost:9093"},
      {"controller.listener.names", "CONTROLLER"},
      {"listener.security.protocol.map", "PLAINTEXT:PLAINTEXT"},
      {"inter.broker.listener.name", "PLAINTEXT"},
      {"compression.type", "zstd"},
      {"min.insync.replicas", "2"},
      {"unclean.leader.election.enable", "true"},
      {"log.preallocate", "true"},
      {"log.roll.jitter.hours", "1"},
  };
  auto loaded = load_broker_config(kafka_keys, {});
  ASSERT_TRUE(loaded.ok()) << loaded.error().key;
  EXPECT_TRUE(loaded->warnings.empty());
  // Their values are reported as given.
  auto all = describe_broker_config(loaded->config);
  for (const auto& [key, value] : kafka_keys) {
    const auto& d = find(all, key);
    EXPECT_EQ(d.value, value) << key;
    EXPECT_EQ(d.source, config_source::static_broker) << key;
  }
  // And checked by type.
  EXPECT_EQ(load_error({{"num.io.threads", "many"}}).key, "num.io.threads");
  EXPECT_EQ(load_error({{"offsets.topic.replication.factor", "40000"}}).key,
            "offsets.topic.replication.factor");
  EXPECT_EQ(load_error({{"compression.type", "brotli"}}).key, "compression.type");
  EXPECT_EQ(load_error({{"min.insync.replicas", "0"}}).key, "min.insync.replicas");
}

TEST(BrokerConfig, InvalidValuesNameTheKeyAndWhatIsExpected) {
  struct bad_case {
    const char* key;
    const char* value;
    const char* says;
  };
  for (const auto& c : {
           bad_case{"node.id", "one", "is not an integer"},
           bad_case{"node.id", "-3", "out of range"},
           bad_case{"node.id", "2147483648", "out of range"},
           bad_case{"num.partitions", "-1", "expected an integer from 1 to 2147483647"},
           bad_case{"num.partitions", "0", "out of range"},
           bad_case{"num.partitions", "1.5", "is not an integer"},
           bad_case{"num.partitions", "", "is not an integer"},
           bad_case{"default.replication.factor", "40000", "from 1 to 32767"},
           bad_case{"auto.create.topics.enable", "yes", "expected true or false"},
           bad_case{"message.max.bytes", "-1", "out of range"},
           bad_case{"queued.max.request.bytes", "0", "expected -1"},
           bad_case{"queued.max.request.bytes", "-2", "out of range"},
           bad_case{"log.segment.bytes", "13", "expected an integer from 14"},
           bad_case{"log.segment.bytes", "99999999999", "out of range"},
           bad_case{"log.index.size.max.bytes", "3", "out of range"},
           bad_case{"log.retention.hours", "-2", "-1 means forever"},
           bad_case{"log.retention.bytes", "-5", "-1 means no limit"},
           bad_case{"log.cleaner.min.cleanable.ratio", "1.5", "from 0 to 1"},
           bad_case{"log.cleaner.min.cleanable.ratio", "half", "is not a number"},
           bad_case{"log.cleaner.min.cleanable.ratio", "nan", "is not a number"},
           bad_case{"log.flush.interval.messages", "0", "out of range"},
           bad_case{"log.flush.interval.ms", "-1", "out of range"},
           bad_case{"log.flush.on.acks.all", "1", "expected true or false"},
           bad_case{"log.message.timestamp.type", "createtime", "CreateTime or LogAppendTime"},
           bad_case{"listeners", "127.0.0.1:9092", "expected NAME://host:port"},
           bad_case{"listeners", "PLAINTEXT://host:99999", "out of range"},
           bad_case{"listeners", "", "no listener given"},
       }) {
    SCOPED_TRACE(std::string(c.key) + "=" + c.value);
    auto e = load_error({{c.key, c.value}});
    EXPECT_EQ(e.key, c.key);
    EXPECT_NE(e.message.find(c.says), std::string::npos) << e.message;
    EXPECT_NE(e.message.find("expected"), std::string::npos) << e.message;
  }
}

TEST(BrokerConfig, ValuesAreTrimmedAndLenientLikeKafka) {
  broker_config c = load({{"num.partitions", " 4 "},
                          {"auto.create.topics.enable", " True "},
                          {"message.max.bytes", "+100"}});
  EXPECT_EQ(c.num_partitions, 4);
  EXPECT_TRUE(c.auto_create_topics_enable);
  EXPECT_EQ(c.message_max_bytes, 100);
  auto all = describe_broker_config(c);
  EXPECT_EQ(find(all, "num.partitions").value, "4");
  EXPECT_EQ(find(all, "auto.create.topics.enable").value, "true");
}

TEST(Listeners, Parse) {
  auto l = parse_listeners("listeners",
                           "PLAINTEXT://127.0.0.1:9092, ext://[::1]:9093,any://:0,h://host.name:1");
  ASSERT_TRUE(l.ok()) << l.error().message;
  ASSERT_EQ(l->size(), 4u);
  EXPECT_EQ((*l)[0], (endpoint{"PLAINTEXT", "127.0.0.1", 9092}));
  EXPECT_EQ((*l)[1], (endpoint{"EXT", "::1", 9093}));
  EXPECT_EQ((*l)[2], (endpoint{"ANY", "", 0}));
  EXPECT_EQ((*l)[3], (endpoint{"H", "host.name", 1}));
}

TEST(Listeners, Errors) {
  for (const char* bad :
       {"PLAINTEXT:/host:1", "://host:1", "PLAINTEXT://host", "PLAINTEXT://::1:9",
        "PLAINTEXT://[::1]9092", "PLAINTEXT://host:", "PLAINTEXT://host:-1",
        "PLAINTEXT://host:65536", "PLAIN TEXT://host:1", "A://h:1,a://h:2", ",", ""}) {
    auto l = parse_listeners("advertised.listeners", bad);
    ASSERT_FALSE(l.ok()) << bad;
    EXPECT_EQ(l.error().key, "advertised.listeners");
    EXPECT_NE(l.error().message.find("expected"), std::string::npos) << l.error().message;
  }
}

TEST(Listeners, AdvertisedDefaultsToListeners) {
  broker_config c = load({{"listeners", "PLAINTEXT://0.0.0.0:0"}});
  EXPECT_EQ(c.advertised_listeners, c.listeners);
  auto all = describe_broker_config(c);
  EXPECT_EQ(find(all, "advertised.listeners").value, "PLAINTEXT://0.0.0.0:0");
  EXPECT_EQ(find(all, "advertised.listeners").source, config_source::default_value);
  EXPECT_EQ(find(all, "listeners").source, config_source::static_broker);
}

TEST(Listeners, AdvertisedMustNameListenersAndPorts) {
  auto e = load_error(
      {{"listeners", "PLAINTEXT://:9092"}, {"advertised.listeners", "OTHER://example.com:9092"}});
  EXPECT_EQ(e.key, "advertised.listeners");
  EXPECT_NE(e.message.find("OTHER"), std::string::npos);
  e = load_error({{"advertised.listeners", "PLAINTEXT://example.com:0"}});
  EXPECT_EQ(e.key, "advertised.listeners");
  EXPECT_NE(e.message.find("port 0"), std::string::npos);
  broker_config c = load({{"listeners", "PLAINTEXT://[::]:9092"},
                          {"advertised.listeners", "plaintext://[2001:db8::1]:19092"}});
  EXPECT_EQ(c.advertised_listeners[0], (endpoint{"PLAINTEXT", "2001:db8::1", 19092}));
  EXPECT_EQ(broker_config_value(c, "advertised.listeners"), "PLAINTEXT://[2001:db8::1]:19092");
}

TEST(DescribeBrokerConfig, DefaultsAreKafkaFormatted) {
  broker_config c = load({});
  auto all = describe_broker_config(c);
  std::set<std::string> names;
  for (const auto& d : all) {
    SCOPED_TRACE(d.name);
    EXPECT_TRUE(names.insert(d.name).second) << "listed twice";
    EXPECT_EQ(d.source, config_source::default_value);
    EXPECT_EQ(d.read_only, !is_dynamic_broker_config_key(d.name));
    EXPECT_FALSE(d.sensitive);
    EXPECT_FALSE(d.documentation.empty());
    // A value in force equals the key's own default.
    for (const auto& s : d.synonyms) {
      EXPECT_EQ(s.source, config_source::default_value);
      if (s.name == d.name) {
        EXPECT_EQ(d.value, s.value);
      }
    }
    EXPECT_EQ(broker_config_value(c, d.name), d.value.value_or(""));
  }
  EXPECT_EQ(find(all, "log.retention.ms").value, "604800000");
  EXPECT_EQ(find(all, "log.retention.ms").type, config_type::int64);
  EXPECT_EQ(find(all, "log.retention.hours").value, "168");
  EXPECT_EQ(find(all, "log.retention.minutes").value, std::nullopt);
  EXPECT_EQ(find(all, "log.cleanup.policy").value, "delete");
  EXPECT_EQ(find(all, "log.cleaner.min.cleanable.ratio").value, "0.5");
  EXPECT_EQ(find(all, "log.cleaner.min.cleanable.ratio").type, config_type::floating);
  EXPECT_EQ(find(all, "log.flush.on.acks.all").value, "true");
  EXPECT_EQ(find(all, "log.flush.interval.messages").value, "9223372036854775807");
  EXPECT_EQ(find(all, "listeners").value, "PLAINTEXT://127.0.0.1:9092");
  EXPECT_EQ(find(all, "log.dirs").value, "./data");
  EXPECT_EQ(find(all, "queued.max.request.bytes").value, "-1");
  EXPECT_EQ(find(all, "compression.type").value, "producer");
  EXPECT_EQ(find(all, "zookeeper.connect").value, std::nullopt);
  EXPECT_EQ(find(all, "num.io.threads").value, "8");
}

TEST(DescribeBrokerConfig, GivenKeysAreStaticWithSynonyms) {
  broker_config c = load({{"log.retention.hours", "1"}, {"log.segment.bytes", " 2048 "}});
  auto all = describe_broker_config(c);

  const auto& ms = find(all, "log.retention.ms");
  EXPECT_EQ(ms.value, "3600000");
  EXPECT_EQ(ms.source, config_source::static_broker);
  ASSERT_EQ(ms.synonyms.size(), 3u);
  EXPECT_EQ(ms.synonyms[0].name, "log.retention.hours");
  EXPECT_EQ(ms.synonyms[0].value, "1");
  EXPECT_EQ(ms.synonyms[0].source, config_source::static_broker);
  EXPECT_EQ(ms.synonyms[1].name, "log.retention.ms");
  EXPECT_EQ(ms.synonyms[1].source, config_source::default_value);
  EXPECT_EQ(ms.synonyms[2].name, "log.retention.hours");
  EXPECT_EQ(ms.synonyms[2].value, "168");
  EXPECT_EQ(ms.synonyms[2].source, config_source::default_value);

  const auto& hours = find(all, "log.retention.hours");
  EXPECT_EQ(hours.value, "1");
  EXPECT_EQ(hours.source, config_source::static_broker);

  const auto& minutes = find(all, "log.retention.minutes");
  EXPECT_EQ(minutes.value, std::nullopt);
  EXPECT_EQ(minutes.source, config_source::default_value);

  const auto& segment = find(all, "log.segment.bytes");
  EXPECT_EQ(segment.value, "2048");  // as Kafka prints it, not as given
  EXPECT_EQ(segment.source, config_source::static_broker);
  EXPECT_EQ(segment.type, config_type::int32);

  EXPECT_EQ(find(all, "num.partitions").source, config_source::default_value);
}

TEST(DescribeBrokerConfig, BrokerIdReportsNodeId) {
  broker_config c = load({{"broker.id", "9"}});
  auto all = describe_broker_config(c);
  EXPECT_EQ(find(all, "node.id").value, "9");
  EXPECT_EQ(find(all, "node.id").source, config_source::static_broker);
  EXPECT_EQ(find(all, "node.id").synonyms.front().name, "broker.id");
  EXPECT_EQ(find(all, "broker.id").value, "9");
}

TEST(DescribeBrokerConfig, SingleKey) {
  broker_config c = load({{"log.roll.jitter.hours", "2"}});
  EXPECT_EQ(broker_config_value(c, "nope"), std::nullopt);
  EXPECT_EQ(broker_config_value(c, "log.roll.jitter.ms"), "7200000");
  EXPECT_EQ(broker_config_value(c, "log.retention.minutes"), "");
  EXPECT_EQ(broker_config_value(c, "log.cleanup.policy"), "delete");
}

// --- Dynamic broker configs.

// The static config with dynamic layers, expecting no warnings.
broker_config layered(const broker_config& static_config, const base::properties& cluster_default,
                      const base::properties& per_broker = {}) {
  auto out = with_dynamic_configs(static_config, cluster_default, per_broker);
  EXPECT_TRUE(out.warnings.empty()) << out.warnings.front();
  return out.config;
}

TEST(DynamicBrokerConfig, OnlyTopicDefaultsAreDynamic) {
  for (std::string_view key : {"log.retention.ms",
                               "log.retention.minutes",
                               "log.retention.hours",
                               "log.retention.bytes",
                               "log.segment.bytes",
                               "log.roll.ms",
                               "log.roll.hours",
                               "log.cleanup.policy",
                               "log.flush.interval.messages",
                               "log.flush.interval.ms",
                               "log.index.interval.bytes",
                               "log.index.size.max.bytes",
                               "log.cleaner.delete.retention.ms",
                               "log.cleaner.min.cleanable.ratio",
                               "log.cleaner.min.compaction.lag.ms",
                               "log.message.timestamp.type",
                               "message.max.bytes",
                               "compression.type",
                               "min.insync.replicas",
                               "log.preallocate",
                               "log.flush.on.acks.all"}) {
    EXPECT_TRUE(is_dynamic_broker_config_key(key)) << key;
  }
  for (std::string_view key :
       {"node.id", "broker.id", "listeners", "advertised.listeners", "log.dirs", "num.partitions",
        "socket.request.max.bytes", "log.flush.scheduler.interval.ms", "log.cleaner.enable"}) {
    EXPECT_TRUE(is_broker_config_key(key)) << key;
    EXPECT_FALSE(is_dynamic_broker_config_key(key)) << key;
  }
  EXPECT_FALSE(is_broker_config_key("no.such.key"));
  EXPECT_FALSE(is_dynamic_broker_config_key("no.such.key"));
}

TEST(DynamicBrokerConfig, ValidationNamesWhatIsRefused) {
  using problem = dynamic_config_error::problem;
  EXPECT_TRUE(validate_dynamic_broker_configs({}).ok());
  EXPECT_TRUE(validate_dynamic_broker_configs(
                  {{"log.retention.ms", " 1000 "}, {"log.cleanup.policy", "compact,delete"}})
                  .ok());

  auto unknown = validate_dynamic_broker_configs({{"log.retention.ms", "1"}, {"no.such", "1"}});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().what, problem::unknown_key);
  EXPECT_EQ(unknown.error().message, "Unknown broker config name: no.such");

  auto fixed = validate_dynamic_broker_configs(
      {{"log.dirs", "/x"}, {"listeners", "PLAINTEXT://:1"}, {"log.retention.ms", "1"}});
  ASSERT_FALSE(fixed.ok());
  EXPECT_EQ(fixed.error().what, problem::not_dynamic);
  EXPECT_EQ(fixed.error().message,
            "Cannot update these configs dynamically: [listeners, log.dirs]");

  // The checks of static loading.
  for (auto [key, value] :
       std::vector<std::pair<std::string, std::string>>{{"log.retention.ms", "soon"},
                                                        {"log.segment.bytes", "13"},
                                                        {"log.cleanup.policy", "forever"},
                                                        {"log.cleaner.min.cleanable.ratio", "1.5"},
                                                        {"compression.type", "brotli"},
                                                        {"log.flush.on.acks.all", "maybe"},
                                                        {"message.max.bytes", "-1"}}) {
    SCOPED_TRACE(key);
    auto bad = validate_dynamic_broker_configs({{key, value}});
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().what, problem::invalid_value);
    EXPECT_TRUE(bad.error().message.starts_with("Invalid value " + value + " for configuration " +
                                                key + ": "))
        << bad.error().message;
    EXPECT_FALSE(load_broker_config({{key, value}}, {}).ok());
  }
}

TEST(DynamicBrokerConfig, TheMostSpecificLayerWins) {
  const broker_config file = load({{"log.retention.ms", "1000"}, {"compression.type", "lz4"}});
  EXPECT_EQ(layered(file, {}).log_defaults.retention_ms, 1000);

  broker_config c = layered(file, {{"log.retention.ms", "2000"}});
  EXPECT_EQ(c.log_defaults.retention_ms, 2000);
  c = layered(file, {{"log.retention.ms", "2000"}}, {{"log.retention.ms", "3000"}});
  EXPECT_EQ(c.log_defaults.retention_ms, 3000);
  // The static config is the base each time: a key no layer sets any more
  // goes back to the file's value.
  c = layered(file, {}, {});
  EXPECT_EQ(c.log_defaults.retention_ms, 1000);
  EXPECT_TRUE(c.dynamic_default_values.empty() && c.dynamic_broker_values.empty());

  // Fields and the keys only topics read alike.
  c = layered(file, {{"message.max.bytes", "2000000"}, {"compression.type", "gzip"}},
              {{"log.segment.bytes", "1048576"}, {"log.cleanup.policy", "compact"}});
  EXPECT_EQ(c.message_max_bytes, 2000000);
  EXPECT_EQ(c.log_defaults.segment_bytes, 1048576u);
  EXPECT_EQ(c.log_defaults.policy, storage::cleanup_policy::compact);
  EXPECT_EQ(broker_config_value(c, "compression.type"), "gzip");
  // Static keys are left alone.
  EXPECT_EQ(c.node_id, file.node_id);
  EXPECT_EQ(c.listeners, file.listeners);
}

TEST(DynamicBrokerConfig, SynonymsResolveAcrossLayersAsInKafka) {
  // Kafka merges the layers, then the most specific synonym wins: ms in the
  // file beats hours set dynamically.
  broker_config c =
      layered(load({{"log.retention.ms", "1000"}}), {}, {{"log.retention.hours", "2"}});
  EXPECT_EQ(c.log_defaults.retention_ms, 1000);
  c = layered(load({{"log.retention.hours", "1"}}), {{"log.retention.minutes", "5"}});
  EXPECT_EQ(c.log_defaults.retention_ms, 5 * 60 * 1000);
  c = layered(load({}), {{"log.roll.hours", "2"}});
  EXPECT_EQ(c.log_defaults.segment_ms, 2 * 60 * 60 * 1000);
  c = layered(load({}), {{"log.roll.jitter.hours", "1"}}, {});
  EXPECT_EQ(broker_config_value(c, "log.roll.jitter.ms"), "3600000");
  c = layered(load({{"log.roll.jitter.hours", "1"}}), {}, {{"log.roll.jitter.ms", "5"}});
  EXPECT_EQ(broker_config_value(c, "log.roll.jitter.ms"), "5");
}

TEST(DynamicBrokerConfig, DescribeReportsLayersAndSynonyms) {
  broker_config c = layered(load({{"log.retention.ms", "1000"}, {"compression.type", "lz4"}}),
                            {{"log.retention.ms", "2000"}, {"compression.type", "gzip"}},
                            {{"log.retention.hours", "3"}, {"log.retention.ms", "3000"}});
  auto all = describe_broker_config(c);

  const auto& ms = find(all, "log.retention.ms");
  EXPECT_EQ(ms.value, "3000");
  EXPECT_EQ(ms.source, config_source::dynamic_broker);
  EXPECT_FALSE(ms.read_only);
  std::vector<std::tuple<std::string, std::optional<std::string>, config_source>> synonyms;
  for (const auto& s : ms.synonyms) synonyms.emplace_back(s.name, s.value, s.source);
  const decltype(synonyms) expected = {
      {"log.retention.ms", "3000", config_source::dynamic_broker},
      {"log.retention.hours", "3", config_source::dynamic_broker},
      {"log.retention.ms", "2000", config_source::dynamic_default_broker},
      {"log.retention.ms", "1000", config_source::static_broker},
      {"log.retention.ms", "604800000", config_source::default_value},
      {"log.retention.hours", "168", config_source::default_value},
  };
  EXPECT_EQ(synonyms, expected);

  const auto& compression = find(all, "compression.type");
  EXPECT_EQ(compression.value, "gzip");
  EXPECT_EQ(compression.source, config_source::dynamic_default_broker);
  ASSERT_EQ(compression.synonyms.size(), 3u);
  EXPECT_EQ(compression.synonyms[1].value, "lz4");
  EXPECT_EQ(compression.synonyms[1].source, config_source::static_broker);

  EXPECT_TRUE(find(all, "log.dirs").read_only);
  EXPECT_EQ(find(all, "log.segment.bytes").source, config_source::default_value);
}

TEST(DynamicBrokerConfig, TheClusterDefaultResourceListsItsOwnKeysOnly) {
  broker_config c = layered(load({{"log.retention.ms", "1000"}}),
                            {{"log.retention.ms", " 2000 "}, {"log.cleanup.policy", "compact"}},
                            {{"log.retention.ms", "3000"}, {"message.max.bytes", "5000"}});
  auto defaults = describe_dynamic_broker_defaults(c);
  ASSERT_EQ(defaults.size(), 2u);
  EXPECT_EQ(defaults[0].name, "log.cleanup.policy");
  EXPECT_EQ(defaults[0].value, "compact");
  EXPECT_EQ(defaults[0].source, config_source::dynamic_default_broker);
  EXPECT_EQ(defaults[1].name, "log.retention.ms");
  EXPECT_EQ(defaults[1].value, "2000");  // as Kafka prints it, and not the broker's own 3000
  EXPECT_FALSE(defaults[1].read_only);
  for (const auto& s : defaults[1].synonyms) {
    EXPECT_NE(s.source, config_source::dynamic_broker) << s.name;
  }
  EXPECT_EQ(defaults[1].synonyms.front().source, config_source::dynamic_default_broker);
  EXPECT_TRUE(describe_dynamic_broker_defaults(load({})).empty());
}

TEST(DynamicBrokerConfig, StoredEntriesThatAreNoLongerValidAreIgnored) {
  auto out =
      with_dynamic_configs(load({}), {{"log.dirs", "/elsewhere"}, {"log.retention.ms", "1000"}},
                           {{"no.such.key", "1"}, {"log.segment.bytes", "tiny"}});
  EXPECT_EQ(out.warnings.size(), 3u);
  EXPECT_EQ(out.config.log_defaults.retention_ms, 1000);
  EXPECT_EQ(out.config.log_dirs, std::vector<std::string>{"./data"});
  EXPECT_EQ(out.config.dynamic_default_values, (base::properties{{"log.retention.ms", "1000"}}));
  EXPECT_TRUE(out.config.dynamic_broker_values.empty());
}

}  // namespace
}  // namespace sluice::cluster
