#pragma once

// Where `sluice consume -o` starts, in kcat's notation, which Kafka users
// already type from memory:
//
//   beginning | end | stored     the log start, the log end, the group's
//                                committed offset
//   N                            the absolute offset N
//   -N                           N records before the end (the last N)
//   @TS | s@TS                   the first record with timestamp >= TS, TS
//                                in ms since the epoch or ISO-8601 UTC/offset
//                                (2026-11-26T10:00:00Z, ...+01:00, a date)

#include <cstdint>
#include <string_view>

#include "base/result.h"

namespace sluice::cli {

struct offset_spec {
  enum class kind { beginning, end, stored, absolute, from_end, timestamp };
  kind what = kind::beginning;
  // The offset (absolute), the record count (from_end) or ms since the epoch
  // (timestamp); unused otherwise.
  int64_t value = 0;

  bool operator==(const offset_spec&) const = default;
};

base::result<offset_spec> parse_offset_spec(std::string_view text);

// "2026-11-26T10:00:00Z", "2026-11-26T10:00:00.250+01:00", "2026-11-26"
// (midnight UTC) -> ms since the epoch. A time without a zone is refused:
// guessing between UTC and local time would start at the wrong place.
base::result<int64_t> parse_iso8601_ms(std::string_view text);

// The offset to start at in a partition whose log spans [low, high) for an
// absolute or from_end spec: clamped into [low, high], so an offset already
// deleted starts at the log start and one past the end waits at the end.
int64_t resolve_offset(const offset_spec& spec, int64_t low, int64_t high);

}  // namespace sluice::cli
