#include "storage/file_system.h"

#include <cstring>

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

}  // namespace sluice::storage
