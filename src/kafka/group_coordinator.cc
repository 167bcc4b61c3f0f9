#include "kafka/group_coordinator.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <future>

#include "kafka/fetch_waiters.h"
#include "storage/partition_log.h"

namespace sluice::kafka {

namespace asio = boost::asio;
using coordinator::offsets_topic_name;

namespace {

// How often a shard looks at its groups' deadlines: the precision of session
// timeouts and rebalance deadlines.
constexpr auto timer_period = std::chrono::milliseconds(100);

coordinator::group_limits limits_from(const cluster::broker_config& config) {
  coordinator::group_limits limits;
  limits.min_session_timeout_ms = config.group_min_session_timeout_ms;
  limits.max_session_timeout_ms = config.group_max_session_timeout_ms;
  limits.initial_rebalance_delay_ms = config.group_initial_rebalance_delay_ms;
  limits.max_size = config.group_max_size;
  return limits;
}

partition* offsets_partition(const metadata_image& image, std::string_view group_id) {
  const topic_info* info = image.find(offsets_topic_name);
  if (info == nullptr || info->partition_count <= 0) return nullptr;
  return image.find(offsets_topic_name,
                    coordinator::offsets_partition_for(group_id, info->partition_count));
}

}  // namespace

// --- shard_groups.

shard_groups::shard_groups(const coordinator::group_limits& limits, shard_set& shards)
    : limits_(limits), shards_(shards) {}

coordinator::group* shard_groups::find(std::string_view group_id) {
  auto it = groups_.find(group_id);
  return it == groups_.end() ? nullptr : it->second.get();
}

coordinator::group& shard_groups::get_or_create(const std::string& group_id, int64_t now_ms) {
  auto& slot = groups_[group_id];
  if (!slot) slot = std::make_unique<coordinator::group>(group_id, limits_, now_ms);
  return *slot;
}

void shard_groups::erase(std::string_view group_id) {
  if (auto it = groups_.find(group_id); it != groups_.end()) groups_.erase(it);
  if (auto it = metadata_end_.find(group_id); it != metadata_end_.end()) metadata_end_.erase(it);
}

base::result<int64_t> shard_groups::append(partition& log_partition,
                                           std::span<const coordinator::offsets_record> records) {
  auto batch = coordinator::offsets_batch(records, storage::wall_clock_ms());
  if (!batch) return base::fail(batch.error().message);
  storage::append_options options;
  options.leader_epoch = 0;
  options.verify_crc = false;  // built here
  auto appended = log_partition.log->append(*batch, options);
  if (!appended) return base::fail(appended.error().message);
  notify_appended(log_partition, shards_);
  return appended->log_end_offset;
}

void shard_groups::persist(coordinator::group& g, partition& log_partition) {
  if (!g.stored_changed()) return;
  g.clear_stored_changed();
  auto record = g.state() == coordinator::group_state::dead
                    ? coordinator::group_tombstone(g.id())
                    : coordinator::group_metadata_record(g.id(), g.to_stored());
  auto written = append(log_partition, std::span(&record, 1));
  if (!written) {
    spdlog::warn("group {}: writing its metadata to {}-{}: {}", g.id(), log_partition.tp.topic,
                 log_partition.tp.partition, written.error().message);
    metadata_end_[g.id()] = std::nullopt;
    return;
  }
  metadata_end_[g.id()] = *written;
}

std::optional<int64_t> shard_groups::metadata_end(std::string_view group_id) const {
  auto it = metadata_end_.find(group_id);
  return it == metadata_end_.end() ? std::optional<int64_t>(0) : it->second;
}

void shard_groups::forget_topic(std::string_view topic, const metadata_image& image) {
  for (auto& [id, g] : groups_) {
    std::vector<coordinator::topic_partition_key> gone;
    for (const auto& [key, offset] : g->offsets()) {
      if (key.topic == topic) gone.push_back(key);
    }
    if (gone.empty()) continue;
    partition* p = offsets_partition(image, id);
    if (p == nullptr || p->owner != shard_set::current()) continue;
    std::vector<coordinator::offsets_record> tombstones;
    for (const auto& key : gone) {
      tombstones.push_back(coordinator::offset_tombstone(id, key.topic, key.partition));
    }
    if (auto written = append(*p, tombstones); !written) {
      spdlog::warn("group {}: forgetting the offsets of deleted topic {}: {}", id, topic,
                   written.error().message);
      continue;
    }
    for (const auto& key : gone) g->delete_offset(key);
  }
}

void shard_groups::stop() {
  stopping_ = true;
  for (auto& [id, g] : groups_) g->abort_waiting();
}

void shard_groups::run_timers(int64_t now_ms, const cluster::broker_config& config,
                              const metadata_image& image, bool check_retention) {
  if (stopping_) return;
  const int64_t retention_ms = config.offsets_retention_minutes * 60'000;
  std::vector<std::string> emptied;
  for (auto& [id, g] : groups_) {
    // Most groups have nothing due: that check comes first, it is cheap.
    const bool due = g->next_deadline_ms() <= now_ms;
    if (!due && !check_retention) continue;
    partition* p = offsets_partition(image, id);
    // Every group here belongs to a partition of this shard, which is fixed
    // (__consumer_offsets never changes its partition count).
    if (p == nullptr || p->owner != shard_set::current()) continue;
    if (due) {
      g->tick(now_ms);
      persist(*g, *p);
    }
    if (!check_retention) continue;
    // A group that never got a member or an offset (a JoinGroup that
    // failed, or one whose members all left and whose offsets expired) is
    // dropped, as Kafka's cleanup does.
    if (g->state() == coordinator::group_state::empty && g->offsets().empty()) {
      if (g->generation() > 0) {
        auto tombstone = coordinator::group_tombstone(id);
        if (!append(*p, std::span(&tombstone, 1))) continue;
      }
      emptied.push_back(id);
      continue;
    }
    auto expired = g->expired_offsets(now_ms, retention_ms);
    if (expired.empty()) continue;
    std::vector<coordinator::offsets_record> tombstones;
    for (const auto& key : expired) {
      tombstones.push_back(coordinator::offset_tombstone(id, key.topic, key.partition));
    }
    // An Empty group left with no offsets is gone, as in Kafka.
    const bool remove_group =
        g->state() == coordinator::group_state::empty && g->offsets().size() == expired.size();
    if (remove_group) tombstones.push_back(coordinator::group_tombstone(id));
    auto written = append(*p, tombstones);
    if (!written) {
      spdlog::warn("group {}: expiring offsets: {}", id, written.error().message);
      continue;
    }
    for (const auto& key : expired) g->delete_offset(key);
    spdlog::info("group {}: {} committed offsets expired (offsets.retention.minutes)", id,
                 expired.size());
    if (remove_group) emptied.push_back(id);
  }
  for (const auto& id : emptied) erase(id);
}

// --- group_coordinator.

group_coordinator::group_coordinator(const cluster::broker_config& config, topic_manager& topics,
                                     shard_set& shards)
    : config_(config), topics_(topics), shards_(shards) {
  for (shard_id shard = 0; shard < shards.count(); ++shard) {
    shard_state_.push_back(std::make_unique<shard_groups>(limits_from(config), shards));
  }
}

group_coordinator::~group_coordinator() = default;

base::result<void> group_coordinator::load() {
  auto image = topics_.image();
  const topic_info* info = image->find(offsets_topic_name);
  if (info == nullptr) return {};
  const int64_t now = storage::wall_clock_ms();
  size_t loaded = 0;
  for (const auto& p : info->partitions) {
    // The latest record of each key wins; tombstones delete.
    struct found {
      std::optional<coordinator::stored_group> metadata;
      std::map<coordinator::topic_partition_key, coordinator::committed_offset> offsets;
    };
    std::map<std::string, found> groups;
    size_t strays = 0;
    auto replayed = coordinator::replay_offsets_log(*p->log, [&](coordinator::offsets_entry&& e) {
      const std::string& group_id =
          std::visit([](const auto& entry) -> const std::string& { return entry.group; }, e);
      // A record of a group that does not hash here (a log copied from a
      // cluster with another partition count) would put the group on the
      // wrong shard: it is left out, and said so.
      if (coordinator::offsets_partition_for(group_id, info->partition_count) != p->tp.partition) {
        ++strays;
        return;
      }
      if (auto* offset = std::get_if<coordinator::offset_commit_entry>(&e)) {
        auto& offsets = groups[offset->group].offsets;
        coordinator::topic_partition_key key{offset->topic, offset->partition};
        if (offset->value) {
          offsets[key] = std::move(*offset->value);
        } else {
          offsets.erase(key);
        }
      } else {
        auto& metadata = std::get<coordinator::group_metadata_entry>(e);
        auto& g = groups[metadata.group];
        g.metadata = std::move(metadata.value);
        // Deleting a group deletes its offsets first, in the same batch.
      }
    });
    if (!replayed) {
      return base::fail("loading the groups of " + p->tp.topic + "-" +
                        std::to_string(p->tp.partition) + ": " + replayed.error().message);
    }
    if (strays > 0) {
      spdlog::warn("{}-{}: {} records of groups that belong to other partitions were ignored",
                   p->tp.topic, p->tp.partition, strays);
    }
    shard_groups& shard = *shard_state_[p->owner];
    for (auto& [id, content] : groups) {
      if (!content.metadata && content.offsets.empty()) continue;
      auto g = content.metadata
                   ? std::make_unique<coordinator::group>(id, limits_from(config_),
                                                          *content.metadata, now)
                   : std::make_unique<coordinator::group>(id, limits_from(config_), now);
      for (auto& [key, offset] : content.offsets) g->commit_offset(key, std::move(offset));
      shard.all()[id] = std::move(g);
      ++loaded;
    }
  }
  if (loaded > 0) spdlog::info("loaded {} consumer groups from {}", loaded, offsets_topic_name);
  return {};
}

void group_coordinator::start() {
  for (shard_id shard = 0; shard < shards_.count(); ++shard) {
    asio::co_spawn(shards_.context(shard), timer_loop(shard), asio::detached);
  }
}

asio::awaitable<void> group_coordinator::forget_topic(std::string topic) {
  auto image = topics_.image();
  co_await on_every_shard([&](shard_groups& groups) { groups.forget_topic(topic, *image); });
}

void group_coordinator::stop() {
  for (shard_id shard = 0; shard < shards_.count(); ++shard) {
    std::promise<void> done;
    asio::post(shards_.context(shard), [&] {
      shard_state_[shard]->stop();
      done.set_value();
    });
    done.get_future().wait();
  }
}

asio::awaitable<void> group_coordinator::timer_loop(shard_id shard) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  int64_t next_retention_check =
      storage::wall_clock_ms() + config_.offsets_retention_check_interval_ms;
  for (;;) {
    timer.expires_after(timer_period);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    const int64_t now = storage::wall_clock_ms();
    const bool check_retention = now >= next_retention_check;
    if (check_retention) next_retention_check = now + config_.offsets_retention_check_interval_ms;
    shard_state_[shard]->run_timers(now, config_, *topics_.image(), check_retention);
  }
}

asio::awaitable<group_coordinator::placement> group_coordinator::place(std::string_view group_id) {
  placement where;
  where.image = topics_.image();
  if (where.image->find(offsets_topic_name) == nullptr) {
    const base::properties configs = {
        {"cleanup.policy", "compact"},
        {"segment.bytes", std::to_string(config_.offsets_topic_segment_bytes)},
        {"compression.type", "producer"}};
    auto created = co_await shards_.offload([&] {
      return topics_.create_topic(std::string(offsets_topic_name),
                                  config_.offsets_topic_num_partitions, 1, configs, false);
    });
    if (!created && created.error().code != protocol::error_code::topic_already_exists) {
      spdlog::warn("cannot create {}: {}", offsets_topic_name, created.error().message);
    }
    where.image = topics_.image();
  }
  where.log_partition = offsets_partition(*where.image, group_id);
  co_return where;
}

}  // namespace sluice::kafka
