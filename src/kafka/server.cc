#include "kafka/server.h"

#include "kafka/group_coordinator.h"

#include <spdlog/spdlog.h>

#include <boost/asio/detached.hpp>
#include <boost/asio/ip/host_name.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <future>
#include <thread>

#include "kafka/connection.h"
#include "kafka/shard.h"
#include "kafka/topic_manager.h"

namespace sluice::kafka {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

// How long stop() lets connections finish the requests they hold.
constexpr auto drain_timeout = std::chrono::seconds(30);
// After a failed accept (out of file descriptors, say), wait before the next.
constexpr auto accept_backoff = std::chrono::milliseconds(100);
// Threads for fsync and metadata changes, besides the shards.
constexpr unsigned blocking_threads = 4;

// queued.max.request.bytes of -1 leaves the bound to the broker: room for a
// few maximal requests at once.
int64_t request_memory_limit(const cluster::broker_config& config) {
  if (config.queued_max_request_bytes > 0) return config.queued_max_request_bytes;
  return std::max<int64_t>(256LL << 20, 2LL * config.socket_request_max_bytes);
}

}  // namespace

struct server::state {
  cluster::broker_config config;
  // Declared before the shards: connections still parked in a shard's
  // io_context when it is destroyed give their budget and count back here.
  request_budget budget;
  std::atomic<int> open_count{0};
  shard_set shards;
  std::unique_ptr<topic_manager> topics;
  std::unique_ptr<group_coordinator> groups;
  std::unique_ptr<broker_services> services;
  std::vector<cluster::endpoint> bound;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;  // on shard 0
  // Each shard's connections, touched only on that shard.
  std::vector<std::vector<std::weak_ptr<connection>>> connections;
  std::atomic<unsigned> next_shard{0};
  bool stopped = false;

  state(cluster::broker_config c, unsigned shard_count)
      : config(std::move(c)),
        budget(request_memory_limit(config)),
        shards(shard_count, blocking_threads),
        connections(shard_count) {}

  void adopt(shard_id shard, tcp::socket socket, const std::string& listener) {
    // max.connections: past it a new connection is closed at once (Kafka
    // stops accepting instead; either way the client retries).
    if (open_count.load() >= config.max_connections) {
      spdlog::warn("closing a new connection on {}: max.connections={} are open", listener,
                   config.max_connections);
      return;  // the socket closes here
    }
    auto c =
        std::make_shared<connection>(*services, std::move(socket), listener, budget, open_count);
    auto& list = connections[shard];
    std::erase_if(list, [](const std::weak_ptr<connection>& w) { return w.expired(); });
    list.push_back(c);
    c->start();
  }

  asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, std::string listener) {
    asio::steady_timer backoff(acceptor.get_executor());
    while (acceptor.is_open()) {
      shard_id shard = next_shard.fetch_add(1) % shards.count();
      tcp::socket socket(shards.context(shard));
      error_code ec;
      co_await acceptor.async_accept(socket, asio::redirect_error(asio::use_awaitable, ec));
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) break;
      if (ec) {
        spdlog::warn("accept on {}: {}", listener, ec.message());
        backoff.expires_after(accept_backoff);
        co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        continue;
      }
      asio::post(shards.context(shard), [this, shard, s = std::move(socket), listener]() mutable {
        adopt(shard, std::move(s), listener);
      });
    }
  }

  // Runs `fn` on `shard` and waits for it (from a thread off the shards).
  template <typename F>
  void run_on(shard_id shard, F fn) {
    std::promise<void> done;
    asio::post(shards.context(shard), [&] {
      fn();
      done.set_value();
    });
    done.get_future().wait();
  }

  size_t open_connections() {
    size_t open = 0;
    for (shard_id shard = 0; shard < shards.count(); ++shard) {
      run_on(shard, [&] {
        for (auto& weak : connections[shard]) {
          if (auto c = weak.lock(); c && !c->closed()) ++open;
        }
      });
    }
    return open;
  }
};

server::server(std::unique_ptr<state> s) : state_(std::move(s)) {}

server::~server() {
  if (!state_->stopped) (void)stop();
}

const std::vector<cluster::endpoint>& server::listeners() const { return state_->bound; }

base::result<std::unique_ptr<server>> server::start(const cluster::broker_config& config,
                                                    unsigned shard_count) {
  if (shard_count == 0 || shard_count > 64) {
    return base::fail("--smp must be between 1 and 64, not " + std::to_string(shard_count));
  }
  auto s = std::make_unique<state>(config, shard_count);
  auto topics = topic_manager::open(s->config, shard_count);
  if (!topics) return base::fail(topics.error().message);
  s->topics = std::move(*topics);
  s->groups = std::make_unique<group_coordinator>(s->config, *s->topics, s->shards);
  if (auto loaded = s->groups->load(); !loaded) return base::fail(loaded.error().message);

  for (const auto& listener : s->config.listeners) {
    error_code ec;
    auto address = listener.host.empty() ? asio::ip::address(asio::ip::address_v6::any())
                                         : asio::ip::make_address(listener.host, ec);
    if (ec) {
      return base::fail("listeners: cannot use host '" + listener.host + "': " + ec.message());
    }
    auto acceptor = std::make_unique<tcp::acceptor>(s->shards.context(0));
    tcp::endpoint at(address, listener.port);
    acceptor->open(at.protocol(), ec);
    if (!ec) acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor->bind(at, ec);
    if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return base::fail("listeners: cannot listen on " + listener.listener_name + "://" +
                        listener.host + ":" + std::to_string(listener.port) + ": " + ec.message());
    }
    cluster::endpoint bound = listener;
    bound.port = acceptor->local_endpoint().port();
    s->bound.push_back(bound);
    s->acceptors.push_back(std::move(acceptor));
  }

  // Advertise what clients can reach: a port of 0 becomes the bound port of
  // the listener with that name, an empty host this machine's name.
  std::vector<cluster::endpoint> advertised = s->config.advertised_listeners;
  if (advertised.empty()) advertised = s->bound;
  for (auto& endpoint : advertised) {
    for (const auto& bound : s->bound) {
      if (bound.listener_name == endpoint.listener_name && endpoint.port == 0) {
        endpoint.port = bound.port;
      }
    }
    if (endpoint.host.empty()) endpoint.host = asio::ip::host_name();
  }
  s->services = std::make_unique<broker_services>(
      broker_services{s->config, *s->topics, s->shards, *s->groups, std::move(advertised)});

  for (size_t i = 0; i < s->acceptors.size(); ++i) {
    asio::co_spawn(s->shards.context(0),
                   s->accept_loop(*s->acceptors[i], s->bound[i].listener_name), asio::detached);
  }
  s->groups->start();
  s->shards.start();
  for (size_t i = 0; i < s->bound.size(); ++i) {
    const auto& b = s->bound[i];
    spdlog::info("listening on {}://{}:{}", b.listener_name, b.host.empty() ? "0.0.0.0" : b.host,
                 b.port);
  }
  return std::unique_ptr<server>(new server(std::move(s)));
}

base::result<void> server::stop() {
  state& s = *state_;
  if (s.stopped) return {};
  s.stopped = true;
  s.run_on(0, [&] {
    for (auto& acceptor : s.acceptors) {
      error_code ignored;
      acceptor->close(ignored);
    }
  });
  s.groups->stop();
  for (shard_id shard = 0; shard < s.shards.count(); ++shard) {
    s.run_on(shard, [&] {
      for (auto& weak : s.connections[shard]) {
        if (auto c = weak.lock()) c->shutdown();
      }
    });
  }
  auto deadline = std::chrono::steady_clock::now() + drain_timeout;
  while (s.open_connections() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  s.shards.stop();
  s.acceptors.clear();
  s.connections.clear();
  auto closed = s.topics->close();
  if (!closed) return base::fail("closing the logs: " + closed.error().message);
  spdlog::info("stopped cleanly");
  return {};
}

}  // namespace sluice::kafka
