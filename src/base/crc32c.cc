#include "base/crc32c.h"

#include <array>
#include <bit>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

// Throughout, a CRC "state" is the raw shift register: the public value with
// the pre/post inversion removed. In the reflected convention bit 31 of a
// state holds the coefficient of x^0 and bit 0 that of x^31, and feeding a byte
// b updates it as state = table[(state ^ b) & 0xff] ^ (state >> 8).

namespace sluice::base::crc32c {
namespace {

constexpr uint32_t polynomial = 0x82F63B78;  // Castagnoli, bit-reflected

// Portable path: slicing-by-8. slice[0] is the classic byte table; slice[k][b]
// is what b, XORed into the low byte of the state, contributes once k more
// zero bytes have followed. Eight bytes then fold in with eight independent
// lookups instead of a chain of eight dependent ones.
using slice_tables = std::array<std::array<uint32_t, 256>, 8>;

constexpr slice_tables make_slice_tables() {
  slice_tables t{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t c = b;
    for (int bit = 0; bit < 8; ++bit) c = (c & 1) ? (c >> 1) ^ polynomial : c >> 1;
    t[0][b] = c;
  }
  for (size_t k = 1; k < 8; ++k) {
    for (size_t b = 0; b < 256; ++b) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xff];
  }
  return t;
}

constexpr slice_tables slice = make_slice_tables();

uint32_t load_le32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap32(v);
  return v;
}

uint32_t portable_state(uint32_t state, const uint8_t* p, size_t n) {
  while (n >= 8) {
    uint32_t lo = state ^ load_le32(p);
    uint32_t hi = load_le32(p + 4);
    state = slice[7][lo & 0xff] ^ slice[6][(lo >> 8) & 0xff] ^ slice[5][(lo >> 16) & 0xff] ^
            slice[4][lo >> 24] ^ slice[3][hi & 0xff] ^ slice[2][(hi >> 8) & 0xff] ^
            slice[1][(hi >> 16) & 0xff] ^ slice[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) state = slice[0][(state ^ *p++) & 0xff] ^ (state >> 8);
  return state;
}

#if defined(__x86_64__)

// Hardware path. The crc32 instruction has a latency of three cycles but can
// start one per cycle, so a single dependent chain runs at a third of the
// possible speed. Splitting a block into three equal streams A, B and C, each
// with its own chain, keeps the unit busy. The CRC is linear, so the state
// after the whole block is
//   shift(A, 2 * len) ^ shift(B, len) ^ C
// where A is the state after stream A (started from the incoming state), B and
// C those of streams B and C started from zero, and shift(s, n) is the state
// that s becomes after n zero bytes: multiplication by x^(8n) modulo the
// polynomial.

// a * b modulo the polynomial, both in the reflected convention.
constexpr uint32_t multiply(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (uint32_t bit = 1u << 31; bit != 0; bit >>= 1) {
    if (a & bit) product ^= b;
    b = (b & 1) ? (b >> 1) ^ polynomial : b >> 1;  // b *= x
  }
  return product;
}

// x^(8 * bytes) modulo the polynomial, by square and multiply.
constexpr uint32_t x_to_the_bytes(size_t bytes) {
  uint32_t result = 1u << 31;  // x^0
  uint32_t power = 1u << 30;   // x^1
  for (size_t e = 8 * bytes; e != 0; e >>= 1) {
    if (e & 1) result = multiply(result, power);
    power = multiply(power, power);
  }
  return result;
}

// shift(s, n) for one fixed n, one 256-entry table per byte of s: the shift is
// linear in s, so the four partial results just XOR together.
struct zero_shift {
  std::array<std::array<uint32_t, 256>, 4> table;

  uint32_t operator()(uint32_t s) const {
    return table[0][s & 0xff] ^ table[1][(s >> 8) & 0xff] ^ table[2][(s >> 16) & 0xff] ^
           table[3][s >> 24];
  }
};

constexpr zero_shift make_zero_shift(size_t bytes) {
  zero_shift shift{};
  uint32_t factor = x_to_the_bytes(bytes);
  for (uint32_t k = 0; k < 4; ++k) {
    for (uint32_t b = 0; b < 256; ++b) shift.table[k][b] = multiply(b << (8 * k), factor);
  }
  return shift;
}

// Stream lengths of the two block sizes. The long block covers the bulk of
// large buffers with a combine (eight table lookups) only every 24 KiB; the
// short one keeps buffers of a few KiB, and the end of large ones, on three
// streams. What is left after both (under 768 bytes) runs on a single stream.
constexpr size_t long_stream = 8192;
constexpr size_t short_stream = 256;

struct stream_shifts {
  zero_shift by_one;  // shifts B's state over C
  zero_shift by_two;  // shifts A's state over B and C
};

constexpr stream_shifts long_shifts{make_zero_shift(long_stream), make_zero_shift(2 * long_stream)};
constexpr stream_shifts short_shifts{make_zero_shift(short_stream),
                                     make_zero_shift(2 * short_stream)};

inline uint64_t load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Runs the three streams over the 3 * stream bytes at p and combines them.
template <size_t stream>
__attribute__((target("sse4.2"))) inline uint32_t three_way(uint32_t state, const uint8_t* p,
                                                            const stream_shifts& shifts) {
  uint64_t a = state, b = 0, c = 0;
  const uint8_t* end = p + stream;
  for (; p != end; p += 8) {
    a = _mm_crc32_u64(a, load64(p));
    b = _mm_crc32_u64(b, load64(p + stream));
    c = _mm_crc32_u64(c, load64(p + 2 * stream));
  }
  return shifts.by_two(static_cast<uint32_t>(a)) ^ shifts.by_one(static_cast<uint32_t>(b)) ^
         static_cast<uint32_t>(c);
}

__attribute__((target("sse4.2"))) uint32_t extend_sse42(uint32_t crc, const void* data, size_t n) {
  auto p = static_cast<const uint8_t*>(data);
  uint32_t state = ~crc;
  for (; n >= 3 * long_stream; n -= 3 * long_stream, p += 3 * long_stream) {
    state = three_way<long_stream>(state, p, long_shifts);
  }
  for (; n >= 3 * short_stream; n -= 3 * short_stream, p += 3 * short_stream) {
    state = three_way<short_stream>(state, p, short_shifts);
  }
  uint64_t tail = state;
  for (; n >= 8; n -= 8, p += 8) tail = _mm_crc32_u64(tail, load64(p));
  state = static_cast<uint32_t>(tail);
  for (; n > 0; --n) state = _mm_crc32_u8(state, *p++);
  return ~state;
}

#endif  // __x86_64__

using extend_fn = uint32_t (*)(uint32_t, const void*, size_t);

extend_fn choose() {
#if defined(__x86_64__)
  // Needed if the first CRC is taken before libgcc's own initialiser has run.
  __builtin_cpu_init();
  if (__builtin_cpu_supports("sse4.2")) return extend_sse42;
#endif
  return extend_portable;
}

// A function-local static rather than a namespace-scope one, so that callers
// in other translation units' static initialisers never see it unset.
extend_fn chosen() {
  static const extend_fn fn = choose();
  return fn;
}

}  // namespace

uint32_t extend(uint32_t crc, const void* data, size_t n) { return chosen()(crc, data, n); }

uint32_t extend_portable(uint32_t crc, const void* data, size_t n) {
  return ~portable_state(~crc, static_cast<const uint8_t*>(data), n);
}

const char* implementation() { return chosen() == extend_portable ? "portable" : "sse4.2 (3-way)"; }

}  // namespace sluice::base::crc32c
