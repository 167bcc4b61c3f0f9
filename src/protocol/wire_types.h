#pragma once

// Types that generated message headers need, kept apart from wire.h so that a
// header declaring messages does not pull in the reader and writer.

#include <cstdint>

#include "base/shared_bytes.h"

namespace sluice::base {
class byte_reader;
class byte_writer;
}  // namespace sluice::base

namespace sluice::protocol {

// A tagged field this build does not know: its tag and its encoded bytes.
// Decoders keep them so a message re-encodes to the same bytes.
struct raw_tagged_field {
  uint32_t tag = 0;
  base::shared_bytes data;

  friend bool operator==(const raw_tagged_field&, const raw_tagged_field&) = default;
};

}  // namespace sluice::protocol
