#pragma once

// kv_machine: the replicated state machine the simulator's clients use, a
// map from string keys to string values.
//
// A data entry carries one kv_command: a put by (client, op) of key = value.
// Raft's own entries (leader change, configuration) are skipped. An entry
// spans `count` indexes but holds one command, whatever its count: the
// workload varies count only to exercise multi-offset entries in the core.
// The snapshot is the whole map, serialised.

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "base/shared_bytes.h"
#include "raft/types.h"

namespace sluice::sim {

struct kv_command {
  int32_t client = 0;
  uint64_t op = 0;
  std::string key;
  std::string value;

  friend bool operator==(const kv_command&, const kv_command&) = default;
};

base::shared_bytes encode_command(const kv_command& command);
std::optional<kv_command> decode_command(const base::shared_bytes& bytes);

class kv_machine {
 public:
  // Applies a committed entry; returns its command for a data entry, nullopt
  // for Raft's own entries. A data entry that is not a command is a bug in
  // the simulator or the core: it throws.
  std::optional<kv_command> apply(const raft::entry& e);

  std::optional<std::string> get(const std::string& key) const;
  size_t size() const { return map_.size(); }
  // A digest of the whole map, for comparing replicas.
  uint64_t digest() const;

  base::shared_bytes snapshot() const;
  // Replaces the map with a snapshot's; empty bytes are the empty map (the
  // snapshot at index 0). False for bytes that are not a snapshot.
  bool restore(std::span<const uint8_t> bytes);

 private:
  std::map<std::string, std::string> map_;
};

}  // namespace sluice::sim
