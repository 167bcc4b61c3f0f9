#pragma once

// leader_epoch_cache: which leader epoch wrote which offsets, as a list of
// (epoch, start offset) with both increasing — Kafka's LeaderEpochFileCache.
// Replication asks it for the end offset of an epoch (OffsetForLeaderEpoch)
// to find where a follower's log diverges; the Raft log uses the same with
// terms. It lives in the partition's `leader-epoch-checkpoint`, rewritten
// (atomically, see checkpoint_file.h) on every change, which is rare: once a
// leader change, truncation or log start move. A change shows in memory only
// once it is in the file: a call whose write fails changes nothing, so the
// caller can retry it.
//
// Not thread-safe: the partition log calls it under its own lock.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/checkpoint_file.h"
#include "storage/file_system.h"

namespace sluice::storage {

class leader_epoch_cache {
 public:
  static constexpr std::string_view file_name = "leader-epoch-checkpoint";

  // Loads `<directory>/leader-epoch-checkpoint`; a missing file is an empty
  // cache, a corrupt one fails (EBADMSG) and the caller starts empty. Entries
  // whose epochs or start offsets do not strictly increase are corrupt: no
  // sequence of calls below writes them.
  static io_result<leader_epoch_cache> load(file_system& fs, const std::string& directory);
  // An empty cache that writes to `<directory>/leader-epoch-checkpoint`.
  leader_epoch_cache(file_system& fs, const std::string& directory);

  // A batch of `epoch` was appended at `start_offset`. A new epoch greater
  // than the latest is added (and persisted); the same epoch again changes
  // nothing; an older epoch is ignored, as Kafka does (a leader never writes
  // an older epoch, and a follower copies the leader's log as it is). A new
  // epoch starting at or below the latest entries' start offsets replaces
  // them, as Kafka does, so start offsets stay strictly increasing. A
  // negative epoch or offset (a batch without a leader epoch) fails with
  // EINVAL: the caller filters those out.
  io_result<void> assign(int32_t epoch, int64_t start_offset);

  // The latest epoch, or nullopt when empty.
  std::optional<int32_t> latest_epoch() const;
  // OffsetForLeaderEpoch: for `epoch`, the largest epoch <= it and that
  // epoch's end offset — the start offset of the next epoch, or
  // `log_end_offset` for the latest. nullopt when `epoch` is below every
  // entry (UNDEFINED_EPOCH_OFFSET in Kafka).
  std::optional<epoch_start_offset> end_offset_for(int32_t epoch, int64_t log_end_offset) const;

  // Log truncation: drops entries starting at or after `offset`.
  io_result<void> truncate_from_end(int64_t offset);
  // Log start moved up: entries wholly below `offset` go, and the one that
  // covers `offset` now starts there.
  io_result<void> truncate_from_start(int64_t offset);

  const std::vector<epoch_start_offset>& entries() const { return entries_; }

 private:
  // Writes `next` to the file, then makes it the entries; a no-op when
  // nothing changed.
  io_result<void> replace(std::vector<epoch_start_offset> next);

  checkpoint_file file_;
  std::vector<epoch_start_offset> entries_;
};

}  // namespace sluice::storage
