#pragma once

// The three `sluice bench` modes, each a blocking run that prints progress
// on stderr and its summary document on stdout. The client settings are the
// defaults below, then the user's -X properties (which win).

#include <cstdint>
#include <string>

#include "base/result.h"
#include "cli/invocation.h"

namespace sluice::cli::bench {

// What every mode reports and how it finds its topic.
struct run_options {
  std::string topic;
  std::string label;       // echoed in the summary, to tell runs apart
  int32_t partitions = 0;  // 0: every partition of the topic
  int64_t records = 0;     // 0: see the mode
  double duration_s = 0;   // 0: not bounded by time
};

struct produce_options : run_options {
  int64_t size = 100;
  int64_t rate = 0;  // records/s over all producers; 0: as fast as possible
  std::string acks = "1";
  std::string compression = "none";
  int producers = 1;
  int linger_ms = 5;
  int64_t batch_size = 1'000'000;
  bool create = true;
};

struct consume_options : run_options {
  std::string group;  // empty: assign the partitions, no group
  bool rewind = false;
  int fetch_wait_max_ms = 1;
};

struct latency_options : run_options {
  int64_t size = 100;
  int64_t rate = 50'000;
  double warmup_s = 1;
  std::string acks = "1";
  std::string compression = "none";
  int linger_ms = 0;
  int fetch_wait_max_ms = 100;
  bool create = true;
};

// N records (default 1,000,000) or S seconds of records of `size` bytes,
// round-robin over the partitions, from `producers` threads with a producer
// handle each; latency is from the produce call to the delivery report.
// Fails if a delivery failed or some report never came.
base::result<void> run_produce(const produce_options& o, const invocation& inv);

// Reads from the first offset of each partition: N records (default: those
// the partitions hold at the start) or for S seconds; with `rewind`, a
// partition is read again from its first offset after its last record, so N
// may exceed what the topic holds. With a group, subscribes instead and
// times from the group's first assignment.
base::result<void> run_consume(const consume_options& o, const invocation& inv);

// Produces `rate` records/s for S seconds, each carrying its intended send
// time, and a consumer in the same process measures intended send ->
// consumed for every record after the warmup.
base::result<void> run_latency(const latency_options& o, const invocation& inv);

}  // namespace sluice::cli::bench
