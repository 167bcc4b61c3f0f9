#include "cli/offset_reset.h"

#include <cctype>
#include <charconv>
#include <limits>

#include "cli/offset_spec.h"

namespace sluice::cli {
namespace {

bool all_digits(const std::string& text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

int64_t saturating_add(int64_t a, int64_t b) {
  int64_t sum = 0;
  if (!__builtin_add_overflow(a, b, &sum)) return sum;
  return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
}

std::string log_end_note(int64_t high) {
  return "using the log end offset " + std::to_string(high);
}

// Kafka's checkOffsetsRange: a target outside the log moves to its nearer end.
planned_offset clamped(planned_offset plan, int64_t requested, const reset_input& input) {
  plan.target = requested;
  if (requested > input.high) {
    plan.target = input.high;
    plan.note = std::to_string(requested) + " is past the log end: " + log_end_note(input.high);
  } else if (requested < input.low) {
    plan.target = input.low;
    plan.note = std::to_string(requested) +
                " is before the log start: using the log start offset " + std::to_string(input.low);
  }
  return plan;
}

}  // namespace

base::result<int64_t> parse_datetime(const std::string& text) {
  if (!all_digits(text)) {
    auto ms = parse_iso8601_ms(text);
    // ListOffsets reads -1 and -2 as "latest" and "earliest".
    if (ms && *ms < 0) return base::fail("timestamp " + text + ": times start at 1970");
    return ms;
  }
  int64_t ms = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
  if (ec != std::errc()) return base::fail("timestamp " + text + ": too large");
  return ms;
}

base::result<planned_offset> plan_reset(const reset_input& input, const reset_spec& spec) {
  planned_offset plan{input.tp, input.current, 0, std::nullopt};
  switch (spec.mode) {
    case reset_mode::earliest:
      plan.target = input.low;
      return plan;
    case reset_mode::latest:
      plan.target = input.high;
      return plan;
    case reset_mode::offset:
      return clamped(std::move(plan), spec.value, input);
    case reset_mode::shift:
      if (!input.current) {
        return base::fail("cannot shift " + to_string(input.tp) +
                          ": the group has no committed offset there; use --to-earliest, "
                          "--to-latest or --to-offset for it");
      }
      return clamped(std::move(plan), saturating_add(*input.current, spec.value), input);
    case reset_mode::datetime:
      if (input.by_time && *input.by_time >= 0) {
        plan.target = *input.by_time;
      } else {
        plan.target = input.high;
        plan.note = "no record at or after that time: " + log_end_note(input.high);
      }
      return plan;
    case reset_mode::current:
      if (input.current) {
        plan.target = *input.current;
      } else {
        plan.target = input.high;
        plan.note = "no committed offset: " + log_end_note(input.high);
      }
      return plan;
  }
  return plan;
}

}  // namespace sluice::cli
