#include "protocol/error_code.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace sluice::protocol {
namespace {

constexpr int16_t highest_code = 127;  // VOTER_NOT_FOUND, the last code in Kafka 3.9

TEST(ErrorCode, SpotChecksAgainstKafka) {
  struct expected {
    error_code code;
    int16_t number;
    std::string_view name;
    bool retriable;
  };
  const expected cases[] = {
      {error_code::unknown_server_error, -1, "UNKNOWN_SERVER_ERROR", false},
      {error_code::none, 0, "NONE", false},
      {error_code::offset_out_of_range, 1, "OFFSET_OUT_OF_RANGE", false},
      {error_code::corrupt_message, 2, "CORRUPT_MESSAGE", true},
      {error_code::unknown_topic_or_partition, 3, "UNKNOWN_TOPIC_OR_PARTITION", true},
      {error_code::not_leader_or_follower, 6, "NOT_LEADER_OR_FOLLOWER", true},
      {error_code::request_timed_out, 7, "REQUEST_TIMED_OUT", true},
      {error_code::message_too_large, 10, "MESSAGE_TOO_LARGE", false},
      {error_code::coordinator_load_in_progress, 14, "COORDINATOR_LOAD_IN_PROGRESS", true},
      {error_code::not_enough_replicas, 19, "NOT_ENOUGH_REPLICAS", true},
      {error_code::rebalance_in_progress, 27, "REBALANCE_IN_PROGRESS", false},
      {error_code::unsupported_version, 35, "UNSUPPORTED_VERSION", false},
      {error_code::not_controller, 41, "NOT_CONTROLLER", true},
      {error_code::invalid_request, 42, "INVALID_REQUEST", false},
      {error_code::concurrent_transactions, 51, "CONCURRENT_TRANSACTIONS", true},
      {error_code::kafka_storage_error, 56, "KAFKA_STORAGE_ERROR", true},
      {error_code::fenced_leader_epoch, 74, "FENCED_LEADER_EPOCH", true},
      {error_code::unsupported_compression_type, 76, "UNSUPPORTED_COMPRESSION_TYPE", false},
      {error_code::throttling_quota_exceeded, 89, "THROTTLING_QUOTA_EXCEEDED", true},
      {error_code::producer_fenced, 90, "PRODUCER_FENCED", false},
      {error_code::unknown_topic_id, 100, "UNKNOWN_TOPIC_ID", true},
      {error_code::transaction_abortable, 120, "TRANSACTION_ABORTABLE", false},
      {error_code::share_session_not_found, 122, "SHARE_SESSION_NOT_FOUND", true},
      {error_code::voter_not_found, 127, "VOTER_NOT_FOUND", false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(static_cast<int16_t>(c.code), c.number) << c.name;
    EXPECT_EQ(error_name(c.code), c.name);
    EXPECT_EQ(is_retriable(c.code), c.retriable) << c.name;
    EXPECT_TRUE(is_known(c.number)) << c.name;
  }
}

TEST(ErrorCode, DefaultMessagesAreKafkas) {
  EXPECT_EQ(error_message(error_code::request_timed_out), "The request timed out.");
  EXPECT_EQ(error_message(error_code::corrupt_message),
            "This message has failed its CRC checksum, exceeds the valid size, has a null key for "
            "a compacted topic, or is otherwise corrupt.");
  EXPECT_EQ(error_message(error_code::coordinator_load_in_progress),
            "The coordinator is loading and hence can't process requests.");
  EXPECT_EQ(error_message(error_code::none), "");
}

// Kafka 3.9 has no gaps: every code from -1 to the highest is defined.
TEST(ErrorCode, EveryCodeUpToTheHighestIsKnown) {
  for (int code = -1; code <= highest_code; ++code) {
    auto c = static_cast<error_code>(code);
    EXPECT_TRUE(is_known(static_cast<int16_t>(code))) << code;
    EXPECT_NE(error_name(c), "UNKNOWN_ERROR_CODE") << code;
    if (c != error_code::none) {
      EXPECT_FALSE(error_message(c).empty()) << code;
    }
  }
}

TEST(ErrorCode, NamesAreUniqueUpperSnakeCase) {
  std::set<std::string_view> names;
  for (int code = -1; code <= highest_code; ++code) {
    std::string_view name = error_name(static_cast<error_code>(code));
    EXPECT_TRUE(names.insert(name).second) << "duplicate " << name;
    for (char ch : name) EXPECT_TRUE((ch >= 'A' && ch <= 'Z') || ch == '_') << name;
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(highest_code + 2));
}

TEST(ErrorCode, ValuesOutsideTheTable) {
  for (int16_t code :
       {int16_t{-32768}, int16_t{-3}, int16_t{-2}, int16_t{highest_code + 1}, int16_t{32767}}) {
    auto c = static_cast<error_code>(code);
    EXPECT_FALSE(is_known(code)) << code;
    EXPECT_EQ(error_name(c), "UNKNOWN_ERROR_CODE");
    EXPECT_EQ(error_message(c), "");
    EXPECT_FALSE(is_retriable(c));
  }
}

}  // namespace
}  // namespace sluice::protocol
