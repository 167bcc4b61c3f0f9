#include "cli/topic_partitions.h"

#include <gtest/gtest.h>

namespace sluice::cli {
namespace {

TEST(TopicPartitions, WholeTopicHasNoPartitionList) {
  auto s = parse_partition_selector("orders", "--topic");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->topic, "orders");
  EXPECT_TRUE(s->partitions.empty());
}

TEST(TopicPartitions, PartitionListIsSortedAndUnique) {
  auto s = parse_partition_selector("orders.v2:3,0,3,1", "--topic");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->topic, "orders.v2");
  EXPECT_EQ(s->partitions, (std::vector<int32_t>{0, 1, 3}));
}

TEST(TopicPartitions, BadArgumentsNameTheFlagAndTheProblem) {
  for (const char* bad :
       {":0", "", "t:", "t:1,", "t:,1", "t:x", "t:-1", "t:1.5", "t:0:1", "t:99999999999"}) {
    auto s = parse_partition_selector(bad, "--topic");
    ASSERT_FALSE(s) << bad;
    EXPECT_EQ(s.error().message.rfind(std::string("--topic ") + bad + ":", 0), 0u)
        << s.error().message;
  }
  EXPECT_NE(parse_partition_selector(":0", "--topic").error().message.find("missing the topic"),
            std::string::npos);
  EXPECT_NE(parse_partition_selector("t:x", "--topic").error().message.find("TOPIC:0,1"),
            std::string::npos);
}

TEST(TopicPartitions, RepeatedTopicsMerge) {
  auto s = parse_partition_selectors({"a:2", "b", "a:0,2", "b:1", "c:1"}, "--topic");
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_EQ(s->size(), 3u);
  EXPECT_EQ((*s)[0].topic, "a");
  EXPECT_EQ((*s)[0].partitions, (std::vector<int32_t>{0, 2}));
  EXPECT_EQ((*s)[1].topic, "b");
  EXPECT_TRUE((*s)[1].partitions.empty()) << "a whole topic stays whole";
  EXPECT_EQ((*s)[2].partitions, (std::vector<int32_t>{1}));
  EXPECT_FALSE(parse_partition_selectors({"a", "b:z"}, "--topic"));
}

TEST(TopicPartitions, ExpandTakesEveryKnownPartitionOfAWholeTopic) {
  std::map<std::string, std::vector<int32_t>> known{{"a", {0, 1, 2}}, {"b", {0}}};
  auto selectors = parse_partition_selectors({"b", "a:2,0"}, "--topic");
  ASSERT_TRUE(selectors);
  auto out = expand_selectors(*selectors, known, "in the cluster");
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(*out, (std::vector<topic_partition>{{"a", 0}, {"a", 2}, {"b", 0}}));
}

TEST(TopicPartitions, ExpandRefusesWhatIsNotKnown) {
  std::map<std::string, std::vector<int32_t>> known{{"a", {0, 1}}, {"empty", {}}};
  auto missing_topic = expand_selectors({{"x", {}}}, known, "in the cluster");
  ASSERT_FALSE(missing_topic);
  EXPECT_EQ(missing_topic.error().message, "topic x not found in the cluster");
  auto missing_partition = expand_selectors({{"a", {1, 5}}}, known, "in the cluster");
  ASSERT_FALSE(missing_partition);
  EXPECT_EQ(missing_partition.error().message, "partition a/5 not found in the cluster");
  EXPECT_FALSE(expand_selectors({{"empty", {}}}, known, "in the cluster"));
}

}  // namespace
}  // namespace sluice::cli
