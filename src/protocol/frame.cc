#include "protocol/frame.h"

#include "base/endian.h"
#include "protocol/error_code.h"
#include "protocol/messages/api_versions.h"
#include "protocol/messages/response_header.h"

namespace sluice::protocol {

namespace {

base::unexpected<protocol_error> error(protocol_error::kind what, std::string message) {
  return {protocol_error{what, std::move(message)}};
}

}  // namespace

base::result<int32_t, protocol_error> parse_frame_size(std::span<const uint8_t, 4> prefix,
                                                       int32_t max_frame_size) {
  auto size = base::load_be<int32_t>(prefix.data());
  if (size < 0) {
    return error(protocol_error::kind::invalid_frame_size,
                 "negative frame size " + std::to_string(size));
  }
  if (size > max_frame_size) {
    return error(protocol_error::kind::invalid_frame_size,
                 "frame of " + std::to_string(size) + " bytes is larger than the maximum of " +
                     std::to_string(max_frame_size) + " (socket.request.max.bytes)");
  }
  return size;
}

int16_t request_header_version(api_key key, int16_t version) {
  const api_info* api = find_api(key);
  return api != nullptr && api->is_flexible(version) ? 2 : 1;
}

int16_t response_header_version(api_key key, int16_t version) {
  if (key == api_key::api_versions) return 0;
  const api_info* api = find_api(key);
  return api != nullptr && api->is_flexible(version) ? 1 : 0;
}

base::result<parsed_request, protocol_error> parse_request(const base::shared_bytes& frame) {
  // The api key and version come first in every header version; they decide
  // the rest of the layout.
  base::byte_reader peek(frame);
  int16_t key = peek.read_int16();
  int16_t version = peek.read_int16();
  if (!peek.ok()) {
    return error(protocol_error::kind::malformed_header,
                 "request of " + std::to_string(frame.size()) + " bytes is too short for a header");
  }
  const api_info* api = find_api(key);
  if (api == nullptr) {
    return error(protocol_error::kind::unknown_api_key, "unknown api key " + std::to_string(key));
  }
  bool supported = api->supports(version);
  if (!supported && api->key != api_key::api_versions) {
    return error(protocol_error::kind::unsupported_version,
                 std::string(api->name) + " v" + std::to_string(version) +
                     " is not supported (supported: v" + std::to_string(api->min_version) + "-v" +
                     std::to_string(api->max_version) + ")");
  }
  // ApiVersions' flexible versions are open-ended ("3+"), so a newer version
  // still has a v2 header.
  base::byte_reader reader(frame);
  parsed_request request;
  request.header.decode(reader, request_header_version(api->key, version));
  if (!reader.ok()) {
    return error(protocol_error::kind::malformed_header,
                 std::string("malformed request header: ") + reader.error());
  }
  request.api = api;
  request.version_supported = supported;
  request.body = frame.slice(reader.position(), reader.remaining());
  return request;
}

void write_response_header(base::byte_writer& w, api_key key, int16_t version,
                           int32_t correlation_id) {
  response_header header;
  header.correlation_id = correlation_id;
  header.encode(w, response_header_version(key, version));
}

std::vector<uint8_t> encode_unsupported_api_versions_frame(int32_t correlation_id,
                                                           int16_t min_version,
                                                           int16_t max_version) {
  api_versions_response response;
  response.error_code = static_cast<int16_t>(error_code::unsupported_version);
  api_versions_response::api_version entry;
  entry.api_key = static_cast<int16_t>(api_key::api_versions);
  entry.min_version = min_version;
  entry.max_version = max_version;
  response.api_keys.push_back(entry);
  return encode_response_frame(response, 0, correlation_id);
}

}  // namespace sluice::protocol
