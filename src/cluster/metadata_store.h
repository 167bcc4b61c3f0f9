#pragma once

// metadata_store: where the broker keeps what it knows about the cluster —
// its id, the topics (id, partition count, replication factor, the configs
// set on them), the dynamic broker configs and the producer ids handed out —
// so that it survives a restart. A single node keeps it in a file (file_metadata_store); the
// controller's Raft log will fill the same interface for a cluster.
//
// Changes are durable when the call returns. Not thread-safe: the broker
// serialises changes (they are rare) and keeps its own in-memory image for
// the request path.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/properties.h"
#include "base/uuid.h"
#include "storage/file_system.h"

namespace sluice::cluster {

struct topic_record {
  std::string name;
  base::uuid id;
  int32_t partition_count = 1;
  int16_t replication_factor = 1;
  base::properties configs;  // only the keys set on the topic
  friend bool operator==(const topic_record&, const topic_record&) = default;
};

class metadata_store {
 public:
  virtual ~metadata_store() = default;

  // Kafka's 22-character cluster id, made once and kept.
  virtual const std::string& cluster_id() const = 0;
  virtual std::vector<topic_record> topics() const = 0;
  // Creates or replaces (CreatePartitions, AlterConfigs) the topic by name.
  virtual storage::io_result<void> put_topic(const topic_record& topic) = 0;
  virtual storage::io_result<void> remove_topic(const std::string& name) = 0;
  // Dynamic broker configs (AlterConfigs on a BROKER resource) by scope, as
  // Kafka names the resources: "" the cluster-wide defaults, "<node id>" one
  // broker's own. Scopes without configs are absent.
  virtual std::map<std::string, base::properties> broker_configs() const = 0;
  // Replaces the scope's whole set; an empty set removes the scope. The scope
  // is "" or a node id in decimal.
  virtual storage::io_result<void> put_broker_configs(const std::string& scope,
                                                      const base::properties& configs) = 0;
  // Hands out `count` producer ids never handed out before, even across a
  // crash: returns the first. (Blocks are persisted before use.)
  virtual storage::io_result<int64_t> allocate_producer_ids(int64_t count) = 0;
};

// One file, `<dir>/sluice-metadata`, rewritten atomically (temp file, fsync,
// rename, directory fsync) on every change, plus Kafka's `meta.properties`
// (version, node.id, cluster.id) in the same directory. Opening checks that
// meta.properties names the same node id, so two brokers' data never mix.
class file_metadata_store final : public metadata_store {
 public:
  static storage::io_result<std::unique_ptr<file_metadata_store>> open(storage::file_system& fs,
                                                                       std::string directory,
                                                                       int32_t node_id);
  ~file_metadata_store() override;

  const std::string& cluster_id() const override;
  std::vector<topic_record> topics() const override;
  storage::io_result<void> put_topic(const topic_record& topic) override;
  storage::io_result<void> remove_topic(const std::string& name) override;
  std::map<std::string, base::properties> broker_configs() const override;
  storage::io_result<void> put_broker_configs(const std::string& scope,
                                              const base::properties& configs) override;
  storage::io_result<int64_t> allocate_producer_ids(int64_t count) override;

 private:
  struct state;
  explicit file_metadata_store(std::unique_ptr<state> s);
  std::unique_ptr<state> state_;
};

}  // namespace sluice::cluster
