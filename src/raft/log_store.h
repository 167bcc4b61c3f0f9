#pragma once

// log_store: what the core reads of a node's durable (or written) state. The
// host owns the storage; the core never writes through this interface, it
// asks the host to write by returning entries in a `ready` (node.h), and
// reads back what the host wrote when it needs older entries (to send them
// to a follower) or terms (to check log matching).
//
// A store holds the entries after its snapshot, contiguous:
// [first_index(), last_index()]. The entries the core handed out but the host
// has not written yet are not in it; the core keeps those itself.
//
// Implementations: storage_log.h (a Kafka partition log plus the quorum-state
// and snapshot files beside it) and the simulator's in-memory disk.

#include <cstddef>
#include <optional>
#include <vector>

#include "base/result.h"
#include "raft/types.h"

namespace sluice::raft {

class log_store {
 public:
  virtual ~log_store() = default;

  // The state the node starts from.
  virtual hard_state initial_hard_state() const = 0;
  // Every configuration entry in the log, oldest first. A restarted node
  // takes the last one (or the snapshot's) as its configuration.
  virtual std::vector<entry> configuration_entries() const = 0;

  virtual snapshot_meta snapshot_metadata() const = 0;
  // The whole snapshot, for a follower that needs it.
  virtual base::result<snapshot> load_snapshot() const = 0;

  // snapshot_metadata().index + 1 when the log is empty after the snapshot.
  virtual index_t first_index() const = 0;
  // snapshot_metadata().index when the log is empty.
  virtual index_t last_index() const = 0;
  // The term of the entry spanning `index`, the snapshot's term at its index,
  // nullopt outside [snapshot index, last_index()].
  virtual std::optional<term_t> term_at(index_t index) const = 0;
  // Whole entries starting with the one spanning `from`, in order, up to
  // `max_bytes` of data (at least one entry), none starting after `last`
  // (the last one may end after it).
  virtual base::result<std::vector<entry>> read(index_t from, index_t last,
                                                size_t max_bytes) const = 0;
};

}  // namespace sluice::raft
