#pragma once

// topic_manager: the topics this broker hosts. It keeps the durable record of
// them (metadata_store), their partition logs (log_manager) and an immutable
// image of both that the request path reads without locks: every change
// builds a new image and publishes it.
//
// Changes (create, delete, add partitions, alter configs) are rare and block
// on the disk: call them through shard_set::offload, never on a shard. They
// are serialised by one mutex. A cluster will put the controller behind the
// same calls.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/properties.h"
#include "base/result.h"
#include "base/uuid.h"
#include "cluster/broker_config.h"
#include "cluster/metadata_store.h"
#include "kafka/partition.h"
#include "protocol/error_code.h"
#include "storage/log_manager.h"

namespace sluice::kafka {

struct topic_info {
  std::string name;
  base::uuid id;
  int32_t partition_count = 0;  // partitions.size(), or what validate_only would create
  int16_t replication_factor = 1;
  base::properties configs;  // set on the topic
  storage::log_config log_config;
  int32_t max_message_bytes = 0;  // max.message.bytes
  std::vector<std::shared_ptr<partition>> partitions;
};

struct metadata_image {
  std::map<std::string, std::shared_ptr<const topic_info>, std::less<>> topics;

  const topic_info* find(std::string_view name) const;
  const topic_info* find(const base::uuid& id) const;
  // nullptr when the topic or the partition does not exist.
  partition* find(std::string_view topic, int32_t index) const;
};

// Why an admin change was refused: Kafka's error and a message for the client.
struct admin_error {
  protocol::error_code code;
  std::string message;
};

template <typename T>
using admin_result = base::result<T, admin_error>;

class topic_manager {
 public:
  // Opens the metadata store and the log directory, recovers every partition
  // (producer state included) and publishes the first image.
  static base::result<std::unique_ptr<topic_manager>> open(const cluster::broker_config& config,
                                                           unsigned shard_count);
  ~topic_manager();

  std::shared_ptr<const metadata_image> image() const;
  const std::string& cluster_id() const;

  // CreateTopics. partitions / replication_factor of -1 take the broker's
  // defaults. Checks the name (INVALID_TOPIC_EXCEPTION), a '.'/'_' collision
  // and existence (TOPIC_ALREADY_EXISTS), counts (INVALID_PARTITIONS,
  // INVALID_REPLICATION_FACTOR: only 1 on a single node) and configs
  // (INVALID_CONFIG); with validate_only it stops there.
  admin_result<std::shared_ptr<const topic_info>> create_topic(const std::string& name,
                                                               int32_t partitions,
                                                               int16_t replication_factor,
                                                               const base::properties& configs,
                                                               bool validate_only);
  // DeleteTopics: UNKNOWN_TOPIC_OR_PARTITION, TOPIC_DELETION_DISABLED.
  admin_result<void> delete_topic(const std::string& name);
  // CreatePartitions: the new total must be larger (INVALID_PARTITIONS).
  admin_result<void> create_partitions(const std::string& name, int32_t new_total,
                                       bool validate_only);
  // AlterConfigs / IncrementalAlterConfigs: replaces the keys set on the
  // topic with `configs` (the handler computes the result of incremental
  // operations), checked first; the logs obey at once.
  admin_result<void> set_topic_configs(const std::string& name, const base::properties& configs,
                                       bool validate_only);
  // AlterConfigs / IncrementalAlterConfigs on a BROKER resource: replaces the
  // dynamic broker configs of `scope` ("" the cluster-wide defaults, this
  // node's id its own) with `configs` (the handler computes the result of
  // incremental operations). Checked first: an unknown key is INVALID_CONFIG,
  // a key that cannot change at runtime or a bad value INVALID_REQUEST. Kept
  // in the metadata store; every topic that does not override a changed key
  // obeys at once (its log_config and max.message.bytes are rebuilt).
  admin_result<void> set_broker_configs(const std::string& scope, const base::properties& configs,
                                        bool validate_only);
  // The broker config in force: the static one (broker_services::config,
  // which handlers read for node.id, listeners, socket limits) with the
  // dynamic layers on top. Topic defaults and DescribeConfigs come from here.
  std::shared_ptr<const cluster::broker_config> effective_broker_config() const;

  // Producer ids for InitProducerId, never handed out twice.
  admin_result<int64_t> allocate_producer_id();

  // Background work of the logs and a final checkpoint: flushes, writes
  // producer snapshots and the clean-shutdown marker.
  base::result<void> close();

  // Which shard owns a partition: spread evenly, stable across restarts.
  static shard_id owner_of(const storage::topic_partition& tp, unsigned shard_count);

 private:
  struct state;
  explicit topic_manager(std::unique_ptr<state> s);
  std::unique_ptr<state> state_;
};

}  // namespace sluice::kafka
