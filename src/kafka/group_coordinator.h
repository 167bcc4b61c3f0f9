#pragma once

// group_coordinator: where the broker keeps its consumer groups.
//
// A group lives in one partition of the internal compacted topic
// __consumer_offsets (Kafka's hash of the group id), and so on the shard that
// owns that partition: every call about a group runs there (on_group), the
// group's state machine (coordinator::group) needs no lock, and its records
// are appended by the only shard that appends to that partition. The topic is
// created on first use with offsets.topic.num.partitions partitions; at start
// every group is rebuilt from it.
//
// Each shard also runs a timer for its groups: session expiry, rebalance
// deadlines, and offsets.retention.minutes.

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "base/result.h"
#include "cluster/broker_config.h"
#include "coordinator/group.h"
#include "coordinator/offsets_records.h"
#include "kafka/shard.h"
#include "kafka/topic_manager.h"
#include "protocol/error_code.h"

namespace sluice::kafka {

// The groups of one shard, and the means to change them. Only used on its
// own shard, inside group_coordinator::on_group.
class shard_groups {
 public:
  shard_groups(const coordinator::group_limits& limits, shard_set& shards);

  coordinator::group* find(std::string_view group_id);
  // Creates an Empty group when there is none.
  coordinator::group& get_or_create(const std::string& group_id, int64_t now_ms);
  // Forgets a group (after DeleteGroups or when retention emptied it).
  void erase(std::string_view group_id);
  std::map<std::string, std::unique_ptr<coordinator::group>, std::less<>>& all() { return groups_; }

  // Appends records to the group's __consumer_offsets partition (in one
  // batch) and wakes its readers. The end offset the records must reach
  // for durability, or the storage error.
  base::result<int64_t> append(partition& log_partition,
                               std::span<const coordinator::offsets_record> records);
  // Writes the group's GroupMetadataValue if the last call changed it (or a
  // tombstone for a Dead group), to the page cache; a failed write is logged.
  void persist(coordinator::group& g, partition& log_partition);
  // The log end offset that the group's latest metadata write must reach to
  // be durable (0: none yet), or nullopt when that write failed. JoinGroup
  // and SyncGroup answers that depend on the write wait for it (as Kafka
  // answers only once the group is stored).
  std::optional<int64_t> metadata_end(std::string_view group_id) const;

  // Periodic work: tick() of every group due, and offset retention.
  void run_timers(int64_t now_ms, const cluster::broker_config& config, const metadata_image& image,
                  bool check_retention);

  // A deleted topic's committed offsets go (with tombstones), as Kafka
  // removes them when the topic goes.
  void forget_topic(std::string_view topic, const metadata_image& image);

  // Set when the broker stops: waiting JoinGroups and SyncGroups have been
  // answered NOT_COORDINATOR, new ones are too, and the timers stand still
  // (a member that cannot reach a stopping broker is not expired by it).
  bool stopping() const { return stopping_; }
  void stop();

 private:
  bool stopping_ = false;
  coordinator::group_limits limits_;
  shard_set& shards_;
  std::map<std::string, std::unique_ptr<coordinator::group>, std::less<>> groups_;
  std::map<std::string, std::optional<int64_t>, std::less<>> metadata_end_;
};

class group_coordinator {
 public:
  group_coordinator(const cluster::broker_config& config, topic_manager& topics, shard_set& shards);
  ~group_coordinator();

  // Rebuilds every group from __consumer_offsets. Call once, before the
  // shards start.
  base::result<void> load();
  // Starts each shard's timer; call before the shards start.
  void start();
  // On each shard in turn, from a thread off the shards: answers every
  // JoinGroup and SyncGroup still waiting, so connections can drain.
  void stop();

  // The __consumer_offsets partition of `group_id`, creating the topic on
  // first use; nullptr when it cannot be created (COORDINATOR_NOT_AVAILABLE).
  // The image keeps the partition alive.
  struct placement {
    std::shared_ptr<const metadata_image> image;
    partition* log_partition = nullptr;
  };
  boost::asio::awaitable<placement> place(std::string_view group_id);

  // Runs `fn(shard_groups&, partition&)` (returning an awaitable) on the
  // shard that owns the group's partition. The caller checked placement.
  template <typename F>
  auto on_group(const placement& where, F fn) {
    partition& p = *where.log_partition;
    return shards_.on_shard(p.owner, [this, &p, fn = std::move(fn)]() mutable {
      return fn(*shard_state_[p.owner], p);
    });
  }

  // Runs `fn(shard_groups&)` on every shard in turn (ListGroups).
  template <typename F>
  boost::asio::awaitable<void> on_every_shard(F fn) {
    for (shard_id shard = 0; shard < shards_.count(); ++shard) {
      co_await shards_.on_shard(shard, [this, shard, &fn]() -> boost::asio::awaitable<void> {
        fn(*shard_state_[shard]);
        co_return;
      });
    }
  }

  // After DeleteTopics: every group forgets its offsets of `topic`.
  boost::asio::awaitable<void> forget_topic(std::string topic);

 private:
  boost::asio::awaitable<void> timer_loop(shard_id shard);

  const cluster::broker_config& config_;
  topic_manager& topics_;
  shard_set& shards_;
  std::vector<std::unique_ptr<shard_groups>> shard_state_;
};

}  // namespace sluice::kafka
