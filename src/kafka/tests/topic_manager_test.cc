#include "kafka/topic_manager.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>

namespace sluice::kafka {
namespace {

namespace fs = std::filesystem;
using protocol::error_code;

class TopicManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sluice-topic-manager-" + std::to_string(std::random_device{}()));
    config_.log_dirs = {dir_.string()};
    config_.num_partitions = 2;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<topic_manager> open() {
    auto opened = topic_manager::open(config_, 2);
    EXPECT_TRUE(opened.ok()) << (opened.ok() ? "" : opened.error().message);
    return opened.ok() ? std::move(*opened) : nullptr;
  }

  static error_code create_error(topic_manager& topics, const std::string& name,
                                 int32_t partitions = 1, int16_t replication = 1,
                                 const base::properties& configs = {}) {
    auto created = topics.create_topic(name, partitions, replication, configs, false);
    return created.ok() ? error_code::none : created.error().code;
  }

  fs::path dir_;
  cluster::broker_config config_;
};

TEST_F(TopicManagerTest, CreatedTopicsSurviveARestart) {
  base::uuid id;
  {
    auto topics = open();
    auto created = topics->create_topic("orders", 3, 1, {{"retention.ms", "1000"}}, false);
    ASSERT_TRUE(created.ok());
    id = (*created)->id;
    EXPECT_FALSE(id.is_zero());
    ASSERT_NE(topics->image()->find("orders", 2), nullptr);
    EXPECT_EQ(topics->image()->find("orders", 3), nullptr);
    ASSERT_TRUE(topics->close().ok());
  }
  auto topics = open();
  const topic_info* topic = topics->image()->find("orders");
  ASSERT_NE(topic, nullptr);
  EXPECT_EQ(topic->id, id);
  EXPECT_EQ(topic->partitions.size(), 3u);
  EXPECT_EQ(topic->log_config.retention_ms, 1000);
  EXPECT_EQ(topic->partitions[1]->log->config().retention_ms, 1000);
  EXPECT_EQ(topics->image()->find(id), topic);
}

TEST_F(TopicManagerTest, DefaultsComeFromTheBroker) {
  auto topics = open();
  auto created = topics->create_topic("defaults", -1, -1, {}, false);
  ASSERT_TRUE(created.ok());
  EXPECT_EQ((*created)->partitions.size(), 2u);
  EXPECT_EQ((*created)->replication_factor, 1);
}

TEST_F(TopicManagerTest, RefusesWhatKafkaRefuses) {
  auto topics = open();
  EXPECT_EQ(create_error(*topics, "bad name"), error_code::invalid_topic_exception);
  EXPECT_EQ(create_error(*topics, std::string(250, 'a')), error_code::invalid_topic_exception);
  EXPECT_EQ(create_error(*topics, "t", 0), error_code::invalid_partitions);
  EXPECT_EQ(create_error(*topics, "t", 1, 3), error_code::invalid_replication_factor);
  EXPECT_EQ(create_error(*topics, "t", 1, 1, {{"retention.ms", "soon"}}),
            error_code::invalid_config);
  EXPECT_EQ(create_error(*topics, "t", 1, 1, {{"no.such.key", "1"}}), error_code::invalid_config);
  ASSERT_EQ(create_error(*topics, "a.b"), error_code::none);
  EXPECT_EQ(create_error(*topics, "a.b"), error_code::topic_already_exists);
  // '.' and '_' collide in metric names.
  EXPECT_EQ(create_error(*topics, "a_b"), error_code::invalid_topic_exception);
}

TEST_F(TopicManagerTest, ValidateOnlyCreatesNothing) {
  auto topics = open();
  auto checked = topics->create_topic("dry", 4, 1, {}, true);
  ASSERT_TRUE(checked.ok());
  EXPECT_EQ((*checked)->partition_count, 4);
  EXPECT_EQ(topics->image()->find("dry"), nullptr);
  EXPECT_FALSE(fs::exists(dir_ / "dry-0"));
}

TEST_F(TopicManagerTest, DeletedTopicsAreGoneForGood) {
  {
    auto topics = open();
    ASSERT_EQ(create_error(*topics, "gone", 2), error_code::none);
    ASSERT_TRUE(topics->delete_topic("gone").ok());
    EXPECT_EQ(topics->image()->find("gone"), nullptr);
    auto again = topics->delete_topic("gone");
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.error().code, error_code::unknown_topic_or_partition);
    ASSERT_TRUE(topics->close().ok());
  }
  EXPECT_FALSE(fs::exists(dir_ / "gone-0"));
  auto topics = open();
  EXPECT_EQ(topics->image()->find("gone"), nullptr);
  // The name is free again.
  EXPECT_EQ(create_error(*topics, "gone"), error_code::none);
}

TEST_F(TopicManagerTest, DeletionCanBeDisabled) {
  config_.delete_topic_enable = false;
  auto topics = open();
  ASSERT_EQ(create_error(*topics, "kept"), error_code::none);
  auto deleted = topics->delete_topic("kept");
  ASSERT_FALSE(deleted.ok());
  EXPECT_EQ(deleted.error().code, error_code::topic_deletion_disabled);
}

TEST_F(TopicManagerTest, PartitionsOnlyGrow) {
  auto topics = open();
  ASSERT_EQ(create_error(*topics, "grow", 1), error_code::none);
  partition* first = topics->image()->find("grow", 0);
  auto lower = topics->create_partitions("grow", 1, false);
  ASSERT_FALSE(lower.ok());
  EXPECT_EQ(lower.error().code, error_code::invalid_partitions);
  ASSERT_TRUE(topics->create_partitions("grow", 3, false).ok());
  EXPECT_NE(topics->image()->find("grow", 2), nullptr);
  // The existing partition is the same object: its waiters and producer state stay.
  EXPECT_EQ(topics->image()->find("grow", 0), first);
  auto unknown = topics->create_partitions("nope", 3, false);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, error_code::unknown_topic_or_partition);
}

TEST_F(TopicManagerTest, ConfigChangesReachTheLogs) {
  auto topics = open();
  ASSERT_EQ(create_error(*topics, "conf"), error_code::none);
  ASSERT_TRUE(topics->set_topic_configs("conf", {{"segment.bytes", "1048576"}}, false).ok());
  EXPECT_EQ(topics->image()->find("conf", 0)->log->config().segment_bytes, 1048576u);
  auto invalid = topics->set_topic_configs("conf", {{"segment.bytes", "-5"}}, false);
  ASSERT_FALSE(invalid.ok());
  EXPECT_EQ(invalid.error().code, error_code::invalid_config);
  EXPECT_EQ(topics->image()->find("conf")->configs.at("segment.bytes"), "1048576");
}

TEST_F(TopicManagerTest, DynamicBrokerConfigsReachTopicsWithoutOverrides) {
  auto topics = open();
  ASSERT_EQ(create_error(*topics, "plain", 2), error_code::none);
  ASSERT_EQ(create_error(*topics, "own", 1, 1, {{"retention.ms", "1000"}}), error_code::none);
  partition* plain_0 = topics->image()->find("plain", 0);

  ASSERT_TRUE(topics
                  ->set_broker_configs("1",
                                       {{"log.retention.ms", "5000"},
                                        {"message.max.bytes", "2000"},
                                        {"log.segment.bytes", "1048576"}},
                                       false)
                  .ok());
  const topic_info* plain = topics->image()->find("plain");
  EXPECT_EQ(plain->log_config.retention_ms, 5000);
  EXPECT_EQ(plain->max_message_bytes, 2000);
  for (const auto& p : plain->partitions) {
    EXPECT_EQ(p->log->config().retention_ms, 5000);
    EXPECT_EQ(p->log->config().segment_bytes, 1048576u);
  }
  // The partitions are the same objects: their logs and producer state stay.
  EXPECT_EQ(topics->image()->find("plain", 0), plain_0);
  const topic_info* own = topics->image()->find("own");
  EXPECT_EQ(own->log_config.retention_ms, 1000);
  EXPECT_EQ(own->partitions[0]->log->config().retention_ms, 1000);
  EXPECT_EQ(own->log_config.segment_bytes, 1048576u);

  // The cluster-wide default is below the broker's own.
  ASSERT_TRUE(topics->set_broker_configs("", {{"log.retention.ms", "7000"}}, false).ok());
  EXPECT_EQ(topics->image()->find("plain")->log_config.retention_ms, 5000);
  ASSERT_TRUE(topics->set_broker_configs("1", {}, false).ok());
  plain = topics->image()->find("plain");
  EXPECT_EQ(plain->log_config.retention_ms, 7000);
  EXPECT_EQ(plain->max_message_bytes, config_.message_max_bytes);
  EXPECT_EQ(plain->partitions[1]->log->config().segment_bytes, config_.log_defaults.segment_bytes);

  // New topics start from the config in force.
  ASSERT_EQ(create_error(*topics, "later"), error_code::none);
  EXPECT_EQ(topics->image()->find("later", 0)->log->config().retention_ms, 7000);

  auto effective = topics->effective_broker_config();
  EXPECT_EQ(effective->dynamic_default_values, (base::properties{{"log.retention.ms", "7000"}}));
  EXPECT_TRUE(effective->dynamic_broker_values.empty());
  EXPECT_EQ(effective->log_defaults.retention_ms, 7000);
}

TEST_F(TopicManagerTest, DynamicBrokerConfigsAreCheckedAsKafkaChecksThem) {
  auto topics = open();
  ASSERT_EQ(create_error(*topics, "t"), error_code::none);
  auto refused = [&](const std::string& scope, const base::properties& configs) {
    auto set = topics->set_broker_configs(scope, configs, false);
    return set.ok() ? admin_error{error_code::none, ""} : set.error();
  };
  EXPECT_EQ(refused("1", {{"no.such.key", "1"}}).code, error_code::invalid_config);
  auto fixed = refused("1", {{"log.dirs", "/elsewhere"}});
  EXPECT_EQ(fixed.code, error_code::invalid_request);
  EXPECT_EQ(fixed.message, "Cannot update these configs dynamically: [log.dirs]");
  EXPECT_EQ(refused("", {{"log.retention.ms", "soon"}}).code, error_code::invalid_request);
  EXPECT_EQ(refused("2", {{"log.retention.ms", "1"}}).code, error_code::invalid_request);

  // validate_only checks and changes nothing.
  ASSERT_TRUE(topics->set_broker_configs("1", {{"log.retention.ms", "1"}}, true).ok());
  EXPECT_FALSE(topics->set_broker_configs("1", {{"log.retention.ms", "x"}}, true).ok());
  EXPECT_TRUE(topics->effective_broker_config()->dynamic_broker_values.empty());
  EXPECT_EQ(topics->image()->find("t", 0)->log->config().retention_ms,
            config_.log_defaults.retention_ms);
}

TEST_F(TopicManagerTest, DynamicBrokerConfigsSurviveARestart) {
  {
    auto topics = open();
    ASSERT_EQ(create_error(*topics, "kept"), error_code::none);
    ASSERT_TRUE(topics->set_broker_configs("", {{"log.cleanup.policy", "compact"}}, false).ok());
    ASSERT_TRUE(topics->set_broker_configs("1", {{"log.retention.hours", "2"}}, false).ok());
    ASSERT_TRUE(topics->close().ok());
  }
  auto topics = open();
  auto effective = topics->effective_broker_config();
  EXPECT_EQ(effective->dynamic_default_values,
            (base::properties{{"log.cleanup.policy", "compact"}}));
  EXPECT_EQ(effective->dynamic_broker_values, (base::properties{{"log.retention.hours", "2"}}));
  const topic_info* kept = topics->image()->find("kept");
  EXPECT_EQ(kept->log_config.retention_ms, 2 * 60 * 60 * 1000);
  EXPECT_EQ(kept->log_config.policy, storage::cleanup_policy::compact);
  EXPECT_EQ(kept->partitions[0]->log->config().retention_ms, 2 * 60 * 60 * 1000);
  EXPECT_EQ(kept->partitions[0]->log->config().policy, storage::cleanup_policy::compact);
}

TEST_F(TopicManagerTest, PartitionDirectoriesWithoutATopicAreRemoved) {
  {
    auto topics = open();
    ASSERT_EQ(create_error(*topics, "real"), error_code::none);
    ASSERT_TRUE(topics->close().ok());
  }
  // What a crash between the metadata write and the removal leaves behind.
  fs::create_directories(dir_ / "ghost-0");
  auto topics = open();
  EXPECT_FALSE(fs::exists(dir_ / "ghost-0"));
  EXPECT_TRUE(fs::exists(dir_ / "real-0"));
}

TEST_F(TopicManagerTest, ProducerIdsNeverRepeat) {
  int64_t last = -1;
  for (int round = 0; round < 2; ++round) {
    auto topics = open();
    for (int i = 0; i < 3; ++i) {
      auto id = topics->allocate_producer_id();
      ASSERT_TRUE(id.ok());
      EXPECT_GT(*id, last);
      last = *id;
    }
  }
}

TEST_F(TopicManagerTest, OwnersSpreadOverShards) {
  std::vector<int> per_shard(4);
  for (int32_t p = 0; p < 8; ++p) ++per_shard[topic_manager::owner_of({"t", p}, 4)];
  for (int count : per_shard) EXPECT_EQ(count, 2);
}

}  // namespace
}  // namespace sluice::kafka
