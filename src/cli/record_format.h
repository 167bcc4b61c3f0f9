#pragma once

// How `sluice consume` prints a record: through a kcat-like template
// (-f '%k: %v\n'), or as one JSON object per line (--format json).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "cli/output.h"

namespace sluice::cli {

// A consumed record, viewing memory its owner (a librdkafka message) keeps.
struct record_view {
  enum class timestamp_kind { none, create_time, log_append_time };

  std::string_view topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_ms = -1;
  timestamp_kind timestamp_type = timestamp_kind::none;
  std::optional<std::string_view> key;    // nullopt: a null key
  std::optional<std::string_view> value;  // nullopt: a null value (tombstone)
  std::vector<std::pair<std::string_view, std::optional<std::string_view>>> headers;
};

// An output template, parsed once and applied to every record:
//   %t topic  %p partition  %o offset  %T timestamp (ms)
//   %k key  %v (or kcat's %s) value  %K key length  %S value length (-1: null)
//   %h headers as k=v,k2=v2  %% a percent sign
// and the escapes of escapes.h (\n \t \\ ...). Keys and values are written
// byte for byte; a null key or value writes nothing.
class record_template {
 public:
  static constexpr std::string_view default_text = "%v\\n";

  static base::result<record_template> parse(std::string_view text);

  // Appends `record` rendered to `out`.
  void render(const record_view& record, std::string& out) const;

 private:
  // A literal run, or one % directive (its letter).
  struct piece {
    char directive = 0;  // 0 for a literal
    std::string literal;
  };

  std::vector<piece> pieces_;
};

// The record as a JSON object: topic, partition, offset, timestamp (null if
// none), timestamp_type ("create_time", "log_append_time" or null), key and
// value (strings, null when null) and headers (an object; of repeated names
// the last wins, a null header value is null).
document record_json(const record_view& record);

}  // namespace sluice::cli
