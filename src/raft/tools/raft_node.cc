// raft_node: one node of one Raft group as a process of its own, with real
// sockets (transport.h), a real disk with fsync (storage_log.h) and the
// driver's group commit. The loopback integration test and the Raft
// benchmark (bench/raft_bench.py) run three of them.
//
//   raft_node --id N --peers 1=127.0.0.1:P1,2=127.0.0.1:P2,3=127.0.0.1:P3 --dir DIR
//             [--tick-ms 10] [--election-ticks 10] [--status-file F]
//             [--load RECORDS [--concurrency C] [--value-bytes B] [--stay]]
//
// The voters are the peers (this node among them, at its listen address).
// It prints `leader id=L term=T` whenever the leader it knows of changes, and
// keeps F holding one line: `id= role= term= leader= commit= applied= last=
// durable=`. With --load, the node proposes RECORDS record batches of one
// record of B bytes each, C in flight, whenever it is the leader; once they
// are all committed it prints one line of JSON (commits, seconds,
// commits_per_s, p50_ms, p99_ms, syncs, refused, lost) and exits 0, or with
// --stay goes on as a plain node. SIGTERM and SIGINT stop it cleanly (exit 0);
// a storage failure exits 1.

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "protocol/record_batch.h"
#include "raft/driver.h"
#include "raft/storage_log.h"
#include "raft/transport.h"
#include "storage/file_system.h"

namespace {

using namespace sluice;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;

constexpr raft::group_id the_group = 1;
constexpr auto status_interval = 20ms;

struct settings {
  raft::node_id id = raft::no_node;
  std::string peers;
  std::string dir;
  int tick_ms = 10;
  int election_ticks = 10;
  uint64_t cluster_id = 1;
  std::string status_file;
  int64_t load = 0;
  int concurrency = 1;
  size_t value_bytes = 100;
  bool stay = false;
};

// "1=127.0.0.1:9001,2=127.0.0.1:9002"
sluice::base::result<std::map<raft::node_id, raft::peer_address>> parse_peers(
    const std::string& text) {
  std::map<raft::node_id, raft::peer_address> peers;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    auto eq = item.find('=');
    auto colon = item.rfind(':');
    if (eq == std::string::npos || colon == std::string::npos || colon < eq) {
      return base::fail("--peers: expected ID=HOST:PORT, not '" + item + "'");
    }
    try {
      int id = std::stoi(item.substr(0, eq));
      int port = std::stoi(item.substr(colon + 1));
      if (id < 0 || port <= 0 || port > 65535) throw std::out_of_range("range");
      peers[id] = {item.substr(eq + 1, colon - eq - 1), static_cast<uint16_t>(port)};
    } catch (const std::exception&) {
      return base::fail("--peers: bad id or port in '" + item + "'");
    }
  }
  if (peers.empty()) return base::fail("--peers: no peers");
  return peers;
}

// The proposals of --load and their latencies.
class load_generator {
 public:
  load_generator(raft::driver& d, const settings& s) : driver_(d), settings_(s) {
    value_.assign(s.value_bytes, 'v');
    latencies_.reserve(static_cast<size_t>(s.load));
  }

  bool done() const { return committed_ >= settings_.load; }

  // Tops up the proposals in flight while this node leads.
  void fill() {
    const raft::node* n = driver_.find(the_group);
    if (done() || n->current_role() != raft::role::leader) return;
    while (in_flight_ < settings_.concurrency && committed_ + in_flight_ < settings_.load) {
      if (!started_) {
        started_ = clock_type::now();
        syncs_at_start_ = driver_.stats().syncs;
      }
      ++in_flight_;
      auto sent = clock_type::now();
      driver_.propose(the_group, make_batch(), 1, [this, sent](auto result) {
        --in_flight_;
        if (result.ok()) {
          ++committed_;
          latencies_.push_back(
              std::chrono::duration<double, std::milli>(clock_type::now() - sent).count());
          if (done()) finished_ = clock_type::now();
          fill();
        } else if (result.error().what == raft::proposal_error::kind::refused) {
          ++refused_;  // not (yet) a leader that may take it: the status timer retries
        } else {
          ++lost_;
          fill();
        }
      });
    }
  }

  std::string report() const {
    std::vector<double> sorted = latencies_;
    std::sort(sorted.begin(), sorted.end());
    auto percentile = [&](double p) {
      if (sorted.empty()) return 0.0;
      return sorted[std::min(sorted.size() - 1, static_cast<size_t>(p * sorted.size()))];
    };
    double seconds = std::chrono::duration<double>(*finished_ - *started_).count();
    char line[512];
    std::snprintf(line, sizeof line,
                  "{\"commits\":%lld,\"seconds\":%.3f,\"commits_per_s\":%.1f,\"p50_ms\":%.3f,"
                  "\"p99_ms\":%.3f,\"concurrency\":%d,\"value_bytes\":%zu,\"syncs\":%llu,"
                  "\"refused\":%llu,\"lost\":%llu}",
                  static_cast<long long>(committed_), seconds, committed_ / seconds,
                  percentile(0.50), percentile(0.99), settings_.concurrency, settings_.value_bytes,
                  static_cast<unsigned long long>(driver_.stats().syncs - syncs_at_start_),
                  static_cast<unsigned long long>(refused_),
                  static_cast<unsigned long long>(lost_));
    return line;
  }

 private:
  base::shared_bytes make_batch() {
    protocol::record_batch_builder builder;
    int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    builder.add(now_ms, std::nullopt, std::span<const uint8_t>(value_));
    auto built = builder.build();
    if (!built.ok()) throw std::runtime_error("record batch: " + built.error().message);
    return base::shared_bytes(std::move(*built));
  }

  raft::driver& driver_;
  const settings& settings_;
  std::vector<uint8_t> value_;
  int64_t committed_ = 0;
  int in_flight_ = 0;
  uint64_t refused_ = 0;
  uint64_t lost_ = 0;
  uint64_t syncs_at_start_ = 0;
  std::optional<clock_type::time_point> started_;
  std::optional<clock_type::time_point> finished_;
  std::vector<double> latencies_;
};

// Prints leadership changes and keeps the status file.
class status_reporter {
 public:
  status_reporter(const raft::driver& d, const settings& s) : driver_(d), settings_(s) {}

  void update() {
    const raft::node& n = *driver_.find(the_group);
    if (n.leader() != raft::no_node && (n.leader() != leader_ || n.term() != term_)) {
      leader_ = n.leader();
      term_ = n.term();
      std::printf("leader id=%d term=%lld\n", leader_, static_cast<long long>(term_));
      std::fflush(stdout);
    }
    if (settings_.status_file.empty()) return;
    char line[256];
    std::snprintf(line, sizeof line,
                  "id=%d role=%s term=%lld leader=%d commit=%lld applied=%lld last=%lld "
                  "durable=%lld\n",
                  settings_.id, raft::role_name(n.current_role()), static_cast<long long>(n.term()),
                  n.leader(), static_cast<long long>(n.commit_index()),
                  static_cast<long long>(n.applied_index()), static_cast<long long>(n.last_index()),
                  static_cast<long long>(n.durable_index()));
    if (line == written_) return;
    // Replaced whole (rename), so a reader never sees half a line.
    std::string temporary = settings_.status_file + ".tmp";
    {
      std::ofstream out(temporary, std::ios::trunc);
      out << line;
    }
    std::filesystem::rename(temporary, settings_.status_file);
    written_ = line;
  }

 private:
  const raft::driver& driver_;
  const settings& settings_;
  raft::node_id leader_ = raft::no_node;
  raft::term_t term_ = -1;
  std::string written_;
};

int run(const settings& s) {
  auto peers = parse_peers(s.peers);
  if (!peers.ok()) {
    std::fprintf(stderr, "raft_node: %s\n", peers.error().message.c_str());
    return 2;
  }
  if (!peers->contains(s.id)) {
    std::fprintf(stderr, "raft_node: --peers does not name --id %d\n", s.id);
    return 2;
  }
  raft::configuration voters;
  for (const auto& [id, address] : *peers) voters.voters.push_back(id);

  auto fs = storage::make_posix_file_system();
  auto log = raft::storage_log::open(*fs, s.dir, voters);
  if (!log.ok()) {
    std::fprintf(stderr, "raft_node: %s\n", log.error().message.c_str());
    return 1;
  }

  asio::io_context io;
  int exit_code = 0;
  std::unique_ptr<raft::transport> transport;

  raft::driver_options options;
  options.self = s.id;
  options.tick = std::chrono::milliseconds(s.tick_ms);
  options.on_fatal = [&](raft::group_id, const std::string& why) {
    std::fprintf(stderr, "raft_node: storage failed, stopping: %s\n", why.c_str());
    exit_code = 1;
    io.stop();
  };
  raft::driver driver(io, options, [&](raft::node_id to, std::vector<uint8_t> batch) {
    transport->send(to, std::move(batch));
  });

  raft::transport_options t;
  t.self = s.id;
  t.cluster_id = s.cluster_id;
  t.listen = peers->at(s.id);
  t.peers = *peers;
  t.peers.erase(s.id);
  auto started = raft::transport::start(io, t, [&](raft::node_id from, base::shared_bytes batch) {
    driver.receive(from, std::move(batch));
  });
  if (!started.ok()) {
    std::fprintf(stderr, "raft_node: %s\n", started.error().message.c_str());
    return 1;
  }
  transport = std::move(*started);

  raft::node_options group;
  group.group = the_group;
  group.election_ticks = s.election_ticks;
  if (auto added = driver.add_group(group, std::move(*log), {}); !added.ok()) {
    std::fprintf(stderr, "raft_node: %s\n", added.error().message.c_str());
    return 1;
  }
  driver.start();

  status_reporter status(driver, s);
  std::optional<load_generator> load;
  if (s.load > 0) load.emplace(driver, s);
  bool reported = false;

  asio::steady_timer timer(io);
  std::function<void()> every_interval = [&] {
    status.update();
    if (load && !reported) {
      load->fill();
      if (load->done()) {
        reported = true;
        std::printf("%s\n", load->report().c_str());
        std::fflush(stdout);
        if (!s.stay) io.stop();
      }
    }
    timer.expires_after(status_interval);
    timer.async_wait([&](boost::system::error_code ec) {
      if (!ec) every_interval();
    });
  };
  every_interval();

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (!ec) io.stop();
  });

  io.run();
  transport->stop();
  driver.stop();
  status.update();
  return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  settings s;
  CLI::App app("One node of a Raft group over real sockets and a real disk");
  app.add_option("--id", s.id, "this node's id")->required();
  app.add_option("--peers", s.peers, "ID=HOST:PORT,... of every voter, this node included")
      ->required();
  app.add_option("--dir", s.dir, "data directory")->required();
  app.add_option("--tick-ms", s.tick_ms, "milliseconds per tick")->check(CLI::Range(1, 10'000));
  app.add_option("--election-ticks", s.election_ticks, "election timeout in ticks")
      ->check(CLI::Range(2, 1'000));
  app.add_option("--cluster-id", s.cluster_id, "must match the peers'");
  app.add_option("--status-file", s.status_file, "keeps one status line");
  app.add_option("--load", s.load, "record batches to commit while leader")
      ->check(CLI::Range(int64_t{0}, int64_t{1'000'000'000}));
  app.add_option("--concurrency", s.concurrency, "proposals in flight")
      ->check(CLI::Range(1, 100'000));
  app.add_option("--value-bytes", s.value_bytes, "bytes of each record's value");
  app.add_flag("--stay", s.stay, "keep running after the load");
  CLI11_PARSE(app, argc, argv);
  return run(s);
}
