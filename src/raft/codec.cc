#include "raft/codec.h"

#include <algorithm>
#include <limits>
#include <stdexcept>
#include <string>
#include <variant>

#include "base/byte_reader.h"
#include "base/byte_writer.h"

namespace sluice::raft {

namespace {

constexpr uint8_t batch_version = 1;

// The boolean fields of a message share one byte of flags.
constexpr uint8_t vote_request_pre_vote = 1;
constexpr uint8_t vote_request_transfer = 2;
constexpr uint8_t vote_response_granted = 1;
constexpr uint8_t vote_response_pre_vote = 2;
constexpr uint8_t append_response_success = 1;
// Reservations made from counts a peer sent are capped: the vectors grow
// only as far as what is really there.
constexpr uint32_t max_reserve = 1024;

// byte_reader has no unsigned 64-bit varint, so group ids and sequence
// numbers travel as ZigZag varlongs of their bits: one bit more per value.
void write_u64(base::byte_writer& out, uint64_t v) { out.write_varlong(static_cast<int64_t>(v)); }
uint64_t read_u64(base::byte_reader& in) { return static_cast<uint64_t>(in.read_varlong()); }

// Terms and indexes are never negative; refusing negative ones here keeps
// arithmetic in the core (index + count) away from overflow.
int64_t read_natural(base::byte_reader& in) {
  int64_t v = in.read_varlong();
  if (v < 0) in.fail("negative term or index");
  return v;
}

// A count of items that take at least one byte each: more than the bytes
// left is a lie.
uint32_t read_count(base::byte_reader& in) {
  uint32_t n = in.read_uvarint();
  if (n > in.remaining()) in.fail("count larger than the input");
  return in.ok() ? n : 0;
}

void write_bytes(base::byte_writer& out, const base::shared_bytes& bytes) {
  out.write_uvarint(static_cast<uint32_t>(bytes.size()));
  out.write_bytes(bytes.span());
}

base::shared_bytes read_bytes(base::byte_reader& in) { return in.read_bytes(in.read_uvarint()); }

uint8_t read_flags(base::byte_reader& in, uint8_t known) {
  uint8_t flags = in.read_uint8();
  if ((flags & ~known) != 0) in.fail("unknown flags");
  return flags;
}

void write_ids(base::byte_writer& out, const std::vector<node_id>& ids) {
  out.write_uvarint(static_cast<uint32_t>(ids.size()));
  for (node_id id : ids) out.write_varint(id);
}

std::vector<node_id> read_ids(base::byte_reader& in) {
  uint32_t n = read_count(in);
  std::vector<node_id> ids;
  ids.reserve(std::min(n, max_reserve));
  for (uint32_t i = 0; i < n && in.ok(); ++i) ids.push_back(in.read_varint());
  return ids;
}

// --- Encoding, one overload per message kind ---

void encode(base::byte_writer& out, const vote_request& m) {
  out.write_varlong(m.term);
  out.write_varlong(m.last_index);
  out.write_varlong(m.last_term);
  out.write_uint8((m.pre_vote ? vote_request_pre_vote : 0) |
                  (m.transfer ? vote_request_transfer : 0));
}

void encode(base::byte_writer& out, const vote_response& m) {
  out.write_varlong(m.term);
  out.write_uint8((m.granted ? vote_response_granted : 0) |
                  (m.pre_vote ? vote_response_pre_vote : 0));
}

void encode(base::byte_writer& out, const append_request& m) {
  out.write_varlong(m.term);
  out.write_varlong(m.prev_index);
  out.write_varlong(m.prev_term);
  out.write_varlong(m.commit);
  out.write_uvarint(static_cast<uint32_t>(m.entries.size()));
  uint64_t expected = static_cast<uint64_t>(m.prev_index) + 1;
  for (const entry& e : m.entries) {
    out.write_varlong(static_cast<int64_t>(static_cast<uint64_t>(e.index) - expected));
    out.write_varlong(e.term);
    out.write_varint(e.count);
    out.write_uint8(static_cast<uint8_t>(e.type));
    write_bytes(out, e.data);
    expected = static_cast<uint64_t>(e.index) + static_cast<uint64_t>(e.count);
  }
}

void encode(base::byte_writer& out, const append_response& m) {
  out.write_varlong(m.term);
  out.write_uint8(m.success ? append_response_success : 0);
  out.write_varlong(m.match);
  out.write_varlong(m.hint);
  out.write_varlong(m.hint_term);
  out.write_varlong(m.rejected);
}

void encode(base::byte_writer& out, const heartbeat_request& m) {
  out.write_varlong(m.term);
  out.write_varlong(m.commit);
  write_u64(out, m.sequence);
}

void encode(base::byte_writer& out, const heartbeat_response& m) {
  out.write_varlong(m.term);
  write_u64(out, m.sequence);
  out.write_varlong(m.last_index);
  out.write_varlong(m.match);
}

void encode(base::byte_writer& out, const install_snapshot_request& m) {
  out.write_varlong(m.term);
  out.write_varlong(m.snap.meta.index);
  out.write_varlong(m.snap.meta.term);
  write_ids(out, m.snap.meta.config.voters);
  write_ids(out, m.snap.meta.config.learners);
  write_bytes(out, m.snap.data);
}

void encode(base::byte_writer& out, const install_snapshot_response& m) {
  out.write_varlong(m.term);
  out.write_varlong(m.index);
}

void encode(base::byte_writer& out, const timeout_now_request& m) { out.write_varlong(m.term); }

// --- Decoding ---

void decode(base::byte_reader& in, vote_request& m) {
  m.term = read_natural(in);
  m.last_index = read_natural(in);
  m.last_term = read_natural(in);
  uint8_t flags = read_flags(in, vote_request_pre_vote | vote_request_transfer);
  m.pre_vote = (flags & vote_request_pre_vote) != 0;
  m.transfer = (flags & vote_request_transfer) != 0;
}

void decode(base::byte_reader& in, vote_response& m) {
  m.term = read_natural(in);
  uint8_t flags = read_flags(in, vote_response_granted | vote_response_pre_vote);
  m.granted = (flags & vote_response_granted) != 0;
  m.pre_vote = (flags & vote_response_pre_vote) != 0;
}

bool valid_entry_type(uint8_t t) { return t <= static_cast<uint8_t>(entry_type::configuration); }

void decode(base::byte_reader& in, append_request& m) {
  m.term = read_natural(in);
  m.prev_index = read_natural(in);
  m.prev_term = read_natural(in);
  m.commit = read_natural(in);
  uint32_t n = read_count(in);
  m.entries.reserve(std::min(n, max_reserve));
  uint64_t expected = static_cast<uint64_t>(m.prev_index) + 1;
  for (uint32_t i = 0; i < n && in.ok(); ++i) {
    entry e;
    e.index = static_cast<int64_t>(expected + static_cast<uint64_t>(in.read_varlong()));
    e.term = read_natural(in);
    e.count = in.read_varint();
    uint8_t type = in.read_uint8();
    e.data = read_bytes(in);
    if (e.index < 0 || e.count < 1 || e.index > std::numeric_limits<index_t>::max() - e.count) {
      in.fail("entry index or count out of range");
    }
    if (!valid_entry_type(type)) in.fail("unknown entry type");
    e.type = static_cast<entry_type>(type);
    expected = static_cast<uint64_t>(e.index) + static_cast<uint64_t>(e.count);
    m.entries.push_back(std::move(e));
  }
}

void decode(base::byte_reader& in, append_response& m) {
  m.term = read_natural(in);
  m.success = read_flags(in, append_response_success) != 0;
  m.match = read_natural(in);
  m.hint = read_natural(in);
  m.hint_term = read_natural(in);
  m.rejected = read_natural(in);
}

void decode(base::byte_reader& in, heartbeat_request& m) {
  m.term = read_natural(in);
  m.commit = read_natural(in);
  m.sequence = read_u64(in);
}

void decode(base::byte_reader& in, heartbeat_response& m) {
  m.term = read_natural(in);
  m.sequence = read_u64(in);
  m.last_index = read_natural(in);
  m.match = read_natural(in);
}

void decode(base::byte_reader& in, install_snapshot_request& m) {
  m.term = read_natural(in);
  m.snap.meta.index = read_natural(in);
  m.snap.meta.term = read_natural(in);
  m.snap.meta.config.voters = read_ids(in);
  m.snap.meta.config.learners = read_ids(in);
  m.snap.data = read_bytes(in);
}

void decode(base::byte_reader& in, install_snapshot_response& m) {
  m.term = read_natural(in);
  m.index = read_natural(in);
}

void decode(base::byte_reader& in, timeout_now_request& m) { m.term = read_natural(in); }

// Default-constructs alternative `kind` of the body and decodes into it.
template <size_t I = 0>
void decode_body(base::byte_reader& in, size_t kind, message_body& body) {
  if constexpr (I < std::variant_size_v<message_body>) {
    if (kind == I) {
      decode(in, body.emplace<I>());
    } else {
      decode_body<I + 1>(in, kind, body);
    }
  } else {
    in.fail("unknown message kind");
  }
}

}  // namespace

std::vector<uint8_t> encode_batch(node_id from, node_id to, std::span<const message> messages) {
  base::byte_writer out(16 + 16 * messages.size());
  out.write_uint8(batch_version);
  out.write_varint(from);
  out.write_varint(to);
  out.write_uvarint(static_cast<uint32_t>(messages.size()));
  for (const message& m : messages) {
    if (m.from != from || m.to != to) {
      throw std::invalid_argument("encode_batch: a message for another pair of nodes");
    }
    write_u64(out, m.group);
    out.write_uint8(static_cast<uint8_t>(m.body.index()));
    std::visit([&](const auto& body) { encode(out, body); }, m.body);
  }
  return out.take();
}

base::result<std::vector<message>> decode_batch(base::shared_bytes bytes) {
  base::byte_reader in(std::move(bytes));
  if (in.read_uint8() != batch_version && in.ok()) in.fail("unknown batch version");
  node_id from = in.read_varint();
  node_id to = in.read_varint();
  if (from < 0 || to < 0) in.fail("negative node id");
  uint32_t n = read_count(in);
  std::vector<message> messages;
  messages.reserve(std::min(n, max_reserve));
  for (uint32_t i = 0; i < n && in.ok(); ++i) {
    message m;
    m.group = read_u64(in);
    m.from = from;
    m.to = to;
    decode_body(in, in.read_uint8(), m.body);
    messages.push_back(std::move(m));
  }
  if (in.ok() && in.remaining() != 0) in.fail("trailing bytes");
  if (!in.ok()) {
    return base::fail(std::string("raft batch: ") + in.error() + " at byte " +
                      std::to_string(in.error_position()));
  }
  return messages;
}

}  // namespace sluice::raft
