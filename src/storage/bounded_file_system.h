#pragma once

// bounded_file_system: a file_system that holds at most a fixed number of
// file descriptors open, whatever the number of `file` objects alive.
//
// A broker with 10,000 partitions keeps ~30,000 files open (a `.log`, a
// `.index` and a `.timeindex` per segment), far more than a descriptor limit
// should be. The files this opens are proxies: each holds the inner file only
// while it is among the `max_open_files` most recently used, and reopens it
// by its path on its next call after that. The inner file system's contract
// (file_system.h) holds unchanged through the proxies:
// - handles follow renames: rename() rewrites the path of every proxy of
//   `from` (and of the files below it, for a directory);
// - an open file stays readable after its name is removed or replaced:
//   remove() and a rename() that replaces a file first reopen the closed
//   proxies of that name and pin them, open until the proxy is destroyed.
//   Pinned handles count as open and are never evicted; when they fill the
//   bound, the most recently used handle stays open anyway.
// So every rename and removal of a file that proxies may name must go through
// this object. Paths are matched as text, with "//", "/." and trailing
// slashes ignored but ".." not resolved: spell a file's path the same way
// throughout (the storage layer joins a directory and a name).
//
// A reopen writes in read_write mode if the file was opened writable
// (create_read_write becomes read_write: the file exists), read_only if not.
// If it fails, the call fails with the error of the open ("open <path>: ...").
//
// sync() on a proxy whose handle was closed reopens the file and syncs it:
// dirty pages belong to the inode, not the descriptor, so fdatasync(2)
// through a new descriptor writes back what the old one wrote. A writeback
// error that happened in between is reported to the new descriptor by Linux
// 4.13+ (errseq) only if no other descriptor has reported it yet (4.16+
// reports an error nobody has seen to descriptors opened after it). We rely
// on that, and on the storage layer syncing a file through one owner only;
// an error consumed by another descriptor's sync would be lost to ours.
//
// native_handle() reopens the file if needed and returns its descriptor (-1
// if the reopen fails: the read that follows reports why), as the most
// recently used. It stays valid only until the handle is evicted, which any
// call on any file of this object, from any thread, may cause: a caller that
// sends from it with sendfile(2) must not keep it across other file calls,
// and a multithreaded one needs a lease on the handle that `file` lacks.
//
// After a crash() of a fault_injecting_file_system, a proxy that reopens gets
// a fresh handle where the inner file system would fail with EIO: a crash
// ends the process in every test that uses it, so nothing should call an old
// file afterwards.
//
// Thread-safe. One mutex guards the bookkeeping; reads, writes and syncs run
// outside it on a shared reference to the inner handle, so evicting a handle
// in use only drops the cache's reference and the descriptor closes when the
// call returns: the bound can be exceeded by the calls in flight. A reopen
// runs outside the mutex too (and is redone if a name changed meanwhile);
// open(), rename() and remove() hold it across the inner call, so that no
// proxy is left naming a path that changed under it. Files may outlive this
// object, not the inner file system they reopen through.

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "storage/file_system.h"

namespace sluice::storage {

class open_file_cache;

class bounded_file_system final : public file_system {
 public:
  // `max_open_files` is at least 1.
  bounded_file_system(file_system& inner, size_t max_open_files);
  ~bounded_file_system() override;

  // Opens the inner file at once, so errors (ENOENT, EISDIR) come from here.
  io_result<std::unique_ptr<file>> open(const std::string& path, open_mode mode) override;
  io_result<bool> exists(const std::string& path) override;
  io_result<std::vector<std::string>> list(const std::string& directory) override;
  io_result<void> create_directories(const std::string& path) override;
  io_result<void> rename(const std::string& from, const std::string& to) override;
  io_result<void> remove(const std::string& path) override;
  io_result<void> sync_directory(const std::string& directory) override;

  // Inner handles held now, pinned ones included (not those kept only by a
  // call in flight).
  size_t open_files() const;

 private:
  file_system& inner_;
  // Shared with the proxies, which may outlive this object.
  std::shared_ptr<open_file_cache> cache_;
};

}  // namespace sluice::storage
