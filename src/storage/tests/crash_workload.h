#pragma once

// What the crash test's child (crash_child.cc) writes and the test
// (crash_test.cc) checks: one partition whose records carry a sequence number
// each, 0, 1, 2, ... in log order, with a value derived from it alone. The
// child takes up the sequence from the last record it finds in the log, never
// from an offset, so a log that assigned offsets wrongly, lost a batch in the
// middle or kept one twice shows as a value that does not match its offset.

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "storage/log_config.h"
#include "storage/log_manager.h"

namespace sluice::storage::crash {

inline const topic_partition partition{"crash", 0};

// Small segments, so that a run of a few hundred restarts rolls often and a
// kill lands in a roll now and then; flush.ms lets the background flusher
// fsync the unsynced appends too.
inline log_config config() {
  log_config c;
  c.segment_bytes = 64 * 1024;
  c.flush_ms = 20;
  return c;
}

// "seq-<n>-" and filler up to a length taken from a hash of n: mostly short
// values, and one in 64 of a few KiB, so that some batches span pages and a
// kill can tear them in the middle.
inline std::string value_of(int64_t seq) {
  uint64_t h = static_cast<uint64_t>(seq) * 0x9E3779B97F4A7C15ull;
  h ^= h >> 29;
  size_t length = h % 64 == 0 ? 2000 + h % 2000 : 16 + h % 200;
  std::string value = "seq-" + std::to_string(seq) + "-";
  value.resize(std::max(length, value.size()), static_cast<char>('a' + seq % 26));
  return value;
}

// The sequence number a value carries, if it is exactly value_of() of it.
inline std::optional<int64_t> sequence_of(std::span<const uint8_t> value) {
  std::string_view text(reinterpret_cast<const char*>(value.data()), value.size());
  constexpr std::string_view prefix = "seq-";
  if (!text.starts_with(prefix)) return std::nullopt;
  int64_t seq = -1;
  const char* digits = text.data() + prefix.size();
  auto [end, ec] = std::from_chars(digits, text.data() + text.size(), seq);
  if (ec != std::errc() || seq < 0 || value_of(seq) != text) return std::nullopt;
  return seq;
}

}  // namespace sluice::storage::crash
