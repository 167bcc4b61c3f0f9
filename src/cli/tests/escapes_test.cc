#include "cli/escapes.h"

#include <gtest/gtest.h>

namespace sluice::cli {
namespace {

TEST(Escapes, DelimitersPeopleType) {
  EXPECT_EQ(unescape("\\n").value(), "\n");
  EXPECT_EQ(unescape("\\t|\\r|\\\\").value(), "\t|\r|\\");
  EXPECT_EQ(unescape("\\0").value(), std::string(1, '\0'));
  EXPECT_EQ(unescape("\\x1F\\x7e").value(), "\x1f~");
  EXPECT_EQ(unescape("::").value(), "::");
  EXPECT_EQ(unescape("\\q").error().message,
            "unknown escape \\q: use \\n \\r \\t \\0 \\\\ or \\xNN");
  EXPECT_EQ(unescape("a\\").error().message, "a lone \\ at the end: write \\\\ for a backslash");
  EXPECT_EQ(unescape("\\x4").error().message, "\\x needs two hex digits, as in \\x1f");
}

TEST(Escapes, DecodeEscapeMovesPastIt) {
  size_t pos = 1;
  auto c = decode_escape("a\\x41b", pos);
  ASSERT_TRUE(c);
  EXPECT_EQ(*c, 'A');
  EXPECT_EQ(pos, 5u);
}

}  // namespace
}  // namespace sluice::cli
