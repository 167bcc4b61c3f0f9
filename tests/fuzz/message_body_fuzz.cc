// Every request and response body at every version. Input layout: int16 api
// key, int16 version, one byte choosing request (even) or response (odd), then
// the body. A body that decodes must re-encode to bytes that decode and
// re-encode to the very same bytes (the round-trip property, on hostile input;
// bytes rather than values, so that a NaN in a float64 field compares equal).

#include <cstdint>
#include <cstdlib>

#include "base/byte_reader.h"
#include "base/byte_writer.h"
#include "protocol/all_messages.h"

using namespace sluice;

namespace {

template <typename Message>
void check(const base::shared_bytes& body, int16_t version) {
  if (version < Message::min_version || version > Message::max_version) return;
  base::byte_reader reader(body);
  Message decoded;
  decoded.decode(reader, version);
  if (!reader.ok()) return;
  base::byte_writer first;
  decoded.encode(first, version);
  base::byte_reader again(base::shared_bytes(first.buffer()));
  Message redecoded;
  redecoded.decode(again, version);
  if (!again.ok() || again.remaining() != 0) std::abort();
  base::byte_writer second;
  redecoded.encode(second, version);
  if (second.buffer() != first.buffer()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 5) return 0;
  int16_t key = static_cast<int16_t>(data[0] << 8 | data[1]);
  int16_t version = static_cast<int16_t>(data[2] << 8 | data[3]);
  bool response = data[4] & 1;
  auto body = base::shared_bytes::copy_of(std::span<const uint8_t>(data + 5, size - 5));
  protocol::visit_api(key, [&](auto request_type, auto response_type) {
    if (response) {
      check<typename decltype(response_type)::type>(body, version);
    } else {
      check<typename decltype(request_type)::type>(body, version);
    }
  });
  return 0;
}
