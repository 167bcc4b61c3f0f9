#include "client/socket_util.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace sluice::client {
namespace {

struct addrinfo_deleter {
  void operator()(addrinfo* a) const { freeaddrinfo(a); }
};

// "host:port" or "[v6]:port" -> (host, port).
base::result<std::pair<std::string, std::string>> split_address(const std::string& address) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 == address.size()) {
    return base::fail("\"" + address + "\" is not host:port");
  }
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return std::make_pair(host, address.substr(colon + 1));
}

// Connects `fd` (non-blocking) to `addr`, waiting at most `timeout`; 0 or errno.
int connect_with_deadline(int fd, const addrinfo* addr, std::chrono::milliseconds timeout) {
  if (::connect(fd, addr->ai_addr, addr->ai_addrlen) == 0) return 0;
  if (errno != EINPROGRESS) return errno;
  pollfd p{fd, POLLOUT, 0};
  int ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
  if (ready == 0) return ETIMEDOUT;
  if (ready < 0) return errno;
  int error = 0;
  socklen_t length = sizeof error;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
  return error;
}

}  // namespace

base::result<int> connect_tcp(const std::string& address, std::chrono::milliseconds timeout) {
  auto parts = split_address(address);
  if (!parts) return base::unexpected(parts.error());
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc = ::getaddrinfo(parts->first.c_str(), parts->second.c_str(), &hints, &found);
  if (rc != 0) return base::fail(address + ": " + gai_strerror(rc));
  std::unique_ptr<addrinfo, addrinfo_deleter> owner(found);
  int last_error = 0;
  for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) {
      last_error = errno;
      continue;
    }
    last_error = connect_with_deadline(fd, a, timeout);
    if (last_error == 0) {
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      return fd;
    }
    ::close(fd);
  }
  return base::fail(address + ": " + std::strerror(last_error));
}

}  // namespace sluice::client
