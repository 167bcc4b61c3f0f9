#include "cli/output.h"

#include <gtest/gtest.h>

namespace sluice::cli {
namespace {

TEST(Output, ArrayOfFlatObjectsIsATableWithAlignedColumns) {
  document rows = document::array();
  rows.push_back({{"topic", "orders"}, {"partitions", 3}, {"replicas", {1, 2}}});
  rows.push_back({{"topic", "a"}, {"partitions", 12}, {"replicas", {3}}});
  EXPECT_EQ(render_human(rows),
            "TOPIC   PARTITIONS  REPLICAS\n"
            "orders  3           1,2\n"
            "a       12          3\n");
}

TEST(Output, ColumnsComeFromEveryRowAndMissingCellsAreDashes) {
  document rows = document::array();
  rows.push_back({{"a", 1}});
  rows.push_back({{"a", 2}, {"log_end_offset", nullptr}});
  rows.push_back({{"b", true}});
  EXPECT_EQ(render_human(rows),
            "A  LOG-END-OFFSET  B\n"
            "1  -               -\n"
            "2  -               -\n"
            "-  -               true\n");
}

TEST(Output, ObjectPrintsScalarsThenTitledSections) {
  document doc = {{"name", "orders"}, {"partitions", document::array()}, {"id", "x"}};
  doc["partitions"].push_back({{"partition", 0}, {"leader", 1}});
  doc["configs"] = document::array();
  EXPECT_EQ(render_human(doc),
            "name: orders\n"
            "id:   x\n"
            "\n"
            "Partitions:\n"
            "  PARTITION  LEADER\n"
            "  0          1\n"
            "\n"
            "Configs:\n"
            "  (none)\n");
}

TEST(Output, SingleArrayFieldPrintsUntitled) {
  document doc = {{"topics", document::array()}};
  doc["topics"].push_back({{"name", "t"}});
  EXPECT_EQ(render_human(doc), "NAME\nt\n");
  EXPECT_EQ(render_human(document{{"topics", document::array()}}), "(none)\n");
}

TEST(Output, ArrayOfNestedObjectsPrintsOneSectionEach) {
  document doc = document::array();
  doc.push_back({{"name", "a"}, {"rows", {{{"x", 1}}}}});
  doc.push_back({{"name", "b"}, {"rows", {{{"x", 2}}}}});
  EXPECT_EQ(render_human(doc),
            "name: a\n\nRows:\n  X\n  1\n"
            "\n"
            "name: b\n\nRows:\n  X\n  2\n");
}

TEST(Output, NumbersKeepTheirValue) {
  document doc = {{"rate", 1234.5678}, {"whole", 5.0}, {"big", int64_t{9007199254740993}}};
  EXPECT_EQ(render_human(doc), "rate:  1234.57\nwhole: 5\nbig:   9007199254740993\n");
  EXPECT_EQ(render_json(doc), R"({"rate":1234.5678,"whole":5.0,"big":9007199254740993})");
}

TEST(Output, JsonKeepsFieldOrderAndReplacesInvalidUtf8) {
  document doc = {{"z", 1}, {"a", std::string("ok\xff")}};
  EXPECT_EQ(render_json(doc), "{\"z\":1,\"a\":\"ok\xef\xbf\xbd\"}");
}

}  // namespace
}  // namespace sluice::cli
