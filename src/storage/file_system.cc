#include "storage/file_system.h"

#include <cerrno>
#include <cstring>
#include <vector>

namespace sluice::storage {

io_error make_io_error(int code, std::string_view operation, std::string_view path) {
  // The GNU strerror_r: thread-safe (unlike strerror), and returns the text
  // itself, which need not be in `buffer`.
  char buffer[128];
  const char* description = strerror_r(code, buffer, sizeof buffer);
  std::string message;
  message.reserve(operation.size() + path.size() + std::strlen(description) + 3);
  message.append(operation).append(" ").append(path).append(": ").append(description);
  return {code, std::move(message)};
}

io_result<std::shared_ptr<const file_mapping>> file::map(uint64_t, uint64_t) {
  return base::unexpected(io_error{ENOTSUP, "map: not a file of the operating system"});
}

namespace {

io_result<void> remove_tree(file_system& fs, const std::string& path) {
  auto entries = fs.list(path);
  if (!entries) {
    if (entries.error().code == ENOENT) return {};
    if (entries.error().code != ENOTDIR) return base::unexpected(entries.error());
    return fs.remove(path);
  }
  for (const auto& name : *entries) {
    auto removed = remove_tree(fs, path + "/" + name);
    if (!removed) return removed;
  }
  return fs.remove(path);
}

}  // namespace

io_result<void> create_durable_directory(file_system& fs, const std::string& directory) {
  std::vector<std::string> missing;
  for (std::string path = directory; !path.empty() && path != "/";) {
    auto exists = fs.exists(path);
    if (!exists) return base::unexpected(exists.error());
    if (*exists) break;
    missing.push_back(path);
    auto slash = path.find_last_of('/');
    if (slash == std::string::npos) break;
    path = slash == 0 ? "/" : path.substr(0, slash);
  }
  if (missing.empty()) return {};
  auto made = fs.create_directories(directory);
  if (!made) return made;
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    auto slash = it->find_last_of('/');
    std::string parent = slash == std::string::npos ? "." : slash == 0 ? "/" : it->substr(0, slash);
    auto synced = fs.sync_directory(parent);
    if (!synced) return synced;
  }
  return {};
}

io_result<void> remove_all(file_system& fs, const std::string& path) {
  auto removed = remove_tree(fs, path);
  if (!removed) return removed;
  auto slash = path.find_last_of('/');
  return fs.sync_directory(slash == std::string::npos ? "."
                           : slash == 0               ? "/"
                                                      : path.substr(0, slash));
}

}  // namespace sluice::storage
