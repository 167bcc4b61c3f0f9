#include "cli/group_lag.h"

#include <set>

namespace sluice::cli {
namespace {

template <typename V>
std::optional<V> lookup(const std::map<topic_partition, V>& map, const topic_partition& tp) {
  auto found = map.find(tp);
  if (found == map.end()) return std::nullopt;
  return found->second;
}

}  // namespace

group_lag compute_lag(const std::map<topic_partition, int64_t>& committed,
                      const std::map<topic_partition, std::string>& owners,
                      const std::map<topic_partition, int64_t>& log_ends) {
  std::set<topic_partition> all;
  for (const auto& [tp, offset] : committed) all.insert(tp);
  for (const auto& [tp, member] : owners) all.insert(tp);

  group_lag out;
  for (const auto& tp : all) {
    partition_lag row{tp, lookup(committed, tp), lookup(log_ends, tp), std::nullopt,
                      lookup(owners, tp)};
    if (row.committed && row.log_end) {
      row.lag = *row.log_end - *row.committed;
      out.total_lag += *row.lag;
    }
    if (!row.committed) ++out.without_commit;
    out.partitions.push_back(std::move(row));
  }
  return out;
}

}  // namespace sluice::cli
