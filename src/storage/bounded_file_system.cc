#include "storage/bounded_file_system.h"

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <list>
#include <map>
#include <mutex>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::storage {
namespace {

// "a//b/./c/" -> "a/b/c": the spellings that name the same file without a
// lookup. ".." stays, since it would need one (a symbolic link).
std::string normalize(std::string_view path) {
  std::string out = path.starts_with('/') ? "/" : "";
  for (size_t start = 0; start < path.size();) {
    size_t end = std::min(path.find('/', start), path.size());
    std::string_view name = path.substr(start, end - start);
    if (!name.empty() && name != ".") {
      if (!out.empty() && out.back() != '/') out += '/';
      out += name;
    }
    start = end + 1;
  }
  return out.empty() ? "." : out;
}

// A reopen never creates: the file was there when the proxy opened it.
open_mode reopen_mode(open_mode mode) {
  return mode == open_mode::read_only ? open_mode::read_only : open_mode::read_write;
}

using handles = std::vector<std::shared_ptr<file>>;

}  // namespace

// One proxy's bookkeeping, owned by the proxy; the fields below `mode` are
// guarded by the cache's mutex.
struct proxy_state {
  proxy_state(std::string p, open_mode m) : path(std::move(p)), mode(m) {}

  std::string path;  // normalized, rewritten by renames
  const open_mode mode;
  std::shared_ptr<file> handle;                    // null while closed
  bool pinned = false;                             // open until the proxy goes, out of the LRU
  bool named = false;                              // in the index by path: its path names its file
  std::list<proxy_state*>::iterator lru_position;  // open, not pinned
  std::multimap<std::string, proxy_state*>::iterator by_path_position;  // named
};

// The LRU of open inner handles and the index of proxies by path.
class open_file_cache {
 public:
  open_file_cache(file_system& inner, size_t max_open) : inner_(inner), max_open_(max_open) {}

  // Opens `path` and registers `p` with the new handle. Under the mutex, so
  // that no rename or removal changes what `path` names before `p` is found
  // by it.
  io_result<void> open(proxy_state& p, const std::string& path, open_mode mode) {
    handles closed;  // destroyed after the lock is released: closing can block
    std::lock_guard lock(mutex_);
    auto opened = inner_.open(path, mode);
    if (!opened) return base::unexpected(opened.error());
    p.by_path_position = by_path_.emplace(p.path, &p);
    p.named = true;
    install(p, std::move(*opened), closed);
    return {};
  }

  void forget(proxy_state& p) {
    std::shared_ptr<file> closed;
    std::lock_guard lock(mutex_);
    if (p.named) by_path_.erase(p.by_path_position);
    if (!p.handle) return;
    if (!p.pinned) lru_.erase(p.lru_position);
    --open_;
    closed = std::move(p.handle);
  }

  // The inner handle of `p`, reopened if it was closed, now the most recently
  // used. The reopen runs outside the mutex, so a miss does not stall every
  // other call; a rename or removal meanwhile may have changed what the path
  // names, and then the reopen is done again.
  io_result<std::shared_ptr<file>> acquire(proxy_state& p) {
    handles closed;
    std::unique_lock lock(mutex_);
    for (;;) {
      if (p.handle) {
        if (!p.pinned) lru_.splice(lru_.begin(), lru_, p.lru_position);
        return p.handle;
      }
      const std::string path = p.path;
      const uint64_t version = names_version_;
      lock.unlock();
      auto opened = inner_.open(path, p.mode);
      lock.lock();
      if (p.handle || version != names_version_) {  // raced: look again
        if (opened) closed.push_back(std::move(*opened));
        continue;
      }
      if (!opened) return base::unexpected(opened.error());
      install(p, std::move(*opened), closed);
    }
  }

  io_result<void> rename(const std::string& from, const std::string& to) {
    handles closed;
    std::lock_guard lock(mutex_);
    ++names_version_;
    const std::string source = normalize(from);
    const std::string target = normalize(to);
    if (source == target) return inner_.rename(from, to);
    auto replaced = named(target);
    if (auto pinned = pin(replaced, closed); !pinned) {
      return base::unexpected(make_io_error(pinned.error().code, "rename", from + " -> " + to));
    }
    auto renamed = inner_.rename(from, to);
    if (!renamed) {
      unpin(replaced, closed);
      return renamed;
    }
    unname(replaced);
    for (proxy_state* p : named_at_or_below(source)) {
      auto node = by_path_.extract(p->by_path_position);
      p->path = target + p->path.substr(source.size());
      node.key() = p->path;
      p->by_path_position = by_path_.insert(std::move(node));
    }
    return {};
  }

  io_result<void> remove(const std::string& path) {
    handles closed;
    std::lock_guard lock(mutex_);
    ++names_version_;
    auto removed_proxies = named(normalize(path));
    if (auto pinned = pin(removed_proxies, closed); !pinned) {
      return base::unexpected(make_io_error(pinned.error().code, "remove", path));
    }
    auto removed = inner_.remove(path);
    if (!removed) {
      unpin(removed_proxies, closed);
      return removed;
    }
    unname(removed_proxies);
    return {};
  }

  size_t open_files() const {
    std::lock_guard lock(mutex_);
    return open_;
  }

 private:
  void install(proxy_state& p, std::shared_ptr<file> handle, handles& closed) {
    p.handle = std::move(handle);
    ++open_;
    lru_.push_front(&p);
    p.lru_position = lru_.begin();
    evict_over_bound(closed);
  }

  // Keeps the most recently used handle even when pinned ones fill the bound,
  // so that a call on it does not reopen it every time.
  void evict_over_bound(handles& closed) {
    while (open_ > max_open_ && lru_.size() > 1) {
      proxy_state* victim = lru_.back();
      lru_.pop_back();
      closed.push_back(std::move(victim->handle));
      --open_;
    }
  }

  std::vector<proxy_state*> named(const std::string& path) const {
    std::vector<proxy_state*> out;
    auto [first, last] = by_path_.equal_range(path);
    for (auto it = first; it != last; ++it) out.push_back(it->second);
    return out;
  }

  // The proxies of `path` and, if it is a directory, of the files below it.
  std::vector<proxy_state*> named_at_or_below(const std::string& path) const {
    std::vector<proxy_state*> out = named(path);
    const std::string prefix = path.ends_with('/') ? path : path + "/";
    for (auto it = by_path_.lower_bound(prefix);
         it != by_path_.end() && it->first.starts_with(prefix); ++it) {
      out.push_back(it->second);
    }
    return out;
  }

  // Opens the closed ones among `proxies` and takes them all out of the LRU.
  // On failure, none stays pinned.
  io_result<void> pin(const std::vector<proxy_state*>& proxies, handles& closed) {
    for (size_t i = 0; i < proxies.size(); ++i) {
      proxy_state& p = *proxies[i];
      if (p.handle) {
        lru_.erase(p.lru_position);
      } else {
        auto opened = inner_.open(p.path, p.mode);
        if (!opened) {
          unpin({proxies.begin(), proxies.begin() + static_cast<ptrdiff_t>(i)}, closed);
          return base::unexpected(opened.error());
        }
        p.handle = std::move(*opened);
        ++open_;
      }
      p.pinned = true;
    }
    evict_over_bound(closed);
    return {};
  }

  void unpin(const std::vector<proxy_state*>& proxies, handles& closed) {
    for (proxy_state* p : proxies) {
      p->pinned = false;
      lru_.push_front(p);
      p->lru_position = lru_.begin();
    }
    evict_over_bound(closed);
  }

  // Their name now belongs to another file or none: they keep their pinned
  // handle, and renames no longer concern them.
  void unname(const std::vector<proxy_state*>& proxies) {
    for (proxy_state* p : proxies) {
      by_path_.erase(p->by_path_position);
      p->named = false;
    }
  }

  file_system& inner_;
  const size_t max_open_;
  mutable std::mutex mutex_;
  std::list<proxy_state*> lru_;  // open handles not pinned, most recently used first
  size_t open_ = 0;              // open handles, pinned ones included
  std::multimap<std::string, proxy_state*> by_path_;  // proxies whose path names their file
  uint64_t names_version_ = 0;                        // bumped by every rename and removal
};

namespace {

class bounded_file final : public file {
 public:
  bounded_file(std::shared_ptr<open_file_cache> cache, std::string path, open_mode mode)
      : cache_(std::move(cache)), state_(std::move(path), mode) {}
  ~bounded_file() override { cache_->forget(state_); }

  proxy_state& state() { return state_; }

  io_result<size_t> read_at(uint64_t offset, std::span<uint8_t> out) override {
    auto f = cache_->acquire(state_);
    if (!f) return base::unexpected(f.error());
    return (*f)->read_at(offset, out);
  }

  io_result<void> write_at(uint64_t offset, std::span<const uint8_t> bytes) override {
    auto f = cache_->acquire(state_);
    if (!f) return base::unexpected(f.error());
    return (*f)->write_at(offset, bytes);
  }

  io_result<void> sync() override {
    auto f = cache_->acquire(state_);
    if (!f) return base::unexpected(f.error());
    return (*f)->sync();
  }

  io_result<void> truncate(uint64_t size) override {
    auto f = cache_->acquire(state_);
    if (!f) return base::unexpected(f.error());
    return (*f)->truncate(size);
  }

  io_result<void> reserve(uint64_t offset, uint64_t length) override {
    auto f = cache_->acquire(state_);
    if (!f) return base::unexpected(f.error());
    return (*f)->reserve(offset, length);
  }

  io_result<uint64_t> size() override {
    auto f = cache_->acquire(state_);
    if (!f) return base::unexpected(f.error());
    return (*f)->size();
  }

  int native_handle() const override {
    auto f = cache_->acquire(state_);
    return f ? (*f)->native_handle() : -1;
  }

  // The mapping holds the file open by itself, so the handle may be evicted
  // as soon as this returns.
  io_result<std::shared_ptr<const file_mapping>> map(uint64_t offset, uint64_t length) override {
    auto f = cache_->acquire(state_);
    if (!f) return base::unexpected(f.error());
    return (*f)->map(offset, length);
  }

 private:
  std::shared_ptr<open_file_cache> cache_;
  mutable proxy_state state_;  // mutable for native_handle(), which may reopen
};

}  // namespace

bounded_file_system::bounded_file_system(file_system& inner, size_t max_open_files)
    : inner_(inner), cache_(std::make_shared<open_file_cache>(inner, max_open_files)) {
  assert(max_open_files >= 1);
}

bounded_file_system::~bounded_file_system() = default;

io_result<std::unique_ptr<file>> bounded_file_system::open(const std::string& path,
                                                           open_mode mode) {
  auto proxy = std::make_unique<bounded_file>(cache_, normalize(path), reopen_mode(mode));
  if (auto opened = cache_->open(proxy->state(), path, mode); !opened) {
    return base::unexpected(opened.error());
  }
  return std::unique_ptr<file>(std::move(proxy));
}

io_result<bool> bounded_file_system::exists(const std::string& path) { return inner_.exists(path); }

io_result<std::vector<std::string>> bounded_file_system::list(const std::string& directory) {
  return inner_.list(directory);
}

io_result<void> bounded_file_system::create_directories(const std::string& path) {
  return inner_.create_directories(path);
}

io_result<void> bounded_file_system::rename(const std::string& from, const std::string& to) {
  return cache_->rename(from, to);
}

io_result<void> bounded_file_system::remove(const std::string& path) {
  return cache_->remove(path);
}

io_result<void> bounded_file_system::sync_directory(const std::string& directory) {
  return inner_.sync_directory(directory);
}

size_t bounded_file_system::open_files() const { return cache_->open_files(); }

}  // namespace sluice::storage
