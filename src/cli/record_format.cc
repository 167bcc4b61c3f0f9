#include "cli/record_format.h"

#include <charconv>

#include "cli/escapes.h"

namespace sluice::cli {
namespace {

constexpr std::string_view directives = "tpoTkvsKSh";

void append_number(int64_t n, std::string& out) {
  char buffer[24];
  auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, n);
  out.append(buffer, end);
}

void append_length(const std::optional<std::string_view>& bytes, std::string& out) {
  append_number(bytes ? static_cast<int64_t>(bytes->size()) : -1, out);
}

void append_headers(const record_view& record, std::string& out) {
  bool first = true;
  for (const auto& [name, value] : record.headers) {
    if (!first) out += ',';
    first = false;
    out += name;
    out += '=';
    if (value) out += *value;
  }
}

void append_directive(char directive, const record_view& record, std::string& out) {
  switch (directive) {
    case 't':
      out += record.topic;
      break;
    case 'p':
      append_number(record.partition, out);
      break;
    case 'o':
      append_number(record.offset, out);
      break;
    case 'T':
      append_number(record.timestamp_ms, out);
      break;
    case 'k':
      if (record.key) out += *record.key;
      break;
    case 'v':
    case 's':
      if (record.value) out += *record.value;
      break;
    case 'K':
      append_length(record.key, out);
      break;
    case 'S':
      append_length(record.value, out);
      break;
    case 'h':
      append_headers(record, out);
      break;
  }
}

document optional_text(const std::optional<std::string_view>& bytes) {
  return bytes ? document(std::string(*bytes)) : document(nullptr);
}

document timestamp_type_json(record_view::timestamp_kind kind) {
  switch (kind) {
    case record_view::timestamp_kind::create_time:
      return "create_time";
    case record_view::timestamp_kind::log_append_time:
      return "log_append_time";
    default:
      return nullptr;
  }
}

}  // namespace

base::result<record_template> record_template::parse(std::string_view text) {
  record_template parsed;
  auto literal = [&]() -> std::string& {
    if (parsed.pieces_.empty() || parsed.pieces_.back().directive != 0) {
      parsed.pieces_.emplace_back();
    }
    return parsed.pieces_.back().literal;
  };
  size_t pos = 0;
  while (pos < text.size()) {
    char c = text[pos];
    if (c == '\\') {
      auto decoded = decode_escape(text, pos);
      if (!decoded) return base::fail("template: " + decoded.error().message);
      literal() += *decoded;
    } else if (c != '%') {
      literal() += c;
      ++pos;
    } else if (pos + 1 < text.size() && text[pos + 1] == '%') {
      literal() += '%';
      pos += 2;
    } else if (pos + 1 < text.size() && directives.find(text[pos + 1]) != std::string_view::npos) {
      parsed.pieces_.push_back({text[pos + 1], {}});
      pos += 2;
    } else {
      std::string what = pos + 1 < text.size() ? "%" + std::string(1, text[pos + 1]) : "a lone %";
      return base::fail("template: unknown " + what +
                        ": use %t %p %o %T %k %v %K %S %h, or %% for a percent sign");
    }
  }
  return parsed;
}

void record_template::render(const record_view& record, std::string& out) const {
  for (const auto& p : pieces_) {
    if (p.directive == 0) {
      out += p.literal;
    } else {
      append_directive(p.directive, record, out);
    }
  }
}

document record_json(const record_view& record) {
  document headers = document::object();
  for (const auto& [name, value] : record.headers)
    headers[std::string(name)] = optional_text(value);
  return {
      {"topic", std::string(record.topic)},
      {"partition", record.partition},
      {"offset", record.offset},
      {"timestamp", record.timestamp_ms >= 0 ? document(record.timestamp_ms) : document(nullptr)},
      {"timestamp_type", timestamp_type_json(record.timestamp_type)},
      {"key", optional_text(record.key)},
      {"value", optional_text(record.value)},
      {"headers", headers}};
}

}  // namespace sluice::cli
