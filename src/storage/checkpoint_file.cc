#include "storage/checkpoint_file.h"

#include <cerrno>
#include <charconv>
#include <optional>
#include <string_view>
#include <utility>

#include "storage/atomic_write.h"

namespace sluice::storage {
namespace {

constexpr std::string_view version_line = "0";
// The version and count lines come first, so entry i is on line i + 3.
constexpr size_t first_entry_line = 3;

base::unexpected<io_error> bad_message(const std::string& path, size_t line,
                                       std::string_view what) {
  io_error error = make_io_error(EBADMSG, "read", path);
  error.message.append(" (line ").append(std::to_string(line)).append(": ");
  error.message.append(what).append(")");
  return {std::move(error)};
}

base::unexpected<io_error> invalid_entry(const std::string& path, size_t index,
                                         std::string_view what) {
  io_error error = make_io_error(EINVAL, "write", path);
  error.message.append(" (entry ").append(std::to_string(index)).append(": ");
  error.message.append(what).append(")");
  return {std::move(error)};
}

// Kafka's legal topic characters; a space or newline in a topic would make
// the line unreadable.
bool is_legal_topic(std::string_view topic) {
  if (topic.empty()) return false;
  for (char c : topic) {
    bool legal = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
    if (!legal) return false;
  }
  return true;
}

// Plain decimal digits that fit in T: no sign, no spaces, nothing after.
template <typename T>
std::optional<T> parse_number(std::string_view text) {
  if (text.empty() || text.front() < '0' || text.front() > '9') return std::nullopt;
  T value{};
  const char* end = text.data() + text.size();
  auto [stop, error] = std::from_chars(text.data(), end, value);
  if (error != std::errc() || stop != end) return std::nullopt;
  return value;
}

// Fields separated by single spaces; a doubled, leading or trailing space
// yields an empty field, which no field may be.
std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  for (size_t start = 0;;) {
    size_t end = line.find(' ', start);
    fields.push_back(line.substr(start, end == line.npos ? line.npos : end - start));
    if (end == line.npos) return fields;
    start = end + 1;
  }
}

}  // namespace

checkpoint_file::checkpoint_file(file_system& fs, std::string path)
    : fs_(fs), path_(std::move(path)) {}

io_result<void> checkpoint_file::write(const std::vector<topic_partition_offset>& entries) {
  std::vector<std::string> lines;
  lines.reserve(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    if (!is_legal_topic(e.topic)) return invalid_entry(path_, i, "topic is not a legal name");
    if (e.partition < 0 || e.offset < 0) return invalid_entry(path_, i, "negative number");
    lines.push_back(e.topic + " " + std::to_string(e.partition) + " " + std::to_string(e.offset));
  }
  return write_lines(lines);
}

io_result<void> checkpoint_file::write(const std::vector<epoch_start_offset>& entries) {
  std::vector<std::string> lines;
  lines.reserve(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    if (e.epoch < 0 || e.start_offset < 0) return invalid_entry(path_, i, "negative number");
    lines.push_back(std::to_string(e.epoch) + " " + std::to_string(e.start_offset));
  }
  return write_lines(lines);
}

io_result<std::vector<topic_partition_offset>> checkpoint_file::read_partition_offsets() {
  auto lines = read_lines();
  if (!lines) return base::unexpected(lines.error());
  std::vector<topic_partition_offset> entries;
  entries.reserve(lines->size());
  for (size_t i = 0; i < lines->size(); ++i) {
    const size_t line = first_entry_line + i;
    auto fields = split_fields((*lines)[i]);
    if (fields.size() != 3) return bad_message(path_, line, "expected `topic partition offset`");
    if (!is_legal_topic(fields[0])) return bad_message(path_, line, "topic is not a legal name");
    auto partition = parse_number<int32_t>(fields[1]);
    if (!partition) return bad_message(path_, line, "partition is not an int32 >= 0");
    auto offset = parse_number<int64_t>(fields[2]);
    if (!offset) return bad_message(path_, line, "offset is not an int64 >= 0");
    entries.push_back({std::string(fields[0]), *partition, *offset});
  }
  return entries;
}

io_result<std::vector<epoch_start_offset>> checkpoint_file::read_epochs() {
  auto lines = read_lines();
  if (!lines) return base::unexpected(lines.error());
  std::vector<epoch_start_offset> entries;
  entries.reserve(lines->size());
  for (size_t i = 0; i < lines->size(); ++i) {
    const size_t line = first_entry_line + i;
    auto fields = split_fields((*lines)[i]);
    if (fields.size() != 2) return bad_message(path_, line, "expected `epoch start_offset`");
    auto epoch = parse_number<int32_t>(fields[0]);
    if (!epoch) return bad_message(path_, line, "epoch is not an int32 >= 0");
    auto start_offset = parse_number<int64_t>(fields[1]);
    if (!start_offset) return bad_message(path_, line, "start offset is not an int64 >= 0");
    entries.push_back({*epoch, *start_offset});
  }
  return entries;
}

io_result<void> checkpoint_file::write_lines(const std::vector<std::string>& lines) {
  std::string text;
  text.append(version_line).append("\n");
  text.append(std::to_string(lines.size())).append("\n");
  for (const auto& line : lines) text.append(line).append("\n");

  return write_file_atomically(fs_, path_, text);
}

io_result<std::vector<std::string>> checkpoint_file::read_lines() {
  auto opened = fs_.open(path_, open_mode::read_only);
  if (!opened) {
    if (opened.error().code == ENOENT) return std::vector<std::string>{};
    return base::unexpected(opened.error());
  }
  file& f = **opened;
  auto size = f.size();
  if (!size) return base::unexpected(size.error());
  std::string text(*size, '\0');
  auto n = f.read_at(0, std::span(reinterpret_cast<uint8_t*>(text.data()), text.size()));
  if (!n) return base::unexpected(n.error());
  text.resize(*n);

  // Every line, the last included, ends in a newline: a file cut inside its
  // last line would otherwise read as a smaller number.
  std::vector<std::string> lines;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) {
      return bad_message(path_, lines.size() + 1, "no newline at the end of the file");
    }
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }

  if (lines.empty()) return bad_message(path_, 1, "no version");
  if (parse_number<int32_t>(lines[0]) != 0) return bad_message(path_, 1, "version is not 0");
  if (lines.size() < 2) return bad_message(path_, 2, "no entry count");
  auto count = parse_number<uint64_t>(lines[1]);
  if (!count) return bad_message(path_, 2, "entry count is not a number");
  const uint64_t found = lines.size() - 2;
  if (found < *count) {
    return bad_message(path_, lines.size() + 1,
                       "the file ends after " + std::to_string(found) + " of " +
                           std::to_string(*count) + " entries");
  }
  if (found > *count) {
    return bad_message(path_, first_entry_line + *count,
                       "more entries than the count of " + std::to_string(*count));
  }
  lines.erase(lines.begin(), lines.begin() + 2);
  return lines;
}

}  // namespace sluice::storage
