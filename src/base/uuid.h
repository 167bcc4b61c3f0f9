#pragma once

// uuid: Kafka's 128-bit identifier (topic ids, directory ids). All zeros is
// Kafka's "zero UUID", meaning "no id".

#include <array>
#include <cstdint>
#include <string>

namespace sluice::base {

struct uuid {
  std::array<uint8_t, 16> bytes{};

  bool is_zero() const {
    for (auto b : bytes)
      if (b != 0) return false;
    return true;
  }
  // Kafka prints ids in URL-safe base64 without padding (22 characters).
  std::string to_string() const;

  // A random (version 4) id, as Kafka's Uuid.randomUuid(): never the zero
  // id, nor the metadata topic's reserved id (0, 1), nor one whose printed
  // form starts with '-' (it would read as a command-line flag).
  static uuid random();

  friend bool operator==(const uuid&, const uuid&) = default;
};

}  // namespace sluice::base
