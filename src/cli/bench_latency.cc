// sluice bench latency: end-to-end latency at a fixed rate. Each record
// carries the time it was meant to be sent (CLOCK_MONOTONIC), its sequence
// number and a tag of this run; a consumer in the same process puts
// "consumed - intended send" of every record after the warmup into the
// histogram. The intended rather than the actual send time keeps a stalled
// producer from hiding latency (no coordinated omission).

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "cli/bench_modes.h"
#include "cli/bench_support.h"
#include "client/rdkafka.h"

namespace sluice::cli::bench {
namespace {

// Payload layout: intended send time, sequence number, run tag, filler.
constexpr size_t sent_at = 0;
constexpr size_t seq_at = 8;
constexpr size_t tag_at = 16;
constexpr size_t header_size = 24;

struct deliveries {
  std::atomic<uint64_t> delivered{0};
  std::atomic<uint64_t> failed{0};
  std::atomic<int> first_failure{RD_KAFKA_RESP_ERR_NO_ERROR};
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* d = static_cast<deliveries*>(opaque);
  if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    d->delivered.fetch_add(1, std::memory_order_relaxed);
  } else if (d->failed.fetch_add(1) == 0) {
    d->first_failure = m->err;
  }
}

// The consumer side, on a thread of its own.
class reader {
 public:
  reader(rd_kafka_t* rk, uint64_t tag, int64_t warmup_records, progress_board& board)
      : rk_(rk), tag_(tag), warmup_(warmup_records), meter_(board) {}

  void run(const std::atomic<bool>& stop);

  uint64_t consumed() const { return consumed_.load(std::memory_order_relaxed); }
  // Once run() returned.
  const latency_histogram& latencies() const { return meter_.latencies(); }

 private:
  void take(const rd_kafka_message_t* m, int64_t now);

  rd_kafka_t* rk_;
  uint64_t tag_;
  int64_t warmup_;
  meter meter_;
  std::atomic<uint64_t> consumed_{0};
  uint64_t errors_ = 0;
};

void reader::take(const rd_kafka_message_t* m, int64_t now) {
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (++errors_ <= 5) {
      std::fprintf(stderr, "sluice bench: consume: %s\n", rd_kafka_message_errstr(m));
    }
    return;
  }
  uint64_t tag = 0;
  if (m->len >= header_size) std::memcpy(&tag, static_cast<const char*>(m->payload) + tag_at, 8);
  // Anything else in the topic (another run's records) is not measured.
  if (tag != tag_) return;
  int64_t sent;
  int64_t seq;
  std::memcpy(&sent, static_cast<const char*>(m->payload) + sent_at, 8);
  std::memcpy(&seq, static_cast<const char*>(m->payload) + seq_at, 8);
  meter_.count(m->len);
  if (seq >= warmup_) meter_.latency(now - sent);
  consumed_.store(meter_.records(), std::memory_order_relaxed);
}

void reader::run(const std::atomic<bool>& stop) {
  while (!stop.load(std::memory_order_relaxed)) {
    client::message m(rd_kafka_consumer_poll(rk_, 50));
    int64_t now = now_ns();
    if (m) take(m.get(), now);
    meter_.tick(now);
  }
  meter_.report(now_ns());
}

// What the timed part of a run saw.
struct schedule {
  int64_t total = 0;  // records to produce
  int64_t start_ns = 0;
  int64_t produced_ns = 0;  // when the last was produced
  int64_t late_max_ns = 0;  // how far behind schedule the producer fell at worst
  int64_t cpu_ns = 0;
};

// Produces s.total records at `rate`, each stamped with its intended send
// time.
base::result<void> produce_on_schedule(rd_kafka_t* rk, rd_kafka_topic_t* rkt,
                                       const latency_options& o, int32_t partitions,
                                       std::vector<char>& payload, schedule& s) {
  const double interval_ns = 1e9 / double(o.rate);
  auto due = [&](int64_t i) { return s.start_ns + static_cast<int64_t>(double(i) * interval_ns); };
  int32_t partition = 0;
  for (int64_t i = 0; i < s.total;) {
    int64_t now = now_ns();
    // Every record whose intended send time has come.
    for (; i < s.total && due(i) <= now; ++i) {
      s.late_max_ns = std::max(s.late_max_ns, now - due(i));
      int64_t sent = due(i);
      std::memcpy(payload.data() + sent_at, &sent, 8);
      std::memcpy(payload.data() + seq_at, &i, 8);
      while (rd_kafka_produce(rkt, partition, RD_KAFKA_MSG_F_COPY, payload.data(), payload.size(),
                              nullptr, 0, nullptr) != 0) {
        if (rd_kafka_last_error() != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
          return base::fail("produce: " + client::describe(rd_kafka_last_error()));
        }
        rd_kafka_poll(rk, 1);
      }
      if (++partition == partitions) partition = 0;
    }
    rd_kafka_poll(rk, 0);
    if (i < s.total) {
      int64_t wait = due(i) - now_ns();
      if (wait > 0) {
        timespec ts{static_cast<time_t>(wait / 1'000'000'000),
                    static_cast<long>(wait % 1'000'000'000)};
        ::nanosleep(&ts, nullptr);
      }
    }
  }
  s.produced_ns = now_ns();
  return {};
}

base::result<client::handle> open_producer(const client::connection_settings& settings,
                                           const latency_options& o, deliveries* reports,
                                           std::chrono::milliseconds timeout) {
  auto conf = client::make_conf(
      settings, producer_defaults(o.acks, o.linger_ms, 1'000'000, o.compression, timeout));
  if (!conf) return base::unexpected(conf.error());
  rd_kafka_conf_set_dr_msg_cb(conf->get(), on_delivery);
  rd_kafka_conf_set_opaque(conf->get(), reports);
  return client::make_handle(RD_KAFKA_PRODUCER, std::move(*conf));
}

// A consumer assigned at the end of each partition: earlier records are not
// this run's, and need not be read.
base::result<client::handle> open_tail_consumer(const client::connection_settings& settings,
                                                const latency_options& o, int32_t partitions,
                                                std::chrono::milliseconds timeout) {
  auto consumer =
      client::connect(RD_KAFKA_CONSUMER, settings, consumer_defaults(o.fetch_wait_max_ms, ""));
  if (!consumer) return base::unexpected(consumer.error());
  rd_kafka_poll_set_consumer(consumer->get());
  auto ready = prepare_topic(consumer->get(), o.topic, partitions, false, timeout);
  if (!ready) return base::unexpected(ready.error());
  auto marks = partition_watermarks(consumer->get(), o.topic, partitions, timeout);
  if (!marks) return base::unexpected(marks.error());
  std::vector<int64_t> ends;
  for (const auto& w : *marks) ends.push_back(w.high);
  auto assigned = assign(consumer->get(), o.topic, ends);
  if (!assigned) return base::unexpected(assigned.error());
  return consumer;
}

// The payload every record starts from: a tag of this run, then filler.
std::vector<char> tagged_payload(int64_t size, uint64_t tag) {
  std::vector<char> payload(static_cast<size_t>(size));
  for (size_t i = header_size; i < payload.size(); ++i) {
    payload[i] = static_cast<char>('a' + i % 26);
  }
  std::memcpy(payload.data() + tag_at, &tag, 8);
  return payload;
}

// Produces on schedule while `consumed` reads on a thread of its own, then
// gives the last records `timeout` to be delivered and read.
base::result<void> run_timed(rd_kafka_t* producer, rd_kafka_topic_t* rkt, reader& consumed,
                             const latency_options& o, int32_t partitions,
                             std::vector<char>& payload, std::chrono::milliseconds timeout,
                             progress_board& board, schedule& s) {
  progress_printer printer("latency", board);
  std::atomic<bool> stop{false};
  std::jthread reading([&] { consumed.run(stop); });
  // The consumer has started fetching before the first record is sent.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const int64_t cpu_start = process_cpu_ns();
  s.start_ns = now_ns();
  auto produced = produce_on_schedule(producer, rkt, o, partitions, payload, s);
  const int64_t deadline = now_ns() + (produced ? timeout.count() * 1'000'000 : 0);
  while (rd_kafka_outq_len(producer) > 0 && now_ns() < deadline) rd_kafka_poll(producer, 10);
  while (consumed.consumed() < static_cast<uint64_t>(s.total) && now_ns() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  stop = true;
  reading.join();
  s.cpu_ns = process_cpu_ns() - cpu_start;
  return produced;
}

document summary(const latency_options& o, int32_t partitions, const schedule& s,
                 const reader& consumed, const deliveries& reports) {
  const latency_histogram& h = consumed.latencies();
  auto ms = [](double ns) { return round_to(ns / 1e6, 3); };
  const uint64_t got = consumed.consumed();
  document doc = {
      {"mode", "latency"},
      {"label", o.label},
      {"topic", o.topic},
      {"size", o.size},
      {"partitions", partitions},
      {"acks", o.acks},
      {"compression", o.compression},
      {"linger_ms", o.linger_ms},
      {"fetch_wait_max_ms", o.fetch_wait_max_ms},
      {"rate", o.rate},
      {"achieved_rate", round_to(double(s.total) / (double(s.produced_ns - s.start_ns) / 1e9), 1)},
      {"duration_s", o.duration_s},
      {"warmup_s", o.warmup_s},
      {"produced", s.total},
      {"delivered", reports.delivered.load()},
      {"failed", reports.failed.load()},
      {"consumed", got},
      {"measured", h.count()},
  };
  add_latency_fields(doc, h);
  doc["min_ms"] = ms(double(h.min()));
  doc["producer_late_max_ms"] = ms(double(s.late_max_ns));
  doc["client_cpu_ns_per_record"] = got > 0 ? round_to(double(s.cpu_ns) / double(got), 1) : 0.0;
  return doc;
}

base::result<void> outcome(const schedule& s, const reader& consumed, const deliveries& reports,
                           std::chrono::milliseconds timeout) {
  if (uint64_t failed = reports.failed.load(); failed > 0) {
    return base::fail(
        std::to_string(failed) + " records failed, the first with " +
        client::describe(static_cast<rd_kafka_resp_err_t>(reports.first_failure.load())));
  }
  const auto total = static_cast<uint64_t>(s.total);
  if (consumed.consumed() < total) {
    return base::fail(std::to_string(total - consumed.consumed()) +
                      " records did not arrive within --timeout " +
                      std::to_string(timeout.count()) + " ms of the last send");
  }
  return {};
}

}  // namespace

base::result<void> run_latency(const latency_options& o, const invocation& inv) {
  auto settings = inv.connection();
  if (!settings) return base::unexpected(settings.error());
  auto reachable =
      client::check_reachable(*settings, std::min(inv.timeout(), std::chrono::milliseconds(5000)));
  if (!reachable) return base::unexpected(reachable.error());
  deliveries reports;
  auto producer = open_producer(*settings, o, &reports, inv.timeout());
  if (!producer) return base::unexpected(producer.error());
  auto partitions = prepare_topic(producer->get(), o.topic, o.partitions, o.create, inv.timeout());
  if (!partitions) return base::unexpected(partitions.error());
  auto consumer = open_tail_consumer(*settings, o, *partitions, inv.timeout());
  if (!consumer) return base::unexpected(consumer.error());

  const uint64_t tag = (static_cast<uint64_t>(now_ns()) * 0x9E3779B97F4A7C15ull) ^
                       (static_cast<uint64_t>(::getpid()) << 32);
  std::vector<char> payload = tagged_payload(o.size, tag);
  client::topic rkt(rd_kafka_topic_new(producer->get(), o.topic.c_str(), nullptr));
  progress_board board;
  reader consumed(consumer->get(), tag, static_cast<int64_t>(double(o.rate) * o.warmup_s), board);
  schedule s;
  s.total = static_cast<int64_t>(double(o.rate) * o.duration_s);
  auto produced = run_timed(producer->get(), rkt.get(), consumed, o, *partitions, payload,
                            inv.timeout(), board, s);
  rd_kafka_assign(consumer->get(), nullptr);
  rd_kafka_consumer_close(consumer->get());
  if (!produced) return produced;
  print(summary(o, *partitions, s, consumed, reports), inv.format());
  return outcome(s, consumed, reports, inv.timeout());
}

}  // namespace sluice::cli::bench
