#include "raft/types.h"

#include "base/byte_reader.h"
#include "base/byte_writer.h"

namespace sluice::raft {

namespace {

// A version byte first, so the encoding can grow (KRaft's voters record did
// when it gained directory ids and endpoints).
constexpr uint8_t configuration_version = 1;
// Far above any real replica set; a bound on what a corrupt length can ask for.
constexpr uint32_t max_members = 4096;

void write_ids(base::byte_writer& out, const std::vector<node_id>& ids) {
  out.write_uint32(static_cast<uint32_t>(ids.size()));
  for (node_id id : ids) out.write_int32(id);
}

bool read_ids(base::byte_reader& in, std::vector<node_id>& ids) {
  uint32_t n = in.read_uint32();
  if (!in.ok() || n > max_members || !in.require(size_t{n} * 4)) return false;
  ids.clear();
  ids.reserve(n);
  for (uint32_t i = 0; i < n; ++i) ids.push_back(in.read_int32());
  return in.ok();
}

}  // namespace

base::shared_bytes encode_configuration(const configuration& config) {
  base::byte_writer out(9 + 4 * (config.voters.size() + config.learners.size()));
  out.write_uint8(configuration_version);
  write_ids(out, config.voters);
  write_ids(out, config.learners);
  return base::shared_bytes(out.take());
}

bool decode_configuration(std::span<const uint8_t> bytes, configuration& out) {
  base::byte_reader in(base::shared_bytes::copy_of(bytes));
  if (in.read_uint8() != configuration_version || !in.ok()) return false;
  configuration decoded;
  if (!read_ids(in, decoded.voters) || !read_ids(in, decoded.learners)) return false;
  if (in.remaining() != 0) return false;
  out = std::move(decoded);
  return true;
}

}  // namespace sluice::raft
