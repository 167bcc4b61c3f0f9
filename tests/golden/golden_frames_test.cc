// Decodes the request frames captured from real Kafka clients (README.md).
//
// Every fixture must parse, decode with no byte left over, and re-encode to
// exactly the bytes the client sent: the generated codec is then right for
// every field those clients fill in, at the versions they really use. The
// targeted tests below check that the fixtures are what their scenarios say.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <tuple>
#include <vector>

#include "protocol/all_messages.h"
#include "protocol/frame.h"

namespace sluice::protocol {
namespace {

std::filesystem::path frames_dir() { return SLUICE_GOLDEN_FRAMES_DIR; }
const char* const clients[] = {"kcat", "confluent_kafka", "kafka_python", "kafkajs"};

struct fixture {
  std::string client;  // the directory under frames/
  std::string file;    // NNNN-<ApiName>-v<version>.bin
  int sequence = 0;
  std::string api_name;
  int16_t version = 0;
  base::shared_bytes frame;  // without the size prefix
};

std::string path_of(const fixture& f) { return f.client + "/" + f.file; }

// Reads NNNN-<ApiName>-v<version>.bin into `f`.
bool parse_file_name(const std::string& name, fixture& f) {
  char api_name[64];
  int sequence = 0;
  int version = 0;
  int length = 0;
  bool matched = std::sscanf(name.c_str(), "%4d-%63[A-Za-z]-v%d.bin%n", &sequence, api_name,
                             &version, &length) == 3 &&
                 static_cast<size_t>(length) == name.size();
  if (!matched) return false;
  f.file = name;
  f.sequence = sequence;
  f.api_name = api_name;
  f.version = static_cast<int16_t>(version);
  return true;
}

// Every fixture, by client and then in capture order.
std::vector<fixture> load_fixtures() {
  std::vector<fixture> out;
  for (const char* client : clients) {
    if (!std::filesystem::is_directory(frames_dir() / client)) continue;
    for (const auto& entry : std::filesystem::directory_iterator(frames_dir() / client)) {
      fixture f;
      f.client = client;
      if (!parse_file_name(entry.path().filename().string(), f)) {
        ADD_FAILURE() << "unexpected file " << entry.path();
        continue;
      }
      std::ifstream in(entry.path(), std::ios::binary);
      f.frame = base::shared_bytes(std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {}));
      out.push_back(std::move(f));
    }
  }
  std::sort(out.begin(), out.end(), [](const fixture& a, const fixture& b) {
    return std::tie(a.client, a.sequence) < std::tie(b.client, b.sequence);
  });
  return out;
}

const std::vector<fixture>& fixtures() {
  static const std::vector<fixture> all = load_fixtures();
  return all;
}

std::string hex(std::span<const uint8_t> bytes) {
  std::string out;
  char byte[4];
  for (uint8_t b : bytes) {
    std::snprintf(byte, sizeof byte, "%02x ", b);
    out += byte;
  }
  return out;
}

// Empty if equal; otherwise where the bytes first differ, with a few around it.
std::string difference(std::span<const uint8_t> expected, std::span<const uint8_t> actual) {
  if (std::ranges::equal(expected, actual)) return "";
  auto at = static_cast<size_t>(std::ranges::mismatch(expected, actual).in1 - expected.begin());
  size_t from = at < 8 ? 0 : at - 8;
  auto window = [from](std::span<const uint8_t> bytes) {
    size_t begin = std::min(from, bytes.size());
    return hex(bytes.subspan(begin, std::min<size_t>(24, bytes.size() - begin)));
  };
  return "sizes " + std::to_string(expected.size()) + " (sent) vs " +
         std::to_string(actual.size()) + " (re-encoded); first difference at byte " +
         std::to_string(at) + "; from byte " + std::to_string(from) + ": sent " + window(expected) +
         "| re-encoded " + window(actual);
}

template <typename Request>
void check_body_round_trip(const base::shared_bytes& body, int16_t version) {
  auto decoded = decode_body<Request>(body, version);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  // decode_body ignores trailing bytes, as Kafka does; a client's frame has none.
  base::byte_reader reader(body);
  Request again;
  again.decode(reader, version);
  EXPECT_EQ(reader.remaining(), 0u) << "body bytes left over after decoding";
  base::byte_writer writer;
  decoded->encode(writer, version);
  EXPECT_EQ(difference(body.span(), writer.buffer()), "") << "body";
}

TEST(GoldenFrames, EveryClientHasFixtures) {
  for (const char* client : clients) {
    EXPECT_TRUE(
        std::ranges::any_of(fixtures(), [&](const fixture& f) { return f.client == client; }))
        << "no fixtures in " << (frames_dir() / client);
  }
}

// The header and the body, each decoded and encoded again.
void check_round_trip(const fixture& f) {
  auto parsed = parse_request(f.frame);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->api->name, f.api_name);
  EXPECT_EQ(parsed->header.request_api_version, f.version);
  ASSERT_TRUE(parsed->version_supported);

  base::byte_writer header;
  parsed->header.encode(header, request_header_version(parsed->api->key, f.version));
  size_t header_size = f.frame.size() - parsed->body.size();
  EXPECT_EQ(difference(f.frame.span().first(header_size), header.buffer()), "") << "header";

  bool known = visit_api(parsed->header.request_api_key, [&](auto request, auto) {
    check_body_round_trip<typename decltype(request)::type>(parsed->body, f.version);
  });
  EXPECT_TRUE(known);
}

TEST(GoldenFrames, EveryFrameDecodesAndReencodesExactly) {
  for (const fixture& f : fixtures()) {
    SCOPED_TRACE(path_of(f));
    check_round_trip(f);
  }
}

// ---------------------------------------------------------------- what the fixtures are

struct captured {
  int sequence;
  parsed_request request;
};

// The frames `client_id` sent for `key`, in capture order.
std::vector<captured> sent(const std::string& client, const std::string& client_id, api_key key) {
  std::vector<captured> out;
  for (const fixture& f : fixtures()) {
    if (f.client != client) continue;
    auto parsed = parse_request(f.frame);
    if (parsed.ok() && parsed->api->key == key && parsed->header.client_id == client_id) {
      out.push_back({f.sequence, *parsed});
    }
  }
  return out;
}

template <typename Request>
Request decode(const captured& frame) {
  auto decoded = decode_body<Request>(frame.request.body, frame.request.header.request_api_version);
  EXPECT_TRUE(decoded.ok()) << decoded.error().message;
  return decoded.ok() ? *decoded : Request{};
}

// The client's request at `index` in capture order, parsed.
base::result<parsed_request, protocol_error> nth_request(const std::string& client, size_t index) {
  for (const fixture& f : fixtures()) {
    if (f.client == client && index-- == 0) return parse_request(f.frame);
  }
  return base::unexpected{protocol_error{protocol_error::kind::malformed_header,
                                         "fewer fixtures than expected for " + client}};
}

TEST(GoldenFrames, LibrdkafkaOpensWithApiVersionsV3NamingItself) {
  struct expectation {
    const char* client;
    const char* software_name;
    const char* software_version;
  };
  for (auto [client, software_name, software_version] :
       {expectation{"kcat", "librdkafka", "2.0.2"},
        expectation{"confluent_kafka", "confluent-kafka-python", "1.7.0-rdkafka-2.0.2"}}) {
    SCOPED_TRACE(client);
    auto parsed = nth_request(client, 0);
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    EXPECT_EQ(parsed->api->key, api_key::api_versions);
    EXPECT_EQ(parsed->header.request_api_version, 3);
    auto body = decode_body<api_versions_request>(parsed->body, 3);
    ASSERT_TRUE(body.ok());
    EXPECT_EQ(body->client_software_name, software_name);
    EXPECT_EQ(body->client_software_version, software_version);
  }
}

TEST(GoldenFrames, KafkaPythonProbesWithApiVersionsV0ThenMetadataV0) {
  auto probe = nth_request("kafka_python", 0);
  auto metadata = nth_request("kafka_python", 1);
  ASSERT_TRUE(probe.ok() && metadata.ok());
  EXPECT_EQ(probe->api->key, api_key::api_versions);
  EXPECT_EQ(probe->header.request_api_version, 0);
  EXPECT_EQ(metadata->api->key, api_key::metadata);
  EXPECT_EQ(metadata->header.request_api_version, 0);
  // The probe asks for every topic, which v0 writes as an empty array.
  auto body = decode_body<metadata_request>(metadata->body, 0);
  ASSERT_TRUE(body.ok());
  ASSERT_TRUE(body->topics.has_value());
  EXPECT_TRUE(body->topics->empty());
}

TEST(GoldenFrames, KafkajsOpensWithApiVersionsV2) {
  auto parsed = nth_request("kafkajs", 0);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->api->key, api_key::api_versions);
  EXPECT_EQ(parsed->header.request_api_version, 2);
}

// The fixed header of a magic-2 record batch (CLIENTS.md §6.4), read straight
// from the bytes.
struct batch_header {
  int8_t magic = 0;         // offset 16
  int16_t attributes = 0;   // offset 21; bits 0-2 are the codec
  int64_t producer_id = 0;  // offset 43
  int16_t producer_epoch = 0;
  int32_t base_sequence = 0;
  int32_t record_count = 0;
};

std::vector<batch_header> batch_headers(const base::shared_bytes& records) {
  std::vector<batch_header> out;
  base::byte_reader r(records);
  while (r.ok() && r.remaining() > 0) {
    r.skip(8);  // base offset
    int32_t length = r.read_int32();
    base::byte_reader batch(r.read_bytes(static_cast<size_t>(std::max(length, 0))));
    batch_header h;
    batch.skip(4);  // partition leader epoch
    h.magic = batch.read_int8();
    batch.skip(4);  // crc
    h.attributes = batch.read_int16();
    batch.skip(4 + 8 + 8);  // last offset delta, base and max timestamps
    h.producer_id = batch.read_int64();
    h.producer_epoch = batch.read_int16();
    h.base_sequence = batch.read_int32();
    h.record_count = batch.read_int32();
    EXPECT_TRUE(r.ok() && batch.ok()) << "truncated record batch";
    out.push_back(h);
  }
  return out;
}

// Every batch `client_id` produced.
std::vector<batch_header> produced(const std::string& client, const std::string& client_id) {
  std::vector<batch_header> out;
  for (const captured& frame : sent(client, client_id, api_key::produce)) {
    for (const auto& topic : decode<produce_request>(frame).topic_data) {
      for (const auto& partition : topic.partition_data) {
        if (!partition.records) continue;
        auto batches = batch_headers(*partition.records);
        out.insert(out.end(), batches.begin(), batches.end());
      }
    }
  }
  return out;
}

TEST(GoldenFrames, EachProducerRunUsesItsCodec) {
  enum codec : int16_t { none, gzip, snappy, lz4, zstd };
  struct run {
    const char* client;
    const char* client_id;
    codec expected;
  };
  const run runs[] = {
      {"kcat", "kcat-produce-none", none},          {"kcat", "kcat-produce-gzip", gzip},
      {"kcat", "kcat-produce-snappy", snappy},      {"kcat", "kcat-produce-lz4", lz4},
      {"kcat", "kcat-produce-zstd", zstd},          {"confluent_kafka", "ck-produce-gzip", gzip},
      {"kafka_python", "kp-produce-default", none}, {"kafka_python", "kp-produce-gzip", gzip},
      {"kafkajs", "kjs-produce-none", none},        {"kafkajs", "kjs-produce-gzip", gzip},
  };
  for (const run& r : runs) {
    SCOPED_TRACE(r.client_id);
    auto batches = produced(r.client, r.client_id);
    ASSERT_FALSE(batches.empty()) << "no Produce request";
    for (const batch_header& batch : batches) {
      EXPECT_EQ(batch.magic, 2);
      EXPECT_EQ(batch.attributes & 0x7, r.expected);
      EXPECT_EQ(batch.producer_id, -1) << "not an idempotent producer";
      EXPECT_GT(batch.record_count, 0);
    }
  }
}

TEST(GoldenFrames, IdempotentProducersGetAProducerIdBeforeProducing) {
  const std::pair<const char*, const char*> producers[] = {
      {"kcat", "kcat-produce-idempotent"},
      {"confluent_kafka", "ck-produce-idempotent"},
      {"kafkajs", "kjs-produce-idempotent"},
  };
  for (auto [client, client_id] : producers) {
    SCOPED_TRACE(client_id);
    auto init = sent(client, client_id, api_key::init_producer_id);
    auto produce = sent(client, client_id, api_key::produce);
    ASSERT_FALSE(init.empty()) << "no InitProducerId";
    ASSERT_FALSE(produce.empty()) << "no Produce";
    EXPECT_LT(init.front().sequence, produce.front().sequence);
    // Not transactional: no transactional id, in either request.
    EXPECT_EQ(decode<init_producer_id_request>(init.front()).transactional_id, std::nullopt);
    EXPECT_EQ(decode<produce_request>(produce.front()).transactional_id, std::nullopt);
    auto batches = produced(client, client_id);
    ASSERT_FALSE(batches.empty());
    for (const batch_header& batch : batches) {
      EXPECT_EQ(batch.magic, 2);
      EXPECT_GE(batch.producer_id, 0);
      EXPECT_GE(batch.producer_epoch, 0);
      EXPECT_GE(batch.base_sequence, 0);
    }
  }
}

TEST(GoldenFrames, GroupConsumersFindJoinSyncAndCommit) {
  struct consumer {
    const char* client;
    const char* client_id;
    const char* group;
  };
  const consumer consumers[] = {
      {"confluent_kafka", "ck-consume-group", "ck-group"},
      {"kafka_python", "kp-consume-group", "kp-group"},
      {"kafkajs", "kjs-consume-group", "kjs-group"},
  };
  for (const consumer& c : consumers) {
    SCOPED_TRACE(c.client_id);
    auto find = sent(c.client, c.client_id, api_key::find_coordinator);
    auto join = sent(c.client, c.client_id, api_key::join_group);
    auto sync = sent(c.client, c.client_id, api_key::sync_group);
    auto commit = sent(c.client, c.client_id, api_key::offset_commit);
    ASSERT_FALSE(find.empty() || join.empty() || sync.empty() || commit.empty())
        << "FindCoordinator " << find.size() << ", JoinGroup " << join.size() << ", SyncGroup "
        << sync.size() << ", OffsetCommit " << commit.size();
    EXPECT_LT(find.front().sequence, join.front().sequence);
    EXPECT_LT(join.front().sequence, sync.front().sequence);
    EXPECT_LT(sync.front().sequence, commit.front().sequence);

    EXPECT_EQ(decode<find_coordinator_request>(find.front()).key, c.group);
    auto joined = decode<join_group_request>(join.front());
    EXPECT_EQ(joined.group_id, c.group);
    EXPECT_EQ(joined.protocol_type, "consumer");
    ASSERT_FALSE(joined.protocols.empty());
    EXPECT_EQ(decode<sync_group_request>(sync.front()).group_id, c.group);

    auto committed = decode<offset_commit_request>(commit.front());
    EXPECT_EQ(committed.group_id, c.group);
    EXPECT_GE(committed.generation_id_or_member_epoch, 1);
    ASSERT_EQ(committed.topics.size(), 1u);
    EXPECT_EQ(committed.topics[0].name, "golden");
    ASSERT_EQ(committed.topics[0].partitions.size(), 1u);
    EXPECT_GT(committed.topics[0].partitions[0].committed_offset, 0);
  }
}

// JoinGroup v4+: a member without an id is given one (MEMBER_ID_REQUIRED) and joins again.
TEST(GoldenFrames, JoinGroupV5RejoinsWithTheMemberIdItWasGiven) {
  const std::pair<const char*, const char*> consumers[] = {
      {"confluent_kafka", "ck-consume-group"},
      {"kafkajs", "kjs-consume-group"},
  };
  for (auto [client, client_id] : consumers) {
    SCOPED_TRACE(client_id);
    auto join = sent(client, client_id, api_key::join_group);
    ASSERT_GE(join.size(), 2u);
    EXPECT_EQ(join[0].request.header.request_api_version, 5);
    EXPECT_EQ(decode<join_group_request>(join[0]).member_id, "");
    EXPECT_NE(decode<join_group_request>(join[1]).member_id, "");
  }
}

TEST(GoldenFrames, AdminClientsCreateAndDeleteTheirTopic) {
  struct admin {
    const char* client;
    const char* client_id;
    const char* topic;
  };
  const admin admins[] = {
      {"confluent_kafka", "ck-admin", "ck-admin-topic"},
      {"kafka_python", "kp-admin", "kp-admin-topic"},
      {"kafkajs", "kjs-admin", "kjs-admin-topic"},
  };
  for (const admin& a : admins) {
    SCOPED_TRACE(a.client_id);
    auto create = sent(a.client, a.client_id, api_key::create_topics);
    auto remove = sent(a.client, a.client_id, api_key::delete_topics);
    ASSERT_EQ(create.size(), 1u);
    ASSERT_EQ(remove.size(), 1u);
    auto created = decode<create_topics_request>(create.front());
    ASSERT_EQ(created.topics.size(), 1u);
    EXPECT_EQ(created.topics[0].name, a.topic);
    EXPECT_EQ(created.topics[0].num_partitions, 1);
    EXPECT_EQ(decode<delete_topics_request>(remove.front()).topic_names,
              std::vector<std::string>{a.topic});
  }
}

}  // namespace
}  // namespace sluice::protocol
