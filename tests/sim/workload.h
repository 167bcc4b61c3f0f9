#pragma once

// workload: clients of the replicated kv store, recording a history for the
// linearizability checker.
//
// Each client runs one operation at a time on a small key space, with values
// unique across the run (so the checker can tell writes apart):
// - put: proposed on the node the client believes leads; a refusal is
//   retried there or at the node it names (nothing happened, so the same
//   operation is retried). Once accepted, the put completes when that node
//   applies it. If the node applies another entry at that index, installs a
//   snapshot over it, crashes, or the operation times out, the outcome is
//   unknown: recorded with no completion, and the client moves on.
// - get: a read-index round on the believed leader, answered from the
//   node's state machine once its applied index reaches the read's index. A
//   failed or timed-out get tells nothing and is dropped.
//
// The history is checked with check_linearizable at the end of a run.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sim/cluster.h"
#include "sim/linearizability.h"
#include "sim/random.h"

namespace sluice::sim {

struct workload_options {
  int clients = 3;
  int keys = 5;
  double put_ratio = 0.5;
  // Steps an operation may take before the client gives up on it.
  uint64_t op_timeout = 200;
  // Steps a client waits between operations, uniform in [0, think].
  int think = 5;
  // Entries span 1..max_count indexes.
  int max_count = 3;
};

struct workload_stats {
  uint64_t puts_ok = 0;
  uint64_t puts_unknown = 0;
  uint64_t gets_ok = 0;
  uint64_t gets_failed = 0;
  uint64_t refusals = 0;
};

class workload final : public cluster_observer {
 public:
  workload(cluster& c, workload_options options, prng random);

  // Lets every idle client start or retry its operation; call once a step.
  void step();
  // Ends the run: operations still open become unknown (puts) or vanish
  // (gets).
  void finish();

  const std::vector<kv_operation>& history() const { return history_; }
  const workload_stats& stats() const { return stats_; }

  // --- cluster_observer ---
  void on_applied(node_id node, const raft::entry& e,
                  const std::optional<kv_command>& command) override;
  void on_read(node_id node, uint64_t request, bool ok) override;
  void on_down(node_id node) override;
  void on_snapshot_installed(node_id node, raft::index_t index) override;

 private:
  struct client {
    int id = 0;
    node_id target = raft::no_node;
    uint64_t next_op = 1;
    uint64_t idle_until = 0;
    // The operation in progress, if any.
    std::optional<kv_operation> op;
    uint64_t op_id = 0;
    bool sent = false;  // accepted by `node`, now waiting for its answer
    node_id node = raft::no_node;
    raft::index_t index = 0;  // a put's entry index once accepted
  };

  void start_op(client& c);
  void attempt(client& c);
  void redirect(client& c, raft::refusal why);
  // The put's outcome is unknown (or the get is void): record and move on.
  void abandon(client& c);
  void complete(client& c, std::optional<std::string> value);
  node_id random_member();
  client* by_request(uint64_t request);

  cluster& cluster_;
  workload_options options_;
  prng random_;
  std::vector<client> clients_;
  std::vector<kv_operation> history_;
  workload_stats stats_;
};

}  // namespace sluice::sim
