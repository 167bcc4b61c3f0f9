#include "sim/cluster.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace sluice::sim {

namespace {

// Bounds the readies one input may cause; a node that keeps producing them
// is stuck in a loop.
constexpr int max_readies_per_drain = 10'000;

enum trace_event : uint64_t {
  trace_step = 1,
  trace_deliver,
  trace_drop,
  trace_hard_state,
  trace_write,
  trace_apply,
  trace_snapshot,
  trace_sync,
  trace_crash,
  trace_restart,
  trace_read,
  trace_request,
};

raft::configuration voters_1_to(int nodes) {
  raft::configuration config;
  for (int i = 1; i <= nodes; ++i) config.voters.push_back(i);
  return config;
}

template <typename... F>
struct overloaded : F... {
  using F::operator()...;
};
template <typename... F>
overloaded(F...) -> overloaded<F...>;

}  // namespace

std::string describe(const raft::message& m) {
  std::ostringstream out;
  out << m.from << "->" << m.to << " ";
  std::visit(overloaded{
                 [&](const raft::vote_request& v) {
                   out << (v.pre_vote ? "pre" : "") << "vote_request t" << v.term << " last "
                       << v.last_index << "/t" << v.last_term << (v.transfer ? " transfer" : "");
                 },
                 [&](const raft::vote_response& v) {
                   out << (v.pre_vote ? "pre" : "") << "vote_response t" << v.term
                       << (v.granted ? " granted" : " refused");
                 },
                 [&](const raft::append_request& a) {
                   out << "append t" << a.term << " prev " << a.prev_index << "/t" << a.prev_term
                       << " commit " << a.commit << " entries " << a.entries.size();
                   if (!a.entries.empty()) {
                     out << " [" << a.entries.front().index << ".." << a.entries.back().last_index()
                         << "]";
                   }
                 },
                 [&](const raft::append_response& a) {
                   out << "append_response t" << a.term << (a.success ? " ok" : " rejected")
                       << " match " << a.match << " hint " << a.hint << " rejected " << a.rejected;
                 },
                 [&](const raft::heartbeat_request& h) {
                   out << "heartbeat t" << h.term << " commit " << h.commit << " seq "
                       << h.sequence;
                 },
                 [&](const raft::heartbeat_response& h) {
                   out << "heartbeat_response t" << h.term << " seq " << h.sequence << " last "
                       << h.last_index;
                 },
                 [&](const raft::install_snapshot_request& r) {
                   out << "snapshot t" << r.term << " at " << r.snap.meta.index << "/t"
                       << r.snap.meta.term;
                 },
                 [&](const raft::install_snapshot_response& r) {
                   out << "snapshot_response t" << r.term << " index " << r.index;
                 },
                 [&](const raft::timeout_now_request& t) { out << "timeout_now t" << t.term; },
             },
             m.body);
  return out.str();
}

struct cluster::host {
  node_id id = raft::no_node;
  std::unique_ptr<sim_disk> disk;
  bool decommissioned = false;
  uint64_t tick_phase = 0;
  uint32_t incarnation = 0;
  prng random{0};  // the node's injected randomness; reseeded per start

  // The running process; node is null while down.
  std::unique_ptr<raft::node> node;
  kv_machine kv;
  raft::index_t applied = 0;
  raft::term_t applied_term = 0;
  raft::configuration applied_config;  // in force at `applied`
  raft::index_t snapshot_index = 0;    // of the last snapshot taken or installed
  std::vector<raft::read_state> reads;
  struct sync_op {
    uint64_t write = 0;
    uint64_t due = 0;
    raft::index_t index = 0;
    raft::term_t term = 0;
  };
  std::optional<sync_op> sync;
  raft::index_t last_write_index = 0;
  raft::term_t last_write_term = 0;
  // The last write the node has been told is durable. A snapshot barrier
  // makes writes durable without a sync; the node still needs to hear.
  uint64_t reported_write = 0;
  uint64_t paused_until = 0;
  // For the log: the role and term last seen.
  raft::role last_role = raft::role::follower;
  raft::term_t last_term = 0;
};

cluster::cluster(cluster_options options, uint64_t seed)
    : options_(options),
      seed_(seed),
      random_(prng(seed).derive(1)),
      network_(options.network, prng(seed).derive(2)),
      checks_(voters_1_to(options.nodes)) {
  for (int i = 0; i < options_.nodes; ++i) add_host(voters_1_to(options_.nodes));
}

cluster::~cluster() = default;

cluster::host& cluster::at(node_id id) {
  auto it = hosts_.find(id);
  if (it == hosts_.end()) throw std::out_of_range("cluster: no node " + std::to_string(id));
  return *it->second;
}

const cluster::host& cluster::at(node_id id) const {
  auto it = hosts_.find(id);
  if (it == hosts_.end()) throw std::out_of_range("cluster: no node " + std::to_string(id));
  return *it->second;
}

std::vector<node_id> cluster::members() const {
  std::vector<node_id> out;
  for (const auto& [id, h] : hosts_) {
    if (!h->decommissioned) out.push_back(id);
  }
  return out;
}

bool cluster::is_up(node_id id) const {
  auto it = hosts_.find(id);
  return it != hosts_.end() && it->second->node != nullptr;
}

bool cluster::available(node_id id) const { return is_up(id) && at(id).paused_until <= now_; }

raft::node* cluster::node(node_id id) {
  auto it = hosts_.find(id);
  return it == hosts_.end() ? nullptr : it->second->node.get();
}

const raft::node* cluster::node(node_id id) const {
  auto it = hosts_.find(id);
  return it == hosts_.end() ? nullptr : it->second->node.get();
}

const kv_machine& cluster::kv(node_id id) const { return at(id).kv; }
const sim_disk& cluster::disk(node_id id) const { return *at(id).disk; }

std::optional<node_id> cluster::leader() const {
  std::optional<node_id> best;
  raft::term_t best_term = -1;
  for (const auto& [id, h] : hosts_) {
    if (h->node && h->node->current_role() == raft::role::leader && h->node->term() > best_term) {
      best = id;
      best_term = h->node->term();
    }
  }
  return best;
}

// --- Starting and stopping ---

void cluster::start(host& h) {
  ++h.incarnation;
  h.random = prng(seed_).derive(hash_mix(static_cast<uint64_t>(h.id), h.incarnation));
  const raft::snapshot& snap = h.disk->durable_snapshot();
  if (!h.kv.restore(snap.data.span())) {
    host_fail(h, "cannot restore the state machine from its snapshot");
    return;
  }
  h.applied = snap.meta.index;
  h.applied_term = snap.meta.term;
  h.applied_config = snap.meta.config;
  h.snapshot_index = snap.meta.index;
  h.reads.clear();
  h.sync.reset();
  h.reported_write = h.disk->last_write();  // a restarted node finds all on disk
  h.paused_until = 0;
  raft::node_options o = options_.node;
  o.id = h.id;
  o.group = 1;
  prng* random = &h.random;
  h.node = std::make_unique<raft::node>(o, *h.disk, [random] { return random->next(); });
  trace(hash_mix(trace_restart, static_cast<uint64_t>(h.id)));
  if (logging()) {
    log("start " + std::to_string(h.id) + " incarnation " + std::to_string(h.incarnation) +
        ": snapshot " + std::to_string(snap.meta.index) + ", log to " +
        std::to_string(h.disk->last_index()) + ", term " +
        std::to_string(h.disk->initial_hard_state().term));
  }
  drain(h);
}

void cluster::crash(node_id id) {
  host& h = at(id);
  if (!h.node) return;
  h.node.reset();
  h.reads.clear();
  h.sync.reset();
  crash_report report = h.disk->crash(random_, options_.torn_probability);
  ++stats_.crashes;
  stats_.torn_writes += report.torn ? 1 : 0;
  stats_.entries_lost += report.entries_lost;
  trace(hash_mix(hash_mix(trace_crash, static_cast<uint64_t>(id)), report.entries_lost));
  if (logging()) {
    log("crash " + std::to_string(id) + ": lost " + std::to_string(report.entries_lost) +
        " entries" + (report.torn ? ", torn write" : "") + ", durable log to " +
        std::to_string(h.disk->last_index()));
  }
  if (observer_) observer_->on_down(id);
  checks_.check_durability([this](node_id n) -> const sim_disk* {
    auto it = hosts_.find(n);
    return it == hosts_.end() ? nullptr : it->second->disk.get();
  });
}

void cluster::restart(node_id id) {
  host& h = at(id);
  if (h.node || h.decommissioned) return;
  start(h);
}

void cluster::pause(node_id id, uint64_t steps) {
  host& h = at(id);
  if (!h.node) return;
  h.paused_until = std::max(h.paused_until, now_ + steps);
  if (logging()) log("pause " + std::to_string(id) + " until " + std::to_string(h.paused_until));
}

cluster::host& cluster::add_host(const raft::configuration& initial) {
  auto h = std::make_unique<host>();
  h->id = next_id_++;
  h->disk = std::make_unique<sim_disk>(initial);
  h->tick_phase = random_.below(static_cast<uint64_t>(options_.steps_per_tick));
  host& ref = *h;
  hosts_.emplace(ref.id, std::move(h));
  start(ref);
  return ref;
}

node_id cluster::add_node() { return add_host(raft::configuration{}).id; }

void cluster::decommission(node_id id) {
  host& h = at(id);
  if (h.node && observer_) observer_->on_down(id);
  h.node.reset();
  h.decommissioned = true;
}

// --- Requests ---

base::result<raft::index_t, raft::refusal> cluster::propose(node_id id, const kv_command& command,
                                                            int32_t count) {
  host& h = at(id);
  trace(hash_mix(hash_mix(trace_request, static_cast<uint64_t>(id)), command.op));
  auto r = h.node->propose(encode_command(command), count);
  drain(h);
  return r;
}

base::result<void, raft::refusal> cluster::read_index(node_id id, uint64_t request) {
  host& h = at(id);
  trace(hash_mix(hash_mix(trace_request, static_cast<uint64_t>(id)), request));
  auto r = h.node->read_index(request);
  drain(h);
  return r;
}

base::result<void, raft::refusal> cluster::transfer_leadership(node_id id, node_id target) {
  host& h = at(id);
  trace(
      hash_mix(hash_mix(trace_request, static_cast<uint64_t>(id)), static_cast<uint64_t>(target)));
  auto r = h.node->transfer_leadership(target);
  if (logging()) {
    log("transfer " + std::to_string(id) + " -> " + std::to_string(target) +
        (r ? ": started" : std::string(": ") + raft::refusal_name(r.error())));
  }
  drain(h);
  return r;
}

base::result<raft::index_t, raft::refusal> cluster::change_configuration(
    node_id id, raft::config_change change) {
  host& h = at(id);
  trace(hash_mix(hash_mix(trace_request, static_cast<uint64_t>(id)),
                 static_cast<uint64_t>(change.node) * 4 + static_cast<uint64_t>(change.what)));
  auto r = h.node->change_configuration(change);
  if (logging()) {
    static constexpr const char* kinds[] = {"add learner", "promote", "remove"};
    log("change on " + std::to_string(id) + ": " + kinds[static_cast<int>(change.what)] + " " +
        std::to_string(change.node) +
        (r ? " at " + std::to_string(*r) : std::string(": ") + raft::refusal_name(r.error())));
  }
  drain(h);
  return r;
}

// --- The host loop ---

void cluster::log(const std::string& line) { log_("[" + std::to_string(now_) + "] " + line); }

void cluster::host_fail(const host& h, const std::string& what) {
  checks_.fail("host contract: node " + std::to_string(h.id) + ": " + what);
}

void cluster::drain(host& h) {
  for (int i = 0; h.node && h.node->has_ready() && !failed(); ++i) {
    if (i == max_readies_per_drain) {
      host_fail(h, "still has a ready after " + std::to_string(i) + " in a row");
      return;
    }
    raft::ready r = h.node->take_ready();
    handle(h, r);
  }
}

void cluster::handle(host& h, raft::ready& r) {
  // 1. The snapshot, durably.
  if (r.snapshot_to_install) install(h, *r.snapshot_to_install);
  // 2. The hard state, durably.
  if (r.hard_state_to_save) {
    checks_.on_hard_state(h.id, h.disk->initial_hard_state(), *r.hard_state_to_save);
    h.disk->save_hard_state(*r.hard_state_to_save);
    if (logging()) {
      log("node " + std::to_string(h.id) + " saves term " +
          std::to_string(r.hard_state_to_save->term) + " vote " +
          std::to_string(r.hard_state_to_save->voted_for));
    }
    trace(hash_mix(hash_mix(trace_hard_state, static_cast<uint64_t>(r.hard_state_to_save->term)),
                   static_cast<uint64_t>(r.hard_state_to_save->voted_for)));
  }
  // 3. The messages.
  for (raft::message& m : r.messages) {
    if (m.from != h.id || m.to == h.id) {
      host_fail(h, "sent a message from " + std::to_string(m.from) + " to " + std::to_string(m.to));
      return;
    }
    if (!logging()) {
      network_.send(std::move(m), now_);
    } else if (std::string line = describe(m); network_.send(std::move(m), now_) == 0) {
      log("lost " + line);
    }
  }
  // 4. The entries: written now, durable when a sync covers them.
  if (!r.entries.empty()) write(h, r.entries);
  // 5. Apply, then answer the reads the applied index has reached.
  for (const raft::entry& e : r.committed) {
    if (failed()) return;
    apply(h, e);
  }
  for (const raft::read_state& rs : r.reads) {
    trace(hash_mix(hash_mix(trace_read, rs.request), static_cast<uint64_t>(rs.index)));
    if (rs.index < 0) {
      if (observer_) observer_->on_read(h.id, rs.request, false);
    } else {
      h.reads.push_back(rs);
    }
  }
  serve_reads(h);
  maybe_snapshot(h);
}

void cluster::install(host& h, const raft::snapshot& snap) {
  checks_.on_snapshot_install(h.id, snap.meta);
  if (snap.meta.index < h.applied) {
    host_fail(h, "asked to install a snapshot at " + std::to_string(snap.meta.index) +
                     ", behind its applied index " + std::to_string(h.applied) +
                     " (the state machine would move back)");
    return;
  }
  h.disk->install_snapshot(snap);
  if (!h.kv.restore(snap.data.span())) {
    host_fail(h, "a snapshot to install does not hold a state machine image");
    return;
  }
  h.applied = snap.meta.index;
  h.applied_term = snap.meta.term;
  h.applied_config = snap.meta.config;
  h.snapshot_index = snap.meta.index;
  ++stats_.snapshots_installed;
  trace(hash_mix(hash_mix(trace_snapshot, static_cast<uint64_t>(h.id)),
                 static_cast<uint64_t>(snap.meta.index)));
  if (logging()) {
    log("node " + std::to_string(h.id) + " installs snapshot " + std::to_string(snap.meta.index) +
        "/t" + std::to_string(snap.meta.term));
  }
  if (observer_) observer_->on_snapshot_installed(h.id, snap.meta.index);
}

void cluster::write(host& h, const std::vector<raft::entry>& entries) {
  raft::index_t first = entries.front().index;
  std::optional<raft::term_t> prev_term = h.disk->term_at(first - 1);
  if (!prev_term) {
    host_fail(h, "asked to write entries from " + std::to_string(first) + " but its log holds (" +
                     std::to_string(h.disk->first_index() - 1) + ", " +
                     std::to_string(h.disk->last_index()) + "]");
    return;
  }
  checks_.on_write(h.id, *prev_term, entries);
  std::optional<uint64_t> written = h.disk->append(entries);
  if (!written) {
    host_fail(h, "entries from " + std::to_string(first) +
                     " are not contiguous or do not start at an entry boundary");
    return;
  }
  h.last_write_index = entries.back().last_index();
  h.last_write_term = entries.back().term;
  trace(hash_mix(hash_mix(trace_write, static_cast<uint64_t>(first)), entries.size()));
  if (logging()) {
    log("node " + std::to_string(h.id) + " writes " + std::to_string(first) + ".." +
        std::to_string(h.last_write_index) + " (term " + std::to_string(entries.front().term) +
        ".." + std::to_string(h.last_write_term) + ")");
  }
  maybe_start_sync(h);
}

void cluster::maybe_start_sync(host& h) {
  if (h.sync || h.disk->last_write() == h.reported_write) return;
  int64_t latency = random_.range(options_.min_sync_steps, options_.max_sync_steps);
  h.sync = host::sync_op{h.disk->last_write(), now_ + static_cast<uint64_t>(latency),
                         h.last_write_index, h.last_write_term};
}

void cluster::apply(host& h, const raft::entry& e) {
  if (e.index != h.applied + 1) {
    host_fail(h, "handed out committed entry " + std::to_string(e.index) + " after applied index " +
                     std::to_string(h.applied));
    return;
  }
  checks_.on_apply(h.id, e, h.node->term());
  std::optional<kv_command> command;
  try {
    command = h.kv.apply(e);
  } catch (const std::exception& error) {
    host_fail(h, error.what());
    return;
  }
  if (e.type == raft::entry_type::configuration) {
    raft::configuration config;
    if (!raft::decode_configuration(e.data.span(), config)) {
      host_fail(h, "configuration entry " + std::to_string(e.index) + " does not decode");
      return;
    }
    h.applied_config = std::move(config);
  }
  h.applied = e.last_index();
  h.applied_term = e.term;
  ++stats_.entries_applied;
  trace(
      hash_mix(hash_mix(trace_apply, static_cast<uint64_t>(h.id)), static_cast<uint64_t>(e.index)));
  if (observer_) observer_->on_applied(h.id, e, command);
}

void cluster::serve_reads(host& h) {
  auto ready =
      std::stable_partition(h.reads.begin(), h.reads.end(),
                            [&](const raft::read_state& rs) { return rs.index <= h.applied; });
  std::vector<raft::read_state> served(h.reads.begin(), ready);
  h.reads.erase(h.reads.begin(), ready);
  for (const raft::read_state& rs : served) {
    if (observer_) observer_->on_read(h.id, rs.request, true);
  }
}

void cluster::maybe_snapshot(host& h) {
  if (options_.snapshot_every <= 0 || !h.node) return;
  if (h.applied - h.snapshot_index < options_.snapshot_every) return;
  raft::snapshot snap;
  snap.meta.index = h.applied;
  snap.meta.term = h.applied_term;
  snap.meta.config = h.applied_config;
  snap.data = h.kv.snapshot();
  h.disk->compact(snap);
  h.snapshot_index = h.applied;
  ++stats_.snapshots_taken;
  if (logging()) log("node " + std::to_string(h.id) + " snapshots at " + std::to_string(h.applied));
  h.node->on_snapshot(snap.meta);
}

// --- A step ---

void cluster::deliver_messages() {
  for (raft::message& m : network_.take_due(now_)) {
    auto it = hosts_.find(m.to);
    if (it == hosts_.end() || !it->second->node) {
      trace(hash_mix(trace_drop, static_cast<uint64_t>(m.to)));
      continue;
    }
    host& h = *it->second;
    if (h.paused_until > now_) {
      network_.redeliver(std::move(m), h.paused_until);
      continue;
    }
    trace(hash_mix(hash_mix(hash_mix(trace_deliver, static_cast<uint64_t>(m.from) * 64 +
                                                        static_cast<uint64_t>(m.to)),
                            m.body.index()),
                   static_cast<uint64_t>(raft::message_term(m.body))));
    if (logging()) log("deliver " + describe(m));
    h.node->step(std::move(m));
    if (random_.chance(options_.eager_ready)) drain(h);
    if (failed()) return;
  }
  for (auto& [id, h] : hosts_) drain(*h);
}

void cluster::complete_syncs() {
  for (auto& [id, hp] : hosts_) {
    host& h = *hp;
    if (!h.node || !h.sync || h.sync->due > now_ || h.paused_until > now_) continue;
    host::sync_op done = *h.sync;
    h.sync.reset();
    h.disk->sync(done.write);
    h.reported_write = done.write;
    ++stats_.syncs;
    trace(hash_mix(hash_mix(trace_sync, static_cast<uint64_t>(id)),
                   static_cast<uint64_t>(done.index)));
    if (logging()) {
      log("node " + std::to_string(id) + " synced to " + std::to_string(done.index) + "/t" +
          std::to_string(done.term));
    }
    h.node->on_persisted(done.index, done.term);
    drain(h);
    maybe_start_sync(h);
    if (failed()) return;
  }
}

void cluster::tick_nodes() {
  auto period = static_cast<uint64_t>(options_.steps_per_tick);
  for (auto& [id, h] : hosts_) {
    if (!h->node || h->paused_until > now_ || (now_ + h->tick_phase) % period != 0) continue;
    h->node->tick();
    if (random_.chance(options_.eager_ready)) drain(*h);
  }
  for (auto& [id, h] : hosts_) drain(*h);
}

void cluster::check_step() {
  std::vector<invariants::leader_view> leaders;
  for (auto& [id, h] : hosts_) {
    if (!h->node) continue;
    const raft::node& n = *h->node;
    checks_.on_role(id, n.current_role(), n.term());
    if (n.config() != h->disk->configuration_in_force()) {
      checks_.fail("configuration: node " + std::to_string(id) + " uses " + describe(n.config()) +
                   " but the last configuration in its log is " +
                   describe(h->disk->configuration_in_force()));
    }
    if (logging() && (n.current_role() != h->last_role || n.term() != h->last_term)) {
      log("node " + std::to_string(id) + " is " + raft::role_name(n.current_role()) + " of term " +
          std::to_string(n.term()) + ", last " + std::to_string(n.last_index()) + ", commit " +
          std::to_string(n.commit_index()));
    }
    h->last_role = n.current_role();
    h->last_term = n.term();
    if (n.current_role() == raft::role::leader) {
      leaders.push_back({id, n.term(), h->disk->snapshot_metadata().index,
                         [&n](raft::index_t i) { return n.term_at(i); }});
    }
  }
  checks_.check_leaders(leaders);
  if (network_.in_flight() > options_.max_in_flight) {
    checks_.fail("message storm: " + std::to_string(network_.in_flight()) +
                 " messages in flight (a request/response loop between nodes?)");
  }
}

void cluster::step() {
  if (failed()) return;
  ++now_;
  checks_.set_step(now_);
  trace(hash_mix(trace_step, now_));
  deliver_messages();
  if (!failed()) complete_syncs();
  if (!failed()) tick_nodes();
  if (!failed()) check_step();
}

}  // namespace sluice::sim
