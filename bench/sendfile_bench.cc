// How should Fetch hand records to the socket? Three ways, over a loopback
// TCP connection, the file in the page cache, a thread draining the other
// end: read the range into a buffer (pread) and send the response header and
// that buffer in one gathering sendmsg (the broker for sealed segments and
// small reads); send the header and a mapping of the file the same way (the
// broker for the active segment: no copy in user space); or the header, then
// sendfile(2). What the sending thread spends per byte is what a shard could
// otherwise spend on requests.

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr size_t file_bytes = 64u << 20;

// A connected loopback pair whose reading end is drained by a thread.
class drained_connection {
 public:
  drained_connection() {
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        listen(listener, 1) != 0 ||
        getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::runtime_error("loopback listener");
    }
    sender_ = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(sender_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      throw std::runtime_error("connect");
    }
    receiver_ = accept(listener, nullptr, nullptr);
    close(listener);
    drainer_ = std::thread([this] {
      std::vector<char> sink(1 << 20);
      while (read(receiver_, sink.data(), sink.size()) > 0) {
      }
    });
  }
  ~drained_connection() {
    shutdown(sender_, SHUT_WR);
    drainer_.join();
    close(sender_);
    close(receiver_);
  }
  int fd() const { return sender_; }

 private:
  int sender_ = -1;
  int receiver_ = -1;
  std::thread drainer_;
};

// A 64 MiB file, read once so it is in the page cache.
class cached_file {
 public:
  cached_file() {
    char path[] = "/tmp/sluice-sendfile-XXXXXX";
    fd_ = mkstemp(path);
    unlink(path);
    std::vector<char> chunk(1 << 20, 'x');
    for (size_t written = 0; written < file_bytes; written += chunk.size()) {
      if (write(fd_, chunk.data(), chunk.size()) != static_cast<ssize_t>(chunk.size())) {
        throw std::runtime_error("write");
      }
    }
    for (off_t at = 0; at < static_cast<off_t>(file_bytes); at += chunk.size()) {
      if (pread(fd_, chunk.data(), chunk.size(), at) <= 0) throw std::runtime_error("pread");
    }
  }
  ~cached_file() { close(fd_); }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

void send_all(int socket, const char* data, size_t size) {
  while (size > 0) {
    ssize_t sent = send(socket, data, size, 0);
    if (sent <= 0) throw std::runtime_error("send");
    data += sent;
    size -= static_cast<size_t>(sent);
  }
}

// The response header and the records in one gathering sendmsg, repeated
// for what a partial send left.
void send_gathered(int socket, const char* header, size_t header_size, const char* records,
                   size_t records_size) {
  iovec parts[2] = {{const_cast<char*>(header), header_size},
                    {const_cast<char*>(records), records_size}};
  msghdr message{};
  message.msg_iov = parts;
  message.msg_iovlen = 2;
  while (message.msg_iovlen > 0) {
    ssize_t sent = sendmsg(socket, &message, 0);
    if (sent <= 0) throw std::runtime_error("sendmsg");
    for (auto left = static_cast<size_t>(sent); left > 0 && message.msg_iovlen > 0;) {
      const size_t taken = std::min(left, message.msg_iov->iov_len);
      message.msg_iov->iov_base = static_cast<char*>(message.msg_iov->iov_base) + taken;
      message.msg_iov->iov_len -= taken;
      left -= taken;
      if (message.msg_iov->iov_len == 0) {
        ++message.msg_iov;
        --message.msg_iovlen;
      }
    }
  }
}

// Records read into memory first: pread, then one gathering send.
void BM_PreadSend(benchmark::State& state) {
  const size_t chunk = static_cast<size_t>(state.range(0));
  cached_file file;
  drained_connection connection;
  std::vector<char> records(chunk);
  char header[64] = {};
  off_t at = 0;
  for (auto _ : state) {
    if (at + static_cast<off_t>(chunk) > static_cast<off_t>(file_bytes)) at = 0;
    if (pread(file.fd(), records.data(), chunk, at) != static_cast<ssize_t>(chunk)) {
      state.SkipWithError("pread");
      break;
    }
    send_gathered(connection.fd(), header, sizeof(header), records.data(), chunk);
    at += static_cast<off_t>(chunk);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * chunk));
}

// Records straight from a mapping of the file, mapped once as the broker
// keeps a window: the only copy is the kernel's into the socket.
void BM_MappedSend(benchmark::State& state) {
  const size_t chunk = static_cast<size_t>(state.range(0));
  cached_file file;
  drained_connection connection;
  void* mapped = mmap(nullptr, file_bytes, PROT_READ, MAP_SHARED, file.fd(), 0);
  if (mapped == MAP_FAILED) {
    state.SkipWithError("mmap");
    return;
  }
  const char* records = static_cast<const char*>(mapped);
  char header[64] = {};
  size_t at = 0;
  for (auto _ : state) {
    if (at + chunk > file_bytes) at = 0;
    send_gathered(connection.fd(), header, sizeof(header), records + at, chunk);
    at += chunk;
  }
  munmap(mapped, file_bytes);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * chunk));
}

// The zero-copy path: the response header from memory, the records by sendfile.
void BM_Sendfile(benchmark::State& state) {
  const size_t chunk = static_cast<size_t>(state.range(0));
  cached_file file;
  drained_connection connection;
  char header[64] = {};
  off_t at = 0;
  for (auto _ : state) {
    if (at + static_cast<off_t>(chunk) > static_cast<off_t>(file_bytes)) at = 0;
    send_all(connection.fd(), header, sizeof(header));
    size_t left = chunk;
    while (left > 0) {
      ssize_t sent = sendfile(connection.fd(), file.fd(), &at, left);
      if (sent <= 0) {
        state.SkipWithError("sendfile");
        return;
      }
      left -= static_cast<size_t>(sent);
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * chunk));
}

}  // namespace

BENCHMARK(BM_PreadSend)->Arg(16 << 10)->Arg(256 << 10)->Arg(1 << 20)->UseRealTime();
BENCHMARK(BM_MappedSend)->Arg(16 << 10)->Arg(256 << 10)->Arg(1 << 20)->UseRealTime();
BENCHMARK(BM_Sendfile)->Arg(16 << 10)->Arg(256 << 10)->Arg(1 << 20)->UseRealTime();
