#include "cli/record_input.h"

#include <gtest/gtest.h>

namespace sluice::cli {
namespace {

// Feeds `input` in pieces of `chunk` bytes and collects the records.
std::vector<std::string> split(const std::string& input, const std::string& delimiter,
                               size_t chunk) {
  record_splitter splitter(delimiter);
  std::vector<std::string> out;
  for (size_t pos = 0; pos < input.size(); pos += chunk) {
    splitter.feed(std::string_view(input).substr(pos, chunk));
    while (auto record = splitter.next()) out.emplace_back(*record);
  }
  if (auto last = splitter.rest()) out.emplace_back(*last);
  return out;
}

using strings = std::vector<std::string>;

TEST(RecordSplitter, LinesInAnyChunking) {
  for (size_t chunk : {1, 2, 3, 7, 100}) {
    EXPECT_EQ(split("a\nbb\n\nccc\n", "\n", chunk), (strings{"a", "bb", "", "ccc"})) << chunk;
  }
}

TEST(RecordSplitter, LastRecordWithoutDelimiter) {
  EXPECT_EQ(split("a\nb", "\n", 100), (strings{"a", "b"}));
  EXPECT_EQ(split("", "\n", 100), strings{});
  EXPECT_EQ(split("\n", "\n", 100), strings{""});
}

TEST(RecordSplitter, MultiByteDelimiterSplitAcrossChunks) {
  for (size_t chunk : {1, 2, 3, 4, 5, 64}) {
    EXPECT_EQ(split("one<>two<<>three<>", "<>", chunk), (strings{"one", "two<", "three"})) << chunk;
  }
}

TEST(RecordSplitter, NulDelimiterAndBinaryRecords) {
  std::string input("a\n1\0b\xff\0", 7);
  EXPECT_EQ(split(input, std::string(1, '\0'), 2), (strings{"a\n1", "b\xff"}));
}

TEST(RecordSplitter, LongRecordAcrossManyChunks) {
  std::string big(100000, 'x');
  EXPECT_EQ(split(big + "\n" + "y", "\n", 1000), (strings{big, "y"}));
}

TEST(SplitKey, AtTheFirstKeyDelimiter) {
  auto kv = split_key("user-1:{\"a\":1}:x", ":");
  EXPECT_EQ(kv.key, "user-1");
  EXPECT_EQ(kv.value, "{\"a\":1}:x");
  kv = split_key(":v", ":");
  EXPECT_EQ(kv.key, "");
  EXPECT_EQ(kv.value, "v");
  kv = split_key("k::v", "::");
  EXPECT_EQ(kv.key, "k");
  EXPECT_EQ(kv.value, "v");
}

TEST(SplitKey, WithoutTheDelimiterTheKeyIsNull) {
  auto kv = split_key("just a value", ":");
  EXPECT_FALSE(kv.key);
  EXPECT_EQ(kv.value, "just a value");
  kv = split_key("a:b", "");
  EXPECT_FALSE(kv.key);
  EXPECT_EQ(kv.value, "a:b");
}

TEST(JsonInput, StringsAsIsOtherValuesAsCompactJson) {
  auto r = parse_json_record(
      R"({"key": "k1", "value": {"n": 1, "s": [1, 2]}, "headers": {"b": "2", "a": 1, "z": null},)"
      R"( "partition": 3, "timestamp": 1700000000000})",
      1);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->key, "k1");
  EXPECT_EQ(r->value, R"({"n":1,"s":[1,2]})");
  ASSERT_EQ(r->headers.size(), 3u);
  EXPECT_EQ(r->headers[0], (std::pair<std::string, std::optional<std::string>>{"b", "2"}));
  EXPECT_EQ(r->headers[1], (std::pair<std::string, std::optional<std::string>>{"a", "1"}));
  EXPECT_EQ(r->headers[2].second, std::nullopt);
  EXPECT_EQ(r->partition, 3);
  EXPECT_EQ(r->timestamp_ms, 1700000000000);
}

TEST(JsonInput, NullOrMissingKeyAndValueStayNull) {
  auto r = parse_json_record(R"({"key": null, "value": null})", 1);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->key);
  EXPECT_FALSE(r->value);
  r = parse_json_record(R"({"value": 42})", 1);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->key);
  EXPECT_EQ(r->value, "42");
  EXPECT_FALSE(r->partition);
  r = parse_json_record("{}\r", 1);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->value);
}

TEST(JsonInput, KeepsUnicodeAndEscapes) {
  auto r = parse_json_record(R"({"value": "caf\u00e9\n\"q\""})", 1);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->value, "caf\xc3\xa9\n\"q\"");
}

std::string json_error(const std::string& line, size_t number) {
  auto r = parse_json_record(line, number);
  EXPECT_FALSE(r) << line;
  return r ? "" : r.error().message;
}

TEST(JsonInput, ErrorsNameTheLineAndTheField) {
  EXPECT_EQ(json_error("{\"key\": ", 7).rfind("line 7: not JSON: ", 0), 0u);
  EXPECT_EQ(json_error("[1]", 2),
            "line 2: expected an object like {\"key\": \"k\", \"value\": \"v\"}");
  EXPECT_EQ(
      json_error(R"({"payload": "x"})", 3),
      "line 3: unknown field \"payload\" (expected key, value, headers, partition, timestamp)");
  EXPECT_EQ(json_error(R"({"partition": -1})", 4),
            "line 4: \"partition\" must be a non-negative integer, not -1");
  EXPECT_EQ(json_error(R"({"partition": "1"})", 4),
            "line 4: \"partition\" must be a non-negative integer, not \"1\"");
  EXPECT_EQ(json_error(R"({"partition": 4294967296})", 4),
            "line 4: \"partition\" must be a non-negative integer, not 4294967296");
  EXPECT_EQ(json_error(R"({"timestamp": 1.5})", 5),
            "line 5: \"timestamp\" must be a non-negative integer, not 1.5");
  EXPECT_EQ(json_error(R"({"headers": ["a"]})", 6),
            "line 6: \"headers\" must be an object like {\"name\": \"value\"}, not [\"a\"]");
}

TEST(JsonInput, BlankLines) {
  EXPECT_TRUE(is_blank(""));
  EXPECT_TRUE(is_blank(" \t\r"));
  EXPECT_FALSE(is_blank(" {}"));
}

}  // namespace
}  // namespace sluice::cli
