// placeholder: filled by its owner
#include "base/crc32c.h"
namespace sluice::base::crc32c {
uint32_t extend(uint32_t crc, const void*, size_t) { return crc; }
uint32_t extend_portable(uint32_t crc, const void*, size_t) { return crc; }
const char* implementation() { return "placeholder"; }
}  // namespace sluice::base::crc32c
