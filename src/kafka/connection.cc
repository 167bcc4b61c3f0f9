#include "kafka/connection.h"

#include <linux/sockios.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>

#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/channel.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstring>
#include <limits>

#include "base/async_write_all.h"
#include "kafka/handlers.h"

namespace sluice::kafka {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

// How soon a reader that found the budget spent looks again: soon at first,
// then less often, so that thousands of waiting readers do not spin.
constexpr auto budget_retry_first = std::chrono::milliseconds(1);
constexpr auto budget_retry_most = std::chrono::milliseconds(50);

// What the reader reads into at once. A frame that fits is taken from it
// with a copy; a larger one is read into a buffer of its own.
constexpr size_t read_buffer_size = 16 * 1024;

// A request body that is still missing more than this after the first read
// is read with the socket's low watermark (SO_RCVLOWAT) at what is missing.
constexpr size_t low_watermark_from = 64 * 1024;
// The most the watermark asks for at once; Linux caps it at half the largest
// receive buffer (tcp_rmem), 3 MiB by default.
constexpr size_t low_watermark_most = 2 * 1024 * 1024;

// After the last answer to a client the broker refuses (a request it cannot
// decode, an oversized frame), how long the broker waits for the client to
// end its side, or to take more of the answers, before it closes anyway.
constexpr auto linger_most = std::chrono::seconds(2);
// The most a refused client may still send to be read and dropped: what a
// client with a few large requests in flight sends before it notices. Past
// it the broker reads no more, and the client's sends block.
constexpr size_t discard_most = 64 * 1024 * 1024;

// The bytes written to `socket` that the client has not acknowledged yet.
size_t unacknowledged_bytes(asio::ip::tcp::socket& socket) {
  int bytes = 0;
  if (::ioctl(socket.native_handle(), SIOCOUTQ, &bytes) != 0 || bytes < 0) return 0;
  return static_cast<size_t>(bytes);
}

}  // namespace

bool request_budget::try_acquire(int64_t bytes) {
  int64_t used = used_.load();
  while (used == 0 || used + bytes <= limit_) {
    if (used_.compare_exchange_weak(used, used + bytes)) return true;
  }
  return false;
}

// The requests read ahead, each a frame (without its size), in order;
// nullopt marks the end. A frame's bytes hold their share of the budget until
// the last holder lets them go (the processor, or an append still running on
// another shard): however a connection ends, its requests give their bytes
// back.
struct connection::queue {
  explicit queue(asio::any_io_executor executor, size_t capacity) : channel(executor, capacity) {}
  asio::experimental::channel<void(error_code, std::optional<base::shared_bytes>)> channel;
};

namespace {

// Appends the buffers of a gathered frame in wire order: the frame's own
// bytes cut at each splice, the spliced bytes in between.
void append_wire_buffers(const protocol::gathered_frame& frame,
                         std::vector<asio::const_buffer>& out) {
  size_t from = 0;
  for (const auto& splice : frame.splices) {
    if (splice.at > from) out.emplace_back(frame.bytes.data() + from, splice.at - from);
    out.emplace_back(splice.bytes.data(), splice.bytes.size());
    from = splice.at;
  }
  if (frame.bytes.size() > from)
    out.emplace_back(frame.bytes.data() + from, frame.bytes.size() - from);
}

// The most answers the writer gathers into one write.
constexpr size_t answers_per_write = 256;
// Past this many bytes of answers waiting at the writer (for a client slow
// to read), the processor takes no more requests until the writer has sent
// some: the request budget counts requests, not answers, and a client that
// pipelines Fetch requests without reading must not make the broker hold
// their answers without bound. (Kafka holds one answer per connection.)
constexpr size_t answer_bytes_at_writer_most = 1024 * 1024;
// The most queued requests the processor handles before it lets the shard's
// other work run.
constexpr size_t requests_per_turn = 16;

}  // namespace

// An answer on its way to the client, and how much of it the processor
// already wrote.
struct connection::outgoing {
  std::variant<std::vector<uint8_t>, protocol::gathered_frame, deferred_response> answer;
  size_t sent = 0;
  // What this answer adds to connection::answer_bytes_at_writer_.
  size_t counted_at_writer = 0;

  // The whole answer's size; not for a deferred answer.
  size_t size() const {
    if (const auto* bytes = std::get_if<std::vector<uint8_t>>(&answer)) return bytes->size();
    const auto& frame = std::get<protocol::gathered_frame>(answer);
    size_t total = frame.bytes.size();
    for (const auto& splice : frame.splices) total += splice.bytes.size();
    return total;
  }

  // Appends the answer's bytes not yet sent, in wire order; not for a
  // deferred answer.
  void append_unsent(std::vector<asio::const_buffer>& out) const {
    const size_t first = out.size();
    if (const auto* bytes = std::get_if<std::vector<uint8_t>>(&answer)) {
      out.push_back(asio::buffer(*bytes));
    } else {
      append_wire_buffers(std::get<protocol::gathered_frame>(answer), out);
    }
    size_t skip = sent;
    auto unsent = out.begin() + static_cast<std::ptrdiff_t>(first);
    while (unsent != out.end() && skip >= unsent->size()) {
      skip -= unsent->size();
      ++unsent;
    }
    const bool inside_one = unsent != out.end() && skip > 0;
    out.erase(out.begin() + static_cast<std::ptrdiff_t>(first), unsent);
    if (inside_one) out[first] += skip;
  }
};

// The answers on their way to the writer, in request order; nullopt marks the
// end: everything is answered and the connection may close.
struct connection::outbox {
  explicit outbox(asio::any_io_executor executor, size_t capacity) : channel(executor, capacity) {}
  asio::experimental::channel<void(error_code, std::optional<outgoing>)> channel;
};

connection::connection(broker_services& broker, asio::ip::tcp::socket socket,
                       std::string listener_name, request_budget& budget,
                       std::atomic<int>& open_count)
    : broker_(broker),
      socket_(std::move(socket)),
      listener_name_(std::move(listener_name)),
      budget_(budget),
      open_count_(open_count),
      idle_timer_(socket_.get_executor()),
      writer_drained_(socket_.get_executor()),
      linger_timer_(socket_.get_executor()),
      last_activity_(std::chrono::steady_clock::now()) {
  open_count_.fetch_add(1);
  error_code ec;
  auto remote = socket_.remote_endpoint(ec);
  peer_ = ec ? "unknown peer" : remote.address().to_string() + ":" + std::to_string(remote.port());
  client_host_ = ec ? "/unknown" : "/" + remote.address().to_string();
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  // The reader's reads and the processor's writes must not wait on the
  // socket (start() closes a connection where this failed).
  socket_.non_blocking(true, ec);
  // The reader may be at most this many requests ahead of the processor
  // (the channel's buffer, plus one the reader holds while it waits, plus
  // whatever whole frames its 16 KiB buffer still holds).
  size_t capacity = static_cast<size_t>(std::max(1, broker_.config.queued_max_requests - 1));
  queue_ = std::make_unique<queue>(socket_.get_executor(), capacity);
  // As many answers may wait for the writer (deferred ones for their fsync).
  outbox_ = std::make_unique<outbox>(socket_.get_executor(), capacity);
}

connection::~connection() { open_count_.fetch_sub(1); }

void connection::start() {
  if (!socket_.non_blocking()) {
    spdlog::warn("connection from {}: the socket cannot be made non-blocking", peer_);
    close("");
    return;
  }
  auto self = shared_from_this();
  auto executor = socket_.get_executor();
  asio::co_spawn(
      executor, [self]() { return self->read_loop(); }, asio::detached);
  asio::co_spawn(
      executor, [self]() { return self->process_loop(); }, asio::detached);
  asio::co_spawn(
      executor, [self]() { return self->write_loop(); }, asio::detached);
  asio::co_spawn(
      executor, [self]() { return self->idle_watchdog(); }, asio::detached);
}

void connection::shutdown() {
  stopping_ = true;
  error_code ignored;
  // The reader's pending read ends; what it already queued is still answered.
  socket_.shutdown(asio::ip::tcp::socket::shutdown_receive, ignored);
}

void connection::close(std::string_view why) {
  if (closed_) return;
  closed_ = true;
  if (!why.empty()) spdlog::debug("closing connection from {}: {}", peer_, why);
  error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  // Cancel first: a reader waiting to queue into a full channel is woken
  // (close() alone wakes only receivers).
  queue_->channel.cancel();
  queue_->channel.close();
  outbox_->channel.cancel();
  outbox_->channel.close();
  idle_timer_.cancel();
  writer_drained_.cancel();
  linger_timer_.cancel();
}

asio::awaitable<void> connection::read_loop() {
  auto self = shared_from_this();
  const int32_t max_frame = broker_.config.socket_request_max_bytes;
  while (!closed_ && !stopping_) {
    error_code ec = co_await fill_read_buffer(4);
    if (ec) {
      input_ended_ = true;
      break;
    }
    auto size = protocol::parse_frame_size(
        std::span<const uint8_t, 4>(read_buffer_.get() + read_begin_, 4), max_frame);
    if (!size) {
      // Kafka closes the connection rather than reading an oversized frame,
      // once the requests before it are answered: the processor ends it.
      spdlog::debug("closing connection from {}: {}", peer_, size.error().message);
      discarding_input_ = true;
      break;
    }
    read_begin_ += 4;
    asio::steady_timer wait(socket_.get_executor());
    std::chrono::milliseconds retry = budget_retry_first;
    bool acquired = false;
    while (!closed_ && !stopping_ && !(acquired = budget_.try_acquire(*size))) {
      wait.expires_after(retry);
      retry = std::min(retry * 2, budget_retry_most);
      co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (!acquired) break;
    // Not zero-filled: a client that announces a large frame and sends
    // nothing costs address space, not memory.
    const auto charged = static_cast<size_t>(*size);
    std::shared_ptr<uint8_t[]> body(new uint8_t[charged], [&budget = budget_, charged](uint8_t* b) {
      delete[] b;
      budget.release(static_cast<int64_t>(charged));
    });
    ec = co_await read_frame_body(std::span<uint8_t>(body.get(), charged));
    if (ec) {
      input_ended_ = true;
      break;
    }
    const uint8_t* data = body.get();
    std::optional<base::shared_bytes> frame(base::shared_bytes(std::move(body), data, charged));
    // The processor usually waits for it: hand it over without suspending.
    // try_send leaves `frame` as it was when it fails.
    if (!queue_->channel.try_send(error_code{}, std::move(frame))) {
      co_await queue_->channel.async_send(error_code{}, std::move(frame),
                                          asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
    }
  }
  // Tell the processor there is nothing more (it may have closed the channel).
  error_code ignored;
  if (!closed_) {
    co_await queue_->channel.async_send(error_code{}, std::nullopt,
                                        asio::redirect_error(asio::use_awaitable, ignored));
  }
  if (discarding_input_ && !input_ended_) co_await discard_input();
  if (input_ended_) linger_timer_.cancel();  // the writer need not wait for it
}

// A refused client may still be sending, not having read the answer yet.
// Closing a socket with received bytes unread makes the kernel reset the
// connection and drop the answers it has not sent yet, so what arrives is
// read and dropped (up to discard_most) until the client ends its side or
// the connection closes. Reading here is no activity: a client that sends
// and never reads still meets the idle timeout.
asio::awaitable<void> connection::discard_input() {
  error_code ec;
  socket_.set_option(asio::socket_base::receive_low_watermark(1), ec);
  if (read_buffer_ == nullptr) read_buffer_.reset(new uint8_t[read_buffer_size]);
  size_t discarded = 0;
  while (!closed_ && !ec && discarded < discard_most) {
    discarded +=
        co_await socket_.async_read_some(asio::buffer(read_buffer_.get(), read_buffer_size),
                                         asio::redirect_error(asio::use_awaitable, ec));
  }
  if (ec) input_ended_ = true;
}

// Reads until the read buffer holds at least `wanted` bytes (no more than
// read_buffer_size), moving what it holds to its start when the room after
// it is too small. An idle connection holds no buffer: it gets one once
// bytes arrive, and gives it back once it has taken every frame from it.
asio::awaitable<error_code> connection::fill_read_buffer(size_t wanted) {
  error_code ec;
  while (read_end_ - read_begin_ < wanted) {
    if (read_buffer_ == nullptr) {
      co_await socket_.async_wait(asio::socket_base::wait_read,
                                  asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return ec;
      read_buffer_.reset(new uint8_t[read_buffer_size]);
    }
    if (read_buffer_size - read_begin_ < wanted) {
      std::memmove(read_buffer_.get(), read_buffer_.get() + read_begin_, read_end_ - read_begin_);
      read_end_ -= read_begin_;
      read_begin_ = 0;
    }
    const size_t got = socket_.read_some(
        asio::buffer(read_buffer_.get() + read_end_, read_buffer_size - read_end_), ec);
    if (ec == asio::error::would_block) {
      co_await socket_.async_wait(asio::socket_base::wait_read,
                                  asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return ec;
      continue;
    }
    if (ec) co_return ec;
    read_end_ += got;
    last_activity_ = std::chrono::steady_clock::now();
  }
  co_return ec;
}

// Fills a frame's body: from the read buffer when it fits there, else with
// what the buffer holds and then straight from the socket.
asio::awaitable<error_code> connection::read_frame_body(std::span<uint8_t> body) {
  error_code ec;
  if (body.size() <= read_buffer_size) {
    ec = co_await fill_read_buffer(body.size());
    if (ec) co_return ec;
    std::memcpy(body.data(), read_buffer_.get() + read_begin_, body.size());
    read_begin_ += body.size();
  } else {
    const size_t buffered = read_end_ - read_begin_;
    std::memcpy(body.data(), read_buffer_.get() + read_begin_, buffered);
    read_begin_ = read_end_;
    ec = co_await read_body(body.subspan(buffered));
    if (!ec) last_activity_ = std::chrono::steady_clock::now();
  }
  if (read_begin_ == read_end_) {
    read_begin_ = read_end_ = 0;
    read_buffer_.reset();
  }
  co_return ec;
}

// A large request arrives in pieces of a few dozen KiB. Read as they come,
// each piece costs a wakeup, a recv(2) and a window update that loopback TCP
// processes for the client's side too: for 1 MiB produce requests recv(2)
// was 39% of the broker's CPU, most of it not the copy. With the socket's
// low watermark at the bytes still missing, the kernel wakes the reader once
// they are all there (or once its receive window is nearly closed, so the
// sender never stalls on it: Linux has done so since before 6.1, Debian
// 12's kernel). The watermark is never above what is missing:
// past the frame's end it would wait for bytes that a client sends only
// after the answer.
asio::awaitable<error_code> connection::read_body(std::span<uint8_t> body) {
  error_code ec;
  size_t got = co_await socket_.async_read_some(asio::buffer(body.data(), body.size()),
                                                asio::redirect_error(asio::use_awaitable, ec));
  if (ec || body.size() - got <= low_watermark_from) {
    if (!ec && got < body.size()) {
      co_await asio::async_read(socket_, asio::buffer(body.data() + got, body.size() - got),
                                asio::redirect_error(asio::use_awaitable, ec));
    }
    co_return ec;
  }
  size_t watermark = 1;
  while (got < body.size()) {
    const size_t missing = body.size() - got;
    if (std::min(missing, low_watermark_most) != watermark) {
      watermark = std::min(missing, low_watermark_most);
      socket_.set_option(asio::socket_base::receive_low_watermark(static_cast<int>(watermark)), ec);
      if (ec) co_return ec;
    }
    got += co_await socket_.async_read_some(asio::buffer(body.data() + got, missing),
                                            asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return ec;
  }
  socket_.set_option(asio::socket_base::receive_low_watermark(1), ec);
  co_return ec;
}

asio::awaitable<void> connection::process_loop() {
  auto self = shared_from_this();
  size_t taken_in_a_row = 0;
  while (!closed_) {
    error_code ec;
    std::optional<base::shared_bytes> request;
    // A request the reader queued ahead is taken without suspending, but
    // not too many in a row: the shard's other connections get their turn.
    bool queued = false;
    if (++taken_in_a_row < requests_per_turn) {
      queued =
          queue_->channel.try_receive([&](error_code e, std::optional<base::shared_bytes> frame) {
            ec = e;
            request = std::move(frame);
          });
    }
    if (!queued) {
      taken_in_a_row = 0;
      const bool open = co_await write_held_answers();
      if (!open) break;
      request =
          co_await queue_->channel.async_receive(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (ec) break;
    if (!request) break;  // the client is done, or the broker stops
    bool keep_open = false;
    try {
      keep_open = co_await process(*request);
    } catch (const std::exception& e) {
      spdlog::error("request from {} failed: {}", peer_, e.what());
    }
    request.reset();  // its budget goes back before the next one
    if (!keep_open) {
      discarding_input_ = true;
      break;
    }
  }
  co_await answer_then_close();
}

// The processor takes no more requests. The answers to those before still
// go out, as Kafka sends them before it reads a request that makes it close:
// the writer closes the connection once it has written them. When the broker
// refuses the client, the close lingers (discard_input, linger): Kafka's
// plain close can reset the connection and lose those answers.
asio::awaitable<void> connection::answer_then_close() {
  if (closed_) co_return;
  error_code ec;
  // Once the client is done, or while the broker stops, there is no lingering.
  discarding_input_ = discarding_input_ && !stopping_;
  stopping_ = true;
  if (discarding_input_) {
    // The reader goes on only to drop what arrives (discard_input). The
    // requests queued behind are dropped now, their budget with them, and a
    // reader waiting for room in the queue stops waiting.
    queue_->channel.reset();
    queue_->channel.close();
  } else {
    socket_.shutdown(asio::ip::tcp::socket::shutdown_receive, ec);  // the reader ends
  }
  const bool open = co_await write_held_answers();
  if (!open) co_return;
  co_await outbox_->channel.async_send(error_code{}, std::nullopt,
                                       asio::redirect_error(asio::use_awaitable, ec));
}

// Sends the answers in order. It gathers an answer and the ones queued
// behind it that are ready into one write: an fsync for one acks=all answer
// usually covers dozens queued behind it, and one write each would cost the
// shard more than the fsync. What it gathered goes out before it waits for an
// fsync.
asio::awaitable<void> connection::write_loop() {
  auto self = shared_from_this();
  bool more = true;
  while (more && !closed_) {
    std::vector<outgoing> gathered;
    error_code ec;
    auto next =
        co_await outbox_->channel.async_receive(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    while (true) {
      if (!next) {
        more = false;
        break;
      }
      if (auto* deferred = std::get_if<deferred_response>(&next->answer)) {
        const bool ready = deferred->ready && deferred->ready();
        if (!ready && !co_await write_gathered(gathered)) co_return;
        try {
          next->answer = co_await std::move(deferred->finish);
        } catch (const std::exception& e) {
          spdlog::error("request from {} failed: {}", peer_, e.what());
          close("");
          co_return;
        }
        if (closed_) co_return;
      }
      gathered.push_back(std::move(*next));
      if (gathered.size() == answers_per_write) break;
      const bool queued =
          outbox_->channel.try_receive([&](error_code e, std::optional<outgoing> answer) {
            ec = e;
            next = std::move(answer);
          });
      if (!queued || ec) break;
    }
    if (!co_await write_gathered(gathered)) co_return;
  }
  if (!more && discarding_input_) co_await linger();
  close("");
}

// The answers to a refused client are all in the socket: the client sees the
// end after them. The close waits for the client to end its side, as long as
// it keeps taking the answers, or for linger_most once it has them all or
// stops taking them.
asio::awaitable<void> connection::linger() {
  error_code ec;
  if (closed_ || input_ended_) co_return;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ec);
  size_t unacknowledged = std::numeric_limits<size_t>::max();
  while (!closed_ && !input_ended_) {
    linger_timer_.expires_after(linger_most);
    co_await linger_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    const size_t left = unacknowledged_bytes(socket_);
    if (left == 0 || left >= unacknowledged) break;
    unacknowledged = left;
  }
}

// Writes the gathered answers and forgets them; false if the connection
// closed.
asio::awaitable<bool> connection::write_gathered(std::vector<outgoing>& answers) {
  if (answers.empty()) co_return !closed_;
  std::vector<asio::const_buffer> buffers;
  for (const auto& answer : answers) answer.append_unsent(buffers);
  // Empty answers (acks=0 Produce requests) send nothing.
  if (asio::buffer_size(buffers) > 0) {
    error_code ec;
    co_await base::async_write_all(socket_, buffers, ec);
    if (ec) {
      close_after_write_error(ec);
      co_return false;
    }
  }
  answers_with_writer_ -= answers.size();
  for (const auto& answer : answers) answer_bytes_at_writer_ -= answer.counted_at_writer;
  if (answer_bytes_at_writer_ <= answer_bytes_at_writer_most) writer_drained_.cancel();
  answers.clear();
  last_activity_ = std::chrono::steady_clock::now();
  co_return true;
}

void connection::close_after_write_error(const error_code& ec) {
  // EFAULT: the kernel could not read a page of the mapped log it was
  // sending (an I/O error): a storage problem, not the client's.
  if (ec == asio::error::fault) {
    spdlog::error("sending to {} failed reading the log: {}", peer_, ec.message());
  }
  close(ec.message());
}

asio::awaitable<bool> connection::process(const base::shared_bytes& frame) {
  auto parsed = protocol::parse_request(frame);
  if (!parsed) {
    spdlog::debug("closing connection from {}: {}", peer_, parsed.error().message);
    co_return false;
  }
  const auto& header = parsed->header;
  const auto key = parsed->api->key;
  const served_api* served = find_served_api(key);
  bool version_served = parsed->version_supported && served != nullptr &&
                        header.request_api_version >= served->min_version &&
                        header.request_api_version <= served->max_version;
  // Only a served Produce is handled without waiting: held answers
  // (send_answer) must not wait for anything else.
  if (key != protocol::api_key::produce || !version_served) {
    const bool open = co_await write_held_answers();
    if (!open) co_return false;
  }
  co_await wait_while_writer_full();
  if (closed_) co_return false;
  outgoing answer;
  if (!version_served) {
    if (key != protocol::api_key::api_versions) {
      // Kafka answers nothing and closes: the client should have asked
      // ApiVersions first.
      spdlog::debug("closing connection from {}: {} v{} is not served", peer_, parsed->api->name,
                    header.request_api_version);
      co_return false;
    }
    // KIP-511: answer an ApiVersions too new for us in v0 with our range.
    answer.answer = protocol::encode_unsupported_api_versions_frame(
        header.correlation_id, served->min_version, served->max_version);
  } else {
    if (key != protocol::api_key::produce) co_await wait_for_work_elsewhere();
    if (closed_) co_return false;
    request_context ctx{broker_,        header,      header.request_api_version, key, parsed->body,
                        listener_name_, client_host_};
    handler_result result = co_await dispatch(ctx);
    if (auto* reason = std::get_if<close_connection>(&result)) {
      spdlog::debug("closing connection from {}: {}", peer_, reason->reason);
      co_return false;
    }
    if (std::holds_alternative<no_response>(result)) co_return true;
    if (auto* deferred = std::get_if<deferred_response>(&result)) {
      remember_work_elsewhere(std::move(deferred->elsewhere));
      answer.answer = std::move(*deferred);
    } else if (auto* gathered = std::get_if<protocol::gathered_frame>(&result)) {
      answer.answer = std::move(*gathered);
    } else {
      answer.answer = std::move(std::get<std::vector<uint8_t>>(result));
    }
  }
  co_return co_await send_answer(std::move(answer));
}

// Writes the answer at once when nothing is ahead of it, together with the
// answers to the next requests when they were read with it; what the socket
// has no room for, and any answer behind a deferred one, goes to the writer.
// (The results of co_await go into variables on purpose: GCC 12 compiled a
// `co_return co_await` after an earlier `co_return` here into a SIGILL.)
asio::awaitable<bool> connection::send_answer(outgoing answer) {
  const bool to_writer =
      answers_with_writer_ > 0 || std::holds_alternative<deferred_response>(answer.answer);
  if (!to_writer) {
    held_answers_.push_back(std::move(answer));
    // One write_some takes at most base::buffers_per_write buffers.
    if (queue_->channel.ready() && held_answers_.size() < base::buffers_per_write) {
      co_return true;
    }
  }
  bool open = co_await write_held_answers();
  if (open && to_writer) open = co_await hand_to_writer(std::move(answer));
  co_return open;
}

// A client that pipelines sends several requests in one packet, and the
// broker reads them in one recv(2); one write for all their answers spares
// a sendmsg(2) each, and the client a wakeup each.
asio::awaitable<bool> connection::write_held_answers() {
  if (held_answers_.empty()) co_return !closed_;
  std::vector<asio::const_buffer> buffers;
  for (const auto& answer : held_answers_) answer.append_unsent(buffers);
  error_code ec;
  size_t written = socket_.write_some(buffers, ec);
  if (ec && ec != asio::error::would_block) {
    held_answers_.clear();
    close_after_write_error(ec);
    co_return false;
  }
  if (written > 0) last_activity_ = std::chrono::steady_clock::now();
  std::vector<outgoing> answers = std::move(held_answers_);
  held_answers_.clear();
  for (auto& answer : answers) {
    const size_t unsent = answer.size() - answer.sent;
    if (written >= unsent) {
      written -= unsent;
      continue;
    }
    answer.sent += written;
    written = 0;
    const bool open = co_await hand_to_writer(std::move(answer));
    if (!open) co_return false;
  }
  co_return true;
}

asio::awaitable<bool> connection::hand_to_writer(outgoing answer) {
  ++answers_with_writer_;
  // A deferred answer is a Produce's: small, and unknown until it is done.
  if (!std::holds_alternative<deferred_response>(answer.answer)) {
    answer.counted_at_writer = answer.size() - answer.sent;
    answer_bytes_at_writer_ += answer.counted_at_writer;
  }
  error_code ec;
  std::optional<outgoing> queued(std::move(answer));
  // try_send leaves `queued` as it was when it fails.
  if (!outbox_->channel.try_send(error_code{}, std::move(queued))) {
    co_await outbox_->channel.async_send(error_code{}, std::move(queued),
                                         asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return !ec;
}

void connection::remember_work_elsewhere(std::shared_ptr<work_elsewhere> work) {
  if (!work) return;
  while (!work_elsewhere_.empty() && work_elsewhere_.front()->done()) work_elsewhere_.pop_front();
  work_elsewhere_.push_back(std::move(work));
}

asio::awaitable<void> connection::wait_while_writer_full() {
  while (answer_bytes_at_writer_ > answer_bytes_at_writer_most && !closed_) {
    error_code ignored;
    writer_drained_.expires_at(asio::steady_timer::time_point::max());
    co_await writer_drained_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }
}

asio::awaitable<void> connection::wait_for_work_elsewhere() {
  // Only the processor adds to the list, and it is waiting here.
  while (!work_elsewhere_.empty()) {
    co_await work_elsewhere_.front()->wait();
    work_elsewhere_.pop_front();
  }
}

asio::awaitable<void> connection::idle_watchdog() {
  auto self = shared_from_this();
  const auto idle = std::chrono::milliseconds(broker_.config.connections_max_idle_ms);
  if (idle.count() <= 0) co_return;
  while (!closed_) {
    auto deadline = last_activity_ + idle;
    if (std::chrono::steady_clock::now() >= deadline) {
      close("idle for connections.max.idle.ms");
      break;
    }
    // close() cancels the wait, so a closed connection (and the requests
    // still queued in it, with their budget) goes at once.
    idle_timer_.expires_at(deadline);
    error_code ec;
    co_await idle_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
}

}  // namespace sluice::kafka
