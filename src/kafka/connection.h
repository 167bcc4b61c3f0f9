#pragma once

// connection: one client connection, on one shard.
//
// Three coroutines: a reader reads frames ahead into a queue of at most
// queued.max.requests; a processor handles them one at a time, in order (as
// Kafka does, so a pipelining client sees its requests applied in the order
// it sent them); a writer sends the answers in the same order. An answer may
// be deferred (an acks=all write waiting for its fsync): the processor goes
// on with the next request meanwhile, so one fsync can cover several
// requests of the connection, and the writer waits for it before sending it
// and anything after it. Request bytes are counted against a budget shared
// by all connections: when it is spent, readers stop reading and TCP pushes
// back on the clients, so a flood never grows memory without bound. Answers
// are bounded too: while those waiting for a client slow to read hold more
// than 1 MiB, the processor takes no more requests.
//
// Small requests cost the broker more in hand-offs and system calls than in
// work, so the common path takes as few as it can. The reader reads whatever
// has arrived into one buffer and takes every whole frame from it: one
// recv(2) for one request or for many. The processor writes an answer to the
// socket itself when nothing is ahead of it, in one write with the answers to
// the Produce requests read with it (a pipelining client sends several
// together). The writer wakes only for the rest (deferred answers, the
// answers behind them, what a slow client has no room for yet), and sends all
// the answers that are ready in one write: one fsync often covers dozens of
// acks=all answers.
//
// A connection closes on a malformed frame or an unserved API (as Kafka
// closes it, once the requests before it are answered), after
// connections.max.idle.ms without traffic, and on shutdown() once the
// requests it already read are answered.

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kafka/request_context.h"

namespace sluice::kafka {

// The memory all connections may hold in request bytes at once.
class request_budget {
 public:
  explicit request_budget(int64_t limit) : limit_(limit) {}
  // Takes `bytes` when they fit, or when nothing is held at all (so a single
  // request larger than the budget still gets through, alone).
  bool try_acquire(int64_t bytes);
  void release(int64_t bytes) { used_.fetch_sub(bytes); }
  int64_t used() const { return used_.load(); }

 private:
  const int64_t limit_;
  std::atomic<int64_t> used_{0};
};

class connection : public std::enable_shared_from_this<connection> {
 public:
  // `open_count` counts the live connections (max.connections).
  connection(broker_services& broker, boost::asio::ip::tcp::socket socket,
             std::string listener_name, request_budget& budget, std::atomic<int>& open_count);
  ~connection();

  // Starts the reader, the processor, the writer and the idle watchdog on the
  // socket's shard.
  void start();
  // Stops reading; the connection closes once its queued requests are answered.
  // Call on the connection's shard.
  void shutdown();
  bool closed() const { return closed_; }
  const std::string& peer() const { return peer_; }

 private:
  struct queue;
  struct outgoing;
  struct outbox;

  boost::asio::awaitable<void> read_loop();
  boost::asio::awaitable<boost::system::error_code> fill_read_buffer(size_t wanted);
  boost::asio::awaitable<boost::system::error_code> read_frame_body(std::span<uint8_t> body);
  boost::asio::awaitable<boost::system::error_code> read_body(std::span<uint8_t> body);
  boost::asio::awaitable<void> discard_input();
  boost::asio::awaitable<void> process_loop();
  boost::asio::awaitable<void> answer_then_close();
  boost::asio::awaitable<void> write_loop();
  boost::asio::awaitable<void> linger();
  boost::asio::awaitable<bool> write_gathered(std::vector<outgoing>& answers);
  boost::asio::awaitable<void> idle_watchdog();
  boost::asio::awaitable<bool> process(const base::shared_bytes& frame);
  boost::asio::awaitable<bool> send_answer(outgoing answer);
  boost::asio::awaitable<bool> write_held_answers();
  boost::asio::awaitable<bool> hand_to_writer(outgoing answer);
  // Keeps `work` (if any) until it is done: requests other than Produce
  // wait for it (work_elsewhere says why).
  void remember_work_elsewhere(std::shared_ptr<work_elsewhere> work);
  boost::asio::awaitable<void> wait_for_work_elsewhere();
  // While the answers at the writer hold more than answer_bytes_at_writer_most.
  boost::asio::awaitable<void> wait_while_writer_full();
  void close_after_write_error(const boost::system::error_code& ec);
  void close(std::string_view why);

  broker_services& broker_;
  boost::asio::ip::tcp::socket socket_;
  std::string listener_name_;
  std::string peer_;
  std::string client_host_;
  request_budget& budget_;
  std::atomic<int>& open_count_;
  // What the reader has read and not yet taken: [read_begin_, read_end_).
  std::unique_ptr<uint8_t[]> read_buffer_;
  size_t read_begin_ = 0;
  size_t read_end_ = 0;
  std::unique_ptr<queue> queue_;
  std::unique_ptr<outbox> outbox_;
  // Answers handed to the writer and not yet written: while there are any,
  // the processor queues behind them rather than writing itself.
  size_t answers_with_writer_ = 0;
  // Answers the processor holds to write together with the answers to the
  // requests read with them (send_answer); never while the writer has any.
  std::vector<outgoing> held_answers_;
  // The bytes of the answers with the writer not yet written (deferred ones,
  // a Produce's, count 0).
  size_t answer_bytes_at_writer_ = 0;
  // What earlier requests left running on other shards, oldest first; done
  // ones are dropped from the front as new ones come. Each belongs to a
  // deferred answer, so there are at most as many as the writer holds.
  std::deque<std::shared_ptr<work_elsewhere>> work_elsewhere_;
  boost::asio::steady_timer idle_timer_;
  // Cancelled when the writer's answers fall under the limit.
  boost::asio::steady_timer writer_drained_;
  // The writer's wait, after the last answer to a refused client, for the
  // client to end its side; cancelled when it does.
  boost::asio::steady_timer linger_timer_;
  std::chrono::steady_clock::time_point last_activity_;
  bool closed_ = false;
  bool stopping_ = false;
  // The broker refused the client (a request it cannot decode, an oversized
  // frame): the reader drops what still arrives, and the writer ends the
  // connection with a lingering close.
  bool discarding_input_ = false;
  // The reader saw the client end its side, or failed to read.
  bool input_ended_ = false;
};

}  // namespace sluice::kafka
