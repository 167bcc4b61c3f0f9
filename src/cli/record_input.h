#pragma once

// How `sluice produce` turns its input into records: text split on a
// delimiter (with an optional key delimiter inside each record, as kcat's -D
// and -K), or one JSON object per line.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace sluice::cli {

// Splits a stream fed in arbitrary chunks into records ending with a
// delimiter, so input of any size is read in bounded memory (a buffer of
// about one chunk plus one record).
class record_splitter {
 public:
  explicit record_splitter(std::string delimiter);  // not empty

  // Adds the next chunk of input; invalidates views returned before.
  void feed(std::string_view chunk);

  // The next complete record without its delimiter, if the input fed so far
  // holds one.
  std::optional<std::string_view> next();

  // At the end of the input: what follows the last delimiter, if anything,
  // so a final record need not end with one (and a final delimiter does not
  // make an extra empty record).
  std::optional<std::string_view> rest() const;

 private:
  std::string delimiter_;
  std::string buffer_;
  size_t start_ = 0;    // where the next record begins in buffer_
  size_t scanned_ = 0;  // buffer_ before this holds no delimiter after start_
};

// A text record split at the first key delimiter: the key before it, the
// value after. Without the delimiter in it the whole record is the value and
// the key is null, as with kcat.
struct keyed_text {
  std::optional<std::string_view> key;
  std::string_view value;
};
keyed_text split_key(std::string_view record, std::string_view key_delimiter);

// One record of JSON input:
//   {"key": K, "value": V, "headers": {"name": H, ...}, "partition": N,
//    "timestamp": MS}
// every field optional. A string key, value or header value is taken as is;
// other JSON (objects, numbers) as its compact text; null (or a missing key
// or value) stays null: a null value is a tombstone.
struct input_record {
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
  std::optional<int32_t> partition;
  std::optional<int64_t> timestamp_ms;
};

// Parses one line of JSON input; errors name the line (1-based) and field.
base::result<input_record> parse_json_record(std::string_view line, size_t line_number);

// Whether `line` holds only blanks (JSON input skips such lines).
bool is_blank(std::string_view line);

}  // namespace sluice::cli
