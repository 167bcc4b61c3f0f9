#include "cli/offset_reset.h"

#include <gtest/gtest.h>

#include <limits>

namespace sluice::cli {
namespace {

// A partition whose log spans [100, 200) with a commit at 150.
reset_input sample(std::optional<int64_t> current = 150) {
  return {{"t", 0}, current, 100, 200, std::nullopt};
}

planned_offset plan(const reset_input& input, reset_mode mode, int64_t value = 0) {
  auto out = plan_reset(input, {mode, value});
  EXPECT_TRUE(out) << out.error().message;
  return out ? *out : planned_offset{};
}

TEST(OffsetReset, EarliestAndLatestAreTheLogEnds) {
  auto earliest = plan(sample(), reset_mode::earliest);
  EXPECT_EQ(earliest.target, 100);
  EXPECT_EQ(earliest.current, 150);
  EXPECT_FALSE(earliest.note);
  EXPECT_EQ(plan(sample(std::nullopt), reset_mode::latest).target, 200);
}

TEST(OffsetReset, ToOffsetInsideTheLogIsKept) {
  auto p = plan(sample(), reset_mode::offset, 120);
  EXPECT_EQ(p.target, 120);
  EXPECT_FALSE(p.note);
  EXPECT_EQ(plan(sample(), reset_mode::offset, 200).target, 200) << "the end itself is valid";
  EXPECT_EQ(plan(sample(), reset_mode::offset, 100).target, 100);
}

TEST(OffsetReset, ToOffsetOutsideTheLogIsClampedWithANote) {
  auto high = plan(sample(), reset_mode::offset, 500);
  EXPECT_EQ(high.target, 200);
  ASSERT_TRUE(high.note);
  EXPECT_EQ(*high.note, "500 is past the log end: using the log end offset 200");
  auto low = plan(sample(), reset_mode::offset, 3);
  EXPECT_EQ(low.target, 100);
  ASSERT_TRUE(low.note);
  EXPECT_EQ(*low.note, "3 is before the log start: using the log start offset 100");
}

TEST(OffsetReset, ShiftMovesTheCommittedOffset) {
  EXPECT_EQ(plan(sample(), reset_mode::shift, 10).target, 160);
  EXPECT_EQ(plan(sample(), reset_mode::shift, -50).target, 100);
  EXPECT_FALSE(plan(sample(), reset_mode::shift, -50).note);
}

TEST(OffsetReset, ShiftBeyondEitherEndIsClamped) {
  auto forward = plan(sample(), reset_mode::shift, 1000);
  EXPECT_EQ(forward.target, 200);
  EXPECT_TRUE(forward.note);
  auto back = plan(sample(), reset_mode::shift, -51);
  EXPECT_EQ(back.target, 100);
  ASSERT_TRUE(back.note);
  EXPECT_EQ(*back.note, "99 is before the log start: using the log start offset 100");
  constexpr auto max = std::numeric_limits<int64_t>::max();
  constexpr auto min = std::numeric_limits<int64_t>::min();
  EXPECT_EQ(plan(sample(), reset_mode::shift, max).target, 200) << "no overflow";
  EXPECT_EQ(plan(sample(), reset_mode::shift, min).target, 100);
}

TEST(OffsetReset, ShiftWithoutACommitIsAnError) {
  auto out = plan_reset(sample(std::nullopt), {reset_mode::shift, 5});
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().message.find("cannot shift t/0"), std::string::npos);
  EXPECT_NE(out.error().message.find("--to-earliest"), std::string::npos);
}

TEST(OffsetReset, CurrentKeepsTheCommitOrFallsBackToTheEnd) {
  auto kept = plan(sample(), reset_mode::current);
  EXPECT_EQ(kept.target, 150);
  EXPECT_FALSE(kept.note);
  auto fallback = plan(sample(std::nullopt), reset_mode::current);
  EXPECT_EQ(fallback.target, 200);
  EXPECT_FALSE(fallback.current);
  ASSERT_TRUE(fallback.note);
  EXPECT_EQ(*fallback.note, "no committed offset: using the log end offset 200");
}

TEST(OffsetReset, DatetimeTakesTheOffsetAtTheTimeOrTheEnd) {
  auto input = sample();
  input.by_time = 130;
  EXPECT_EQ(plan(input, reset_mode::datetime, 1'700'000'000'000).target, 130);
  input.by_time = -1;
  auto late = plan(input, reset_mode::datetime, 1'700'000'000'000);
  EXPECT_EQ(late.target, 200);
  ASSERT_TRUE(late.note);
  EXPECT_EQ(*late.note, "no record at or after that time: using the log end offset 200");
  input.by_time.reset();
  EXPECT_EQ(plan(input, reset_mode::datetime, 0).target, 200);
}

TEST(OffsetReset, EmptyLogClampsEverythingToItsEnd) {
  reset_input empty{{"t", 0}, std::nullopt, 40, 40, std::nullopt};
  EXPECT_EQ(plan(empty, reset_mode::offset, 0).target, 40);
  EXPECT_EQ(plan(empty, reset_mode::offset, 41).target, 40);
  EXPECT_EQ(plan(empty, reset_mode::earliest).target, 40);
}

TEST(OffsetReset, ParseDatetimeTakesMillisecondsOrIso8601WithAZone) {
  EXPECT_EQ(*parse_datetime("1714564800000"), 1714564800000);
  EXPECT_EQ(*parse_datetime("0"), 0);
  EXPECT_EQ(*parse_datetime("2024-05-01T12:00:00Z"), 1714564800000);
  EXPECT_EQ(*parse_datetime("2024-05-01T14:00:00.250+02:00"), 1714564800250);
  EXPECT_EQ(*parse_datetime("2024-05-01"), 1714521600000);
}

TEST(OffsetReset, ParseDatetimeRefusesTheRest) {
  for (const char* bad : {"", "yesterday", "2024-05-01T12:00:00", "2024-13-01", "-5",
                          "1969-12-31T23:59:59.999Z", "99999999999999999999"}) {
    EXPECT_FALSE(parse_datetime(bad)) << bad;
  }
  EXPECT_NE(parse_datetime("2024-05-01T12:00").error().message.find("zone"), std::string::npos);
}

}  // namespace
}  // namespace sluice::cli
