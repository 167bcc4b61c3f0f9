#pragma once

// The storage layer's only door to the disk.
//
// Every file access of the partition log goes through `file_system` and
// `file`, so that tests can inject faults (short writes, ENOSPC, EIO, loss of
// unsynced data at a crash) and the deterministic simulation can replace the
// disk. Operations are positional and synchronous; the caller decides which
// thread blocks on them (never a shard's event loop).

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace sluice::storage {

// A failed file-system call: the errno value and a message naming the
// operation and the path ("write /data/t-0/00000000000000000000.log: No space
// left on device").
struct io_error {
  int code = 0;
  std::string message;
};

// The one format every implementation uses, so that messages read alike
// whether the disk is real or simulated: "<operation> <path>: <strerror>".
io_error make_io_error(int code, std::string_view operation, std::string_view path);

template <typename T>
using io_result = base::result<T, io_error>;

// Part of a file mapped into memory, read-only and shared (mmap(2)): its
// bytes are the file's own page-cache pages, so they show every write, made
// before or after the mapping, without a copy. Unmapped when destroyed; it
// stays valid after its file is closed, renamed or removed.
//
// Only bytes below the file's end may be touched. Touching them from user
// space turns an I/O error reading a page into SIGBUS, which kills the
// process, and so does a page past the end after a truncation (the rest of
// the page the new end falls in reads as zeros). The kernel reading such a
// page for a system call (send(2) from a mapped buffer) gets EFAULT instead.
// So mapped bytes are for handing to the kernel, not for parsing, and only
// from a file that is not cut while they are used.
class file_mapping {
 public:
  virtual ~file_mapping() = default;
  virtual std::span<const uint8_t> bytes() const = 0;
};

// An open file. It stays usable after its name is renamed or removed (POSIX
// semantics), so a fetch can finish reading a segment that retention deletes.
//
// Positional reads (read_at, size) may run concurrently with each other and
// with one writer, as pread(2) allows: fetches read the active segment while
// the appender extends it. Mutating calls (write_at, truncate, sync) come from
// one owner at a time.
class file {
 public:
  virtual ~file() = default;

  // Reads up to out.size() bytes at `offset`; fewer only at the end of the file.
  virtual io_result<size_t> read_at(uint64_t offset, std::span<uint8_t> out) = 0;
  // Writes all of `bytes` at `offset` (retrying short writes) or fails. After a
  // failure, any prefix of `bytes` may have reached the file: the caller that
  // wants a clean end truncates back. Writing past the end leaves zeros between.
  virtual io_result<void> write_at(uint64_t offset, std::span<const uint8_t> bytes) = 0;
  // Makes everything written so far durable (fdatasync), but not the file's
  // name: see file_system::sync_directory. After a failed sync the kernel may
  // have dropped the unwritten pages, and a later sync can succeed without
  // them: treat everything written since the last good sync as lost.
  virtual io_result<void> sync() = 0;
  // Cuts the file to `size` bytes, or extends it with zeros. Disk space
  // reserved past the new end is given back.
  virtual io_result<void> truncate(uint64_t size) = 0;
  // Allocates disk space for [offset, offset + length) without changing the
  // size (fallocate(2) with FALLOC_FL_KEEP_SIZE), so that writes there need
  // no block allocation of their own; truncate(size()) gives back what is
  // past the end. Nothing a reader sees changes. A failure (no space, a file
  // system without fallocate) only means that writes allocate as usual.
  virtual io_result<void> reserve(uint64_t offset, uint64_t length) = 0;
  virtual io_result<uint64_t> size() = 0;
  // The OS file descriptor, for sendfile(2); -1 when the file is not a real one.
  virtual int native_handle() const = 0;
  // Maps [offset, offset + length) (see file_mapping). `offset` is a multiple
  // of the page size; the range may reach past the file's end, to cover what
  // is appended later. Files that are not OS files (test doubles) fail with
  // ENOTSUP, and the caller reads with read_at() instead. May run
  // concurrently with reads and the writer.
  virtual io_result<std::shared_ptr<const file_mapping>> map(uint64_t offset, uint64_t length);
};

enum class open_mode {
  read_only,
  read_write,         // the file must exist
  create_read_write,  // created empty if missing
};

class file_system {
 public:
  virtual ~file_system() = default;

  // Opens a regular file; a directory fails with EISDIR in every mode.
  virtual io_result<std::unique_ptr<file>> open(const std::string& path, open_mode mode) = 0;
  // False also when a component of the path is a file (ENOTDIR).
  virtual io_result<bool> exists(const std::string& path) = 0;
  // Names (not paths) of the entries of `directory`, in no particular order.
  virtual io_result<std::vector<std::string>> list(const std::string& directory) = 0;
  // mkdir -p; succeeds when the directory exists already.
  virtual io_result<void> create_directories(const std::string& path) = 0;
  // Moves `from` to `to`, atomically replacing a file at `to` (rename(2)).
  // Durable once the directories of both are synced.
  virtual io_result<void> rename(const std::string& from, const std::string& to) = 0;
  // Removes a file, or an empty directory. Open handles keep a removed file
  // readable until they close.
  virtual io_result<void> remove(const std::string& path) = 0;
  // Makes creations, renames and removals in `directory` durable.
  virtual io_result<void> sync_directory(const std::string& directory) = 0;
};

// mkdir -p whose result survives a crash: each directory it creates is
// synced into its parent.
io_result<void> create_durable_directory(file_system& fs, const std::string& directory);

// rm -r: removes `path` and, for a directory, everything in it, then syncs
// the parent directory. Succeeds when `path` does not exist.
io_result<void> remove_all(file_system& fs, const std::string& path);

// The real disk, through POSIX calls.
std::unique_ptr<file_system> make_posix_file_system();

}  // namespace sluice::storage
