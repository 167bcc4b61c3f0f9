#include "cli/offset_spec.h"

#include <gtest/gtest.h>

namespace sluice::cli {
namespace {

using kind = offset_spec::kind;

offset_spec parsed(const char* text) {
  auto spec = parse_offset_spec(text);
  EXPECT_TRUE(spec) << text << ": " << spec.error().message;
  return spec ? *spec : offset_spec{};
}

std::string error_of(const char* text) {
  auto spec = parse_offset_spec(text);
  EXPECT_FALSE(spec) << text;
  return spec ? "" : spec.error().message;
}

TEST(OffsetSpec, NamedPositions) {
  EXPECT_EQ(parsed("beginning"), (offset_spec{kind::beginning, 0}));
  EXPECT_EQ(parsed("earliest"), (offset_spec{kind::beginning, 0}));
  EXPECT_EQ(parsed("end"), (offset_spec{kind::end, 0}));
  EXPECT_EQ(parsed("latest"), (offset_spec{kind::end, 0}));
  EXPECT_EQ(parsed("stored"), (offset_spec{kind::stored, 0}));
}

TEST(OffsetSpec, AbsoluteAndFromTheEnd) {
  EXPECT_EQ(parsed("0"), (offset_spec{kind::absolute, 0}));
  EXPECT_EQ(parsed("1234"), (offset_spec{kind::absolute, 1234}));
  EXPECT_EQ(parsed("-10"), (offset_spec{kind::from_end, 10}));
  EXPECT_EQ(parsed("-0"), (offset_spec{kind::from_end, 0}));
}

TEST(OffsetSpec, TimestampsInMillisecondsWithKcatsAlias) {
  EXPECT_EQ(parsed("@1700000000000"), (offset_spec{kind::timestamp, 1700000000000}));
  EXPECT_EQ(parsed("s@1700000000000"), (offset_spec{kind::timestamp, 1700000000000}));
}

TEST(OffsetSpec, Iso8601Timestamps) {
  // date -u -d 2026-11-26T10:00:00Z +%s -> 1795687200
  EXPECT_EQ(parsed("@2026-11-26T10:00:00Z"), (offset_spec{kind::timestamp, 1795687200000}));
  EXPECT_EQ(parsed("s@2026-11-26T10:00:00Z").value, 1795687200000);
  EXPECT_EQ(parsed("@2026-11-26T11:00:00+01:00").value, 1795687200000);
  EXPECT_EQ(parsed("@2026-11-26T05:30:00-0430").value, 1795687200000);
  EXPECT_EQ(parsed("@2026-11-26T10:00:00.250Z").value, 1795687200250);
  EXPECT_EQ(parsed("@2026-11-26T10:00:00.5Z").value, 1795687200500);
  EXPECT_EQ(parsed("@2026-11-26T10:00Z").value, 1795687200000);
  EXPECT_EQ(parsed("@2026-11-26").value, 1795651200000);
  EXPECT_EQ(parsed("@1970-01-01T00:00:00Z").value, 0);
  EXPECT_EQ(parsed("@2024-02-29T00:00:00Z").value, 1709164800000);
}

TEST(OffsetSpec, ErrorsSayWhatIsAccepted) {
  EXPECT_NE(error_of("start").find("use beginning, end, stored, N, -N"), std::string::npos);
  EXPECT_NE(error_of("").find("use beginning"), std::string::npos);
  EXPECT_NE(error_of("12x").find("use beginning"), std::string::npos);
  EXPECT_NE(error_of("--5").find("use beginning"), std::string::npos);
  EXPECT_NE(error_of("+5").find("use beginning"), std::string::npos);
  EXPECT_NE(error_of("@").find("use beginning"), std::string::npos);
  EXPECT_NE(error_of("@2026-11-26T10:00:00").find("add Z for UTC"), std::string::npos);
  EXPECT_NE(error_of("@2026-02-30").find("no such date"), std::string::npos);
  EXPECT_NE(error_of("@2026-11-26T25:00Z").find("no such time"), std::string::npos);
  EXPECT_NE(error_of("@2026-11-26T10:00:00Q").find("bad time zone"), std::string::npos);
  EXPECT_NE(error_of("@yesterday").find("not a date"), std::string::npos);
  EXPECT_NE(error_of("@1969-12-31").find("1970"), std::string::npos);
}

TEST(OffsetSpec, ResolvesIntoTheLog) {
  offset_spec last_10{kind::from_end, 10};
  EXPECT_EQ(resolve_offset(last_10, 0, 100), 90);
  EXPECT_EQ(resolve_offset(last_10, 95, 100), 95);  // fewer than 10 left
  EXPECT_EQ(resolve_offset(last_10, 0, 0), 0);      // empty partition
  EXPECT_EQ(resolve_offset({kind::from_end, 0}, 0, 100), 100);
  EXPECT_EQ(resolve_offset({kind::absolute, 42}, 0, 100), 42);
  EXPECT_EQ(resolve_offset({kind::absolute, 3}, 10, 100), 10);     // already deleted
  EXPECT_EQ(resolve_offset({kind::absolute, 500}, 10, 100), 100);  // not written yet
}

}  // namespace
}  // namespace sluice::cli
