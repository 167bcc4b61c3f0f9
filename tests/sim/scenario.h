#pragma once

// scenario: one randomised simulation run, wholly determined by (seed, node
// count, step count).
//
// The seed draws the run's parameters (timing, network quality, disk
// latency, fault rates, workload shape) and then drives everything that
// happens. A run has three phases:
//   1. faults: for `steps` steps the clients work while, at the drawn rates,
//      nodes crash and restart, pause, the network partitions (both ways,
//      one way, around the leader) and heals, leadership moves and, in some
//      runs, members are added, promoted and removed;
//   2. liveness: everything heals, every node runs again (in some runs after
//      a crash of all of them), and the run measures the ticks until a leader
//      is elected and commits a new entry; more than `liveness_timeouts`
//      election timeouts is a failure;
//   3. settle: a few more steps for the clients, then the history is checked
//      for linearizability (an inconclusive check is counted, not failed).
// Safety invariants are checked after every step. A failure names the seed,
// the parameters and the command that replays it.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "sim/cluster.h"
#include "sim/linearizability.h"
#include "sim/workload.h"

namespace sluice::sim {

struct scenario {
  uint64_t seed = 0;
  int nodes = 3;
  uint64_t steps = 5000;

  cluster_options cluster;
  workload_options workload;

  // Per-step probabilities of the faults.
  double crash = 0;
  double restart = 0;
  double pause = 0;
  double partition = 0;
  double heal = 0;
  double transfer = 0;
  double membership = 0;  // 0: the configuration never changes
  // Whether a crash may leave fewer than a majority of voters up.
  bool allow_majority_loss = false;
  bool full_restart = false;  // at the start of the liveness phase
  int liveness_timeouts = 20;
  uint64_t settle_steps = 100;

  // Draws the parameters from the seed.
  static scenario generate(uint64_t seed, int nodes, uint64_t steps);
  // One line per group of parameters.
  std::string describe() const;
  std::string replay_command() const;
};

struct run_report {
  uint64_t seed = 0;
  int nodes = 0;
  bool ok = true;
  std::string failure;  // with the step it happened at
  uint64_t failure_step = 0;
  uint64_t steps_run = 0;
  uint64_t trace_hash = 0;

  bool linearizable = true;
  bool lin_inconclusive = false;
  size_t operations = 0;
  std::optional<uint64_t> liveness_ticks;

  size_t leaders_elected = 0;
  raft::index_t committed = 0;
  cluster_stats cluster;
  workload_stats workload;
  network_stats network;

  // The failure with the seed, parameters and replay command.
  std::string failure_report(const scenario& s) const;
  std::string summary() const;
};

// `log`, if set, receives a line per event (see cluster::set_log).
run_report run(const scenario& s, std::function<void(const std::string&)> log = {});

// Totals over many runs, for the CI budget and soak runs.
struct run_totals {
  uint64_t seeds = 0;
  uint64_t seed_steps = 0;
  uint64_t violations = 0;
  uint64_t lin_passed = 0;
  uint64_t lin_inconclusive = 0;
  uint64_t operations = 0;
  uint64_t crashes = 0;
  uint64_t snapshots_installed = 0;
  std::vector<uint64_t> liveness_ticks;

  void add(const run_report& r);
  // The liveness tick count at quantile q in [0, 1] (0 when none).
  uint64_t liveness_quantile(double q) const;
  std::string summary() const;
};

}  // namespace sluice::sim
