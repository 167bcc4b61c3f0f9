#pragma once

// CRC-32C (Castagnoli), the checksum of Kafka record batches (magic 2).
//
// The implementation is picked once at start-up: the SSE4.2 crc32 instruction
// over three interleaved streams where the CPU has it, a table-driven portable
// version elsewhere. Both give identical results.

#include <cstddef>
#include <cstdint>
#include <span>

namespace sluice::base::crc32c {

// Extends `crc` (the CRC of some earlier bytes, 0 for none) over `n` more bytes.
uint32_t extend(uint32_t crc, const void* data, size_t n);

inline uint32_t value(const void* data, size_t n) { return extend(0, data, n); }
inline uint32_t value(std::span<const uint8_t> bytes) {
  return extend(0, bytes.data(), bytes.size());
}

// The portable implementation, always available (tests and benchmarks compare it).
uint32_t extend_portable(uint32_t crc, const void* data, size_t n);

// Name of the implementation extend() uses on this CPU: "sse4.2 (3-way)" or
// "portable".
const char* implementation();

}  // namespace sluice::base::crc32c
