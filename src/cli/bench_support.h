#pragma once

// What the `sluice bench` modes share: clocks, the topic a run uses, and the
// progress line printed each second. The hot loops only count into
// thread-local meters; a meter hands its counts to the board a few times a
// second and a printer thread reads the board, so reporting costs the loops
// nothing per record.

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <vector>

#include "base/result.h"
#include "cli/latency_histogram.h"
#include "cli/output.h"
#include "client/rdkafka.h"

namespace sluice::cli::bench {

// CLOCK_MONOTONIC in ns.
int64_t now_ns();
// User + system CPU of this process so far, in ns.
int64_t process_cpu_ns();

// The producer settings of every bench mode (the user's -X come after them).
// The delivery timeout is `timeout`.
client::property_list producer_defaults(const std::string& acks, int linger_ms, int64_t batch_size,
                                        const std::string& compression,
                                        std::chrono::milliseconds timeout);

// The consumer settings of every bench mode. Without a group, the consumer
// only assigns partitions (librdkafka still wants a group.id) and commits
// nothing; with one, it subscribes and commits as any consumer would.
client::property_list consumer_defaults(int fetch_wait_max_ms, const std::string& group);

// Assigns partitions 0..offsets.size()-1 of `topic`, each at its offset.
base::result<void> assign(rd_kafka_t* rk, const std::string& topic,
                          const std::vector<int64_t>& offsets);

// The watermarks of partitions 0..partitions-1.
base::result<std::vector<client::watermarks>> partition_watermarks(
    rd_kafka_t* rk, const std::string& topic, int32_t partitions,
    std::chrono::milliseconds timeout);

// The partitions a run uses: `wanted`, or when 0 every partition the topic
// has (1 if this creates it). With `create`, a missing topic is created with
// CreateTopics first; an existing one with fewer than `wanted` partitions is
// an error. Returns once the metadata `rk` sees names a leader for each of
// them, so that the handle is connected before a run's clock starts.
base::result<int32_t> prepare_topic(rd_kafka_t* rk, const std::string& topic, int32_t wanted,
                                    bool create, std::chrono::milliseconds timeout);

// What the workers of a run have done since the printer last looked.
class progress_board {
 public:
  void add(uint64_t records, uint64_t bytes, const latency_histogram& latencies);
  // Moves what was added since the last call into the arguments.
  void take(uint64_t& records, uint64_t& bytes, latency_histogram& latencies);

 private:
  std::mutex mu_;
  uint64_t records_ = 0;
  uint64_t bytes_ = 0;
  latency_histogram latencies_;
};

// One worker thread's counts. count() and latency() are the per-record
// path; tick() reports to the board at most every 100 ms and is meant to be
// called with a clock reading the worker took anyway.
class meter {
 public:
  explicit meter(progress_board& board) : board_(board) {}

  void count(uint64_t bytes) {
    ++records_;
    bytes_ += bytes;
  }
  void latency(int64_t ns) { recent_.record(ns); }
  void tick(int64_t now) {
    if (now >= next_report_ns_) report(now);
  }
  // Reports what is left; call once the worker is done.
  void report(int64_t now);

  uint64_t records() const { return records_; }
  uint64_t bytes() const { return bytes_; }
  // Every latency reported so far.
  const latency_histogram& latencies() const { return all_; }

 private:
  progress_board& board_;
  uint64_t records_ = 0;
  uint64_t bytes_ = 0;
  uint64_t reported_records_ = 0;
  uint64_t reported_bytes_ = 0;
  int64_t next_report_ns_ = 0;
  latency_histogram recent_;
  latency_histogram all_;
};

// Prints one line a second on stderr while it lives: "produce 3 s: 1200000
// records, 412000 records/s, 41.2 MB/s, p99 8.100 ms" (the rates and the p99
// of the last second; the p99 only when latencies were reported).
class progress_printer {
 public:
  progress_printer(std::string mode, progress_board& board);
  ~progress_printer();
  progress_printer(const progress_printer&) = delete;
  progress_printer& operator=(const progress_printer&) = delete;

 private:
  void run();

  std::string mode_;
  progress_board& board_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

// x rounded to `decimals` decimal places, so that summaries do not show
// digits the measurement does not have.
double round_to(double x, int decimals);

// p50_ms, p95_ms, p99_ms, p999_ms, max_ms, mean_ms of `h` into `doc`.
void add_latency_fields(document& doc, const latency_histogram& h);

}  // namespace sluice::cli::bench
