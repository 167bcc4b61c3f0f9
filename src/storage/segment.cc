#include "storage/segment.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <limits>
#include <mutex>
#include <utility>
#include <vector>

#include "base/endian.h"
#include "protocol/record_batch.h"

namespace sluice::storage {
namespace {

namespace layout = protocol::batch_layout;

// Index entries hold positions and relative offsets as int32.
constexpr uint64_t max_segment_bytes = std::numeric_limits<int32_t>::max();
constexpr int64_t max_relative_offset = std::numeric_limits<int32_t>::max();
// How far past its end a growing segment reserves disk space: as far as the
// segment already holds, up to this. ext4 otherwise reserves and maps each
// 4 KiB block as a write reaches it, 6-12% of the broker's CPU in profiles of
// 1 KiB produce (docs/performance.md); a reservation costs one fallocate(2)
// per few MiB, and at most this much disk per growing segment until it rolls.
constexpr uint64_t max_reservation_ahead = 4 << 20;
// What recovery reads at a time: large enough for few calls, small enough
// that checking a segment never holds much of it in memory.
constexpr size_t recovery_chunk_bytes = 1 << 20;

// What a segment needs to know of a batch, all in its 61-byte header.
struct batch_extent {
  int64_t base_offset = 0;
  int64_t last_offset = 0;
  int64_t max_timestamp = -1;
  uint64_t size = 0;
};

batch_extent extent_of(const protocol::batch_header& h) {
  return {h.base_offset, h.last_offset(), h.max_timestamp, h.size()};
}

// The header when it can start a batch of a segment.
std::optional<batch_extent> decode_extent(std::span<const uint8_t, layout::header_size> header) {
  auto h = protocol::decode_batch_header(header);
  if (!h || h->last_offset_delta < 0) return std::nullopt;
  return extent_of(*h);
}

io_error corrupt_log(const std::string& path, uint64_t position) {
  return {EBADMSG, "read " + path + ": no valid batch header at position " +
                       std::to_string(position) + " (corrupt segment)"};
}

io_error bad_append(int code, const std::string& path, const std::string& why) {
  return {code, "append " + path + ": " + why};
}

// Walks a .log by its batch headers, one small read each, from a position
// where a batch starts up to `end`.
class header_walker {
 public:
  header_walker(file& log, const std::string& path, uint64_t position, uint64_t end)
      : log_(log), path_(path), position_(position), end_(end) {}

  // Where the batch next() returns starts.
  uint64_t position() const { return position_; }

  // The batch at position(), then moves past it; nullopt at the end. Fails
  // with EBADMSG when the header is not one or the batch crosses `end`.
  io_result<std::optional<batch_extent>> next() {
    if (position_ >= end_) return std::optional<batch_extent>{};
    if (position_ < buffer_start_ || position_ + layout::header_size > buffer_start_ + buffered_) {
      auto filled = fill();
      if (!filled) return base::unexpected(filled.error());
    }
    std::optional<batch_extent> extent;
    if (position_ + layout::header_size <= buffer_start_ + buffered_) {
      extent = decode_extent(std::span<const uint8_t, layout::header_size>(
          buffer_.data() + (position_ - buffer_start_), layout::header_size));
    }
    if (!extent || extent->size > end_ - position_) {
      return base::unexpected(corrupt_log(path_, position_));
    }
    position_ += extent->size;
    return extent;
  }

 private:
  // Reads ahead from position(): small batches lie back to back, so one read
  // serves the headers of many (a tail Fetch of small batches walks up to
  // index.interval.bytes of them).
  io_result<void> fill() {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buffer_.size(), end_ - position_));
    auto n = log_.read_at(position_, std::span<uint8_t>(buffer_.data(), want));
    if (!n) return base::unexpected(n.error());
    buffer_start_ = position_;
    buffered_ = *n;
    return {};
  }

  file& log_;
  const std::string& path_;
  uint64_t position_;
  uint64_t end_;
  std::array<uint8_t, 4096> buffer_;
  uint64_t buffer_start_ = 0;
  size_t buffered_ = 0;
};

// The end of a segment, and what decides its next index entries.
struct segment_tail {
  uint64_t size = 0;
  int64_t next_offset = 0;
  int64_t max_timestamp = -1;
  int64_t offset_of_max_timestamp = -1;
  uint64_t bytes_since_index_entry = 0;
  int64_t last_indexed_timestamp = -1;  // of the time index's last entry
};

struct index_entries {
  std::vector<offset_position> offsets;
  std::vector<timestamp_offset> times;
};

// Whether a batch may follow `tail` in a segment starting at `base_offset`.
bool may_follow(const segment_tail& tail, int64_t base_offset, const batch_extent& batch) {
  return batch.base_offset >= tail.next_offset && batch.last_offset >= batch.base_offset &&
         batch.last_offset - base_offset <= max_relative_offset;
}

// Adds `batch` to the end of `tail`, with Kafka's rule for index entries
// (LogSegment.recover): a batch starting more than `interval` bytes after the
// last entry gets an offset-index entry (its last offset, its position), and
// the time index gets the max timestamp so far with it if that grew. Appending
// and rebuilding both go batch by batch through here, so they agree.
void add_batch(segment_tail& tail, const batch_extent& batch, uint32_t interval,
               index_entries& out) {
  if (batch.max_timestamp > tail.max_timestamp) {
    tail.max_timestamp = batch.max_timestamp;
    tail.offset_of_max_timestamp = batch.last_offset;
  }
  if (tail.bytes_since_index_entry > interval) {
    out.offsets.push_back({batch.last_offset, tail.size});
    if (tail.max_timestamp > tail.last_indexed_timestamp) {
      out.times.push_back({tail.max_timestamp, tail.offset_of_max_timestamp});
      tail.last_indexed_timestamp = tail.max_timestamp;
    }
    tail.bytes_since_index_entry = 0;
  }
  tail.bytes_since_index_entry += batch.size;
  tail.size += batch.size;
  tail.next_offset = batch.last_offset + 1;
}

// What a walk over the batches after the last offset-index entry found.
struct walked_tail {
  uint64_t start = 0;  // position of the last offset-index entry, or 0
  int64_t next_offset = 0;
  int64_t max_timestamp = -1;
  int64_t offset_of_max_timestamp = -1;
};

std::string path_in(const std::string& directory, int64_t base_offset, std::string_view extension) {
  return directory + "/" + segment_file_name(base_offset, extension);
}

}  // namespace

std::string segment_file_name(int64_t base_offset, std::string_view extension) {
  std::array<char, 32> digits;
  int n =
      std::snprintf(digits.data(), digits.size(), "%020lld", static_cast<long long>(base_offset));
  return std::string(digits.data(), static_cast<size_t>(n)) + std::string(extension);
}

std::optional<int64_t> parse_segment_file_name(std::string_view name, std::string_view extension) {
  constexpr size_t digits = 20;
  if (name.size() != digits + extension.size() || !name.ends_with(extension)) return std::nullopt;
  if (!std::all_of(name.begin(), name.begin() + digits,
                   [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  int64_t value = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + digits, value);
  if (ec != std::errc() || end != name.data() + digits) return std::nullopt;
  return value;
}

struct segment::state {
  state(file_system& fs, std::string directory, int64_t base_offset, const segment_config& config,
        std::unique_ptr<file> log, std::unique_ptr<file> offset_file,
        std::unique_ptr<file> time_file)
      : fs(fs),
        directory(std::move(directory)),
        log_path(path_in(this->directory, base_offset, log_extension)),
        base_offset(base_offset),
        config(config),
        log(std::move(log)),
        offsets(base_offset, std::move(offset_file)),
        times(base_offset, std::move(time_file)) {
    tail.next_offset = base_offset;
  }

  io_result<bool> load_indexes(uint64_t log_size);
  io_result<void> recover(uint64_t log_size);
  io_result<walked_tail> walk_tail(uint64_t log_size);
  void adopt_tail(uint64_t log_size, const walked_tail& walked);
  io_result<void> cut_log();
  void reserve_for(uint64_t end);
  void give_back_reservation();
  io_result<void> sync_log();

  file_system& fs;
  std::string directory;
  std::string log_path;
  int64_t base_offset;
  segment_config config;
  std::unique_ptr<file> log;
  offset_index offsets;
  time_index times;
  segment_tail tail;
  // A failed write may have left bytes past tail.size, and cutting them off
  // failed too: retried before the next write or sync.
  bool log_longer_than_tail = false;
  // Disk space is reserved for the log up to here (file::reserve).
  uint64_t reserved_end = 0;
  // Blocks may be reserved past the log's end: after a reservation, and
  // always for a segment opened from disk, whose writer may have crashed
  // holding one.
  bool may_hold_reservation = false;
  // A reservation failed (no space, no fallocate): this segment's writes
  // allocate as they go.
  bool reserving_failed = false;
  // The errno of the first failed fsync of the .log, 0 while none has.
  // Atomic: partition_log::sync() fsyncs while the owner appends.
  std::atomic<int> log_sync_error{0};

  // map_range()'s window onto the .log file. Guarded by map_mu: map_range
  // runs outside the partition's lock, beside appends and other reads.
  std::mutex map_mu;
  std::shared_ptr<const file_mapping> window;
  uint64_t window_start = 0;
  // A view of the window was handed out since release_idle_window() last looked.
  bool window_used = false;
  // stop_mapping() or truncate_to() was called, or mapping failed:
  // map_range() copies.
  bool mapping_stopped = false;
};

// Walks from the last offset-index entry to the end of the log: what the
// index does not say (the next offset, timestamps after the last entry).
// Fails with EBADMSG when the walk does not fit the index or the log.
io_result<walked_tail> segment::state::walk_tail(uint64_t log_size) {
  walked_tail walked;
  walked.next_offset = base_offset;
  auto last = offsets.last_entry();
  if (last) walked.start = last->position;
  header_walker walker(*log, log_path, walked.start, log_size);
  segment_tail order;  // only for may_follow()
  order.next_offset = base_offset;
  for (bool first = true;; first = false) {
    uint64_t position = walker.position();
    auto batch = walker.next();
    if (!batch) return base::unexpected(batch.error());
    if (!*batch) break;
    // The entry must name the last offset of the batch it points at.
    if ((first && last && (*batch)->last_offset != last->offset) ||
        !may_follow(order, base_offset, **batch)) {
      return base::unexpected(corrupt_log(log_path, position));
    }
    order.next_offset = (*batch)->last_offset + 1;
    if ((*batch)->max_timestamp > walked.max_timestamp) {
      walked.max_timestamp = (*batch)->max_timestamp;
      walked.offset_of_max_timestamp = (*batch)->last_offset;
    }
  }
  walked.next_offset = order.next_offset;
  return walked;
}

// Takes the end of the log from a walk and the time index: its last entry
// holds the max timestamp of every batch up to the last offset-index entry.
void segment::state::adopt_tail(uint64_t log_size, const walked_tail& walked) {
  auto last_time = times.last_entry();
  tail.size = log_size;
  tail.next_offset = walked.next_offset;
  tail.bytes_since_index_entry = log_size - walked.start;
  tail.last_indexed_timestamp = last_time.timestamp;
  // On a tie the time index's batch comes first: it was the first to reach it.
  if (walked.max_timestamp > last_time.timestamp) {
    tail.max_timestamp = walked.max_timestamp;
    tail.offset_of_max_timestamp = walked.offset_of_max_timestamp;
  } else if (!times.entries().empty()) {
    tail.max_timestamp = last_time.timestamp;
    tail.offset_of_max_timestamp = last_time.offset;
  } else {
    tail.max_timestamp = -1;
    tail.offset_of_max_timestamp = -1;
  }
}

// Loads both indexes and checks them against the log. False when one is
// corrupt or does not fit the log.
io_result<bool> segment::state::load_indexes(uint64_t log_size) {
  auto offsets_ok = offsets.load(log_size);
  if (!offsets_ok) return base::unexpected(offsets_ok.error());
  if (!*offsets_ok) return false;
  auto walked = walk_tail(log_size);
  if (!walked) {
    // Batches that do not fit the index: rebuild it, as for a missing one.
    if (walked.error().code == EBADMSG) return false;
    return base::unexpected(walked.error());
  }
  auto times_ok = times.load(walked->next_offset - 1);
  if (!times_ok) return base::unexpected(times_ok.error());
  if (!*times_ok) return false;
  adopt_tail(log_size, *walked);
  return true;
}

// Checks every batch from the start, cuts the log after the last good one and
// rebuilds both indexes from the batches kept.
io_result<void> segment::state::recover(uint64_t log_size) {
  segment_tail scanned;
  scanned.next_offset = base_offset;
  index_entries entries;
  uint64_t position = 0;
  uint64_t want_at_least = 0;  // for a batch larger than a chunk
  bool stopped = false;
  while (!stopped && position < log_size) {
    uint64_t want = std::min<uint64_t>(std::max<uint64_t>(recovery_chunk_bytes, want_at_least),
                                       log_size - position);
    std::vector<uint8_t> buffer(want);
    auto n = log->read_at(position, buffer);
    if (!n) return base::unexpected(n.error());
    buffer.resize(*n);
    bool at_end = position + *n >= log_size || *n < want;
    base::shared_bytes chunk(std::move(buffer));
    protocol::batch_splitter splitter(chunk, {.allow_partial_tail = true});
    while (true) {
      auto batch = splitter.next();
      if (!batch || !*batch) {
        stopped = !batch;
        break;
      }
      auto extent = extent_of((*batch)->header());
      if (!protocol::verify_crc(**batch) || !may_follow(scanned, base_offset, extent)) {
        stopped = true;
        break;
      }
      add_batch(scanned, extent, config.index_interval_bytes, entries);
    }
    if (stopped) break;
    uint64_t consumed = splitter.position();
    if (consumed == chunk.size()) {
      position += consumed;
      want_at_least = 0;
    } else if (at_end) {
      break;  // a batch cut short by the end of the file: a torn write
    } else if (consumed > 0) {
      position += consumed;
      want_at_least = 0;
    } else {
      // One batch larger than the chunk (its length is plausible, or the
      // splitter would have failed): read all of it next time.
      uint64_t batch_size =
          layout::log_overhead + base::load_be<uint32_t>(chunk.data() + layout::batch_length);
      if (batch_size <= chunk.size()) break;  // cannot happen; never loop on it
      want_at_least = batch_size;
    }
  }

  if (scanned.size < log_size) {
    auto cut = log->truncate(scanned.size);
    if (!cut) return cut;
    auto synced = log->sync();
    if (!synced) return synced;
  }
  auto offsets_written = offsets.replace(std::move(entries.offsets));
  if (!offsets_written) return offsets_written;
  auto times_written = times.replace(std::move(entries.times));
  if (!times_written) return times_written;
  tail = scanned;
  return {};
}

io_result<void> segment::state::cut_log() {
  auto cut = log->truncate(tail.size);
  log_longer_than_tail = !cut.ok();
  if (cut) reserved_end = tail.size;
  return cut;
}

void segment::state::reserve_for(uint64_t end) {
  if (end <= reserved_end || reserving_failed) return;
  const uint64_t from = std::max(reserved_end, tail.size);
  const uint64_t until = end + std::min(end, max_reservation_ahead);
  // Even a failed fallocate(2) may have allocated part of the range.
  may_hold_reservation = true;
  if (!log->reserve(from, until - from)) {
    reserving_failed = true;  // the write that follows reports a real shortage
    return;
  }
  reserved_end = until;
}

// Truncating to the size the file has frees the blocks past it. Only space
// is at stake, so a failure does not fail the flush (and take the log
// offline): the blocks stay allocated past the end until a later flush of
// this segment, or its deletion, gives them back.
void segment::state::give_back_reservation() {
  if (!may_hold_reservation || !log->truncate(tail.size)) return;
  reserved_end = tail.size;
  may_hold_reservation = false;
}

// Linux reports a failed writeback to one fsync of a file and may drop the
// pages: a second fsync, say by a roll racing partition_log::sync(), then
// succeeds without them. So a failure sticks: no later sync of this .log
// claims that what it held is durable.
io_result<void> segment::state::sync_log() {
  if (int failed = log_sync_error.load(); failed != 0) {
    return base::unexpected(make_io_error(failed, "sync (failed before)", log_path));
  }
  auto synced = log->sync();
  if (!synced) {
    int expected = 0;
    log_sync_error.compare_exchange_strong(expected,
                                           synced.error().code != 0 ? synced.error().code : EIO);
  }
  return synced;
}

segment::segment(std::unique_ptr<state> s) : state_(std::move(s)) {}
segment::~segment() = default;

io_result<std::unique_ptr<segment>> segment::create(file_system& fs, const std::string& directory,
                                                    int64_t base_offset,
                                                    const segment_config& config) {
  std::array<std::string, 3> paths = {path_in(directory, base_offset, log_extension),
                                      path_in(directory, base_offset, offset_index_extension),
                                      path_in(directory, base_offset, time_index_extension)};
  if (base_offset < 0) return base::unexpected(make_io_error(EINVAL, "create", paths[0]));
  for (const auto& path : paths) {
    auto exists = fs.exists(path);
    if (!exists) return base::unexpected(exists.error());
    if (*exists) return base::unexpected(make_io_error(EEXIST, "create", path));
  }
  std::array<std::unique_ptr<file>, 3> files;
  // A failed create leaves no file behind, or the next try would find it.
  auto undo = [&](const io_error& e) {
    for (size_t i = 0; i < files.size() && files[i]; ++i) static_cast<void>(fs.remove(paths[i]));
    return base::unexpected(e);
  };
  for (size_t i = 0; i < paths.size(); ++i) {
    auto f = fs.open(paths[i], open_mode::create_read_write);
    if (!f) return undo(f.error());
    files[i] = std::move(*f);
  }
  // A segment whose appends were synced must not vanish with its name.
  auto synced = fs.sync_directory(directory);
  if (!synced) return undo(synced.error());
  return std::unique_ptr<segment>(
      new segment(std::make_unique<state>(fs, directory, base_offset, config, std::move(files[0]),
                                          std::move(files[1]), std::move(files[2]))));
}

io_result<std::unique_ptr<segment>> segment::open(file_system& fs, const std::string& directory,
                                                  int64_t base_offset, const segment_config& config,
                                                  bool recover) {
  auto log = fs.open(path_in(directory, base_offset, log_extension), open_mode::read_write);
  if (!log) return base::unexpected(log.error());
  // A missing index is created empty and rebuilt: empty, it would pass for a
  // valid index of the log, and its absence means the shutdown was not clean.
  std::array<std::unique_ptr<file>, 2> index_files;
  const std::array<std::string_view, 2> index_extensions = {offset_index_extension,
                                                            time_index_extension};
  for (size_t i = 0; i < index_files.size(); ++i) {
    std::string path = path_in(directory, base_offset, index_extensions[i]);
    auto exists = fs.exists(path);
    if (!exists) return base::unexpected(exists.error());
    recover = recover || !*exists;
    auto f = fs.open(path, open_mode::create_read_write);
    if (!f) return base::unexpected(f.error());
    index_files[i] = std::move(*f);
  }
  auto s = std::make_unique<state>(fs, directory, base_offset, config, std::move(*log),
                                   std::move(index_files[0]), std::move(index_files[1]));

  auto size = s->log->size();
  if (!size) return base::unexpected(size.error());
  if (*size > max_segment_bytes) return base::unexpected(make_io_error(EFBIG, "open", s->log_path));
  bool loaded = false;
  if (!recover) {
    auto indexes = s->load_indexes(*size);
    if (!indexes) return base::unexpected(indexes.error());
    loaded = *indexes;
  }
  if (!loaded) {
    auto recovered = s->recover(*size);
    if (!recovered) return base::unexpected(recovered.error());
    // Its writer stopped without a clean close, perhaps holding a
    // reservation; the next flush gives it back.
    s->may_hold_reservation = true;
  }
  return std::unique_ptr<segment>(new segment(std::move(s)));
}

int64_t segment::base_offset() const { return state_->base_offset; }
int64_t segment::next_offset() const { return state_->tail.next_offset; }
uint64_t segment::size_bytes() const { return state_->tail.size; }
int64_t segment::max_timestamp() const { return state_->tail.max_timestamp; }
int64_t segment::offset_of_max_timestamp() const { return state_->tail.offset_of_max_timestamp; }

io_result<void> segment::append(std::span<const uint8_t> batches) {
  state& s = *state_;
  if (s.log_longer_than_tail) {
    auto cut = s.cut_log();
    if (!cut) return cut;
  }
  // Everything is checked and indexed on a copy of the tail first, so that a
  // failure leaves the segment as it was.
  segment_tail tail = s.tail;
  index_entries entries;
  for (size_t at = 0; at < batches.size();) {
    auto header = protocol::parse_batch_header(batches.subspan(at));
    if (!header) {
      return base::unexpected(bad_append(
          EINVAL, s.log_path, "byte " + std::to_string(at) + ": " + header.error().message));
    }
    auto batch = extent_of(*header);
    if (!may_follow(tail, s.base_offset, batch)) {
      bool below = batch.base_offset < tail.next_offset || batch.last_offset < batch.base_offset;
      return base::unexpected(
          bad_append(below ? EINVAL : EFBIG, s.log_path,
                     "batch with offsets " + std::to_string(batch.base_offset) + ".." +
                         std::to_string(batch.last_offset) + " cannot follow offset " +
                         std::to_string(tail.next_offset - 1) + " in a segment based at " +
                         std::to_string(s.base_offset)));
    }
    add_batch(tail, batch, s.config.index_interval_bytes, entries);
    at += batch.size;
  }
  if (tail.size > max_segment_bytes) {
    return base::unexpected(bad_append(EFBIG, s.log_path, "a segment holds at most 2 GiB"));
  }
  if (tail.size == s.tail.size) return {};

  s.reserve_for(tail.size);
  auto written = s.log->write_at(s.tail.size, batches);
  if (!written) {
    static_cast<void>(s.cut_log());
    return written;
  }
  auto offsets_written = s.offsets.append(entries.offsets);
  if (!offsets_written) {
    static_cast<void>(s.cut_log());
    return offsets_written;
  }
  auto times_written = s.times.append(entries.times);
  if (!times_written) {
    // Drops exactly this append's entries: earlier ones are below its first offset.
    static_cast<void>(s.offsets.truncate_to(s.tail.next_offset));
    static_cast<void>(s.cut_log());
    return times_written;
  }
  s.tail = tail;
  return {};
}

io_result<void> segment::flush() {
  state& s = *state_;
  if (s.log_longer_than_tail) {
    auto cut = s.cut_log();
    if (!cut) return cut;
  }
  s.give_back_reservation();
  auto synced = s.sync_log();
  if (!synced) return synced;
  auto offsets_synced = s.offsets.flush();
  if (!offsets_synced) return offsets_synced;
  return s.times.flush();
}

uint64_t segment::index_bytes() const {
  return std::max(state_->offsets.entries().size() * offset_index::entry_size,
                  state_->times.entries().size() * time_index::entry_size);
}

io_result<void> segment::flush_log() {
  state& s = *state_;
  if (s.log_longer_than_tail) {
    auto cut = s.cut_log();
    if (!cut) return cut;
  }
  return s.sync_log();
}

io_result<void> segment::sync_log_concurrently() { return state_->sync_log(); }

io_result<std::optional<segment_range>> segment::read(int64_t offset, size_t max_bytes,
                                                      int64_t max_offset) {
  state& s = *state_;
  if (offset >= s.tail.next_offset) return std::optional<segment_range>{};
  header_walker walker(*s.log, s.log_path, s.offsets.lookup(offset).position, s.tail.size);
  std::optional<segment_range> range;
  while (!range) {
    uint64_t position = walker.position();
    auto batch = walker.next();
    if (!batch) return base::unexpected(batch.error());
    if (!*batch || (*batch)->last_offset >= max_offset) return range;
    if ((*batch)->last_offset >= offset) {
      range = segment_range{position, (*batch)->size, (*batch)->base_offset, (*batch)->last_offset};
    }
  }
  while (true) {
    auto batch = walker.next();
    if (!batch) return base::unexpected(batch.error());
    if (!*batch || (*batch)->last_offset >= max_offset ||
        range->length + (*batch)->size > max_bytes) {
      break;
    }
    range->length += (*batch)->size;
    range->last_offset = (*batch)->last_offset;
  }
  return range;
}

io_result<base::shared_bytes> segment::read_range(const segment_range& range) {
  state& s = *state_;
  // Not zero-filled first: every byte is read over.
  std::shared_ptr<uint8_t[]> buffer(new uint8_t[range.length]);
  std::span<uint8_t> bytes(buffer.get(), range.length);
  auto n = s.log->read_at(range.position, bytes);
  if (!n) return base::unexpected(n.error());
  if (*n != bytes.size()) {
    return base::unexpected(io_error{
        EIO, "read " + s.log_path + ": " + std::to_string(range.length) + " bytes at position " +
                 std::to_string(range.position) + " are past the end of the file"});
  }
  const uint8_t* data = buffer.get();
  return base::shared_bytes(std::move(buffer), data, range.length);
}

namespace {

// map_range()'s window: 64 MiB of virtual memory (more for a larger read)
// and about 128 KiB of page tables a segment, placed at a multiple of 16 MiB
// (of any page size).
constexpr uint64_t map_window_bytes = uint64_t{64} << 20;
constexpr uint64_t map_window_alignment = uint64_t{16} << 20;

}  // namespace

io_result<base::shared_bytes> segment::map_range(const segment_range& range) {
  state& s = *state_;
  std::shared_ptr<const file_mapping> window;
  uint64_t window_start = 0;
  // Unmapped (if no view holds it) after the lock is released: munmap
  // interrupts every core that ran this process, and other readers wait on
  // the lock.
  std::shared_ptr<const file_mapping> replaced;
  {
    std::lock_guard lock(s.map_mu);
    const uint64_t end = range.position + range.length;
    const bool inside = s.window != nullptr && range.position >= s.window_start &&
                        end <= s.window_start + s.window->bytes().size();
    const bool behind = s.window != nullptr && range.position < s.window_start;
    // The window only moves forward: readers at the log's end move it, one
    // lagging behind them copies instead of pulling it back.
    if (!inside && !behind && !s.mapping_stopped) {
      const uint64_t start = range.position / map_window_alignment * map_window_alignment;
      auto mapped = s.log->map(start, std::max(map_window_bytes, end - start));
      replaced = std::move(s.window);
      if (mapped) {
        s.window = std::move(*mapped);
        s.window_start = start;
      } else {
        // Not a real file, or out of address space or mappings (ENOMEM):
        // not retried on every read.
        s.mapping_stopped = true;
      }
    }
    if (!behind && !s.mapping_stopped) {
      window = s.window;
      window_start = s.window_start;
      s.window_used = true;
    }
  }
  if (window == nullptr) return read_range(range);
  const uint8_t* data = window->bytes().data() + (range.position - window_start);
  return base::shared_bytes(std::move(window), data, range.length);
}

void segment::stop_mapping() {
  state& s = *state_;
  std::shared_ptr<const file_mapping> released;  // unmapped after the lock is released
  std::lock_guard lock(s.map_mu);
  s.mapping_stopped = true;
  released = std::move(s.window);
}

void segment::release_idle_window() {
  state& s = *state_;
  std::shared_ptr<const file_mapping> released;  // unmapped after the lock is released
  std::lock_guard lock(s.map_mu);
  if (!s.window_used) released = std::move(s.window);
  s.window_used = false;
}

io_result<std::optional<int64_t>> segment::find_offset_by_timestamp(int64_t timestamp) {
  state& s = *state_;
  // Every batch before the time-index entry's has a smaller max timestamp.
  auto entry = s.times.lookup(timestamp);
  header_walker walker(*s.log, s.log_path, s.offsets.lookup(entry.offset).position, s.tail.size);
  while (true) {
    auto batch = walker.next();
    if (!batch) return base::unexpected(batch.error());
    if (!*batch) return std::optional<int64_t>{};
    if ((*batch)->max_timestamp >= timestamp) return std::optional<int64_t>((*batch)->base_offset);
  }
}

io_result<void> segment::truncate_to(int64_t offset) {
  state& s = *state_;
  if (offset >= s.tail.next_offset) return {};
  // The entry found names a batch whose last offset is <= `offset`, so the
  // first batch to drop is that one or a later one.
  header_walker walker(*s.log, s.log_path, s.offsets.lookup(offset).position, s.tail.size);
  uint64_t cut_at = s.tail.size;
  while (true) {
    uint64_t position = walker.position();
    auto batch = walker.next();
    if (!batch) return base::unexpected(batch.error());
    if (!*batch) break;
    if ((*batch)->base_offset >= offset) {
      cut_at = position;
      break;
    }
  }
  if (cut_at == s.tail.size) return {};
  // A view of bytes past the cut would show zeros, and then whatever is
  // written there next: from now on reads copy, and fail where bytes are gone.
  stop_mapping();
  auto cut = s.log->truncate(cut_at);
  if (!cut) return cut;
  s.log_longer_than_tail = false;
  s.reserved_end = cut_at;
  // The indexes drop entries at or past `offset` in memory even when cutting
  // their files fails; flush() retries that.
  auto offsets_cut = s.offsets.truncate_to(offset);
  auto times_cut = s.times.truncate_to(offset);
  auto walked = s.walk_tail(cut_at);
  if (!walked) return base::unexpected(walked.error());
  s.adopt_tail(cut_at, *walked);
  if (!offsets_cut) return offsets_cut;
  return times_cut;
}

file& segment::log_file() { return *state_->log; }

io_result<void> segment::remove() {
  state& s = *state_;
  io_result<void> outcome;
  for (auto extension : {log_extension, offset_index_extension, time_index_extension}) {
    auto removed = s.fs.remove(path_in(s.directory, s.base_offset, extension));
    if (!removed && outcome.ok()) outcome = removed;
  }
  if (!outcome) return outcome;
  return s.fs.sync_directory(s.directory);
}

}  // namespace sluice::storage
