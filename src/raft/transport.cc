#include "raft/transport.h"

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>
#include <optional>

#include "base/async_write_all.h"
#include "base/byte_reader.h"
#include "base/byte_writer.h"
#include "base/crc32c.h"
#include "base/endian.h"

namespace sluice::raft {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr size_t header_bytes = 8;            // u32 length, u32 crc32c
constexpr uint32_t hello_magic = 0x534c5254;  // "SLRT"
constexpr uint8_t hello_version = 1;
constexpr size_t hello_bytes = 4 + 1 + 8 + 4 + 4;
// One write takes at most this many queued frames (512 buffers, sent 64 a
// sendmsg by base::async_write_all).
constexpr size_t max_frames_per_write = 256;
// After a failed accept (out of descriptors, say), wait before the next.
constexpr auto accept_backoff = std::chrono::milliseconds(100);

auto use_ec(error_code& ec) { return asio::redirect_error(asio::use_awaitable, ec); }

void close(tcp::socket& socket) {
  error_code ignored;
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

struct frame {
  std::array<uint8_t, header_bytes> header;
  std::vector<uint8_t> payload;
};

frame make_frame(std::vector<uint8_t> payload) {
  frame f;
  base::store_be(f.header.data(), static_cast<uint32_t>(payload.size()));
  base::store_be(f.header.data() + 4, base::crc32c::value(payload));
  f.payload = std::move(payload);
  return f;
}

struct hello {
  uint64_t cluster_id = 0;
  node_id from = no_node;
  node_id to = no_node;
};

std::vector<uint8_t> encode_hello(const hello& h) {
  base::byte_writer out(hello_bytes);
  out.write_uint32(hello_magic);
  out.write_uint8(hello_version);
  out.write_int64(static_cast<int64_t>(h.cluster_id));
  out.write_int32(h.from);
  out.write_int32(h.to);
  return out.take();
}

base::result<hello> decode_hello(base::shared_bytes payload) {
  base::byte_reader in(std::move(payload));
  if (in.read_uint32() != hello_magic) return base::fail("not a Raft transport hello");
  if (in.read_uint8() != hello_version) return base::fail("unknown hello version");
  hello h;
  h.cluster_id = static_cast<uint64_t>(in.read_int64());
  h.from = in.read_int32();
  h.to = in.read_int32();
  if (!in.ok() || in.remaining() != 0) return base::fail("malformed hello");
  return h;
}

// One frame's payload; nullopt when the connection ended (closed, reset,
// cancelled); an error when the peer sent what must close it.
asio::awaitable<base::result<std::optional<base::shared_bytes>>> read_frame(tcp::socket& socket,
                                                                            size_t max_bytes) {
  std::array<uint8_t, header_bytes> header;
  error_code ec;
  co_await asio::async_read(socket, asio::buffer(header), use_ec(ec));
  if (ec) co_return std::nullopt;
  uint32_t length = base::load_be<uint32_t>(header.data());
  uint32_t crc = base::load_be<uint32_t>(header.data() + 4);
  if (length > max_bytes) {
    co_return base::fail("a frame of " + std::to_string(length) + " bytes, more than " +
                         std::to_string(max_bytes));
  }
  // Not zero-filled: a peer that announces a large frame and sends nothing
  // costs address space, not memory.
  std::shared_ptr<uint8_t[]> body(new uint8_t[length]);
  co_await asio::async_read(socket, asio::buffer(body.get(), length), use_ec(ec));
  if (ec) co_return std::nullopt;
  if (base::crc32c::value(body.get(), length) != crc) co_return base::fail("frame checksum");
  const uint8_t* data = body.get();
  co_return base::shared_bytes(std::move(body), data, length);
}

}  // namespace

struct peer {
  peer(asio::io_context& io, node_id id, tcp::endpoint endpoint)
      : id(id), endpoint(endpoint), wake(io), retry(io) {}

  node_id id;
  tcp::endpoint endpoint;
  std::deque<frame> queue;
  size_t queued_bytes = 0;
  // The writer waits on `wake` for frames (send() cancels it) and on
  // `retry` between dials.
  asio::steady_timer wake;
  asio::steady_timer retry;
  std::shared_ptr<tcp::socket> socket;  // the current outbound connection
  peer_stats stats;
};

struct transport::state : std::enable_shared_from_this<state> {
  state(asio::io_context& io, transport_options o, batch_handler h)
      : io(io), options(std::move(o)), on_batch(std::move(h)), acceptor(io) {}

  asio::io_context& io;
  transport_options options;
  batch_handler on_batch;
  tcp::acceptor acceptor;
  uint16_t port = 0;
  std::map<node_id, std::unique_ptr<peer>> peers;  // never erased: coroutines hold them
  std::vector<std::weak_ptr<tcp::socket>> inbound_sockets;
  inbound_stats inbound;
  bool stopped = false;

  asio::awaitable<void> accept_loop();
  asio::awaitable<void> serve(std::shared_ptr<tcp::socket> socket);
  asio::awaitable<void> dial_loop(peer& p);
  asio::awaitable<void> write_loop(peer& p, tcp::socket& socket);
  void watch(peer& p, std::shared_ptr<tcp::socket> socket);
  void refuse(tcp::socket& socket, std::string why);
  void drop_front(peer& p);
};

asio::awaitable<void> transport::state::accept_loop() {
  auto self = shared_from_this();
  asio::steady_timer backoff(io);
  while (!stopped) {
    auto socket = std::make_shared<tcp::socket>(io);
    error_code ec;
    co_await acceptor.async_accept(*socket, use_ec(ec));
    if (stopped) break;
    if (ec) {
      backoff.expires_after(accept_backoff);
      co_await backoff.async_wait(use_ec(ec));
      continue;
    }
    ++inbound.accepted;
    socket->set_option(tcp::no_delay(true), ec);
    std::erase_if(inbound_sockets, [](const auto& w) { return w.expired(); });
    inbound_sockets.push_back(socket);
    asio::co_spawn(io, serve(std::move(socket)), asio::detached);
  }
}

void transport::state::refuse(tcp::socket& socket, std::string why) {
  ++inbound.refused;
  inbound.last_refusal = std::move(why);
  close(socket);
}

asio::awaitable<void> transport::state::serve(std::shared_ptr<tcp::socket> socket) {
  auto self = shared_from_this();
  asio::steady_timer deadline(io);
  deadline.expires_after(options.hello_timeout);
  deadline.async_wait([socket](error_code ec) {
    if (!ec) close(*socket);
  });
  auto first = co_await read_frame(*socket, hello_bytes);
  bool late = deadline.expiry() <= std::chrono::steady_clock::now();
  deadline.cancel();
  if (!first.ok() || !*first) {
    if (!stopped && (late || !first.ok())) {
      refuse(*socket, late ? "no hello in time" : first.error().message);
    }
    co_return;
  }
  auto h = decode_hello(std::move(**first));
  if (!h.ok()) co_return refuse(*socket, h.error().message);
  if (h->cluster_id != options.cluster_id) co_return refuse(*socket, "hello from another cluster");
  if (h->to != options.self) co_return refuse(*socket, "hello meant for another node");
  if (!peers.contains(h->from)) co_return refuse(*socket, "hello from an unknown node");

  while (!stopped) {
    auto f = co_await read_frame(*socket, options.max_frame_bytes);
    if (!f.ok()) co_return refuse(*socket, f.error().message);
    if (!*f || stopped) break;
    ++inbound.frames_received;
    on_batch(h->from, std::move(**f));
  }
  close(*socket);
}

// The outbound side of one peer: dial, say hello, write queued frames until
// the connection fails, wait, dial again.
asio::awaitable<void> transport::state::dial_loop(peer& p) {
  auto self = shared_from_this();
  auto backoff = options.min_backoff;
  while (!stopped) {
    auto socket = std::make_shared<tcp::socket>(io);
    p.socket = socket;
    error_code ec;
    co_await socket->async_connect(p.endpoint, use_ec(ec));
    if (!ec && !stopped) {
      socket->set_option(tcp::no_delay(true), ec);
      frame f = make_frame(encode_hello({options.cluster_id, options.self, p.id}));
      std::array<asio::const_buffer, 2> buffers{asio::buffer(f.header), asio::buffer(f.payload)};
      co_await base::async_write_all(*socket, buffers, ec);
    }
    if (!ec && !stopped) {
      auto up_since = std::chrono::steady_clock::now();
      p.stats.connected = true;
      ++p.stats.connects;
      watch(p, socket);
      co_await write_loop(p, *socket);
      p.stats.connected = false;
      if (std::chrono::steady_clock::now() - up_since >= options.max_backoff) {
        backoff = options.min_backoff;
      }
    }
    close(*socket);
    if (stopped) break;
    p.retry.expires_after(backoff);
    co_await p.retry.async_wait(use_ec(ec));
    backoff = std::min(backoff * 2, options.max_backoff);
  }
}

// The peer never writes on our outbound connection: a byte or an end of
// stream both mean the connection is over (the peer closed or refused it).
// Without this a refused connection would only be noticed on the next write.
void transport::state::watch(peer& p, std::shared_ptr<tcp::socket> socket) {
  auto byte = std::make_shared<uint8_t>();
  socket->async_read_some(asio::buffer(byte.get(), 1),
                          [self = shared_from_this(), &p, socket, byte](error_code, size_t) {
                            close(*socket);
                            p.wake.cancel();
                          });
}

asio::awaitable<void> transport::state::write_loop(peer& p, tcp::socket& socket) {
  std::vector<frame> taken;
  std::vector<asio::const_buffer> buffers;
  while (socket.is_open() && !stopped) {
    error_code ec;
    if (p.queue.empty()) {
      p.wake.expires_at(asio::steady_timer::time_point::max());
      co_await p.wake.async_wait(use_ec(ec));
      continue;
    }
    taken.clear();
    buffers.clear();
    while (!p.queue.empty() && taken.size() < max_frames_per_write) {
      p.queued_bytes -= p.queue.front().payload.size();
      taken.push_back(std::move(p.queue.front()));
      p.queue.pop_front();
    }
    for (const frame& f : taken) {
      buffers.push_back(asio::buffer(f.header));
      buffers.push_back(asio::buffer(f.payload));
    }
    co_await base::async_write_all(socket, buffers, ec);
    if (ec) {
      p.stats.frames_dropped += taken.size();
      break;
    }
    p.stats.frames_sent += taken.size();
  }
}

void transport::state::drop_front(peer& p) {
  p.queued_bytes -= p.queue.front().payload.size();
  p.queue.pop_front();
  ++p.stats.frames_dropped;
}

base::result<std::unique_ptr<transport>> transport::start(asio::io_context& io,
                                                          transport_options options,
                                                          batch_handler on_batch) {
  auto s = std::make_shared<state>(io, std::move(options), std::move(on_batch));
  error_code ec;
  for (const auto& [id, address] : s->options.peers) {
    if (id == s->options.self) return base::fail("the peers must not include this node");
    auto ip = asio::ip::make_address(address.host, ec);
    if (ec)
      return base::fail("peer " + std::to_string(id) + ": bad address '" + address.host + "'");
    s->peers.emplace(id, std::make_unique<peer>(io, id, tcp::endpoint(ip, address.port)));
  }
  auto ip = asio::ip::make_address(s->options.listen.host, ec);
  if (ec) return base::fail("bad listen address '" + s->options.listen.host + "'");
  tcp::endpoint at(ip, s->options.listen.port);
  s->acceptor.open(at.protocol(), ec);
  if (!ec) s->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) s->acceptor.bind(at, ec);
  if (!ec) s->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return base::fail("cannot listen on " + s->options.listen.host + ":" +
                      std::to_string(s->options.listen.port) + ": " + ec.message());
  }
  s->port = s->acceptor.local_endpoint().port();
  asio::co_spawn(io, s->accept_loop(), asio::detached);
  for (auto& [id, p] : s->peers) asio::co_spawn(io, s->dial_loop(*p), asio::detached);
  return std::unique_ptr<transport>(new transport(std::move(s)));
}

transport::transport(std::shared_ptr<state> s) : state_(std::move(s)) {}

transport::~transport() { stop(); }

uint16_t transport::port() const { return state_->port; }

void transport::send(node_id to, std::vector<uint8_t> batch) {
  auto it = state_->peers.find(to);
  if (it == state_->peers.end() || state_->stopped) return;
  peer& p = *it->second;
  const auto& o = state_->options;
  if (batch.size() > o.max_frame_bytes) {
    ++p.stats.frames_dropped;
    return;
  }
  while (!p.queue.empty() && (p.queue.size() >= o.max_queued_frames ||
                              p.queued_bytes + batch.size() > o.max_queued_bytes)) {
    state_->drop_front(p);
  }
  p.queued_bytes += batch.size();
  p.queue.push_back(make_frame(std::move(batch)));
  p.wake.cancel();
}

peer_stats transport::stats(node_id peer) const {
  auto it = state_->peers.find(peer);
  if (it == state_->peers.end()) return {};
  peer_stats s = it->second->stats;
  s.frames_queued = it->second->queue.size();
  return s;
}

inbound_stats transport::inbound() const { return state_->inbound; }

void transport::stop() {
  auto& s = *state_;
  if (s.stopped) return;
  s.stopped = true;
  error_code ignored;
  s.acceptor.close(ignored);
  for (auto& [id, p] : s.peers) {
    p->retry.cancel();
    p->wake.cancel();
    if (p->socket) close(*p->socket);
    p->queue.clear();
    p->queued_bytes = 0;
  }
  for (auto& weak : s.inbound_sockets) {
    if (auto socket = weak.lock()) close(*socket);
  }
}

}  // namespace sluice::raft
