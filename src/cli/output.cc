#include "cli/output.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <vector>

namespace sluice::cli {
namespace {

bool is_scalar_array(const document& value) {
  return value.is_array() && std::all_of(value.begin(), value.end(),
                                         [](const document& v) { return !v.is_structured(); });
}

// A table row: an object whose values are scalars or arrays of scalars.
bool is_flat_object(const document& value) {
  if (!value.is_object()) return false;
  for (const auto& [key, field] : value.items()) {
    if (field.is_object() || (field.is_array() && !is_scalar_array(field))) return false;
  }
  return true;
}

bool is_table(const document& value) {
  return value.is_array() && !value.empty() &&
         std::all_of(value.begin(), value.end(), is_flat_object);
}

std::string scalar_text(const document& value) {
  switch (value.type()) {
    case document::value_t::null:
      return "-";
    case document::value_t::string:
      return value.get<std::string>();
    case document::value_t::boolean:
      return value.get<bool>() ? "true" : "false";
    case document::value_t::number_float: {
      double d = value.get<double>();
      char buffer[64];
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e15) {
        std::snprintf(buffer, sizeof buffer, "%.0f", d);
      } else {
        std::snprintf(buffer, sizeof buffer, "%.2f", d);
      }
      return buffer;
    }
    case document::value_t::array: {
      std::string joined;
      for (const auto& element : value) {
        if (!joined.empty()) joined += ',';
        joined += scalar_text(element);
      }
      return joined;
    }
    case document::value_t::object:
      return render_json(value);
    default:
      return value.dump();
  }
}

std::string header_text(const std::string& key) {
  std::string header = key;
  for (char& c : header) c = c == '_' ? '-' : static_cast<char>(std::toupper(c));
  return header;
}

std::string title_text(const std::string& key) {
  std::string title = key;
  for (char& c : title) c = c == '_' ? ' ' : c;
  if (!title.empty()) title[0] = static_cast<char>(std::toupper(title[0]));
  return title + ":";
}

void render_table(const document& rows, const std::string& indent, std::string& out) {
  // Columns in the order first seen, so rows with optional fields still line up.
  std::vector<std::string> columns;
  for (const auto& row : rows) {
    for (const auto& [key, value] : row.items()) {
      if (std::find(columns.begin(), columns.end(), key) == columns.end()) columns.push_back(key);
    }
  }
  std::vector<std::vector<std::string>> cells;
  cells.emplace_back();
  for (const auto& column : columns) cells.back().push_back(header_text(column));
  for (const auto& row : rows) {
    cells.emplace_back();
    for (const auto& column : columns) {
      cells.back().push_back(row.contains(column) ? scalar_text(row[column]) : "-");
    }
  }
  std::vector<size_t> widths(columns.size(), 0);
  for (const auto& line : cells) {
    for (size_t i = 0; i < line.size(); ++i) widths[i] = std::max(widths[i], line[i].size());
  }
  for (const auto& line : cells) {
    std::string text = indent;
    for (size_t i = 0; i < line.size(); ++i) {
      text += line[i];
      if (i + 1 < line.size()) text.append(widths[i] - line[i].size() + 2, ' ');
    }
    out += text + "\n";
  }
}

void render(const document& doc, const std::string& indent, std::string& out);

// A field printed as "key: value"; the rest (tables, nested objects, empty
// lists, which may be empty tables) get sections.
bool is_inline_field(const document& value) {
  return !value.is_structured() || (is_scalar_array(value) && !value.empty());
}

void render_object(const document& doc, const std::string& indent, std::string& out) {
  size_t key_width = 0;
  for (const auto& [key, value] : doc.items()) {
    if (is_inline_field(value)) {
      key_width = std::max(key_width, key.size() + 1);
    }
  }
  bool wrote_scalars = false;
  for (const auto& [key, value] : doc.items()) {
    if (!is_inline_field(value)) continue;
    std::string label = key + ":";
    label.append(key_width - label.size() + 1, ' ');
    out += indent + label + scalar_text(value) + "\n";
    wrote_scalars = true;
  }
  bool first_section = !wrote_scalars;
  for (const auto& [key, value] : doc.items()) {
    if (is_inline_field(value)) continue;
    if (!first_section) out += "\n";
    first_section = false;
    out += indent + title_text(key) + "\n";
    render(value, indent + "  ", out);
  }
}

void render(const document& doc, const std::string& indent, std::string& out) {
  if (doc.is_array()) {
    if (doc.empty()) {
      out += indent + "(none)\n";
    } else if (is_table(doc)) {
      render_table(doc, indent, out);
    } else {
      bool first = true;
      for (const auto& element : doc) {
        if (!first) out += "\n";
        first = false;
        render(element, indent, out);
      }
    }
  } else if (doc.is_object()) {
    if (doc.size() == 1 && doc.begin()->is_array()) {
      render(*doc.begin(), indent, out);
    } else {
      render_object(doc, indent, out);
    }
  } else {
    out += indent + scalar_text(doc) + "\n";
  }
}

}  // namespace

std::string render_human(const document& doc) {
  std::string out;
  render(doc, "", out);
  return out;
}

std::string render_json(const document& doc) {
  return doc.dump(-1, ' ', false, document::error_handler_t::replace);
}

void print(const document& doc, output_format format, std::FILE* out) {
  std::string text = format == output_format::json ? render_json(doc) + "\n" : render_human(doc);
  std::fwrite(text.data(), 1, text.size(), out);
  std::fflush(out);
}

}  // namespace sluice::cli
