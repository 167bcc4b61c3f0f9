#pragma once

// async_write_all: asio::async_write that offers the socket everything still
// unsent in each call.
//
// asio::async_write's default completion condition (transfer_all) offers at
// most 64 KiB a call. A 1 MiB Fetch response took 16 sendmsg(2) calls, and
// each was a trip through the event loop: 17,000 calls for 1 GB of responses
// where 1,500 do (docs/performance.md, "Fetch from the mapped log"). Offering
// all of it lets the kernel take as much as fits in the socket's buffer
// (autotuned up to tcp_wmem's maximum). The broker's connections and Raft's
// transport write through it.

#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <utility>

namespace sluice::base {

template <typename Stream, typename ConstBuffers, typename Token>
auto async_write_all(Stream& stream, const ConstBuffers& buffers, Token&& token) {
  const size_t total = boost::asio::buffer_size(buffers);
  auto everything_unsent = [total](const boost::system::error_code& ec, size_t sent) -> size_t {
    return ec ? 0 : total - sent;
  };
  return boost::asio::async_write(stream, buffers, everything_unsent, std::forward<Token>(token));
}

}  // namespace sluice::base
