// Request headers at every header version, and the header-choosing logic of
// parse_request (which reads the api key and version first).

#include <cstdint>

#include "base/byte_reader.h"
#include "protocol/frame.h"
#include "protocol/messages/request_header.h"

using namespace sluice;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto bytes = base::shared_bytes::copy_of(std::span<const uint8_t>(data, size));
  (void)protocol::parse_request(bytes);
  for (int16_t version = 0; version <= 2; ++version) {
    base::byte_reader reader(bytes);
    protocol::request_header header;
    header.decode(reader, version);
  }
  return 0;
}
