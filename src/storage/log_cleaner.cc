#include "storage/log_cleaner.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "protocol/record_batch.h"
#include "storage/segment.h"

namespace sluice::storage {
namespace {

using segment_list = std::vector<std::shared_ptr<segment>>;

io_error corrupt(const std::string& where, const std::string& why) {
  return {EBADMSG, "compact " + where + ": " + why};
}

// ---------------------------------------------------------------------------
// Reading a segment.

// The batches of one segment, oldest first, read about `chunk_bytes` at a
// time (a larger batch whole).
class batch_cursor {
 public:
  batch_cursor(segment& seg, size_t chunk_bytes)
      : seg_(seg), chunk_bytes_(chunk_bytes), next_offset_(seg.base_offset()) {}

  // The next batch; nullopt at the end of the segment.
  io_result<std::optional<protocol::record_batch>> next() {
    while (index_ == batches_.size()) {
      auto range = seg_.read(next_offset_, chunk_bytes_);
      if (!range) return base::unexpected(range.error());
      if (!*range) return std::optional<protocol::record_batch>{};
      auto bytes = seg_.read_range(**range);
      if (!bytes) return base::unexpected(bytes.error());
      auto batches = protocol::split_batches(*bytes);
      if (!batches) {
        return base::unexpected(
            corrupt(segment_file_name(seg_.base_offset(), log_extension), batches.error().message));
      }
      batches_ = std::move(*batches);
      index_ = 0;
      next_offset_ = (*range)->last_offset + 1;
    }
    return std::optional<protocol::record_batch>(batches_[index_++]);
  }

 private:
  segment& seg_;
  size_t chunk_bytes_;
  int64_t next_offset_;
  std::vector<protocol::record_batch> batches_;
  size_t index_ = 0;
};

// The records of `batch`, or EBADMSG.
io_result<std::vector<protocol::record>> records_of(const protocol::record_batch& batch,
                                                    const cleaner_limits& limits) {
  auto records = protocol::decode_records(batch, limits.max_decompressed_batch_bytes);
  if (!records) {
    return base::unexpected(corrupt("batch at offset " + std::to_string(batch.header().base_offset),
                                    records.error().message));
  }
  return std::move(*records);
}

// ---------------------------------------------------------------------------
// Keys.

struct key_digest {
  uint64_t high = 0;
  uint64_t low = 0;
  friend bool operator==(const key_digest&, const key_digest&) = default;
};

// SipHash-2-4 with its 128-bit output, keyed at random for each run: the map
// stores digests, not keys, so two keys with one digest would lose a record.
// 128 bits make that as unlikely as Kafka's MD5 does by chance, and the
// secret key stops a producer from choosing colliding keys.
class key_hasher {
 public:
  key_hasher() {
    std::random_device random;
    k0_ = (uint64_t{random()} << 32) | random();
    k1_ = (uint64_t{random()} << 32) | random();
  }

  key_digest operator()(std::span<const uint8_t> key) const {
    uint64_t v[4] = {k0_ ^ 0x736f6d6570736575ULL, k1_ ^ 0x646f72616e646f6dULL,
                     k0_ ^ 0x6c7967656e657261ULL, k1_ ^ 0x7465646279746573ULL};
    v[1] ^= 0xee;
    size_t whole = key.size() & ~size_t{7};
    for (size_t at = 0; at < whole; at += 8) absorb(v, load_le(key.data() + at, 8));
    absorb(v, load_le(key.data() + whole, key.size() - whole) | (uint64_t{key.size()} << 56));
    v[2] ^= 0xee;
    rounds(v, 4);
    key_digest d;
    d.low = v[0] ^ v[1] ^ v[2] ^ v[3];
    v[1] ^= 0xdd;
    rounds(v, 4);
    d.high = v[0] ^ v[1] ^ v[2] ^ v[3];
    return d;
  }

 private:
  static uint64_t load_le(const uint8_t* p, size_t n) {
    uint64_t word = 0;
    for (size_t i = 0; i < n; ++i) word |= uint64_t{p[i]} << (8 * i);
    return word;
  }
  static void rounds(uint64_t (&v)[4], int n) {
    for (int i = 0; i < n; ++i) {
      v[0] += v[1];
      v[1] = std::rotl(v[1], 13) ^ v[0];
      v[0] = std::rotl(v[0], 32);
      v[2] += v[3];
      v[3] = std::rotl(v[3], 16) ^ v[2];
      v[0] += v[3];
      v[3] = std::rotl(v[3], 21) ^ v[0];
      v[2] += v[1];
      v[1] = std::rotl(v[1], 17) ^ v[2];
      v[2] = std::rotl(v[2], 32);
    }
  }
  static void absorb(uint64_t (&v)[4], uint64_t word) {
    v[3] ^= word;
    rounds(v, 2);
    v[0] ^= word;
  }

  uint64_t k0_ = 0;
  uint64_t k1_ = 0;
};

// Key digest -> the latest offset of that key in the dirty section, in one
// fixed table (open addressing, linear probing) filled to at most 90%, as
// Kafka's SkimpyOffsetMap: its memory is known before the run starts.
class offset_map {
 public:
  struct slot {
    key_digest digest;
    int64_t offset = -1;  // -1: empty
  };

  explicit offset_map(size_t slots)
      : slots_(std::max<size_t>(slots, 2)),
        limit_(slots_.size() - std::max<size_t>(slots_.size() / 10, 1)) {}

  // False, changing nothing, when the key is new and the map is full.
  bool put(const key_digest& digest, int64_t offset) {
    slot& s = slots_[find(digest)];
    if (s.offset < 0) {
      if (used_ == limit_) return false;
      ++used_;
      s.digest = digest;
    }
    s.offset = std::max(s.offset, offset);
    return true;
  }

  // The latest offset of the key; -1 when it is not in the map.
  int64_t get(const key_digest& digest) const { return slots_[find(digest)].offset; }

 private:
  // The key's slot, or the empty one where it would go; the table always
  // keeps an empty slot, so the probe ends.
  size_t find(const key_digest& digest) const {
    size_t i = digest.low % slots_.size();
    while (slots_[i].offset >= 0 && !(slots_[i].digest == digest)) {
      i = i + 1 == slots_.size() ? 0 : i + 1;
    }
    return i;
  }

  std::vector<slot> slots_;
  size_t limit_;
  size_t used_ = 0;
};

// ---------------------------------------------------------------------------
// Transactions.

struct offset_span {
  int64_t first = 0;
  int64_t last = 0;  // inclusive: the marker's offset
};

// What cleaning needs to know of transactions, from one pass over the batch
// headers (and the markers' records), oldest first: which data batches an
// ABORT marker ended, where the oldest transaction without a marker yet
// starts, and each producer's last data batch.
class transaction_index {
 public:
  io_result<void> add(const protocol::record_batch& batch, const cleaner_limits& limits) {
    const protocol::batch_header& h = batch.header();
    if (h.producer_id < 0) return {};
    if (!h.is_control()) {
      last_batch_[h.producer_id] = h.last_offset();
      if (h.is_transactional()) open_.try_emplace(h.producer_id, h.base_offset);
      return {};
    }
    if (!h.is_transactional()) return {};
    auto records = records_of(batch, limits);
    if (!records) return base::unexpected(records.error());
    if (records->empty() || !records->front().key) return {};
    auto key = protocol::decode_control_record_key(records->front().key->span());
    if (!key)
      return base::unexpected(
          corrupt("marker at offset " + std::to_string(h.base_offset), key.error().message));
    auto type = key->type;
    if (type != protocol::control_record_type::abort &&
        type != protocol::control_record_type::commit) {
      return {};
    }
    auto open = open_.find(h.producer_id);
    // A marker with no data before it ended a transaction that wrote nothing
    // here, or whose data retention already removed.
    if (open == open_.end()) return {};
    if (type == protocol::control_record_type::abort) {
      aborted_[h.producer_id].push_back({open->second, h.base_offset});
    }
    open_.erase(open);
    return {};
  }

  bool any_open() const { return !open_.empty(); }

  // The first offset of the oldest transaction without a marker.
  int64_t first_open_offset() const {
    int64_t first = no_limit;
    for (const auto& [producer, offset] : open_) first = std::min(first, offset);
    return first;
  }

  bool aborted(const protocol::batch_header& h) const {
    if (!h.is_transactional() || h.is_control()) return false;
    auto spans = aborted_.find(h.producer_id);
    if (spans == aborted_.end()) return false;
    // Spans of one producer follow each other: the last that starts at or
    // before the batch is the only one that may hold it.
    auto after = std::upper_bound(
        spans->second.begin(), spans->second.end(), h.base_offset,
        [](int64_t offset, const offset_span& span) { return offset < span.first; });
    return after != spans->second.begin() && std::prev(after)->last >= h.base_offset;
  }

  // Kafka keeps a producer's last batch even with no record left, so that
  // its id, epoch and sequence survive for whoever rebuilds producer state
  // from the log.
  bool last_of_producer(const protocol::batch_header& h) const {
    auto last = last_batch_.find(h.producer_id);
    return last != last_batch_.end() && last->second == h.last_offset();
  }

 private:
  std::unordered_map<int64_t, int64_t> open_;  // producer id -> first offset
  std::unordered_map<int64_t, std::vector<offset_span>> aborted_;
  std::unordered_map<int64_t, int64_t> last_batch_;  // producer id -> last offset
};

// The transactions of the log, from its first segment to `segments[scan_end]`
// and beyond while transactions stay open (their markers may be anywhere
// later, the active segment included). Also counts the records of each
// segment read, to size the offset map.
struct transaction_scan {
  transaction_index index;
  std::vector<uint64_t> records;  // per segment read
};

io_result<transaction_scan> scan_transactions(partition_log& log, const segment_list& segments,
                                              size_t scan_end, const cleaner_limits& limits) {
  transaction_scan scan;
  for (size_t i = 0; i < segments.size() && (i < scan_end || scan.index.any_open()); ++i) {
    batch_cursor cursor(*segments[i], limits.io_buffer_bytes);
    uint64_t records = 0;
    while (true) {
      auto batch = cursor.next();
      if (!batch) return base::unexpected(batch.error());
      if (!*batch) break;
      records += static_cast<uint64_t>(std::max((*batch)->header().records_count, 0));
      auto added = scan.index.add(**batch, limits);
      if (!added) return base::unexpected(added.error());
    }
    scan.records.push_back(records);
  }
  // The rest of the log, through its reads: the segments there may roll or
  // go while this runs.
  int64_t offset = segments.back()->next_offset();
  while (scan.index.any_open()) {
    auto slice = log.read(offset, limits.io_buffer_bytes);
    // Below the log start now: what stays open keeps the cleaning short.
    if (!slice && slice.error().code == ERANGE) break;
    if (!slice) return base::unexpected(slice.error());
    if (!*slice) break;
    auto bytes = (*slice)->read();
    if (!bytes) return base::unexpected(bytes.error());
    auto batches = protocol::split_batches(*bytes);
    if (!batches) return base::unexpected(corrupt(log.directory(), batches.error().message));
    for (const auto& batch : *batches) {
      auto added = scan.index.add(batch, limits);
      if (!added) return base::unexpected(added.error());
    }
    offset = (*slice)->range().last_offset + 1;
  }
  return scan;
}

// ---------------------------------------------------------------------------
// What to clean.

// Bytes of the segments [0, count): those wholly before `first_dirty` are
// clean, the others dirty.
struct byte_split {
  uint64_t clean = 0;
  uint64_t dirty = 0;

  double ratio() const {
    uint64_t total = clean + dirty;
    return total == 0 ? 0.0 : static_cast<double>(dirty) / static_cast<double>(total);
  }
};

byte_split split_bytes(const segment_list& segments, size_t count, int64_t first_dirty) {
  byte_split split;
  for (size_t i = 0; i < count; ++i) {
    (segments[i]->next_offset() > first_dirty ? split.dirty : split.clean) +=
        segments[i]->size_bytes();
  }
  return split;
}

bool worth_cleaning(const segment_list& segments, size_t count, int64_t first_dirty,
                    double min_ratio) {
  byte_split split = split_bytes(segments, count, first_dirty);
  return split.dirty > 0 && split.ratio() >= min_ratio;
}

// How many segments, from the first, hold no record younger than the lag.
size_t segments_past_lag(const segment_list& segments, int64_t lag_ms, int64_t now) {
  if (lag_ms <= 0) return segments.size();
  size_t i = 0;
  while (i < segments.size() && segments[i]->max_timestamp() <= now - lag_ms) ++i;
  return i;
}

// The index of the first segment with dirty records.
size_t first_dirty_segment(const segment_list& segments, int64_t first_dirty) {
  size_t i = 0;
  while (i < segments.size() && segments[i]->next_offset() <= first_dirty) ++i;
  return i;
}

// ---------------------------------------------------------------------------
// One run.

struct run_context {
  const log_config& config;
  const cleaner_limits& limits;
  const transaction_index& transactions;
  key_hasher hash;
  int64_t now;
  int64_t delete_horizon;  // for tombstones kept for the first time
};

// Where the dirty section that fits the map ends: before segment
// `end_segment`, and the next run starts at `next_dirty`.
struct dirty_extent {
  size_t end_segment = 0;
  int64_t next_dirty = 0;
};

// Pass 1: the latest offset of every key in the dirty section, segments
// [first, cleanable), from `first_dirty` on.
io_result<dirty_extent> build_offset_map(const segment_list& segments, size_t first,
                                         size_t cleanable, int64_t first_dirty,
                                         const run_context& run, offset_map& map) {
  for (size_t i = first; i < cleanable; ++i) {
    batch_cursor cursor(*segments[i], run.limits.io_buffer_bytes);
    while (true) {
      auto batch = cursor.next();
      if (!batch) return base::unexpected(batch.error());
      if (!*batch) break;
      const auto& h = (*batch)->header();
      // Aborted records overwrite nothing; markers have no key to compact.
      if (h.last_offset() < first_dirty || h.is_control() || run.transactions.aborted(h)) continue;
      auto records = records_of(**batch, run.limits);
      if (!records) return base::unexpected(records.error());
      for (const auto& r : *records) {
        int64_t offset = r.offset(h);
        if (offset < first_dirty || !r.key) continue;
        if (map.put(run.hash(r.key->span()), offset)) continue;
        // Full. The keys of this segment already in the map name real,
        // later records, so older ones may still go; but the section ends
        // before this segment — or, when not even one segment fits, at this
        // record (the map always takes one key), so that every run makes
        // progress.
        if (i > first) return dirty_extent{i, segments[i]->base_offset()};
        return dirty_extent{i + 1, offset};
      }
    }
  }
  int64_t end = cleanable < segments.size() ? segments[cleanable]->base_offset()
                                            : segments.back()->next_offset();
  return dirty_extent{cleanable, end};
}

// What becomes of one batch in pass 2.
struct batch_outcome {
  enum class kind { keep, drop, rewrite } what = kind::keep;
  std::vector<uint8_t> rewritten;
  uint64_t records_removed = 0;
};

bool keeps_record(const protocol::batch_header& h, const protocol::record& r, const offset_map& map,
                  const run_context& run) {
  // Without a key there is nothing to compact it by.
  if (!r.key) return true;
  if (map.get(run.hash(r.key->span())) > r.offset(h)) return false;
  // A tombstone stays until the horizon its first cleaning set (KIP-534), so
  // that consumers behind see the delete.
  if (!r.value) return !h.has_delete_horizon() || run.now < h.base_timestamp;
  return true;
}

io_result<batch_outcome> clean_batch(const protocol::record_batch& batch, const offset_map& map,
                                     const run_context& run) {
  const auto& h = batch.header();
  batch_outcome out;
  // Control batches stay, even past the delete horizon (where Kafka removes
  // markers whose transaction has nothing left): simpler, and always right
  // for read_committed consumers, who never miss a marker this way.
  if (h.is_control()) return out;
  const bool keep_empty = h.producer_id >= 0 && run.transactions.last_of_producer(h);
  std::vector<protocol::record> kept;
  bool tombstone_kept = false;
  if (run.transactions.aborted(h)) {
    out.records_removed = static_cast<uint64_t>(std::max(h.records_count, 0));
  } else {
    auto records = records_of(batch, run.limits);
    if (!records) return base::unexpected(records.error());
    for (auto& r : *records) {
      if (!keeps_record(h, r, map, run)) {
        ++out.records_removed;
        continue;
      }
      tombstone_kept = tombstone_kept || !r.value;
      kept.push_back(std::move(r));
    }
  }
  if (kept.empty() && !keep_empty) {
    out.what = batch_outcome::kind::drop;
    return out;
  }
  const bool sets_horizon = tombstone_kept && !h.has_delete_horizon();
  if (out.records_removed == 0 && !sets_horizon) return out;  // byte for byte
  protocol::rewrite_options options;
  if (sets_horizon) options.delete_horizon_ms = run.delete_horizon;
  auto rewritten = protocol::rewrite_batch(batch, kept, options);
  if (!rewritten) {
    return base::unexpected(
        corrupt("batch at offset " + std::to_string(h.base_offset), rewritten.error().message));
  }
  out.what = batch_outcome::kind::rewrite;
  out.rewritten = std::move(*rewritten);
  return out;
}

// Consecutive segments [first, end) of `segments` cleaned into one.
struct segment_group {
  size_t first = 0;
  size_t end = 0;
};

// An upper bound on the index entries of `seg` once merged with others: at
// most one more than it has (index_bytes() / 8 bounds its offset index),
// since merging shifts the points where entries fall.
uint64_t merged_index_entries(const segment& seg) {
  return seg.index_bytes() / offset_index::entry_size + 1;
}

// Groups the segments [0, count) so that each group, cleaned, still fits a
// segment: segment.bytes by the sizes before cleaning (records only go),
// segment.index.bytes by the entries its indexes may get (each time-index
// entry comes with an offset-index entry, and is the larger), and offsets
// within 2^31-1 of its base.
std::vector<segment_group> group_segments(const segment_list& segments, size_t count,
                                          const log_config& config) {
  constexpr int64_t max_relative_offset = std::numeric_limits<int32_t>::max();
  const uint64_t max_entries = config.segment_index_bytes / time_index::entry_size;
  std::vector<segment_group> groups;
  for (size_t i = 0; i < count;) {
    segment_group g{i, i + 1};
    uint64_t bytes = segments[i]->size_bytes();
    uint64_t entries = merged_index_entries(*segments[i]);
    while (g.end < count) {
      const segment& next = *segments[g.end];
      if (bytes + next.size_bytes() > config.segment_bytes ||
          entries + merged_index_entries(next) > max_entries ||
          next.next_offset() - 1 - segments[i]->base_offset() > max_relative_offset) {
        break;
      }
      bytes += next.size_bytes();
      entries += merged_index_entries(next);
      ++g.end;
    }
    groups.push_back(g);
    i = g.end;
  }
  return groups;
}

// Pass 2 for one group: its cleaned segment, written, flushed and closed in
// the cleaning directory.
io_result<void> clean_group(partition_log& log, const segment_list& segments, segment_group group,
                            const offset_map& map, const run_context& run,
                            compaction_stats& stats) {
  auto created = segment::create(log.fs(), log.cleaning_directory(),
                                 segments[group.first]->base_offset(), run.config.segment());
  if (!created) return base::unexpected(created.error());
  std::unique_ptr<segment> out = std::move(*created);
  std::vector<uint8_t> pending;
  auto write_pending = [&]() -> io_result<void> {
    auto appended = out->append(pending);
    pending.clear();
    return appended;
  };
  for (size_t i = group.first; i < group.end; ++i) {
    batch_cursor cursor(*segments[i], run.limits.io_buffer_bytes);
    while (true) {
      auto batch = cursor.next();
      if (!batch) return base::unexpected(batch.error());
      if (!*batch) break;
      // Never carry a damaged batch into a segment nobody will check again.
      if (auto crc = protocol::verify_crc(**batch); !crc) {
        return base::unexpected(
            corrupt("batch at offset " + std::to_string((*batch)->header().base_offset),
                    crc.error().message));
      }
      auto outcome = clean_batch(**batch, map, run);
      if (!outcome) return base::unexpected(outcome.error());
      stats.records_removed += outcome->records_removed;
      std::span<const uint8_t> bytes;
      if (outcome->what == batch_outcome::kind::keep) bytes = (*batch)->bytes().span();
      if (outcome->what == batch_outcome::kind::rewrite) bytes = outcome->rewritten;
      pending.insert(pending.end(), bytes.begin(), bytes.end());
      if (pending.size() >= run.limits.io_buffer_bytes) {
        auto written = write_pending();
        if (!written) return written;
      }
    }
  }
  auto written = write_pending();
  if (!written) return written;
  auto flushed = out->flush();
  if (!flushed) return flushed;
  stats.bytes_after += out->size_bytes();
  return {};
}

int64_t saturating_add(int64_t a, int64_t b) {
  int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) return b > 0 ? no_limit : 0;
  return sum;
}

// The passes and the swap, once the log is known to be due.
io_result<compaction_stats> clean(partition_log& log, const segment_list& segments,
                                  int64_t first_dirty, size_t cleanable,
                                  const transaction_scan& scan, const log_config& config,
                                  int64_t now, const cleaner_limits& limits) {
  run_context run{
      config,       limits, scan.index,
      key_hasher(), now,    saturating_add(now, std::max<int64_t>(config.delete_retention_ms, 0))};
  const size_t first = first_dirty_segment(segments, first_dirty);
  uint64_t dirty_records = 0;
  for (size_t i = first; i < cleanable; ++i) dirty_records += scan.records[i];
  // No larger than the dirty section needs (with the tenth the map keeps
  // free): most runs need far less than the whole buffer.
  offset_map map(static_cast<size_t>(std::min<uint64_t>(
      limits.dedupe_buffer_bytes / sizeof(offset_map::slot), dirty_records * 10 / 9 + 2)));
  auto extent = build_offset_map(segments, first, cleanable, first_dirty, run, map);
  if (!extent) return base::unexpected(extent.error());

  compaction_stats stats;
  stats.first_dirty_offset = first_dirty;
  auto leftover = remove_all(log.fs(), log.cleaning_directory());
  if (!leftover) return base::unexpected(leftover.error());
  auto made = log.fs().create_directories(log.cleaning_directory());
  if (!made) return base::unexpected(made.error());
  std::vector<int64_t> cleaned;
  for (const segment_group& group : group_segments(segments, extent->end_segment, config)) {
    auto done = clean_group(log, segments, group, map, run, stats);
    if (!done) return base::unexpected(done.error());
    cleaned.push_back(segments[group.first]->base_offset());
  }
  segment_list replaced(segments.begin(),
                        segments.begin() + static_cast<ptrdiff_t>(extent->end_segment));
  for (const auto& seg : replaced) stats.bytes_before += seg->size_bytes();

  auto swapped = log.replace_segments(replaced, cleaned);
  if (!swapped && swapped.error().code == ESTALE) {
    auto removed = remove_all(log.fs(), log.cleaning_directory());
    if (!removed) return base::unexpected(removed.error());
    return compaction_stats{.first_dirty_offset = first_dirty};
  }
  if (!swapped) return base::unexpected(swapped.error());
  stats.compacted = true;
  stats.first_dirty_offset = extent->next_dirty;
  stats.segments_before = replaced.size();
  stats.segments_after = cleaned.size();
  return stats;
}

}  // namespace

double dirty_ratio(partition_log& log, int64_t first_dirty_offset) {
  segment_list segments = log.inactive_segments();
  return split_bytes(segments, segments.size(), first_dirty_offset).ratio();
}

io_result<compaction_stats> compact_if_due(partition_log& log, int64_t first_dirty_offset,
                                           int64_t now_ms, const cleaner_limits& limits) {
  const log_config config = log.config();
  // Past the end, the offset is from before a truncation: what was cleaned
  // there is gone, so everything counts as dirty again.
  if (first_dirty_offset > log.log_end_offset()) first_dirty_offset = 0;
  compaction_stats not_due{.first_dirty_offset = first_dirty_offset};
  if (config.policy == cleanup_policy::remove) return not_due;
  segment_list segments = log.inactive_segments();
  const double min_ratio = config.min_cleanable_dirty_ratio;

  // Cheap checks first, on the segment sizes alone: the cleanable part only
  // shrinks once transactions are known.
  size_t cleanable = segments_past_lag(segments, config.min_compaction_lag_ms, now_ms);
  if (!worth_cleaning(segments, cleanable, first_dirty_offset, min_ratio)) return not_due;
  auto scan = scan_transactions(log, segments, cleanable, limits);
  if (!scan) return base::unexpected(scan.error());
  const int64_t first_open = scan->index.first_open_offset();
  size_t before_open = 0;
  while (before_open < cleanable && segments[before_open]->next_offset() <= first_open) {
    ++before_open;
  }
  cleanable = before_open;
  if (!worth_cleaning(segments, cleanable, first_dirty_offset, min_ratio)) return not_due;

  auto cleaned = clean(log, segments, first_dirty_offset, cleanable, *scan, config, now_ms, limits);
  if (!cleaned) {
    // Best effort: the next run starts by removing it anyway.
    static_cast<void>(remove_all(log.fs(), log.cleaning_directory()));
  }
  return cleaned;
}

}  // namespace sluice::storage
