#include "raft/transport.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <random>

#include "base/byte_writer.h"
#include "base/crc32c.h"
#include "protocol/record_batch.h"
#include "raft/driver.h"
#include "storage/file_system.h"

namespace sluice::raft {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace std::chrono_literals;

// A port nobody listens on right now, below Linux's ephemeral range
// (32768 and up): a port the kernel handed out for port 0 is soon handed to
// the outgoing connections of tests running beside this one, and the
// transport could then not listen on it.
uint16_t free_port() {
  asio::io_context io;
  std::minstd_rand pick(std::random_device{}());
  std::uniform_int_distribution<int> below_ephemeral(20000, 32767);
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto port = static_cast<uint16_t>(below_ephemeral(pick));
    tcp::acceptor a(io);
    boost::system::error_code ec;
    a.open(tcp::v4(), ec);
    if (!ec) a.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
    if (!ec) return port;
  }
  tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

// Runs `io` until `done` holds or `timeout` passes; returns done().
bool run_until(asio::io_context& io, const std::function<bool()>& done,
               std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_for(5ms);
  }
  return done();
}

std::vector<uint8_t> bytes(std::string_view text) { return {text.begin(), text.end()}; }

struct received {
  node_id from;
  std::string payload;
};

// One node's transport and what it received.
struct endpoint {
  std::unique_ptr<transport> t;
  std::vector<received> inbox;
};

transport_options options_for(node_id self, const std::map<node_id, uint16_t>& ports) {
  transport_options o;
  o.self = self;
  o.cluster_id = 77;
  o.listen = {"127.0.0.1", ports.at(self)};
  for (const auto& [id, port] : ports) {
    if (id != self) o.peers[id] = {"127.0.0.1", port};
  }
  return o;
}

void start(asio::io_context& io, endpoint& e, transport_options o) {
  auto t = transport::start(io, std::move(o), [&e](node_id from, base::shared_bytes b) {
    e.inbox.push_back({from, std::string(b.as_string_view())});
  });
  ASSERT_TRUE(t.ok()) << t.error().message;
  e.t = std::move(*t);
}

TEST(Transport, ThreeNodesExchangeBatches) {
  asio::io_context io;
  std::map<node_id, uint16_t> ports{{1, free_port()}, {2, free_port()}, {3, free_port()}};
  std::map<node_id, endpoint> nodes;
  for (const auto& [id, port] : ports) start(io, nodes[id], options_for(id, ports));
  for (auto& [from, e] : nodes) {
    for (const auto& [to, port] : ports) {
      if (to == from) continue;
      for (int i = 0; i < 3; ++i) {
        e.t->send(
            to, bytes(std::to_string(from) + "->" + std::to_string(to) + "#" + std::to_string(i)));
      }
    }
  }
  ASSERT_TRUE(run_until(io, [&] {
    for (auto& [id, e] : nodes) {
      if (e.inbox.size() < 6) return false;
    }
    return true;
  }));
  for (auto& [to, e] : nodes) {
    ASSERT_EQ(e.inbox.size(), 6u);
    std::map<node_id, int> next;  // per sender, in order
    for (const auto& r : e.inbox) {
      EXPECT_EQ(r.payload, std::to_string(r.from) + "->" + std::to_string(to) + "#" +
                               std::to_string(next[r.from]++));
    }
    EXPECT_EQ(e.t->stats(to == 1 ? 2 : 1).connects, 1u);
  }
}

TEST(Transport, LargeBatchesPassAndOversizedOnesAreDropped) {
  asio::io_context io;
  std::map<node_id, uint16_t> ports{{1, free_port()}, {2, free_port()}};
  endpoint a, b;
  auto oa = options_for(1, ports);
  oa.max_frame_bytes = 4 << 20;
  start(io, a, oa);
  start(io, b, options_for(2, ports));
  a.t->send(2, std::vector<uint8_t>((4 << 20) + 1, 'z'));
  a.t->send(2, std::vector<uint8_t>(3 << 20, 'y'));
  ASSERT_TRUE(run_until(io, [&] { return b.inbox.size() == 1; }));
  EXPECT_EQ(b.inbox[0].payload.size(), 3u << 20);
  EXPECT_EQ(a.t->stats(2).frames_dropped, 1u);
}

TEST(Transport, ReconnectsToAPeerThatComesBack) {
  asio::io_context io;
  std::map<node_id, uint16_t> ports{{1, free_port()}, {2, free_port()}};
  endpoint a, b;
  start(io, a, options_for(1, ports));
  start(io, b, options_for(2, ports));
  a.t->send(2, bytes("before"));
  ASSERT_TRUE(run_until(io, [&] { return b.inbox.size() == 1; }));

  b.t.reset();  // the peer goes away
  ASSERT_TRUE(run_until(io, [&] { return !a.t->stats(2).connected; }));
  run_until(
      io, [] { return false; }, 300ms);  // a few failed dials

  endpoint b2;
  start(io, b2, options_for(2, ports));
  // Raft would retry; so does this test, a bounded number of times.
  for (int i = 0; i < 100 && b2.inbox.empty(); ++i) {
    a.t->send(2, bytes("after"));
    run_until(
        io, [&] { return !b2.inbox.empty(); }, 50ms);
  }
  ASSERT_FALSE(b2.inbox.empty());
  EXPECT_EQ(b2.inbox[0].payload, "after");
  EXPECT_EQ(b2.inbox[0].from, 1);
  EXPECT_EQ(a.t->stats(2).connects, 2u);
}

TEST(Transport, QueueToAnUnreachablePeerIsBounded) {
  asio::io_context io;
  std::map<node_id, uint16_t> ports{{1, free_port()}, {2, free_port()}};
  endpoint a;
  auto o = options_for(1, ports);
  o.max_queued_frames = 100;
  start(io, a, o);
  for (int i = 0; i < 2000; ++i) a.t->send(2, bytes("lost"));
  run_until(
      io, [] { return false; }, 100ms);
  auto s = a.t->stats(2);
  EXPECT_FALSE(s.connected);
  EXPECT_EQ(s.frames_queued, 100u);
  EXPECT_EQ(s.frames_dropped, 1900u);
}

// A raw client of node 2's listener, blocking, on an io_context of its own.
struct raw_client {
  asio::io_context io;
  tcp::socket socket{io};

  explicit raw_client(uint16_t port) {
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }
  void send(const std::vector<uint8_t>& bytes) { asio::write(socket, asio::buffer(bytes)); }
  // True once the server closed the connection (read ends with an error).
  bool closed_by_server() {
    uint8_t byte;
    boost::system::error_code ec;
    socket.read_some(asio::buffer(&byte, 1), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }
};

std::vector<uint8_t> frame(const std::vector<uint8_t>& payload, uint32_t length_override = 0,
                           bool bad_crc = false) {
  base::byte_writer out;
  out.write_uint32(length_override ? length_override : static_cast<uint32_t>(payload.size()));
  out.write_uint32(base::crc32c::value(payload) ^ (bad_crc ? 1u : 0u));
  out.write_bytes(payload);
  return out.take();
}

std::vector<uint8_t> hello(uint64_t cluster, node_id from, node_id to) {
  base::byte_writer out;
  out.write_uint32(0x534c5254);
  out.write_uint8(1);
  out.write_int64(static_cast<int64_t>(cluster));
  out.write_int32(from);
  out.write_int32(to);
  return frame(out.take());
}

std::vector<uint8_t> concat(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST(Transport, BadInputClosesOnlyThatConnection) {
  asio::io_context io;
  std::map<node_id, uint16_t> ports{{1, free_port()}, {2, free_port()}, {3, free_port()}};
  endpoint a, b;
  start(io, a, options_for(1, ports));
  start(io, b, options_for(2, ports));

  struct bad_case {
    const char* what;
    std::vector<uint8_t> bytes;
  };
  std::vector<bad_case> cases{
      {"garbage", bytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
      {"oversized hello", frame(bytes("x"), 1u << 31)},
      {"hello with a bad checksum",
       [] {
         auto h = hello(77, 1, 2);
         h[5] ^= 1;  // in the checksum
         return h;
       }()},
      {"another cluster", hello(78, 1, 2)},
      {"meant for another node", hello(77, 1, 3)},
      {"unknown node", hello(77, 9, 2)},
      {"oversized frame", concat(hello(77, 3, 2), frame(bytes("x"), (32u << 20) + 1))},
      {"bad checksum", concat(hello(77, 3, 2), frame(bytes("payload"), 0, true))},
  };
  uint64_t refused = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    raw_client raw(ports[2]);
    raw.send(c.bytes);
    ASSERT_TRUE(run_until(io, [&] { return b.t->inbound().refused == refused + 1; }))
        << "not refused";
    ++refused;
    EXPECT_TRUE(raw.closed_by_server());
    // The good connection from node 1 still carries batches.
    a.t->send(2, bytes(c.what));
    ASSERT_TRUE(
        run_until(io, [&] { return !b.inbox.empty() && b.inbox.back().payload == c.what; }));
  }
  EXPECT_EQ(a.t->stats(2).connects, 1u);

  // A well-formed raw sender is served, then gets its batch delivered.
  raw_client good(ports[2]);
  good.send(concat(hello(77, 3, 2), frame(bytes("from three"))));
  ASSERT_TRUE(run_until(io, [&] { return b.inbox.back().payload == "from three"; }));
  EXPECT_EQ(b.inbox.back().from, 3);
}

TEST(Transport, SilentConnectionIsClosedAfterTheHelloTimeout) {
  asio::io_context io;
  std::map<node_id, uint16_t> ports{{1, free_port()}, {2, free_port()}};
  endpoint b;
  auto o = options_for(2, ports);
  o.hello_timeout = 100ms;
  start(io, b, o);
  raw_client raw(ports[2]);
  ASSERT_TRUE(run_until(
      io, [&] { return b.t->inbound().refused == 1; }, 5s));
  EXPECT_EQ(b.t->inbound().last_refusal, "no hello in time");
  EXPECT_TRUE(raw.closed_by_server());
}

TEST(Transport, NothingIsDeliveredAfterStop) {
  asio::io_context io;
  std::map<node_id, uint16_t> ports{{1, free_port()}, {2, free_port()}};
  endpoint a, b;
  start(io, a, options_for(1, ports));
  start(io, b, options_for(2, ports));
  a.t->send(2, bytes("one"));
  ASSERT_TRUE(run_until(io, [&] { return b.inbox.size() == 1; }));
  a.t->send(2, bytes("two"));
  b.t->stop();
  run_until(
      io, [] { return false; }, 200ms);
  EXPECT_EQ(b.inbox.size(), 1u);
}

// --- The driver over real transports and real disks ---

struct temp_dir {
  std::string path;
  temp_dir() {
    char pattern[] = "/tmp/sluice-raft-driver-XXXXXX";
    path = ::mkdtemp(pattern);
  }
  ~temp_dir() { std::filesystem::remove_all(path); }
};

base::shared_bytes record_batch(std::string_view value) {
  protocol::record_batch_builder builder;
  builder.add(0, std::nullopt,
              std::span(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
  auto built = builder.build();
  EXPECT_TRUE(built.ok());
  return base::shared_bytes(std::move(*built));
}

// The value of the one record of a data entry.
std::string value_of(const entry& e) {
  auto batch = protocol::record_batch::parse(e.data);
  if (!batch.ok()) return "<not a batch>";
  auto records = protocol::decode_records(*batch, 1 << 20);
  if (!records.ok() || records->size() != 1 || !(*records)[0].value) return "<bad records>";
  return std::string((*records)[0].value->as_string_view());
}

// Three nodes, each a driver and a transport, running the same groups.
class DriverOverTransport : public ::testing::Test {
 protected:
  static constexpr group_id groups = 4;

  struct member {
    std::unique_ptr<driver> d;
    std::unique_ptr<transport> t;
    std::map<group_id, std::vector<std::string>> applied;  // data entries' values
  };

  void SetUp() override {
    std::map<node_id, uint16_t> ports{{1, free_port()}, {2, free_port()}, {3, free_port()}};
    for (node_id id = 1; id <= 3; ++id) {
      member& m = members[id];
      driver_options o;
      o.self = id;
      o.tick = 5ms;
      o.on_fatal = [](group_id g, const std::string& why) {
        ADD_FAILURE() << "group " << g << ": " << why;
      };
      m.d = std::make_unique<driver>(
          io, o, [&m](node_id to, std::vector<uint8_t> batch) { m.t->send(to, std::move(batch)); });
      auto t = transport::start(
          io, options_for(id, ports),
          [&m](node_id from, base::shared_bytes b) { m.d->receive(from, std::move(b)); });
      ASSERT_TRUE(t.ok()) << t.error().message;
      m.t = std::move(*t);
      for (group_id g = 1; g <= groups; ++g) {
        auto log =
            storage_log::open(*fs, dir.path + "/" + std::to_string(id) + "-" + std::to_string(g),
                              configuration{{1, 2, 3}, {}});
        ASSERT_TRUE(log.ok()) << log.error().message;
        node_options n;
        n.group = g;
        state_machine machine;
        machine.apply = [&m, g](const entry& e) {
          if (e.type == entry_type::data) m.applied[g].push_back(value_of(e));
        };
        ASSERT_TRUE(m.d->add_group(n, std::move(*log), machine).ok());
      }
      m.d->start();
    }
  }

  void TearDown() override {
    for (auto& [id, m] : members) {
      m.t->stop();
      m.d->stop();
    }
  }

  // The leader all three agree on for `g`, or no_node.
  node_id leader_of(group_id g) {
    node_id leader = members[1].d->find(g)->leader();
    for (auto& [id, m] : members) {
      if (m.d->find(g)->leader() != leader) return no_node;
    }
    if (leader == no_node || members[leader].d->find(g)->current_role() != role::leader) {
      return no_node;
    }
    return leader;
  }

  asio::io_context io;
  temp_dir dir;
  std::unique_ptr<storage::file_system> fs = storage::make_posix_file_system();
  std::map<node_id, member> members;
};
}  // namespace
}  // namespace sluice::raft

namespace sluice::raft {
namespace {

TEST_F(DriverOverTransport, GroupsElectCommitAndShareBatches) {
  ASSERT_TRUE(run_until(io, [&] {
    for (group_id g = 1; g <= groups; ++g) {
      if (leader_of(g) == no_node) return false;
    }
    return true;
  }));
  constexpr int per_group = 30;
  int committed = 0;
  for (group_id g = 1; g <= groups; ++g) {
    driver& leader = *members[leader_of(g)].d;
    for (int i = 0; i < per_group; ++i) {
      std::string value = "g" + std::to_string(g) + "-" + std::to_string(i);
      leader.propose(g, record_batch(value), 1, [&, g](auto result) {
        EXPECT_TRUE(result.ok()) << "group " << g << ": " << result.error().describe();
        ++committed;
      });
    }
  }
  ASSERT_TRUE(run_until(io, [&] {
    if (committed < static_cast<int>(groups) * per_group) return false;
    for (auto& [id, m] : members) {
      for (group_id g = 1; g <= groups; ++g) {
        if (m.applied[g].size() < per_group) return false;
      }
    }
    return true;
  }));
  uint64_t batches = 0;
  uint64_t messages = 0;
  for (auto& [id, m] : members) {
    for (group_id g = 1; g <= groups; ++g) {
      ASSERT_EQ(m.applied[g].size(), static_cast<size_t>(per_group));
      for (int i = 0; i < per_group; ++i) {
        EXPECT_EQ(m.applied[g][i], "g" + std::to_string(g) + "-" + std::to_string(i));
      }
    }
    auto s = m.d->stats();
    batches += s.batches_sent;
    messages += s.messages_sent;
    EXPECT_EQ(s.batches_refused, 0u);
    // Group commit: fewer syncs than entries written.
    EXPECT_LT(s.syncs, static_cast<uint64_t>(groups * per_group)) << "node " << id;
  }
  // Every pass sends one batch per peer for all groups. Whether a follower's
  // answers to two leaders share a pass depends on timing, but with more
  // groups than nodes some node leads two, and their heartbeats go together
  // at every tick.
  static_assert(groups > 3, "more groups than nodes");
  EXPECT_LT(batches, messages);
}

TEST_F(DriverOverTransport, FollowerRefusesWithTheLeaderAndStopFailsPending) {
  ASSERT_TRUE(run_until(io, [&] { return leader_of(1) != no_node; }));
  node_id leader = leader_of(1);
  node_id follower = leader == 1 ? 2 : 1;
  std::optional<proposal_error> refused;
  members[follower].d->propose(1, record_batch("x"), 1, [&](auto result) {
    ASSERT_FALSE(result.ok());
    refused = result.error();
  });
  EXPECT_FALSE(refused) << "the callback ran inside propose()";
  ASSERT_TRUE(run_until(io, [&] { return refused.has_value(); }));
  EXPECT_EQ(refused->what, proposal_error::kind::refused);
  EXPECT_EQ(refused->why, refusal::not_leader);
  EXPECT_EQ(refused->leader, leader);

  // Stopped before the entry can commit: the proposal fails with `stopped`.
  std::optional<proposal_error> stopped;
  members[leader].d->propose(1, record_batch("y"), 1, [&](auto result) {
    ASSERT_FALSE(result.ok());
    stopped = result.error();
  });
  members[leader].d->stop();
  ASSERT_TRUE(stopped.has_value());
  EXPECT_EQ(stopped->what, proposal_error::kind::stopped);
}

}  // namespace
}  // namespace sluice::raft
