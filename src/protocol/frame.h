#pragma once

// Frames and headers: how a request or response travels on a connection.
//
// Every message is `int32 size` followed by a header and a body. The header's
// layout depends on the API and version (v2 request / v1 response headers for
// flexible versions), with one exception that keeps version negotiation
// possible: ApiVersions responses always use header v0 (KIP-511).

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/byte_reader.h"
#include "base/byte_writer.h"
#include "base/result.h"
#include "base/shared_bytes.h"
#include "protocol/api_keys.h"
#include "protocol/messages/request_header.h"

namespace sluice::protocol {

// Kafka's socket.request.max.bytes default.
inline constexpr int32_t default_max_frame_size = 100 * 1024 * 1024;

struct protocol_error {
  enum class kind {
    invalid_frame_size,  // negative, or above the configured maximum
    malformed_header,
    unknown_api_key,
    unsupported_version,
    malformed_body,
  };
  kind what;
  std::string message;
};

// Checks a frame's 4-byte size prefix before anything is allocated for it.
base::result<int32_t, protocol_error> parse_frame_size(std::span<const uint8_t, 4> prefix,
                                                       int32_t max_frame_size);

int16_t request_header_version(api_key key, int16_t version);
int16_t response_header_version(api_key key, int16_t version);

struct parsed_request {
  request_header header;
  const api_info* api = nullptr;  // never null
  // False only for an ApiVersions request newer than this build: it must still
  // be answered (with UNSUPPORTED_VERSION), never dropped.
  bool version_supported = true;
  base::shared_bytes body;
};

// Parses a request frame (without its size prefix): the header, and where the
// body starts. Unknown API keys and unsupported versions are errors (Kafka
// closes the connection), except for ApiVersions, see parsed_request.
base::result<parsed_request, protocol_error> parse_request(const base::shared_bytes& frame);

// Decodes a message body at `version`. Trailing bytes are ignored, as Kafka does.
template <typename Message>
base::result<Message, protocol_error> decode_body(const base::shared_bytes& body, int16_t version) {
  if (version < Message::min_version || version > Message::max_version) {
    return base::unexpected{protocol_error{
        protocol_error::kind::unsupported_version,
        std::string(Message::name) + " v" + std::to_string(version) + " is not supported"}};
  }
  base::byte_reader reader(body);
  Message message;
  message.decode(reader, version);
  if (!reader.ok()) {
    return base::unexpected{
        protocol_error{protocol_error::kind::malformed_body,
                       std::string(Message::name) + " v" + std::to_string(version) + ": " +
                           reader.error() + " at byte " + std::to_string(reader.error_position())}};
  }
  return message;
}

// A whole request frame, size prefix included, as a client sends it.
template <typename Request>
std::vector<uint8_t> encode_request_frame(const Request& request, int16_t version,
                                          int32_t correlation_id,
                                          std::optional<std::string> client_id) {
  request_header header;
  header.request_api_key = static_cast<int16_t>(Request::api_key);
  header.request_api_version = version;
  header.correlation_id = correlation_id;
  header.client_id = std::move(client_id);
  base::byte_writer w;
  w.write_int32(0);
  header.encode(w, request_header_version(Request::api_key, version));
  request.encode(w, version);
  w.put_int32_at(0, static_cast<int32_t>(w.size() - 4));
  return w.take();
}

// Writes the response header for (key, version) into `w`.
void write_response_header(base::byte_writer& w, api_key key, int16_t version,
                           int32_t correlation_id);

// A whole response frame, size prefix included. `size_hint`, when the caller
// knows roughly how large the frame is (a Fetch response), saves the buffer
// growing and copying step by step.
template <typename Response>
std::vector<uint8_t> encode_response_frame(const Response& response, int16_t version,
                                           int32_t correlation_id, size_t size_hint = 0) {
  base::byte_writer w(size_hint);
  w.write_int32(0);
  write_response_header(w, Response::api_key, version, correlation_id);
  response.encode(w, version);
  w.put_int32_at(0, static_cast<int32_t>(w.size() - 4));
  return w.take();
}

// A response frame whose large byte strings (a Fetch response's records) are
// referenced, not copied: on the wire it is `bytes` with each splice's bytes
// inserted at its place, written with one gathering write.
struct gathered_frame {
  std::vector<uint8_t> bytes;
  std::vector<base::byte_writer::splice_point> splices;
};

template <typename Response>
gathered_frame encode_gathered_response_frame(const Response& response, int16_t version,
                                              int32_t correlation_id, size_t min_splice_bytes) {
  base::byte_writer w(1024);
  w.enable_splicing(min_splice_bytes);
  w.write_int32(0);
  write_response_header(w, Response::api_key, version, correlation_id);
  response.encode(w, version);
  w.put_int32_at(0, static_cast<int32_t>(w.size() - 4));
  gathered_frame frame;
  frame.splices = w.take_splices();
  frame.bytes = w.take();
  return frame;
}

// The answer to an ApiVersions request at a version this build does not know
// (KIP-511): a v0 body with UNSUPPORTED_VERSION and the one entry for
// ApiVersions itself, so the client can retry at a version both sides know.
std::vector<uint8_t> encode_unsupported_api_versions_frame(int32_t correlation_id,
                                                           int16_t min_version,
                                                           int16_t max_version);

}  // namespace sluice::protocol
