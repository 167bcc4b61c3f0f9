#include "base/shared_bytes.h"

namespace sluice::base {

shared_bytes::shared_bytes(std::vector<uint8_t> owned) {
  auto storage = std::make_shared<std::vector<uint8_t>>(std::move(owned));
  data_ = storage->data();
  size_ = storage->size();
  owner_ = std::move(storage);
}

shared_bytes shared_bytes::copy_of(std::span<const uint8_t> bytes) {
  return shared_bytes(std::vector<uint8_t>(bytes.begin(), bytes.end()));
}

shared_bytes shared_bytes::copy_of(std::string_view text) {
  const auto* p = reinterpret_cast<const uint8_t*>(text.data());
  return shared_bytes(std::vector<uint8_t>(p, p + text.size()));
}

}  // namespace sluice::base
