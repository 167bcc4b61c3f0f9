#include "base/async_write_all.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <cstdint>
#include <vector>

namespace sluice::base {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;

constexpr size_t MiB = 1 << 20;

// A stream that records what each write_some is offered, takes at most
// `accept_most` bytes of it (as a socket with a nearly full buffer would),
// and fails the call numbered `fail_at` (from 0) with a broken pipe.
class recording_stream {
 public:
  using executor_type = asio::io_context::executor_type;
  recording_stream(executor_type executor, size_t accept_most, size_t fail_at = SIZE_MAX)
      : executor_(executor), accept_most_(accept_most), fail_at_(fail_at) {}
  executor_type get_executor() { return executor_; }

  template <typename ConstBuffers, typename Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    const size_t offered = asio::buffer_size(buffers);
    offered_bytes_.push_back(offered);
    offered_buffers_.push_back(static_cast<size_t>(asio::buffer_sequence_end(buffers) -
                                                   asio::buffer_sequence_begin(buffers)));
    const bool fail = offered_bytes_.size() - 1 == fail_at_;
    const size_t taken = fail ? 0 : std::min(offered, accept_most_);
    return asio::async_initiate<Token, void(error_code, size_t)>(
        [this, fail, taken](auto handler) {
          asio::post(executor_, [handler = std::move(handler), fail, taken]() mutable {
            handler(fail ? error_code(asio::error::broken_pipe) : error_code{}, taken);
          });
        },
        token);
  }

  const std::vector<size_t>& offered_bytes() const { return offered_bytes_; }
  const std::vector<size_t>& offered_buffers() const { return offered_buffers_; }

 private:
  executor_type executor_;
  size_t accept_most_;
  size_t fail_at_;
  std::vector<size_t> offered_bytes_;
  std::vector<size_t> offered_buffers_;
};

struct outcome {
  size_t written = 0;
  error_code ec = asio::error::would_block;  // until the write ends
};

template <typename Stream>
outcome write_all(asio::io_context& io, Stream& stream,
                  const std::vector<asio::const_buffer>& buffers) {
  outcome out;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        error_code ec;
        out.written = co_await async_write_all(stream, buffers, ec);
        out.ec = ec;
      },
      asio::detached);
  io.run_for(std::chrono::seconds(30));
  return out;
}

TEST(AsyncWriteAll, OffersEverythingUnsentInEachCall) {
  asio::io_context io;
  recording_stream stream(io.get_executor(), 3 * MiB);
  std::vector<uint8_t> data(8 * MiB, 'x');
  auto out = write_all(io, stream, {asio::buffer(data)});
  EXPECT_FALSE(out.ec);
  EXPECT_EQ(out.written, data.size());
  EXPECT_EQ(stream.offered_bytes(), (std::vector<size_t>{8 * MiB, 5 * MiB, 2 * MiB}));
}

TEST(AsyncWriteAll, OffersSixtyFourBuffersACallAndResumesInsideOne) {
  asio::io_context io;
  // 35 bytes a call: each call stops inside a buffer of 10.
  recording_stream stream(io.get_executor(), 35);
  std::vector<std::array<uint8_t, 10>> pieces(100);
  std::vector<asio::const_buffer> buffers;
  for (const auto& piece : pieces) buffers.push_back(asio::buffer(piece));
  auto out = write_all(io, stream, buffers);
  EXPECT_FALSE(out.ec);
  EXPECT_EQ(out.written, 1000u);
  ASSERT_EQ(stream.offered_bytes().size(), 29u);  // ceil(1000 / 35)
  // After the first call 965 bytes are left, from the middle of the fourth
  // buffer: 64 buffers offered (5 + 63 x 10 bytes).
  EXPECT_EQ(stream.offered_buffers()[0], 64u);
  EXPECT_EQ(stream.offered_bytes()[0], 640u);
  EXPECT_EQ(stream.offered_buffers()[1], 64u);
  EXPECT_EQ(stream.offered_bytes()[1], 5u + 63 * 10);
  // The last 20 bytes: the last two buffers, whole.
  EXPECT_EQ(stream.offered_bytes().back(), 1000u - 28 * 35);
  EXPECT_EQ(stream.offered_buffers().back(), 2u);
}

TEST(AsyncWriteAll, StopsAtTheFirstError) {
  asio::io_context io;
  recording_stream stream(io.get_executor(), 100, /*fail_at=*/1);
  std::vector<uint8_t> data(1000, 'x');
  auto out = write_all(io, stream, {asio::buffer(data)});
  EXPECT_EQ(out.ec, asio::error::broken_pipe);
  EXPECT_EQ(out.written, 100u);
  EXPECT_EQ(stream.offered_bytes().size(), 2u);
}

// The premise: asio's own async_write offers 64 KiB and 16 buffers a call.
TEST(AsyncWriteAll, AsioAloneOffersSixtyFourKiBAndSixteenBuffersACall) {
  asio::io_context io;
  recording_stream stream(io.get_executor(), 3 * MiB);
  std::vector<uint8_t> data(MiB, 'x');
  asio::async_write(stream, asio::buffer(data), [](error_code, size_t) {});
  io.run();
  ASSERT_EQ(stream.offered_bytes().size(), 16u);
  EXPECT_EQ(stream.offered_bytes().front(), 64u * 1024);

  asio::io_context io2;
  recording_stream gathered(io2.get_executor(), 3 * MiB);
  std::vector<std::array<uint8_t, 10>> pieces(32);
  std::vector<asio::const_buffer> buffers;
  for (const auto& piece : pieces) buffers.push_back(asio::buffer(piece));
  asio::async_write(gathered, buffers, [](error_code, size_t) {});
  io2.run();
  ASSERT_FALSE(gathered.offered_buffers().empty());
  EXPECT_EQ(gathered.offered_buffers().front(), 16u);
}

// Through a real socket, more than its buffer holds: each call sends part
// of the large piece, and the reader, slower than the writer, sees every
// byte in order.
TEST(AsyncWriteAll, GatheredPiecesArriveInOrderThroughASocket) {
  asio::io_context io;
  asio::local::stream_protocol::socket writer(io);
  asio::local::stream_protocol::socket reader(io);
  asio::local::connect_pair(writer, reader);
  std::vector<uint8_t> head{1, 2, 3};
  std::vector<uint8_t> middle(5 * MiB);
  for (size_t i = 0; i < middle.size(); ++i) middle[i] = static_cast<uint8_t>(i * 7);
  std::vector<uint8_t> tail{9};
  const size_t total = head.size() + middle.size() + tail.size();

  std::vector<uint8_t> received(total);
  error_code read_result = asio::error::would_block;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer pause(io);
        size_t got = 0;
        while (got < total) {
          const size_t piece = std::min<size_t>(256 * 1024, total - got);
          got += co_await asio::async_read(reader, asio::buffer(received.data() + got, piece),
                                           asio::redirect_error(asio::use_awaitable, read_result));
          if (read_result) co_return;
          pause.expires_after(std::chrono::milliseconds(1));
          co_await pause.async_wait(asio::use_awaitable);
        }
      },
      asio::detached);
  auto out = write_all(io, writer, {asio::buffer(head), asio::buffer(middle), asio::buffer(tail)});

  EXPECT_FALSE(out.ec);
  EXPECT_EQ(out.written, total);
  EXPECT_FALSE(read_result);
  std::vector<uint8_t> expected(head);
  expected.insert(expected.end(), middle.begin(), middle.end());
  expected.insert(expected.end(), tail.begin(), tail.end());
  EXPECT_TRUE(received == expected);
}

}  // namespace
}  // namespace sluice::base
