#pragma once

// A blocking Kafka-protocol connection for the calls librdkafka 2.0.2 lacks
// (IncrementalAlterConfigs, DescribeCluster, DescribeLogDirs, ApiVersions
// listings). It speaks protocol/'s generated messages over one TCP socket:
// one request at a time, each bounded by the connection's timeout. Only for
// tools: the broker's own networking is in kafka/.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "base/shared_bytes.h"
#include "protocol/api_keys.h"
#include "protocol/frame.h"

namespace sluice::client {

class protocol_connection {
 public:
  // Connects to "host:port" and asks for the broker's API versions
  // (ApiVersions v3, falling back to v0 as KIP-511 describes).
  static base::result<protocol_connection> open(const std::string& address,
                                                std::chrono::milliseconds timeout);

  protocol_connection(protocol_connection&& other) noexcept;
  protocol_connection& operator=(protocol_connection&& other) noexcept;
  protocol_connection(const protocol_connection&) = delete;
  protocol_connection& operator=(const protocol_connection&) = delete;
  ~protocol_connection();

  const std::string& address() const { return address_; }

  // The broker's version range for `key`, if it serves it.
  std::optional<std::pair<int16_t, int16_t>> versions(protocol::api_key key) const;
  const std::map<int16_t, std::pair<int16_t, int16_t>>& all_versions() const { return versions_; }

  // Sends `request` at the highest version both sides support and decodes the
  // answer. Fails if the broker does not serve the API, on I/O errors, on a
  // timeout and on an answer that does not decode.
  template <typename Response, typename Request>
  base::result<Response> call(const Request& request);

 private:
  protocol_connection(int fd, std::string address, std::chrono::milliseconds timeout);

  base::result<int16_t> pick_version(protocol::api_key key, int16_t ours_min,
                                     int16_t ours_max) const;
  // Writes a whole request frame and reads back the response body (header
  // checked and stripped) for `correlation_id`.
  base::result<base::shared_bytes> round_trip(const std::vector<uint8_t>& frame,
                                              int32_t correlation_id, int16_t header_version);
  base::result<void> negotiate_versions();

  int fd_ = -1;
  std::string address_;
  std::chrono::milliseconds timeout_;
  int32_t next_correlation_id_ = 1;
  std::map<int16_t, std::pair<int16_t, int16_t>> versions_;
};

template <typename Response, typename Request>
base::result<Response> protocol_connection::call(const Request& request) {
  auto version = pick_version(Request::api_key, Request::min_version, Request::max_version);
  if (!version) return base::unexpected(version.error());
  int32_t correlation_id = next_correlation_id_++;
  auto frame = protocol::encode_request_frame(request, *version, correlation_id, "sluice-cli");
  auto body = round_trip(frame, correlation_id,
                         protocol::response_header_version(Request::api_key, *version));
  if (!body) return base::unexpected(body.error());
  auto decoded = protocol::decode_body<Response>(*body, *version);
  if (!decoded) return base::fail(address_ + ": " + decoded.error().message);
  return std::move(*decoded);
}

}  // namespace sluice::client
