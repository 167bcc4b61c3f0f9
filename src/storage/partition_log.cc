#include "storage/partition_log.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <utility>

#include "base/crc32c.h"
#include "base/rw_lock.h"
#include "protocol/record_batch.h"
#include "storage/leader_epoch_cache.h"
#include "storage/segment_swap.h"

namespace sluice::storage {

int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {

namespace layout = protocol::batch_layout;

// A group commit writes at most this much at once, so that one appender's
// wait stays bounded however many queue behind it; a single larger append
// is written alone.
constexpr size_t max_group_bytes = 16 << 20;
// Offsets of a segment are int32 relative to its base (index entries).
constexpr int64_t max_relative_offset = std::numeric_limits<int32_t>::max();
// Timestamp lookups decompress one batch; this bounds what that may produce.
constexpr size_t max_decompressed_batch_bytes = 256 << 20;

// One batch of an append, as check_batches found it.
struct checked_batch {
  size_t position = 0;  // in the append's bytes
  size_t size = 0;
  int64_t base_offset = 0;
  int32_t last_offset_delta = 0;
  int32_t records = 0;
  int32_t leader_epoch = -1;
};

io_error invalid(const std::string& directory, const std::string& why) {
  return {EINVAL, "append " + directory + ": " + why};
}

// Everything the log checks on its own before an append may join a group:
// whole batches, magic 2, CRC-32C, and for leader appends offsets contiguous
// within each batch. Bad input fails here, alone, and never reaches the disk.
io_result<std::vector<checked_batch>> check_batches(const std::string& directory,
                                                    std::span<const uint8_t> bytes,
                                                    const append_options& options) {
  if (bytes.empty()) return base::unexpected(invalid(directory, "no record batch to append"));
  std::vector<checked_batch> batches;
  for (size_t at = 0; at < bytes.size();) {
    auto header = protocol::parse_batch_header(bytes.subspan(at));
    if (!header) {
      return base::unexpected(invalid(
          directory, "batch at byte " + std::to_string(at) + ": " + header.error().message));
    }
    auto batch = bytes.subspan(at, header->size());
    if (options.verify_crc &&
        base::crc32c::value(batch.subspan(layout::crc_start)) != header->crc) {
      return base::unexpected(invalid(
          directory, "batch at byte " + std::to_string(at) + ": CRC-32C mismatch (corrupt batch)"));
    }
    if (header->last_offset_delta < 0 ||
        (options.assign_offsets && header->records_count != header->last_offset_delta + 1)) {
      return base::unexpected(invalid(directory, "batch at byte " + std::to_string(at) + " has " +
                                                     std::to_string(header->records_count) +
                                                     " records but a last offset delta of " +
                                                     std::to_string(header->last_offset_delta)));
    }
    batches.push_back({at, header->size(), header->base_offset, header->last_offset_delta,
                       header->records_count, header->partition_leader_epoch});
    at += header->size();
  }
  return batches;
}

// An append waiting in the queue. The appender at the front writes for
// everyone behind it and fills in their outcome.
struct pending_append {
  std::span<uint8_t> bytes;
  const append_options* options = nullptr;
  std::vector<checked_batch> batches;
  std::optional<io_result<append_result>> outcome;
  bool done = false;
  std::condition_variable wake;
};

std::string truncate_error(const std::string& directory, int64_t offset, const io_error& e) {
  return "truncate " + directory + " to offset " + std::to_string(offset) + ": " + e.message;
}

}  // namespace

struct partition_log::state {
  state(file_system& fs, std::string directory, log_open_options options, leader_epoch_cache epochs)
      : fs(fs),
        directory(std::move(directory)),
        clock(std::move(options.clock)),
        config(options.config),
        epochs(std::move(epochs)) {}

  // Under the writer lock, without the segment lock.
  io_result<void> roll(int64_t now);
  // Under the writer lock: writes `group` in one write, fsyncs if asked.
  void write_group(const std::vector<pending_append*>& group);
  io_result<void> flush_active();
  std::shared_ptr<segment> active() const { return segments.rbegin()->second; }
  int64_t log_end() const { return active()->next_offset(); }
  bool rolls_before(const log_config& cfg, const segment& active, size_t bytes, size_t batches,
                    int64_t last_offset, int64_t now) const;
  log_config config_snapshot() const {
    std::shared_lock lock(mu);
    return config;
  }
  // Reads the whole batch holding `offset` from `seg`.
  io_result<std::optional<protocol::record_batch>> batch_at(segment& seg, int64_t offset);

  file_system& fs;
  const std::string directory;
  const clock_function clock;

  // Guards the segment list and the offsets; readers share it, and it is held
  // exclusively only for memory updates and page-cache writes, never across
  // an fsync.
  mutable base::rw_lock mu;
  log_config config;
  std::map<int64_t, std::shared_ptr<segment>> segments;  // by base offset; never empty
  int64_t log_start_offset = 0;
  int64_t recovery_point = 0;
  // Counts truncations, so that sync() can tell whether the offsets it
  // fsynced are still the ones in the log when it raises the recovery point.
  uint64_t truncations = 0;
  leader_epoch_cache epochs;
  // The lowest log end a truncation left since take_truncation_point().
  int64_t lowest_truncation = no_limit;

  // Appenders queue here; the front one writes for the whole queue.
  std::mutex queue_mu;
  std::deque<pending_append*> queue;

  // Held by whoever changes the segments (the group's writer, roll,
  // truncation, retention, the cleaner's swap); it orders them, and an fsync
  // happens under it alone, so reads go on during one.
  std::mutex writer_mu;
  // One sync() fsync at a time; the callers behind it usually find their
  // records covered by it.
  std::mutex sync_mu;
  // The rest is the writer's, under writer_mu.
  int64_t unflushed_records = 0;
  int64_t first_unflushed_ms = -1;
  int64_t active_since_ms = -1;  // segment.ms counts from here; -1 while empty
  // Set when the log can no longer vouch for its files: an fsync failed (the
  // kernel may have dropped pages that a later fsync would not report, as
  // PostgreSQL and Kafka learned), a change failed half-way, or the log was
  // deleted. Every later change fails with it; reads go on. The broker takes
  // the log offline, and a restart recovers it from the disk.
  std::optional<io_error> failure;

  io_result<void> fail(io_error e) {
    if (!failure) {
      failure = e;
      failure->message = "log " + directory + " is offline after: " + e.message;
    }
    return base::unexpected(e);
  }
  io_result<void> check_usable() const {
    if (failure) return base::unexpected(*failure);
    return {};
  }
};

io_result<void> partition_log::state::flush_active() {
  std::shared_ptr<segment> seg;
  int64_t end = 0;
  {
    std::shared_lock lock(mu);
    seg = active();
    end = seg->next_offset();
  }
  auto flushed = seg->flush();
  if (!flushed) return fail(flushed.error());
  std::unique_lock lock(mu);
  recovery_point = std::max(recovery_point, end);
  unflushed_records = 0;
  first_unflushed_ms = -1;
  return {};
}

bool partition_log::state::rolls_before(const log_config& cfg, const segment& seg, size_t bytes,
                                        size_t batches, int64_t last_offset, int64_t now) const {
  if (seg.empty()) return false;
  if (seg.size_bytes() + bytes > cfg.segment_bytes) return true;
  if (active_since_ms >= 0 && now - active_since_ms >= cfg.segment_ms) return true;
  if (seg.index_bytes() + batches * time_index::entry_size > cfg.segment_index_bytes) {
    return true;
  }
  return last_offset - seg.base_offset() > max_relative_offset;
}

io_result<void> partition_log::state::roll(int64_t now) {
  std::shared_ptr<segment> old;
  segment_config seg_config;
  {
    std::shared_lock lock(mu);
    old = active();
    seg_config = config.segment();
  }
  // Everything below the new segment is durable, so recovery after a crash
  // scans only the active segment.
  auto flushed = old->flush();
  if (!flushed) return fail(flushed.error());
  auto created = segment::create(fs, directory, old->next_offset(), seg_config);
  if (!created) return base::unexpected(created.error());
  std::shared_ptr<segment> fresh = std::move(*created);
  std::unique_lock lock(mu);
  segments.emplace(fresh->base_offset(), fresh);
  recovery_point = std::max(recovery_point, fresh->base_offset());
  unflushed_records = 0;
  first_unflushed_ms = -1;
  // segment.ms counts from the first batch, not from the roll (Kafka's rule):
  // an idle partition's next segment is not rolled at its first append.
  active_since_ms = -1;
  static_cast<void>(now);
  lock.unlock();
  old->stop_mapping();
  return {};
}

void partition_log::state::write_group(const std::vector<pending_append*>& group) {
  const int64_t now = clock();
  // Only writers change the segments, and this one holds the writer lock:
  // it reads them without the segment lock, and takes it exclusively only to
  // change them.
  const log_config cfg = config_snapshot();
  if (failure) {
    for (pending_append* p : group) p->outcome = base::unexpected(*failure);
    return;
  }
  // Offsets first: an append that cannot follow the log fails alone.
  int64_t next = log_end();
  std::vector<pending_append*> accepted;
  size_t bytes = 0;
  size_t batch_count = 0;
  int64_t records = 0;
  for (pending_append* p : group) {
    const append_options& options = *p->options;
    append_result result;
    if (!options.assign_offsets && p->batches.front().base_offset < next) {
      p->outcome = base::unexpected(
          invalid(directory, "replicated batch at offset " +
                                 std::to_string(p->batches.front().base_offset) +
                                 " does not follow the log end offset " + std::to_string(next)));
      continue;
    }
    for (const checked_batch& b : p->batches) {
      auto batch = p->bytes.subspan(b.position, b.size);
      int64_t base = b.base_offset;
      if (options.assign_offsets) {
        base = next;
        protocol::set_base_offset(batch, base);
        if (options.leader_epoch >= 0) {
          protocol::set_partition_leader_epoch(batch, options.leader_epoch);
        }
        if (cfg.log_append_time) {
          protocol::set_max_timestamp(batch, protocol::timestamp_type::log_append_time, now);
          result.log_append_time = now;
        }
      }
      if (result.base_offset < 0) result.base_offset = base;
      result.last_offset = base + b.last_offset_delta;
      next = result.last_offset + 1;
      records += b.records;
    }
    p->outcome = result;
    accepted.push_back(p);
    bytes += p->bytes.size();
    batch_count += p->batches.size();
  }
  if (accepted.empty()) return;

  auto fail_all = [&](const io_error& e) {
    for (pending_append* p : accepted) p->outcome = base::unexpected(e);
  };
  if (rolls_before(cfg, *active(), bytes, batch_count, next - 1, now)) {
    auto rolled = roll(now);
    if (!rolled) return fail_all(rolled.error());
  }
  std::vector<uint8_t> joined;
  std::span<const uint8_t> out = accepted.front()->bytes;
  if (accepted.size() > 1) {
    joined.reserve(bytes);
    for (pending_append* p : accepted)
      joined.insert(joined.end(), p->bytes.begin(), p->bytes.end());
    out = joined;
  }
  auto seg = active();
  const int64_t start = seg->next_offset();
  {
    std::unique_lock lock(mu);
    auto written = seg->append(out);
    if (!written) return fail_all(written.error());
    // Epochs change rarely (a new leader); a failure to persist one is
    // retried with the next batch of a newer epoch.
    for (pending_append* p : accepted) {
      const append_options& options = *p->options;
      if (options.assign_offsets) {
        if (options.leader_epoch >= 0) {
          static_cast<void>(epochs.assign(options.leader_epoch, (*p->outcome)->base_offset));
        }
      } else {
        for (const checked_batch& b : p->batches) {
          if (b.leader_epoch >= 0) static_cast<void>(epochs.assign(b.leader_epoch, b.base_offset));
        }
      }
    }
  }
  if (active_since_ms < 0) active_since_ms = now;
  const int64_t end = seg->next_offset();
  for (pending_append* p : accepted) (*p->outcome)->log_end_offset = end;
  unflushed_records += records;
  if (first_unflushed_ms < 0) first_unflushed_ms = now;

  bool sync = unflushed_records >= cfg.flush_messages;
  for (pending_append* p : accepted) sync = sync || p->options->sync;
  if (!sync) return;
  // The fsync runs with the segment list unlocked: reads go on meanwhile.
  // Only the .log: the active segment's indexes are rebuilt by recovery, and
  // are synced when the segment rolls or the log closes.
  auto flushed = seg->flush_log();
  if (flushed) {
    std::unique_lock lock(mu);
    recovery_point = std::max(recovery_point, end);
    unflushed_records = 0;
    first_unflushed_ms = -1;
    return;
  }
  // After a failed fsync the kernel may have dropped these pages: nothing of
  // this group is acknowledged, it is cut off so that no read serves it from
  // now on, and the log goes offline (see `failure`).
  {
    std::unique_lock lock(mu);
    static_cast<void>(seg->truncate_to(start));
    static_cast<void>(epochs.truncate_from_end(seg->next_offset()));
  }
  static_cast<void>(fail(flushed.error()));
  fail_all(flushed.error());
}

partition_log::partition_log(std::unique_ptr<state> s) : state_(std::move(s)) {}
partition_log::~partition_log() = default;

const std::string& partition_log::directory() const { return state_->directory; }
file_system& partition_log::fs() const { return state_->fs; }

io_result<append_result> partition_log::append(std::span<uint8_t> batches,
                                               const append_options& options) {
  state& s = *state_;
  auto checked = check_batches(s.directory, batches, options);
  if (!checked) return base::unexpected(checked.error());
  pending_append self;
  self.bytes = batches;
  self.options = &options;
  self.batches = std::move(*checked);

  std::unique_lock queue_lock(s.queue_mu);
  s.queue.push_back(&self);
  self.wake.wait(queue_lock, [&] { return self.done || s.queue.front() == &self; });
  if (self.done) return std::move(*self.outcome);

  // This appender leads: it takes everyone queued behind it.
  std::vector<pending_append*> group;
  size_t bytes = 0;
  for (pending_append* p : s.queue) {
    if (!group.empty() && bytes + p->bytes.size() > max_group_bytes) break;
    group.push_back(p);
    bytes += p->bytes.size();
  }
  queue_lock.unlock();
  {
    std::lock_guard writer(s.writer_mu);
    s.write_group(group);
  }
  queue_lock.lock();
  for (pending_append* p : group) {
    s.queue.pop_front();
    p->done = true;
    if (p != &self) p->wake.notify_one();
  }
  if (!s.queue.empty()) s.queue.front()->wake.notify_one();
  return std::move(*self.outcome);
}

io_result<void> partition_log::flush() {
  std::lock_guard writer(state_->writer_mu);
  auto usable = state_->check_usable();
  if (!usable) return usable;
  return state_->flush_active();
}

io_result<void> partition_log::sync(int64_t end) {
  state& s = *state_;
  auto covered = [&] {
    std::shared_lock lock(s.mu);
    return s.recovery_point >= end;
  };
  if (covered()) return {};
  std::lock_guard syncer(s.sync_mu);
  if (covered()) return {};
  std::shared_ptr<segment> seg;
  int64_t log_end = 0;
  uint64_t truncations = 0;
  {
    std::lock_guard writer(s.writer_mu);
    auto usable = s.check_usable();
    if (!usable) return usable;
    std::shared_lock lock(s.mu);
    seg = s.active();
    log_end = seg->next_offset();
    truncations = s.truncations;
  }
  // The fdatasync runs without the writer lock, so appends (on a broker
  // shard) go on meanwhile; it makes at least everything below `log_end`
  // durable. Whatever a failed write left past the segment's tail is cut by
  // the next append or by recovery (the last segment is always scanned).
  // A roll meanwhile flushed this segment whole itself.
  auto synced = seg->sync_log_concurrently();
  if (!synced) {
    std::lock_guard writer(s.writer_mu);
    return s.fail(synced.error());
  }
  std::unique_lock lock(s.mu);
  // A truncation meanwhile may have replaced the offsets this fsync covered.
  if (s.truncations == truncations) s.recovery_point = std::max(s.recovery_point, log_end);
  return {};
}

io_result<void> partition_log::flush_if_due() {
  state& s = *state_;
  std::lock_guard writer(s.writer_mu);
  if (s.failure || s.first_unflushed_ms < 0 ||
      s.clock() - s.first_unflushed_ms < s.config_snapshot().flush_ms) {
    return {};
  }
  return s.flush_active();
}

io_result<std::optional<log_slice>> partition_log::read(int64_t offset, size_t max_bytes,
                                                        int64_t max_offset) {
  state& s = *state_;
  std::shared_lock lock(s.mu);
  const int64_t end = s.log_end();
  if (offset < s.log_start_offset || offset > end) {
    return base::unexpected(io_error{ERANGE, "read " + s.directory + ": offset " +
                                                 std::to_string(offset) + " is out of range [" +
                                                 std::to_string(s.log_start_offset) + ", " +
                                                 std::to_string(end) + "]"});
  }
  // A segment may hold nothing at or past `offset` (compaction removed it,
  // or it is empty): the next one then serves the read.
  auto it = std::prev(s.segments.upper_bound(offset));
  for (; it != s.segments.end() && it->first < max_offset; ++it) {
    auto range = it->second->read(std::max(offset, it->first), max_bytes, max_offset);
    if (!range) return base::unexpected(range.error());
    if (*range) {
      const bool active = std::next(it) == s.segments.end();
      return std::optional<log_slice>(log_slice(it->second, **range, active));
    }
  }
  return std::optional<log_slice>{};
}

io_result<std::optional<protocol::record_batch>> partition_log::state::batch_at(segment& seg,
                                                                                int64_t offset) {
  auto range = seg.read(offset, 0);
  if (!range) return base::unexpected(range.error());
  if (!*range) return std::optional<protocol::record_batch>{};
  auto bytes = seg.read_range(**range);
  if (!bytes) return base::unexpected(bytes.error());
  auto batch = protocol::record_batch::parse(*bytes);
  if (!batch) {
    return base::unexpected(io_error{EBADMSG, "read " + directory + ": " + batch.error().message});
  }
  return std::optional<protocol::record_batch>(std::move(*batch));
}

namespace {

// The first record of `batch` at or after `min_offset` for which `pick`
// holds, with its timestamp and offset.
template <typename Pick>
io_result<std::optional<timestamp_and_offset>> find_record(const std::string& directory,
                                                           const protocol::record_batch& batch,
                                                           int64_t min_offset, Pick pick) {
  const auto& header = batch.header();
  auto reader = protocol::record_reader::open(batch, max_decompressed_batch_bytes);
  if (!reader) {
    return base::unexpected(io_error{EBADMSG, "read " + directory + ": " + reader.error().message});
  }
  protocol::record r;
  while (true) {
    auto more = reader->next(r);
    if (!more) {
      return base::unexpected(io_error{EBADMSG, "read " + directory + ": " + more.error().message});
    }
    if (!*more) return std::optional<timestamp_and_offset>{};
    int64_t offset = r.offset(header);
    int64_t timestamp = r.timestamp(header);
    if (offset >= min_offset && pick(timestamp)) {
      return std::optional<timestamp_and_offset>(timestamp_and_offset{timestamp, offset});
    }
  }
}

}  // namespace

io_result<std::optional<timestamp_and_offset>> partition_log::offset_for_timestamp(
    int64_t timestamp) {
  state& s = *state_;
  // Shared for the whole lookup: an append may change the active segment's
  // indexes under the exclusive lock, never under this one.
  std::shared_lock lock(s.mu);
  const int64_t start = s.log_start_offset;
  for (const auto& [base, seg] : s.segments) {
    if (seg->max_timestamp() < timestamp || seg->next_offset() <= start) continue;
    auto found = seg->find_offset_by_timestamp(timestamp);
    if (!found) return base::unexpected(found.error());
    // Batches are in offset order, timestamps are not: walk from the first
    // batch whose max timestamp qualifies until a record does.
    for (int64_t offset = found->value_or(seg->next_offset()); offset < seg->next_offset();) {
      auto batch = s.batch_at(*seg, std::max(offset, start));
      if (!batch) return base::unexpected(batch.error());
      if (!*batch) break;
      if ((*batch)->header().max_timestamp >= timestamp) {
        auto record =
            find_record(s.directory, **batch, start, [&](int64_t t) { return t >= timestamp; });
        if (!record) return record;
        if (*record) return record;
      }
      offset = (*batch)->header().last_offset() + 1;
    }
  }
  return std::optional<timestamp_and_offset>{};
}

io_result<std::optional<timestamp_and_offset>> partition_log::max_timestamp() {
  state& s = *state_;
  std::optional<protocol::record_batch> batch;
  int64_t start = 0;
  int64_t max = -1;
  {
    std::shared_lock lock(s.mu);
    start = s.log_start_offset;
    std::shared_ptr<segment> best;
    for (const auto& [base, seg] : s.segments) {
      if (seg->next_offset() > start && (!best || seg->max_timestamp() > best->max_timestamp())) {
        best = seg;
      }
    }
    if (!best || best->max_timestamp() < 0) return std::optional<timestamp_and_offset>{};
    max = best->max_timestamp();
    auto found = s.batch_at(*best, best->offset_of_max_timestamp());
    if (!found) return base::unexpected(found.error());
    if (!*found) return std::optional<timestamp_and_offset>{};
    batch = std::move(*found);
  }
  auto record = find_record(s.directory, *batch, start, [&](int64_t t) { return t == max; });
  if (!record) return record;
  // A batch whose records were all below the log start still answers with
  // its max timestamp, at the log start offset.
  if (!*record) return std::optional<timestamp_and_offset>(timestamp_and_offset{max, start});
  return record;
}

int64_t partition_log::log_start_offset() const {
  std::shared_lock lock(state_->mu);
  return state_->log_start_offset;
}

int64_t partition_log::log_end_offset() const {
  std::shared_lock lock(state_->mu);
  return state_->log_end();
}

int64_t partition_log::recovery_point() const {
  std::shared_lock lock(state_->mu);
  return state_->recovery_point;
}

uint64_t partition_log::size_bytes() const {
  std::shared_lock lock(state_->mu);
  uint64_t total = 0;
  for (const auto& [base, seg] : state_->segments) total += seg->size_bytes();
  return total;
}

size_t partition_log::segment_count() const {
  std::shared_lock lock(state_->mu);
  return state_->segments.size();
}

std::vector<int64_t> partition_log::segment_base_offsets() const {
  std::shared_lock lock(state_->mu);
  std::vector<int64_t> bases;
  for (const auto& [base, seg] : state_->segments) bases.push_back(base);
  return bases;
}

io_result<void> partition_log::truncate_to(int64_t offset) {
  state& s = *state_;
  std::lock_guard writer(s.writer_mu);
  std::unique_lock lock(s.mu);
  auto usable = s.check_usable();
  if (!usable) return usable;
  if (offset >= s.log_end()) return {};
  if (offset < 0) return base::unexpected(make_io_error(EINVAL, "truncate", s.directory));
  // Rare and short (a leader change): done under the exclusive lock, so that
  // no read sees a log without its segments. The list changes only once the
  // disk has; a failure half-way takes the log offline, its list intact.
  auto failed = [&](const io_error& e) {
    return s.fail(io_error{e.code, truncate_error(s.directory, offset, e)});
  };
  const segment_config seg_config = s.config.segment();
  const bool start_afresh = offset <= s.segments.begin()->first || offset < s.log_start_offset;
  auto dropped_from = start_afresh ? s.segments.begin() : s.segments.lower_bound(offset);
  for (auto it = dropped_from; it != s.segments.end(); ++it) {
    auto removed = it->second->remove();
    if (!removed) return failed(removed.error());
  }
  std::shared_ptr<segment> kept;
  if (start_afresh) {
    auto created = segment::create(s.fs, s.directory, offset, seg_config);
    if (!created) return failed(created.error());
    kept = std::move(*created);
  } else {
    // The segment cut becomes the active one. It is cut through a fresh
    // object: the cleaner may still be reading the old one as inactive, and
    // must see its bytes vanish (and fail) rather than its memory change.
    auto last = std::prev(dropped_from)->second;
    auto fresh = segment::open(s.fs, s.directory, last->base_offset(), seg_config,
                               /*recover=*/false);
    if (!fresh) return failed(fresh.error());
    auto cut = (*fresh)->truncate_to(offset);
    if (!cut) return failed(cut.error());
    // Durable now, or a crash could bring the cut batches back.
    auto flushed = (*fresh)->flush();
    if (!flushed) return failed(flushed.error());
    kept = std::move(*fresh);
  }
  // Slices taken before the cut copy from now on: a mapped view could show
  // what is written at the cut positions next.
  for (auto it = start_afresh ? dropped_from : std::prev(dropped_from); it != s.segments.end();
       ++it) {
    it->second->stop_mapping();
  }
  s.segments.erase(dropped_from, s.segments.end());
  s.segments[kept->base_offset()] = kept;
  if (start_afresh) s.log_start_offset = offset;
  s.lowest_truncation = std::min(s.lowest_truncation, s.log_end());
  s.recovery_point = std::min(s.recovery_point, s.log_end());
  ++s.truncations;
  if (s.active()->empty()) s.active_since_ms = -1;
  return s.epochs.truncate_from_end(s.log_end());
}

io_result<int64_t> partition_log::advance_log_start_offset(int64_t offset) {
  state& s = *state_;
  std::unique_lock lock(s.mu);
  offset = std::min(offset, s.log_end());
  if (offset > s.log_start_offset) {
    s.log_start_offset = offset;
    auto moved = s.epochs.truncate_from_start(offset);
    if (!moved) return base::unexpected(moved.error());
  }
  return s.log_start_offset;
}

io_result<size_t> partition_log::enforce_retention() {
  state& s = *state_;
  std::lock_guard writer(s.writer_mu);
  const int64_t now = s.clock();
  const log_config cfg = s.config_snapshot();
  const bool deletes = cfg.policy != cleanup_policy::compact;
  auto usable = s.check_usable();
  if (!usable) return base::unexpected(usable.error());
  std::vector<std::shared_ptr<segment>> expired;
  io_result<void> outcome;
  uint64_t total = 0;
  {
    std::shared_lock lock(s.mu);
    for (const auto& [base, seg] : s.segments) total += seg->size_bytes();
  }
  while (true) {
    {
      std::unique_lock lock(s.mu);
      auto it = s.segments.begin();
      const auto seg = it->second;
      auto next = std::next(it);
      const bool is_active = next == s.segments.end();
      bool below_start = !is_active && next->first <= s.log_start_offset;
      // A segment without timestamps (-1) never expires by time.
      bool too_old = deletes && cfg.retention_ms >= 0 && seg->max_timestamp() >= 0 &&
                     now - seg->max_timestamp() > cfg.retention_ms;
      bool too_big = deletes && cfg.retention_bytes >= 0 && !seg->empty() &&
                     total - seg->size_bytes() >= static_cast<uint64_t>(cfg.retention_bytes);
      if (!below_start && !too_old && !too_big) break;
      if (!is_active) {
        total -= seg->size_bytes();
        expired.push_back(seg);
        s.segments.erase(it);
        // In the same step, so that no read finds an offset without its segment.
        s.log_start_offset = std::max(s.log_start_offset, s.segments.begin()->first);
        continue;
      }
      if (seg->empty()) break;
    }
    // The log always keeps a segment: an expired active one is rolled first.
    outcome = s.roll(now);
    if (!outcome) break;
  }
  if (!expired.empty()) {
    std::unique_lock lock(s.mu);
    auto moved = s.epochs.truncate_from_start(s.log_start_offset);
    if (!moved && outcome) outcome = moved;
  }
  // Files go outside the lock; reads still holding a segment keep reading it.
  for (const auto& seg : expired) {
    auto removed = seg->remove();
    if (!removed && outcome) outcome = removed;
  }
  if (!outcome) return base::unexpected(outcome.error());
  return expired.size();
}

void partition_log::release_idle_window() {
  std::shared_ptr<segment> active;
  {
    std::shared_lock lock(state_->mu);
    active = state_->active();
  }
  active->release_idle_window();
}

io_result<void> partition_log::roll_if_due() {
  state& s = *state_;
  std::lock_guard writer(s.writer_mu);
  const int64_t now = s.clock();
  if (s.failure || s.active()->empty() || s.active_since_ms < 0 ||
      now - s.active_since_ms < s.config_snapshot().segment_ms) {
    return {};
  }
  return s.roll(now);
}

std::optional<int32_t> partition_log::latest_epoch() const {
  std::shared_lock lock(state_->mu);
  return state_->epochs.latest_epoch();
}

std::optional<epoch_start_offset> partition_log::end_offset_for_epoch(int32_t epoch) const {
  std::shared_lock lock(state_->mu);
  return state_->epochs.end_offset_for(epoch, state_->log_end());
}

std::vector<epoch_start_offset> partition_log::leader_epoch_entries() const {
  std::shared_lock lock(state_->mu);
  return state_->epochs.entries();
}

void partition_log::set_config(const log_config& config) {
  std::unique_lock lock(state_->mu);
  state_->config = config;
}

log_config partition_log::config() const {
  std::shared_lock lock(state_->mu);
  return state_->config;
}

std::vector<std::shared_ptr<segment>> partition_log::inactive_segments() const {
  std::shared_lock lock(state_->mu);
  std::vector<std::shared_ptr<segment>> out;
  for (const auto& [base, seg] : state_->segments) out.push_back(seg);
  out.pop_back();
  return out;
}

int64_t partition_log::take_truncation_point() {
  std::unique_lock lock(state_->mu);
  return std::exchange(state_->lowest_truncation, no_limit);
}

std::string partition_log::cleaning_directory() const {
  return state_->directory + "/" + std::string(cleaning_directory_name);
}

io_result<void> partition_log::replace_segments(
    const std::vector<std::shared_ptr<segment>>& replaced, const std::vector<int64_t>& cleaned) {
  state& s = *state_;
  std::lock_guard writer(s.writer_mu);
  auto stale = [&] {
    return base::unexpected(io_error{
        ESTALE, "compact " + s.directory + ": the segments changed while they were cleaned"});
  };
  auto usable = s.check_usable();
  if (!usable) return usable;
  if (replaced.empty()) return stale();
  int64_t first = replaced.front()->base_offset();
  int64_t end = 0;
  {
    std::shared_lock lock(s.mu);
    auto it = s.segments.find(first);
    for (const auto& seg : replaced) {
      if (it == s.segments.end() || it->second != seg) return stale();
      ++it;
    }
    // The active segment is never replaced.
    if (it == s.segments.end()) return stale();
    end = it->first;
  }
  // A swap that fails may have passed its commit point: the names of the old
  // segments may belong to the new files already, so the log must not touch
  // them again (a retention would delete cleaned data). It goes offline; the
  // next open finishes or discards the swap.
  auto swapped = commit_swap(s.fs, s.directory, first, end);
  if (!swapped) {
    auto committed = s.fs.exists(s.directory + "/" + std::string(swap_directory_name));
    if (committed && !*committed) return swapped;  // failed before its commit point
    return s.fail(swapped.error());
  }
  const segment_config seg_config = s.config_snapshot().segment();
  std::vector<std::shared_ptr<segment>> fresh;
  for (int64_t base : cleaned) {
    auto opened = segment::open(s.fs, s.directory, base, seg_config, /*recover=*/false);
    if (!opened) return s.fail(opened.error());
    fresh.push_back(std::move(*opened));
  }
  std::unique_lock lock(s.mu);
  for (const auto& seg : replaced) s.segments.erase(seg->base_offset());
  for (auto& seg : fresh) s.segments.emplace(seg->base_offset(), std::move(seg));
  return {};
}

io_result<void> partition_log::close() {
  state& s = *state_;
  std::lock_guard writer(s.writer_mu);
  io_result<void> flushed;
  if (!s.failure) flushed = s.flush_active();
  if (!s.failure) s.failure = make_io_error(ESHUTDOWN, "append", s.directory + " (log closed)");
  return flushed;
}

namespace {

// The segment base offsets found in `directory`, after removing files that
// belong to no segment (an index without its .log, a checkpoint's .tmp).
io_result<std::vector<int64_t>> list_segments(file_system& fs, const std::string& directory) {
  auto names = fs.list(directory);
  if (!names) return base::unexpected(names.error());
  std::vector<int64_t> bases;
  for (const auto& name : *names) {
    if (auto base = parse_segment_file_name(name, log_extension)) bases.push_back(*base);
  }
  std::sort(bases.begin(), bases.end());
  bool removed_any = false;
  for (const auto& name : *names) {
    std::optional<int64_t> base = parse_segment_file_name(name, offset_index_extension);
    if (!base) base = parse_segment_file_name(name, time_index_extension);
    bool orphan_index = base && !std::binary_search(bases.begin(), bases.end(), *base);
    bool temporary = name.size() > 4 && name.ends_with(".tmp");
    if (orphan_index || temporary) {
      auto removed = fs.remove(directory + "/" + name);
      if (!removed) return base::unexpected(removed.error());
      removed_any = true;
    }
  }
  if (removed_any) {
    auto synced = fs.sync_directory(directory);
    if (!synced) return base::unexpected(synced.error());
  }
  return bases;
}

// The max timestamp of a segment's first batch: where segment.ms counts from
// for a segment that was active before a restart (Kafka's choice too).
int64_t first_batch_timestamp(segment& seg, int64_t now) {
  auto range = seg.read(seg.base_offset(), 0);
  if (!range || !*range) return now;
  std::array<uint8_t, layout::header_size> header;
  auto n = seg.log_file().read_at((*range)->position, header);
  if (!n || *n != header.size()) return now;
  auto decoded = protocol::decode_batch_header(header);
  if (!decoded || decoded->max_timestamp < 0) return now;
  return std::min(decoded->max_timestamp, now);
}

}  // namespace

io_result<std::unique_ptr<partition_log>> partition_log::open(file_system& fs,
                                                              std::string directory,
                                                              log_open_options options) {
  auto made = create_durable_directory(fs, directory);
  if (!made) return base::unexpected(made.error());
  auto swap = recover_interrupted_swap(fs, directory);
  if (!swap) return base::unexpected(swap.error());
  auto bases = list_segments(fs, directory);
  if (!bases) return base::unexpected(bases.error());

  auto epochs = leader_epoch_cache::load(fs, directory);
  // A corrupt epoch file is rebuilt from the batches appended from now on,
  // as Kafka does; replication then asks the leader instead.
  leader_epoch_cache cache = epochs ? std::move(*epochs) : leader_epoch_cache(fs, directory);
  auto s = std::make_unique<state>(fs, directory, options, std::move(cache));
  const segment_config seg_config = options.config.segment();

  for (size_t i = 0; i < bases->size(); ++i) {
    int64_t base = (*bases)[i];
    bool last = i + 1 == bases->size();
    // A segment that may hold offsets at or past the recovery point is
    // scanned; one below it was fsynced before the crash.
    bool recover = !options.clean_shutdown && (last || (*bases)[i + 1] > options.recovery_point);
    uint64_t size_before = 0;
    if (recover) {
      auto f =
          fs.open(directory + "/" + segment_file_name(base, log_extension), open_mode::read_only);
      if (!f) return base::unexpected(f.error());
      auto size = (*f)->size();
      if (!size) return base::unexpected(size.error());
      size_before = *size;
    }
    auto opened = segment::open(fs, directory, base, seg_config, recover);
    if (!opened) return base::unexpected(opened.error());
    std::shared_ptr<segment> seg = std::move(*opened);
    if (!s->segments.empty() && seg->base_offset() < s->log_end()) {
      return base::unexpected(
          io_error{EBADMSG, "open " + directory + ": segment " + std::to_string(base) +
                                " overlaps the previous one, which ends at offset " +
                                std::to_string(s->log_end())});
    }
    s->segments.emplace(base, seg);
    if (recover && seg->size_bytes() < size_before) {
      // The log was cut here: whatever follows was written after the cut
      // batch, so it cannot be trusted either (Kafka drops it too).
      auto flushed = seg->flush();
      if (!flushed) return base::unexpected(flushed.error());
      for (size_t j = i + 1; j < bases->size(); ++j) {
        auto later = segment::open(fs, directory, (*bases)[j], seg_config, true);
        if (!later) return base::unexpected(later.error());
        auto removed = (*later)->remove();
        if (!removed) return base::unexpected(removed.error());
      }
      break;
    }
  }
  if (s->segments.empty()) {
    int64_t base = std::max<int64_t>(0, options.log_start_offset);
    auto created = segment::create(fs, directory, base, seg_config);
    if (!created) return base::unexpected(created.error());
    s->segments.emplace(base, std::shared_ptr<segment>(std::move(*created)));
  }
  if (!options.clean_shutdown) {
    // What recovery kept is what the log holds now: make it durable, so the
    // recovery point can be the log end.
    auto flushed = s->active()->flush();
    if (!flushed) return base::unexpected(flushed.error());
  }
  s->log_start_offset =
      std::min(std::max(options.log_start_offset, s->segments.begin()->first), s->log_end());
  s->recovery_point = s->log_end();
  auto epochs_cut = s->epochs.truncate_from_end(s->log_end());
  if (!epochs_cut) return base::unexpected(epochs_cut.error());
  auto epochs_start = s->epochs.truncate_from_start(s->log_start_offset);
  if (!epochs_start) return base::unexpected(epochs_start.error());
  if (!s->active()->empty()) s->active_since_ms = first_batch_timestamp(*s->active(), s->clock());
  return std::unique_ptr<partition_log>(new partition_log(std::move(s)));
}

}  // namespace sluice::storage
