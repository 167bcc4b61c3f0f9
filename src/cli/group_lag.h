#pragma once

// A consumer group's lag per partition, from what `group describe` gathers:
// the committed offsets, which member owns each partition and the log end
// offsets. Pure, so the cases (no commit yet, no owner, unknown end) are
// unit-tested without a cluster.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cli/topic_partitions.h"

namespace sluice::cli {

struct partition_lag {
  topic_partition tp;
  std::optional<int64_t> committed;  // none: the group never committed here
  std::optional<int64_t> log_end;    // none: the partition's end is unknown
  // log_end - committed when both are known, as Kafka computes it: negative
  // when the log was truncated or recreated below the committed offset.
  std::optional<int64_t> lag;
  std::optional<std::string> member_id;  // none: no member owns it
};

struct group_lag {
  std::vector<partition_lag> partitions;  // sorted by topic, partition
  int64_t total_lag = 0;                  // of the partitions with a lag
  int64_t without_commit = 0;             // partitions with no committed offset
};

// One row for every partition that has a commit or an owner. `committed`
// holds real commits only (no Kafka -1 "none" entries).
group_lag compute_lag(const std::map<topic_partition, int64_t>& committed,
                      const std::map<topic_partition, std::string>& owners,
                      const std::map<topic_partition, int64_t>& log_ends);

}  // namespace sluice::cli
