#include "coordinator/offsets_records.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "base/byte_writer.h"
#include "protocol/messages/group_metadata_key.h"
#include "protocol/messages/group_metadata_value.h"
#include "protocol/messages/offset_commit_key.h"
#include "protocol/messages/offset_commit_value.h"
#include "protocol/record_batch.h"
#include "storage/partition_log.h"
#include "storage/testing/fault_injecting_file_system.h"

namespace sluice::coordinator {
namespace {

using storage::testing::fault_injecting_file_system;

constexpr int32_t int32_max = std::numeric_limits<int32_t>::max();

// ---------------------------------------------------------------------------
// The partition of a group.

// Java's String.hashCode for ASCII text, computed apart from the code under
// test: in 64 bits, reduced to 32 at every step.
int32_t reference_ascii_hash(std::string_view text) {
  int64_t hash = 0;
  for (char c : text) hash = (hash * 31 + c) % (int64_t{1} << 32);
  return static_cast<int32_t>(static_cast<uint32_t>(hash));
}

// Kafka's Utils.abs. With int32_max partitions the partition is that of the
// hash itself (unless it is int32_max), so a test can check the hash exactly.
int32_t kafka_abs(int32_t hash) {
  return hash == std::numeric_limits<int32_t>::min() ? 0 : (hash < 0 ? -hash : hash);
}

std::string bytes_text(std::initializer_list<uint8_t> bytes) {
  return std::string(bytes.begin(), bytes.end());
}

TEST(OffsetsPartition, EmptyGroupIsPartitionZero) {
  EXPECT_EQ(offsets_partition_for("", 50), 0);
  EXPECT_EQ(offsets_partition_for("", 1), 0);
}

TEST(OffsetsPartition, MatchesJavaHashCodeOfKnownStrings) {
  // Hash codes printed by Java 17 for these strings.
  EXPECT_EQ(offsets_partition_for("hello", int32_max), 99162322);
  EXPECT_EQ(offsets_partition_for("hello", 50), 99162322 % 50);
  EXPECT_EQ(offsets_partition_for("my-group", int32_max), kafka_abs(-1906497762));
  // abs(-1906497762) % 50: masking the sign bit instead would give 36.
  EXPECT_EQ(offsets_partition_for("my-group", 50), 12);
  EXPECT_EQ(offsets_partition_for("console-consumer-12345", 50), 6);
  // Hashes to INT32_MIN: Kafka's Utils.abs makes that 0, where abs() would
  // overflow.
  EXPECT_EQ(offsets_partition_for("polygenelubricants", 50), 0);
  EXPECT_EQ(offsets_partition_for("polygenelubricants", int32_max), 0);
}

TEST(OffsetsPartition, AsciiMatchesAReferenceLoop) {
  const std::vector<std::string> groups = {"a",
                                           "group-1",
                                           "my-group",
                                           "console-consumer-54321",
                                           "connect-sink",
                                           std::string(200, 'z'),
                                           "~!@#$%^&*()"};
  for (const std::string& group : groups) {
    const int32_t hash = reference_ascii_hash(group);
    for (int32_t partitions : {1, 7, 50, 1000, int32_max}) {
      EXPECT_EQ(offsets_partition_for(group, partitions), kafka_abs(hash) % partitions)
          << group << " " << partitions;
    }
  }
}

TEST(OffsetsPartition, HashesUtf16CodeUnits) {
  // U+00E9 and U+20AC are one code unit each; U+1F600 a surrogate pair.
  EXPECT_EQ(offsets_partition_for("\xC3\xA9", int32_max), 233);
  EXPECT_EQ(offsets_partition_for("gr\xC3\xBCppe-\xE2\x82\xAC", int32_max), 243499123);
  EXPECT_EQ(offsets_partition_for("gr\xC3\xBCppe-\xE2\x82\xAC", 50), 23);
  EXPECT_EQ(offsets_partition_for("\xF0\x9F\x98\x80", int32_max), 0xD83D * 31 + 0xDE00);
  EXPECT_EQ(offsets_partition_for("\xF0\x9F\x98\x80", 50), 49);
}

TEST(OffsetsPartition, IllFormedUtf8IsReplacedAsJavaDoes) {
  // What Java 17 hashes for new String(bytes, UTF_8) of these bytes.
  struct known {
    std::string bytes;
    int32_t java_hash;
  };
  const std::vector<known> cases = {
      {bytes_text({'a', 0xFF, 'b'}), 2124838},             // a U+FFFD b
      {bytes_text({'a', 0xE2, 0x82, 'b'}), 2124838},       // a cut-short sequence: one U+FFFD
      {bytes_text({0xED, 0xA0, 0x80}), 65533},             // an encoded surrogate: one U+FFFD
      {bytes_text({'a', 0xF0, 0x9F, 0x98}), 68540},        // cut short at the end
      {bytes_text({0xC0, 0xAF}), 2097056},                 // overlong: two U+FFFD
      {bytes_text({0xF4, 0x90, 0x80, 0x80}), 2017367872},  // above U+10FFFF: four
      {bytes_text({0xE0, 0x80, 0x80}), 65074269},          // overlong: three
  };
  for (const known& c : cases) {
    EXPECT_EQ(offsets_partition_for(c.bytes, int32_max), kafka_abs(c.java_hash)) << c.java_hash;
  }
}

// ---------------------------------------------------------------------------
// Records.

base::shared_bytes bytes_of(std::string_view text) { return base::shared_bytes::copy_of(text); }

std::string hex(const base::shared_bytes& bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 0x0F];
  }
  return out;
}

std::string describe(const std::optional<std::string>& text) { return text ? *text : "<null>"; }

// An entry as text: what the tests compare, and what a failure prints.
std::string describe(const offsets_entry& entry) {
  if (const auto* commit = std::get_if<offset_commit_entry>(&entry)) {
    std::string out = "offset " + commit->group + "/" + commit->topic + "/" +
                      std::to_string(commit->partition) + ": ";
    if (!commit->value) return out + "tombstone";
    const committed_offset& v = *commit->value;
    return out + std::to_string(v.offset) + " epoch " + std::to_string(v.leader_epoch) + " '" +
           v.metadata + "' at " + std::to_string(v.commit_timestamp_ms) + " expires " +
           std::to_string(v.expire_timestamp_ms);
  }
  const auto& group = std::get<group_metadata_entry>(entry);
  std::string out = "group " + group.group + ": ";
  if (!group.value) return out + "tombstone";
  const stored_group& v = *group.value;
  out += v.protocol_type + " generation " + std::to_string(v.generation) + " protocol " +
         describe(v.protocol) + " leader " + describe(v.leader) + " at " +
         std::to_string(v.current_state_timestamp_ms) + " members";
  for (const stored_member& m : v.members) {
    out += " [" + m.member_id + " instance " + describe(m.group_instance_id) + " client " +
           m.client_id + " host " + m.client_host + " rebalance " +
           std::to_string(m.rebalance_timeout_ms) + " session " +
           std::to_string(m.session_timeout_ms) + " subscription " + hex(m.subscription) +
           " assignment " + hex(m.assignment) + "]";
  }
  return out;
}

base::result<std::optional<offsets_entry>> decode(const offsets_record& record) {
  std::optional<std::span<const uint8_t>> value;
  if (record.value) value = std::span<const uint8_t>(*record.value);
  return decode_offsets_record(record.key, value);
}

// `record` decoded and described; a failure to decode fails the test.
std::string round_trip(const offsets_record& record) {
  auto decoded = decode(record);
  EXPECT_TRUE(decoded.ok()) << decoded.error().message;
  if (!decoded) return "error";
  EXPECT_TRUE(decoded->has_value());
  return decoded->has_value() ? describe(**decoded) : "skipped";
}

template <typename T>
std::vector<uint8_t> versioned(const T& message, int16_t version) {
  base::byte_writer w;
  w.write_int16(version);
  message.encode(w, version);
  return w.take();
}

std::vector<uint8_t> concat(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

stored_group three_member_group() {
  stored_group group;
  group.protocol_type = "consumer";
  group.generation = 7;
  group.protocol = "range";
  group.leader = "m-1";
  group.current_state_timestamp_ms = 1'700'000'000'123;
  group.members = {
      {"m-1", "instance-1", "client-a", "/10.0.0.1", 300'000, 45'000, bytes_of("sub-1"),
       bytes_of("asg-1")},
      {"m-2", std::nullopt, "client-b", "/10.0.0.2", 60'000, 10'000, bytes_of("sub-2"),
       bytes_of("")},
      {"m-3", "", "", "", 1, 2, bytes_of(""), bytes_of(std::string("\0\1\2", 3))},
  };
  return group;
}

TEST(OffsetsRecords, KeysAreKafkasBytes) {
  // int16 version, then int16-prefixed strings and the int32 partition.
  EXPECT_EQ(offset_tombstone("g", "t", 3).key,
            (std::vector<uint8_t>{0, 1, 0, 1, 'g', 0, 1, 't', 0, 0, 0, 3}));
  EXPECT_EQ(group_tombstone("gr").key, (std::vector<uint8_t>{0, 2, 0, 2, 'g', 'r'}));
  EXPECT_FALSE(offset_tombstone("g", "t", 3).value.has_value());
  EXPECT_FALSE(group_tombstone("gr").value.has_value());
}

TEST(OffsetsRecords, OffsetCommitRoundTripsAsVersion3) {
  committed_offset offset{.offset = 42,
                          .leader_epoch = 5,
                          .metadata = "checkpoint",
                          .commit_timestamp_ms = 1'700'000'000'000};
  auto record = offset_commit_record("group", "orders", 11, offset);
  ASSERT_TRUE(record.value);
  // Version 3: offset, leader epoch, metadata, commit timestamp.
  ASSERT_GE(record.value->size(), 2u);
  EXPECT_EQ((*record.value)[0], 0);
  EXPECT_EQ((*record.value)[1], 3);
  EXPECT_EQ(record.value->size(), 2u + 8 + 4 + 2 + 10 + 8);
  EXPECT_EQ(round_trip(record),
            "offset group/orders/11: 42 epoch 5 'checkpoint' at 1700000000000 expires -1");

  // Defaults: no leader epoch, empty metadata.
  EXPECT_EQ(round_trip(offset_commit_record("g", "t", 0, {.offset = 0, .commit_timestamp_ms = 9})),
            "offset g/t/0: 0 epoch -1 '' at 9 expires -1");
}

TEST(OffsetsRecords, OffsetCommitWithExpireTimestampIsVersion1) {
  committed_offset offset{.offset = 7,
                          .leader_epoch = 3,
                          .metadata = "m",
                          .commit_timestamp_ms = 1000,
                          .expire_timestamp_ms = 2000};
  auto record = offset_commit_record("g", "t", 1, offset);
  ASSERT_TRUE(record.value);
  EXPECT_EQ((*record.value)[1], 1);
  // Version 1 has no leader epoch: it is lost, as in Kafka.
  EXPECT_EQ(round_trip(record), "offset g/t/1: 7 epoch -1 'm' at 1000 expires 2000");
}

TEST(OffsetsRecords, TombstonesRoundTrip) {
  EXPECT_EQ(round_trip(offset_tombstone("group", "orders", 2)), "offset group/orders/2: tombstone");
  EXPECT_EQ(round_trip(group_tombstone("group")), "group group: tombstone");
}

TEST(OffsetsRecords, GroupWithThreeMembersRoundTripsAsVersion3) {
  auto record = group_metadata_record("payments", three_member_group());
  ASSERT_TRUE(record.value);
  EXPECT_EQ((*record.value)[0], 0);
  EXPECT_EQ((*record.value)[1], 3);
  EXPECT_EQ(round_trip(record),
            "group payments: consumer generation 7 protocol range leader m-1 at 1700000000123 "
            "members [m-1 instance instance-1 client client-a host /10.0.0.1 rebalance 300000 "
            "session 45000 subscription 7375622d31 assignment 6173672d31] [m-2 instance <null> "
            "client client-b host /10.0.0.2 rebalance 60000 session 10000 subscription 7375622d32 "
            "assignment ] [m-3 instance  client  host  rebalance 1 session 2 subscription  "
            "assignment 000102]");
}

TEST(OffsetsRecords, EmptyGroupRoundTripsWithNullProtocolAndLeader) {
  stored_group group;
  group.protocol_type = "consumer";
  group.generation = 12;
  EXPECT_EQ(round_trip(group_metadata_record("idle", group)),
            "group idle: consumer generation 12 protocol <null> leader <null> at -1 members");
}

TEST(OffsetsRecords, DecodesEveryOffsetCommitValueVersion) {
  auto key = offset_tombstone("g", "t", 4).key;
  protocol::offset_commit_value value;
  value.offset = 100;
  value.leader_epoch = 9;
  value.metadata = "meta";
  value.commit_timestamp = 5000;
  value.expire_timestamp = 6000;
  // Each version keeps only its own fields.
  const std::vector<std::string> expected = {
      "offset g/t/4: 100 epoch -1 'meta' at 5000 expires -1",
      "offset g/t/4: 100 epoch -1 'meta' at 5000 expires 6000",
      "offset g/t/4: 100 epoch -1 'meta' at 5000 expires -1",
      "offset g/t/4: 100 epoch 9 'meta' at 5000 expires -1",
      "offset g/t/4: 100 epoch 9 'meta' at 5000 expires -1",
  };
  for (int16_t version = 0; version <= 4; ++version) {
    EXPECT_EQ(round_trip({key, versioned(value, version)}), expected[version]) << version;
  }
}

TEST(OffsetsRecords, DecodesEveryGroupMetadataValueVersion) {
  auto key = group_tombstone("g").key;
  protocol::group_metadata_value value;
  value.protocol_type = "consumer";
  value.generation = 2;
  value.protocol = "range";
  value.leader = std::nullopt;
  value.current_state_timestamp = 777;
  protocol::group_metadata_value::member_metadata member;
  member.member_id = "m";
  member.group_instance_id = "i";
  member.client_id = "c";
  member.client_host = "h";
  member.rebalance_timeout = 30;
  member.session_timeout = 10;
  member.subscription = bytes_of("s");
  member.assignment = bytes_of("a");
  value.members = {member};
  const std::string common = "group g: consumer generation 2 protocol range leader <null> at ";
  // Version 0 has no rebalance timeout (the session timeout stands in), 0-1
  // no state timestamp, 0-2 no instance id; 4 is flexible.
  const std::vector<std::string> expected = {
      common +
          "-1 members [m instance <null> client c host h rebalance 10 session 10 "
          "subscription 73 assignment 61]",
      common +
          "-1 members [m instance <null> client c host h rebalance 30 session 10 "
          "subscription 73 assignment 61]",
      common +
          "777 members [m instance <null> client c host h rebalance 30 session 10 "
          "subscription 73 assignment 61]",
      common +
          "777 members [m instance i client c host h rebalance 30 session 10 "
          "subscription 73 assignment 61]",
      common +
          "777 members [m instance i client c host h rebalance 30 session 10 "
          "subscription 73 assignment 61]",
  };
  for (int16_t version = 0; version <= 4; ++version) {
    EXPECT_EQ(round_trip({key, versioned(value, version)}), expected[version]) << version;
  }
}

TEST(OffsetsRecords, OffsetCommitKeyVersion0Decodes) {
  protocol::offset_commit_key key;
  key.group = "old";
  key.topic = "t";
  key.partition = 8;
  EXPECT_EQ(round_trip({versioned(key, 0), std::nullopt}), "offset old/t/8: tombstone");
}

TEST(OffsetsRecords, UnknownKeyVersionsAreSkipped) {
  // Kafka's newer record types (KIP-848 groups, share groups) use key
  // versions from 3 up; their values are not ours to read.
  for (int16_t version : {int16_t{3}, int16_t{4}, int16_t{11}, int16_t{-1}, int16_t{32767}}) {
    std::vector<uint8_t> key = {static_cast<uint8_t>(version >> 8), static_cast<uint8_t>(version),
                                0xde, 0xad};
    const std::vector<std::optional<std::vector<uint8_t>>> values = {
        std::nullopt, std::vector<uint8_t>{0xbe, 0xef}};
    for (const auto& value : values) {
      auto decoded = decode({key, value});
      ASSERT_TRUE(decoded.ok()) << version << ": " << decoded.error().message;
      EXPECT_FALSE(decoded->has_value()) << version;
    }
  }
}

TEST(OffsetsRecords, UndecodableBytesAreErrors) {
  auto good_key = offset_tombstone("g", "t", 1).key;
  auto good_value = offset_commit_record("g", "t", 1, {.offset = 1}).value.value();
  auto expect_error = [](const offsets_record& record, std::string_view what) {
    auto decoded = decode(record);
    ASSERT_FALSE(decoded.ok()) << what;
    EXPECT_NE(decoded.error().message.find(what), std::string::npos) << decoded.error().message;
  };
  expect_error({{}, std::nullopt}, "key");
  expect_error({{0}, std::nullopt}, "key");
  // Cut short and overlong keys.
  expect_error({{good_key.begin(), good_key.end() - 1}, std::nullopt}, "OffsetCommitKey");
  expect_error({concat(good_key, {0}), std::nullopt}, "1 bytes follow");
  expect_error({{0, 2, 0, 5, 'g'}, std::nullopt}, "GroupMetadataKey");
  // A null group in a key.
  expect_error({{0, 2, 0xff, 0xff}, std::nullopt}, "GroupMetadataKey");
  // Values: empty, cut short, too long, an unknown version.
  expect_error({good_key, std::vector<uint8_t>{}}, "OffsetCommitValue");
  expect_error({good_key, std::vector<uint8_t>(good_value.begin(), good_value.end() - 1)},
               "OffsetCommitValue v3");
  expect_error({good_key, concat(good_value, {1, 2})}, "2 bytes follow");
  expect_error({good_key, std::vector<uint8_t>{0, 5, 1, 2, 3}}, "unknown version 5");
  expect_error({good_key, std::vector<uint8_t>{0xff, 0xff}}, "unknown version -1");
  auto group_key = group_tombstone("g").key;
  auto group_value = group_metadata_record("g", three_member_group()).value.value();
  expect_error({group_key, std::vector<uint8_t>(group_value.begin(), group_value.end() - 3)},
               "GroupMetadataValue v3");
  expect_error({group_key, good_value}, "GroupMetadataValue");
}

TEST(OffsetsRecords, RandomBytesNeverCrash) {
  std::mt19937 random(20240601);
  auto group_value = group_metadata_record("g", three_member_group()).value.value();
  for (int i = 0; i < 5000; ++i) {
    // Valid prefixes with random corruption, so decoding gets past the version.
    std::vector<uint8_t> key = i % 2 ? offset_tombstone("g", "t", 1).key : group_tombstone("g").key;
    std::vector<uint8_t> value =
        i % 2 ? offset_commit_record("g", "t", 1, {}).value.value() : group_value;
    for (auto* bytes : {&key, &value}) {
      const size_t flips = random() % 4;
      for (size_t f = 0; f < flips && !bytes->empty(); ++f) {
        (*bytes)[random() % bytes->size()] = static_cast<uint8_t>(random());
      }
      bytes->resize(random() % (bytes->size() + 4));
    }
    // Only that it returns: a result either way, no crash, no over-read.
    (void)decode({key, value});
  }
}

TEST(OffsetsRecords, BatchNeedsARecord) {
  auto batch = offsets_batch({}, 1000);
  EXPECT_FALSE(batch.ok());
}

TEST(OffsetsRecords, BatchHoldsTheRecordsInOrder) {
  std::vector<offsets_record> records = {
      offset_commit_record("g", "t", 0, {.offset = 5, .commit_timestamp_ms = 10}),
      offset_tombstone("g", "t", 1),
      group_tombstone("g"),
  };
  auto built = offsets_batch(records, 123'456);
  ASSERT_TRUE(built.ok()) << built.error().message;
  auto batch = protocol::record_batch::parse(base::shared_bytes(std::move(*built)));
  ASSERT_TRUE(batch.ok()) << batch.error().message;
  const protocol::batch_header& header = batch->header();
  EXPECT_TRUE(verify_crc(*batch).ok());
  EXPECT_EQ(header.codec(), protocol::compression::none);
  EXPECT_EQ(header.ts_type(), protocol::timestamp_type::create_time);
  EXPECT_EQ(header.producer_id, -1);
  EXPECT_FALSE(header.is_transactional());
  EXPECT_FALSE(header.is_control());
  EXPECT_EQ(header.max_timestamp, 123'456);
  auto decoded = protocol::decode_records(*batch, 0);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  ASSERT_EQ(decoded->size(), 3u);
  for (size_t i = 0; i < records.size(); ++i) {
    const protocol::record& r = (*decoded)[i];
    EXPECT_EQ(r.timestamp(header), 123'456);
    ASSERT_TRUE(r.key);
    EXPECT_EQ(std::vector<uint8_t>(r.key->begin(), r.key->end()), records[i].key);
    ASSERT_EQ(r.value.has_value(), records[i].value.has_value()) << i;
    if (r.value) {
      EXPECT_EQ(std::vector<uint8_t>(r.value->begin(), r.value->end()), *records[i].value);
    }
  }
}

// ---------------------------------------------------------------------------
// Replaying a partition of __consumer_offsets.

const std::string dir = "/data/__consumer_offsets-7";

class OffsetsLogReplay : public ::testing::Test {
 protected:
  std::unique_ptr<storage::partition_log> open_log(uint64_t segment_bytes = 1 << 20) {
    storage::log_open_options options;
    options.config.segment_bytes = segment_bytes;
    options.clock = [] { return int64_t{1'000'000}; };
    auto opened = storage::partition_log::open(fs, dir, options);
    EXPECT_TRUE(opened.ok()) << opened.error().message;
    return opened.ok() ? std::move(*opened) : nullptr;
  }

  // Appends `records` as one batch built by `options` and expects them back
  // from the replay.
  void append(storage::partition_log& log, const std::vector<offsets_record>& records,
              const protocol::batch_options& options = {}) {
    protocol::record_batch_builder builder(options);
    for (const offsets_record& record : records) {
      protocol::optional_bytes value;
      if (record.value) value = std::span<const uint8_t>(*record.value);
      builder.add(2000, std::span<const uint8_t>(record.key), value);
    }
    auto built = builder.build();
    ASSERT_TRUE(built.ok()) << built.error().message;
    append_bytes(log, *built);
    for (const offsets_record& record : records) expected.push_back(round_trip(record));
  }

  static void append_bytes(storage::partition_log& log, std::vector<uint8_t> bytes) {
    auto appended = log.append(bytes);
    ASSERT_TRUE(appended.ok()) << appended.error().message;
  }

  std::vector<std::string> replay(storage::partition_log& log) {
    std::vector<std::string> seen;
    auto replayed = replay_offsets_log(
        log, [&seen](offsets_entry&& entry) { seen.push_back(describe(entry)); });
    EXPECT_TRUE(replayed.ok()) << replayed.error().message;
    return seen;
  }

  fault_injecting_file_system fs;
  std::vector<std::string> expected;
};

TEST_F(OffsetsLogReplay, EmptyLogReplaysNothing) {
  auto log = open_log();
  EXPECT_TRUE(replay(*log).empty());
}

TEST_F(OffsetsLogReplay, ReplaysBatchesFromOffsetsBatchInOrder) {
  auto log = open_log();
  std::vector<offsets_record> first = {
      group_metadata_record("g1", three_member_group()),
      offset_commit_record("g1", "orders", 0, {.offset = 10, .commit_timestamp_ms = 1}),
      offset_commit_record("g1", "orders", 1,
                           {.offset = 20,
                            .leader_epoch = 2,
                            .metadata = "x",
                            .commit_timestamp_ms = 1,
                            .expire_timestamp_ms = 99}),
  };
  std::vector<offsets_record> second = {
      offset_tombstone("g1", "orders", 0),
      offset_commit_record("g2", "payments", 3, {.offset = 30, .commit_timestamp_ms = 2}),
      group_tombstone("g1"),
  };
  for (const auto* records : {&first, &second}) {
    auto batch = offsets_batch(*records, 5000);
    ASSERT_TRUE(batch.ok()) << batch.error().message;
    append_bytes(*log, std::move(*batch));
    for (const offsets_record& record : *records) expected.push_back(round_trip(record));
  }
  EXPECT_EQ(replay(*log), expected);
}

TEST_F(OffsetsLogReplay, ReplaysGzipCompressedBatches) {
  auto log = open_log();
  append(*log, {offset_commit_record("g", "t", 0, {.offset = 1, .commit_timestamp_ms = 1})});
  protocol::batch_options gzip;
  gzip.codec = protocol::compression::gzip;
  append(*log,
         {group_metadata_record("g", three_member_group()),
          offset_commit_record("g", "t", 1, {.offset = 2, .metadata = std::string(500, 'm')}),
          offset_tombstone("g", "t", 0)},
         gzip);
  append(*log, {group_tombstone("g")});
  EXPECT_EQ(replay(*log), expected);
}

TEST_F(OffsetsLogReplay, ReplaysAcrossSegments) {
  // Segments of about two batches each: the replay reads several times.
  auto log = open_log(400);
  for (int i = 0; i < 12; ++i) {
    append(*log, {offset_commit_record("g", "t", i, {.offset = i, .commit_timestamp_ms = i})});
  }
  ASSERT_GT(log->segment_count(), 3u);
  EXPECT_EQ(replay(*log), expected);
}

TEST_F(OffsetsLogReplay, SkipsControlBatchesAndUndecodableRecords) {
  auto log = open_log();
  append(*log, {offset_commit_record("g", "t", 0, {.offset = 1})});
  // A control batch is skipped whatever it holds, even a record that would
  // decode.
  protocol::batch_options control;
  control.control = true;
  control.transactional = true;
  control.producer_id = 5;
  control.producer_epoch = 0;
  protocol::record_batch_builder marker(control);
  auto looks_valid = offset_commit_record("hidden", "t", 0, {.offset = 666});
  marker.add(2000, std::span<const uint8_t>(looks_valid.key),
             std::span<const uint8_t>(*looks_valid.value));
  auto marker_batch = marker.build();
  ASSERT_TRUE(marker_batch.ok());
  append_bytes(*log, std::move(*marker_batch));

  // A batch mixing good records with a garbage one, a keyless one and one of
  // an unknown key version: the good ones still come through.
  protocol::record_batch_builder mixed;
  auto good = offset_commit_record("g", "t", 1, {.offset = 2});
  const std::vector<uint8_t> garbage_key = {0, 1, 0xff};
  const std::vector<uint8_t> unknown_key = {0, 9, 1, 2, 3};
  const std::vector<uint8_t> value = {1, 2, 3};
  mixed.add(2000, std::span<const uint8_t>(garbage_key), std::span<const uint8_t>(value));
  mixed.add(2000, std::nullopt, std::span<const uint8_t>(value));
  mixed.add(2000, std::span<const uint8_t>(unknown_key), std::span<const uint8_t>(value));
  mixed.add(2000, std::span<const uint8_t>(good.key), std::span<const uint8_t>(*good.value));
  auto mixed_batch = mixed.build();
  ASSERT_TRUE(mixed_batch.ok());
  append_bytes(*log, std::move(*mixed_batch));
  expected.push_back(round_trip(good));

  append(*log, {group_tombstone("g")});
  EXPECT_EQ(replay(*log), expected);
}

TEST_F(OffsetsLogReplay, StartsAtTheLogStartOffset) {
  auto log = open_log();
  append(*log, {offset_commit_record("g", "t", 0, {.offset = 1})});
  expected.clear();
  append(*log, {offset_commit_record("g", "t", 1, {.offset = 2})});
  ASSERT_TRUE(log->advance_log_start_offset(1).ok());
  EXPECT_EQ(replay(*log), expected);
}

}  // namespace
}  // namespace sluice::coordinator
