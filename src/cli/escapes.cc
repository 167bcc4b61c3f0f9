#include "cli/escapes.h"

namespace sluice::cli {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

base::result<char> decode_escape(std::string_view text, size_t& pos) {
  if (pos + 1 >= text.size()) return base::fail("a lone \\ at the end: write \\\\ for a backslash");
  char c = text[pos + 1];
  pos += 2;
  switch (c) {
    case 'n':
      return '\n';
    case 'r':
      return '\r';
    case 't':
      return '\t';
    case '0':
      return '\0';
    case '\\':
      return '\\';
    case 'x': {
      int high = pos < text.size() ? hex_digit(text[pos]) : -1;
      int low = pos + 1 < text.size() ? hex_digit(text[pos + 1]) : -1;
      if (high < 0 || low < 0) return base::fail("\\x needs two hex digits, as in \\x1f");
      pos += 2;
      return static_cast<char>(high * 16 + low);
    }
    default:
      return base::fail(std::string("unknown escape \\") + c +
                        ": use \\n \\r \\t \\0 \\\\ or \\xNN");
  }
}

base::result<std::string> unescape(std::string_view text) {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    if (text[pos] != '\\') {
      out += text[pos++];
      continue;
    }
    auto c = decode_escape(text, pos);
    if (!c) return base::unexpected(c.error());
    out += *c;
  }
  return out;
}

}  // namespace sluice::cli
