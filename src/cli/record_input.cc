#include "cli/record_input.h"

#include <limits>
#include <nlohmann/json.hpp>

namespace sluice::cli {
namespace {

// Ordered, so headers keep the order they were written in.
using json = nlohmann::ordered_json;

std::optional<std::string> as_bytes(const json& value) {
  if (value.is_null()) return std::nullopt;
  if (value.is_string()) return value.get<std::string>();
  return value.dump();
}

// nlohmann's messages start with "[json.exception.parse_error.101] ".
std::string without_exception_tag(const std::string& what) {
  size_t tag_end = what.find("] ");
  return tag_end == std::string::npos ? what : what.substr(tag_end + 2);
}

base::result<int64_t> as_integer(const json& value, int64_t max, const std::string& where) {
  if (!value.is_number_integer() || value.get<int64_t>() < 0 || value.get<int64_t>() > max) {
    return base::fail(where + " must be a non-negative integer, not " + value.dump());
  }
  return value.get<int64_t>();
}

base::result<void> read_headers(const json& headers, const std::string& where,
                                input_record& record) {
  if (!headers.is_object()) {
    return base::fail(where + " must be an object like {\"name\": \"value\"}, not " +
                      headers.dump());
  }
  for (const auto& [name, value] : headers.items())
    record.headers.emplace_back(name, as_bytes(value));
  return {};
}

base::result<void> read_field(const std::string& name, const json& value, const std::string& line,
                              input_record& record) {
  std::string where = line + ": \"" + name + "\"";
  if (name == "key") {
    record.key = as_bytes(value);
  } else if (name == "value") {
    record.value = as_bytes(value);
  } else if (name == "headers") {
    return read_headers(value, where, record);
  } else if (name == "partition") {
    auto n = as_integer(value, std::numeric_limits<int32_t>::max(), where);
    if (!n) return base::unexpected(n.error());
    record.partition = static_cast<int32_t>(*n);
  } else if (name == "timestamp") {
    auto n = as_integer(value, std::numeric_limits<int64_t>::max(), where);
    if (!n) return base::unexpected(n.error());
    record.timestamp_ms = *n;
  } else {
    return base::fail(line + ": unknown field \"" + name +
                      "\" (expected key, value, headers, partition, timestamp)");
  }
  return {};
}

}  // namespace

record_splitter::record_splitter(std::string delimiter) : delimiter_(std::move(delimiter)) {}

void record_splitter::feed(std::string_view chunk) {
  buffer_.erase(0, start_);
  scanned_ -= start_;
  start_ = 0;
  buffer_.append(chunk);
}

std::optional<std::string_view> record_splitter::next() {
  std::string_view data(buffer_);
  size_t found = data.find(delimiter_, std::max(start_, scanned_));
  if (found == std::string_view::npos) {
    // A delimiter split across chunks starts in the last size()-1 bytes.
    size_t tail = delimiter_.size() - 1;
    scanned_ = std::max(start_, data.size() > tail ? data.size() - tail : 0);
    return std::nullopt;
  }
  std::string_view record = data.substr(start_, found - start_);
  start_ = found + delimiter_.size();
  scanned_ = start_;
  return record;
}

std::optional<std::string_view> record_splitter::rest() const {
  if (start_ >= buffer_.size()) return std::nullopt;
  return std::string_view(buffer_).substr(start_);
}

keyed_text split_key(std::string_view record, std::string_view key_delimiter) {
  size_t at = key_delimiter.empty() ? std::string_view::npos : record.find(key_delimiter);
  if (at == std::string_view::npos) return {std::nullopt, record};
  return {record.substr(0, at), record.substr(at + key_delimiter.size())};
}

base::result<input_record> parse_json_record(std::string_view line, size_t line_number) {
  std::string where = "line " + std::to_string(line_number);
  json parsed;
  try {
    parsed = json::parse(line);
  } catch (const json::parse_error& e) {
    return base::fail(where + ": not JSON: " + without_exception_tag(e.what()));
  }
  if (!parsed.is_object()) {
    return base::fail(where + ": expected an object like {\"key\": \"k\", \"value\": \"v\"}");
  }
  input_record record;
  for (const auto& [name, value] : parsed.items()) {
    auto ok = read_field(name, value, where, record);
    if (!ok) return base::unexpected(ok.error());
  }
  return record;
}

bool is_blank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

}  // namespace sluice::cli
