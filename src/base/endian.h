#pragma once

// Big-endian (network order) loads and stores at unaligned addresses: every
// fixed-width integer in the Kafka protocol and on-disk formats is big-endian.

#include <bit>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace sluice::base {

template <typename T>
requires std::is_integral_v<T> T load_be(const uint8_t* p) {
  using U = std::make_unsigned_t<T>;
  U v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (sizeof(U) == 2) v = __builtin_bswap16(v);
  if constexpr (sizeof(U) == 4) v = __builtin_bswap32(v);
  if constexpr (sizeof(U) == 8) v = __builtin_bswap64(v);
  return static_cast<T>(v);
}

template <typename T>
requires std::is_integral_v<T>
void store_be(uint8_t* p, T value) {
  using U = std::make_unsigned_t<T>;
  U v = static_cast<U>(value);
  if constexpr (sizeof(U) == 2) v = __builtin_bswap16(v);
  if constexpr (sizeof(U) == 4) v = __builtin_bswap32(v);
  if constexpr (sizeof(U) == 8) v = __builtin_bswap64(v);
  std::memcpy(p, &v, sizeof v);
}

}  // namespace sluice::base
