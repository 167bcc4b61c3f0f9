#pragma once

// random_values: the random source behind the generated randomize() functions
// (test support). Values lean towards the edges: limits of each integer type,
// empty and null containers, unknown tagged fields.

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "base/shared_bytes.h"
#include "base/uuid.h"
#include "protocol/wire_types.h"

namespace sluice::protocol::testing {

class random_values {
 public:
  explicit random_values(uint64_t seed) : engine_(seed) {}

  bool one_in(int n) { return std::uniform_int_distribution<int>(0, n - 1)(engine_) == 0; }
  size_t small_count() { return std::uniform_int_distribution<size_t>(0, 3)(engine_); }

  template <typename T>
  requires std::is_integral_v<T>
  void fill(T& value) {
    switch (std::uniform_int_distribution<int>(0, 5)(engine_)) {
      case 0:
        value = std::numeric_limits<T>::min();
        break;
      case 1:
        value = std::numeric_limits<T>::max();
        break;
      case 2:
        value = 0;
        break;
      default:
        value = static_cast<T>(engine_());
        break;
    }
  }
  void fill(bool& value) { value = one_in(2); }
  void fill(double& value) { value = std::uniform_real_distribution<double>(-1e9, 1e9)(engine_); }
  void fill(base::uuid& id) {
    for (auto& b : id.bytes) b = static_cast<uint8_t>(engine_());
  }

  std::string string() {
    std::string s(std::uniform_int_distribution<size_t>(0, 12)(engine_), 'x');
    for (auto& c : s) c = static_cast<char>(std::uniform_int_distribution<int>(32, 126)(engine_));
    return s;
  }

  base::shared_bytes bytes() {
    std::vector<uint8_t> b(std::uniform_int_distribution<size_t>(0, 40)(engine_));
    for (auto& x : b) x = static_cast<uint8_t>(engine_());
    return base::shared_bytes(std::move(b));
  }

  // Sometimes adds tagged fields with tag numbers no schema uses, in ascending order.
  void unknown_tags(std::vector<raw_tagged_field>& tags) {
    if (!one_in(3)) return;
    uint32_t tag = 10000;
    for (size_t i = 0, n = 1 + small_count(); i < n; ++i) {
      tag += 1 + static_cast<uint32_t>(small_count());
      tags.push_back({tag, bytes()});
    }
  }

 private:
  std::mt19937_64 engine_;
};

}  // namespace sluice::protocol::testing
