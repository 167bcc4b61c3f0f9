#include "coordinator/producer_state.h"

#include <algorithm>
#include <cerrno>
#include <limits>
#include <utility>

#include "base/byte_reader.h"
#include "base/byte_writer.h"
#include "base/crc32c.h"
#include "base/endian.h"
#include "storage/atomic_write.h"
#include "storage/segment.h"

// The snapshot format (big-endian), Sluice's own: Kafka's keeps only each
// producer's newest batch, which would lose the deduplication of the four
// before it across a restart.
//
//   int16  version (1)
//   uint32 CRC-32C of everything after it
//   int32  producer count
//   per producer:
//     int64 producer id, int16 epoch, int64 last timestamp,
//     int8  batch count (0..5), per batch:
//       int32 first sequence, int32 last sequence,
//       int64 first offset, int64 last offset, int64 max timestamp

namespace sluice::coordinator {
namespace {

constexpr int16_t snapshot_version = 1;
constexpr size_t snapshot_header_size = 2 + 4 + 4;
constexpr size_t producer_fixed_size = 8 + 2 + 8 + 1;
constexpr size_t batch_size = 4 + 4 + 8 + 8 + 8;
constexpr std::string_view snapshot_extension = ".snapshot";
// How much of the log one read takes while replaying.
constexpr size_t replay_chunk_bytes = 1 << 20;
// Snapshots kept after a write: the newest, and one in case it is unreadable.
constexpr size_t snapshots_kept = 2;

// Kafka's DefaultRecordBatch.incrementSequence: sequences run 0..INT32_MAX
// and then start over at 0.
int32_t increment_sequence(int32_t sequence, int32_t increment) {
  if (sequence > std::numeric_limits<int32_t>::max() - increment) {
    return increment - (std::numeric_limits<int32_t>::max() - sequence) - 1;
  }
  return sequence + increment;
}

int32_t last_sequence_of(const protocol::batch_header& batch) {
  if (batch.base_sequence < 0) return batch.base_sequence;
  return increment_sequence(batch.base_sequence, batch.last_offset_delta);
}

// Kafka's ProducerStateManager.inSequence, in 64 bits so that -1 (no batch
// yet) is followed by 0.
bool in_sequence(int32_t last, int32_t next) {
  return int64_t{next} == int64_t{last} + 1 ||
         (next == 0 && last == std::numeric_limits<int32_t>::max());
}

std::string describe(const protocol::batch_header& batch) {
  return "producer " + std::to_string(batch.producer_id) + " epoch " +
         std::to_string(batch.producer_epoch) + " sequences " +
         std::to_string(batch.base_sequence) + ".." + std::to_string(last_sequence_of(batch));
}

std::vector<int64_t> list_snapshot_offsets(const std::vector<std::string>& names) {
  std::vector<int64_t> offsets;
  for (const auto& name : names) {
    if (auto offset = storage::parse_segment_file_name(name, snapshot_extension)) {
      offsets.push_back(*offset);
    }
  }
  std::sort(offsets.begin(), offsets.end());
  return offsets;
}

std::string snapshot_path(const storage::partition_log& log, int64_t offset) {
  return log.directory() + "/" + storage::segment_file_name(offset, snapshot_extension);
}

storage::io_result<std::vector<uint8_t>> read_whole_file(storage::file_system& fs,
                                                         const std::string& path) {
  auto opened = fs.open(path, storage::open_mode::read_only);
  if (!opened) return base::unexpected(opened.error());
  auto size = (*opened)->size();
  if (!size) return base::unexpected(size.error());
  std::vector<uint8_t> bytes(*size);
  auto n = (*opened)->read_at(0, bytes);
  if (!n) return base::unexpected(n.error());
  bytes.resize(*n);
  return bytes;
}

}  // namespace

protocol::error_code sequence_check::error() const {
  switch (outcome) {
    case verdict::accept:
    case verdict::duplicate:
      return protocol::error_code::none;
    case verdict::out_of_order:
      return protocol::error_code::out_of_order_sequence_number;
    case verdict::invalid_epoch:
      return protocol::error_code::invalid_producer_epoch;
  }
  return protocol::error_code::none;
}

sequence_check producer_state::check(const protocol::batch_header& batch) const {
  sequence_check result;
  if (batch.producer_id < 0) return result;
  auto found = producers_.find(batch.producer_id);
  // An unknown producer (new, or expired, or its batches gone with
  // retention) may start at any sequence: Kafka >= 2.5 accepts it rather
  // than fail a producer whose state the broker lost.
  if (found == producers_.end()) return result;
  const producer_entry& entry = found->second;
  const int32_t first = batch.base_sequence;
  const int32_t last = last_sequence_of(batch);

  // A retry of a batch already written (Kafka looks before any other check).
  if (batch.producer_epoch == entry.epoch) {
    for (const auto& kept : entry.batches) {
      if (kept.first_sequence == first && kept.last_sequence == last) {
        result.outcome = sequence_check::verdict::duplicate;
        result.original = kept;
        return result;
      }
    }
  }

  if (batch.producer_epoch < entry.epoch) {
    result.outcome = sequence_check::verdict::invalid_epoch;
    result.message = describe(batch) + ": epoch " + std::to_string(batch.producer_epoch) +
                     " is older than the producer's current epoch " + std::to_string(entry.epoch);
    return result;
  }

  if (batch.producer_epoch != entry.epoch) {
    // A new epoch (the producer was fenced or bumped its epoch) starts over
    // at 0, unless the entry never had an epoch.
    if (first != 0 && entry.epoch >= 0) {
      result.outcome = sequence_check::verdict::out_of_order;
      result.message = describe(batch) + ": a new epoch must start at sequence 0";
    }
    return result;
  }

  const int32_t current_last = entry.batches.empty() ? -1 : entry.batches.back().last_sequence;
  if (!in_sequence(current_last, first)) {
    result.outcome = sequence_check::verdict::out_of_order;
    result.message = describe(batch) + ": expected sequence " +
                     std::to_string(increment_sequence(current_last, 1));
  }
  return result;
}

void producer_state::update(const protocol::batch_header& appended) {
  if (appended.producer_id < 0 || appended.is_control()) return;
  producer_entry& entry = producers_[appended.producer_id];
  entry.producer_id = appended.producer_id;
  if (entry.epoch != appended.producer_epoch) {
    // A new epoch's sequences start over: the old batches can no longer be
    // told apart from new ones.
    entry.batches.clear();
    entry.epoch = appended.producer_epoch;
  }
  if (entry.batches.size() == batches_kept) entry.batches.pop_front();
  entry.batches.push_back({appended.base_sequence, last_sequence_of(appended), appended.base_offset,
                           appended.last_offset(), appended.max_timestamp});
  entry.last_timestamp = appended.max_timestamp;
}

void producer_state::expire(int64_t now_ms, int64_t expiration_ms) {
  std::erase_if(producers_, [&](const auto& item) {
    int64_t last = item.second.last_timestamp;
    if (last > now_ms) return false;
    // Unsigned, so that a wild timestamp cannot overflow the difference.
    uint64_t age = static_cast<uint64_t>(now_ms) - static_cast<uint64_t>(last);
    return expiration_ms >= 0 && age >= static_cast<uint64_t>(expiration_ms);
  });
}

const producer_entry* producer_state::find(int64_t producer_id) const {
  auto found = producers_.find(producer_id);
  return found == producers_.end() ? nullptr : &found->second;
}

std::vector<uint8_t> producer_state::encode_snapshot() const {
  // In producer id order, so equal states give equal bytes.
  std::vector<const producer_entry*> entries;
  entries.reserve(producers_.size());
  for (const auto& [id, entry] : producers_) entries.push_back(&entry);
  std::sort(entries.begin(), entries.end(),
            [](const auto* a, const auto* b) { return a->producer_id < b->producer_id; });

  base::byte_writer out;
  out.write_int16(snapshot_version);
  out.write_uint32(0);  // the CRC, once the rest is written
  out.write_int32(static_cast<int32_t>(entries.size()));
  for (const producer_entry* entry : entries) {
    out.write_int64(entry->producer_id);
    out.write_int16(entry->epoch);
    out.write_int64(entry->last_timestamp);
    out.write_int8(static_cast<int8_t>(entry->batches.size()));
    for (const auto& batch : entry->batches) {
      out.write_int32(batch.first_sequence);
      out.write_int32(batch.last_sequence);
      out.write_int64(batch.first_offset);
      out.write_int64(batch.last_offset);
      out.write_int64(batch.max_timestamp);
    }
  }
  std::vector<uint8_t> bytes = out.take();
  uint32_t crc = base::crc32c::value(bytes.data() + 6, bytes.size() - 6);
  base::store_be(bytes.data() + 2, crc);
  return bytes;
}

base::result<producer_state> producer_state::decode_snapshot(std::span<const uint8_t> bytes) {
  if (bytes.size() < snapshot_header_size) {
    return base::fail("producer snapshot: " + std::to_string(bytes.size()) +
                      " bytes, too short for its header (cut short?)");
  }
  base::byte_reader in(base::shared_bytes::copy_of(bytes));
  int16_t version = in.read_int16();
  if (version != snapshot_version) {
    return base::fail("producer snapshot: version " + std::to_string(version) +
                      " is not supported (expected " + std::to_string(snapshot_version) + ")");
  }
  uint32_t stored_crc = in.read_uint32();
  uint32_t crc = base::crc32c::value(bytes.data() + 6, bytes.size() - 6);
  if (crc != stored_crc) {
    return base::fail("producer snapshot: CRC-32C mismatch (stored " + std::to_string(stored_crc) +
                      ", computed " + std::to_string(crc) + "): corrupt or cut short");
  }
  int32_t count = in.read_int32();
  // Checked against the bytes there, so a bad count allocates nothing.
  if (count < 0 || static_cast<size_t>(count) > in.remaining() / producer_fixed_size) {
    return base::fail("producer snapshot: producer count " + std::to_string(count) +
                      " does not fit in " + std::to_string(bytes.size()) + " bytes");
  }
  producer_state state;
  for (int32_t i = 0; i < count; ++i) {
    producer_entry entry;
    entry.producer_id = in.read_int64();
    entry.epoch = in.read_int16();
    entry.last_timestamp = in.read_int64();
    int8_t batches = in.read_int8();
    if (!in.ok()) break;
    if (entry.producer_id < 0 || batches < 0 || static_cast<size_t>(batches) > batches_kept) {
      return base::fail("producer snapshot: producer " + std::to_string(i) +
                        " has an invalid id or batch count");
    }
    for (int8_t b = 0; b < batches; ++b) {
      producer_batch batch;
      batch.first_sequence = in.read_int32();
      batch.last_sequence = in.read_int32();
      batch.first_offset = in.read_int64();
      batch.last_offset = in.read_int64();
      batch.max_timestamp = in.read_int64();
      entry.batches.push_back(batch);
    }
    if (!in.ok()) break;
    int64_t id = entry.producer_id;
    if (!state.producers_.emplace(id, std::move(entry)).second) {
      return base::fail("producer snapshot: producer " + std::to_string(id) + " appears twice");
    }
  }
  if (!in.ok()) {
    return base::fail(std::string("producer snapshot: ") + in.error() + " at byte " +
                      std::to_string(in.error_position()));
  }
  if (in.remaining() != 0) {
    return base::fail("producer snapshot: " + std::to_string(in.remaining()) +
                      " bytes left over after the last producer");
  }
  return state;
}

storage::io_result<producer_state> recover_producer_state(storage::partition_log& log) {
  storage::file_system& fs = log.fs();
  const std::string& directory = log.directory();
  const int64_t log_end = log.log_end_offset();
  auto names = fs.list(directory);
  if (!names) return base::unexpected(names.error());
  std::vector<int64_t> offsets = list_snapshot_offsets(*names);

  // Snapshots past the log end describe batches a truncation removed. They
  // go, durably: were one to come back after a crash once the log has grown
  // past its offset again, it would be taken for a state of the new batches.
  bool removed_any = false;
  while (!offsets.empty() && offsets.back() > log_end) {
    if (auto removed = fs.remove(snapshot_path(log, offsets.back())); !removed) {
      return base::unexpected(removed.error());
    }
    offsets.pop_back();
    removed_any = true;
  }
  if (removed_any) {
    if (auto synced = fs.sync_directory(directory); !synced)
      return base::unexpected(synced.error());
  }

  producer_state state;
  int64_t offset = -1;
  for (auto it = offsets.rbegin(); it != offsets.rend() && offset < 0; ++it) {
    auto bytes = read_whole_file(fs, snapshot_path(log, *it));
    if (!bytes) return base::unexpected(bytes.error());
    // A snapshot that does not decode is skipped: the older one, or the log
    // itself, rebuilds the same state, only slower.
    if (auto decoded = producer_state::decode_snapshot(*bytes); decoded) {
      state = std::move(decoded).value();
      offset = *it;
    }
  }
  if (offset < 0) offset = log.log_start_offset();

  while (offset < log_end) {
    auto slice = log.read(offset, replay_chunk_bytes, log_end);
    if (!slice && slice.error().code == ERANGE && offset < log.log_start_offset()) {
      // The snapshot is older than the log start (retention moved it up):
      // the batches in between are gone, the state from them is kept.
      offset = log.log_start_offset();
      continue;
    }
    if (!slice) return base::unexpected(slice.error());
    if (!*slice) break;
    auto bytes = (*slice)->read();
    if (!bytes) return base::unexpected(bytes.error());
    protocol::batch_splitter splitter(*bytes);
    int64_t next = offset;
    for (;;) {
      auto batch = splitter.next();
      if (!batch) {
        return base::unexpected(storage::make_io_error(
            EBADMSG, "replay producer state",
            directory + " (offset " + std::to_string(next) + ": " + batch.error().message + ")"));
      }
      if (!*batch) break;
      const protocol::batch_header& header = (*batch)->header();
      if (header.last_offset() < offset) continue;
      state.update(header);
      next = header.last_offset() + 1;
    }
    if (next <= offset) {
      return base::unexpected(storage::make_io_error(
          EBADMSG, "replay producer state",
          directory + " (no batch at offset " + std::to_string(offset) + ")"));
    }
    offset = next;
  }
  return state;
}

storage::io_result<void> write_producer_snapshot(storage::partition_log& log,
                                                 const producer_state& state, int64_t as_of) {
  storage::file_system& fs = log.fs();
  const std::string& directory = log.directory();
  const int64_t log_end = as_of;
  const std::string path = snapshot_path(log, log_end);
  const std::vector<uint8_t> bytes = state.encode_snapshot();
  // The directory is synced once below, for the new name and the removals
  // together: one directory fsync per snapshot, not two (every partition
  // writes one at shutdown). A crash before that sync may lose the new
  // snapshot, which recovery then rebuilds from an older one and the log.
  if (auto written =
          storage::write_file_atomically(fs, path, bytes, storage::directory_sync::by_caller);
      !written) {
    return written;
  }

  auto names = fs.list(directory);
  if (!names) return base::unexpected(names.error());
  std::vector<int64_t> offsets = list_snapshot_offsets(*names);
  // Snapshots past the log end (a truncation's leftovers) go too, so that
  // they are not counted as the newest.
  std::vector<int64_t> kept;
  for (int64_t offset : offsets) {
    if (offset <= log_end) {
      kept.push_back(offset);
    } else if (auto removed = fs.remove(snapshot_path(log, offset)); !removed) {
      return removed;
    }
  }
  for (size_t i = 0; i + snapshots_kept < kept.size(); ++i) {
    if (auto removed = fs.remove(snapshot_path(log, kept[i])); !removed) return removed;
  }
  // One directory sync makes the new name and the removals durable together.
  return fs.sync_directory(directory);
}

}  // namespace sluice::coordinator
