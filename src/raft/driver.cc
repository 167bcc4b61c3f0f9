#include "raft/driver.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <map>
#include <random>
#include <utility>

#include "raft/codec.h"

namespace sluice::raft {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;

std::string proposal_error::describe() const {
  switch (what) {
    case kind::refused:
      return std::string("refused: ") + refusal_name(why) +
             (leader != no_node ? " (leader " + std::to_string(leader) + ")" : "");
    case kind::lost:
      return "lost: another entry was committed at its index";
    case kind::unknown:
      return "outcome unknown: timed out, or a snapshot replaced the log there";
    case kind::stopped:
      return "stopped";
  }
  return "?";
}

namespace {

struct pending_proposal {
  term_t term;
  clock::time_point deadline;
  proposal_callback done;
};

// Roughly what a message adds to a batch: its entry or snapshot data plus a
// little for the numbers.
size_t encoded_size_estimate(const message& m) {
  size_t bytes = 32;
  if (const auto* a = std::get_if<append_request>(&m.body)) {
    for (const entry& e : a->entries) bytes += e.data.size() + 16;
  } else if (const auto* s = std::get_if<install_snapshot_request>(&m.body)) {
    bytes += s->snap.data.size();
  }
  return bytes;
}

}  // namespace

struct group_state {
  group_id id = 0;
  // Before `raft`: the node reads the log and goes first.
  std::unique_ptr<storage_log> log;
  std::unique_ptr<node> raft;
  state_machine machine;
  std::map<index_t, pending_proposal> proposals;  // by the index proposed at
  // The last entry appended and not yet covered by a sync.
  std::optional<std::pair<index_t, term_t>> unsynced;
  bool sync_running = false;
  // Taken while the sync ran: written when it returns.
  std::vector<entry> unwritten;
  // A ready with a hard state or a snapshot taken while the sync ran.
  std::optional<ready> deferred;
  bool marked = false;
  bool failed = false;
};

struct driver::state : std::enable_shared_from_this<state> {
  state(asio::io_context& io, driver_options o, send_function s)
      : io(io), options(std::move(o)), send(std::move(s)), ticker(io) {}

  asio::io_context& io;
  driver_options options;
  send_function send;
  asio::steady_timer ticker;
  asio::thread_pool syncer{1};
  std::mt19937_64 random{std::random_device{}()};
  std::map<group_id, std::unique_ptr<group_state>> groups;
  std::vector<group_state*> marked;
  std::map<node_id, std::vector<message>> outbox;
  bool pass_posted = false;
  bool started = false;
  bool stopped = false;
  driver_stats stats;

  group_state* find(group_id id) {
    auto it = groups.find(id);
    return it == groups.end() ? nullptr : it->second.get();
  }

  // --- Scheduling ---

  void mark(group_state& g) {
    if (g.failed || stopped) return;
    if (!g.marked) {
      g.marked = true;
      marked.push_back(&g);
    }
    if (!pass_posted) {
      pass_posted = true;
      asio::post(io, [w = weak_from_this()] {
        if (auto s = w.lock()) s->pass();
      });
    }
  }

  void schedule_tick() {
    auto next = std::max(ticker.expiry() + options.tick, clock::now());
    ticker.expires_at(next);
    ticker.async_wait([w = weak_from_this()](boost::system::error_code ec) {
      if (ec) return;
      if (auto s = w.lock()) s->on_tick();
    });
  }

  void on_tick() {
    if (stopped) return;
    const auto now = clock::now();
    for (auto& [id, g] : groups) {
      if (g->failed) continue;
      g->raft->tick();
      mark(*g);
      expire_proposals(*g, now);
    }
    schedule_tick();
  }

  // One pass: every marked group's ready, then one batch per peer, then
  // the syncs.
  void pass() {
    pass_posted = false;
    if (stopped) return;
    ++stats.passes;
    auto list = std::exchange(marked, {});
    for (group_state* g : list) {
      g->marked = false;
      if (!g->failed && !g->deferred && g->raft->has_ready()) handle(*g, g->raft->take_ready());
    }
    flush_outbox();
    for (group_state* g : list) start_sync(*g);
  }

  // --- The host contract for one ready ---

  void handle(group_state& g, ready r) {
    ++stats.readies;
    if (g.sync_running && (r.snapshot_to_install || r.hard_state_to_save)) {
      g.deferred = std::move(r);
      return;
    }
    if (r.snapshot_to_install) {
      const snapshot& snap = *r.snapshot_to_install;
      if (auto done = g.log->install_snapshot(snap); !done) {
        return fail(g, "install snapshot: " + done.error().message);
      }
      if (g.machine.restore) g.machine.restore(snap);
      while (!g.proposals.empty() && g.proposals.begin()->first <= snap.meta.index) {
        complete(g.proposals.extract(g.proposals.begin()).mapped(), proposal_error::kind::unknown);
      }
    }
    if (r.hard_state_to_save) {
      if (auto done = g.log->save_hard_state(*r.hard_state_to_save); !done) {
        return fail(g, "save hard state: " + done.error().message);
      }
    }
    for (message& m : r.messages) outbox[m.to].push_back(std::move(m));
    if (!r.entries.empty()) write(g, std::move(r.entries));
    for (const entry& e : r.committed) {
      if (g.failed) return;
      apply(g, e);
    }
  }

  void write(group_state& g, std::vector<entry> entries) {
    if (!g.sync_running) return append(g, entries);
    // Entries that replace buffered ones cut the buffer where they start.
    const index_t front = entries.front().index;
    while (!g.unwritten.empty() && g.unwritten.back().index >= front) g.unwritten.pop_back();
    for (entry& e : entries) g.unwritten.push_back(std::move(e));
  }

  void append(group_state& g, const std::vector<entry>& entries) {
    if (auto done = g.log->append(entries); !done) {
      return fail(g, "append: " + done.error().message);
    }
    g.unsynced = std::make_pair(entries.back().last_index(), entries.back().term);
  }

  void apply(group_state& g, const entry& e) {
    if (g.machine.apply) g.machine.apply(e);
    // Proposals at or below this entry are decided: theirs if it starts at
    // their index in their term, otherwise lost.
    while (!g.proposals.empty() && g.proposals.begin()->first <= e.last_index()) {
      auto p = g.proposals.extract(g.proposals.begin());
      if (p.key() == e.index && p.mapped().term == e.term) {
        p.mapped().done(e.index);
      } else {
        complete(std::move(p.mapped()), proposal_error::kind::lost);
      }
    }
  }

  void complete(pending_proposal p, proposal_error::kind what) {
    proposal_error e;
    e.what = what;
    p.done(base::unexpected(e));
  }

  // Proposals are mostly in deadline order by index; the first one not yet
  // due ends the scan.
  void expire_proposals(group_state& g, clock::time_point now) {
    while (!g.proposals.empty() && g.proposals.begin()->second.deadline <= now) {
      complete(g.proposals.extract(g.proposals.begin()).mapped(), proposal_error::kind::unknown);
    }
  }

  void fail(group_state& g, std::string why) {
    g.failed = true;
    auto proposals = std::exchange(g.proposals, {});
    for (auto& [index, p] : proposals) complete(std::move(p), proposal_error::kind::stopped);
    if (options.on_fatal) options.on_fatal(g.id, why);
  }

  // --- Messages ---

  void flush_outbox() {
    for (auto& [to, messages] : outbox) {
      size_t begin = 0;
      size_t bytes = 0;
      for (size_t i = 0; i < messages.size(); ++i) {
        size_t size = encoded_size_estimate(messages[i]);
        if (i > begin && bytes + size > options.max_batch_bytes) {
          send_batch(to, std::span(messages).subspan(begin, i - begin));
          begin = i;
          bytes = 0;
        }
        bytes += size;
      }
      if (begin < messages.size()) send_batch(to, std::span(messages).subspan(begin));
    }
    outbox.clear();
  }

  void send_batch(node_id to, std::span<const message> messages) {
    ++stats.batches_sent;
    stats.messages_sent += messages.size();
    send(to, encode_batch(options.self, to, messages));
  }

  // --- Group commit ---

  void start_sync(group_state& g) {
    if (g.failed || g.sync_running || !g.unsynced || stopped) return;
    g.sync_running = true;
    auto target = *std::exchange(g.unsynced, std::nullopt);
    ++stats.syncs;
    asio::post(syncer, [w = weak_from_this(), &io = io, log = g.log.get(), id = g.id, target] {
      auto synced = log->sync();
      std::string error = synced.ok() ? "" : synced.error().message;
      asio::post(io, [w, id, target, error = std::move(error)] {
        if (auto s = w.lock()) s->on_synced(id, target, error);
      });
    });
  }

  void on_synced(group_id id, std::pair<index_t, term_t> target, const std::string& error) {
    group_state* g = find(id);
    if (stopped || g == nullptr || g->failed) return;
    g->sync_running = false;
    if (!error.empty()) return fail(*g, "sync: " + error);
    g->raft->on_persisted(target.first, target.second);
    if (!g->unwritten.empty()) append(*g, std::exchange(g->unwritten, {}));
    if (g->deferred && !g->failed) {
      ready r = std::move(*g->deferred);
      g->deferred.reset();
      handle(*g, std::move(r));
    }
    mark(*g);
  }
};

driver::driver(asio::io_context& io, driver_options options, send_function send)
    : state_(std::make_shared<state>(io, std::move(options), std::move(send))) {}

driver::~driver() { stop(); }

base::result<void> driver::add_group(node_options options, std::unique_ptr<storage_log> log,
                                     state_machine machine) {
  state& s = *state_;
  if (s.groups.contains(options.group)) {
    return base::fail("group " + std::to_string(options.group) + " is already running");
  }
  options.id = s.options.self;
  auto g = std::make_unique<group_state>();
  g->id = options.group;
  g->log = std::move(log);
  g->machine = std::move(machine);
  g->raft = std::make_unique<node>(options, *g->log, [&s] { return s.random(); });
  group_state& added = *g;
  s.groups.emplace(options.group, std::move(g));
  if (s.started) s.mark(added);
  return {};
}

void driver::start() {
  state& s = *state_;
  if (s.started || s.stopped) return;
  s.started = true;
  s.ticker.expires_after(s.options.tick);
  s.ticker.async_wait([w = s.weak_from_this()](boost::system::error_code ec) {
    if (ec) return;
    if (auto st = w.lock()) st->on_tick();
  });
  for (auto& [id, g] : s.groups) s.mark(*g);
}

void driver::receive(node_id from, base::shared_bytes batch) {
  state& s = *state_;
  if (s.stopped) return;
  ++s.stats.batches_received;
  auto decoded = decode_batch(std::move(batch));
  if (!decoded.ok() || (!decoded->empty() &&
                        (decoded->front().from != from || decoded->front().to != s.options.self))) {
    ++s.stats.batches_refused;
    return;
  }
  for (message& m : *decoded) {
    group_state* g = s.find(m.group);
    if (g == nullptr || g->failed) {
      ++s.stats.messages_dropped;
      continue;
    }
    g->raft->step(std::move(m));
    s.mark(*g);
  }
}

void driver::propose(group_id group, base::shared_bytes data, int32_t count,
                     proposal_callback done) {
  state& s = *state_;
  auto refuse = [&](proposal_error e) {
    asio::post(s.io, [done = std::move(done), e] { done(base::unexpected(e)); });
  };
  group_state* g = s.find(group);
  if (s.stopped || g == nullptr || g->failed) {
    proposal_error e;
    e.what =
        g == nullptr && !s.stopped ? proposal_error::kind::refused : proposal_error::kind::stopped;
    e.why = refusal::invalid_request;
    return refuse(e);
  }
  auto index = g->raft->propose(std::move(data), count);
  if (!index.ok()) return refuse({proposal_error::kind::refused, index.error(), g->raft->leader()});
  // The leader's log now ends at this proposal, so proposals still waiting
  // at or after its index (made in an earlier term of this node, then cut
  // from its log) are gone.
  // Their callbacks run later, as this call promises its own does.
  for (auto it = g->proposals.lower_bound(*index); it != g->proposals.end();) {
    proposal_error lost;
    lost.what = proposal_error::kind::lost;
    asio::post(s.io, [done = std::move(it->second.done), lost] { done(base::unexpected(lost)); });
    it = g->proposals.erase(it);
  }
  g->proposals.emplace(*index,
                       pending_proposal{g->raft->term(), clock::now() + s.options.proposal_timeout,
                                        std::move(done)});
  s.mark(*g);
}

const node* driver::find(group_id group) const {
  auto it = state_->groups.find(group);
  return it == state_->groups.end() ? nullptr : it->second->raft.get();
}

driver_stats driver::stats() const { return state_->stats; }

void driver::stop() {
  state& s = *state_;
  if (s.stopped) return;
  s.stopped = true;
  s.ticker.cancel();
  // A sync in flight finishes; its completion finds the driver stopped.
  s.syncer.join();
  for (auto& [id, g] : s.groups) {
    auto proposals = std::exchange(g->proposals, {});
    for (auto& [index, p] : proposals) s.complete(std::move(p), proposal_error::kind::stopped);
  }
}

}  // namespace sluice::raft
