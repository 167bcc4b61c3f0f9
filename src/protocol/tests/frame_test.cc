#include "protocol/frame.h"

#include <gtest/gtest.h>

#include "protocol/error_code.h"
#include "protocol/messages/api_versions.h"
#include "protocol/messages/fetch.h"
#include "protocol/messages/metadata.h"
#include "protocol/messages/produce.h"

namespace sluice::protocol {
namespace {

base::shared_bytes without_size(std::vector<uint8_t> frame) {
  return base::shared_bytes(std::vector<uint8_t>(frame.begin() + 4, frame.end()));
}

std::vector<uint8_t> bytes(std::initializer_list<int> values) {
  std::vector<uint8_t> out;
  for (int v : values) out.push_back(static_cast<uint8_t>(v));
  return out;
}

TEST(Frame, SizeIsCheckedBeforeAllocating) {
  const uint8_t ok[4] = {0, 0, 1, 0};
  const uint8_t negative[4] = {0xff, 0xff, 0xff, 0xfe};
  const uint8_t huge[4] = {0x7f, 0xff, 0xff, 0xff};
  EXPECT_EQ(*parse_frame_size(ok, default_max_frame_size), 256);
  EXPECT_EQ(parse_frame_size(negative, default_max_frame_size).error().what,
            protocol_error::kind::invalid_frame_size);
  auto too_large = parse_frame_size(huge, default_max_frame_size);
  ASSERT_FALSE(too_large.ok());
  EXPECT_NE(too_large.error().message.find("socket.request.max.bytes"), std::string::npos);
}

TEST(Frame, RequestHeaderV1ForClassicVersions) {
  metadata_request request;
  request.topics.emplace();  // v1+: an empty (not null) array means "no topics"
  auto frame = encode_request_frame(request, 1, 42, "kcat");
  // size, api key 3, version 1, correlation id 42, client id "kcat" (int16 length)
  EXPECT_EQ(std::vector<uint8_t>(frame.begin(), frame.begin() + 18),
            bytes({0, 0, 0, 18, 0, 3, 0, 1, 0, 0, 0, 42, 0, 4, 'k', 'c', 'a', 't'}));
  auto parsed = parse_request(without_size(frame));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->header.correlation_id, 42);
  EXPECT_EQ(parsed->header.client_id, "kcat");
  EXPECT_EQ(parsed->api->key, api_key::metadata);
  auto body = decode_body<metadata_request>(parsed->body, 1);
  ASSERT_TRUE(body.ok());
  EXPECT_TRUE(body->topics.has_value());
  EXPECT_TRUE(body->topics->empty());
}

TEST(Frame, RequestHeaderV2KeepsAClassicClientIdAndAddsTags) {
  api_versions_request request;
  request.client_software_name = "librdkafka";
  request.client_software_version = "2.0.2";
  auto frame = encode_request_frame(request, 3, 1, std::nullopt);
  // header: key 18, version 3, correlation 1, null client id as int16 -1, empty tag section
  EXPECT_EQ(std::vector<uint8_t>(frame.begin() + 4, frame.begin() + 15),
            bytes({0, 18, 0, 3, 0, 0, 0, 1, 0xff, 0xff, 0}));
  // body: compact strings (length + 1), then the body's own empty tag section
  EXPECT_EQ(frame[15], 11);
  EXPECT_EQ(frame.back(), 0);
  auto parsed = parse_request(without_size(frame));
  ASSERT_TRUE(parsed.ok());
  EXPECT_FALSE(parsed->header.client_id.has_value());
  auto body = decode_body<api_versions_request>(parsed->body, 3);
  ASSERT_TRUE(body.ok());
  EXPECT_EQ(body->client_software_name, "librdkafka");
}

TEST(Frame, UnknownApiKeysAndVersionsAreErrors) {
  auto unknown_key =
      parse_request(base::shared_bytes(bytes({0x7f, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff})));
  EXPECT_EQ(unknown_key.error().what, protocol_error::kind::unknown_api_key);
  auto produce_v99 =
      parse_request(base::shared_bytes(bytes({0, 0, 0, 99, 0, 0, 0, 1, 0xff, 0xff})));
  EXPECT_EQ(produce_v99.error().what, protocol_error::kind::unsupported_version);
  auto truncated = parse_request(base::shared_bytes(bytes({0, 18, 0})));
  EXPECT_EQ(truncated.error().what, protocol_error::kind::malformed_header);
  // v2 header whose tag section is cut off
  auto cut = parse_request(base::shared_bytes(bytes({0, 18, 0, 3, 0, 0, 0, 1, 0xff, 0xff})));
  EXPECT_EQ(cut.error().what, protocol_error::kind::malformed_header);
}

TEST(Frame, FutureApiVersionsRequestIsParsedNotRejected) {
  // ApiVersions v99 from a newer client: header v2, body not understood.
  auto parsed = parse_request(
      base::shared_bytes(bytes({0, 18, 0, 99, 0, 0, 0, 7, 0, 1, 'x', 0, 0x55, 0x66})));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_FALSE(parsed->version_supported);
  EXPECT_EQ(parsed->header.correlation_id, 7);
  EXPECT_EQ(parsed->header.client_id, "x");
}

TEST(Frame, UnsupportedApiVersionsAnswerIsV0WithOneEntry) {
  auto frame = encode_unsupported_api_versions_frame(7, 0, 4);
  // size 16; header v0 (correlation id only); error 35; array of one (int32 count); 18 [0,4]
  EXPECT_EQ(frame, bytes({0, 0, 0, 16, 0, 0, 0, 7, 0, 35, 0, 0, 0, 1, 0, 18, 0, 0, 0, 4}));
}

TEST(Frame, ApiVersionsResponsesAlwaysUseHeaderV0) {
  EXPECT_EQ(response_header_version(api_key::api_versions, 3), 0);
  EXPECT_EQ(response_header_version(api_key::metadata, 9), 1);
  EXPECT_EQ(response_header_version(api_key::metadata, 8), 0);
  EXPECT_EQ(request_header_version(api_key::produce, 9), 2);
  EXPECT_EQ(request_header_version(api_key::produce, 8), 1);

  api_versions_response response;
  response.api_keys.push_back({});
  auto frame = encode_response_frame(response, 3, 9);
  // correlation id then straight into the body: no header tag byte
  EXPECT_EQ(std::vector<uint8_t>(frame.begin() + 4, frame.begin() + 10), bytes({0, 0, 0, 9, 0, 0}));
}

// A gathered frame, its splices put back in place, is the copied frame byte
// for byte, at a classic and a flexible version.
TEST(Frame, GatheredResponseEqualsTheCopiedOne) {
  fetch_response response;
  auto& topic = response.responses.emplace_back();
  topic.topic = "t";
  for (int p = 0; p < 3; ++p) {
    auto& partition = topic.partitions.emplace_back();
    partition.partition_index = p;
    // 5000 bytes are spliced, 100 copied.
    partition.records =
        base::shared_bytes(std::vector<uint8_t>(p == 1 ? 100 : 5000, static_cast<uint8_t>(p)));
  }
  for (int16_t version : {int16_t{4}, int16_t{12}}) {
    auto copied = encode_response_frame(response, version, 7);
    auto gathered = encode_gathered_response_frame(response, version, 7, 4096);
    ASSERT_EQ(gathered.splices.size(), 2u);
    std::vector<uint8_t> joined;
    size_t from = 0;
    for (const auto& splice : gathered.splices) {
      joined.insert(joined.end(), gathered.bytes.begin() + static_cast<ptrdiff_t>(from),
                    gathered.bytes.begin() + static_cast<ptrdiff_t>(splice.at));
      joined.insert(joined.end(), splice.bytes.data(), splice.bytes.data() + splice.bytes.size());
      from = splice.at;
    }
    joined.insert(joined.end(), gathered.bytes.begin() + static_cast<ptrdiff_t>(from),
                  gathered.bytes.end());
    EXPECT_EQ(joined, copied) << "v" << version;
  }
}

TEST(Messages, NullAndEmptyDifferInCompactEncoding) {
  produce_request request;
  request.transactional_id = std::nullopt;
  base::byte_writer null_writer;
  request.encode(null_writer, 9);
  request.transactional_id = "";
  base::byte_writer empty_writer;
  request.encode(empty_writer, 9);
  EXPECT_EQ(null_writer.buffer()[0], 0);
  EXPECT_EQ(empty_writer.buffer()[0], 1);
  // classic: int16 -1 vs 0
  base::byte_writer classic;
  request.transactional_id = std::nullopt;
  request.encode(classic, 3);
  EXPECT_EQ(classic.buffer()[0], 0xff);
  EXPECT_EQ(classic.buffer()[1], 0xff);
}

TEST(Messages, TaggedFieldsAreWrittenOnlyWhenNotDefault) {
  fetch_response::partition_data partition;
  base::byte_writer plain;
  partition.encode(plain, 12);
  EXPECT_EQ(plain.buffer().back(), 0);  // empty tag section

  partition.current_leader.leader_id = 3;
  partition.current_leader.leader_epoch = 5;
  base::byte_writer tagged;
  partition.encode(tagged, 12);
  // one tagged field: tag 1, size 9 (two int32 + the struct's own empty tag section)
  std::vector<uint8_t> tail(tagged.buffer().end() - 12, tagged.buffer().end());
  EXPECT_EQ(tail, bytes({1, 1, 9, 0, 0, 0, 3, 0, 0, 0, 5, 0}));

  base::byte_reader reader{base::shared_bytes(tagged.take())};
  fetch_response::partition_data decoded;
  decoded.decode(reader, 12);
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(decoded.current_leader.leader_id, 3);
  // In v11 (not flexible) the field does not exist: it does not survive a round trip.
  base::byte_writer classic;
  partition.encode(classic, 11);
  base::byte_reader classic_reader{base::shared_bytes(classic.take())};
  fetch_response::partition_data old;
  old.decode(classic_reader, 11);
  ASSERT_TRUE(classic_reader.ok());
  EXPECT_EQ(old.current_leader.leader_id, -1);
}

TEST(Messages, UnknownTaggedFieldsArePreserved) {
  metadata_request request;
  request.unknown_tags.push_back({77, base::shared_bytes::copy_of(std::string_view("hi"))});
  base::byte_writer w;
  request.encode(w, 9);
  base::byte_reader reader{base::shared_bytes(w.take())};
  metadata_request decoded;
  decoded.decode(reader, 9);
  ASSERT_TRUE(reader.ok());
  ASSERT_EQ(decoded.unknown_tags.size(), 1u);
  EXPECT_EQ(decoded.unknown_tags[0].tag, 77u);
  EXPECT_EQ(decoded.unknown_tags[0].data.as_string_view(), "hi");
}

// Found by message_body_fuzz: the largest tag number was dropped on re-encoding.
TEST(Messages, UnknownTagsUpToTheLargestTagNumberArePreserved) {
  fetch_response::partition_data partition;
  partition.current_leader.leader_id = 1;  // a known tag (1) to merge with
  partition.unknown_tags.push_back(
      {0xffffffff, base::shared_bytes::copy_of(std::string_view("x"))});
  base::byte_writer w;
  partition.encode(w, 12);
  base::byte_reader reader{base::shared_bytes(w.take())};
  fetch_response::partition_data decoded;
  decoded.decode(reader, 12);
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(reader.remaining(), 0u);
  EXPECT_TRUE(decoded == partition);

  metadata_request request;
  request.unknown_tags.push_back({0xffffffff, {}});
  base::byte_writer plain;
  request.encode(plain, 9);
  base::byte_reader plain_reader{base::shared_bytes(plain.take())};
  metadata_request plain_decoded;
  plain_decoded.decode(plain_reader, 9);
  ASSERT_TRUE(plain_reader.ok());
  EXPECT_TRUE(plain_decoded == request);
}

TEST(Messages, HostileLengthsFailWithoutAllocating) {
  // Metadata v1: topic array claiming 2^31-1 elements in a 4-byte body.
  auto huge_array =
      decode_body<metadata_request>(base::shared_bytes(bytes({0x7f, 0xff, 0xff, 0xff})), 1);
  ASSERT_FALSE(huge_array.ok());
  EXPECT_EQ(huge_array.error().what, protocol_error::kind::malformed_body);
  // A string longer than the frame.
  auto long_string =
      decode_body<metadata_request>(base::shared_bytes(bytes({0, 0, 0, 1, 0x7f, 0xff, 'a'})), 1);
  EXPECT_FALSE(long_string.ok());
  // Null where the version does not allow it (Metadata v0 topics is not nullable).
  auto null_array =
      decode_body<metadata_request>(base::shared_bytes(bytes({0xff, 0xff, 0xff, 0xff})), 0);
  EXPECT_FALSE(null_array.ok());
  // A compact length beyond int32.
  auto huge_compact = decode_body<api_versions_request>(
      base::shared_bytes(bytes({0xff, 0xff, 0xff, 0xff, 0x0f})), 3);
  EXPECT_FALSE(huge_compact.ok());
}

TEST(ApiTable, CoversTheClientFacingApis) {
  for (int16_t key : {0,  1,  2,  3,  8,  9,  10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
                      21, 22, 23, 24, 25, 26, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 42,
                      43, 44, 45, 46, 47, 48, 49, 50, 51, 60, 61, 65, 66, 68, 69, 75}) {
    EXPECT_NE(find_api(key), nullptr) << key;
  }
  const api_info* produce = find_api(api_key::produce);
  EXPECT_EQ(produce->name, "Produce");
  EXPECT_EQ(produce->min_version, 0);
  EXPECT_EQ(produce->max_version, 11);
  EXPECT_EQ(produce->first_flexible_version, 9);
  EXPECT_EQ(find_api(int16_t{4}), nullptr);  // LeaderAndIsr: ZooKeeper era, not served
}

}  // namespace
}  // namespace sluice::protocol
