#include "kafka/topic_manager.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "cluster/topic_config.h"
#include "cluster/topic_name.h"
#include "coordinator/offsets_records.h"
#include "coordinator/producer_state.h"

namespace sluice::kafka {

namespace {

// Producer ids are persisted a block at a time so that InitProducerId does
// not wait for the disk each time.
constexpr int64_t producer_id_block = 1000;

base::unexpected<admin_error> refuse(protocol::error_code code, std::string message) {
  return base::unexpected{admin_error{code, std::move(message)}};
}

base::unexpected<admin_error> storage_failure(const storage::io_error& error) {
  return refuse(protocol::error_code::kafka_storage_error, error.message);
}

}  // namespace

const topic_info* metadata_image::find(std::string_view name) const {
  auto it = topics.find(name);
  return it == topics.end() ? nullptr : it->second.get();
}

const topic_info* metadata_image::find(const base::uuid& id) const {
  for (const auto& [name, topic] : topics) {
    if (topic->id == id) return topic.get();
  }
  return nullptr;
}

partition* metadata_image::find(std::string_view topic, int32_t index) const {
  const topic_info* info = find(topic);
  if (info == nullptr || index < 0 || index >= static_cast<int32_t>(info->partitions.size())) {
    return nullptr;
  }
  return info->partitions[static_cast<size_t>(index)].get();
}

shard_id topic_manager::owner_of(const storage::topic_partition& tp, unsigned shard_count) {
  // FNV-1a of the name, plus the index: a topic's partitions go round the
  // shards one after another.
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : tp.topic) hash = (hash ^ c) * 1099511628211ull;
  return static_cast<shard_id>((hash + static_cast<uint64_t>(tp.partition)) % shard_count);
}

struct topic_manager::state {
  // As loaded: what does not change at runtime.
  const cluster::broker_config& config;
  unsigned shard_count;
  std::unique_ptr<storage::file_system> fs;
  std::unique_ptr<cluster::metadata_store> store;
  std::unique_ptr<storage::log_manager> logs;

  // Serialises changes; readers take the published image instead.
  std::mutex change_mu;
  int64_t next_producer_id = 0;
  int64_t producer_ids_left = 0;

  mutable std::mutex image_mu;
  std::shared_ptr<const metadata_image> image = std::make_shared<metadata_image>();
  // `config` with the dynamic broker configs on top: what topics without an
  // override follow. Replaced under change_mu and image_mu, so a change reads
  // it under change_mu alone and a request under image_mu.
  std::shared_ptr<const cluster::broker_config> effective;

  state(const cluster::broker_config& c, unsigned shards) : config(c), shard_count(shards) {}

  std::shared_ptr<const metadata_image> current() const {
    std::lock_guard lock(image_mu);
    return image;
  }
  void publish(std::shared_ptr<const metadata_image> next) {
    std::lock_guard lock(image_mu);
    image = std::move(next);
  }
  std::shared_ptr<const cluster::broker_config> current_effective() const {
    std::lock_guard lock(image_mu);
    return effective;
  }

  // The static config with the stored dynamic layers: the cluster-wide
  // defaults and this node's own (a scope for another node id is not ours).
  std::shared_ptr<const cluster::broker_config> layered_config() const {
    auto scopes = store->broker_configs();
    auto layered =
        cluster::with_dynamic_configs(config, scopes[""], scopes[std::to_string(config.node_id)]);
    for (const auto& warning : layered.warnings) spdlog::warn("{}", warning);
    return std::make_shared<const cluster::broker_config>(std::move(layered.config));
  }

  // What the image says of a topic, without its partitions.
  std::shared_ptr<topic_info> describe_record(const cluster::topic_record& record) const {
    auto info = std::make_shared<topic_info>();
    info->name = record.name;
    info->id = record.id;
    info->partition_count = record.partition_count;
    info->replication_factor = record.replication_factor;
    info->configs = record.configs;
    info->log_config = cluster::to_log_config(record.configs, *effective);
    info->max_message_bytes = cluster::max_message_bytes(record.configs, *effective);
    return info;
  }

  // The image's topic built from its durable record, reusing the partitions
  // of `previous` (their logs, producer state and waiters stay).
  base::result<std::shared_ptr<topic_info>, storage::io_error> build_topic(
      const cluster::topic_record& record, const topic_info* previous) {
    auto info = describe_record(record);
    for (int32_t index = 0; index < record.partition_count; ++index) {
      if (previous != nullptr && index < static_cast<int32_t>(previous->partitions.size())) {
        auto kept = previous->partitions[static_cast<size_t>(index)];
        kept->log->set_config(info->log_config);
        info->partitions.push_back(std::move(kept));
        continue;
      }
      storage::topic_partition tp{record.name, index};
      auto log = logs->get_or_create(tp, info->log_config);
      if (!log) return base::unexpected(log.error());
      auto p = std::make_shared<partition>(tp, record.id, owner_of(tp, shard_count), *log);
      auto producers = coordinator::recover_producer_state(*p->log);
      if (!producers) return base::unexpected(producers.error());
      p->producers = std::move(*producers);
      p->producer_snapshot_segments = p->log->segment_count();
      info->partitions.push_back(std::move(p));
    }
    return info;
  }

  // Publishes a copy of the image with `topic` replaced (or removed when null).
  void publish_topic(const std::string& name, std::shared_ptr<const topic_info> topic) {
    auto next = std::make_shared<metadata_image>(*current());
    if (topic) {
      next->topics[name] = std::move(topic);
    } else {
      next->topics.erase(name);
    }
    publish(std::move(next));
  }

  // Changes a topic's durable record with `change`, then its image, keeping
  // its partitions. Under change_mu.
  template <typename Change>
  admin_result<void> change_topic(const topic_info& topic, Change change) {
    auto record = record_of(topic.name);
    if (!record) {
      return refuse(protocol::error_code::unknown_topic_or_partition,
                    "This server does not host this topic-partition.");
    }
    change(*record);
    auto stored = store->put_topic(*record);
    if (!stored) return storage_failure(stored.error());
    auto rebuilt = build_topic(*record, &topic);
    if (!rebuilt) return storage_failure(rebuilt.error());
    publish_topic(topic.name, std::move(*rebuilt));
    return {};
  }

  std::optional<cluster::topic_record> record_of(const std::string& name) const {
    for (auto& record : store->topics()) {
      if (record.name == name) return record;
    }
    return std::nullopt;
  }
};

base::result<std::unique_ptr<topic_manager>> topic_manager::open(
    const cluster::broker_config& config, unsigned shard_count) {
  if (config.log_dirs.size() != 1) {
    return base::fail("log.dirs: Sluice takes one log directory for now, not " +
                      std::to_string(config.log_dirs.size()));
  }
  const std::string& dir = config.log_dirs.front();
  auto s = std::make_unique<state>(config, shard_count);
  s->fs = storage::make_posix_file_system();
  auto created = storage::create_durable_directory(*s->fs, dir);
  if (!created) return base::fail(created.error().message);
  auto store = cluster::file_metadata_store::open(*s->fs, dir, config.node_id);
  if (!store) return base::fail(store.error().message);
  s->store = std::move(*store);
  s->effective = s->layered_config();

  std::map<std::string, base::properties> topic_configs;
  for (auto& record : s->store->topics()) topic_configs[record.name] = record.configs;

  storage::log_manager_config lm;
  lm.log_dir = dir;
  lm.defaults = s->effective->log_defaults;
  lm.config_for = [effective = s->effective, topic_configs](const storage::topic_partition& tp) {
    auto it = topic_configs.find(tp.topic);
    return it == topic_configs.end() ? effective->log_defaults
                                     : cluster::to_log_config(it->second, *effective);
  };
  lm.scheduler_interval_ms = config.log_flush_scheduler_interval_ms;
  lm.retention_check_interval_ms = config.log_retention_check_interval_ms;
  lm.checkpoint_interval_ms = config.log_flush_offset_checkpoint_interval_ms;
  lm.cleaner_enable = config.log_cleaner_enable;
  lm.cleaner_backoff_ms = config.log_cleaner_backoff_ms;
  lm.cleaner.dedupe_buffer_bytes = static_cast<uint64_t>(config.log_cleaner_dedupe_buffer_size);
  lm.recovery_threads = static_cast<size_t>(config.num_recovery_threads_per_data_dir);
  auto logs = storage::log_manager::open(*s->fs, std::move(lm));
  if (!logs) return base::fail(logs.error().message);
  s->logs = std::move(*logs);
  if (!s->logs->opened_after_clean_shutdown() && !s->logs->partitions().empty()) {
    spdlog::warn("{}: the last shutdown was not clean; logs were recovered", dir);
  }

  auto image = std::make_shared<metadata_image>();
  for (auto& record : s->store->topics()) {
    auto topic = s->build_topic(record, nullptr);
    if (!topic) return base::fail("topic " + record.name + ": " + topic.error().message);
    image->topics[record.name] = std::move(*topic);
  }
  // A partition directory without a topic is what a deletion (or a creation)
  // interrupted by a crash leaves behind: the metadata store is written
  // first, so the directory is not wanted.
  for (auto& tp : s->logs->partitions()) {
    const topic_info* topic = image->find(tp.topic);
    if (topic == nullptr || tp.partition >= static_cast<int32_t>(topic->partitions.size())) {
      spdlog::info("removing {}-{}: it belongs to no topic", tp.topic, tp.partition);
      auto removed = s->logs->remove(tp);
      if (!removed) return base::fail(removed.error().message);
    }
  }
  s->publish(std::move(image));
  return std::unique_ptr<topic_manager>(new topic_manager(std::move(s)));
}

topic_manager::topic_manager(std::unique_ptr<state> s) : state_(std::move(s)) {}
topic_manager::~topic_manager() = default;

std::shared_ptr<const metadata_image> topic_manager::image() const { return state_->current(); }

const std::string& topic_manager::cluster_id() const { return state_->store->cluster_id(); }

admin_result<std::shared_ptr<const topic_info>> topic_manager::create_topic(
    const std::string& name, int32_t partitions, int16_t replication_factor,
    const base::properties& configs, bool validate_only) {
  state& s = *state_;
  if (auto invalid = cluster::check_topic_name(name)) {
    return refuse(protocol::error_code::invalid_topic_exception, *invalid);
  }
  if (partitions == -1) partitions = s.config.num_partitions;
  if (replication_factor == -1) replication_factor = s.config.default_replication_factor;
  if (partitions <= 0) {
    return refuse(protocol::error_code::invalid_partitions,
                  "Number of partitions must be larger than 0.");
  }
  if (replication_factor <= 0) {
    return refuse(protocol::error_code::invalid_replication_factor,
                  "Replication factor must be larger than 0.");
  }
  if (replication_factor > 1) {
    return refuse(protocol::error_code::invalid_replication_factor,
                  "Replication factor: " + std::to_string(replication_factor) +
                      " larger than available brokers: 1.");
  }
  if (auto invalid = cluster::validate_topic_configs(configs); !invalid) {
    return refuse(protocol::error_code::invalid_config,
                  "Invalid value for " + invalid.error().key + ": " + invalid.error().message);
  }

  std::lock_guard lock(s.change_mu);
  auto image = s.current();
  if (image->find(name) != nullptr) {
    return refuse(protocol::error_code::topic_already_exists,
                  "Topic '" + name + "' already exists.");
  }
  for (const auto& [existing, topic] : image->topics) {
    if (cluster::topic_names_collide(existing, name)) {
      return refuse(protocol::error_code::invalid_topic_exception,
                    "Topic '" + name + "' collides with existing topic: " + existing);
    }
  }
  cluster::topic_record record{name, base::uuid::random(), partitions, replication_factor, configs};
  if (validate_only) return std::shared_ptr<const topic_info>(s.describe_record(record));
  auto stored = s.store->put_topic(record);
  if (!stored) return storage_failure(stored.error());
  auto topic = s.build_topic(record, nullptr);
  if (!topic) return storage_failure(topic.error());
  std::shared_ptr<const topic_info> published = std::move(*topic);
  s.publish_topic(name, published);
  spdlog::info("created topic {} with {} partitions", name, partitions);
  return published;
}

admin_result<void> topic_manager::delete_topic(const std::string& name) {
  state& s = *state_;
  if (!s.config.delete_topic_enable) {
    return refuse(protocol::error_code::topic_deletion_disabled,
                  "Topic deletion is disabled (delete.topic.enable=false).");
  }
  std::lock_guard lock(s.change_mu);
  auto image = s.current();
  const topic_info* topic = image->find(name);
  if (topic == nullptr) {
    return refuse(protocol::error_code::unknown_topic_or_partition,
                  "This server does not host this topic-partition.");
  }
  if (name == coordinator::offsets_topic_name) {
    return refuse(protocol::error_code::invalid_request,
                  "__consumer_offsets holds every consumer group's state and cannot be deleted.");
  }
  // The record goes first: a crash before the logs are removed leaves
  // directories that the next start removes, never a topic without logs.
  auto removed = s.store->remove_topic(name);
  if (!removed) return storage_failure(removed.error());
  int32_t partition_count = topic->partition_count;
  s.publish_topic(name, nullptr);
  for (int32_t index = 0; index < partition_count; ++index) {
    auto gone = s.logs->remove({name, index});
    if (!gone) spdlog::warn("deleting {}-{}: {}", name, index, gone.error().message);
  }
  spdlog::info("deleted topic {}", name);
  return {};
}

admin_result<void> topic_manager::create_partitions(const std::string& name, int32_t new_total,
                                                    bool validate_only) {
  state& s = *state_;
  std::lock_guard lock(s.change_mu);
  auto image = s.current();
  const topic_info* topic = image->find(name);
  if (topic == nullptr) {
    return refuse(protocol::error_code::unknown_topic_or_partition,
                  "This server does not host this topic-partition.");
  }
  // A group's place is its id's hash modulo the partition count: more
  // partitions would move groups away from their offsets.
  if (name == coordinator::offsets_topic_name) {
    return refuse(
        protocol::error_code::invalid_request,
        "__consumer_offsets keeps its partition count: consumer groups are placed by it.");
  }
  if (new_total <= topic->partition_count) {
    return refuse(protocol::error_code::invalid_partitions,
                  "Topic currently has " + std::to_string(topic->partition_count) +
                      " partitions, which is higher than the requested " +
                      std::to_string(new_total) + ".");
  }
  if (validate_only) return {};
  auto changed = s.change_topic(
      *topic, [new_total](cluster::topic_record& record) { record.partition_count = new_total; });
  if (changed) spdlog::info("topic {} now has {} partitions", name, new_total);
  return changed;
}

admin_result<void> topic_manager::set_topic_configs(const std::string& name,
                                                    const base::properties& configs,
                                                    bool validate_only) {
  state& s = *state_;
  if (auto invalid = cluster::validate_topic_configs(configs); !invalid) {
    return refuse(protocol::error_code::invalid_config,
                  "Invalid value for " + invalid.error().key + ": " + invalid.error().message);
  }
  std::lock_guard lock(s.change_mu);
  auto image = s.current();
  const topic_info* topic = image->find(name);
  if (topic == nullptr) {
    return refuse(protocol::error_code::unknown_topic_or_partition,
                  "This server does not host this topic-partition.");
  }
  if (validate_only) return {};
  return s.change_topic(*topic,
                        [&configs](cluster::topic_record& record) { record.configs = configs; });
}

admin_result<void> topic_manager::set_broker_configs(const std::string& scope,
                                                     const base::properties& configs,
                                                     bool validate_only) {
  state& s = *state_;
  const std::string node = std::to_string(s.config.node_id);
  if (!scope.empty() && scope != node) {
    return refuse(protocol::error_code::invalid_request,
                  "Unexpected broker id, expected " + node + ", but received " + scope);
  }
  if (auto invalid = cluster::validate_dynamic_broker_configs(configs); !invalid) {
    // Kafka refuses a key it does not know as a bad config, everything else
    // about a broker change as a bad request.
    const bool unknown =
        invalid.error().what == cluster::dynamic_config_error::problem::unknown_key;
    return refuse(
        unknown ? protocol::error_code::invalid_config : protocol::error_code::invalid_request,
        invalid.error().message);
  }
  std::lock_guard lock(s.change_mu);
  if (validate_only) return {};
  auto stored = s.store->put_broker_configs(scope, configs);
  if (!stored) return storage_failure(stored.error());

  // Every topic is rebuilt from its record on the new config: those that set
  // a changed key themselves keep their value, the others follow, and their
  // partition logs get the new log_config (build_topic keeps the partitions).
  // The config goes first (describe_record reads it); a request between
  // the two publications sees the new broker values a moment before the
  // topics that follow them.
  {
    auto effective = s.layered_config();
    std::lock_guard image_lock(s.image_mu);
    s.effective = std::move(effective);
  }
  auto previous = s.current();
  auto next = std::make_shared<metadata_image>();
  for (auto& record : s.store->topics()) {
    const topic_info* before = previous->find(record.name);
    auto rebuilt = s.build_topic(record, before);
    if (!rebuilt) {
      // Only a missing partition log is opened here, and none is missing:
      // keep the topic as it was rather than lose it from the image.
      spdlog::warn("topic {}: {}", record.name, rebuilt.error().message);
      if (auto it = previous->topics.find(record.name); it != previous->topics.end()) {
        next->topics.emplace(record.name, it->second);
      }
      continue;
    }
    next->topics.emplace(record.name, std::move(*rebuilt));
  }
  s.publish(std::move(next));
  std::string listed;
  for (const auto& [key, value] : configs)
    listed += (listed.empty() ? "" : ", ") + key + "=" + value;
  spdlog::info("dynamic broker configs of {}: {}",
               scope.empty() ? std::string("the cluster default") : "broker " + scope,
               listed.empty() ? std::string("none") : listed);
  return {};
}

std::shared_ptr<const cluster::broker_config> topic_manager::effective_broker_config() const {
  return state_->current_effective();
}

admin_result<int64_t> topic_manager::allocate_producer_id() {
  state& s = *state_;
  std::lock_guard lock(s.change_mu);
  if (s.producer_ids_left == 0) {
    auto first = s.store->allocate_producer_ids(producer_id_block);
    if (!first) return storage_failure(first.error());
    s.next_producer_id = *first;
    s.producer_ids_left = producer_id_block;
  }
  --s.producer_ids_left;
  return s.next_producer_id++;
}

base::result<void> topic_manager::close() {
  state& s = *state_;
  std::lock_guard lock(s.change_mu);
  // The shards have stopped: the producer state is nobody else's now.
  for (const auto& [name, topic] : s.current()->topics) {
    for (const auto& p : topic->partitions) {
      auto written =
          coordinator::write_producer_snapshot(*p->log, p->producers, p->log->log_end_offset());
      if (!written) spdlog::warn("{}-{}: {}", name, p->tp.partition, written.error().message);
    }
  }
  auto closed = s.logs->close();
  if (!closed) return base::fail(closed.error().message);
  return {};
}

}  // namespace sluice::kafka
