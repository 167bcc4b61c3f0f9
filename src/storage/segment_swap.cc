#include "storage/segment_swap.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <optional>
#include <set>
#include <span>
#include <vector>

#include "base/crc32c.h"
#include "base/endian.h"
#include "storage/segment.h"

namespace sluice::storage {
namespace {

constexpr std::string_view replaces_name = "replaces";

// The order in which a cleaned segment's files move: its .log last, because
// recovery takes a .log still in `swap/` to mean the segment has not moved.
constexpr std::array<std::string_view, 3> move_order = {offset_index_extension,
                                                        time_index_extension, log_extension};

// What `replaces` says: the range replaced and the cleaned segments' base
// offsets, ascending, all within it.
struct swap_record {
  int64_t first = 0;
  int64_t end = 0;
  std::vector<int64_t> cleaned;
};

// [first, end) and the bases as big-endian int64s after an int32 count, then a
// CRC-32C of all that: a record either reads back whole or not at all.
constexpr size_t fixed_bytes = 8 + 8 + 4;
constexpr size_t crc_bytes = 4;

std::vector<uint8_t> encode(const swap_record& r) {
  std::vector<uint8_t> out(fixed_bytes + 8 * r.cleaned.size() + crc_bytes);
  base::store_be(out.data(), r.first);
  base::store_be(out.data() + 8, r.end);
  base::store_be(out.data() + 16, static_cast<int32_t>(r.cleaned.size()));
  for (size_t i = 0; i < r.cleaned.size(); ++i) {
    base::store_be(out.data() + fixed_bytes + 8 * i, r.cleaned[i]);
  }
  size_t body = out.size() - crc_bytes;
  base::store_be(out.data() + body, base::crc32c::value(out.data(), body));
  return out;
}

bool well_formed(const swap_record& r) {
  if (r.first > r.end) return false;
  if (!std::is_sorted(r.cleaned.begin(), r.cleaned.end())) return false;
  if (std::adjacent_find(r.cleaned.begin(), r.cleaned.end()) != r.cleaned.end()) return false;
  return r.cleaned.empty() || (r.cleaned.front() >= r.first && r.cleaned.back() < r.end);
}

std::optional<swap_record> decode(std::span<const uint8_t> bytes) {
  if (bytes.size() < fixed_bytes + crc_bytes) return std::nullopt;
  size_t body = bytes.size() - crc_bytes;
  if (base::load_be<uint32_t>(bytes.data() + body) != base::crc32c::value(bytes.data(), body)) {
    return std::nullopt;
  }
  swap_record r;
  r.first = base::load_be<int64_t>(bytes.data());
  r.end = base::load_be<int64_t>(bytes.data() + 8);
  auto count = base::load_be<int32_t>(bytes.data() + 16);
  if (count < 0 || body != fixed_bytes + 8 * static_cast<size_t>(count)) return std::nullopt;
  for (int32_t i = 0; i < count; ++i) {
    r.cleaned.push_back(base::load_be<int64_t>(bytes.data() + fixed_bytes + 8 * i));
  }
  if (!well_formed(r)) return std::nullopt;
  return r;
}

io_result<void> write_record(file_system& fs, const std::string& path, const swap_record& r) {
  auto f = fs.open(path, open_mode::create_read_write);
  if (!f) return base::unexpected(f.error());
  std::vector<uint8_t> bytes = encode(r);
  auto cut = (*f)->truncate(0);
  if (!cut) return cut;
  auto written = (*f)->write_at(0, bytes);
  if (!written) return written;
  return (*f)->sync();
}

io_result<swap_record> read_record(file_system& fs, const std::string& path) {
  auto f = fs.open(path, open_mode::read_only);
  if (!f) return base::unexpected(f.error());
  auto size = (*f)->size();
  if (!size) return base::unexpected(size.error());
  // Far more than any swap needs; a larger file is not a record.
  constexpr uint64_t max_record_bytes = 1 << 20;
  if (*size > max_record_bytes) return base::unexpected(make_io_error(EBADMSG, "read", path));
  std::vector<uint8_t> bytes(*size);
  auto n = (*f)->read_at(0, bytes);
  if (!n) return base::unexpected(n.error());
  bytes.resize(*n);
  auto r = decode(bytes);
  if (!r) return base::unexpected(make_io_error(EBADMSG, "read", path));
  return *r;
}

// The base offsets of the segments in `directory`, by their .log files.
std::set<int64_t> log_bases(const std::vector<std::string>& names) {
  std::set<int64_t> bases;
  for (const auto& name : names) {
    if (auto base = parse_segment_file_name(name, log_extension)) bases.insert(*base);
  }
  return bases;
}

// The base offset of a segment file of any of the three kinds.
std::optional<int64_t> segment_file_base(const std::string& name) {
  for (auto extension : move_order) {
    if (auto base = parse_segment_file_name(name, extension)) return base;
  }
  return std::nullopt;
}

struct offset_range {
  int64_t from = 0;
  int64_t to = 0;  // exclusive
  bool contains(int64_t offset) const { return offset >= from && offset < to; }
};

// The part of the replaced range that the i-th cleaned segment stands for.
offset_range share_of(const swap_record& r, size_t i) {
  return {i == 0 ? r.first : r.cleaned[i], i + 1 < r.cleaned.size() ? r.cleaned[i + 1] : r.end};
}

// Steps 3 and 4: idempotent, so recovery runs it again after any crash.
io_result<void> finish_swap(file_system& fs, const std::string& partition, const std::string& swap,
                            const swap_record& r) {
  auto swap_names = fs.list(swap);
  if (!swap_names) return base::unexpected(swap_names.error());
  std::set<int64_t> unmoved = log_bases(*swap_names);
  for (int64_t base : unmoved) {
    if (!std::binary_search(r.cleaned.begin(), r.cleaned.end(), base)) {
      return base::unexpected(
          make_io_error(EBADMSG, "recover", swap + "/" + segment_file_name(base, log_extension)));
    }
  }

  // The ranges whose old files may still be there. With no cleaned segment
  // at all, the whole range goes: removing is idempotent.
  std::vector<offset_range> to_clear;
  if (r.cleaned.empty()) to_clear.push_back({r.first, r.end});
  for (size_t i = 0; i < r.cleaned.size(); ++i) {
    if (unmoved.contains(r.cleaned[i])) to_clear.push_back(share_of(r, i));
  }
  auto partition_names = fs.list(partition);
  if (!partition_names) return base::unexpected(partition_names.error());
  for (const auto& name : *partition_names) {
    auto base = segment_file_base(name);
    if (!base) continue;
    bool cleared = std::any_of(to_clear.begin(), to_clear.end(),
                               [&](const offset_range& range) { return range.contains(*base); });
    if (!cleared) continue;
    auto removed = fs.remove(partition + "/" + name);
    if (!removed) return removed;
  }
  // Durable before any cleaned file takes one of the removed names.
  auto synced = fs.sync_directory(partition);
  if (!synced) return synced;

  std::set<std::string> present(swap_names->begin(), swap_names->end());
  for (int64_t base : unmoved) {
    for (auto extension : move_order) {
      std::string name = segment_file_name(base, extension);
      // An index may be gone already (moved before a crash, then cleared):
      // the segment rebuilds it when it opens.
      if (!present.contains(name)) continue;
      auto moved = fs.rename(swap + "/" + name, partition + "/" + name);
      if (!moved) return moved;
    }
  }
  synced = fs.sync_directory(partition);
  if (!synced) return synced;
  synced = fs.sync_directory(swap);
  if (!synced) return synced;
  return remove_all(fs, swap);
}

}  // namespace

io_result<void> commit_swap(file_system& fs, const std::string& partition_directory, int64_t first,
                            int64_t end) {
  const std::string cleaning = partition_directory + "/" + std::string(cleaning_directory_name);
  const std::string swap = partition_directory + "/" + std::string(swap_directory_name);

  auto names = fs.list(cleaning);
  if (!names) return base::unexpected(names.error());
  std::set<int64_t> bases = log_bases(*names);
  swap_record record{first, end, std::vector<int64_t>(bases.begin(), bases.end())};
  if (!well_formed(record)) return base::unexpected(make_io_error(EINVAL, "swap", cleaning));
  // An unfinished swap must be completed (by recovery) before another starts.
  auto pending = fs.exists(swap);
  if (!pending) return base::unexpected(pending.error());
  if (*pending) return base::unexpected(make_io_error(EEXIST, "swap", swap));

  auto written = write_record(fs, cleaning + "/" + std::string(replaces_name), record);
  if (!written) return written;
  auto synced = fs.sync_directory(cleaning);
  if (!synced) return synced;
  auto renamed = fs.rename(cleaning, swap);
  if (!renamed) return renamed;
  synced = fs.sync_directory(partition_directory);
  if (!synced) return synced;
  return finish_swap(fs, partition_directory, swap, record);
}

io_result<void> recover_interrupted_swap(file_system& fs, const std::string& partition_directory) {
  const std::string cleaning = partition_directory + "/" + std::string(cleaning_directory_name);
  const std::string swap = partition_directory + "/" + std::string(swap_directory_name);

  auto committed = fs.exists(swap);
  if (!committed) return base::unexpected(committed.error());
  if (*committed) {
    const std::string record_path = swap + "/" + std::string(replaces_name);
    auto has_record = fs.exists(record_path);
    if (!has_record) return base::unexpected(has_record.error());
    if (*has_record) {
      auto record = read_record(fs, record_path);
      if (!record) return base::unexpected(record.error());
      auto finished = finish_swap(fs, partition_directory, swap, *record);
      if (!finished) return finished;
    } else {
      // Step 4 removes `replaces` only after every segment moved durably, so
      // what is left is an empty swap directory to remove; a segment still
      // there would mean the record was lost, which no swap does.
      auto names = fs.list(swap);
      if (!names) return base::unexpected(names.error());
      if (!log_bases(*names).empty()) {
        return base::unexpected(make_io_error(EBADMSG, "recover", record_path));
      }
      auto removed = remove_all(fs, swap);
      if (!removed) return removed;
    }
  }

  auto abandoned = fs.exists(cleaning);
  if (!abandoned) return base::unexpected(abandoned.error());
  if (!*abandoned) return {};
  return remove_all(fs, cleaning);
}

}  // namespace sluice::storage
