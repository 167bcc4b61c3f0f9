#pragma once

// driver: the real host of Raft nodes. It runs any number of groups of one
// node (multi-raft) on one Asio io_context and carries out node.h's host
// contract for each: it ticks them, steps them with the messages the
// transport delivers, takes their readies, writes their storage_logs, sends
// their messages and applies what they commit.
//
// Batching. Inputs (a tick, a batch from a peer, proposals) mark their groups
// and one pass over the marked groups runs after the burst: every message
// one node sends another in a pass, for all groups, goes out as one batch
// (codec.h), so a tick's heartbeats between two brokers cost one frame.
//
// Group commit. Appends are written on the loop thread (into the page
// cache) and made durable by one sync thread: after a pass, each log with
// unsynced appends gets one storage_log::sync() covering every ready taken so
// far, and on_persisted() follows on the loop thread. While a log's sync
// runs, new entries wait in memory and are written together when it returns,
// so the next sync covers all of them: the fsync rate stays that of the disk
// while commits per fsync grow with the load. Messages never wait for a sync
// (a leader sends entries before they are on its own disk; followers count
// only their own durable entries, as the core requires).
//
// The sync thread runs storage_log::sync() while the loop thread reads the
// same log (log_store's const methods) but never writes it: a ready that
// carries a hard state or a snapshot waits, whole, for that log's sync to
// return. Saving a hard state and installing a snapshot are done inline (each
// fsyncs, on elections and catch-up only).
//
// Proposals complete when their entry is applied, or fail when it is lost
// (a different entry was committed at its index, after a change of leader),
// on a timeout or a snapshot over their index (the outcome is then unknown:
// it may be committed), or when the driver stops. A storage error stops the group for good
// (fail-stop, as Kafka takes a log directory offline) and is reported through on_fatal.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/shared_bytes.h"
#include "raft/node.h"
#include "raft/storage_log.h"

namespace boost::asio {
class io_context;
}

namespace sluice::raft {

struct driver_options {
  node_id self = no_node;
  std::chrono::milliseconds tick{10};
  std::chrono::milliseconds proposal_timeout{10'000};
  // One batch to a peer is split past this many bytes of entry data (it
  // must stay below the transport's max_frame_bytes).
  size_t max_batch_bytes = 8 << 20;
  // A group's storage failed; it has stopped.
  std::function<void(group_id, const std::string&)> on_fatal;
};

// What a group's state machine does with the log.
struct state_machine {
  // Every committed entry, in order, once (data and Raft's own entries).
  std::function<void(const entry&)> apply;
  // A snapshot from the leader replaced the state up to its index.
  std::function<void(const snapshot&)> restore;
};

struct proposal_error {
  enum class kind : uint8_t {
    refused,  // see `why` (not_leader: try `leader`)
    lost,     // another entry was committed at its index
    unknown,  // timed out, or a snapshot replaced the log there: it may be committed
    stopped,  // the driver or the group stopped; outcome unknown
  };
  kind what = kind::refused;
  refusal why = refusal::not_leader;
  node_id leader = no_node;

  std::string describe() const;
};

using proposal_callback = std::function<void(base::result<index_t, proposal_error>)>;

struct driver_stats {
  uint64_t passes = 0;   // passes over marked groups
  uint64_t readies = 0;  // readies taken
  uint64_t syncs = 0;    // storage_log::sync() calls
  uint64_t messages_sent = 0;
  uint64_t batches_sent = 0;  // fewer than messages: one per peer and pass
  uint64_t batches_received = 0;
  uint64_t batches_refused = 0;   // undecodable, or naming the wrong nodes
  uint64_t messages_dropped = 0;  // for a group this node does not run
};

class driver {
 public:
  // Sends one encoded batch to a peer (transport::send).
  using send_function = std::function<void(node_id to, std::vector<uint8_t> batch)>;

  // `io` must outlive the driver; everything below runs on its thread.
  driver(boost::asio::io_context& io, driver_options options, send_function send);
  ~driver();  // stop()s
  driver(const driver&) = delete;
  driver& operator=(const driver&) = delete;

  // Adds a group whose node starts from what `log` holds (options.id is set
  // to the driver's self).
  base::result<void> add_group(node_options options, std::unique_ptr<storage_log> log,
                               state_machine machine);
  // Starts ticking.
  void start();

  // A batch from `from` (transport's batch_handler).
  void receive(node_id from, base::shared_bytes batch);

  // Proposes an entry of `count` records; `done` runs later on the loop
  // thread, never inside this call.
  void propose(group_id group, base::shared_bytes data, int32_t count, proposal_callback done);

  // The group's node, for its state; nullptr for an unknown group.
  const node* find(group_id group) const;
  driver_stats stats() const;

  // Stops ticking, waits for the sync thread and fails pending proposals
  // with `stopped`. Nothing runs afterwards.
  void stop();

 private:
  struct state;
  std::shared_ptr<state> state_;
};

}  // namespace sluice::raft
