// A byte stream as a connection delivers it: size-prefixed frames, each parsed
// as a request header plus body, the body decoded as the API's request.

#include <cstdint>
#include <span>

#include "protocol/all_messages.h"
#include "protocol/frame.h"

using namespace sluice;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> stream(data, size);
  while (stream.size() >= 4) {
    auto frame_size = protocol::parse_frame_size(stream.first<4>(), 1 << 20);
    if (!frame_size.ok() || static_cast<size_t>(*frame_size) > stream.size() - 4) break;
    auto frame = base::shared_bytes::copy_of(stream.subspan(4, *frame_size));
    stream = stream.subspan(4 + *frame_size);
    auto request = protocol::parse_request(frame);
    if (!request.ok() || !request->version_supported) continue;
    protocol::visit_api(request->header.request_api_key, [&](auto request_type, auto) {
      using request_t = typename decltype(request_type)::type;
      (void)protocol::decode_body<request_t>(request->body, request->header.request_api_version);
    });
  }
  return 0;
}
