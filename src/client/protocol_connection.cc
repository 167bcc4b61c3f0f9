#include "client/protocol_connection.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/byte_reader.h"
#include "client/socket_util.h"
#include "protocol/error_code.h"
#include "protocol/messages/api_versions.h"
#include "protocol/messages/response_header.h"

namespace sluice::client {
namespace {

using clock = std::chrono::steady_clock;

// Tools read metadata-sized answers; anything larger is a wrong peer.
constexpr int32_t max_response_bytes = 256 * 1024 * 1024;

// Waits until `fd` is ready for `events` or the deadline passes.
base::result<void> wait_ready(int fd, short events, clock::time_point deadline,
                              const std::string& address) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    if (left.count() <= 0) return base::fail(address + ": timed out waiting for the broker");
    pollfd p{fd, events, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready > 0) return {};
    if (ready < 0 && errno != EINTR) return base::fail(address + ": " + std::strerror(errno));
  }
}

base::result<void> send_all(int fd, const uint8_t* data, size_t size, clock::time_point deadline,
                            const std::string& address) {
  while (size > 0) {
    auto ready = wait_ready(fd, POLLOUT, deadline, address);
    if (!ready) return ready;
    ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return base::fail(address + ": send: " + std::strerror(errno));
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return {};
}

base::result<void> receive_all(int fd, uint8_t* data, size_t size, clock::time_point deadline,
                               const std::string& address) {
  while (size > 0) {
    auto ready = wait_ready(fd, POLLIN, deadline, address);
    if (!ready) return ready;
    ssize_t n = ::recv(fd, data, size, MSG_DONTWAIT);
    if (n == 0) return base::fail(address + ": the broker closed the connection");
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return base::fail(address + ": recv: " + std::strerror(errno));
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return {};
}

}  // namespace

protocol_connection::protocol_connection(int fd, std::string address,
                                         std::chrono::milliseconds timeout)
    : fd_(fd), address_(std::move(address)), timeout_(timeout) {}

protocol_connection::protocol_connection(protocol_connection&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      address_(std::move(other.address_)),
      timeout_(other.timeout_),
      next_correlation_id_(other.next_correlation_id_),
      versions_(std::move(other.versions_)) {}

protocol_connection& protocol_connection::operator=(protocol_connection&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    address_ = std::move(other.address_);
    timeout_ = other.timeout_;
    next_correlation_id_ = other.next_correlation_id_;
    versions_ = std::move(other.versions_);
  }
  return *this;
}

protocol_connection::~protocol_connection() {
  if (fd_ >= 0) ::close(fd_);
}

base::result<protocol_connection> protocol_connection::open(const std::string& address,
                                                            std::chrono::milliseconds timeout) {
  auto fd = connect_tcp(address, timeout);
  if (!fd) return base::unexpected(fd.error());
  protocol_connection connection(*fd, address, timeout);
  auto negotiated = connection.negotiate_versions();
  if (!negotiated) return base::unexpected(negotiated.error());
  return connection;
}

std::optional<std::pair<int16_t, int16_t>> protocol_connection::versions(
    protocol::api_key key) const {
  auto it = versions_.find(static_cast<int16_t>(key));
  if (it == versions_.end()) return std::nullopt;
  return it->second;
}

base::result<int16_t> protocol_connection::pick_version(protocol::api_key key, int16_t ours_min,
                                                        int16_t ours_max) const {
  const auto* info = protocol::find_api(key);
  std::string name = info != nullptr ? std::string(info->name)
                                     : "API " + std::to_string(static_cast<int16_t>(key));
  auto theirs = versions(key);
  if (!theirs) return base::fail(address_ + " does not serve " + name);
  int16_t low = std::max(ours_min, theirs->first);
  int16_t high = std::min(ours_max, theirs->second);
  if (low > high) {
    return base::fail(address_ + " serves " + name + " v" + std::to_string(theirs->first) + "-" +
                      std::to_string(theirs->second) + " only; this tool speaks v" +
                      std::to_string(ours_min) + "-" + std::to_string(ours_max));
  }
  return high;
}

base::result<base::shared_bytes> protocol_connection::round_trip(const std::vector<uint8_t>& frame,
                                                                 int32_t correlation_id,
                                                                 int16_t header_version) {
  auto deadline = clock::now() + timeout_;
  auto sent = send_all(fd_, frame.data(), frame.size(), deadline, address_);
  if (!sent) return base::unexpected(sent.error());
  uint8_t prefix[4];
  auto got = receive_all(fd_, prefix, sizeof prefix, deadline, address_);
  if (!got) return base::unexpected(got.error());
  int32_t size = static_cast<int32_t>((uint32_t{prefix[0]} << 24) | (uint32_t{prefix[1]} << 16) |
                                      (uint32_t{prefix[2]} << 8) | uint32_t{prefix[3]});
  if (size < 4 || size > max_response_bytes) {
    return base::fail(address_ + ": invalid response size " + std::to_string(size));
  }
  std::vector<uint8_t> body(static_cast<size_t>(size));
  got = receive_all(fd_, body.data(), body.size(), deadline, address_);
  if (!got) return base::unexpected(got.error());
  base::shared_bytes bytes(std::move(body));
  base::byte_reader reader(bytes);
  protocol::response_header header;
  header.decode(reader, header_version);
  if (!reader.ok()) return base::fail(address_ + ": malformed response header");
  if (header.correlation_id != correlation_id) {
    return base::fail(address_ + ": response for request " + std::to_string(header.correlation_id) +
                      ", expected " + std::to_string(correlation_id));
  }
  return bytes.slice(reader.position(), bytes.size() - reader.position());
}

base::result<void> protocol_connection::negotiate_versions() {
  // v3 first; a broker that does not know it answers UNSUPPORTED_VERSION in a
  // v0 body listing what it does support (KIP-511).
  for (int16_t version : {int16_t{3}, int16_t{0}}) {
    protocol::api_versions_request request;
    request.client_software_name = "sluice-cli";
    request.client_software_version = "1";
    int32_t correlation_id = next_correlation_id_++;
    auto frame = protocol::encode_request_frame(request, version, correlation_id, "sluice-cli");
    // ApiVersions responses always use header v0.
    auto body = round_trip(frame, correlation_id, 0);
    if (!body) return base::unexpected(body.error());
    auto decoded = protocol::decode_body<protocol::api_versions_response>(*body, version);
    if (!decoded) {
      if (version == 3) {
        // Kafka answers an unknown ApiVersions version with a v0 body.
        decoded = protocol::decode_body<protocol::api_versions_response>(*body, 0);
      }
      if (!decoded) return base::fail(address_ + ": " + decoded.error().message);
    }
    auto error = static_cast<protocol::error_code>(decoded->error_code);
    if (error == protocol::error_code::unsupported_version && version == 3) continue;
    if (error != protocol::error_code::none) {
      return base::fail(address_ + ": ApiVersions: " + std::string(protocol::error_name(error)));
    }
    for (const auto& api : decoded->api_keys) {
      versions_[api.api_key] = {api.min_version, api.max_version};
    }
    return {};
  }
  return base::fail(address_ + ": the broker supports no ApiVersions version this tool speaks");
}

}  // namespace sluice::client
