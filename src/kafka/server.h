#pragma once

// server: the Kafka API server of one broker. It owns the shards, the topics
// and one acceptor per listener, and hands each accepted connection to a
// shard in turn.
//
// Stopping is graceful: the acceptors close, every connection stops reading
// and finishes the requests it has, the shards stop, and the logs are flushed
// and closed with their clean-shutdown marker.

#include <memory>
#include <vector>

#include "base/result.h"
#include "cluster/broker_config.h"

namespace sluice::kafka {

class server {
 public:
  // Opens the data directory (recovering it), binds every listener and
  // starts serving. Fails with a message for the operator.
  static base::result<std::unique_ptr<server>> start(const cluster::broker_config& config,
                                                     unsigned shard_count);
  ~server();  // stop()s when still running
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // The listeners as bound (a port of 0 in the config is the real port here).
  const std::vector<cluster::endpoint>& listeners() const;

  // Stops as described above; fails only when the logs could not be closed
  // cleanly (the next start then recovers them).
  base::result<void> stop();

 private:
  struct state;
  explicit server(std::unique_ptr<state> s);
  std::unique_ptr<state> state_;
};

}  // namespace sluice::kafka
