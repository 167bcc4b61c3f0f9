#include "cli/group_lag.h"

#include <gtest/gtest.h>

namespace sluice::cli {
namespace {

const topic_partition a0{"a", 0}, a1{"a", 1}, b0{"b", 0}, gone0{"gone", 0};

TEST(GroupLag, LagIsLogEndMinusCommitted) {
  auto lag = compute_lag({{a0, 10}, {a1, 25}}, {{a0, "m1"}, {a1, "m2"}}, {{a0, 10}, {a1, 30}});
  ASSERT_EQ(lag.partitions.size(), 2u);
  EXPECT_EQ(lag.partitions[0].lag, 0);
  EXPECT_EQ(lag.partitions[0].member_id, "m1");
  EXPECT_EQ(lag.partitions[1].lag, 5);
  EXPECT_EQ(lag.partitions[1].committed, 25);
  EXPECT_EQ(lag.partitions[1].log_end, 30);
  EXPECT_EQ(lag.total_lag, 5);
  EXPECT_EQ(lag.without_commit, 0);
}

TEST(GroupLag, AssignedPartitionWithoutCommitHasNoLag) {
  auto lag = compute_lag({{a0, 4}}, {{a0, "m1"}, {b0, "m1"}}, {{a0, 7}, {b0, 100}});
  ASSERT_EQ(lag.partitions.size(), 2u);
  const auto& b = lag.partitions[1];
  EXPECT_EQ(b.tp, b0);
  EXPECT_FALSE(b.committed);
  EXPECT_EQ(b.log_end, 100);
  EXPECT_FALSE(b.lag) << "Kafka shows '-', not the whole log, as the lag";
  EXPECT_EQ(b.member_id, "m1");
  EXPECT_EQ(lag.total_lag, 3);
  EXPECT_EQ(lag.without_commit, 1);
}

TEST(GroupLag, CommittedPartitionWithoutOwnerOrEnd) {
  auto lag = compute_lag({{a0, 4}, {gone0, 9}}, {}, {{a0, 6}});
  ASSERT_EQ(lag.partitions.size(), 2u);
  EXPECT_FALSE(lag.partitions[0].member_id);
  EXPECT_EQ(lag.partitions[0].lag, 2);
  EXPECT_EQ(lag.partitions[1].tp, gone0);
  EXPECT_FALSE(lag.partitions[1].log_end) << "a deleted topic has no end";
  EXPECT_FALSE(lag.partitions[1].lag);
  EXPECT_EQ(lag.total_lag, 2);
}

TEST(GroupLag, CommitPastTheEndGivesNegativeLagAsKafkaDoes) {
  auto lag = compute_lag({{a0, 50}}, {}, {{a0, 20}});
  EXPECT_EQ(lag.partitions[0].lag, -30);
}

TEST(GroupLag, NothingCommittedOrAssignedIsEmpty) {
  auto lag = compute_lag({}, {}, {{a0, 5}});
  EXPECT_TRUE(lag.partitions.empty());
  EXPECT_EQ(lag.total_lag, 0);
}

}  // namespace
}  // namespace sluice::cli
