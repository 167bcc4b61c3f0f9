#include "cli/offset_spec.h"

#include <algorithm>
#include <charconv>
#include <string>

namespace sluice::cli {
namespace {

const char* const usage =
    "use beginning, end, stored, N, -N (last N), @TIMESTAMP_MS or @2026-11-26T10:00:00Z";

// The whole of `text` as a non-negative decimal number.
bool parse_count(std::string_view text, int64_t& out) {
  if (text.empty() || text[0] == '-' || text[0] == '+') return false;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc() && end == text.data() + text.size();
}

// Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (Howard
// Hinnant's days_from_civil), so no time-zone database is involved.
int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

bool is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int64_t days_in_month(int64_t y, int64_t m) {
  static constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

// Reads exactly `width` digits at `pos` and moves past them.
bool take_digits(std::string_view text, size_t& pos, size_t width, int64_t& out) {
  if (pos + width > text.size()) return false;
  out = 0;
  for (size_t i = 0; i < width; ++i) {
    char c = text[pos + i];
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  pos += width;
  return true;
}

bool take_char(std::string_view text, size_t& pos, char expected) {
  if (pos >= text.size() || text[pos] != expected) return false;
  ++pos;
  return true;
}

// Fractional seconds after a '.', as milliseconds (digits past the third
// ignored: Kafka timestamps are milliseconds).
bool take_fraction_ms(std::string_view text, size_t& pos, int64_t& ms) {
  ms = 0;
  if (!take_char(text, pos, '.')) return true;
  size_t digits = 0;
  while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
    if (digits < 3) ms = ms * 10 + (text[pos] - '0');
    ++digits;
    ++pos;
  }
  for (size_t i = digits; i < 3; ++i) ms *= 10;
  return digits > 0;
}

// "Z", "+HH:MM", "+HHMM" or "-..." -> the zone's offset east of UTC in minutes.
bool take_zone_minutes(std::string_view text, size_t& pos, int64_t& minutes) {
  if (take_char(text, pos, 'Z') || take_char(text, pos, 'z')) {
    minutes = 0;
    return true;
  }
  if (pos >= text.size() || (text[pos] != '+' && text[pos] != '-')) return false;
  int64_t sign = text[pos++] == '-' ? -1 : 1;
  int64_t hours = 0;
  int64_t mins = 0;
  if (!take_digits(text, pos, 2, hours)) return false;
  take_char(text, pos, ':');
  if (!take_digits(text, pos, 2, mins) || hours > 23 || mins > 59) return false;
  minutes = sign * (hours * 60 + mins);
  return true;
}

}  // namespace

base::result<int64_t> parse_iso8601_ms(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return base::fail("timestamp " + std::string(text) + ": " + why +
                      " (expected 2026-11-26T10:00:00Z, an offset like +01:00, or a date)");
  };
  size_t pos = 0;
  int64_t year = 0, month = 0, day = 0;
  if (!take_digits(text, pos, 4, year) || !take_char(text, pos, '-') ||
      !take_digits(text, pos, 2, month) || !take_char(text, pos, '-') ||
      !take_digits(text, pos, 2, day)) {
    return bad("not a date");
  }
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) {
    return bad("no such date");
  }
  int64_t ms = days_from_civil(year, month, day) * 86'400'000;
  if (pos == text.size()) return ms;
  if (!take_char(text, pos, 'T') && !take_char(text, pos, 't') && !take_char(text, pos, ' ')) {
    return bad("expected T after the date");
  }
  int64_t hour = 0, minute = 0, second = 0, fraction_ms = 0, zone_minutes = 0;
  if (!take_digits(text, pos, 2, hour) || !take_char(text, pos, ':') ||
      !take_digits(text, pos, 2, minute)) {
    return bad("expected HH:MM after T");
  }
  if (take_char(text, pos, ':') &&
      (!take_digits(text, pos, 2, second) || !take_fraction_ms(text, pos, fraction_ms))) {
    return bad("bad seconds");
  }
  if (hour > 23 || minute > 59 || second > 60) return bad("no such time");
  if (pos == text.size()) return bad("no time zone: add Z for UTC or an offset like +01:00");
  if (!take_zone_minutes(text, pos, zone_minutes) || pos != text.size()) {
    return bad("bad time zone");
  }
  return ms + ((hour * 60 + minute - zone_minutes) * 60 + second) * 1000 + fraction_ms;
}

base::result<offset_spec> parse_offset_spec(std::string_view text) {
  using kind = offset_spec::kind;
  if (text == "beginning" || text == "earliest") return offset_spec{kind::beginning, 0};
  if (text == "end" || text == "latest") return offset_spec{kind::end, 0};
  if (text == "stored") return offset_spec{kind::stored, 0};
  int64_t number = 0;
  if (parse_count(text, number)) return offset_spec{kind::absolute, number};
  if (text.starts_with('-') && parse_count(text.substr(1), number)) {
    return offset_spec{kind::from_end, number};
  }
  std::string_view stamp = text.starts_with("s@")  ? text.substr(2)
                           : text.starts_with('@') ? text.substr(1)
                                                   : std::string_view();
  if (stamp.empty()) return base::fail("-o " + std::string(text) + ": " + usage);
  if (parse_count(stamp, number)) return offset_spec{kind::timestamp, number};
  auto ms = parse_iso8601_ms(stamp);
  if (!ms) return base::fail("-o " + std::string(text) + ": " + ms.error().message);
  if (*ms < 0) return base::fail("-o " + std::string(text) + ": timestamps start at 1970");
  return offset_spec{kind::timestamp, *ms};
}

int64_t resolve_offset(const offset_spec& spec, int64_t low, int64_t high) {
  int64_t wanted = spec.what == offset_spec::kind::from_end ? high - spec.value : spec.value;
  return std::clamp(wanted, low, std::max(low, high));
}

}  // namespace sluice::cli
