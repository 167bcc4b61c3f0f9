#include "cli/log_dump.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <span>

#include "base/endian.h"
#include "protocol/legacy_message_set.h"
#include "protocol/record_batch.h"

namespace sluice::cli {
namespace {

namespace fs = std::filesystem;
namespace layout = protocol::batch_layout;

// A compressed batch may not decompress to more than this: far beyond what
// producers send (message.max.bytes is 1 MiB by default), far below what
// hurts the machine running the dump.
constexpr size_t max_decompressed_bytes = size_t{256} << 20;
// How much of a file one read brings in, so that a walk over small batches
// makes few system calls.
constexpr size_t read_window = size_t{1} << 20;
// A legacy message: crc, magic, attributes, key and value lengths.
constexpr int32_t min_legacy_message_size = 14;
constexpr size_t legacy_crc_position = layout::log_overhead;
constexpr size_t legacy_attributes_position = layout::magic + 1;
constexpr size_t offset_entry_size = 8;
constexpr size_t time_entry_size = 12;

template <typename T>
std::string str(T v) {
  return std::to_string(v);
}

class memory_bytes final : public byte_source {
 public:
  explicit memory_bytes(base::shared_bytes bytes) : bytes_(std::move(bytes)) {}
  uint64_t size() const override { return bytes_.size(); }
  base::result<base::shared_bytes> read(uint64_t position, size_t length) override {
    return bytes_.slice(position, length);
  }

 private:
  base::shared_bytes bytes_;
};

// Reads through a window of at least read_window bytes; the slices it hands
// out keep their window alive.
class file_bytes final : public byte_source {
 public:
  file_bytes(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~file_bytes() override { ::close(fd_); }
  file_bytes(const file_bytes&) = delete;
  file_bytes& operator=(const file_bytes&) = delete;

  base::result<void> load_size() {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return base::fail(path_ + ": " + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) return base::fail(path_ + ": not a regular file");
    size_ = static_cast<uint64_t>(st.st_size);
    return {};
  }

  uint64_t size() const override { return size_; }

  base::result<base::shared_bytes> read(uint64_t position, size_t length) override {
    if (position >= window_start_ && position + length <= window_start_ + window_.size()) {
      return window_.slice(position - window_start_, length);
    }
    size_t want = std::max<uint64_t>(length, std::min<uint64_t>(read_window, size_ - position));
    std::vector<uint8_t> buffer(want);
    for (size_t done = 0; done < want;) {
      ssize_t n = ::pread(fd_, buffer.data() + done, want - done, position + done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return base::fail(path_ + ": " + std::strerror(errno));
      if (n == 0) return base::fail(path_ + ": the file shrank while it was read");
      done += static_cast<size_t>(n);
    }
    window_ = base::shared_bytes(std::move(buffer));
    window_start_ = position;
    return window_.slice(0, length);
  }

 private:
  std::string path_;
  int fd_;
  uint64_t size_ = 0;
  base::shared_bytes window_;
  uint64_t window_start_ = 0;
};

// --- Showing bytes ---------------------------------------------------------

// The length of the valid UTF-8 sequence of two or more bytes that starts
// `s`, or 0 (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF).
size_t utf8_sequence_length(std::span<const uint8_t> s) {
  uint8_t lead = s[0];
  uint8_t low = 0x80;
  uint8_t high = 0xbf;
  size_t length;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) low = 0xa0;
    if (lead == 0xed) high = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) low = 0x90;
    if (lead == 0xf4) high = 0x8f;
  } else {
    return 0;
  }
  if (s.size() < length || s[1] < low || s[1] > high) return 0;
  for (size_t i = 2; i < length; ++i) {
    if (s[i] < 0x80 || s[i] > 0xbf) return 0;
  }
  return length;
}

// At most `max_bytes` (0: all) of `bytes` as text that is safe on a terminal
// and in JSON: printable ASCII and valid UTF-8 stay, anything else becomes
// \xNN.
std::string printable(std::span<const uint8_t> bytes, size_t max_bytes) {
  if (max_bytes != 0 && bytes.size() > max_bytes) bytes = bytes.first(max_bytes);
  std::string text;
  text.reserve(bytes.size());
  for (size_t i = 0; i < bytes.size();) {
    uint8_t b = bytes[i];
    if (b >= 0x20 && b < 0x7f) {
      text += static_cast<char>(b);
      ++i;
      continue;
    }
    if (size_t n = utf8_sequence_length(bytes.subspan(i)); n != 0) {
      text.append(reinterpret_cast<const char*>(bytes.data() + i), n);
      i += n;
      continue;
    }
    char escaped[5];
    std::snprintf(escaped, sizeof escaped, "\\x%02x", b);
    text += escaped;
    ++i;
  }
  return text;
}

document text_of(const std::optional<base::shared_bytes>& bytes, size_t max_bytes) {
  return bytes ? document(printable(bytes->span(), max_bytes)) : document(nullptr);
}

// Kafka's convention: -1 for null.
int64_t size_of(const std::optional<base::shared_bytes>& bytes) {
  return bytes ? static_cast<int64_t>(bytes->size()) : -1;
}

// "key=value", or "key" for a null value: plain strings keep the record rows
// of the human output a table. Only values are cut: keys are names.
document header_texts(const std::vector<protocol::record_header>& headers, size_t max_bytes) {
  document texts = document::array();
  for (const auto& h : headers) {
    std::string text = printable({reinterpret_cast<const uint8_t*>(h.key.data()), h.key.size()}, 0);
    if (h.value) text += "=" + printable(h.value->span(), max_bytes);
    texts.push_back(std::move(text));
  }
  return texts;
}

// --- Record batches --------------------------------------------------------

const char* timestamp_type_name(protocol::timestamp_type type) {
  return type == protocol::timestamp_type::log_append_time ? "log_append_time" : "create_time";
}

document batch_row(const protocol::batch_header& h, uint64_t position, bool crc_valid) {
  return {{"base_offset", h.base_offset},
          {"last_offset", h.last_offset()},
          {"count", h.records_count},
          {"position", position},
          {"size", h.size()},
          {"magic", h.magic},
          {"crc", h.crc},
          {"crc_valid", crc_valid},
          {"compression", std::string(protocol::compression_name(h.codec()))},
          {"timestamp_type", timestamp_type_name(h.ts_type())},
          {"first_timestamp", h.base_timestamp},
          {"max_timestamp", h.max_timestamp},
          {"producer_id", h.producer_id},
          {"producer_epoch", h.producer_epoch},
          {"base_sequence", h.base_sequence},
          {"is_transactional", h.is_transactional()},
          {"is_control", h.is_control()},
          {"partition_leader_epoch", h.partition_leader_epoch}};
}

std::string control_type_name(protocol::control_record_type type) {
  using protocol::control_record_type;
  switch (type) {
    case control_record_type::abort:
      return "abort";
    case control_record_type::commit:
      return "commit";
    case control_record_type::leader_change:
      return "leader_change";
    case control_record_type::snapshot_header:
      return "snapshot_header";
    case control_record_type::snapshot_footer:
      return "snapshot_footer";
    case control_record_type::kraft_version:
      return "kraft_version";
    case control_record_type::kraft_voters:
      return "kraft_voters";
  }
  return str(static_cast<int16_t>(type));
}

// What a control record means, beside its raw key and value; null when it
// does not decode.
void add_control_fields(const protocol::record& r, document& row) {
  row["control_type"] = nullptr;
  row["coordinator_epoch"] = nullptr;
  if (!r.key) return;
  auto key = protocol::decode_control_record_key(r.key->span());
  if (!key) return;
  row["control_type"] = control_type_name(key->type);
  bool ends_transaction = key->type == protocol::control_record_type::abort ||
                          key->type == protocol::control_record_type::commit;
  if (!ends_transaction || !r.value) return;
  if (auto marker = protocol::decode_end_txn_marker(r.value->span())) {
    row["coordinator_epoch"] = marker->coordinator_epoch;
  }
}

document record_row(const protocol::record& r, const protocol::batch_header& h, size_t max_bytes) {
  document row = {{"offset", r.offset(h)},
                  {"timestamp", r.timestamp(h)},
                  {"key_size", size_of(r.key)},
                  {"value_size", size_of(r.value)},
                  {"key", text_of(r.key, max_bytes)},
                  {"value", text_of(r.value, max_bytes)},
                  {"headers", header_texts(r.headers, max_bytes)}};
  if (h.is_control()) add_control_fields(r, row);
  return row;
}

// Adds "records" (those at or past from_offset, up to the first that does
// not decode) and "records_error" to `row`.
void add_records(const protocol::record_batch& batch, const dump_options& options, document& row) {
  const protocol::batch_header& h = batch.header();
  document records = document::array();
  document error = nullptr;
  auto reader = protocol::record_reader::open(batch, max_decompressed_bytes);
  if (!reader) {
    error = reader.error().message;
  } else {
    protocol::record r;
    while (true) {
      auto more = reader->next(r);
      if (!more) {
        error = more.error().message;
        break;
      }
      if (!*more) break;
      if (r.offset(h) >= options.from_offset)
        records.push_back(record_row(r, h, options.max_bytes));
    }
  }
  row["records"] = std::move(records);
  row["records_error"] = std::move(error);
}

// --- Walking a .log --------------------------------------------------------

// One entry of a .log: a record batch, or a legacy message (magic 0 or 1)
// that may wrap others. Both start with an offset, a length and, at byte 16,
// the magic.
struct log_entry {
  uint64_t position = 0;
  int8_t magic = 0;
  base::shared_bytes bytes;
};

std::string at_byte(uint64_t position) { return "at byte " + str(position); }

// The size of the entry that begins with `head` (up to a batch header's
// bytes), `left` bytes being left in the file.
base::result<uint64_t> entry_size(std::span<const uint8_t> head, uint64_t left) {
  auto cut_short = [left](const std::string& needs) {
    return base::fail("cut short: " + needs + ", " + str(left) + " bytes are left");
  };
  if (head.size() <= layout::magic) return cut_short("an entry header needs 17 bytes");
  auto magic = static_cast<int8_t>(head[layout::magic]);
  uint64_t size;
  if (magic == 0 || magic == 1) {
    int32_t length = base::load_be<int32_t>(head.data() + layout::batch_length);
    if (length < min_legacy_message_size) {
      return base::fail("legacy message size " + str(length) + " is below the minimum " +
                        str(min_legacy_message_size));
    }
    size = layout::log_overhead + static_cast<uint64_t>(length);
  } else if (magic == protocol::record_batch_magic) {
    if (head.size() < layout::header_size) return cut_short("a batch header needs 61 bytes");
    auto header = protocol::decode_batch_header(head.first<layout::header_size>());
    if (!header) return base::fail(header.error().message);
    size = header->size();
  } else {
    return base::fail("unknown magic " + str(magic));
  }
  if (size > left) return cut_short("the entry is " + str(size) + " bytes");
  return size;
}

// Walks the entries of a .log. Stops for good, with the reason, at the first
// one whose framing it cannot trust: past it, there is no telling where the
// next entry starts.
class log_walker {
 public:
  explicit log_walker(byte_source& log) : log_(log) {}

  base::result<std::optional<log_entry>> next() {
    uint64_t left = log_.size() - position_;
    if (left == 0) return std::optional<log_entry>();
    auto head = log_.read(position_, std::min<uint64_t>(left, layout::header_size));
    if (!head) return base::unexpected(head.error());
    auto size = entry_size(head->span(), left);
    if (!size) return base::fail(at_byte(position_) + ": " + size.error().message);
    auto bytes = log_.read(position_, *size);
    if (!bytes) return base::unexpected(bytes.error());
    log_entry entry{position_, static_cast<int8_t>((*head)[layout::magic]), std::move(*bytes)};
    position_ += *size;
    return std::optional<log_entry>(std::move(entry));
  }

  // Where the entries read so far end.
  uint64_t position() const { return position_; }

 private:
  byte_source& log_;
  uint64_t position_ = 0;
};

struct legacy_entry {
  std::vector<protocol::legacy_message> messages;
  bool crc_valid = true;
};

// The messages of one legacy entry. A CRC mismatch alone does not hide them:
// read again unchecked, they are shown with crc_valid false, as a batch is.
base::result<legacy_entry> read_legacy_entry(const base::shared_bytes& bytes) {
  protocol::legacy_read_options options;
  options.max_decompressed_bytes = max_decompressed_bytes;
  auto checked = protocol::read_legacy_message_set(bytes, options);
  if (checked) return legacy_entry{std::move(*checked), true};
  options.verify_crc = false;
  auto unchecked = protocol::read_legacy_message_set(bytes, options);
  if (!unchecked) return base::fail(checked.error().message);
  return legacy_entry{std::move(*unchecked), false};
}

// The offsets an entry spans.
struct offset_range {
  int64_t base = 0;
  int64_t last = 0;
};

document problem(const std::string& location, const std::string& what) {
  return {{"location", location}, {"problem", what}};
}

// The dump of one .log, built one entry at a time.
class log_dump {
 public:
  log_dump(const segment_file& file, const dump_options& options)
      : file_(file), options_(options) {}

  // Fails when the entry cannot be shown, which stops the walk.
  base::result<void> add(const log_entry& entry) {
    return entry.magic == protocol::record_batch_magic ? add_batch(entry) : add_legacy(entry);
  }

  document take_batches() { return std::move(batches_); }
  document take_problems() { return std::move(problems_); }

 private:
  base::result<void> add_batch(const log_entry& entry) {
    auto batch = protocol::record_batch::parse(entry.bytes);
    if (!batch) return base::fail(at_byte(entry.position) + ": " + batch.error().message);
    const protocol::batch_header& h = batch->header();
    auto order = order_problem({h.base_offset, h.last_offset()});
    if (h.last_offset() < options_.from_offset) return {};

    auto crc = protocol::verify_crc(*batch);
    document row = batch_row(h, entry.position, crc.ok());
    if (options_.verify) {
      if (order) report(entry.position, *order);
      if (!crc) report(entry.position, crc.error().message);
      if (auto records = protocol::check_records(*batch, max_decompressed_bytes); !records) {
        report(entry.position, records.error().message);
      }
    }
    if (options_.records) add_records(*batch, options_, row);
    batches_.push_back(std::move(row));
    return {};
  }

  base::result<void> add_legacy(const log_entry& entry) {
    auto read = read_legacy_entry(entry.bytes);
    if (!read) return base::fail(at_byte(entry.position) + ": " + read.error().message);
    const auto& messages = read->messages;
    offset_range offsets{messages.front().offset, messages.back().offset};
    auto order = order_problem(offsets);
    if (offsets.last < options_.from_offset) return {};

    document row = legacy_row(entry, *read);
    if (options_.verify) {
      if (order) report(entry.position, *order);
      if (!read->crc_valid) report(entry.position, "legacy message CRC mismatch");
    }
    if (options_.records) {
      document records = document::array();
      for (const auto& m : messages) {
        if (m.offset < options_.from_offset) continue;
        records.push_back({{"offset", m.offset},
                           {"timestamp", m.timestamp},
                           {"key_size", size_of(m.key)},
                           {"value_size", size_of(m.value)},
                           {"key", text_of(m.key, options_.max_bytes)},
                           {"value", text_of(m.value, options_.max_bytes)},
                           {"headers", document::array()}});
      }
      row["records"] = std::move(records);
      row["records_error"] = nullptr;
    }
    batches_.push_back(std::move(row));
    return {};
  }

  // A legacy entry in the columns of a batch: the fields it lacks keep a
  // batch's "none" values (-1, false).
  static document legacy_row(const log_entry& entry, const legacy_entry& read) {
    const auto& messages = read.messages;
    protocol::batch_header h;
    h.base_offset = messages.front().offset;
    h.batch_length = static_cast<int32_t>(entry.bytes.size() - layout::log_overhead);
    h.magic = entry.magic;
    h.crc = base::load_be<uint32_t>(entry.bytes.data() + legacy_crc_position);
    h.attributes = static_cast<int16_t>(entry.bytes[legacy_attributes_position] & 0x0f);
    h.records_count = static_cast<int32_t>(messages.size());
    h.base_timestamp = messages.front().timestamp;
    for (const auto& m : messages) h.max_timestamp = std::max(h.max_timestamp, m.timestamp);
    document row = batch_row(h, entry.position, read.crc_valid);
    // The header's last offset is a 32-bit delta; a hostile entry may span more.
    row["last_offset"] = messages.back().offset;
    if (entry.magic == 0) row["timestamp_type"] = "none";
    return row;
  }

  // Offsets must rise from the segment's base offset (its file name) on;
  // records what breaks that for the next entry.
  std::optional<std::string> order_problem(offset_range offsets) {
    std::optional<std::string> why;
    if (offsets.last < offsets.base) {
      why = "last offset " + str(offsets.last) + " is below the base offset " + str(offsets.base);
    } else if (previous_last_ && offsets.base <= *previous_last_) {
      why = "base offset " + str(offsets.base) + " does not follow the previous last offset " +
            str(*previous_last_);
    } else if (!previous_last_ && file_.base_offset && offsets.base < *file_.base_offset) {
      why = "base offset " + str(offsets.base) + " is below the segment's base offset " +
            str(*file_.base_offset);
    }
    previous_last_ = offsets.last;
    return why;
  }

  void report(uint64_t position, const std::string& what) {
    problems_.push_back(problem("byte " + str(position), what));
  }

  const segment_file& file_;
  const dump_options& options_;
  document batches_ = document::array();
  document problems_ = document::array();
  std::optional<int64_t> previous_last_;
};

const char* type_name(segment_file_type type) {
  switch (type) {
    case segment_file_type::log:
      return "log";
    case segment_file_type::offset_index:
      return "index";
    case segment_file_type::time_index:
      return "timeindex";
  }
  return "?";
}

document file_head(const segment_file& file, uint64_t size) {
  return {{"path", file.path},
          {"type", type_name(file.type)},
          {"base_offset", file.base_offset ? document(*file.base_offset) : document(nullptr)},
          {"size", size}};
}

document dump_log(const segment_file& file, byte_source& bytes, const dump_options& options) {
  log_dump dump(file, options);
  log_walker walker(bytes);
  document error = nullptr;
  while (true) {
    auto entry = walker.next();
    if (!entry) {
      error = entry.error().message;
      break;
    }
    if (!*entry) break;
    if (auto added = dump.add(**entry); !added) {
      error = added.error().message;
      break;
    }
  }
  document doc = file_head(file, bytes.size());
  doc["batches"] = dump.take_batches();
  doc["error"] = std::move(error);
  if (options.verify) doc["problems"] = dump.take_problems();
  return doc;
}

// --- Indexes ---------------------------------------------------------------

// Where the batches of a .log lie, for checking an index against it.
struct log_layout {
  struct extent {
    uint64_t position = 0;
    offset_range offsets;
  };
  std::vector<extent> batches;  // by position
  uint64_t readable_end = 0;    // where the walk stopped
  int64_t last_offset = -1;     // of the last batch read
};

log_layout scan_log(byte_source& log) {
  log_layout layout;
  log_walker walker(log);
  while (true) {
    auto entry = walker.next();
    if (!entry || !*entry) break;
    const log_entry& e = **entry;
    offset_range offsets;
    if (e.magic == protocol::record_batch_magic) {
      auto header = protocol::parse_batch_header(e.bytes.span());
      if (!header) break;
      offsets = {header->base_offset, header->last_offset()};
    } else {
      auto read = read_legacy_entry(e.bytes);
      if (!read) break;
      offsets = {read->messages.front().offset, read->messages.back().offset};
    }
    layout.batches.push_back({e.position, offsets});
    layout.readable_end = walker.position();
    layout.last_offset = std::max(layout.last_offset, offsets.last);
  }
  return layout;
}

// The index file's entries as bytes, or the error of reading them.
struct index_bytes {
  base::shared_bytes entries;  // whole entries only
  document error = nullptr;
};

index_bytes read_index(byte_source& bytes, size_t entry_size) {
  uint64_t whole = bytes.size() / entry_size * entry_size;
  auto read = bytes.read(0, whole);
  if (!read) return {{}, read.error().message};
  index_bytes out{std::move(*read)};
  if (uint64_t extra = bytes.size() - whole; extra != 0) {
    out.error = "the size " + str(bytes.size()) + " is not a multiple of " + str(entry_size) +
                ": " + str(extra) + " bytes after the last entry";
  }
  return out;
}

std::string entry_location(size_t index) { return "entry " + str(index); }

// Why the .index entry (offset, position) does not point into `log` as it
// should, or nullopt.
std::optional<std::string> offset_entry_vs_log(int64_t offset, int32_t position,
                                               const log_layout& log) {
  auto at = static_cast<uint64_t>(position);
  if (at >= log.readable_end) {
    return "position " + str(position) + " is past the readable end of the .log (byte " +
           str(log.readable_end) + ")";
  }
  auto batch = std::lower_bound(
      log.batches.begin(), log.batches.end(), at,
      [](const log_layout::extent& s, uint64_t position) { return s.position < position; });
  if (batch == log.batches.end() || batch->position != at) {
    return "position " + str(position) + " is not where a batch starts";
  }
  if (batch->offsets.base > offset) {
    return "position " + str(position) + " holds the batch from offset " +
           str(batch->offsets.base) + ", past the entry's offset " + str(offset);
  }
  if (offset > log.last_offset) {
    return "offset " + str(offset) + " is past the .log's last offset " + str(log.last_offset);
  }
  return std::nullopt;
}

document dump_offset_index(const segment_file& file, byte_source& bytes, byte_source* log,
                           const dump_options& options) {
  int64_t base = file.base_offset.value_or(0);
  index_bytes index = read_index(bytes, offset_entry_size);
  std::optional<log_layout> layout;
  if (options.verify && log != nullptr) layout = scan_log(*log);

  document entries = document::array();
  document problems = document::array();
  auto report = [&](size_t i, const std::string& what) {
    problems.push_back(problem(entry_location(i), what));
  };
  for (size_t i = 0; i * offset_entry_size < index.entries.size(); ++i) {
    const uint8_t* p = index.entries.data() + i * offset_entry_size;
    int32_t relative = base::load_be<int32_t>(p);
    int32_t position = base::load_be<int32_t>(p + 4);
    int64_t offset = protocol::wrapping_add(base, relative);
    if (offset < options.from_offset) continue;
    entries.push_back({{"offset", offset}, {"position", position}});
    if (!options.verify) continue;
    if (relative < 0) report(i, "negative relative offset " + str(relative));
    if (position < 0) report(i, "negative position " + str(position));
    if (i > 0) {
      int32_t previous_relative = base::load_be<int32_t>(p - offset_entry_size);
      int32_t previous_position = base::load_be<int32_t>(p - offset_entry_size + 4);
      if (relative <= previous_relative) report(i, "offset does not increase");
      if (position <= previous_position) report(i, "position does not increase");
    }
    if (layout && position >= 0) {
      if (auto why = offset_entry_vs_log(offset, position, *layout)) report(i, *why);
    }
  }
  if (options.verify && log == nullptr) {
    problems.push_back(problem("file", "no .log beside it to check the positions against"));
  }
  document doc = file_head(file, bytes.size());
  doc["entries"] = std::move(entries);
  doc["error"] = std::move(index.error);
  if (options.verify) doc["problems"] = std::move(problems);
  return doc;
}

document dump_time_index(const segment_file& file, byte_source& bytes, byte_source* log,
                         const dump_options& options) {
  int64_t base = file.base_offset.value_or(0);
  index_bytes index = read_index(bytes, time_entry_size);
  std::optional<int64_t> log_last_offset;
  if (options.verify && log != nullptr) log_last_offset = scan_log(*log).last_offset;

  document entries = document::array();
  document problems = document::array();
  auto report = [&](size_t i, const std::string& what) {
    problems.push_back(problem(entry_location(i), what));
  };
  for (size_t i = 0; i * time_entry_size < index.entries.size(); ++i) {
    const uint8_t* p = index.entries.data() + i * time_entry_size;
    int64_t timestamp = base::load_be<int64_t>(p);
    int32_t relative = base::load_be<int32_t>(p + 8);
    int64_t offset = protocol::wrapping_add(base, relative);
    if (offset < options.from_offset) continue;
    entries.push_back({{"timestamp", timestamp}, {"offset", offset}});
    if (!options.verify) continue;
    if (relative < 0) report(i, "negative relative offset " + str(relative));
    if (i > 0) {
      int64_t previous_timestamp = base::load_be<int64_t>(p - time_entry_size);
      int32_t previous_relative = base::load_be<int32_t>(p - time_entry_size + 8);
      if (timestamp <= previous_timestamp) report(i, "timestamp does not increase");
      if (relative < previous_relative) report(i, "offset goes back");
    }
    if (log_last_offset && offset > *log_last_offset) {
      report(i,
             "offset " + str(offset) + " is past the .log's last offset " + str(*log_last_offset));
    }
  }
  if (options.verify && log == nullptr) {
    problems.push_back(problem("file", "no .log beside it to check the offsets against"));
  }
  document doc = file_head(file, bytes.size());
  doc["entries"] = std::move(entries);
  doc["error"] = std::move(index.error);
  if (options.verify) doc["problems"] = std::move(problems);
  return doc;
}

// --- Paths -----------------------------------------------------------------

std::optional<int64_t> parse_base_offset(const std::string& stem) {
  // 20 digits, as the broker names segments; anything else says nothing.
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  if (stem.size() != 20 || !std::all_of(stem.begin(), stem.end(), is_digit)) return std::nullopt;
  int64_t value = 0;
  auto [end, ec] = std::from_chars(stem.data(), stem.data() + stem.size(), value);
  if (ec != std::errc() || end != stem.data() + stem.size()) return std::nullopt;
  return value;
}

std::string with_extension(const std::string& path, const char* extension) {
  return fs::path(path).replace_extension(extension).string();
}

bool is_file(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

// The segments of a partition directory by base offset: each .log, and with
// --verify its indexes. --from-offset leaves out the segments wholly below
// it: the next segment's base offset bounds each one's offsets.
base::result<std::vector<segment_file>> directory_segments(const std::string& directory,
                                                           const dump_options& options) {
  std::map<int64_t, segment_file> logs;
  std::error_code ec;
  for (fs::directory_iterator it(directory, ec), end; !ec && it != end; it.increment(ec)) {
    auto file = classify_segment_file(it->path().string());
    if (file && file->type == segment_file_type::log && file->base_offset) {
      logs.emplace(*file->base_offset, std::move(*file));
    }
  }
  if (ec) return base::fail(directory + ": " + ec.message());
  if (logs.empty()) {
    return base::fail(directory +
                      ": holds no segment (.log) files; a partition directory is "
                      "<log.dirs>/<topic>-<partition>");
  }
  std::vector<segment_file> files;
  for (auto it = logs.begin(); it != logs.end(); ++it) {
    auto next = std::next(it);
    if (next != logs.end() && next->first <= options.from_offset) continue;
    files.push_back(it->second);
    if (!options.verify) continue;
    for (const char* extension : {".index", ".timeindex"}) {
      std::string path = with_extension(it->second.path, extension);
      if (is_file(path)) files.push_back(*classify_segment_file(path));
    }
  }
  return files;
}

base::result<std::vector<segment_file>> expand_paths(const std::vector<std::string>& paths,
                                                     const dump_options& options) {
  std::vector<segment_file> files;
  for (const auto& path : paths) {
    std::error_code ec;
    auto status = fs::status(path, ec);
    if (status.type() == fs::file_type::not_found) {
      return base::fail(path + ": no such file or directory");
    }
    if (ec) return base::fail(path + ": " + ec.message());
    if (fs::is_directory(status)) {
      auto segments = directory_segments(path, options);
      if (!segments) return base::unexpected(segments.error());
      files.insert(files.end(), segments->begin(), segments->end());
      continue;
    }
    auto file = classify_segment_file(path);
    if (!file) {
      return base::fail(path +
                        ": not a segment file (.log, .index, .timeindex) or a partition directory");
    }
    files.push_back(std::move(*file));
  }
  return files;
}

document dump_path(const segment_file& file, const dump_options& options) {
  auto bytes = open_file_source(file.path);
  if (!bytes) {
    document doc = file_head(file, 0);
    doc["error"] = bytes.error().message;
    if (options.verify) doc["problems"] = document::array();
    return doc;
  }
  std::unique_ptr<byte_source> log;
  if (options.verify && file.type != segment_file_type::log) {
    std::string log_path = with_extension(file.path, ".log");
    if (auto opened = open_file_source(log_path)) log = std::move(*opened);
  }
  return dump_segment_file(file, **bytes, log.get(), options);
}

}  // namespace

std::optional<segment_file> classify_segment_file(const std::string& path) {
  fs::path p(path);
  std::string extension = p.extension().string();
  segment_file file;
  file.path = path;
  if (extension == ".log") {
    file.type = segment_file_type::log;
  } else if (extension == ".index") {
    file.type = segment_file_type::offset_index;
  } else if (extension == ".timeindex") {
    file.type = segment_file_type::time_index;
  } else {
    return std::nullopt;
  }
  file.base_offset = parse_base_offset(p.stem().string());
  return file;
}

std::unique_ptr<byte_source> memory_source(base::shared_bytes bytes) {
  return std::make_unique<memory_bytes>(std::move(bytes));
}

base::result<std::unique_ptr<byte_source>> open_file_source(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return base::fail(path + ": " + std::strerror(errno));
  auto file = std::make_unique<file_bytes>(path, fd);
  if (auto ok = file->load_size(); !ok) return base::unexpected(ok.error());
  return std::unique_ptr<byte_source>(std::move(file));
}

document dump_segment_file(const segment_file& file, byte_source& bytes, byte_source* log,
                           const dump_options& options) {
  switch (file.type) {
    case segment_file_type::log:
      return dump_log(file, bytes, options);
    case segment_file_type::offset_index:
      return dump_offset_index(file, bytes, log, options);
    case segment_file_type::time_index:
      return dump_time_index(file, bytes, log, options);
  }
  return nullptr;
}

base::result<document> dump_paths(const std::vector<std::string>& paths,
                                  const dump_options& options) {
  auto files = expand_paths(paths, options);
  if (!files) return base::unexpected(files.error());
  document dumped = document::array();
  for (const auto& file : *files) dumped.push_back(dump_path(file, options));
  return document{{"files", std::move(dumped)}};
}

std::optional<std::string> verification_failure(const document& dump) {
  size_t problems = 0;
  size_t files_with_problems = 0;
  const document& files = dump.at("files");
  for (const auto& file : files) {
    size_t found = file.value("problems", document::array()).size();
    if (!file.at("error").is_null()) ++found;
    problems += found;
    if (found != 0) ++files_with_problems;
  }
  if (problems == 0) return std::nullopt;
  return "verification failed: " + str(problems) + " problem" + (problems == 1 ? "" : "s") +
         " in " + str(files_with_problems) + " of " + str(files.size()) + " files";
}

}  // namespace sluice::cli
