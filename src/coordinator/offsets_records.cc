#include "coordinator/offsets_records.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <limits>
#include <string>
#include <utility>

#include "base/byte_reader.h"
#include "base/byte_writer.h"
#include "protocol/messages/group_metadata_key.h"
#include "protocol/messages/group_metadata_value.h"
#include "protocol/messages/offset_commit_key.h"
#include "protocol/messages/offset_commit_value.h"
#include "protocol/record_batch.h"
#include "storage/partition_log.h"

namespace sluice::coordinator {
namespace {

// The versions Kafka writes. Offset commit keys of version 0, which older
// brokers wrote, read as version 1 does.
constexpr int16_t offset_commit_key_version = 1;
constexpr int16_t group_metadata_key_version = 2;
constexpr int16_t offset_commit_value_version = 3;
// The only version with an expire timestamp, which Kafka still writes when a
// commit carries one (OffsetCommit v1's retention), losing the leader epoch.
constexpr int16_t offset_commit_value_version_with_expiry = 1;
constexpr int16_t group_metadata_value_version = 3;

// How much of the log one read takes during replay; a larger batch comes
// whole.
constexpr size_t replay_chunk_bytes = 1 << 20;
// The most a compressed batch may inflate to, as the log's own reads allow.
constexpr size_t max_decompressed_batch_bytes = 256 << 20;

constexpr uint32_t replacement_character = 0xFFFD;

struct utf8_step {
  uint32_t code_point = 0;
  size_t length = 0;  // bytes consumed, at least 1
};

// The code point at the start of `text` (not empty). Ill-formed input
// becomes U+FFFD as the JDK's UTF-8 decoder (new String(bytes, UTF_8), how
// a Kafka broker reads a group id) replaces it: one U+FFFD for each maximal
// prefix of a well-formed sequence, and one for a whole encoded surrogate
// (ED A0..BF 80..BF). So the hash is the one Kafka computes from the same
// bytes.
utf8_step next_code_point(std::string_view text) {
  const auto lead = static_cast<uint8_t>(text[0]);
  if (lead < 0x80) return {lead, 1};
  size_t length;
  uint32_t value;
  // The range of the second byte; later ones are always 80..BF. The limits
  // exclude overlong forms and code points above U+10FFFF.
  uint8_t second_min = 0x80;
  uint8_t second_max = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    value = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    value = lead & 0x0F;
    if (lead == 0xE0) second_min = 0xA0;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    value = lead & 0x07;
    if (lead == 0xF0) second_min = 0x90;
    if (lead == 0xF4) second_max = 0x8F;
  } else {
    return {replacement_character, 1};
  }
  for (size_t i = 1; i < length; ++i) {
    if (i == text.size()) return {replacement_character, i};
    const auto byte = static_cast<uint8_t>(text[i]);
    const uint8_t min = i == 1 ? second_min : 0x80;
    const uint8_t max = i == 1 ? second_max : 0xBF;
    if (byte < min || byte > max) return {replacement_character, i};
    value = (value << 6) | (byte & 0x3F);
  }
  if (value >= 0xD800 && value <= 0xDFFF) return {replacement_character, length};
  return {value, length};
}

// Java's String.hashCode (s[0]*31^(n-1) + ... + s[n-1], wrapping) over the
// UTF-16 code units of `text`.
int32_t java_string_hash(std::string_view text) {
  uint32_t hash = 0;
  const auto add = [&hash](uint32_t code_unit) { hash = hash * 31 + code_unit; };
  while (!text.empty()) {
    utf8_step step = next_code_point(text);
    if (step.code_point > 0xFFFF) {
      const uint32_t bits = step.code_point - 0x10000;
      add(0xD800 + (bits >> 10));
      add(0xDC00 + (bits & 0x3FF));
    } else {
      add(step.code_point);
    }
    text.remove_prefix(step.length);
  }
  return static_cast<int32_t>(hash);
}

template <typename T>
std::vector<uint8_t> encode_versioned(const T& message, int16_t version) {
  base::byte_writer w;
  w.write_int16(version);
  message.encode(w, version);
  return w.take();
}

base::result<int16_t> read_version(base::byte_reader& r, std::string_view what) {
  const int16_t version = r.read_int16();
  if (!r.ok()) {
    return base::fail(std::string(what) + ": too short for its int16 version");
  }
  return version;
}

// The rest of `r` as a T of `version`: all of it, and nothing more.
template <typename T>
base::result<T> read_struct(base::byte_reader& r, int16_t version) {
  const std::string name(T::name);
  if (version < T::min_version || version > T::max_version) {
    return base::fail(name + ": unknown version " + std::to_string(version));
  }
  T message;
  message.decode(r, version);
  if (!r.ok()) {
    return base::fail(name + " v" + std::to_string(version) + ": " + r.error() + " at byte " +
                      std::to_string(r.error_position()));
  }
  if (r.remaining() != 0) {
    return base::fail(name + " v" + std::to_string(version) + ": " + std::to_string(r.remaining()) +
                      " bytes follow it");
  }
  return message;
}

base::result<committed_offset> decode_committed_offset(std::span<const uint8_t> bytes) {
  base::byte_reader r(base::shared_bytes::copy_of(bytes));
  auto version = read_version(r, protocol::offset_commit_value::name);
  if (!version) return base::unexpected(version.error());
  auto value = read_struct<protocol::offset_commit_value>(r, *version);
  if (!value) return base::unexpected(value.error());
  return committed_offset{
      .offset = value->offset,
      .leader_epoch = value->leader_epoch,
      .metadata = std::move(value->metadata),
      .commit_timestamp_ms = value->commit_timestamp,
      .expire_timestamp_ms = value->expire_timestamp,
  };
}

base::result<stored_group> decode_stored_group(std::span<const uint8_t> bytes) {
  base::byte_reader r(base::shared_bytes::copy_of(bytes));
  auto version = read_version(r, protocol::group_metadata_value::name);
  if (!version) return base::unexpected(version.error());
  auto value = read_struct<protocol::group_metadata_value>(r, *version);
  if (!value) return base::unexpected(value.error());
  stored_group group{
      .protocol_type = std::move(value->protocol_type),
      .generation = value->generation,
      .protocol = std::move(value->protocol),
      .leader = std::move(value->leader),
      .current_state_timestamp_ms = value->current_state_timestamp,
  };
  group.members.reserve(value->members.size());
  for (auto& m : value->members) {
    group.members.push_back({
        .member_id = std::move(m.member_id),
        .group_instance_id = std::move(m.group_instance_id),
        .client_id = std::move(m.client_id),
        .client_host = std::move(m.client_host),
        // Version 0 has no rebalance timeout: Kafka takes the session
        // timeout for it.
        .rebalance_timeout_ms = *version == 0 ? m.session_timeout : m.rebalance_timeout,
        .session_timeout_ms = m.session_timeout,
        .subscription = std::move(m.subscription),
        .assignment = std::move(m.assignment),
    });
  }
  return group;
}

// Hands the records of `batch` that decode to `visit`; warns about the rest.
void replay_batch(const protocol::record_batch& batch, const std::string& directory,
                  const std::function<void(offsets_entry&&)>& visit) {
  const protocol::batch_header& header = batch.header();
  auto reader = protocol::record_reader::open(batch, max_decompressed_batch_bytes);
  if (!reader) {
    spdlog::warn("replay {}: batch at offset {} skipped: {}", directory, header.base_offset,
                 reader.error().message);
    return;
  }
  protocol::record r;
  for (;;) {
    auto more = reader->next(r);
    if (!more) {
      // Where the next record starts is unknown: the rest of the batch goes.
      spdlog::warn("replay {}: rest of the batch at offset {} skipped: {}", directory,
                   header.base_offset, more.error().message);
      return;
    }
    if (!*more) return;
    const int64_t offset = r.offset(header);
    if (!r.key) {
      spdlog::warn("replay {}: record at offset {} skipped: it has no key", directory, offset);
      continue;
    }
    std::optional<std::span<const uint8_t>> value;
    if (r.value) value = r.value->span();
    auto entry = decode_offsets_record(r.key->span(), value);
    if (!entry) {
      spdlog::warn("replay {}: record at offset {} skipped: {}", directory, offset,
                   entry.error().message);
      continue;
    }
    if (*entry) visit(std::move(**entry));
  }
}

}  // namespace

int32_t offsets_partition_for(std::string_view group_id, int32_t partition_count) {
  assert(partition_count > 0);
  // Kafka's Utils.abs: the absolute value, except that INT32_MIN (whose
  // absolute value does not fit) is 0.
  const int32_t hash = java_string_hash(group_id);
  const int32_t positive =
      hash == std::numeric_limits<int32_t>::min() ? 0 : (hash < 0 ? -hash : hash);
  return positive % partition_count;
}

offsets_record offset_commit_record(std::string_view group, std::string_view topic,
                                    int32_t partition, const committed_offset& offset) {
  offsets_record record = offset_tombstone(group, topic, partition);
  protocol::offset_commit_value value;
  value.offset = offset.offset;
  value.leader_epoch = offset.leader_epoch;
  value.metadata = offset.metadata;
  value.commit_timestamp = offset.commit_timestamp_ms;
  value.expire_timestamp = offset.expire_timestamp_ms;
  record.value = encode_versioned(value, offset.expire_timestamp_ms == -1
                                             ? offset_commit_value_version
                                             : offset_commit_value_version_with_expiry);
  return record;
}

offsets_record offset_tombstone(std::string_view group, std::string_view topic, int32_t partition) {
  protocol::offset_commit_key key;
  key.group = group;
  key.topic = topic;
  key.partition = partition;
  return {encode_versioned(key, offset_commit_key_version), std::nullopt};
}

offsets_record group_metadata_record(std::string_view group, const stored_group& value) {
  offsets_record record = group_tombstone(group);
  protocol::group_metadata_value v;
  v.protocol_type = value.protocol_type;
  v.generation = value.generation;
  v.protocol = value.protocol;
  v.leader = value.leader;
  v.current_state_timestamp = value.current_state_timestamp_ms;
  v.members.reserve(value.members.size());
  for (const stored_member& m : value.members) {
    protocol::group_metadata_value::member_metadata member;
    member.member_id = m.member_id;
    member.group_instance_id = m.group_instance_id;
    member.client_id = m.client_id;
    member.client_host = m.client_host;
    member.rebalance_timeout = m.rebalance_timeout_ms;
    member.session_timeout = m.session_timeout_ms;
    member.subscription = m.subscription;
    member.assignment = m.assignment;
    v.members.push_back(std::move(member));
  }
  record.value = encode_versioned(v, group_metadata_value_version);
  return record;
}

offsets_record group_tombstone(std::string_view group) {
  protocol::group_metadata_key key;
  key.group = group;
  return {encode_versioned(key, group_metadata_key_version), std::nullopt};
}

base::result<std::vector<uint8_t>> offsets_batch(std::span<const offsets_record> records,
                                                 int64_t now_ms) {
  // The default options are the batch wanted: uncompressed, CreateTime, no
  // producer id; the log assigns the offsets.
  protocol::record_batch_builder builder;
  for (const offsets_record& record : records) {
    protocol::optional_bytes value;
    if (record.value) value = std::span<const uint8_t>(*record.value);
    builder.add(now_ms, std::span<const uint8_t>(record.key), value);
  }
  return builder.build();
}

base::result<std::optional<offsets_entry>> decode_offsets_record(
    std::span<const uint8_t> key, std::optional<std::span<const uint8_t>> value) {
  base::byte_reader r(base::shared_bytes::copy_of(key));
  auto version = read_version(r, "offsets record key");
  if (!version) return base::unexpected(version.error());

  if (*version == 0 || *version == offset_commit_key_version) {
    auto k = read_struct<protocol::offset_commit_key>(r, *version);
    if (!k) return base::unexpected(k.error());
    offset_commit_entry entry{std::move(k->group), std::move(k->topic), k->partition, {}};
    if (value) {
      auto v = decode_committed_offset(*value);
      if (!v) return base::unexpected(v.error());
      entry.value = std::move(*v);
    }
    return std::optional<offsets_entry>(std::move(entry));
  }
  if (*version == group_metadata_key_version) {
    auto k = read_struct<protocol::group_metadata_key>(r, *version);
    if (!k) return base::unexpected(k.error());
    group_metadata_entry entry{std::move(k->group), {}};
    if (value) {
      auto v = decode_stored_group(*value);
      if (!v) return base::unexpected(v.error());
      entry.value = std::move(*v);
    }
    return std::optional<offsets_entry>(std::move(entry));
  }
  return std::optional<offsets_entry>{};
}

base::result<void> replay_offsets_log(storage::partition_log& log,
                                      const std::function<void(offsets_entry&&)>& visit) {
  const std::string& directory = log.directory();
  // Appends made meanwhile are the caller's to apply: the replay stops at
  // the end the log had when it began.
  const int64_t log_end = log.log_end_offset();
  int64_t offset = log.log_start_offset();
  while (offset < log_end) {
    auto slice = log.read(offset, replay_chunk_bytes, log_end);
    if (!slice && slice.error().code == ERANGE && offset < log.log_start_offset()) {
      // Retention moved the log start past `offset` meanwhile: what it
      // removed is gone, the replay goes on from the new start.
      offset = log.log_start_offset();
      continue;
    }
    if (!slice) return base::fail("replay " + directory + ": " + slice.error().message);
    // Nothing left below the end: compaction emptied the rest.
    if (!*slice) break;
    auto bytes = (*slice)->read();
    if (!bytes) return base::fail("replay " + directory + ": " + bytes.error().message);
    protocol::batch_splitter splitter(*bytes);
    int64_t next = offset;
    for (;;) {
      auto batch = splitter.next();
      if (!batch) {
        return base::fail("replay " + directory + ": batch after offset " + std::to_string(next) +
                          ": " + batch.error().message);
      }
      if (!*batch) break;
      const protocol::batch_header& header = (*batch)->header();
      next = std::max(next, header.last_offset() + 1);
      if (header.is_control()) continue;
      replay_batch(**batch, directory, visit);
    }
    // A read that moves nothing forward would repeat for ever.
    if (next <= offset) {
      return base::fail("replay " + directory + ": no batch at offset " + std::to_string(offset));
    }
    offset = next;
  }
  return {};
}

}  // namespace sluice::coordinator
