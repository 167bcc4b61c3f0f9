#pragma once

// Owners for the request objects of librdkafka's admin API, next to the
// handle and event owners of rdkafka.h, so that a request built field by
// field is freed on every early return.

#include <librdkafka/rdkafka.h>

#include <memory>

namespace sluice::client {

struct new_topic_deleter {
  void operator()(rd_kafka_NewTopic_t* t) const { rd_kafka_NewTopic_destroy(t); }
};
struct delete_topic_deleter {
  void operator()(rd_kafka_DeleteTopic_t* t) const { rd_kafka_DeleteTopic_destroy(t); }
};
struct new_partitions_deleter {
  void operator()(rd_kafka_NewPartitions_t* p) const { rd_kafka_NewPartitions_destroy(p); }
};
struct config_resource_deleter {
  void operator()(rd_kafka_ConfigResource_t* r) const { rd_kafka_ConfigResource_destroy(r); }
};
struct delete_records_deleter {
  void operator()(rd_kafka_DeleteRecords_t* d) const { rd_kafka_DeleteRecords_destroy(d); }
};

using new_topic = std::unique_ptr<rd_kafka_NewTopic_t, new_topic_deleter>;
using delete_topic = std::unique_ptr<rd_kafka_DeleteTopic_t, delete_topic_deleter>;
using new_partitions = std::unique_ptr<rd_kafka_NewPartitions_t, new_partitions_deleter>;
using config_resource = std::unique_ptr<rd_kafka_ConfigResource_t, config_resource_deleter>;
using delete_records = std::unique_ptr<rd_kafka_DeleteRecords_t, delete_records_deleter>;

}  // namespace sluice::client
