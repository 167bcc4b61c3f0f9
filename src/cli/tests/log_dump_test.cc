#include "cli/log_dump.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "base/endian.h"
#include "protocol/legacy_message_set.h"
#include "protocol/record_batch.h"
#include "storage/file_system.h"
#include "storage/segment.h"

namespace sluice::cli {
namespace {

namespace fs = std::filesystem;

constexpr int64_t segment_base = 100;

std::span<const uint8_t> bytes_of(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

// A directory removed at the end of the test.
class temp_dir {
 public:
  temp_dir() {
    std::random_device random;
    path_ = fs::temp_directory_path() / ("log_dump_test_" + std::to_string(random()));
    fs::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string path() const { return path_.string(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::string& path, std::span<const uint8_t> bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

std::vector<uint8_t> build(protocol::record_batch_builder& builder) {
  auto built = builder.build();
  EXPECT_TRUE(built.ok());
  return std::move(*built);
}

// The batches of the test segment, from offset 100: plain with headers,
// gzip, zstd, transactional, and the COMMIT marker ending the transaction.
std::vector<std::vector<uint8_t>> sample_batches() {
  std::vector<std::vector<uint8_t>> batches;

  protocol::batch_options plain;
  plain.base_offset = 100;
  plain.partition_leader_epoch = 3;
  protocol::record_batch_builder first(plain);
  std::vector<protocol::header_view> headers = {{"trace-identifier", bytes_of("abc")},
                                                {"empty", std::nullopt}};
  first.add(1000, bytes_of("k0"), bytes_of("hello"), headers);
  first.add(1001, std::nullopt, std::nullopt);
  batches.push_back(build(first));

  protocol::batch_options gzip = plain;
  gzip.base_offset = 102;
  gzip.codec = protocol::compression::gzip;
  protocol::record_batch_builder second(gzip);
  for (int i = 0; i < 3; ++i) second.add(2000 + i, std::nullopt, bytes_of("gzipped value"));
  batches.push_back(build(second));

  protocol::batch_options zstd = plain;
  zstd.base_offset = 105;
  zstd.codec = protocol::compression::zstd;
  protocol::record_batch_builder third(zstd);
  third.add(3000, bytes_of("z"), bytes_of(std::string(1000, 'x')));
  batches.push_back(build(third));

  protocol::batch_options transactional = plain;
  transactional.base_offset = 106;
  transactional.producer_id = 7;
  transactional.producer_epoch = 1;
  transactional.base_sequence = 0;
  transactional.transactional = true;
  protocol::record_batch_builder fourth(transactional);
  fourth.add(4000, bytes_of("tk"), bytes_of("tv"));
  batches.push_back(build(fourth));

  protocol::txn_marker marker;
  marker.commit = true;
  marker.coordinator_epoch = 5;
  marker.producer_id = 7;
  marker.producer_epoch = 1;
  marker.base_offset = 107;
  marker.partition_leader_epoch = 3;
  marker.timestamp = 5000;
  batches.push_back(protocol::build_txn_marker_batch(marker));
  return batches;
}

// Writes the sample batches with the broker's own segment code, an index
// entry for every batch after the first.
void write_segment(const std::string& directory) {
  auto file_system = storage::make_posix_file_system();
  auto segment = storage::segment::create(*file_system, directory, segment_base, {0});
  ASSERT_TRUE(segment.ok()) << segment.error().message;
  for (const auto& batch : sample_batches()) {
    auto appended = (*segment)->append(batch);
    ASSERT_TRUE(appended.ok()) << appended.error().message;
  }
  ASSERT_TRUE((*segment)->flush().ok());
}

class LogDump : public ::testing::Test {
 protected:
  void SetUp() override { write_segment(dir_.path()); }

  std::string log_path() const { return dir_.file("00000000000000000100.log"); }
  std::string index_path() const { return dir_.file("00000000000000000100.index"); }
  std::string time_index_path() const { return dir_.file("00000000000000000100.timeindex"); }

  // The dump of `bytes` as if they were the file at `path`, with the
  // segment's real .log beside it.
  document dump_bytes(const std::string& path, std::vector<uint8_t> bytes,
                      const dump_options& options) {
    auto source = memory_source(base::shared_bytes(std::move(bytes)));
    auto log = open_file_source(log_path());
    EXPECT_TRUE(log.ok());
    return dump_segment_file(*classify_segment_file(path), *source, log->get(), options);
  }

  document dump(const std::vector<std::string>& paths, const dump_options& options) {
    auto dumped = dump_paths(paths, options);
    EXPECT_TRUE(dumped.ok()) << dumped.error().message;
    return *dumped;
  }

  temp_dir dir_;
};

TEST_F(LogDump, DecodesEveryBatchTheBrokerWrote) {
  document doc = dump({dir_.path()}, {});
  ASSERT_EQ(doc["files"].size(), 1u);
  const document& file = doc["files"][0];
  EXPECT_EQ(file["path"], log_path());
  EXPECT_EQ(file["type"], "log");
  EXPECT_EQ(file["base_offset"], 100);
  EXPECT_EQ(file["error"], nullptr);
  EXPECT_FALSE(file.contains("problems"));

  const document& batches = file["batches"];
  ASSERT_EQ(batches.size(), 5u);
  EXPECT_EQ(batches[0]["base_offset"], 100);
  EXPECT_EQ(batches[0]["last_offset"], 101);
  EXPECT_EQ(batches[0]["count"], 2);
  EXPECT_EQ(batches[0]["position"], 0);
  EXPECT_EQ(batches[0]["magic"], 2);
  EXPECT_EQ(batches[0]["compression"], "none");
  EXPECT_EQ(batches[0]["timestamp_type"], "create_time");
  EXPECT_EQ(batches[0]["first_timestamp"], 1000);
  EXPECT_EQ(batches[0]["max_timestamp"], 1001);
  EXPECT_EQ(batches[0]["partition_leader_epoch"], 3);
  EXPECT_EQ(batches[1]["position"], batches[0]["size"]);
  EXPECT_EQ(batches[1]["compression"], "gzip");
  EXPECT_EQ(batches[1]["last_offset"], 104);
  EXPECT_EQ(batches[2]["compression"], "zstd");
  EXPECT_EQ(batches[3]["is_transactional"], true);
  EXPECT_EQ(batches[3]["is_control"], false);
  EXPECT_EQ(batches[3]["producer_id"], 7);
  EXPECT_EQ(batches[3]["producer_epoch"], 1);
  EXPECT_EQ(batches[3]["base_sequence"], 0);
  EXPECT_EQ(batches[4]["is_control"], true);
  EXPECT_EQ(batches[4]["is_transactional"], true);
  uint64_t end = 0;
  for (const auto& batch : batches) {
    EXPECT_EQ(batch["crc_valid"], true);
    EXPECT_FALSE(batch.contains("records"));
    end = batch["position"].get<uint64_t>() + batch["size"].get<uint64_t>();
  }
  EXPECT_EQ(end, file["size"].get<uint64_t>());
}

TEST_F(LogDump, RecordsShowKeysValuesHeadersAndControlMarkers) {
  dump_options options;
  options.records = true;
  options.max_bytes = 10;
  document batches = dump({log_path()}, options)["files"][0]["batches"];
  ASSERT_EQ(batches.size(), 5u);

  const document& first = batches[0]["records"];
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0], document({{"offset", 100},
                                {"timestamp", 1000},
                                {"key_size", 2},
                                {"value_size", 5},
                                {"key", "k0"},
                                {"value", "hello"},
                                {"headers", {"trace-identifier=abc", "empty"}}}));
  EXPECT_EQ(first[1]["key"], nullptr);
  EXPECT_EQ(first[1]["key_size"], -1);
  EXPECT_EQ(first[1]["value"], nullptr);
  EXPECT_EQ(batches[0]["records_error"], nullptr);

  ASSERT_EQ(batches[1]["records"].size(), 3u);
  EXPECT_EQ(batches[1]["records"][2]["offset"], 104);
  EXPECT_EQ(batches[1]["records"][2]["value"], "gzipped va");

  const document& zstd = batches[2]["records"][0];
  EXPECT_EQ(zstd["value_size"], 1000);
  EXPECT_EQ(zstd["value"], "xxxxxxxxxx");

  const document& marker = batches[4]["records"][0];
  EXPECT_EQ(marker["offset"], 107);
  EXPECT_EQ(marker["control_type"], "commit");
  EXPECT_EQ(marker["coordinator_epoch"], 5);
  EXPECT_FALSE(batches[3]["records"][0].contains("control_type"));
}

TEST_F(LogDump, VerifyOfAnIntactDirectoryFindsNothingAndIncludesTheIndexes) {
  dump_options options;
  options.verify = true;
  document doc = dump({dir_.path()}, options);
  ASSERT_EQ(doc["files"].size(), 3u);
  EXPECT_EQ(doc["files"][0]["type"], "log");
  EXPECT_EQ(doc["files"][1]["type"], "index");
  EXPECT_EQ(doc["files"][2]["type"], "timeindex");
  for (const auto& file : doc["files"]) {
    EXPECT_EQ(file["problems"], document::array()) << file.dump();
    EXPECT_EQ(file["error"], nullptr);
  }
  EXPECT_EQ(verification_failure(doc), std::nullopt);
}

TEST_F(LogDump, IndexEntriesAreAbsoluteAndPointAtBatches) {
  document doc = dump({log_path(), index_path(), time_index_path()}, {});
  const document& batches = doc["files"][0]["batches"];
  const document& index = doc["files"][1];
  EXPECT_EQ(index["type"], "index");
  EXPECT_EQ(index["size"], 32);
  // Every batch after the first, by its last offset.
  ASSERT_EQ(index["entries"].size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(index["entries"][i]["offset"], batches[i + 1]["last_offset"]);
    EXPECT_EQ(index["entries"][i]["position"], batches[i + 1]["position"]);
  }
  const document& times = doc["files"][2]["entries"];
  ASSERT_EQ(times.size(), 4u);
  EXPECT_EQ(times[0], document({{"timestamp", 2002}, {"offset", 104}}));
  EXPECT_EQ(times[3], document({{"timestamp", 5000}, {"offset", 107}}));
}

TEST_F(LogDump, TruncatedTailStopsTheWalkWithTheReason) {
  std::vector<uint8_t> bytes = read_file(log_path());
  bytes.resize(bytes.size() - 10);
  dump_options options;
  options.verify = true;
  document file = dump_bytes(log_path(), bytes, options);
  EXPECT_EQ(file["batches"].size(), 4u);
  std::string error = file["error"];
  EXPECT_NE(error.find("cut short"), std::string::npos) << error;
  EXPECT_NE(verification_failure({{"files", {file}}}), std::nullopt);

  // Too little for even the length and magic.
  uint64_t fourth_end =
      file["batches"][3]["position"].get<uint64_t>() + file["batches"][3]["size"].get<uint64_t>();
  bytes.resize(fourth_end + 5);
  error = dump_bytes(log_path(), bytes, {})["error"].get<std::string>();
  EXPECT_EQ(error, "at byte " + std::to_string(fourth_end) +
                       ": cut short: an entry header needs 17 bytes, 5 bytes are left");
}

TEST_F(LogDump, FlippedByteFailsTheCrcButTheWalkGoesOn) {
  std::vector<uint8_t> bytes = read_file(log_path());
  document intact = dump({log_path()}, {})["files"][0];
  size_t second = intact["batches"][1]["position"];
  bytes[second + protocol::batch_layout::header_size + 3] ^= 0x40;

  dump_options options;
  options.verify = true;
  document file = dump_bytes(log_path(), bytes, options);
  ASSERT_EQ(file["batches"].size(), 5u);
  EXPECT_EQ(file["batches"][0]["crc_valid"], true);
  EXPECT_EQ(file["batches"][1]["crc_valid"], false);
  EXPECT_EQ(file["batches"][2]["crc_valid"], true);
  EXPECT_EQ(file["error"], nullptr);
  ASSERT_GE(file["problems"].size(), 1u);
  EXPECT_EQ(file["problems"][0]["location"], "byte " + std::to_string(second));
  std::string problem = file["problems"][0]["problem"];
  EXPECT_NE(problem.find("CRC mismatch"), std::string::npos) << problem;
  EXPECT_EQ(*verification_failure({{"files", {file}}}),
            "verification failed: " + std::to_string(file["problems"].size()) + " problem" +
                (file["problems"].size() == 1 ? "" : "s") + " in 1 of 1 files");
}

TEST_F(LogDump, HostileLengthsAndMagicsStopWithoutReadingPastTheFile) {
  std::vector<uint8_t> bytes = read_file(log_path());
  std::vector<uint8_t> huge = bytes;
  base::store_be<int32_t>(huge.data() + protocol::batch_layout::batch_length, 0x7fffffff);
  std::string error = dump_bytes(log_path(), huge, {})["error"];
  EXPECT_NE(error.find("at byte 0: cut short: the entry is 2147483659 bytes"), std::string::npos)
      << error;

  std::vector<uint8_t> negative = bytes;
  base::store_be<int32_t>(negative.data() + protocol::batch_layout::batch_length, -5);
  error = dump_bytes(log_path(), negative, {})["error"].get<std::string>();
  EXPECT_NE(error.find("below the minimum"), std::string::npos) << error;

  std::vector<uint8_t> magic = bytes;
  magic[protocol::batch_layout::magic] = 7;
  EXPECT_EQ(dump_bytes(log_path(), magic, {})["error"], "at byte 0: unknown magic 7");

  // Random garbage never crashes and never reports bytes it did not read.
  std::mt19937 random(42);
  for (int round = 0; round < 200; ++round) {
    std::vector<uint8_t> noise = bytes;
    for (int i = 0; i < 8; ++i) noise[random() % noise.size()] = static_cast<uint8_t>(random());
    noise.resize(random() % (noise.size() + 1));
    dump_options options;
    options.records = options.verify = true;
    document file = dump_bytes(log_path(), noise, options);
    for (const auto& batch : file["batches"]) {
      EXPECT_LE(batch["position"].get<uint64_t>() + batch["size"].get<uint64_t>(), noise.size());
    }
  }
}

TEST_F(LogDump, VerifyCatchesOffsetsGoingBack) {
  std::vector<uint8_t> bytes = read_file(log_path());
  document intact = dump({log_path()}, {})["files"][0];
  size_t third = intact["batches"][2]["position"];
  // The base offset lies outside the CRC, so only the order check sees this.
  base::store_be<int64_t>(bytes.data() + third, 101);
  dump_options options;
  options.verify = true;
  document file = dump_bytes(log_path(), bytes, options);
  ASSERT_EQ(file["problems"].size(), 1u);
  EXPECT_EQ(file["problems"][0]["problem"],
            "base offset 101 does not follow the previous last offset 104");
}

TEST_F(LogDump, FromOffsetLeavesOutWhatLiesBelow) {
  dump_options options;
  options.records = true;
  options.from_offset = 104;
  document doc = dump({log_path(), index_path()}, options);
  const document& batches = doc["files"][0]["batches"];
  ASSERT_EQ(batches.size(), 4u);
  EXPECT_EQ(batches[0]["base_offset"], 102);
  ASSERT_EQ(batches[0]["records"].size(), 1u);
  EXPECT_EQ(batches[0]["records"][0]["offset"], 104);
  EXPECT_EQ(doc["files"][1]["entries"].size(), 4u);
  options.from_offset = 106;
  EXPECT_EQ(dump({index_path()}, options)["files"][0]["entries"].size(), 2u);
}

TEST_F(LogDump, OddSizedIndexDecodesItsWholeEntriesAndSaysWhatIsLeft) {
  std::vector<uint8_t> bytes = read_file(index_path());
  bytes.insert(bytes.end(), {1, 2, 3});
  dump_options options;
  options.verify = true;
  document file = dump_bytes(index_path(), bytes, options);
  EXPECT_EQ(file["entries"].size(), 4u);
  EXPECT_EQ(file["error"], "the size 35 is not a multiple of 8: 3 bytes after the last entry");
  EXPECT_EQ(file["problems"], document::array());

  std::vector<uint8_t> times = read_file(time_index_path());
  times.pop_back();
  file = dump_bytes(time_index_path(), times, options);
  EXPECT_EQ(file["entries"].size(), 3u);
  EXPECT_EQ(file["error"], "the size 47 is not a multiple of 12: 11 bytes after the last entry");
}

TEST_F(LogDump, VerifyChecksIndexEntriesAgainstTheLog) {
  std::vector<uint8_t> bytes = read_file(index_path());
  // Entry 1: a position inside a batch. Entry 3: the first batch's position,
  // which also goes back.
  base::store_be<int32_t>(bytes.data() + 8 + 4, base::load_be<int32_t>(bytes.data() + 8 + 4) + 1);
  base::store_be<int32_t>(bytes.data() + 24 + 4, 0);
  dump_options options;
  options.verify = true;
  document problems = dump_bytes(index_path(), bytes, options)["problems"];
  ASSERT_EQ(problems.size(), 2u) << problems.dump();
  EXPECT_EQ(problems[0]["location"], "entry 1");
  EXPECT_NE(problems[0]["problem"].get<std::string>().find("is not where a batch starts"),
            std::string::npos);
  EXPECT_EQ(problems[1],
            document({{"location", "entry 3"}, {"problem", "position does not increase"}}));

  std::vector<uint8_t> times = read_file(time_index_path());
  base::store_be<int64_t>(times.data() + 12, 1);       // below entry 0's timestamp
  base::store_be<int32_t>(times.data() + 36 + 8, 50);  // offset 150, past the log
  problems = dump_bytes(time_index_path(), times, options)["problems"];
  ASSERT_EQ(problems.size(), 2u) << problems.dump();
  EXPECT_EQ(problems[0],
            document({{"location", "entry 1"}, {"problem", "timestamp does not increase"}}));
  EXPECT_EQ(problems[1], document({{"location", "entry 3"},
                                   {"problem", "offset 150 is past the .log's last offset 107"}}));
}

TEST_F(LogDump, HumanOutputIsABatchTable) {
  document doc = dump({log_path()}, {});
  std::string text = render_human(doc);
  EXPECT_NE(text.find("type:        log"), std::string::npos) << text;
  EXPECT_NE(text.find("Batches:\n  BASE-OFFSET  LAST-OFFSET  COUNT  POSITION"), std::string::npos)
      << text;
}

TEST(LogDumpBytes, UnprintableBytesAreEscapedAndUtf8Kept) {
  protocol::record_batch_builder builder;
  std::vector<uint8_t> value = {0x00, 'a', 0xff, 0xc3, 0xa9, '\n', 0xe2, 0x82};
  builder.add(1, std::nullopt, std::span<const uint8_t>(value));
  auto source = memory_source(base::shared_bytes(build(builder)));
  dump_options options;
  options.records = true;
  document file = dump_segment_file(*classify_segment_file("x.log"), *source, nullptr, options);
  EXPECT_EQ(file["base_offset"], nullptr);
  EXPECT_EQ(file["batches"][0]["records"][0]["value"], "\\x00a\\xff\xc3\xa9\\x0a\\xe2\\x82");
}

TEST(LogDumpBytes, LegacyMessageSetsShowAsBatches) {
  std::vector<protocol::legacy_record> records = {{10, 111, bytes_of("k"), bytes_of("v1")},
                                                  {11, 112, std::nullopt, bytes_of("v2")}};
  protocol::legacy_write_options plain;
  auto set = protocol::write_legacy_message_set(records, plain);
  ASSERT_TRUE(set.ok());
  protocol::legacy_write_options gzip;
  gzip.codec = protocol::compression::gzip;
  std::vector<protocol::legacy_record> later = {{12, 113, std::nullopt, bytes_of("v3")},
                                                {13, 114, std::nullopt, bytes_of("v4")}};
  auto wrapped = protocol::write_legacy_message_set(later, gzip);
  ASSERT_TRUE(wrapped.ok());
  std::vector<uint8_t> bytes = *set;
  bytes.insert(bytes.end(), wrapped->begin(), wrapped->end());

  dump_options options;
  options.records = true;
  options.verify = true;
  auto source = memory_source(base::shared_bytes(bytes));
  document file = dump_segment_file(*classify_segment_file("00000000000000000010.log"), *source,
                                    nullptr, options);
  EXPECT_EQ(file["error"], nullptr);
  EXPECT_EQ(file["problems"], document::array());
  const document& batches = file["batches"];
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0]["magic"], 1);
  EXPECT_EQ(batches[0]["base_offset"], 10);
  EXPECT_EQ(batches[0]["crc_valid"], true);
  EXPECT_EQ(batches[0]["records"][0]["value"], "v1");
  EXPECT_EQ(batches[2]["compression"], "gzip");
  EXPECT_EQ(batches[2]["base_offset"], 12);
  EXPECT_EQ(batches[2]["last_offset"], 13);
  EXPECT_EQ(batches[2]["count"], 2);
  EXPECT_EQ(batches[2]["max_timestamp"], 114);
  EXPECT_EQ(batches[2]["records"][1]["value"], "v4");

  // A flipped value byte: shown all the same, with crc_valid false.
  bytes[batches[0]["size"].get<size_t>() - 1] ^= 1;
  source = memory_source(base::shared_bytes(bytes));
  file = dump_segment_file(*classify_segment_file("00000000000000000010.log"), *source, nullptr,
                           options);
  EXPECT_EQ(file["batches"][0]["crc_valid"], false);
  EXPECT_EQ(file["batches"][0]["records"][0]["value"], "v0");
  EXPECT_EQ(file["problems"].size(), 1u);
}

TEST(LogDumpPaths, MissingAndUnknownFilesFailBeforeAnythingIsRead) {
  temp_dir dir;
  auto missing = dump_paths({dir.file("nope.log")}, {});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message, dir.file("nope.log") + ": no such file or directory");

  write_file(dir.file("leader-epoch-checkpoint"), bytes_of("0\n0\n"));
  auto unknown = dump_paths({dir.file("leader-epoch-checkpoint")}, {});
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("not a segment file"), std::string::npos);

  auto empty = dump_paths({dir.path()}, {});
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().message.find("holds no segment"), std::string::npos);
}

TEST(LogDumpPaths, DirectoryListsSegmentsInOffsetOrderAndFromOffsetSkipsWholeOnes) {
  temp_dir dir;
  auto file_system = storage::make_posix_file_system();
  for (int64_t base : {20, 0, 10}) {
    auto segment = storage::segment::create(*file_system, dir.path(), base, {});
    ASSERT_TRUE(segment.ok());
    protocol::batch_options options;
    options.base_offset = base;
    protocol::record_batch_builder builder(options);
    for (int i = 0; i < 10; ++i) builder.add(i, std::nullopt, bytes_of("v"));
    ASSERT_TRUE((*segment)->append(build(builder)).ok());
    ASSERT_TRUE((*segment)->flush().ok());
  }
  write_file(dir.file("leader-epoch-checkpoint"), bytes_of("0\n0\n"));

  document doc = *dump_paths({dir.path()}, {});
  ASSERT_EQ(doc["files"].size(), 3u);
  EXPECT_EQ(doc["files"][0]["base_offset"], 0);
  EXPECT_EQ(doc["files"][1]["base_offset"], 10);
  EXPECT_EQ(doc["files"][2]["base_offset"], 20);

  dump_options options;
  options.from_offset = 15;
  doc = *dump_paths({dir.path()}, options);
  ASSERT_EQ(doc["files"].size(), 2u);
  EXPECT_EQ(doc["files"][0]["base_offset"], 10);
  EXPECT_EQ(doc["files"][0]["batches"].size(), 1u);
}

}  // namespace
}  // namespace sluice::cli
