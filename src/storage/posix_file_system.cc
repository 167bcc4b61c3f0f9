// file_system on the real disk: thin loops around POSIX calls.

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "storage/file_system.h"

namespace sluice::storage {
namespace {

// Captures errno at the failing call, before anything else can change it.
base::unexpected<io_error> os_error(std::string_view operation, std::string_view path) {
  return {make_io_error(errno, operation, path)};
}

// Owns a file descriptor. Close errors are ignored: durability comes from
// sync(), whose error the caller has seen, never from close(2).
class unique_fd {
 public:
  explicit unique_fd(int fd) : fd_(fd) {}
  unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  unique_fd& operator=(unique_fd&&) = delete;
  ~unique_fd() {
    if (fd_ >= 0) ::close(fd_);
  }

  int get() const { return fd_; }

 private:
  int fd_;
};

struct dir_closer {
  void operator()(DIR* dir) const { ::closedir(dir); }
};

class posix_mapping final : public file_mapping {
 public:
  posix_mapping(const uint8_t* data, size_t length) : data_(data), length_(length) {}
  ~posix_mapping() override { ::munmap(const_cast<uint8_t*>(data_), length_); }
  posix_mapping(const posix_mapping&) = delete;
  posix_mapping& operator=(const posix_mapping&) = delete;

  std::span<const uint8_t> bytes() const override { return {data_, length_}; }

 private:
  const uint8_t* data_;
  size_t length_;
};

class posix_file final : public file {
 public:
  posix_file(unique_fd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}

  io_result<size_t> read_at(uint64_t offset, std::span<uint8_t> out) override {
    size_t done = 0;
    while (done < out.size()) {
      ssize_t n = ::pread(fd_.get(), out.data() + done, out.size() - done,
                          static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return os_error("read", path_);
      }
      if (n == 0) break;  // end of file
      done += static_cast<size_t>(n);
    }
    return done;
  }

  io_result<void> write_at(uint64_t offset, std::span<const uint8_t> bytes) override {
    size_t done = 0;
    while (done < bytes.size()) {
      ssize_t n = ::pwrite(fd_.get(), bytes.data() + done, bytes.size() - done,
                           static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return os_error("write", path_);
      }
      done += static_cast<size_t>(n);
    }
    return {};
  }

  io_result<void> sync() override {
    while (::fdatasync(fd_.get()) != 0) {
      if (errno != EINTR) return os_error("sync", path_);
    }
    return {};
  }

  io_result<void> truncate(uint64_t size) override {
    while (::ftruncate(fd_.get(), static_cast<off_t>(size)) != 0) {
      if (errno != EINTR) return os_error("truncate", path_);
    }
    return {};
  }

  io_result<void> reserve(uint64_t offset, uint64_t length) override {
    while (::fallocate(fd_.get(), FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                       static_cast<off_t>(length)) != 0) {
      if (errno != EINTR) return os_error("reserve", path_);
    }
    return {};
  }

  io_result<uint64_t> size() override {
    struct stat st;
    if (::fstat(fd_.get(), &st) != 0) return os_error("size", path_);
    return static_cast<uint64_t>(st.st_size);
  }

  int native_handle() const override { return fd_.get(); }

  io_result<std::shared_ptr<const file_mapping>> map(uint64_t offset, uint64_t length) override {
    void* data =
        ::mmap(nullptr, length, PROT_READ, MAP_SHARED, fd_.get(), static_cast<off_t>(offset));
    if (data == MAP_FAILED) return os_error("map", path_);
    std::shared_ptr<const file_mapping> mapping =
        std::make_shared<const posix_mapping>(static_cast<const uint8_t*>(data), length);
    return mapping;
  }

 private:
  unique_fd fd_;
  const std::string path_;
};

io_result<unique_fd> open_fd(const std::string& path, int flags, std::string_view operation) {
  for (;;) {
    int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
    if (fd >= 0) return unique_fd(fd);
    if (errno != EINTR) return os_error(operation, path);
  }
}

class posix_file_system final : public file_system {
 public:
  io_result<std::unique_ptr<file>> open(const std::string& path, open_mode mode) override {
    int flags = O_RDONLY;
    if (mode == open_mode::read_write) flags = O_RDWR;
    if (mode == open_mode::create_read_write) flags = O_RDWR | O_CREAT;
    auto fd = open_fd(path, flags, "open");
    if (!fd) return base::unexpected{fd.error()};
    // O_RDONLY opens a directory without complaint; the writable modes fail
    // with EISDIR on their own. Checked here so that every mode agrees.
    if (mode == open_mode::read_only) {
      struct stat st;
      if (::fstat(fd->get(), &st) != 0) return os_error("open", path);
      if (S_ISDIR(st.st_mode)) return base::unexpected{make_io_error(EISDIR, "open", path)};
    }
    return std::unique_ptr<file>(new posix_file(std::move(*fd), path));
  }

  io_result<bool> exists(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) return true;
    if (errno == ENOENT || errno == ENOTDIR) return false;
    return os_error("exists", path);
  }

  io_result<std::vector<std::string>> list(const std::string& directory) override {
    std::unique_ptr<DIR, dir_closer> dir(::opendir(directory.c_str()));
    if (!dir) return os_error("list", directory);
    std::vector<std::string> names;
    for (;;) {
      errno = 0;  // readdir's only way to tell an error from the end
      const dirent* entry = ::readdir(dir.get());
      if (entry == nullptr) {
        if (errno != 0) return os_error("list", directory);
        return names;
      }
      std::string_view name = entry->d_name;
      if (name != "." && name != "..") names.emplace_back(name);
    }
  }

  io_result<void> create_directories(const std::string& path) override {
    // mkdir each prefix that ends at a separator, then the whole path.
    for (size_t end = 0; end != std::string::npos;) {
      end = path.find('/', end + 1);
      std::string prefix = path.substr(0, end);
      if (prefix.empty() || prefix.back() == '/') continue;  // "/" or "a//b"
      if (::mkdir(prefix.c_str(), 0755) == 0) continue;
      if (errno != EEXIST) return os_error("create_directories", path);
      struct stat st;
      if (::stat(prefix.c_str(), &st) != 0) return os_error("create_directories", path);
      if (!S_ISDIR(st.st_mode)) {
        return base::unexpected{make_io_error(ENOTDIR, "create_directories", path)};
      }
    }
    return {};
  }

  io_result<void> rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return os_error("rename", from + " -> " + to);
    return {};
  }

  io_result<void> remove(const std::string& path) override {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return os_error("remove", path);
    int rc = S_ISDIR(st.st_mode) ? ::rmdir(path.c_str()) : ::unlink(path.c_str());
    if (rc != 0) return os_error("remove", path);
    return {};
  }

  io_result<void> sync_directory(const std::string& directory) override {
    auto fd = open_fd(directory, O_RDONLY | O_DIRECTORY, "sync_directory");
    if (!fd) return base::unexpected{fd.error()};
    while (::fsync(fd->get()) != 0) {
      if (errno != EINTR) return os_error("sync_directory", directory);
    }
    return {};
  }
};

}  // namespace

std::unique_ptr<file_system> make_posix_file_system() {
  return std::make_unique<posix_file_system>();
}

}  // namespace sluice::storage
