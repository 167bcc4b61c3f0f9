#include "raft/storage_log.h"

#include <algorithm>
#include <array>
#include <limits>
#include <optional>
#include <set>
#include <span>
#include <string_view>
#include <utility>

#include "base/byte_reader.h"
#include "base/byte_writer.h"
#include "base/crc32c.h"
#include "protocol/record_batch.h"
#include "storage/atomic_write.h"
#include "storage/leader_epoch_cache.h"
#include "storage/partition_log.h"
#include "storage/segment.h"

namespace sluice::raft {
namespace {

namespace layout = protocol::batch_layout;

constexpr std::string_view quorum_state_name = "quorum-state";
constexpr std::string_view snapshot_name = "raft-snapshot";

// quorum-state: int16 version, int64 term, int32 voted_for, then the CRC-32C
// of those 14 bytes. Fixed size, so any length but this one is corrupt.
constexpr int16_t quorum_state_version = 0;
constexpr size_t quorum_state_size = 2 + 8 + 4 + 4;

// raft-snapshot: a header of int16 version, int64 index, int64 term, int32
// length + the encoded configuration, int64 data length and the CRC-32C of
// the header before it; then the data and its own CRC-32C. Two checksums, so
// that open() reads and checks the header alone, not a large image.
constexpr int16_t snapshot_version = 0;
constexpr size_t snapshot_fixed_size = 2 + 8 + 8 + 4;
// What follows the configuration in the header: data length and CRC.
constexpr size_t snapshot_header_tail = 8 + 4;

// Raft's own entries are one small uncompressed record; this bounds what
// decoding any control batch may allocate.
constexpr size_t max_control_batch_bytes = 1 << 20;

constexpr term_t max_term = std::numeric_limits<int32_t>::max();

template <typename T>
using result = base::result<T>;

base::unexpected<base::error> io_failure(const storage::io_error& e) {
  return base::fail(e.message);
}

// Exactly `n` bytes at `position` of `f`; a file that ends first is corrupt.
result<base::shared_bytes> read_exactly(storage::file& f, const std::string& path,
                                        uint64_t position, size_t n) {
  std::vector<uint8_t> bytes(n);
  auto got = f.read_at(position, bytes);
  if (!got) return io_failure(got.error());
  if (*got != n) {
    return base::fail("read " + path + ": " + std::to_string(n) + " bytes at position " +
                      std::to_string(position) + " are past the end of the file");
  }
  return base::shared_bytes(std::move(bytes));
}

struct open_file {
  std::unique_ptr<storage::file> file;
  uint64_t size = 0;
};

result<open_file> open_for_reading(storage::file_system& fs, const std::string& path) {
  auto f = fs.open(path, storage::open_mode::read_only);
  if (!f) return io_failure(f.error());
  auto size = (*f)->size();
  if (!size) return io_failure(size.error());
  return open_file{std::move(*f), *size};
}

std::vector<uint8_t> encode_quorum_state(const hard_state& state) {
  base::byte_writer out(quorum_state_size);
  out.write_int16(quorum_state_version);
  out.write_int64(state.term);
  out.write_int32(state.voted_for);
  out.write_uint32(base::crc32c::value(out.buffer()));
  return out.take();
}

// A vote read wrong could let this node vote twice in a term: anything but a
// well-formed file is an error, never a fresh state.
result<hard_state> load_quorum_state(storage::file_system& fs, const std::string& path) {
  auto opened = open_for_reading(fs, path);
  if (!opened) return base::unexpected(opened.error());
  if (opened->size != quorum_state_size) {
    return base::fail(path + ": " + std::to_string(opened->size) + " bytes, expected " +
                      std::to_string(quorum_state_size));
  }
  auto bytes = read_exactly(*opened->file, path, 0, quorum_state_size);
  if (!bytes) return base::unexpected(bytes.error());
  base::byte_reader in(*bytes);
  int16_t version = in.read_int16();
  hard_state state;
  state.term = in.read_int64();
  state.voted_for = in.read_int32();
  uint32_t crc = in.read_uint32();
  if (crc != base::crc32c::value(bytes->span().first(quorum_state_size - 4))) {
    return base::fail(path + ": checksum mismatch (corrupt quorum state)");
  }
  if (version != quorum_state_version) {
    return base::fail(path + ": unknown version " + std::to_string(version));
  }
  if (state.term < 0) return base::fail(path + ": negative term");
  return state;
}

std::vector<uint8_t> encode_snapshot(const snapshot& snap) {
  base::shared_bytes config = encode_configuration(snap.meta.config);
  base::byte_writer out(snapshot_fixed_size + config.size() + snapshot_header_tail +
                        snap.data.size() + 4);
  out.write_int16(snapshot_version);
  out.write_int64(snap.meta.index);
  out.write_int64(snap.meta.term);
  out.write_int32(static_cast<int32_t>(config.size()));
  out.write_bytes(config.span());
  out.write_int64(static_cast<int64_t>(snap.data.size()));
  out.write_uint32(base::crc32c::value(out.buffer()));
  out.write_bytes(snap.data.span());
  out.write_uint32(base::crc32c::value(snap.data.span()));
  return out.take();
}

struct snapshot_header {
  snapshot_meta meta;
  uint64_t data_position = 0;
  uint64_t data_size = 0;
};

result<snapshot_header> read_snapshot_header(const open_file& opened, const std::string& path) {
  auto corrupt = [&](const std::string& why) { return base::fail(path + ": " + why); };
  if (opened.size < snapshot_fixed_size) return corrupt("too short for a snapshot header");
  auto fixed = read_exactly(*opened.file, path, 0, snapshot_fixed_size);
  if (!fixed) return base::unexpected(fixed.error());
  base::byte_reader in(*fixed);
  int16_t version = in.read_int16();
  snapshot_header header;
  header.meta.index = in.read_int64();
  header.meta.term = in.read_int64();
  int32_t config_size = in.read_int32();
  if (config_size < 0 || opened.size - snapshot_fixed_size <
                             static_cast<uint64_t>(config_size) + snapshot_header_tail) {
    return corrupt("impossible configuration length " + std::to_string(config_size));
  }
  auto rest = read_exactly(*opened.file, path, snapshot_fixed_size,
                           static_cast<size_t>(config_size) + snapshot_header_tail);
  if (!rest) return base::unexpected(rest.error());
  base::byte_reader tail(*rest);
  base::shared_bytes config = tail.read_bytes(static_cast<size_t>(config_size));
  int64_t data_size = tail.read_int64();
  uint32_t crc = tail.read_uint32();
  uint32_t expected =
      base::crc32c::extend(base::crc32c::value(fixed->span()), rest->data(), rest->size() - 4);
  if (crc != expected) return corrupt("header checksum mismatch (corrupt snapshot)");
  if (version != snapshot_version) return corrupt("unknown version " + std::to_string(version));
  if (header.meta.index < 0 || header.meta.term < 0) return corrupt("negative index or term");
  if (!decode_configuration(config.span(), header.meta.config)) {
    return corrupt("undecodable configuration");
  }
  header.data_position = snapshot_fixed_size + rest->size();
  if (data_size < 0 || opened.size - header.data_position != static_cast<uint64_t>(data_size) + 4) {
    return corrupt("data length " + std::to_string(data_size) + " does not match the file size");
  }
  header.data_size = static_cast<uint64_t>(data_size);
  return header;
}

result<protocol::batch_header> read_batch_header(storage::file& f, const std::string& path,
                                                 uint64_t position) {
  std::array<uint8_t, layout::header_size> bytes;
  auto got = f.read_at(position, bytes);
  if (!got) return io_failure(got.error());
  if (*got != bytes.size()) {
    return base::fail("read " + path + ": batch header at position " + std::to_string(position) +
                      " is cut short");
  }
  auto header = protocol::decode_batch_header(bytes);
  if (!header) return base::fail("read " + path + ": " + header.error().message);
  return *header;
}

// What a stored batch is to Raft. Raft's own entries are control batches of
// one record keyed LEADER_CHANGE or KRAFT_VOTERS, and their data is the
// record's value; every other batch, transaction markers included, is data
// and its data the whole batch.
struct batch_kind {
  entry_type type = entry_type::data;
  base::shared_bytes data;
};

result<batch_kind> classify(const protocol::record_batch& batch) {
  const protocol::batch_header& header = batch.header();
  if (!header.is_control() || header.records_count == 0) {
    return batch_kind{entry_type::data, batch.bytes()};
  }
  auto corrupt = [&](const std::string& why) {
    return base::fail("control batch at offset " + std::to_string(header.base_offset) + ": " + why);
  };
  auto reader = protocol::record_reader::open(batch, max_control_batch_bytes);
  if (!reader) return corrupt(reader.error().message);
  protocol::record first;
  auto read = reader->next(first);
  if (!read) return corrupt(read.error().message);
  if (!*read || !first.key) return corrupt("no record key");
  auto key = protocol::decode_control_record_key(first.key->span());
  if (!key) return corrupt(key.error().message);
  entry_type type;
  switch (key->type) {
    case protocol::control_record_type::leader_change:
      type = entry_type::leader_change;
      break;
    case protocol::control_record_type::kraft_voters:
      type = entry_type::configuration;
      break;
    default:
      return batch_kind{entry_type::data, batch.bytes()};
  }
  if (header.records_count != 1 || header.last_offset_delta != 0) {
    return corrupt("Raft's own control batch holds " + std::to_string(header.records_count) +
                   " records, not one");
  }
  return batch_kind{type, first.value.value_or(base::shared_bytes{})};
}

result<entry> to_entry(const protocol::record_batch& batch) {
  auto kind = classify(batch);
  if (!kind) return base::unexpected(kind.error());
  entry e;
  e.index = batch.header().base_offset;
  e.term = batch.header().partition_leader_epoch;
  e.count = batch.header().last_offset_delta + 1;
  e.type = kind->type;
  e.data = std::move(kind->data);
  return e;
}

// Appends to `out` the batch that stores `e`, with its base offset and
// leader epoch set (the CRC does not cover them).
result<void> encode_entry(const entry& e, int64_t now, std::vector<uint8_t>& out) {
  auto invalid = [&](const std::string& why) {
    return base::fail("entry at index " + std::to_string(e.index) + ": " + why);
  };
  const size_t position = out.size();
  if (e.type == entry_type::data) {
    auto batch = protocol::record_batch::parse(e.data);
    if (!batch) return invalid(batch.error().message);
    const protocol::batch_header& header = batch->header();
    if (header.size() != e.data.size()) return invalid("data is not exactly one record batch");
    if (header.records_count != e.count || header.last_offset_delta + 1 != e.count) {
      return invalid("a batch of " + std::to_string(header.records_count) +
                     " records (last offset delta " + std::to_string(header.last_offset_delta) +
                     ") for an entry of " + std::to_string(e.count));
    }
    auto kind = classify(*batch);
    if (!kind) return invalid(kind.error().message);
    if (kind->type != entry_type::data) return invalid("data is a control batch of Raft's own");
    out.insert(out.end(), e.data.begin(), e.data.end());
  } else {
    if (e.count != 1) return invalid("Raft's own entries span one index");
    protocol::batch_options options;
    options.control = true;
    protocol::record_batch_builder builder(options);
    const auto key = protocol::encode_control_record_key(
        e.type == entry_type::leader_change ? protocol::control_record_type::leader_change
                                            : protocol::control_record_type::kraft_voters);
    builder.add(now, std::span<const uint8_t>(key), e.data.span());
    auto built = builder.build();
    if (!built) return invalid(built.error().message);
    out.insert(out.end(), built->begin(), built->end());
  }
  auto stored = std::span(out).subspan(position);
  protocol::set_base_offset(stored, e.index);
  protocol::set_partition_leader_epoch(stored, static_cast<int32_t>(e.term));
  return {};
}

// Where each term's entries start, oldest first.
struct term_start {
  term_t term = 0;
  index_t start = 0;
};

}  // namespace

struct storage_log::impl {
  impl(storage::file_system& fs, std::string directory, storage::log_config config)
      : fs(fs), directory(std::move(directory)) {
    // Time and size retention would delete entries that no snapshot covers:
    // only compaction moves this log's start.
    config.retention_ms = -1;
    config.retention_bytes = -1;
    log_options.config = config;
  }

  std::string path(std::string_view name) const { return directory + "/" + std::string(name); }

  index_t first_index() const { return std::max(snap.index + 1, log->log_start_offset()); }
  index_t last_index() const { return std::max(log->log_end_offset() - 1, snap.index); }
  term_t last_term() const { return terms.empty() ? snap.term : terms.back().term; }

  result<void> open_log(index_t start);
  result<void> save_snapshot(const snapshot& s);
  result<std::optional<term_t>> term_of_entry_ending_at(index_t index);
  result<void> align_with_snapshot();
  result<void> restart_at(index_t index);
  result<void> scan();
  result<void> note(const entry& e);
  void forget_from(index_t end);
  void forget_before(index_t start);

  storage::file_system& fs;
  const std::string directory;
  storage::log_open_options log_options;
  std::unique_ptr<storage::partition_log> log;
  hard_state state;
  snapshot_meta snap;
  // The terms and the configuration entries of [first_index, last_index], in
  // memory: term_at() and configuration_entries() never touch the disk. Built
  // by scan() at open, kept by every change since.
  std::vector<term_start> terms;
  std::vector<entry> configs;
};

result<void> storage_log::impl::open_log(index_t start) {
  log_options.log_start_offset = start;
  auto opened = storage::partition_log::open(fs, directory, log_options);
  if (!opened) return io_failure(opened.error());
  log = std::move(*opened);
  return {};
}

result<void> storage_log::impl::save_snapshot(const snapshot& s) {
  auto written = storage::write_file_atomically(fs, path(snapshot_name), encode_snapshot(s));
  if (!written) return io_failure(written.error());
  return {};
}

result<std::optional<term_t>> storage_log::impl::term_of_entry_ending_at(index_t index) {
  auto slice = log->read(index, 0);
  if (!slice) return io_failure(slice.error());
  if (!*slice || (*slice)->range().last_offset != index) return std::optional<term_t>{};
  auto header = read_batch_header((*slice)->log_file(), directory, (*slice)->range().position);
  if (!header) return base::unexpected(header.error());
  return std::optional<term_t>(header->partition_leader_epoch);
}

// Makes the log continue the snapshot: it starts at snap.index + 1 already
// (a log restarted there), or it holds the snapshot's last entry, and then
// only the prefix goes; otherwise none of it follows the snapshot and all of
// it goes. Called after every snapshot write and at open, so a crash between
// the two is repaired on the next open.
result<void> storage_log::impl::align_with_snapshot() {
  const index_t start = log->log_start_offset();
  if (start == snap.index + 1) return {};
  if (start <= snap.index && snap.index < log->log_end_offset()) {
    auto term = term_of_entry_ending_at(snap.index);
    if (!term) return base::unexpected(term.error());
    if (*term == snap.term) {
      auto moved = log->advance_log_start_offset(snap.index + 1);
      if (!moved) return io_failure(moved.error());
      forget_before(snap.index + 1);
      return {};
    }
  }
  return restart_at(snap.index + 1);
}

// Kafka's truncateFullyAndStartAt. partition_log has no call that moves an
// empty log's offsets forward (truncate_to only cuts, and a batch appended
// past a gap must stay within 2^31 offsets of its segment's base), so the log
// is closed, its files removed and the log opened again, empty, at `index`.
// The epoch checkpoint goes first and the segments newest first, each
// removal synced, so that a crash leaves a shorter log, never one with a
// hole; the next open's align_with_snapshot() finishes the job. If this
// fails, the old log stays in place closed: reads go on, writes fail.
result<void> storage_log::impl::restart_at(index_t index) {
  // Whatever the close flushes is removed next: its error does not matter.
  static_cast<void>(log->close());
  auto names = fs.list(directory);
  if (!names) return io_failure(names.error());
  const std::set<std::string> present(names->begin(), names->end());
  std::set<int64_t> bases;
  for (const auto& name : present) {
    for (auto extension :
         {storage::log_extension, storage::offset_index_extension, storage::time_index_extension}) {
      if (auto base = storage::parse_segment_file_name(name, extension)) bases.insert(*base);
    }
  }
  auto remove_synced = [&](const std::vector<std::string>& files) -> result<void> {
    for (const auto& name : files) {
      if (!present.contains(name)) continue;
      auto removed = fs.remove(path(name));
      if (!removed) return io_failure(removed.error());
    }
    auto synced = fs.sync_directory(directory);
    if (!synced) return io_failure(synced.error());
    return {};
  };
  auto epochs = remove_synced({std::string(storage::leader_epoch_cache::file_name)});
  if (!epochs) return epochs;
  for (auto base = bases.rbegin(); base != bases.rend(); ++base) {
    auto removed =
        remove_synced({storage::segment_file_name(*base, storage::time_index_extension),
                       storage::segment_file_name(*base, storage::offset_index_extension),
                       storage::segment_file_name(*base, storage::log_extension)});
    if (!removed) return removed;
  }
  auto closed_log = std::move(log);
  auto opened = open_log(index);
  if (!opened) {
    log = std::move(closed_log);
    return opened;
  }
  terms.clear();
  configs.clear();
  return {};
}

// One pass over the batch headers from first_index(): the terms, and the
// configuration entries (only control batches are read whole). The cost at
// open is one small read per batch, on top of the segment recovery the
// partition log does; a checkpoint of the two lists would spare it.
result<void> storage_log::impl::scan() {
  terms.clear();
  configs.clear();
  index_t next = first_index();
  const index_t end = log->log_end_offset();
  // Each pass takes at least one batch, each batch at least one offset.
  while (next < end) {
    auto slice = log->read(next, std::numeric_limits<size_t>::max());
    if (!slice) return io_failure(slice.error());
    if (!*slice) {
      return base::fail("open " + directory + ": no batch at offset " + std::to_string(next) +
                        " below the log end " + std::to_string(end));
    }
    const storage::segment_range& range = (*slice)->range();
    storage::file& f = (*slice)->log_file();
    for (uint64_t position = range.position; position < range.position + range.length;) {
      auto header = read_batch_header(f, directory, position);
      if (!header) return base::unexpected(header.error());
      if (header->base_offset != next || header->last_offset_delta < 0) {
        return base::fail("open " + directory + ": batch at offset " +
                          std::to_string(header->base_offset) + " where offset " +
                          std::to_string(next) + " was expected");
      }
      entry e;
      e.index = next;
      e.term = header->partition_leader_epoch;
      if (header->is_control()) {
        auto bytes = read_exactly(f, directory, position, header->size());
        if (!bytes) return base::unexpected(bytes.error());
        auto batch = protocol::record_batch::parse(*bytes);
        if (!batch) return base::fail("open " + directory + ": " + batch.error().message);
        auto decoded = to_entry(*batch);
        if (!decoded) return base::fail("open " + directory + ": " + decoded.error().message);
        e = std::move(*decoded);
      }
      auto noted = note(e);
      if (!noted) return base::fail("open " + directory + ": " + noted.error().message);
      next = header->last_offset() + 1;
      position += header->size();
    }
  }
  return {};
}

// Takes in an entry now in the log, after the ones already noted.
result<void> storage_log::impl::note(const entry& e) {
  if (e.term < last_term()) {
    return base::fail("entry at index " + std::to_string(e.index) + " has term " +
                      std::to_string(e.term) + ", below the previous " +
                      std::to_string(last_term()));
  }
  if (terms.empty() || terms.back().term != e.term) terms.push_back({e.term, e.index});
  if (e.type == entry_type::configuration) configs.push_back(e);
  return {};
}

// The log now ends before `end`.
void storage_log::impl::forget_from(index_t end) {
  std::erase_if(terms, [&](const term_start& t) { return t.start >= end; });
  std::erase_if(configs, [&](const entry& e) { return e.index >= end; });
}

// The log now starts at `start`.
void storage_log::impl::forget_before(index_t start) {
  std::erase_if(configs, [&](const entry& e) { return e.index < start; });
  while (terms.size() > 1 && terms[1].start <= start) terms.erase(terms.begin());
  if (!terms.empty() && terms.front().start < start) terms.front().start = start;
}

base::result<std::unique_ptr<storage_log>> storage_log::open(storage::file_system& fs,
                                                             std::string directory,
                                                             const configuration& initial,
                                                             storage::log_config config) {
  auto made = storage::create_durable_directory(fs, directory);
  if (!made) return io_failure(made.error());
  auto s = std::make_unique<impl>(fs, std::move(directory), config);
  const std::string snapshot_path = s->path(snapshot_name);
  const std::string quorum_path = s->path(quorum_state_name);
  auto created = fs.exists(snapshot_path);
  if (!created) return io_failure(created.error());
  auto voted = fs.exists(quorum_path);
  if (!voted) return io_failure(voted.error());

  if (*created) {
    if (!*voted) return base::fail(quorum_path + " is missing beside " + snapshot_path);
    auto opened = open_for_reading(fs, snapshot_path);
    if (!opened) return base::unexpected(opened.error());
    auto header = read_snapshot_header(*opened, snapshot_path);
    if (!header) return base::unexpected(header.error());
    s->snap = header->meta;
  } else {
    // A new group. The snapshot is written last: its presence says the
    // directory is set up, and a vote from before a crash here is kept.
    if (!*voted) {
      auto written = storage::write_file_atomically(fs, quorum_path, encode_quorum_state({}));
      if (!written) return io_failure(written.error());
    }
    s->snap = snapshot_meta{0, 0, initial};
    auto saved = s->save_snapshot(snapshot{s->snap, {}});
    if (!saved) return base::unexpected(saved.error());
  }
  auto state = load_quorum_state(fs, quorum_path);
  if (!state) return base::unexpected(state.error());
  s->state = *state;

  // Opened at the snapshot's index, so that align_with_snapshot() can read
  // the snapshot's last entry; a new log starts right after it.
  auto opened = s->open_log(*created ? s->snap.index : s->snap.index + 1);
  if (!opened) return base::unexpected(opened.error());
  auto aligned = s->align_with_snapshot();
  if (!aligned) return base::unexpected(aligned.error());
  auto scanned = s->scan();
  if (!scanned) return base::unexpected(scanned.error());
  return std::unique_ptr<storage_log>(new storage_log(std::move(s)));
}

storage_log::storage_log(std::unique_ptr<impl> impl) : impl_(std::move(impl)) {}

storage_log::~storage_log() {
  // A clean shutdown leaves everything durable; errors have no one to go to.
  static_cast<void>(impl_->log->close());
}

hard_state storage_log::initial_hard_state() const { return impl_->state; }

std::vector<entry> storage_log::configuration_entries() const { return impl_->configs; }

snapshot_meta storage_log::snapshot_metadata() const { return impl_->snap; }

base::result<snapshot> storage_log::load_snapshot() const {
  const std::string path = impl_->path(snapshot_name);
  auto opened = open_for_reading(impl_->fs, path);
  if (!opened) return base::unexpected(opened.error());
  auto header = read_snapshot_header(*opened, path);
  if (!header) return base::unexpected(header.error());
  auto bytes = read_exactly(*opened->file, path, header->data_position, header->data_size + 4);
  if (!bytes) return base::unexpected(bytes.error());
  base::shared_bytes data = bytes->slice(0, header->data_size);
  base::byte_reader in(bytes->slice(header->data_size, 4));
  if (in.read_uint32() != base::crc32c::value(data.span())) {
    return base::fail(path + ": data checksum mismatch (corrupt snapshot)");
  }
  return snapshot{header->meta, std::move(data)};
}

index_t storage_log::first_index() const { return impl_->first_index(); }

index_t storage_log::last_index() const { return impl_->last_index(); }

std::optional<term_t> storage_log::term_at(index_t index) const {
  const impl& s = *impl_;
  if (index == s.snap.index) return s.snap.term;
  if (index < s.first_index() || index > s.last_index()) return std::nullopt;
  auto after = std::upper_bound(s.terms.begin(), s.terms.end(), index,
                                [](index_t i, const term_start& t) { return i < t.start; });
  if (after == s.terms.begin()) return std::nullopt;
  return std::prev(after)->term;
}

base::result<std::vector<entry>> storage_log::read(index_t from, index_t last,
                                                   size_t max_bytes) const {
  impl& s = *impl_;
  if (from < s.first_index() || from > s.last_index()) {
    return base::fail("read " + s.directory + ": index " + std::to_string(from) + " is outside [" +
                      std::to_string(s.first_index()) + ", " + std::to_string(s.last_index()) +
                      "]");
  }
  last = std::min(last, s.last_index());
  std::vector<entry> out;
  size_t used = 0;
  index_t next = from;
  // Each pass takes at least one entry, or ends the read.
  while (next <= last) {
    const size_t budget = used >= max_bytes ? 0 : max_bytes - used;
    if (!out.empty() && budget == 0) break;
    auto slice = s.log->read(next, budget);
    if (!slice) return io_failure(slice.error());
    if (!*slice) break;
    auto bytes = (*slice)->read();
    if (!bytes) return io_failure(bytes.error());
    protocol::batch_splitter batches(*bytes);
    while (true) {
      auto batch = batches.next();
      if (!batch) return base::fail("read " + s.directory + ": " + batch.error().message);
      if (!*batch) break;
      const size_t size = (**batch).bytes().size();
      // The partition log returns a first batch whole even past its budget.
      if (!out.empty() && used + size > max_bytes) return out;
      auto e = to_entry(**batch);
      if (!e) return base::fail("read " + s.directory + ": " + e.error().message);
      if (e->index > last) return out;
      used += size;
      next = e->last_index() + 1;
      out.push_back(std::move(*e));
    }
  }
  return out;
}

base::result<void> storage_log::save_hard_state(const hard_state& state) {
  if (state.term < 0) return base::fail("save hard state: negative term");
  auto written = storage::write_file_atomically(impl_->fs, impl_->path(quorum_state_name),
                                                encode_quorum_state(state));
  if (!written) return io_failure(written.error());
  impl_->state = state;
  return {};
}

base::result<void> storage_log::install_snapshot(const snapshot& snap) {
  impl& s = *impl_;
  if (snap.meta.index < 0 || snap.meta.term < 0) {
    return base::fail("install snapshot: negative index or term");
  }
  auto saved = s.save_snapshot(snap);
  if (!saved) return saved;
  s.snap = snap.meta;
  return s.align_with_snapshot();
}

base::result<void> storage_log::append(const std::vector<entry>& entries) {
  impl& s = *impl_;
  if (entries.empty()) return {};
  const index_t front = entries.front().index;
  auto invalid = [&](const std::string& why) {
    return base::fail("append to " + s.directory + " at index " + std::to_string(front) + ": " +
                      why);
  };
  if (front < s.first_index()) {
    return invalid("below the first index " + std::to_string(s.first_index()));
  }
  // Checked and encoded before the log is cut: bad input changes nothing.
  const int64_t now = s.log_options.clock();
  std::vector<uint8_t> batches;
  index_t next = front;
  term_t term = 0;
  for (const entry& e : entries) {
    if (e.index != next || e.count < 1) return invalid("entries are not contiguous");
    if (e.term < 0 || e.term > max_term) {
      return invalid("term " + std::to_string(e.term) + " does not fit a leader epoch (int32)");
    }
    if (e.term < term) return invalid("terms decrease");
    auto encoded = encode_entry(e, now, batches);
    if (!encoded) return invalid(encoded.error().message);
    next = e.last_index() + 1;
    term = e.term;
  }
  if (front <= s.last_index()) {
    if (front > s.first_index()) {
      auto boundary = s.term_of_entry_ending_at(front - 1);
      if (!boundary) return base::unexpected(boundary.error());
      if (!*boundary) return invalid("inside a stored entry");
    }
    auto cut = s.log->truncate_to(front);
    if (!cut) return io_failure(cut.error());
    s.forget_from(s.log->log_end_offset());
  }
  if (front != s.last_index() + 1) {
    return invalid("does not follow the last index " + std::to_string(s.last_index()));
  }
  if (entries.front().term < s.last_term()) {
    return invalid("term " + std::to_string(entries.front().term) + " is below the log's " +
                   std::to_string(s.last_term()));
  }
  storage::append_options options;
  options.assign_offsets = false;
  auto appended = s.log->append(batches, options);
  if (!appended) return io_failure(appended.error());
  for (const entry& e : entries) {
    // Cannot fail: the terms were checked above.
    static_cast<void>(s.note(e));
  }
  return {};
}

base::result<index_t> storage_log::sync() {
  impl& s = *impl_;
  const int64_t end = s.log->log_end_offset();
  auto synced = s.log->sync(end);
  if (!synced) return io_failure(synced.error());
  return std::max(end - 1, s.snap.index);
}

base::result<void> storage_log::compact(const snapshot& snap) {
  impl& s = *impl_;
  const index_t index = snap.meta.index;
  if (index <= s.snap.index || index > s.last_index()) {
    return base::fail("compact " + s.directory + " at index " + std::to_string(index) +
                      ": outside (" + std::to_string(s.snap.index) + ", " +
                      std::to_string(s.last_index()) + "]");
  }
  auto term = s.term_of_entry_ending_at(index);
  if (!term) return base::unexpected(term.error());
  if (*term != snap.meta.term) {
    return base::fail("compact " + s.directory + " at index " + std::to_string(index) +
                      ": no entry of term " + std::to_string(snap.meta.term) + " ends there");
  }
  auto saved = s.save_snapshot(snap);
  if (!saved) return saved;
  s.snap = snap.meta;
  auto moved = s.log->advance_log_start_offset(index + 1);
  if (!moved) return io_failure(moved.error());
  s.forget_before(index + 1);
  // With retention by time and size off, this removes exactly the segments
  // wholly below the new start.
  auto released = s.log->enforce_retention();
  if (!released) return io_failure(released.error());
  return {};
}

storage::partition_log& storage_log::partition() { return *impl_->log; }

}  // namespace sluice::raft
