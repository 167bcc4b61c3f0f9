#include "cluster/topic_config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace sluice::cluster {
namespace {

const std::vector<std::string> all_topic_keys = {
    "cleanup.policy",
    "compression.type",
    "delete.retention.ms",
    "file.delete.delay.ms",
    "flush.messages",
    "flush.ms",
    "flush.on.acks.all",
    "index.interval.bytes",
    "max.compaction.lag.ms",
    "max.message.bytes",
    "message.downconversion.enable",
    "message.timestamp.after.max.ms",
    "message.timestamp.before.max.ms",
    "message.timestamp.difference.max.ms",
    "message.timestamp.type",
    "min.cleanable.dirty.ratio",
    "min.compaction.lag.ms",
    "min.insync.replicas",
    "preallocate",
    "retention.bytes",
    "retention.ms",
    "segment.bytes",
    "segment.index.bytes",
    "segment.jitter.ms",
    "segment.ms",
    "unclean.leader.election.enable",
};

broker_config load_broker(const base::properties& file) {
  auto loaded = load_broker_config(file, {});
  EXPECT_TRUE(loaded.ok()) << (loaded.ok() ? "" : loaded.error().message);
  return loaded.ok() ? loaded->config : broker_config{};
}

const config_description& find(const std::vector<config_description>& all, std::string_view name) {
  auto it = std::find_if(all.begin(), all.end(), [&](const auto& d) { return d.name == name; });
  EXPECT_NE(it, all.end()) << name;
  static const config_description none;
  return it == all.end() ? none : *it;
}

TEST(TopicConfig, KnownKeys) {
  for (const auto& key : all_topic_keys) EXPECT_TRUE(is_topic_config_key(key)) << key;
  for (const char* key : {"log.retention.ms", "message.max.bytes", "foo", "", "retention"}) {
    EXPECT_FALSE(is_topic_config_key(key)) << key;
  }
}

TEST(TopicConfig, ValidValues) {
  for (const auto& [key, value] : std::vector<std::pair<const char*, const char*>>{
           {"cleanup.policy", "compact"},
           {"cleanup.policy", "delete,compact"},
           {"compression.type", "producer"},
           {"compression.type", "uncompressed"},
           {"compression.type", "gzip"},
           {"compression.type", "snappy"},
           {"compression.type", "lz4"},
           {"compression.type", "zstd"},
           {"delete.retention.ms", "0"},
           {"file.delete.delay.ms", "60000"},
           {"flush.messages", "1"},
           {"flush.ms", "0"},
           {"flush.on.acks.all", "false"},
           {"index.interval.bytes", "0"},
           {"max.compaction.lag.ms", "1"},
           {"max.message.bytes", "0"},
           {"message.downconversion.enable", "true"},
           {"message.timestamp.after.max.ms", "0"},
           {"message.timestamp.before.max.ms", "9223372036854775807"},
           {"message.timestamp.difference.max.ms", "1000"},
           {"message.timestamp.type", "CreateTime"},
           {"message.timestamp.type", "LogAppendTime"},
           {"min.cleanable.dirty.ratio", "0"},
           {"min.cleanable.dirty.ratio", "1"},
           {"min.cleanable.dirty.ratio", "0.01"},
           {"min.compaction.lag.ms", "0"},
           {"min.insync.replicas", "1"},
           {"preallocate", "TRUE"},
           {"retention.bytes", "-1"},
           {"retention.ms", "-1"},
           {"retention.ms", "0"},
           {"segment.bytes", "14"},
           {"segment.index.bytes", "4"},
           {"segment.jitter.ms", "0"},
           {"segment.ms", "1"},
           {"unclean.leader.election.enable", "false"},
       }) {
    auto ok = validate_topic_config(key, value);
    EXPECT_TRUE(ok.ok()) << key << "=" << value << ": " << (ok.ok() ? "" : ok.error().message);
  }
}

TEST(TopicConfig, InvalidValuesNameTheKey) {
  for (const auto& [key, value] : std::vector<std::pair<const char*, const char*>>{
           {"cleanup.policy", "purge"},
           {"cleanup.policy", ""},
           {"compression.type", "brotli"},
           {"compression.type", "GZIP"},
           {"delete.retention.ms", "-1"},
           {"file.delete.delay.ms", "soon"},
           {"flush.messages", "0"},
           {"flush.ms", "-1"},
           {"flush.on.acks.all", "maybe"},
           {"index.interval.bytes", "-1"},
           {"max.compaction.lag.ms", "0"},
           {"max.message.bytes", "-1"},
           {"max.message.bytes", "2147483648"},
           {"message.downconversion.enable", "1"},
           {"message.timestamp.after.max.ms", "-1"},
           {"message.timestamp.before.max.ms", "9223372036854775808"},
           {"message.timestamp.difference.max.ms", "-5"},
           {"message.timestamp.type", "BrokerTime"},
           {"min.cleanable.dirty.ratio", "-0.1"},
           {"min.cleanable.dirty.ratio", "1.01"},
           {"min.cleanable.dirty.ratio", "inf"},
           {"min.compaction.lag.ms", "-1"},
           {"min.insync.replicas", "0"},
           {"preallocate", "no"},
           {"retention.bytes", "-2"},
           {"retention.ms", "-2"},
           {"retention.ms", "1h"},
           {"segment.bytes", "13"},
           {"segment.index.bytes", "3"},
           {"segment.jitter.ms", "-1"},
           {"segment.ms", "0"},
           {"unclean.leader.election.enable", ""},
       }) {
    SCOPED_TRACE(std::string(key) + "=" + value);
    auto e = validate_topic_config(key, value);
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.error().key, key);
    EXPECT_NE(e.error().message.find("expected"), std::string::npos) << e.error().message;
  }
}

TEST(TopicConfig, UnknownKey) {
  auto e = validate_topic_config("retention.hours", "1");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().key, "retention.hours");
  EXPECT_EQ(e.error().message, "Unknown topic config name: retention.hours");
  // Broker keys are not topic keys.
  EXPECT_FALSE(validate_topic_config("log.retention.ms", "1").ok());
}

TEST(TopicConfig, ValidateAllStopsAtTheFirstError) {
  EXPECT_TRUE(validate_topic_configs({}).ok());
  EXPECT_TRUE(validate_topic_configs({{"retention.ms", "1"}, {"cleanup.policy", "compact"}}).ok());
  auto e = validate_topic_configs({{"retention.ms", "1"}, {"segment.bytes", "1"}});
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().key, "segment.bytes");
}

TEST(TopicConfig, CompactionLagsMustBeOrdered) {
  EXPECT_TRUE(
      validate_topic_configs({{"min.compaction.lag.ms", "10"}, {"max.compaction.lag.ms", "10"}})
          .ok());
  auto e =
      validate_topic_configs({{"min.compaction.lag.ms", "11"}, {"max.compaction.lag.ms", "10"}});
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().key, "min.compaction.lag.ms");
  EXPECT_NE(e.error().message.find("max.compaction.lag.ms"), std::string::npos);
}

TEST(TopicConfig, LogConfigStartsFromTheBroker) {
  broker_config broker = load_broker({{"log.retention.hours", "1"},
                                      {"log.segment.bytes", "4096"},
                                      {"log.cleanup.policy", "compact"},
                                      {"log.flush.on.acks.all", "false"}});
  storage::log_config l = to_log_config({}, broker);
  EXPECT_EQ(l.retention_ms, 3600 * 1000);
  EXPECT_EQ(l.segment_bytes, 4096u);
  EXPECT_EQ(l.policy, storage::cleanup_policy::compact);
  EXPECT_FALSE(l.flush_on_acks_all);
  EXPECT_EQ(l.segment_ms, storage::log_config{}.segment_ms);
}

TEST(TopicConfig, OverridesMapOntoTheLogConfig) {
  broker_config broker = load_broker({});
  storage::log_config l = to_log_config(
      {
          {"cleanup.policy", "compact,delete"},
          {"delete.retention.ms", "11"},
          {"flush.messages", "12"},
          {"flush.ms", "13"},
          {"flush.on.acks.all", "false"},
          {"index.interval.bytes", "14"},
          {"message.timestamp.type", "LogAppendTime"},
          {"min.cleanable.dirty.ratio", "0.75"},
          {"min.compaction.lag.ms", "15"},
          {"retention.bytes", "16"},
          {"retention.ms", "17"},
          {"segment.bytes", "18"},
          {"segment.index.bytes", "19"},
          {"segment.ms", "20"},
          // Stored only: the log ignores them.
          {"compression.type", "zstd"},
          {"preallocate", "true"},
          {"not.a.key", "1"},
      },
      broker);
  EXPECT_EQ(l.policy, storage::cleanup_policy::compact_and_remove);
  EXPECT_EQ(l.delete_retention_ms, 11);
  EXPECT_EQ(l.flush_messages, 12);
  EXPECT_EQ(l.flush_ms, 13);
  EXPECT_FALSE(l.flush_on_acks_all);
  EXPECT_EQ(l.index_interval_bytes, 14u);
  EXPECT_TRUE(l.log_append_time);
  EXPECT_DOUBLE_EQ(l.min_cleanable_dirty_ratio, 0.75);
  EXPECT_EQ(l.min_compaction_lag_ms, 15);
  EXPECT_EQ(l.retention_bytes, 16);
  EXPECT_EQ(l.retention_ms, 17);
  EXPECT_EQ(l.segment_bytes, 18u);
  EXPECT_EQ(l.segment_index_bytes, 19u);
  EXPECT_EQ(l.segment_ms, 20);
}

TEST(TopicConfig, InvalidOverrideKeepsTheBrokerDefault) {
  broker_config broker = load_broker({{"log.segment.bytes", "4096"}});
  EXPECT_EQ(to_log_config({{"segment.bytes", "1"}}, broker).segment_bytes, 4096u);
}

TEST(TopicConfig, MaxMessageBytes) {
  broker_config broker = load_broker({{"message.max.bytes", "5000"}});
  EXPECT_EQ(max_message_bytes({}, broker), 5000);
  EXPECT_EQ(max_message_bytes({{"max.message.bytes", "100"}}, broker), 100);
  EXPECT_EQ(max_message_bytes({{"max.message.bytes", "junk"}}, broker), 5000);
  EXPECT_EQ(max_message_bytes({}, load_broker({})), 1048588);
}

TEST(DescribeTopicConfig, EveryKeyWithDefaults) {
  auto all = describe_topic_config({}, load_broker({}));
  ASSERT_EQ(all.size(), all_topic_keys.size());
  for (const auto& d : all) {
    SCOPED_TRACE(d.name);
    EXPECT_TRUE(is_topic_config_key(d.name));
    EXPECT_EQ(d.source, config_source::default_value);
    EXPECT_TRUE(d.value.has_value());
    EXPECT_FALSE(d.read_only);
    EXPECT_FALSE(d.sensitive);
    EXPECT_FALSE(d.documentation.empty());
    ASSERT_FALSE(d.synonyms.empty());
    EXPECT_EQ(d.synonyms.front().source, config_source::default_value);
    // The default's value is valid for the topic key itself.
    EXPECT_TRUE(validate_topic_config(d.name, *d.value).ok()) << *d.value;
  }
  EXPECT_EQ(find(all, "retention.ms").value, "604800000");
  EXPECT_EQ(find(all, "retention.ms").type, config_type::int64);
  EXPECT_EQ(find(all, "cleanup.policy").value, "delete");
  EXPECT_EQ(find(all, "cleanup.policy").type, config_type::list);
  EXPECT_EQ(find(all, "compression.type").value, "producer");
  EXPECT_EQ(find(all, "max.message.bytes").value, "1048588");
  EXPECT_EQ(find(all, "max.message.bytes").synonyms.front().name, "message.max.bytes");
  EXPECT_EQ(find(all, "min.insync.replicas").value, "1");
  EXPECT_EQ(find(all, "min.cleanable.dirty.ratio").value, "0.5");
  EXPECT_EQ(find(all, "message.timestamp.type").value, "CreateTime");
  EXPECT_EQ(find(all, "flush.on.acks.all").value, "true");
  EXPECT_EQ(find(all, "flush.messages").value, "9223372036854775807");
  EXPECT_EQ(find(all, "segment.bytes").value, "1073741824");
  EXPECT_EQ(find(all, "segment.jitter.ms").value, "0");
  EXPECT_EQ(find(all, "unclean.leader.election.enable").value, "false");
}

TEST(DescribeTopicConfig, StaticBrokerSynonyms) {
  broker_config broker = load_broker({{"log.retention.minutes", "30"},
                                      {"compression.type", "lz4"},
                                      {"message.max.bytes", "2000"}});
  auto all = describe_topic_config({}, broker);

  const auto& retention = find(all, "retention.ms");
  EXPECT_EQ(retention.value, "1800000");
  EXPECT_EQ(retention.source, config_source::static_broker);
  ASSERT_EQ(retention.synonyms.size(), 3u);
  EXPECT_EQ(retention.synonyms[0].name, "log.retention.minutes");
  EXPECT_EQ(retention.synonyms[0].value, "30");
  EXPECT_EQ(retention.synonyms[0].source, config_source::static_broker);
  EXPECT_EQ(retention.synonyms[1].name, "log.retention.ms");
  EXPECT_EQ(retention.synonyms[1].source, config_source::default_value);
  EXPECT_EQ(retention.synonyms[2].name, "log.retention.hours");
  EXPECT_EQ(retention.synonyms[2].source, config_source::default_value);

  const auto& compression = find(all, "compression.type");
  EXPECT_EQ(compression.value, "lz4");
  EXPECT_EQ(compression.source, config_source::static_broker);
  EXPECT_EQ(find(all, "max.message.bytes").value, "2000");
  EXPECT_EQ(find(all, "max.message.bytes").source, config_source::static_broker);
  EXPECT_EQ(find(all, "segment.bytes").source, config_source::default_value);
}

TEST(DescribeTopicConfig, TopicOverridesComeFirst) {
  broker_config broker = load_broker({{"log.retention.ms", "5000"}});
  auto all = describe_topic_config(
      {{"retention.ms", " 100 "}, {"cleanup.policy", "delete,compact"}, {"preallocate", "TRUE"}},
      broker);

  const auto& retention = find(all, "retention.ms");
  EXPECT_EQ(retention.value, "100");
  EXPECT_EQ(retention.source, config_source::topic);
  ASSERT_GE(retention.synonyms.size(), 3u);
  EXPECT_EQ(retention.synonyms[0].name, "retention.ms");
  EXPECT_EQ(retention.synonyms[0].value, "100");
  EXPECT_EQ(retention.synonyms[0].source, config_source::topic);
  EXPECT_EQ(retention.synonyms[1].name, "log.retention.ms");
  EXPECT_EQ(retention.synonyms[1].value, "5000");
  EXPECT_EQ(retention.synonyms[1].source, config_source::static_broker);
  EXPECT_EQ(retention.synonyms.back().name, "log.retention.hours");
  EXPECT_EQ(retention.synonyms.back().source, config_source::default_value);

  EXPECT_EQ(find(all, "cleanup.policy").value, "compact,delete");
  EXPECT_EQ(find(all, "cleanup.policy").source, config_source::topic);
  EXPECT_EQ(find(all, "preallocate").value, "true");
  EXPECT_EQ(find(all, "segment.ms").source, config_source::default_value);
}

// Every topic key's broker default may change at runtime (Kafka's
// DynamicLogConfig): the broker keys a topic describes as its synonyms.
TEST(DescribeTopicConfig, EveryBrokerDefaultIsDynamic) {
  for (const auto& d : describe_topic_config({}, load_broker({}))) {
    SCOPED_TRACE(d.name);
    ASSERT_FALSE(d.synonyms.empty());
    for (const auto& s : d.synonyms) EXPECT_TRUE(is_dynamic_broker_config_key(s.name)) << s.name;
  }
}

TEST(DescribeTopicConfig, DynamicBrokerConfigsAreInherited) {
  auto layered = with_dynamic_configs(
      load_broker({{"log.retention.ms", "5000"}}),
      {{"log.retention.ms", "6000"}, {"compression.type", "zstd"}, {"message.max.bytes", "3000"}},
      {{"log.retention.ms", "7000"}, {"log.segment.bytes", "1048576"}});
  ASSERT_TRUE(layered.warnings.empty());
  const broker_config& broker = layered.config;

  auto all = describe_topic_config({{"segment.bytes", "2097152"}}, broker);
  const auto& retention = find(all, "retention.ms");
  EXPECT_EQ(retention.value, "7000");
  EXPECT_EQ(retention.source, config_source::dynamic_broker);
  EXPECT_FALSE(retention.read_only);
  ASSERT_GE(retention.synonyms.size(), 4u);
  EXPECT_EQ(retention.synonyms[0].value, "7000");
  EXPECT_EQ(retention.synonyms[0].source, config_source::dynamic_broker);
  EXPECT_EQ(retention.synonyms[1].value, "6000");
  EXPECT_EQ(retention.synonyms[1].source, config_source::dynamic_default_broker);
  EXPECT_EQ(retention.synonyms[2].value, "5000");
  EXPECT_EQ(retention.synonyms[2].source, config_source::static_broker);

  EXPECT_EQ(find(all, "compression.type").value, "zstd");
  EXPECT_EQ(find(all, "compression.type").source, config_source::dynamic_default_broker);
  EXPECT_EQ(find(all, "max.message.bytes").value, "3000");
  EXPECT_EQ(find(all, "max.message.bytes").source, config_source::dynamic_default_broker);
  // The topic's own value still comes first.
  const auto& segment = find(all, "segment.bytes");
  EXPECT_EQ(segment.value, "2097152");
  EXPECT_EQ(segment.source, config_source::topic);
  EXPECT_EQ(segment.synonyms[1].source, config_source::dynamic_broker);

  // And the logs obey the same.
  storage::log_config log = to_log_config({{"segment.bytes", "2097152"}}, broker);
  EXPECT_EQ(log.retention_ms, 7000);
  EXPECT_EQ(log.segment_bytes, 2097152u);
  EXPECT_EQ(max_message_bytes({}, broker), 3000);
  EXPECT_EQ(max_message_bytes({{"max.message.bytes", "10"}}, broker), 10);
}

}  // namespace
}  // namespace sluice::cluster
