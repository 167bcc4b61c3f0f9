#include "base/crc32c.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::base {
namespace {

// One bit at a time, straight from the definition: the reference that both
// table-driven and hardware results are checked against.
uint32_t crc_bitwise(const uint8_t* p, size_t n) {
  uint32_t c = ~0u;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int bit = 0; bit < 8; ++bit) c = (c & 1) ? (c >> 1) ^ 0x82F63B78 : c >> 1;
  }
  return ~c;
}

std::vector<uint8_t> random_bytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

struct known_vector {
  const char* name;
  std::vector<uint8_t> input;
  uint32_t crc;
};

std::vector<known_vector> known_vectors() {
  std::string_view digits = "123456789";
  std::vector<uint8_t> ascending(32), descending(32);
  for (int i = 0; i < 32; ++i) {
    ascending[i] = static_cast<uint8_t>(i);
    descending[i] = static_cast<uint8_t>(31 - i);
  }
  // The last four are the CRC-32C examples of RFC 3720 (iSCSI), appendix B.4.
  return {
      {"empty", {}, 0},
      {"123456789", {digits.begin(), digits.end()}, 0xE3069283},
      {"32 zeros", std::vector<uint8_t>(32, 0x00), 0x8A9136AA},
      {"32 0xff", std::vector<uint8_t>(32, 0xFF), 0x62A8AB43},
      {"ascending 0..31", ascending, 0x46DD794E},
      {"descending 31..0", descending, 0x113FDB5C},
  };
}

TEST(Crc32c, KnownVectors) {
  for (const auto& v : known_vectors()) {
    SCOPED_TRACE(v.name);
    EXPECT_EQ(crc32c::value(v.input), v.crc);
    EXPECT_EQ(crc32c::extend_portable(0, v.input.data(), v.input.size()), v.crc);
    EXPECT_EQ(crc_bitwise(v.input.data(), v.input.size()), v.crc);
  }
  EXPECT_EQ(crc32c::value("123456789", 9), 0xE3069283u);
}

TEST(Crc32c, UsesHardwareWhereAvailable) {
  std::string_view name = crc32c::implementation();
#if defined(__x86_64__)
  if (__builtin_cpu_supports("sse4.2")) {
    EXPECT_EQ(name, "sse4.2 (3-way)");
    return;
  }
#endif
  EXPECT_EQ(name, "portable");
}

// Every length up to 2 KiB, at every start alignment modulo 16: covers the
// byte-wise and word-wise tails and the short three-stream blocks.
TEST(Crc32c, HardwareMatchesPortableForEveryShortLength) {
  auto data = random_bytes(2048 + 16, 1);
  for (size_t align = 0; align < 16; ++align) {
    for (size_t n = 0; n <= 2048; ++n) {
      const uint8_t* p = data.data() + align;
      uint32_t portable = crc32c::extend_portable(0, p, n);
      ASSERT_EQ(crc32c::extend(0, p, n), portable) << "length " << n << " alignment " << align;
    }
  }
}

// The portable tables against the definition, so that the comparison above
// cannot pass with both implementations wrong in the same way.
TEST(Crc32c, PortableMatchesBitwiseReference) {
  auto data = random_bytes(1024 + 8, 2);
  for (size_t align = 0; align < 8; ++align) {
    for (size_t n = 0; n <= 1024; ++n) {
      const uint8_t* p = data.data() + align;
      ASSERT_EQ(crc32c::extend_portable(0, p, n), crc_bitwise(p, n))
          << "length " << n << " alignment " << align;
    }
  }
}

// Long buffers exercise the long three-stream blocks and their combination.
// Lengths are log-uniform so that every size class up to 1 MiB gets hit.
TEST(Crc32c, HardwareMatchesPortableForRandomLongLengths) {
  constexpr size_t max_length = size_t{1} << 20;
  auto data = random_bytes(max_length + 16, 3);
  std::mt19937_64 rng(4);
  std::uniform_real_distribution<double> log_length(0.0, 20.0);
  std::vector<size_t> lengths = {max_length, max_length - 1};
  while (lengths.size() < 24) lengths.push_back(static_cast<size_t>(std::exp2(log_length(rng))));
  for (size_t n : lengths) {
    for (size_t align = 0; align < 16; ++align) {
      const uint8_t* p = data.data() + align;
      uint32_t seed = static_cast<uint32_t>(rng());
      ASSERT_EQ(crc32c::extend(seed, p, n), crc32c::extend_portable(seed, p, n))
          << "length " << n << " alignment " << align;
    }
  }
}

// extend() over consecutive pieces equals one call over the whole, whichever
// implementation handles each piece.
TEST(Crc32c, ExtendOverRandomSplitsEqualsOneShot) {
  constexpr size_t length = 200 * 1024;
  auto data = random_bytes(length, 5);
  uint32_t whole = crc32c::value(data);
  ASSERT_EQ(whole, crc32c::extend_portable(0, data.data(), length));
  std::mt19937_64 rng(6);
  for (int round = 0; round < 50; ++round) {
    std::vector<size_t> cuts(1 + rng() % 8);
    for (auto& cut : cuts) cut = rng() % (length + 1);
    cuts.push_back(0);
    cuts.push_back(length);
    std::sort(cuts.begin(), cuts.end());
    uint32_t crc = 0;
    for (size_t i = 0; i + 1 < cuts.size(); ++i) {
      const uint8_t* p = data.data() + cuts[i];
      size_t n = cuts[i + 1] - cuts[i];
      crc = (i % 2 == 0) ? crc32c::extend(crc, p, n) : crc32c::extend_portable(crc, p, n);
    }
    ASSERT_EQ(crc, whole) << "round " << round;
  }
}

TEST(Crc32c, ExtendAppendsBytes) {
  std::string_view a = "Kafka record ", b = "batch";
  std::string joined = std::string(a) + std::string(b);
  EXPECT_EQ(crc32c::extend(crc32c::value(a.data(), a.size()), b.data(), b.size()),
            crc32c::value(joined.data(), joined.size()));
  EXPECT_EQ(crc32c::extend(0x12345678, nullptr, 0), 0x12345678u);
}

}  // namespace
}  // namespace sluice::base
