#pragma once

// async_write_all: writes a sequence of buffers to a socket, offering the
// kernel everything still unsent in each call.
//
// asio::async_write offers at most 64 KiB and 16 buffers a call. A 1 MiB
// Fetch response took 16 sendmsg(2) calls, each a trip through the event
// loop (17,000 calls for 1 GB of responses where 1,500 do:
// docs/performance.md, "Fetch from the mapped log"), and a Raft batch of 256
// small frames (512 buffers) took 32. Here each call offers every byte left,
// in up to 64 buffers (what asio passes to one sendmsg), and the kernel takes
// as much as fits in the socket's buffer (autotuned up to tcp_wmem's
// maximum). The broker's connections and Raft's transport write through it.

#include <array>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <span>

namespace sluice::base {

inline constexpr size_t buffers_per_write = 64;

// Returns the bytes written: all of them, or those before the error left in
// `ec`.
template <typename Stream>
boost::asio::awaitable<size_t> async_write_all(Stream& stream,
                                               std::span<const boost::asio::const_buffer> buffers,
                                               boost::system::error_code& ec) {
  ec = {};
  size_t written = 0;
  size_t next = 0;       // the first buffer not wholly sent
  size_t next_sent = 0;  // bytes of it already sent
  std::array<boost::asio::const_buffer, buffers_per_write> window;
  while (next < buffers.size()) {
    size_t count = 0;
    window[count++] = buffers[next] + next_sent;
    for (size_t i = next + 1; i < buffers.size() && count < buffers_per_write; ++i) {
      window[count++] = buffers[i];
    }
    size_t sent = co_await stream.async_write_some(
        std::span<const boost::asio::const_buffer>(window.data(), count),
        boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    written += sent;
    if (ec) co_return written;
    // Past the buffers this call took whole, into the one it stopped in.
    sent += next_sent;
    while (next < buffers.size() && sent >= buffers[next].size()) {
      sent -= buffers[next].size();
      ++next;
    }
    next_sent = sent;
  }
  co_return written;
}

template <typename Stream>
boost::asio::awaitable<size_t> async_write_all(Stream& stream, boost::asio::const_buffer buffer,
                                               boost::system::error_code& ec) {
  co_return co_await async_write_all(stream, std::span<const boost::asio::const_buffer>(&buffer, 1),
                                     ec);
}

}  // namespace sluice::base
