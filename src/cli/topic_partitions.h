#pragma once

// Which partitions a command acts on, as users type them: `--topic orders`
// (every partition) or `--topic orders:0,2` (those partitions). Pure, so the
// parsing and its errors are unit-tested without a cluster.

#include <compare>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/result.h"

namespace sluice::cli {

struct topic_partition {
  std::string topic;
  int32_t partition = 0;
  friend auto operator<=>(const topic_partition&, const topic_partition&) = default;
};

// "orders/3", as messages and notes name a partition.
std::string to_string(const topic_partition& tp);

// One --topic argument; `partitions` empty means every partition.
struct partition_selector {
  std::string topic;
  std::vector<int32_t> partitions;  // ascending, no duplicates
};

// "T" or "T:P,P...". Topic names cannot contain ':', so the first ':' ends
// the name. `flag` names the option in the error.
base::result<partition_selector> parse_partition_selector(const std::string& arg,
                                                          const std::string& flag);

// Every argument of a repeatable flag; a topic named twice is one selector
// (whole-topic wins over a partition list).
base::result<std::vector<partition_selector>> parse_partition_selectors(
    const std::vector<std::string>& args, const std::string& flag);

// The partitions `selectors` name, sorted and unique. `known` maps each topic
// to the partitions that exist for this purpose (in the cluster, or among a
// group's committed offsets); a whole-topic selector takes all of them and a
// name or partition missing from `known` is an error that ends with `where`
// (e.g. "in the cluster").
base::result<std::vector<topic_partition>> expand_selectors(
    const std::vector<partition_selector>& selectors,
    const std::map<std::string, std::vector<int32_t>>& known, const std::string& where);

}  // namespace sluice::cli
