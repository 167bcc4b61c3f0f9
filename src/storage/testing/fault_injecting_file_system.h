#pragma once

// fault_injecting_file_system: the disk as the storage tests and the
// deterministic simulation see it.
//
// An in-memory file system that keeps apart what reads see and what would
// survive power loss, and fails chosen calls on demand. Its model is the
// strictest POSIX allows, so a log that survives it survives a real disk:
// - a file's content is durable only as of its last sync();
// - a creation, rename or removal is durable only once its directory is synced
//   (sync_directory), independently of the content of the file it names;
// - crash() loses everything else, optionally keeping a random prefix of what
//   was appended to a file since its last sync (a torn write).
//
// Beyond that it behaves like Linux where the storage code can tell: handles
// follow renames and keep removed files readable, the same errno values come
// back for the same mistakes, messages read like the posix file system's.
// Paths are absolute within the model ("a/b" is "/a/b"), with "." and ".."
// resolved by name; there are no links.
//
// Thread-safe: one mutex guards the whole model, open files included.

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "storage/file_system.h"

namespace sluice::storage::testing {

// The calls a fault can be injected into. Calls on a file (read, write, sync,
// truncate, reserve) match on the path the file was opened with.
enum class operation {
  open,
  read,
  write,
  sync,
  truncate,
  reserve,
  create_directories,
  rename,  // matches on "<from> -> <to>"
  remove,
  sync_directory,
  list,
};

// Calls made so far, failed ones included: what a benchmark or a group-commit
// test counts (fsyncs per produced batch, writes per append).
struct operation_counts {
  uint64_t opens = 0;
  uint64_t reads = 0;
  uint64_t writes = 0;
  uint64_t bytes_written = 0;  // bytes that reached a file
  uint64_t syncs = 0;
  uint64_t directory_syncs = 0;
  uint64_t reserves = 0;
};

class fault_model;

class fault_injecting_file_system final : public file_system {
 public:
  static constexpr uint64_t unlimited = std::numeric_limits<uint64_t>::max();

  fault_injecting_file_system();
  ~fault_injecting_file_system() override;

  io_result<std::unique_ptr<file>> open(const std::string& path, open_mode mode) override;
  io_result<bool> exists(const std::string& path) override;
  io_result<std::vector<std::string>> list(const std::string& directory) override;
  io_result<void> create_directories(const std::string& path) override;
  io_result<void> rename(const std::string& from, const std::string& to) override;
  io_result<void> remove(const std::string& path) override;
  io_result<void> sync_directory(const std::string& directory) override;

  // Power loss. Every directory goes back to the entries of its last
  // sync_directory, every file to its content as of its last sync(). With a
  // seed, a file whose unsynced change is an append keeps a random prefix of
  // the appended bytes instead (the same prefix for the same seed and
  // history). Open files from before fail with EIO from then on. Injected
  // faults and the capacity stay as they were.
  void crash(std::optional<uint64_t> seed = std::nullopt);

  // The next `count` calls of `op` whose path contains `path_substring` fail
  // with `errno_value` (message ending in "(injected)") and change nothing.
  // Faults are matched in the order they were added.
  void fail_next(operation op, int errno_value, int count = 1, std::string path_substring = "");
  // The next write to a path containing `path_substring` writes at most its
  // first `max_bytes` bytes, then fails with EIO: a write cut short.
  void short_write_next(size_t max_bytes, std::string path_substring = "");
  // Bounds the sum of all file sizes. A write that would grow past it writes
  // what fits and fails with ENOSPC; so does a truncate that would grow past
  // it (without writing). Removing a file gives its bytes back once its last
  // handle closes, as on a real disk.
  void set_capacity(uint64_t bytes);
  uint64_t used_bytes() const;
  operation_counts counts() const;

 private:
  // Shared with the open files, which may outlive this object.
  std::shared_ptr<fault_model> model_;
};

}  // namespace sluice::storage::testing
