#include "storage/atomic_write.h"

namespace sluice::storage {
namespace {

std::string parent_directory(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

io_result<void> write_file_atomically(file_system& fs, const std::string& path,
                                      std::span<const uint8_t> bytes, directory_sync sync) {
  // Never written in place: a crash in the middle of a write (or a write cut
  // short) would leave a mix of old and new. The new content goes to a file
  // of its own, which only a rename makes the real one.
  const std::string tmp_path = path + ".tmp";
  {
    auto tmp = fs.open(tmp_path, open_mode::create_read_write);
    if (!tmp) return base::unexpected(tmp.error());
    // A longer leftover of a failed write must not trail the new content.
    if (auto cut = (*tmp)->truncate(0); !cut) return cut;
    if (auto written = (*tmp)->write_at(0, bytes); !written) return written;
    // Durable before the rename: otherwise a crash could leave the name on a
    // file whose content never reached the disk (empty, or torn).
    if (auto synced = (*tmp)->sync(); !synced) return synced;
    // The handle closes here: once durable, the file needs no descriptor.
  }
  // rename(2) replaces the old file in one step: readers see the old content
  // or the new, never neither.
  if (auto renamed = fs.rename(tmp_path, path); !renamed) return renamed;
  // The rename itself is durable only once its directory is synced: until
  // then a crash may bring back the old file.
  if (sync == directory_sync::by_caller) return {};
  return fs.sync_directory(parent_directory(path));
}

}  // namespace sluice::storage
