#include "client/settings.h"

namespace sluice::client {

std::vector<std::string> split_bootstrap(const std::string& bootstrap) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= bootstrap.size()) {
    size_t comma = bootstrap.find(',', start);
    if (comma == std::string::npos) comma = bootstrap.size();
    std::string entry = bootstrap.substr(start, comma - start);
    size_t first = entry.find_first_not_of(" \t");
    size_t last = entry.find_last_not_of(" \t");
    if (first != std::string::npos) out.push_back(entry.substr(first, last - first + 1));
    start = comma + 1;
  }
  return out;
}

}  // namespace sluice::client
