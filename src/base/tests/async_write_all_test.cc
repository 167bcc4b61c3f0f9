#include "base/async_write_all.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <cstdint>
#include <vector>

namespace sluice::base {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;

// A stream that records how many bytes each write_some is offered and takes
// at most `accept_most` of them, as a socket with a full buffer would.
class recording_stream {
 public:
  using executor_type = asio::io_context::executor_type;
  recording_stream(executor_type executor, size_t accept_most)
      : executor_(executor), accept_most_(accept_most) {}
  executor_type get_executor() { return executor_; }

  template <typename ConstBuffers, typename Handler>
  void async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    const size_t offered = asio::buffer_size(buffers);
    offered_.push_back(offered);
    asio::post(executor_, [handler = std::forward<Handler>(handler),
                           taken = std::min(offered, accept_most_)]() mutable {
      handler(error_code{}, taken);
    });
  }

  const std::vector<size_t>& offered() const { return offered_; }

 private:
  executor_type executor_;
  size_t accept_most_;
  std::vector<size_t> offered_;
};

constexpr size_t MiB = 1 << 20;

TEST(AsyncWriteAll, OffersEverythingUnsentInEachCall) {
  asio::io_context io;
  recording_stream stream(io.get_executor(), 3 * MiB);
  std::vector<uint8_t> data(8 * MiB, 'x');
  error_code result = asio::error::would_block;
  size_t written = 0;
  async_write_all(stream, asio::buffer(data), [&](error_code ec, size_t n) {
    result = ec;
    written = n;
  });
  io.run();
  EXPECT_FALSE(result);
  EXPECT_EQ(written, data.size());
  EXPECT_EQ(stream.offered(), (std::vector<size_t>{8 * MiB, 5 * MiB, 2 * MiB}));
}

// The premise: asio's own default hands the socket 64 KiB a call.
TEST(AsyncWriteAll, AsioAloneOffersSixtyFourKiBACall) {
  asio::io_context io;
  recording_stream stream(io.get_executor(), 3 * MiB);
  std::vector<uint8_t> data(MiB, 'x');
  asio::async_write(stream, asio::buffer(data), [](error_code, size_t) {});
  io.run();
  ASSERT_FALSE(stream.offered().empty());
  EXPECT_EQ(stream.offered().front(), 64u * 1024);
  EXPECT_EQ(stream.offered().size(), 16u);
}

// Gathered pieces through a real socket, read slowly at the other end,
// arrive whole and in order.
TEST(AsyncWriteAll, GatheredPiecesArriveInOrderThroughASocket) {
  asio::io_context io;
  asio::local::stream_protocol::socket writer(io);
  asio::local::stream_protocol::socket reader(io);
  asio::local::connect_pair(writer, reader);
  std::vector<uint8_t> head{1, 2, 3};
  std::vector<uint8_t> middle(5 * MiB);
  for (size_t i = 0; i < middle.size(); ++i) middle[i] = static_cast<uint8_t>(i * 7);
  std::vector<uint8_t> tail{9};
  std::array<asio::const_buffer, 3> pieces{asio::buffer(head), asio::buffer(middle),
                                           asio::buffer(tail)};
  const size_t total = head.size() + middle.size() + tail.size();

  error_code write_result = asio::error::would_block;
  async_write_all(writer, pieces, [&](error_code ec, size_t) { write_result = ec; });
  std::vector<uint8_t> received(total);
  error_code read_result = asio::error::would_block;
  asio::async_read(reader, asio::buffer(received),
                   [&](error_code ec, size_t) { read_result = ec; });
  io.run_for(std::chrono::seconds(30));

  EXPECT_FALSE(write_result);
  EXPECT_FALSE(read_result);
  std::vector<uint8_t> expected(head);
  expected.insert(expected.end(), middle.begin(), middle.end());
  expected.insert(expected.end(), tail.begin(), tail.end());
  EXPECT_TRUE(received == expected);
}

}  // namespace
}  // namespace sluice::base
