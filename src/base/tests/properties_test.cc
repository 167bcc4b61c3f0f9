#include "base/properties.h"

#include <gtest/gtest.h>

#include <unistd.h>
#include <cstdio>
#include <string>

namespace sluice::base {
namespace {

properties parse(std::string_view text) {
  auto p = parse_properties(text);
  EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message);
  return p.ok() ? *p : properties{};
}

TEST(Properties, SeparatorsAndBlanks) {
  auto p = parse(
      "a=1\n"
      "b: 2\n"
      "c 3\n"
      "  d  =  4  \n"
      "e\t:\tfive six\n"
      "f\n"
      "g=\n"
      "h==x\n"
      "i = : j\n");
  EXPECT_EQ(p.at("a"), "1");
  EXPECT_EQ(p.at("b"), "2");
  EXPECT_EQ(p.at("c"), "3");
  EXPECT_EQ(p.at("d"), "4  ");  // trailing blanks belong to the value, as in Java
  EXPECT_EQ(p.at("e"), "five six");
  EXPECT_EQ(p.at("f"), "");
  EXPECT_EQ(p.at("g"), "");
  EXPECT_EQ(p.at("h"), "=x");  // only the first separator is one
  EXPECT_EQ(p.at("i"), ": j");
  EXPECT_EQ(p.size(), 9u);
}

TEST(Properties, CommentsAndBlankLines) {
  auto p = parse(
      "# a comment\n"
      "   ! another = x\n"
      "\n"
      "   \t\n"
      "key=value # not a comment\n"
      "#comment ending in a backslash \\\n"
      "next=1\n");
  EXPECT_EQ(p.size(), 2u);
  EXPECT_EQ(p.at("key"), "value # not a comment");
  EXPECT_EQ(p.at("next"), "1");  // comment lines are never continued
}

TEST(Properties, LineEndings) {
  auto p = parse("a=1\r\nb=2\rc=3\nd=4");
  EXPECT_EQ(p.at("a"), "1");
  EXPECT_EQ(p.at("b"), "2");
  EXPECT_EQ(p.at("c"), "3");
  EXPECT_EQ(p.at("d"), "4");
}

TEST(Properties, Continuations) {
  auto p = parse(
      "fruits = apple, banana, \\\n"
      "         pear, \\\r\n"
      "         cherry\n"
      "even=a\\\\\n"
      "odd=b\\\\\\\n"
      "  c\n"
      "last=x\\");
  EXPECT_EQ(p.at("fruits"), "apple, banana, pear, cherry");
  EXPECT_EQ(p.at("even"), "a\\");  // an escaped backslash does not continue
  EXPECT_EQ(p.at("odd"), "b\\c");
  EXPECT_EQ(p.at("last"), "x");  // a continuation at the end of input just ends
  EXPECT_EQ(p.size(), 4u);
}

TEST(Properties, ContinuedKey) {
  auto p = parse("long\\\n   key=v\n");
  EXPECT_EQ(p.at("longkey"), "v");
}

TEST(Properties, Escapes) {
  auto p = parse(
      "tabs=a\\tb\\nc\\rd\\fe\n"
      "key\\ with\\=odd\\:chars = v\n"
      "other=\\q\\#\\!\n"
      "uni=\\u0041\\u00e9\\u20AC\n"
      "pair=\\uD83D\\uDE00\n"
      "lead=\\ two\n");
  EXPECT_EQ(p.at("tabs"), "a\tb\nc\rd\fe");
  EXPECT_EQ(p.at("key with=odd:chars"), "v");
  EXPECT_EQ(p.at("other"), "q#!");
  EXPECT_EQ(p.at("uni"), "A\xC3\xA9\xE2\x82\xAC");
  EXPECT_EQ(p.at("pair"), "\xF0\x9F\x98\x80");
  EXPECT_EQ(p.at("lead"), " two");  // an escaped blank is kept
}

TEST(Properties, Utf8PassesThrough) {
  auto p = parse("name=caf\xC3\xA9\n");
  EXPECT_EQ(p.at("name"), "caf\xC3\xA9");
}

TEST(Properties, LaterDuplicateWins) {
  auto p = parse("a=1\na=2\n");
  EXPECT_EQ(p.at("a"), "2");
  EXPECT_EQ(p.size(), 1u);
}

TEST(Properties, MalformedEscapesNameTheLine) {
  struct bad_case {
    const char* text;
    const char* line;
  };
  for (const auto& c :
       {bad_case{"a=1\nb=\\u12\n", "line 2:"}, bad_case{"a=1\n\nb=\\uZZZZ\n", "line 3:"},
        bad_case{"a=x\\\n  y\\u0\n", "line 2:"}, bad_case{"k=\\uD83D\n", "line 1:"},
        bad_case{"k=\\uDE00\n", "line 1:"}}) {
    SCOPED_TRACE(c.text);
    auto p = parse_properties(c.text);
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.error().message.rfind(c.line, 0), 0u) << p.error().message;
    EXPECT_NE(p.error().message.find("\\uXXXX"), std::string::npos);
  }
}

TEST(Properties, EmptyInput) {
  EXPECT_TRUE(parse("").empty());
  EXPECT_TRUE(parse("\n\n# only comments\n").empty());
}

TEST(Properties, KafkaServerProperties) {
  auto p = parse(
      "############################# Server Basics #############################\n"
      "# The id of the broker.\n"
      "broker.id=0\n"
      "listeners=PLAINTEXT://:9092\n"
      "log.dirs=/tmp/kafka-logs\n"
      "num.partitions=1\n"
      "log.retention.hours=168\n");
  EXPECT_EQ(p.at("broker.id"), "0");
  EXPECT_EQ(p.at("listeners"), "PLAINTEXT://:9092");
  EXPECT_EQ(p.at("log.dirs"), "/tmp/kafka-logs");
  EXPECT_EQ(p.size(), 5u);
}

TEST(Properties, LoadFile) {
  std::string path = ::testing::TempDir() + "properties_test_" + std::to_string(::getpid());
  std::FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fputs("a=1\nb = two\n", f);
  std::fclose(f);
  auto p = load_properties_file(path);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->at("a"), "1");
  EXPECT_EQ(p->at("b"), "two");

  f = std::fopen(path.c_str(), "wb");
  std::fputs("a=\\u00\n", f);
  std::fclose(f);
  auto bad = load_properties_file(path);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find(path), std::string::npos);
  EXPECT_NE(bad.error().message.find("line 1"), std::string::npos);
  std::remove(path.c_str());
}

TEST(Properties, MissingFileNamesThePath) {
  auto p = load_properties_file("/nonexistent/dir/server.properties");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().message.find("/nonexistent/dir/server.properties"), std::string::npos);
}

}  // namespace
}  // namespace sluice::base
