#include "storage/testing/fault_injecting_file_system.h"

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <map>
#include <mutex>
#include <random>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace sluice::storage::testing {
namespace {

using bytes = std::vector<uint8_t>;
using node_id = uint64_t;
using names = std::vector<std::string>;

constexpr node_id root_id = 1;

std::string_view operation_name(operation op) {
  switch (op) {
    case operation::open:
      return "open";
    case operation::read:
      return "read";
    case operation::write:
      return "write";
    case operation::sync:
      return "sync";
    case operation::truncate:
      return "truncate";
    case operation::reserve:
      return "reserve";
    case operation::create_directories:
      return "create_directories";
    case operation::rename:
      return "rename";
    case operation::remove:
      return "remove";
    case operation::sync_directory:
      return "sync_directory";
    case operation::list:
      return "list";
  }
  return "?";
}

base::unexpected<io_error> fail(int code, operation op, std::string_view path) {
  return {make_io_error(code, operation_name(op), path)};
}

// "/a/./b/../c" -> {"a", "c"}. By name only: the model has no links, so ".."
// needs no lookup.
names split(std::string_view path) {
  names out;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = std::min(path.find('/', start), path.size());
    std::string_view name = path.substr(start, end - start);
    if (name == "..") {
      if (!out.empty()) out.pop_back();
    } else if (!name.empty() && name != ".") {
      out.emplace_back(name);
    }
    start = end + 1;
  }
  return out;
}

// An inode: a file or a directory, named by zero or more directory entries.
struct node {
  bool directory = false;
  bytes data;                                      // file: what reads see (the page cache)
  bytes durable_data;                              // file: what a crash leaves
  std::map<std::string, node_id> entries;          // directory: what lookups see
  std::map<std::string, node_id> durable_entries;  // directory: what a crash leaves
  int links = 0;                                   // entries naming it
  int durable_links = 0;                           // durable entries naming it
  int open_handles = 0;
};

struct injected_fault {
  operation op;
  int code;
  int remaining;
  std::string path_substring;
};

struct short_write {
  size_t max_bytes;
  std::string path_substring;
};

}  // namespace

// The file system's state, shared by the file system and its open files.
// Every member is guarded by `mutex`; the helpers expect it held.
class fault_model {
 public:
  std::mutex mutex;
  std::unordered_map<node_id, node> nodes;  // references stay valid as it grows
  node_id next_id = root_id + 1;
  uint64_t generation = 0;  // bumped by a crash: older handles are dead
  uint64_t capacity = fault_injecting_file_system::unlimited;
  uint64_t used = 0;  // sum of the sizes of files still named or open
  std::vector<injected_fault> faults;
  std::optional<short_write> pending_short_write;
  operation_counts counts;

  fault_model() { nodes[root_id].directory = true; }

  // The first fault matching the call, used up by it.
  std::optional<io_error> injected(operation op, std::string_view path) {
    for (auto it = faults.begin(); it != faults.end(); ++it) {
      if (it->op != op || path.find(it->path_substring) == std::string_view::npos) continue;
      io_error error = make_io_error(it->code, operation_name(op), path);
      error.message += " (injected)";
      if (--it->remaining <= 0) faults.erase(it);
      return error;
    }
    return std::nullopt;
  }

  std::optional<short_write> take_short_write(std::string_view path) {
    if (!pending_short_write || path.find(pending_short_write->path_substring) == path.npos) {
      return std::nullopt;
    }
    return std::exchange(pending_short_write, std::nullopt);
  }

  // Resolves a path; errors are errno values.
  base::result<node_id, int> lookup(const names& path) const {
    node_id id = root_id;
    for (const auto& name : path) {
      const node& n = nodes.at(id);
      if (!n.directory) return base::unexpected{ENOTDIR};
      auto it = n.entries.find(name);
      if (it == n.entries.end()) return base::unexpected{ENOENT};
      id = it->second;
    }
    return id;
  }

  // The directory that would hold the last name of `path`.
  base::result<node_id, int> lookup_parent(const names& path) const {
    auto parent = lookup(names(path.begin(), path.end() - 1));
    if (parent && !nodes.at(*parent).directory) return base::unexpected{ENOTDIR};
    return parent;
  }

  node_id add_entry(node_id directory, const std::string& name, bool is_directory) {
    node_id id = next_id++;
    node& n = nodes[id];
    n.directory = is_directory;
    n.links = 1;
    nodes.at(directory).entries.emplace(name, id);
    return id;
  }

  // Room for a file of `current_size` bytes to grow before the disk is full.
  uint64_t room_to_grow(uint64_t current_size) const {
    uint64_t room = capacity > used ? capacity - used : 0;
    return std::min(room, std::numeric_limits<uint64_t>::max() - current_size);
  }

  void resize(node& file, uint64_t size) {
    used = used - file.data.size() + size;
    file.data.resize(size);
  }

  // Called when a name or a handle goes away: a file neither named nor open
  // frees its space, as unlink(2) does. Its durable self stays as long as a
  // durable entry names it, for a crash to bring back.
  void release(node_id id) {
    node& n = nodes.at(id);
    if (n.links > 0 || n.open_handles > 0) return;
    used -= n.data.size();
    n.data = {};
    forget_if_unreferenced(id);
  }

  void forget_if_unreferenced(node_id id) {
    node& n = nodes.at(id);
    if (id == root_id || n.links > 0 || n.open_handles > 0 || n.durable_links > 0) return;
    auto children = std::move(n.durable_entries);
    nodes.erase(id);
    for (const auto& [name, child] : children) {
      --nodes.at(child).durable_links;
      forget_if_unreferenced(child);
    }
  }

  void make_entries_durable(node_id directory) {
    node& d = nodes.at(directory);
    auto before = std::exchange(d.durable_entries, d.entries);
    for (const auto& [name, child] : d.durable_entries) ++nodes.at(child).durable_links;
    for (const auto& [name, child] : before) {
      --nodes.at(child).durable_links;
      forget_if_unreferenced(child);
    }
  }

  void crash(std::optional<uint64_t> seed) {
    std::unordered_map<node_id, node> survivors;
    std::mt19937_64 random(seed.value_or(0));
    restore(root_id, survivors, seed ? &random : nullptr);
    nodes = std::move(survivors);
    used = 0;
    for (auto& [id, n] : nodes) {
      used += n.data.size();
      for (const auto& [name, child] : n.entries) {
        ++nodes.at(child).links;
        ++nodes.at(child).durable_links;
      }
    }
    ++generation;
  }

 private:
  // Rebuilds what a crash leaves of `id` and, for a directory, of everything
  // its durable entries name. Depth first in name order, so that a seed tears
  // the same files the same way every time.
  void restore(node_id id, std::unordered_map<node_id, node>& survivors, std::mt19937_64* random) {
    const node& before = nodes.at(id);
    node& after = survivors[id];
    after.directory = before.directory;
    if (!before.directory) {
      after.durable_data = before.durable_data;
      after.data = content_after_crash(before, random);
      return;
    }
    for (const auto& [name, child] : before.durable_entries) {
      bool seen = survivors.contains(child);
      // Directory snapshots taken at different times can name one directory
      // twice, even inside itself; a real file system's journal never would.
      if (seen && nodes.at(child).directory) continue;
      after.entries.emplace(name, child);
      if (!seen) restore(child, survivors, random);
    }
    after.durable_entries = after.entries;
  }

  static bytes content_after_crash(const node& file, std::mt19937_64* random) {
    const bytes& durable = file.durable_data;
    const bytes& current = file.data;
    bool appended = current.size() > durable.size() &&
                    std::equal(durable.begin(), durable.end(), current.begin());
    if (random == nullptr || !appended) return durable;
    // Modulo, not a distribution: std distributions differ between standard
    // libraries, and a seed must tear the same way everywhere.
    uint64_t kept = (*random)() % (current.size() - durable.size() + 1);
    return bytes(current.begin(), current.begin() + static_cast<ptrdiff_t>(durable.size() + kept));
  }
};

namespace {

class fault_file final : public file {
 public:
  fault_file(std::shared_ptr<fault_model> model, node_id id, std::string path, bool writable)
      : model_(std::move(model)),
        id_(id),
        path_(std::move(path)),
        writable_(writable),
        generation_(model_->generation) {}

  ~fault_file() override {
    std::lock_guard lock(model_->mutex);
    if (stale()) return;
    --model_->nodes.at(id_).open_handles;
    model_->release(id_);
  }

  io_result<size_t> read_at(uint64_t offset, std::span<uint8_t> out) override {
    std::lock_guard lock(model_->mutex);
    ++model_->counts.reads;
    if (auto error = check(operation::read)) return base::unexpected{*error};
    const bytes& data = model_->nodes.at(id_).data;
    if (offset >= data.size()) return size_t{0};
    size_t n = std::min<uint64_t>(out.size(), data.size() - offset);
    std::copy_n(data.begin() + static_cast<ptrdiff_t>(offset), n, out.begin());
    return n;
  }

  io_result<void> write_at(uint64_t offset, std::span<const uint8_t> input) override {
    std::lock_guard lock(model_->mutex);
    ++model_->counts.writes;
    if (auto error = check(operation::write)) return base::unexpected{*error};
    if (!writable_) return fail(EBADF, operation::write, path_);
    node& n = model_->nodes.at(id_);

    size_t length = input.size();
    int failure = 0;
    if (auto cut = model_->take_short_write(path_)) {
      length = std::min(length, cut->max_bytes);
      failure = EIO;
    }
    uint64_t fits_before = n.data.size() + model_->room_to_grow(n.data.size());
    if (offset + length > fits_before) {
      length = offset < fits_before ? fits_before - offset : 0;
      failure = ENOSPC;
    }

    if (length > 0) {
      if (offset + length > n.data.size()) model_->resize(n, offset + length);
      std::copy_n(input.begin(), length, n.data.begin() + static_cast<ptrdiff_t>(offset));
      model_->counts.bytes_written += length;
    }
    if (failure != 0) return fail(failure, operation::write, path_);
    return {};
  }

  io_result<void> sync() override {
    std::lock_guard lock(model_->mutex);
    ++model_->counts.syncs;
    if (auto error = check(operation::sync)) return base::unexpected{*error};
    node& n = model_->nodes.at(id_);
    n.durable_data = n.data;
    return {};
  }

  io_result<void> truncate(uint64_t size) override {
    std::lock_guard lock(model_->mutex);
    if (auto error = check(operation::truncate)) return base::unexpected{*error};
    // Linux's ftruncate(2) on a file not open for writing.
    if (!writable_) return fail(EINVAL, operation::truncate, path_);
    node& n = model_->nodes.at(id_);
    if (size > n.data.size() && size - n.data.size() > model_->room_to_grow(n.data.size())) {
      return fail(ENOSPC, operation::truncate, path_);
    }
    model_->resize(n, size);
    return {};
  }

  // The model keeps no notion of allocated blocks: a reservation changes
  // nothing a test can read, and only counts (or fails on demand).
  io_result<void> reserve(uint64_t, uint64_t) override {
    std::lock_guard lock(model_->mutex);
    ++model_->counts.reserves;
    if (auto error = check(operation::reserve)) return base::unexpected{*error};
    if (!writable_) return fail(EBADF, operation::reserve, path_);
    return {};
  }

  io_result<uint64_t> size() override {
    std::lock_guard lock(model_->mutex);
    if (stale()) return stale_error("size");
    return uint64_t{model_->nodes.at(id_).data.size()};
  }

  int native_handle() const override { return -1; }

 private:
  bool stale() const { return generation_ != model_->generation; }

  base::unexpected<io_error> stale_error(std::string_view operation) const {
    io_error error = make_io_error(EIO, operation, path_);
    error.message += " (file opened before a crash)";
    return {std::move(error)};
  }

  // The failures every call on an open file checks first.
  std::optional<io_error> check(operation op) {
    if (stale()) return stale_error(operation_name(op)).value;
    return model_->injected(op, path_);
  }

  std::shared_ptr<fault_model> model_;
  const node_id id_;
  const std::string path_;  // as opened: messages and faults name it
  const bool writable_;
  const uint64_t generation_;
};

}  // namespace

fault_injecting_file_system::fault_injecting_file_system()
    : model_(std::make_shared<fault_model>()) {}

fault_injecting_file_system::~fault_injecting_file_system() = default;

io_result<std::unique_ptr<file>> fault_injecting_file_system::open(const std::string& path,
                                                                   open_mode mode) {
  std::lock_guard lock(model_->mutex);
  ++model_->counts.opens;
  if (auto error = model_->injected(operation::open, path)) return base::unexpected{*error};
  names name = split(path);
  auto found = model_->lookup(name);
  if (!found && found.error() == ENOENT && mode == open_mode::create_read_write) {
    auto parent = model_->lookup_parent(name);
    if (!parent) return fail(parent.error(), operation::open, path);
    found = model_->add_entry(*parent, name.back(), false);
  }
  if (!found) return fail(found.error(), operation::open, path);
  node& n = model_->nodes.at(*found);
  if (n.directory) return fail(EISDIR, operation::open, path);
  ++n.open_handles;
  return std::unique_ptr<file>(new fault_file(model_, *found, path, mode != open_mode::read_only));
}

io_result<bool> fault_injecting_file_system::exists(const std::string& path) {
  std::lock_guard lock(model_->mutex);
  return model_->lookup(split(path)).ok();
}

io_result<std::vector<std::string>> fault_injecting_file_system::list(
    const std::string& directory) {
  std::lock_guard lock(model_->mutex);
  if (auto error = model_->injected(operation::list, directory)) return base::unexpected{*error};
  auto found = model_->lookup(split(directory));
  if (!found) return fail(found.error(), operation::list, directory);
  const node& d = model_->nodes.at(*found);
  if (!d.directory) return fail(ENOTDIR, operation::list, directory);
  std::vector<std::string> out;
  for (const auto& [name, id] : d.entries) out.push_back(name);
  return out;
}

io_result<void> fault_injecting_file_system::create_directories(const std::string& path) {
  std::lock_guard lock(model_->mutex);
  if (auto error = model_->injected(operation::create_directories, path)) {
    return base::unexpected{*error};
  }
  node_id id = root_id;
  for (const auto& name : split(path)) {
    const node& d = model_->nodes.at(id);
    if (!d.directory) return fail(ENOTDIR, operation::create_directories, path);
    auto it = d.entries.find(name);
    id = it != d.entries.end() ? it->second : model_->add_entry(id, name, true);
  }
  if (!model_->nodes.at(id).directory) return fail(ENOTDIR, operation::create_directories, path);
  return {};
}

io_result<void> fault_injecting_file_system::rename(const std::string& from,
                                                    const std::string& to) {
  std::lock_guard lock(model_->mutex);
  const std::string both = from + " -> " + to;
  if (auto error = model_->injected(operation::rename, both)) return base::unexpected{*error};
  names source = split(from);
  names target = split(to);
  if (source.empty() || target.empty()) return fail(EBUSY, operation::rename, both);
  auto source_parent = model_->lookup_parent(source);
  if (!source_parent) return fail(source_parent.error(), operation::rename, both);
  auto moved = model_->lookup(source);
  if (!moved) return fail(moved.error(), operation::rename, both);
  auto target_parent = model_->lookup_parent(target);
  if (!target_parent) return fail(target_parent.error(), operation::rename, both);

  const bool moving_directory = model_->nodes.at(*moved).directory;
  if (moving_directory && target.size() > source.size() &&
      std::equal(source.begin(), source.end(), target.begin())) {
    return fail(EINVAL, operation::rename, both);  // into itself
  }
  auto replaced = model_->lookup(target);
  if (replaced) {
    if (*replaced == *moved) return {};
    const node& old = model_->nodes.at(*replaced);
    if (moving_directory && !old.directory) return fail(ENOTDIR, operation::rename, both);
    if (!moving_directory && old.directory) return fail(EISDIR, operation::rename, both);
    if (old.directory && !old.entries.empty()) return fail(ENOTEMPTY, operation::rename, both);
  }

  model_->nodes.at(*source_parent).entries.erase(source.back());
  model_->nodes.at(*target_parent).entries[target.back()] = *moved;
  if (replaced) {
    --model_->nodes.at(*replaced).links;
    model_->release(*replaced);
  }
  return {};
}

io_result<void> fault_injecting_file_system::remove(const std::string& path) {
  std::lock_guard lock(model_->mutex);
  if (auto error = model_->injected(operation::remove, path)) return base::unexpected{*error};
  names name = split(path);
  if (name.empty()) return fail(EBUSY, operation::remove, path);
  auto parent = model_->lookup_parent(name);
  if (!parent) return fail(parent.error(), operation::remove, path);
  auto found = model_->lookup(name);
  if (!found) return fail(found.error(), operation::remove, path);
  node& n = model_->nodes.at(*found);
  if (n.directory && !n.entries.empty()) return fail(ENOTEMPTY, operation::remove, path);
  model_->nodes.at(*parent).entries.erase(name.back());
  --n.links;
  model_->release(*found);
  return {};
}

io_result<void> fault_injecting_file_system::sync_directory(const std::string& directory) {
  std::lock_guard lock(model_->mutex);
  ++model_->counts.directory_syncs;
  if (auto error = model_->injected(operation::sync_directory, directory)) {
    return base::unexpected{*error};
  }
  auto found = model_->lookup(split(directory));
  if (!found) return fail(found.error(), operation::sync_directory, directory);
  if (!model_->nodes.at(*found).directory) {
    return fail(ENOTDIR, operation::sync_directory, directory);
  }
  model_->make_entries_durable(*found);
  return {};
}

void fault_injecting_file_system::crash(std::optional<uint64_t> seed) {
  std::lock_guard lock(model_->mutex);
  model_->crash(seed);
}

void fault_injecting_file_system::fail_next(operation op, int errno_value, int count,
                                            std::string path_substring) {
  std::lock_guard lock(model_->mutex);
  model_->faults.push_back({op, errno_value, count, std::move(path_substring)});
}

void fault_injecting_file_system::short_write_next(size_t max_bytes, std::string path_substring) {
  std::lock_guard lock(model_->mutex);
  model_->pending_short_write = short_write{max_bytes, std::move(path_substring)};
}

void fault_injecting_file_system::set_capacity(uint64_t bytes) {
  std::lock_guard lock(model_->mutex);
  model_->capacity = bytes;
}

uint64_t fault_injecting_file_system::used_bytes() const {
  std::lock_guard lock(model_->mutex);
  return model_->used;
}

operation_counts fault_injecting_file_system::counts() const {
  std::lock_guard lock(model_->mutex);
  return model_->counts;
}

}  // namespace sluice::storage::testing
