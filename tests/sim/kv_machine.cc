#include "sim/kv_machine.h"

#include <stdexcept>

#include "base/byte_reader.h"
#include "base/byte_writer.h"
#include "sim/random.h"

namespace sluice::sim {

namespace {

constexpr uint8_t command_tag = 0x4b;   // 'K'
constexpr uint8_t snapshot_tag = 0x53;  // 'S'

void write_string(base::byte_writer& out, const std::string& s) {
  out.write_uint32(static_cast<uint32_t>(s.size()));
  out.write_bytes(s);
}

bool read_string(base::byte_reader& in, std::string& s) {
  uint32_t n = in.read_uint32();
  if (!in.ok() || !in.require(n)) return false;
  s = in.read_string(n);
  return in.ok();
}

}  // namespace

base::shared_bytes encode_command(const kv_command& command) {
  base::byte_writer out(32 + command.key.size() + command.value.size());
  out.write_uint8(command_tag);
  out.write_int32(command.client);
  out.write_int64(static_cast<int64_t>(command.op));
  write_string(out, command.key);
  write_string(out, command.value);
  return base::shared_bytes(out.take());
}

std::optional<kv_command> decode_command(const base::shared_bytes& bytes) {
  base::byte_reader in(bytes);
  kv_command c;
  if (in.read_uint8() != command_tag || !in.ok()) return std::nullopt;
  c.client = in.read_int32();
  c.op = static_cast<uint64_t>(in.read_int64());
  if (!in.ok() || !read_string(in, c.key) || !read_string(in, c.value) || in.remaining() != 0) {
    return std::nullopt;
  }
  return c;
}

std::optional<kv_command> kv_machine::apply(const raft::entry& e) {
  if (e.type != raft::entry_type::data) return std::nullopt;
  std::optional<kv_command> c = decode_command(e.data);
  if (!c) {
    throw std::runtime_error("kv_machine: entry " + std::to_string(e.index) + " is not a command");
  }
  map_[c->key] = c->value;
  return c;
}

std::optional<std::string> kv_machine::get(const std::string& key) const {
  auto it = map_.find(key);
  if (it == map_.end()) return std::nullopt;
  return it->second;
}

uint64_t kv_machine::digest() const {
  uint64_t h = 0;
  for (const auto& [k, v] : map_) h = hash_mix(hash_mix(h, hash_string(k)), hash_string(v));
  return h;
}

base::shared_bytes kv_machine::snapshot() const {
  base::byte_writer out;
  out.write_uint8(snapshot_tag);
  out.write_uint32(static_cast<uint32_t>(map_.size()));
  for (const auto& [k, v] : map_) {
    write_string(out, k);
    write_string(out, v);
  }
  return base::shared_bytes(out.take());
}

bool kv_machine::restore(std::span<const uint8_t> bytes) {
  if (bytes.empty()) {
    map_.clear();
    return true;
  }
  base::byte_reader in(base::shared_bytes::copy_of(bytes));
  if (in.read_uint8() != snapshot_tag) return false;
  uint32_t n = in.read_uint32();
  if (!in.ok()) return false;
  std::map<std::string, std::string> restored;
  for (uint32_t i = 0; i < n; ++i) {
    std::string k, v;
    if (!read_string(in, k) || !read_string(in, v)) return false;
    restored.emplace(std::move(k), std::move(v));
  }
  if (in.remaining() != 0) return false;
  map_ = std::move(restored);
  return true;
}

}  // namespace sluice::sim
