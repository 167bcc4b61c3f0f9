#pragma once

// The simulator's only source of randomness and its hashing helpers.
//
// Everything in a run derives from one 64-bit seed, so a run must never read
// std::random_device, a clock or an address. xoshiro256** (Blackman and
// Vigna) is small, fast and has no bias worth worrying about at the
// probabilities the simulator draws; splitmix64 expands a seed into its state
// and derives independent streams (one per component, so that a change in how
// often, say, the workload draws does not shift the network's faults).

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace sluice::sim {

inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Folds `value` into `hash`; order-sensitive, for trace hashes and content
// digests (not cryptographic).
inline uint64_t hash_mix(uint64_t hash, uint64_t value) {
  uint64_t state = hash ^ (value + 0x632be59bd9b4e019ULL + (hash << 6) + (hash >> 2));
  return splitmix64(state);
}

inline uint64_t hash_bytes(std::span<const uint8_t> bytes) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a
  for (uint8_t b : bytes) h = (h ^ b) * 0x100000001b3ULL;
  return hash_mix(h, bytes.size());
}

inline uint64_t hash_string(std::string_view text) {
  return hash_bytes({reinterpret_cast<const uint8_t*>(text.data()), text.size()});
}

class prng {
 public:
  explicit prng(uint64_t seed) {
    for (uint64_t& word : s_) word = splitmix64(seed);
  }

  // A generator for one component, independent of this one's future draws.
  prng derive(uint64_t stream) const { return prng(hash_mix(hash_mix(s_[0], s_[3]), stream)); }

  uint64_t next() {
    uint64_t result = rotl(s_[1] * 5, 7) * 9;
    uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, n); n > 0.
  uint64_t below(uint64_t n) { return next() % n; }
  // Uniform in [lo, hi].
  int64_t range(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(below(static_cast<uint64_t>(hi - lo) + 1));
  }
  // True with probability p.
  bool chance(double p) {
    if (p <= 0) return false;
    return static_cast<double>(next() >> 11) * 0x1.0p-53 < p;
  }
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace sluice::sim
