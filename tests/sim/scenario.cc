#include "sim/scenario.h"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <sstream>

namespace sluice::sim {

namespace {

// Stream numbers for prng::derive: one generator per concern.
enum stream : uint64_t {
  stream_parameters = 100,
  stream_faults,
  stream_workload,
};

std::string fixed(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

// Forwards the hosts' events to the workload and watches for the liveness
// probe's marker entries (client 0).
class run_observer final : public cluster_observer {
 public:
  explicit run_observer(workload& w) : workload_(w) {}

  void on_applied(node_id node, const raft::entry& e,
                  const std::optional<kv_command>& command) override {
    if (command && command->client == 0) {
      marker_applied = true;
      return;
    }
    workload_.on_applied(node, e, command);
  }
  void on_read(node_id node, uint64_t request, bool ok) override {
    workload_.on_read(node, request, ok);
  }
  void on_down(node_id node) override { workload_.on_down(node); }
  void on_snapshot_installed(node_id node, raft::index_t index) override {
    workload_.on_snapshot_installed(node, index);
  }

  bool marker_applied = false;

 private:
  workload& workload_;
};

// Draws and applies the faults of phase 1.
class fault_injector {
 public:
  fault_injector(const scenario& s, cluster& c, prng random)
      : s_(s), cluster_(c), random_(random) {}

  void step() {
    if (random_.chance(s_.crash)) crash_one();
    if (random_.chance(s_.restart)) restart_one();
    if (random_.chance(s_.pause)) pause_one();
    if (random_.chance(s_.partition)) partition();
    if (random_.chance(s_.heal) && cluster_.network().partitioned()) {
      cluster_.network().heal();
      if (cluster_.logging()) cluster_.log("heal");
    }
    if (random_.chance(s_.transfer)) transfer();
    if (random_.chance(s_.membership)) change_membership();
    if (s_.membership > 0) retire_removed();
  }

 private:
  template <typename T>
  T pick(const std::vector<T>& items) {
    return items[random_.below(items.size())];
  }

  // The configuration as the current leader sees it, else the committed one.
  raft::configuration current_config() const {
    std::optional<node_id> leader = cluster_.leader();
    if (leader) return cluster_.node(*leader)->config();
    return cluster_.checks().committed_config();
  }

  void crash_one() {
    std::vector<node_id> up;
    for (node_id id : cluster_.members()) {
      if (cluster_.is_up(id)) up.push_back(id);
    }
    if (up.empty()) return;
    node_id victim = pick(up);
    if (!s_.allow_majority_loss) {
      raft::configuration config = cluster_.checks().committed_config();
      size_t voters_up = 0;
      for (node_id v : config.voters) {
        if (cluster_.is_up(v) && v != victim) ++voters_up;
      }
      if (config.is_voter(victim) && voters_up < config.quorum()) return;
    }
    cluster_.crash(victim);
  }

  void restart_one() {
    std::vector<node_id> down;
    for (node_id id : cluster_.members()) {
      if (!cluster_.is_up(id)) down.push_back(id);
    }
    if (!down.empty()) cluster_.restart(pick(down));
  }

  void pause_one() {
    std::vector<node_id> up;
    for (node_id id : cluster_.members()) {
      if (cluster_.is_up(id)) up.push_back(id);
    }
    if (up.empty()) return;
    auto timeout = static_cast<int64_t>(s_.cluster.node.election_ticks * s_.cluster.steps_per_tick);
    cluster_.pause(pick(up), static_cast<uint64_t>(random_.range(1, 3 * timeout)));
  }

  void partition() {
    std::vector<node_id> all = cluster_.members();
    if (all.size() < 2) return;
    sim_network& net = cluster_.network();
    size_t before = net.cut_links();
    partition_kind(all, net);
    if (cluster_.logging()) {
      cluster_.log("partition: " + std::to_string(net.cut_links() - before) + " more links cut");
    }
  }

  void partition_kind(const std::vector<node_id>& all, sim_network& net) {
    switch (random_.below(4)) {
      case 0: {  // isolate the leader
        std::optional<node_id> leader = cluster_.leader();
        net.isolate(leader ? *leader : pick(all), all);
        break;
      }
      case 1: {  // a minority on one side
        std::vector<node_id> side = all;
        for (size_t i = side.size(); i > 1; --i) std::swap(side[i - 1], side[random_.below(i)]);
        side.resize(1 + random_.below(std::max<size_t>(1, (all.size() - 1) / 2)));
        net.partition(side, all);
        break;
      }
      case 2: {  // one way
        node_id from = pick(all);
        node_id to = pick(all);
        if (from != to) net.cut(from, to);
        break;
      }
      default: {  // a random cut of every link with probability 1/3
        for (node_id a : all) {
          for (node_id b : all) {
            if (a != b && random_.chance(1.0 / 3)) net.cut(a, b);
          }
        }
        break;
      }
    }
  }

  void transfer() {
    std::optional<node_id> leader = cluster_.leader();
    if (!leader || !cluster_.available(*leader)) return;
    std::vector<node_id> voters = cluster_.node(*leader)->config().voters;
    std::erase(voters, *leader);
    if (voters.empty()) return;
    (void)cluster_.transfer_leadership(*leader, pick(voters));
  }

  void change_membership() {
    std::optional<node_id> leader = cluster_.leader();
    if (!leader || !cluster_.available(*leader)) return;
    raft::configuration config = cluster_.node(*leader)->config();
    if (!config.learners.empty()) {
      (void)cluster_.change_configuration(
          *leader, {raft::config_change::kind::promote_learner, pick(config.learners)});
      return;
    }
    size_t max_voters = static_cast<size_t>(s_.nodes) + 2;
    if (config.voters.size() > 3 && (config.voters.size() >= max_voters || random_.chance(0.5))) {
      (void)cluster_.change_configuration(
          *leader, {raft::config_change::kind::remove_node, pick(config.voters)});
      return;
    }
    if (config.voters.size() < max_voters) {
      node_id fresh = cluster_.add_node();
      auto r =
          cluster_.change_configuration(*leader, {raft::config_change::kind::add_learner, fresh});
      if (!r) cluster_.decommission(fresh);
    }
  }

  // Stops the nodes that neither the committed configuration nor the
  // leader's contains any more (removed, or added by a change that was lost).
  void retire_removed() {
    std::optional<node_id> leader = cluster_.leader();
    if (!leader) return;
    const raft::configuration& committed = cluster_.checks().committed_config();
    const raft::configuration& current = cluster_.node(*leader)->config();
    for (node_id id : cluster_.members()) {
      if (!committed.contains(id) && !current.contains(id)) cluster_.decommission(id);
    }
  }

  const scenario& s_;
  cluster& cluster_;
  prng random_;
};

}  // namespace

scenario scenario::generate(uint64_t seed, int nodes, uint64_t steps) {
  prng r = prng(seed).derive(stream_parameters);
  scenario s;
  s.seed = seed;
  s.nodes = nodes;
  s.steps = steps;

  cluster_options& c = s.cluster;
  c.nodes = nodes;
  c.node.election_ticks = static_cast<int>(r.range(6, 15));
  c.node.heartbeat_ticks = static_cast<int>(r.range(1, 2));
  c.node.max_inflight_appends = static_cast<size_t>(r.range(1, 8));
  c.node.max_append_bytes = r.chance(0.3) ? 200 : size_t{1} << 20;
  c.steps_per_tick = static_cast<int>(r.range(2, 5));
  c.network.loss = r.chance(0.5) ? r.unit() * 0.1 : 0;
  c.network.duplicate = r.chance(0.3) ? r.unit() * 0.05 : 0;
  c.network.min_delay = static_cast<int>(r.range(0, 1));
  c.network.max_delay = static_cast<int>(r.range(1, 2 * c.steps_per_tick));
  c.network.long_delay_probability = r.chance(0.5) ? r.unit() * 0.02 : 0;
  c.network.long_delay = static_cast<int>(r.range(20, 200));
  c.min_sync_steps = static_cast<int>(r.range(0, 1));
  c.max_sync_steps = static_cast<int>(r.range(c.min_sync_steps, 3 * c.steps_per_tick));
  c.torn_probability = r.unit() * 0.5;
  c.snapshot_every = r.chance(0.2) ? 0 : static_cast<int>(r.range(20, 200));
  c.eager_ready = r.unit();

  workload_options& w = s.workload;
  w.clients = static_cast<int>(r.range(2, 5));
  w.keys = static_cast<int>(r.range(5, 10));
  w.put_ratio = 0.3 + r.unit() * 0.4;
  w.op_timeout = static_cast<uint64_t>(r.range(20, 60) * c.steps_per_tick);
  w.think = static_cast<int>(r.range(0, 10));
  w.max_count = static_cast<int>(r.range(1, 3));

  double fault_rate = r.unit();  // from calm runs to stormy ones
  s.crash = fault_rate * 0.004;
  s.restart = 0.005 + r.unit() * 0.03;
  s.pause = r.chance(0.3) ? fault_rate * 0.002 : 0;
  s.partition = fault_rate * 0.004;
  s.heal = 0.002 + r.unit() * 0.02;
  s.transfer = r.chance(0.4) ? r.unit() * 0.003 : 0;
  s.membership = r.chance(0.3) ? 0.001 + r.unit() * 0.004 : 0;
  s.allow_majority_loss = r.chance(0.3);
  s.full_restart = r.chance(0.3);
  return s;
}

std::string scenario::describe() const {
  const cluster_options& c = cluster;
  std::ostringstream out;
  out << "seed " << seed << ", " << nodes << " nodes, " << steps << " steps\n"
      << "  timing: election " << c.node.election_ticks << " ticks, heartbeat "
      << c.node.heartbeat_ticks << ", " << c.steps_per_tick << " steps/tick, inflight "
      << c.node.max_inflight_appends << ", append bytes " << c.node.max_append_bytes
      << ", eager ready " << fixed(c.eager_ready) << "\n"
      << "  network: loss " << fixed(c.network.loss) << ", dup " << fixed(c.network.duplicate)
      << ", delay " << c.network.min_delay << ".." << c.network.max_delay << " steps, long "
      << fixed(c.network.long_delay_probability) << " up to " << c.network.long_delay << "\n"
      << "  disk: sync " << c.min_sync_steps << ".." << c.max_sync_steps << " steps, torn "
      << fixed(c.torn_probability) << ", snapshot every " << c.snapshot_every << "\n"
      << "  faults/step: crash " << fixed(crash) << ", restart " << fixed(restart) << ", pause "
      << fixed(pause) << ", partition " << fixed(partition) << ", heal " << fixed(heal)
      << ", transfer " << fixed(transfer) << ", membership " << fixed(membership)
      << (allow_majority_loss ? ", majority loss allowed" : "")
      << (full_restart ? ", full restart" : "") << "\n"
      << "  workload: " << workload.clients << " clients, " << workload.keys << " keys, puts "
      << fixed(workload.put_ratio) << ", timeout " << workload.op_timeout << " steps, count 1.."
      << workload.max_count;
  return out.str();
}

std::string scenario::replay_command() const {
  return "sim_soak --seed " + std::to_string(seed) + " --nodes " + std::to_string(nodes) +
         " --steps " + std::to_string(steps);
}

std::string run_report::failure_report(const scenario& s) const {
  std::ostringstream out;
  out << "SIMULATION FAILURE at step " << failure_step << ": " << failure << "\n"
      << s.describe() << "\n"
      << "replay: " << s.replay_command();
  return out.str();
}

std::string run_report::summary() const {
  std::ostringstream out;
  out << "seed " << seed << " (" << nodes << " nodes): " << (ok ? "ok" : "FAILED") << ", "
      << steps_run << " steps, " << leaders_elected << " leaders, committed " << committed
      << ", ops " << operations << (linearizable ? "" : " NOT LINEARIZABLE")
      << (lin_inconclusive ? " (check inconclusive)" : "") << ", liveness "
      << (liveness_ticks ? std::to_string(*liveness_ticks) + " ticks" : "n/a") << ", crashes "
      << cluster.crashes << " (torn " << cluster.torn_writes << ", lost " << cluster.entries_lost
      << "), snapshots " << cluster.snapshots_taken << "/" << cluster.snapshots_installed
      << ", applied " << cluster.entries_applied << ", syncs " << cluster.syncs << ", messages "
      << network.delivered << "/" << network.sent << ", trace " << std::hex << trace_hash;
  return out.str();
}

namespace {

void liveness_phase(const scenario& s, cluster& c, workload& w, run_observer& observer,
                    run_report& report) {
  c.network().heal();
  network_options calm = c.network().options();
  calm.loss = 0;
  calm.duplicate = 0;
  calm.long_delay_probability = 0;
  c.network().set_options(calm);
  if (s.full_restart) {
    for (node_id id : c.members()) c.crash(id);
  }
  for (node_id id : c.members()) c.restart(id);
  if (c.failed()) return;

  uint64_t start = c.now();
  auto bound = static_cast<uint64_t>(s.liveness_timeouts * s.cluster.node.election_ticks *
                                     s.cluster.steps_per_tick);
  uint64_t marker = 0;
  node_id marker_node = raft::no_node;
  while (!observer.marker_applied && !c.failed() && c.now() - start <= bound) {
    std::optional<node_id> leader = c.leader();
    bool outstanding = marker_node != raft::no_node && c.is_up(marker_node) &&
                       c.node(marker_node)->current_role() == raft::role::leader;
    if (leader && !outstanding && c.available(*leader)) {
      ++marker;
      auto r = c.propose(*leader, {0, marker, "__liveness", "m" + std::to_string(marker)});
      marker_node = r ? *leader : raft::no_node;
    }
    w.step();
    c.step();
  }
  if (c.failed()) return;
  if (!observer.marker_applied) {
    std::ostringstream out;
    out << "liveness: no leader committed a new entry within " << s.liveness_timeouts
        << " election timeouts (" << bound / static_cast<uint64_t>(s.cluster.steps_per_tick)
        << " ticks) after healing; nodes:";
    for (node_id id : c.members()) {
      const raft::node* n = c.node(id);
      out << " " << id << "=";
      if (n == nullptr) {
        out << "down";
      } else {
        out << raft::role_name(n->current_role()) << "/t" << n->term() << "/last" << n->last_index()
            << "/commit" << n->commit_index() << "/voters";
        const std::vector<node_id>& voters = n->config().voters;
        for (size_t i = 0; i < voters.size(); ++i) out << (i ? "," : "") << voters[i];
      }
    }
    c.checks().fail(out.str());
    return;
  }
  report.liveness_ticks = (c.now() - start) / static_cast<uint64_t>(s.cluster.steps_per_tick);
}

}  // namespace

run_report run(const scenario& s, std::function<void(const std::string&)> log) {
  run_report report;
  report.seed = s.seed;
  report.nodes = s.nodes;
  try {
    cluster c(s.cluster, s.seed);
    c.set_log(std::move(log));
    workload w(c, s.workload, prng(s.seed).derive(stream_workload));
    run_observer observer(w);
    c.set_observer(&observer);
    fault_injector faults(s, c, prng(s.seed).derive(stream_faults));

    for (uint64_t i = 0; i < s.steps && !c.failed(); ++i) {
      faults.step();
      w.step();
      c.step();
    }
    if (!c.failed()) liveness_phase(s, c, w, observer, report);
    for (uint64_t i = 0; i < s.settle_steps && !c.failed(); ++i) {
      w.step();
      c.step();
    }
    w.finish();

    report.steps_run = c.now();
    report.trace_hash = c.trace_hash();
    report.leaders_elected = c.checks().leaders_elected();
    report.committed = c.checks().highest_committed();
    report.cluster = c.stats();
    report.workload = w.stats();
    report.network = c.network().stats();
    report.operations = w.history().size();
    if (c.failed()) {
      report.ok = false;
      report.failure = c.checks().violation();
      report.failure_step = c.checks().violation_step();
      return report;
    }
    check_result lin = check_linearizable(w.history(), 1'000'000);
    report.linearizable = lin.linearizable;
    report.lin_inconclusive = lin.inconclusive;
    if (!lin.linearizable) {
      report.ok = false;
      report.failure = "linearizability: " + lin.explanation;
      report.failure_step = c.now();
    }
  } catch (const std::exception& error) {
    report.ok = false;
    report.failure = std::string("exception: ") + error.what();
  }
  return report;
}

void run_totals::add(const run_report& r) {
  ++seeds;
  seed_steps += r.steps_run;
  violations += r.ok ? 0 : 1;
  if (r.ok && r.lin_inconclusive) {
    ++lin_inconclusive;
  } else if (r.ok) {
    ++lin_passed;
  }
  operations += r.operations;
  crashes += r.cluster.crashes;
  snapshots_installed += r.cluster.snapshots_installed;
  if (r.liveness_ticks) liveness_ticks.push_back(*r.liveness_ticks);
}

uint64_t run_totals::liveness_quantile(double q) const {
  if (liveness_ticks.empty()) return 0;
  std::vector<uint64_t> sorted = liveness_ticks;
  std::sort(sorted.begin(), sorted.end());
  auto at = static_cast<size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(at, sorted.size() - 1)];
}

std::string run_totals::summary() const {
  std::ostringstream out;
  out << "seeds " << seeds << ", seed-steps " << seed_steps << ", violations " << violations
      << ", linearizability passed " << lin_passed << " inconclusive " << lin_inconclusive
      << ", ops " << operations << ", crashes " << crashes << ", snapshots installed "
      << snapshots_installed << ", liveness ticks p50/p99/max " << liveness_quantile(0.5) << "/"
      << liveness_quantile(0.99) << "/" << liveness_quantile(1.0);
  return out.str();
}

}  // namespace sluice::sim
