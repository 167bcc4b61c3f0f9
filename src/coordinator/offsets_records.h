#pragma once

// The records of the internal topic __consumer_offsets, in Kafka's own
// formats (OffsetCommitKey/Value, GroupMetadataKey/Value from the schemas), so
// that a Kafka tool reading the topic understands what Sluice wrote and the
// log compacts by key exactly as Kafka's does.
//
// A key is an int16 version followed by the key struct: version 1 an offset
// commit (group, topic, partition), version 2 a group's metadata (group). A
// value is an int16 version and the value struct; a tombstone (no value)
// deletes the key: a committed offset that expired or was deleted, a group
// that was deleted.

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "base/result.h"
#include "base/shared_bytes.h"

namespace sluice::storage {
class partition_log;
}

namespace sluice::coordinator {

inline constexpr std::string_view offsets_topic_name = "__consumer_offsets";

// The __consumer_offsets partition a group lives in: Kafka's
// abs(groupId.hashCode()) % partitions, with Java's String.hashCode over the
// id's UTF-16 code units, so a group maps to the partition Kafka would use.
int32_t offsets_partition_for(std::string_view group_id, int32_t partition_count);

struct committed_offset {
  int64_t offset = -1;
  int32_t leader_epoch = -1;
  std::string metadata;
  int64_t commit_timestamp_ms = -1;
  // Only set by OffsetCommit v1 retention (kept for old records): -1 none.
  int64_t expire_timestamp_ms = -1;
};

// One member as GroupMetadataValue keeps it.
struct stored_member {
  std::string member_id;
  std::optional<std::string> group_instance_id;
  std::string client_id;
  std::string client_host;
  int32_t rebalance_timeout_ms = 0;
  int32_t session_timeout_ms = 0;
  base::shared_bytes subscription;  // the metadata of the chosen protocol
  base::shared_bytes assignment;
};

// A group as GroupMetadataValue keeps it (written as value version 3).
struct stored_group {
  std::string protocol_type;
  int32_t generation = 0;
  std::optional<std::string> protocol;  // none while Empty
  std::optional<std::string> leader;
  int64_t current_state_timestamp_ms = -1;
  std::vector<stored_member> members;
};

// One record to append: a key and a value, or a key alone (tombstone).
struct offsets_record {
  std::vector<uint8_t> key;
  std::optional<std::vector<uint8_t>> value;
};

offsets_record offset_commit_record(std::string_view group, std::string_view topic,
                                    int32_t partition, const committed_offset& offset);
offsets_record offset_tombstone(std::string_view group, std::string_view topic, int32_t partition);
offsets_record group_metadata_record(std::string_view group, const stored_group& value);
offsets_record group_tombstone(std::string_view group);

// One uncompressed magic-2 batch (CreateTime `now_ms`, no producer id)
// holding `records` in order, ready for partition_log::append. Needs at
// least one record.
base::result<std::vector<uint8_t>> offsets_batch(std::span<const offsets_record> records,
                                                 int64_t now_ms);

// What one record of the topic says, decoded. A missing value (nullopt)
// is a tombstone.
struct offset_commit_entry {
  std::string group;
  std::string topic;
  int32_t partition = 0;
  std::optional<committed_offset> value;
};
struct group_metadata_entry {
  std::string group;
  std::optional<stored_group> value;
};
using offsets_entry = std::variant<offset_commit_entry, group_metadata_entry>;

// Decodes one record. Every value version of the schemas is read (v0-v4 of
// offset commits, v0-v4 of group metadata). Unknown key versions (Kafka's
// newer record types, e.g. of KIP-848 groups) are skipped: nullopt. Bytes
// that do not decode are an error naming what is wrong.
base::result<std::optional<offsets_entry>> decode_offsets_record(
    std::span<const uint8_t> key, std::optional<std::span<const uint8_t>> value);

// Reads `log` from its start offset to its end, batch by batch (control
// batches skipped, compressed batches decompressed), and hands every record
// that decodes to `visit` in log order. A record that does not decode is
// logged (spdlog warn, with its offset) and skipped, so one bad record never
// hides the rest of a group's state. Fails only when the log cannot be read.
base::result<void> replay_offsets_log(storage::partition_log& log,
                                      const std::function<void(offsets_entry&&)>& visit);

}  // namespace sluice::coordinator
