#pragma once

// The consumer-group admin calls of librdkafka 2.0.2 as plain values, so
// that the `group` commands deal in topic_partition maps and messages, not
// in C result objects. Each call is one admin request (librdkafka allows
// one group per offsets request) bounded by `timeout`; a failure of the
// whole request, or of the group, is an error naming the group, while
// per-partition and per-group outcomes come back for the caller to report.

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "cli/topic_partitions.h"
#include "client/rdkafka.h"

namespace sluice::cli {

struct group_listing {
  std::string group_id;
  std::string state;  // "Stable", "Empty", ...
  bool is_simple = false;
};

// Every group in the cluster (all brokers), or those in one of `states`
// (names as Kafka spells them, any case; an unknown name is an error).
base::result<std::vector<group_listing>> list_groups(rd_kafka_t* rk,
                                                     const std::vector<std::string>& states,
                                                     std::chrono::milliseconds timeout);

struct group_member {
  std::string member_id;
  std::string client_id;
  std::string host;
  std::optional<std::string> group_instance_id;
  std::vector<topic_partition> assignment;  // sorted
};

struct group_description {
  std::string group_id;
  std::string state;  // "Dead" for a group the coordinator does not know
  bool is_simple = false;
  std::string partition_assignor;  // empty unless Stable
  std::optional<client::broker_info> coordinator;
  std::vector<group_member> members;
};

// In the order of `groups`.
base::result<std::vector<group_description>> describe_groups(rd_kafka_t* rk,
                                                             const std::vector<std::string>& groups,
                                                             std::chrono::milliseconds timeout);

// The offsets the group has committed, every partition.
base::result<std::map<topic_partition, int64_t>> committed_offsets(
    rd_kafka_t* rk, const std::string& group, std::chrono::milliseconds timeout);

struct partition_outcome {
  topic_partition tp;
  rd_kafka_resp_err_t error = RD_KAFKA_RESP_ERR_NO_ERROR;
};

// Commits `offsets` for the group (AlterConsumerGroupOffsets); the outcome
// of each partition, sorted.
base::result<std::vector<partition_outcome>> alter_offsets(
    rd_kafka_t* rk, const std::string& group, const std::map<topic_partition, int64_t>& offsets,
    std::chrono::milliseconds timeout);

// Deletes the group's committed offsets of `partitions`; the outcome of each.
base::result<std::vector<partition_outcome>> delete_offsets(
    rd_kafka_t* rk, const std::string& group, const std::vector<topic_partition>& partitions,
    std::chrono::milliseconds timeout);

struct group_outcome {
  std::string group_id;
  rd_kafka_resp_err_t error = RD_KAFKA_RESP_ERR_NO_ERROR;
};

// In the order of `groups`.
base::result<std::vector<group_outcome>> delete_groups(rd_kafka_t* rk,
                                                       const std::vector<std::string>& groups,
                                                       std::chrono::milliseconds timeout);

// Every partition in the cluster, by topic (one metadata request).
base::result<std::map<std::string, std::vector<int32_t>>> cluster_partitions(
    rd_kafka_t* rk, std::chrono::milliseconds timeout);

// The log start and end offsets of those `partitions` that exist in
// `cluster` (two ListOffsets rounds in all, not two per partition).
base::result<std::map<topic_partition, client::watermarks>> log_bounds(
    rd_kafka_t* rk, const std::vector<topic_partition>& partitions,
    const std::map<std::string, std::vector<int32_t>>& cluster, std::chrono::milliseconds timeout);

// For each of `partitions`, the first offset whose timestamp is at or after
// `timestamp_ms`; -1 where no record is that late.
base::result<std::map<topic_partition, int64_t>> offsets_at_time(
    rd_kafka_t* rk, const std::vector<topic_partition>& partitions, int64_t timestamp_ms,
    std::chrono::milliseconds timeout);

}  // namespace sluice::cli
