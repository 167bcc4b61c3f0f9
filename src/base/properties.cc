#include "base/properties.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

// The grammar is java.util.Properties.load's. Bytes are taken as they are
// (UTF-8 passes through) rather than as ISO-8859-1, so a UTF-8 file reads as
// it was written; \uXXXX escapes are written out as UTF-8.

namespace sluice::base {
namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\f'; }

// One logical line: natural lines joined at escaped line ends, with the line
// number of every character kept so that an error names the natural line.
struct logical_line {
  std::string text;
  std::vector<int> line_of;
};

// Splits `text` into logical lines, dropping blank and comment lines. A line
// is continued when it ends in an odd number of backslashes (an even number
// is escaped backslashes); the continuation's leading blanks are dropped.
// Comment lines are never continued, as in Java.
std::vector<logical_line> logical_lines(std::string_view text) {
  std::vector<logical_line> out;
  size_t pos = 0;
  int line = 0;
  logical_line current;
  bool continuing = false;
  while (pos < text.size()) {
    size_t end = text.find_first_of("\r\n", pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view natural = text.substr(pos, end - pos);
    ++line;
    // "\r\n" is one line end; a lone '\r' or '\n' is one too.
    pos = end;
    if (pos < text.size() && text[pos++] == '\r' && pos < text.size() && text[pos] == '\n') ++pos;

    size_t first = 0;
    while (first < natural.size() && is_blank(natural[first])) ++first;
    natural.remove_prefix(first);
    if (!continuing) {
      if (natural.empty() || natural[0] == '#' || natural[0] == '!') continue;
      current = {};
    }
    size_t backslashes = 0;
    while (backslashes < natural.size() && natural[natural.size() - 1 - backslashes] == '\\') {
      ++backslashes;
    }
    continuing = backslashes % 2 == 1;
    if (continuing) natural.remove_suffix(1);
    current.text.append(natural);
    current.line_of.insert(current.line_of.end(), natural.size(), line);
    if (!continuing) out.push_back(std::move(current));
  }
  // A continuation at the end of the input ends the line, as in Java.
  if (continuing) out.push_back(std::move(current));
  return out;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Reads the four hex digits after "\u" at `at`; -1 when they are not there.
int32_t hex4(std::string_view s, size_t at) {
  if (at + 4 > s.size()) return -1;
  int32_t v = 0;
  for (size_t i = at; i < at + 4; ++i) {
    char c = s[i];
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : -1;
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

// Resolves the escapes of [begin, end) of a logical line.
result<std::string> unescape(const logical_line& l, size_t begin, size_t end) {
  std::string out;
  std::string_view s(l.text);
  s = s.substr(0, end);
  for (size_t i = begin; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out.push_back(s[i]);
      continue;
    }
    if (++i == s.size()) break;  // a lone trailing backslash vanishes, as in Java
    switch (s[i]) {
      case 't':
        out.push_back('\t');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'u': {
        int32_t unit = hex4(s, i + 1);
        if (unit < 0) {
          return fail("line " + std::to_string(l.line_of[i]) +
                      ": malformed \\uXXXX escape (expected four hex digits)");
        }
        i += 4;
        uint32_t cp = static_cast<uint32_t>(unit);
        // Java strings are UTF-16: a code point past U+FFFF is written as a
        // surrogate pair of two escapes.
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          int32_t low =
              i + 2 < s.size() && s[i + 1] == '\\' && s[i + 2] == 'u' ? hex4(s, i + 3) : -1;
          if (low < 0xDC00 || low > 0xDFFF) {
            return fail("line " + std::to_string(l.line_of[i]) +
                        ": malformed \\uXXXX escape (a high surrogate without its low half)");
          }
          cp = 0x10000 + ((cp - 0xD800) << 10) + (static_cast<uint32_t>(low) - 0xDC00);
          i += 6;
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
          return fail("line " + std::to_string(l.line_of[i]) +
                      ": malformed \\uXXXX escape (a low surrogate without its high half)");
        }
        append_utf8(out, cp);
        break;
      }
      default:
        out.push_back(s[i]);
        break;  // \\, \=, \:, \#, \ , and any other
    }
  }
  return out;
}

}  // namespace

result<properties> parse_properties(std::string_view text) {
  properties out;
  for (const logical_line& l : logical_lines(text)) {
    const std::string& s = l.text;
    // The key ends at the first unescaped '=', ':' or blank.
    size_t key_end = 0;
    while (key_end < s.size()) {
      char c = s[key_end];
      if (c == '\\') {
        key_end += 2;
        continue;
      }
      if (c == '=' || c == ':' || is_blank(c)) break;
      ++key_end;
    }
    key_end = std::min(key_end, s.size());
    // Then blanks, at most one separator, and blanks again.
    size_t value_begin = key_end;
    while (value_begin < s.size() && is_blank(s[value_begin])) ++value_begin;
    if (value_begin < s.size() && (s[value_begin] == '=' || s[value_begin] == ':')) ++value_begin;
    while (value_begin < s.size() && is_blank(s[value_begin])) ++value_begin;

    auto key = unescape(l, 0, key_end);
    if (!key) return unexpected(key.error());
    auto value = unescape(l, value_begin, s.size());
    if (!value) return unexpected(value.error());
    out.insert_or_assign(std::move(*key), std::move(*value));
  }
  return out;
}

result<properties> load_properties_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return fail("cannot open " + path + ": " + std::strerror(errno));
  std::string text;
  char buffer[16384];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, f)) > 0) text.append(buffer, n);
  bool failed = std::ferror(f) != 0;
  int err = errno;
  std::fclose(f);
  if (failed) return fail("cannot read " + path + ": " + std::strerror(err));
  auto parsed = parse_properties(text);
  if (!parsed) return fail(path + ": " + parsed.error().message);
  return parsed;
}

}  // namespace sluice::base
