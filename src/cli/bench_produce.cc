// sluice bench produce: the producer loop of a raw librdkafka program plus
// what a benchmark needs, at a cost per record of a few instructions: the
// clock is read once per block of records (its reading is every record's
// send time, in the message opaque) and once per poll that serves delivery
// reports; rd_kafka_poll runs once per block, not per record.

#include <time.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "cli/bench_modes.h"
#include "cli/bench_support.h"
#include "client/rdkafka.h"

namespace sluice::cli::bench {
namespace {

// Records produced between two clock readings and two polls: at a few
// hundred ns a record, a send time is at most tens of µs early, far below
// the milliseconds a batch waits for linger.ms and the broker.
constexpr int64_t block_records = 64;

// One producer thread's share of the run.
struct plan {
  int32_t partitions = 1;
  int32_t first_partition = 0;
  int64_t quota = 0;   // records; 0: until end_ns
  int64_t end_ns = 0;  // 0: until quota
  double rate = 0;     // records/s of this thread; 0: unthrottled
  int64_t start_ns = 0;
  int64_t drain_ns = 0;  // how long to wait for the last delivery reports
  const char* payload = nullptr;
  size_t size = 0;
};

// A producer handle and its thread's counts. Delivery reports run in
// rd_kafka_poll, on the thread that calls run(), so nothing here is shared.
class producer {
 public:
  explicit producer(progress_board& board) : meter_(board) {}

  base::result<void> open(const client::connection_settings& settings,
                          const client::property_list& defaults) {
    auto conf = client::make_conf(settings, defaults);
    if (!conf) return base::unexpected(conf.error());
    rd_kafka_conf_set_dr_msg_cb(conf->get(), on_delivery);
    rd_kafka_conf_set_opaque(conf->get(), this);
    auto handle = client::make_handle(RD_KAFKA_PRODUCER, std::move(*conf));
    if (!handle) return base::unexpected(handle.error());
    rk_ = std::move(*handle);
    return {};
  }
  rd_kafka_t* handle() const { return rk_.get(); }
  void use_topic(const std::string& topic) {
    rkt_.reset(rd_kafka_topic_new(rk_.get(), topic.c_str(), nullptr));
  }

  void run(const plan& p);

  int64_t produced() const { return produced_; }
  uint64_t delivered() const { return meter_.records(); }
  uint64_t delivered_bytes() const { return meter_.bytes(); }
  uint64_t failed() const { return failed_; }
  rd_kafka_resp_err_t first_failure() const { return first_failure_; }
  rd_kafka_resp_err_t produce_error() const { return produce_error_; }
  int64_t last_delivery_ns() const { return last_delivery_ns_; }
  const latency_histogram& latencies() const { return meter_.latencies(); }

 private:
  static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    static_cast<producer*>(opaque)->take_report(m);
  }
  void take_report(const rd_kafka_message_t* m) {
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (failed_++ == 0) first_failure_ = m->err;
      return;
    }
    if (poll_now_ == 0) poll_now_ = now_ns();
    meter_.count(m->len);
    meter_.latency(poll_now_ - reinterpret_cast<intptr_t>(m->_private));
    last_delivery_ns_ = poll_now_;
  }
  // `now`: a clock reading taken just before, when the poll cannot wait; 0
  // has the first delivery report read the clock.
  void poll(int timeout_ms, int64_t now) {
    poll_now_ = now;
    rd_kafka_poll(rk_.get(), timeout_ms);
  }
  bool send(const plan& p, int32_t partition, int64_t& now);
  void wait_until(int64_t due_ns, int64_t now);
  void drain(int64_t deadline_ns);

  client::handle rk_;
  client::topic rkt_;
  meter meter_;
  int64_t poll_now_ = 0;
  int64_t produced_ = 0;
  uint64_t failed_ = 0;
  rd_kafka_resp_err_t first_failure_ = RD_KAFKA_RESP_ERR_NO_ERROR;
  rd_kafka_resp_err_t produce_error_ = RD_KAFKA_RESP_ERR_NO_ERROR;
  int64_t last_delivery_ns_ = 0;
};

// Produces one record stamped with `now`; while the local queue is full,
// serves delivery reports and takes a new reading. False on a hard error.
bool producer::send(const plan& p, int32_t partition, int64_t& now) {
  for (;;) {
    // msgflags 0: librdkafka neither copies nor frees the shared payload.
    if (rd_kafka_produce(rkt_.get(), partition, 0, const_cast<char*>(p.payload), p.size, nullptr, 0,
                         reinterpret_cast<void*>(static_cast<intptr_t>(now))) == 0) {
      return true;
    }
    rd_kafka_resp_err_t error = rd_kafka_last_error();
    if (error != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      produce_error_ = error;
      return false;
    }
    poll(1, 0);
    now = now_ns();
    meter_.tick(now);
  }
}

// Sleeps until a throttled run's next record is due, serving delivery
// reports meanwhile when there is a millisecond to spare.
void producer::wait_until(int64_t due_ns, int64_t now) {
  int64_t wait = due_ns - now;
  if (wait >= 1'000'000) {
    poll(static_cast<int>(wait / 1'000'000), 0);
  } else if (wait > 0) {
    timespec ts{0, static_cast<long>(wait)};
    ::nanosleep(&ts, nullptr);
  }
}

void producer::drain(int64_t deadline_ns) {
  int64_t now = now_ns();
  while (rd_kafka_outq_len(rk_.get()) > 0 && now < deadline_ns) {
    poll(10, 0);
    now = now_ns();
    meter_.tick(now);
  }
}

void producer::run(const plan& p) {
  int64_t now = p.start_ns;
  int32_t partition = p.first_partition;
  bool ok = true;
  while (ok && (p.quota == 0 || produced_ < p.quota) && (p.end_ns == 0 || now < p.end_ns)) {
    int64_t n = block_records;
    if (p.quota > 0) n = std::min(n, p.quota - produced_);
    if (p.rate > 0) {
      // Record k (from 0) is due k / rate seconds after the start.
      auto due = static_cast<int64_t>(double(now - p.start_ns) * p.rate / 1e9) + 1;
      if (due <= produced_) {
        wait_until(p.start_ns + static_cast<int64_t>(double(produced_) * 1e9 / p.rate), now);
        now = now_ns();
        meter_.tick(now);
        continue;
      }
      n = std::min(n, due - produced_);
    }
    for (int64_t i = 0; i < n && ok; ++i) {
      ok = send(p, partition, now);
      if (ok) ++produced_;
      if (++partition == p.partitions) partition = 0;
    }
    now = now_ns();
    poll(0, now);
    meter_.tick(now);
  }
  drain(now_ns() + p.drain_ns);
  meter_.report(now_ns());
}

// Splits `total` records as evenly as possible: worker i of n gets this many.
int64_t share(int64_t total, int i, int n) { return total / n + (i < total % n ? 1 : 0); }

document summary(const produce_options& o, int32_t partitions,
                 const std::vector<std::unique_ptr<producer>>& producers, int64_t start_ns,
                 int64_t cpu_ns) {
  int64_t produced = 0;
  uint64_t delivered = 0;
  uint64_t bytes = 0;
  uint64_t failed = 0;
  int64_t end_ns = start_ns;
  latency_histogram latencies;
  rd_kafka_resp_err_t first_failure = RD_KAFKA_RESP_ERR_NO_ERROR;
  for (const auto& p : producers) {
    produced += p->produced();
    delivered += p->delivered();
    bytes += p->delivered_bytes();
    failed += p->failed();
    end_ns = std::max(end_ns, p->last_delivery_ns());
    latencies.merge(p->latencies());
    if (first_failure == RD_KAFKA_RESP_ERR_NO_ERROR) first_failure = p->first_failure();
  }
  if (end_ns == start_ns) end_ns = now_ns();
  double seconds = double(end_ns - start_ns) / 1e9;
  document doc = {
      {"mode", "produce"},
      {"label", o.label},
      {"topic", o.topic},
      {"size", o.size},
      {"partitions", partitions},
      {"producers", o.producers},
      {"acks", o.acks},
      {"compression", o.compression},
      {"linger_ms", o.linger_ms},
      {"batch_size", o.batch_size},
      {"rate", o.rate},
      {"records", produced},
      {"delivered", delivered},
      {"failed", failed},
      {"seconds", round_to(seconds, 6)},
      {"records_per_s", round_to(double(delivered) / seconds, 0)},
      {"mb_per_s", round_to(double(bytes) / seconds / 1e6, 3)},
      {"client_cpu_ns_per_record",
       delivered > 0 ? round_to(double(cpu_ns) / double(delivered), 1) : 0.0},
  };
  add_latency_fields(doc, latencies);
  doc["first_error"] = failed > 0 ? document(client::describe(first_failure)) : document(nullptr);
  return doc;
}

base::result<void> outcome(const document& doc,
                           const std::vector<std::unique_ptr<producer>>& producers) {
  for (const auto& p : producers) {
    if (p->produce_error() != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return base::fail("produce: " + client::describe(p->produce_error()));
    }
  }
  auto produced = doc["records"].get<int64_t>();
  auto delivered = doc["delivered"].get<int64_t>();
  auto failed = doc["failed"].get<int64_t>();
  if (failed > 0) {
    return base::fail(std::to_string(failed) + " of " + std::to_string(produced) +
                      " records failed, the first with " + doc["first_error"].get<std::string>());
  }
  if (delivered < produced) {
    return base::fail(std::to_string(produced - delivered) +
                      " records got no delivery report within --timeout");
  }
  return {};
}

// Opens o.producers handles into `producers`. The first creates the topic;
// each then waits for its metadata, which connects it before the clock
// starts. Returns the number of partitions to produce to.
base::result<int32_t> open_producers(const produce_options& o,
                                     const client::connection_settings& settings,
                                     std::chrono::milliseconds timeout, progress_board& board,
                                     std::vector<std::unique_ptr<producer>>& producers) {
  const auto defaults =
      producer_defaults(o.acks, o.linger_ms, o.batch_size, o.compression, timeout);
  int32_t partitions = o.partitions;
  for (int i = 0; i < o.producers; ++i) {
    producers.push_back(std::make_unique<producer>(board));
    auto opened = producers.back()->open(settings, defaults);
    if (!opened) return base::unexpected(opened.error());
    auto ready =
        prepare_topic(producers.back()->handle(), o.topic, partitions, o.create && i == 0, timeout);
    if (!ready) return base::unexpected(ready.error());
    partitions = *ready;
    producers.back()->use_topic(o.topic);
  }
  return partitions;
}

// Runs each producer on a thread of its own, all from `start`, with a
// progress line each second; returns when all are done.
void run_producers(const produce_options& o, int32_t partitions, int64_t records,
                   const std::vector<char>& payload, int64_t start,
                   std::chrono::milliseconds timeout,
                   const std::vector<std::unique_ptr<producer>>& producers, progress_board& board) {
  progress_printer printer("produce", board);
  std::vector<std::jthread> threads;
  for (int i = 0; i < o.producers; ++i) {
    plan p;
    p.partitions = partitions;
    p.first_partition = i % partitions;
    p.quota = share(records, i, o.producers);
    p.end_ns = o.duration_s > 0 ? start + static_cast<int64_t>(o.duration_s * 1e9) : 0;
    p.rate = double(o.rate) / o.producers;
    p.start_ns = start;
    p.drain_ns = timeout.count() * 1'000'000;
    p.payload = payload.data();
    p.size = payload.size();
    // A thread whose share is 0 records of a count-bounded run has nothing to do.
    if (records > 0 && p.quota == 0) continue;
    threads.emplace_back([&worker = *producers[i], p] { worker.run(p); });
  }
}

}  // namespace

base::result<void> run_produce(const produce_options& o, const invocation& inv) {
  auto settings = inv.connection();
  if (!settings) return base::unexpected(settings.error());
  auto reachable =
      client::check_reachable(*settings, std::min(inv.timeout(), std::chrono::milliseconds(5000)));
  if (!reachable) return base::unexpected(reachable.error());
  progress_board board;
  std::vector<std::unique_ptr<producer>> producers;
  auto partitions = open_producers(o, *settings, inv.timeout(), board, producers);
  if (!partitions) return base::unexpected(partitions.error());

  std::vector<char> payload(static_cast<size_t>(o.size));
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i % 26);
  const int64_t records = o.records == 0 && o.duration_s == 0 ? 1'000'000 : o.records;
  const int64_t cpu_start = process_cpu_ns();
  const int64_t start = now_ns();
  run_producers(o, *partitions, records, payload, start, inv.timeout(), producers, board);
  const int64_t cpu_ns = process_cpu_ns() - cpu_start;

  document doc = summary(o, *partitions, producers, start, cpu_ns);
  print(doc, inv.format());
  return outcome(doc, producers);
}

}  // namespace sluice::cli::bench
