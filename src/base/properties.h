#pragma once

// Java .properties files, the format of Kafka's server.properties: `key=value`
// or `key: value` or `key value` lines, `#` and `!` comments, `\` line
// continuations and escapes (\t \n \r \f \\ \uXXXX, and an escaped separator).

#include <map>
#include <string>
#include <string_view>

#include "base/result.h"

namespace sluice::base {

// Keys in file order do not matter to Kafka; a later duplicate wins, as in Java.
using properties = std::map<std::string, std::string, std::less<>>;

// Fails with "line N: ..." for a malformed escape.
result<properties> parse_properties(std::string_view text);
// Reads and parses a file; the error names the path.
result<properties> load_properties_file(const std::string& path);

}  // namespace sluice::base
