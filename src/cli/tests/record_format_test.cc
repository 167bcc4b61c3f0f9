#include "cli/record_format.h"

#include <gtest/gtest.h>

namespace sluice::cli {
namespace {

record_view sample() {
  record_view r;
  r.topic = "orders";
  r.partition = 2;
  r.offset = 41;
  r.timestamp_ms = 1700000000123;
  r.timestamp_type = record_view::timestamp_kind::create_time;
  r.key = "k1";
  r.value = "hello";
  r.headers = {{"source", "web"}, {"trace", "abc"}};
  return r;
}

std::string rendered(const char* text, const record_view& r) {
  auto t = record_template::parse(text);
  EXPECT_TRUE(t) << text << ": " << t.error().message;
  std::string out;
  if (t) t->render(r, out);
  return out;
}

std::string parse_error(const char* text) {
  auto t = record_template::parse(text);
  EXPECT_FALSE(t) << text;
  return t ? "" : t.error().message;
}

TEST(RecordTemplate, DefaultIsTheValueAndANewline) {
  EXPECT_EQ(rendered(record_template::default_text.data(), sample()), "hello\n");
}

TEST(RecordTemplate, EveryDirective) {
  EXPECT_EQ(rendered("%t|%p|%o|%T|%k|%v|%s|%K|%S|%h|%%", sample()),
            "orders|2|41|1700000000123|k1|hello|hello|2|5|source=web,trace=abc|%");
}

TEST(RecordTemplate, EscapesAndLiteralText) {
  EXPECT_EQ(rendered("key=%k\\tvalue=%v\\\\\\n\\x41", sample()), "key=k1\tvalue=hello\\\nA");
}

TEST(RecordTemplate, NullKeyAndValueWriteNothingAndLengthMinusOne) {
  record_view r = sample();
  r.key.reset();
  r.value.reset();
  r.headers.clear();
  EXPECT_EQ(rendered("[%k][%v][%K][%S][%h]", r), "[][][-1][-1][]");
}

TEST(RecordTemplate, EmptyKeyIsNotNull) {
  record_view r = sample();
  r.key = "";
  EXPECT_EQ(rendered("[%k][%K]", r), "[][0]");
}

TEST(RecordTemplate, BinaryBytesAreWrittenAsIs) {
  static const char key[] = {'\0', '\xff', '\n', 'x'};
  record_view r = sample();
  r.key = std::string_view(key, sizeof key);
  EXPECT_EQ(rendered("%k|%K", r), std::string(key, sizeof key) + "|4");
}

TEST(RecordTemplate, NullHeaderValue) {
  record_view r = sample();
  r.headers = {{"a", std::nullopt}, {"b", ""}};
  EXPECT_EQ(rendered("%h", r), "a=,b=");
}

TEST(RecordTemplate, UnknownDirectivesAndBadEscapesAreErrors) {
  EXPECT_NE(parse_error("%x").find("unknown %x"), std::string::npos);
  EXPECT_NE(parse_error("100%").find("a lone %"), std::string::npos);
  EXPECT_NE(parse_error("%v\\q").find("unknown escape \\q"), std::string::npos);
  EXPECT_NE(parse_error("%v\\").find("lone \\"), std::string::npos);
}

TEST(RecordJson, AllFields) {
  EXPECT_EQ(render_json(record_json(sample())),
            R"({"topic":"orders","partition":2,"offset":41,"timestamp":1700000000123,)"
            R"("timestamp_type":"create_time","key":"k1","value":"hello",)"
            R"("headers":{"source":"web","trace":"abc"}})");
}

TEST(RecordJson, MissingKeyValueAndTimestampAreNull) {
  record_view r = sample();
  r.key.reset();
  r.value.reset();
  r.timestamp_ms = -1;
  r.timestamp_type = record_view::timestamp_kind::none;
  r.headers = {{"h", std::nullopt}};
  EXPECT_EQ(render_json(record_json(r)),
            R"({"topic":"orders","partition":2,"offset":41,"timestamp":null,)"
            R"("timestamp_type":null,"key":null,"value":null,"headers":{"h":null}})");
}

TEST(RecordJson, LogAppendTimeAndEscapedText) {
  record_view r = sample();
  r.timestamp_type = record_view::timestamp_kind::log_append_time;
  r.value = "a\"b\n";
  auto doc = record_json(r);
  EXPECT_EQ(doc["timestamp_type"], "log_append_time");
  EXPECT_EQ(render_json(doc["value"]), R"("a\"b\n")");
}

}  // namespace
}  // namespace sluice::cli
