#pragma once

// The backslash escapes people type for delimiters and output templates on a
// command line, where a real newline or NUL is awkward or impossible.

#include <string>
#include <string_view>

#include "base/result.h"

namespace sluice::cli {

// Decodes the escape starting at text[pos] (a backslash) and moves pos past
// it: \n \r \t \0 \\ and \xNN (two hex digits). Anything else is an error
// naming the escape, so a typo never turns silently into literal text.
base::result<char> decode_escape(std::string_view text, size_t& pos);

// `text` with every escape decoded.
base::result<std::string> unescape(std::string_view text);

}  // namespace sluice::cli
