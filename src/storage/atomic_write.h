#pragma once

// write_file_atomically: replacing a small file's content so that a crash at
// any moment leaves either the old content or the new, never a mix, a
// truncated file or no file. The checkpoints, the cluster metadata and the
// producer snapshots are all written this way.
//
// The steps: open `<path>.tmp` (created if missing), cut it to nothing, write
// the bytes, fsync it, close it, rename it over `<path>`, and fsync the
// directory. A failure at any step before the rename leaves `<path>` as it
// was; `<path>.tmp` may stay behind, which readers of `<path>` never look at
// and the next write starts over (the partition log also removes stray
// `.tmp` files when it opens).

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "storage/file_system.h"

namespace sluice::storage {

// Who makes the rename durable.
enum class directory_sync {
  // write_file_atomically syncs the directory: the new content is durable
  // when it returns.
  now,
  // The caller syncs the directory itself, later: for a caller that changes
  // more names in the same directory and makes them durable with one sync.
  // Until then a crash may bring back the old content.
  by_caller,
};

// Replaces the content of the file at `path` with `bytes`, atomically; see
// above. A failed directory sync leaves the new content readable, and a
// crash may then keep the old or the new.
io_result<void> write_file_atomically(file_system& fs, const std::string& path,
                                      std::span<const uint8_t> bytes,
                                      directory_sync sync = directory_sync::now);

// The same, for text.
inline io_result<void> write_file_atomically(file_system& fs, const std::string& path,
                                             std::string_view text,
                                             directory_sync sync = directory_sync::now) {
  return write_file_atomically(
      fs, path, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()), sync);
}

}  // namespace sluice::storage
