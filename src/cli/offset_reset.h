#pragma once

// Planning `group reset-offsets`: for each partition, the offset a mode
// (--to-earliest, --shift-by N, ...) asks for, from the group's committed
// offset and the partition's log start/end (and, for --to-datetime, the
// first offset at that time). Pure, so every mode and its edge cases are
// unit-tested without a cluster.
//
// As Kafka's kafka-consumer-groups.sh does, --to-offset and --shift-by
// clamp a target outside [log start, log end] to the nearer end and say so
// in the partition's note; --shift-by needs a committed offset; --to-current
// and --to-datetime fall back to the log end where they have no answer.

#include <cstdint>
#include <optional>
#include <string>

#include "base/result.h"
#include "cli/topic_partitions.h"

namespace sluice::cli {

enum class reset_mode { earliest, latest, offset, datetime, shift, current };

struct reset_spec {
  reset_mode mode = reset_mode::current;
  int64_t value = 0;  // the offset, the shift or the time (ms since the epoch)
};

// "1714564800000" (ms since the epoch) or ISO 8601 as `consume -o @...`
// takes it (offset_spec.h): "2024-05-01" (midnight UTC),
// "2024-05-01T12:00:00.250Z", "...+02:00"; a time without a zone is refused.
base::result<int64_t> parse_datetime(const std::string& text);

struct reset_input {
  topic_partition tp;
  std::optional<int64_t> current;  // the committed offset, if any
  int64_t low = 0;                 // log start offset
  int64_t high = 0;                // log end offset
  // --to-datetime: the first offset whose timestamp is at or after the time;
  // none (or -1, as ListOffsets answers) when no record is that late.
  std::optional<int64_t> by_time;
};

struct planned_offset {
  topic_partition tp;
  std::optional<int64_t> current;
  int64_t target = 0;
  std::optional<std::string> note;  // why the target is not the one asked for
};

// The target for one partition; an error only for --shift-by without a
// committed offset.
base::result<planned_offset> plan_reset(const reset_input& input, const reset_spec& spec);

}  // namespace sluice::cli
