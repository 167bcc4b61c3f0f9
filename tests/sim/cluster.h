#pragma once

// cluster: Raft nodes of one group in one process, each behind a simulated
// host, wired by a simulated network, all driven by one seed.
//
// Each node's host follows node.h's contract for every ready, in its order:
// install the snapshot (disk and state machine), save the hard state, send
// the messages, write the entries (durable only when a later sync, after a
// random latency, covers them; then on_persisted), apply what is committed
// to the kv_machine and answer reads once the applied index reaches them.
// Every so many applied entries the host snapshots its state machine,
// compacts its disk and tells the node.
//
// Time is a step counter. A step delivers the messages due, completes the
// syncs due, ticks the nodes whose tick falls on it (every steps_per_tick
// steps, each node with its own phase) and then checks the invariants. The
// host checks its side of the contract too (a gap in the applied entries, a
// write that would leave a hole in the log, a node whose configuration is
// not the last one in its log) and reports a breach as a violation.
//
// Faults are methods (crash, restart, pause, the network's cuts); the
// scenario decides when to call them, tests call them directly.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "raft/node.h"
#include "sim/invariants.h"
#include "sim/kv_machine.h"
#include "sim/random.h"
#include "sim/sim_disk.h"
#include "sim/sim_network.h"

namespace sluice::sim {

using raft::node_id;

struct cluster_options {
  int nodes = 3;
  // Per-node options; id and group are set by the cluster.
  raft::node_options node;
  int steps_per_tick = 4;
  network_options network;
  // A sync completes this many steps after it starts, uniform.
  int min_sync_steps = 0;
  int max_sync_steps = 3;
  double torn_probability = 0.3;
  // Applied entries between two snapshots of a node's state machine; 0: none.
  int snapshot_every = 0;
  // Probability that a host takes a node's ready right after each input
  // rather than once after all inputs of a phase (both are allowed).
  double eager_ready = 0.5;
  // More messages than this in flight is a failure: a message loop that
  // duplication grows without bound (and that would stall the simulator).
  size_t max_in_flight = 20'000;
};

// What the workload hears from the hosts.
class cluster_observer {
 public:
  virtual ~cluster_observer() = default;
  virtual void on_applied(node_id node, const raft::entry& e,
                          const std::optional<kv_command>& command) = 0;
  // A read-index answer: ok when the read can be served now from the node's
  // kv_machine, false when the node refused it (index -1).
  virtual void on_read(node_id node, uint64_t request, bool ok) = 0;
  // The node crashed or left: the answers it owed will not come.
  virtual void on_down(node_id node) = 0;
  // The node's state machine jumped to a snapshot at `index`.
  virtual void on_snapshot_installed(node_id node, raft::index_t index) = 0;
};

struct cluster_stats {
  uint64_t crashes = 0;
  uint64_t torn_writes = 0;
  uint64_t entries_lost = 0;  // unsynced entries lost in crashes
  uint64_t snapshots_taken = 0;
  uint64_t snapshots_installed = 0;
  uint64_t entries_applied = 0;
  uint64_t syncs = 0;
};

class cluster {
 public:
  cluster(cluster_options options, uint64_t seed);
  ~cluster();
  cluster(const cluster&) = delete;
  cluster& operator=(const cluster&) = delete;

  void set_observer(cluster_observer* observer) { observer_ = observer; }
  // Where to write a line per event (deliveries, readies, faults), for
  // replaying a failing seed by hand; unset (the default), nothing is built.
  void set_log(std::function<void(const std::string&)> log) { log_ = std::move(log); }
  bool logging() const { return static_cast<bool>(log_); }
  // Writes `line`, stamped with the step, to the log if there is one.
  void log(const std::string& line);

  // --- Time ---
  void step();
  // Steps until `done` is true (checked before each step), at most
  // `max_steps`, stopping at a violation. True if `done` became true.
  template <typename F>
  bool run_until(F done, uint64_t max_steps) {
    for (uint64_t i = 0; i < max_steps && !failed(); ++i) {
      if (done()) return true;
      step();
    }
    return !failed() && done();
  }
  uint64_t now() const { return now_; }

  // --- Members ---
  // Every node that has a disk and is not decommissioned, in id order.
  std::vector<node_id> members() const;
  bool is_up(node_id id) const;
  // Up and not paused: can take requests now.
  bool available(node_id id) const;
  // The running node, or null.
  raft::node* node(node_id id);
  const raft::node* node(node_id id) const;
  const kv_machine& kv(node_id id) const;
  const sim_disk& disk(node_id id) const;
  // The running leader of the highest term, if any.
  std::optional<node_id> leader() const;

  // --- Requests (each takes the node's ready afterwards) ---
  base::result<raft::index_t, raft::refusal> propose(node_id id, const kv_command& command,
                                                     int32_t count = 1);
  base::result<void, raft::refusal> read_index(node_id id, uint64_t request);
  base::result<void, raft::refusal> transfer_leadership(node_id id, node_id target);
  base::result<raft::index_t, raft::refusal> change_configuration(node_id id,
                                                                  raft::config_change change);
  // A new node with an empty disk and configuration, running: a learner to be.
  node_id add_node();
  // Stops a node for good (it was removed from the configuration).
  void decommission(node_id id);

  // --- Faults ---
  void crash(node_id id);
  void restart(node_id id);
  // The node's process stops for `steps`: no ticks, messages and disk
  // completions wait (a long GC pause, a stopped VM).
  void pause(node_id id, uint64_t steps);
  sim_network& network() { return network_; }
  const sim_network& network() const { return network_; }

  // --- Checks and reports ---
  bool failed() const { return checks_.failed(); }
  invariants& checks() { return checks_; }
  const invariants& checks() const { return checks_; }
  const cluster_stats& stats() const { return stats_; }
  // A digest of everything that happened; equal for equal seeds.
  uint64_t trace_hash() const { return trace_; }

 private:
  struct host;

  void trace(uint64_t value) { trace_ = hash_mix(trace_, value); }
  // A new node with a fresh disk whose snapshot holds `initial`, started.
  host& add_host(const raft::configuration& initial);
  host& at(node_id id);
  const host& at(node_id id) const;
  void start(host& h);
  // Takes and carries out the node's readies until it has none.
  void drain(host& h);
  void handle(host& h, raft::ready& r);
  void install(host& h, const raft::snapshot& snap);
  void write(host& h, const std::vector<raft::entry>& entries);
  void apply(host& h, const raft::entry& e);
  void serve_reads(host& h);
  void maybe_snapshot(host& h);
  void maybe_start_sync(host& h);
  void deliver_messages();
  void complete_syncs();
  void tick_nodes();
  void check_step();
  void host_fail(const host& h, const std::string& what);

  cluster_options options_;
  uint64_t seed_;
  prng random_;
  sim_network network_;
  invariants checks_;
  std::map<node_id, std::unique_ptr<host>> hosts_;
  node_id next_id_ = 1;
  uint64_t now_ = 0;
  uint64_t trace_ = 0;
  cluster_stats stats_;
  cluster_observer* observer_ = nullptr;
  std::function<void(const std::string&)> log_;
};

// One line for a message, for logs.
std::string describe(const raft::message& m);

}  // namespace sluice::sim
