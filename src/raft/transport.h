#pragma once

// transport: carries Raft batches (codec.h) between nodes over TCP, on one
// Asio io_context (one thread: every method runs on it).
//
// Connections. Each node dials every peer for the batches it sends and
// accepts the connections its peers dial for the batches it receives: one
// connection per direction. Then nothing needs settling when two nodes dial
// each other at once, only the dialer ever reconnects, and each socket has
// one writer and one reader. The price is two sockets per pair of nodes.
//
// Frames: [u32 length][u32 crc32c of the payload][payload], big-endian. The
// first frame on a connection is a hello naming the cluster, the sender and
// the receiver it meant; the acceptor closes a connection whose hello is
// wrong (another cluster, an unknown node, a misrouted address), whose frame
// is longer than max_frame_bytes or whose checksum fails. Such a connection
// is closed alone; the others carry on.
//
// Loss. Raft retries what is lost, so the transport drops rather than
// blocks: each peer has a bounded queue, and when a peer is unreachable or
// slower than the sender the oldest frames go first (a fresh heartbeat is
// worth more than a stale one) and are counted. A lost connection is redialed
// with exponential backoff; the backoff starts over once a connection has
// stayed up for max_backoff.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/shared_bytes.h"
#include "raft/types.h"

namespace boost::asio {
class io_context;
}

namespace sluice::raft {

struct peer_address {
  std::string host;  // a numeric address
  uint16_t port = 0;
};

struct transport_options {
  node_id self = no_node;
  // Both ends must agree, so that nodes of two clusters on one host never
  // exchange messages.
  uint64_t cluster_id = 0;
  std::map<node_id, peer_address> peers;  // without self
  peer_address listen{"127.0.0.1", 0};    // port 0: any free port
  size_t max_frame_bytes = 32 << 20;
  size_t max_queued_frames = 1024;  // per peer
  size_t max_queued_bytes = 64 << 20;
  std::chrono::milliseconds min_backoff{20};
  std::chrono::milliseconds max_backoff{2000};
  // An accepted connection that sends no hello within this is closed.
  std::chrono::milliseconds hello_timeout{5000};
};

struct peer_stats {
  bool connected = false;
  uint64_t connects = 0;        // connections established (hello sent)
  uint64_t frames_sent = 0;     // written to the socket
  uint64_t frames_dropped = 0;  // queue overflow, too large, or lost with a connection
  size_t frames_queued = 0;
};

struct inbound_stats {
  uint64_t accepted = 0;
  uint64_t frames_received = 0;
  // Connections closed for a bad hello, an oversized frame or a bad checksum.
  uint64_t refused = 0;
  std::string last_refusal;
};

class transport {
 public:
  // A batch from `from` (as its hello said), one frame's payload.
  using batch_handler = std::function<void(node_id from, base::shared_bytes batch)>;

  // Binds the listening socket and starts dialing the peers. `io` must
  // outlive the transport.
  static base::result<std::unique_ptr<transport>> start(boost::asio::io_context& io,
                                                        transport_options options,
                                                        batch_handler on_batch);
  ~transport();  // stop()s
  transport(const transport&) = delete;
  transport& operator=(const transport&) = delete;

  uint16_t port() const;

  // Queues one batch for `to`; it is sent when a connection is up. Batches
  // to an unknown peer, or once stopped, are dropped.
  void send(node_id to, std::vector<uint8_t> batch);

  peer_stats stats(node_id peer) const;
  inbound_stats inbound() const;

  // Closes every connection and the listening socket; no batch is delivered
  // afterwards. The coroutines finish on the io_context's next run.
  void stop();

 private:
  struct state;
  explicit transport(std::shared_ptr<state> s);
  std::shared_ptr<state> state_;
};

}  // namespace sluice::raft
