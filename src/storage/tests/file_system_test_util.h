#pragma once

// Helpers shared by the storage tests: scratch directories on the real disk,
// and short ways to write and read whole files.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "storage/file_system.h"

namespace sluice::storage {

// A fresh directory under /tmp, removed with everything in it at the end.
class temporary_directory {
 public:
  temporary_directory() {
    std::string pattern = "/tmp/sluice-storage-test-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    path_ = pattern;
  }
  ~temporary_directory() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  temporary_directory(const temporary_directory&) = delete;
  temporary_directory& operator=(const temporary_directory&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::vector<uint8_t> to_bytes(std::string_view text) { return {text.begin(), text.end()}; }

// The whole content of `f`; "<error: ...>" if a call fails.
inline std::string read_all(file& f) {
  auto size = f.size();
  if (!size) return "<error: " + size.error().message + ">";
  std::string out(*size, '\0');
  auto n = f.read_at(0, {reinterpret_cast<uint8_t*>(out.data()), out.size()});
  if (!n) return "<error: " + n.error().message + ">";
  out.resize(*n);
  return out;
}

// The whole content of the file at `path`; "<error: ...>" if a call fails.
inline std::string read_file(file_system& fs, const std::string& path) {
  auto f = fs.open(path, open_mode::read_only);
  if (!f) return "<error: " + f.error().message + ">";
  return read_all(**f);
}

// Creates `path` (or cuts it to nothing) and writes `content`, unsynced.
// Returns the still open file.
inline std::unique_ptr<file> write_file(file_system& fs, const std::string& path,
                                        std::string_view content) {
  auto f = fs.open(path, open_mode::create_read_write);
  EXPECT_TRUE(f.ok()) << f.error().message;
  if (!f) return nullptr;
  auto cut = (*f)->truncate(0);
  EXPECT_TRUE(cut.ok()) << cut.error().message;
  auto written = (*f)->write_at(0, to_bytes(content));
  EXPECT_TRUE(written.ok()) << written.error().message;
  return std::move(*f);
}

// Expects `r` to have failed with `code` and the usual message,
// "<operation> <path>: <strerror>".
template <typename T>
void expect_failure(const io_result<T>& r, int code, std::string_view operation,
                    std::string_view path) {
  ASSERT_FALSE(r.ok()) << operation << " " << path << " succeeded";
  EXPECT_EQ(r.error().code, code) << r.error().message;
  EXPECT_EQ(r.error().message,
            std::string(operation) + " " + std::string(path) + ": " + std::strerror(code));
}

}  // namespace sluice::storage
