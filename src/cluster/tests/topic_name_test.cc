#include "cluster/topic_name.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::cluster {
namespace {

TEST(TopicName, LegalNames) {
  for (std::string_view name :
       {"a", "orders", "Orders-2024_v1.0", "...", "_", "-", "0", "__consumer_offsets"}) {
    EXPECT_EQ(check_topic_name(name), std::nullopt) << name;
  }
  EXPECT_EQ(check_topic_name(std::string(max_topic_name_length, 'x')), std::nullopt);
}

TEST(TopicName, EmptyAndDots) {
  EXPECT_EQ(check_topic_name(""), "Topic name is illegal, it can't be empty");
  EXPECT_EQ(check_topic_name("."), "Topic name cannot be \".\" or \"..\"");
  EXPECT_EQ(check_topic_name(".."), "Topic name cannot be \".\" or \"..\"");
}

TEST(TopicName, TooLong) {
  std::string name(max_topic_name_length + 1, 'x');
  auto message = check_topic_name(name);
  ASSERT_TRUE(message.has_value());
  EXPECT_EQ(*message,
            "Topic name is illegal, it can't be longer than 249 characters, topic name: " + name);
}

TEST(TopicName, IllegalCharacters) {
  for (std::string_view name :
       std::initializer_list<std::string_view>{"a b", "a/b", "a:b", "caf\xC3\xA9", "a\nb", "topic!",
                                               "a,b", std::string_view("a\0b", 3)}) {
    auto message = check_topic_name(name);
    ASSERT_TRUE(message.has_value()) << name;
    EXPECT_EQ(*message, "Topic name \"" + std::string(name) +
                            "\" is illegal, it contains a character other than ASCII "
                            "alphanumerics, '.', '_' and '-'");
  }
}

TEST(TopicName, Collisions) {
  EXPECT_TRUE(topic_names_collide("a.b", "a_b"));
  EXPECT_TRUE(topic_names_collide("a_b", "a.b"));
  EXPECT_TRUE(topic_names_collide("x.y_z", "x_y.z"));
  EXPECT_TRUE(topic_names_collide("same", "same"));
  EXPECT_FALSE(topic_names_collide("a.b", "a-b"));
  EXPECT_FALSE(topic_names_collide("a.b", "a.bc"));
  EXPECT_FALSE(topic_names_collide("ab", "a_b"));
  EXPECT_FALSE(topic_names_collide("A.b", "a_b"));
}

TEST(TopicName, Internal) {
  EXPECT_TRUE(is_internal_topic("__consumer_offsets"));
  EXPECT_TRUE(is_internal_topic("__transaction_state"));
  EXPECT_FALSE(is_internal_topic("_single"));
  EXPECT_FALSE(is_internal_topic("orders"));
  EXPECT_FALSE(is_internal_topic(""));
}

}  // namespace
}  // namespace sluice::cluster
