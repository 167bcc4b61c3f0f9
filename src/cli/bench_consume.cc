// sluice bench consume: reads a topic as fast as one consumer can, timed
// from the assignment to the last record read. Without a group the
// partitions are assigned at their first offsets; with one, the consumer
// subscribes and the clock starts when the group assigns it partitions.

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "cli/bench_modes.h"
#include "cli/bench_support.h"
#include "client/rdkafka.h"

namespace sluice::cli::bench {
namespace {

// When the group first assigned partitions (0: not yet). The rebalance
// callback runs inside consumer_poll, on the run's own thread.
struct membership {
  int64_t assigned_ns = 0;
};

void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                  rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  bool assigning = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
  if (std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0) {
    client::error_owner error(assigning ? rd_kafka_incremental_assign(rk, partitions)
                                        : rd_kafka_incremental_unassign(rk, partitions));
  } else {
    rd_kafka_assign(rk, assigning ? partitions : nullptr);
  }
  auto* joined = static_cast<membership*>(opaque);
  if (assigning && joined->assigned_ns == 0) joined->assigned_ns = now_ns();
}

// The records of a run and when it started and ended.
struct span {
  int64_t start_ns = 0;
  int64_t end_ns = 0;
  uint64_t errors = 0;
  uint64_t seeks = 0;
};

class consumer_run {
 public:
  consumer_run(const consume_options& o, rd_kafka_t* rk, std::vector<client::watermarks> marks,
               const membership* joined, progress_board& board)
      : o_(o), rk_(rk), marks_(std::move(marks)), joined_(joined), meter_(board) {}

  // Reads until `target` records (0: no count), the duration, or `idle_ns`
  // without a record. The clock starts at `start_ns`, or with a group when
  // the group assigns partitions.
  span run(uint64_t target, int64_t start_ns, int64_t idle_ns);

  const meter& counts() const { return meter_; }

 private:
  void start_at(int64_t ns);
  span finish(int64_t end_ns) {
    span_.end_ns = end_ns;
    return span_;
  }
  void rewind_if_at_end(const rd_kafka_message_t* m);

  const consume_options& o_;
  rd_kafka_t* rk_;
  std::vector<client::watermarks> marks_;
  const membership* joined_;  // null without a group
  meter meter_;
  span span_;
  int64_t deadline_ns_ = 0;  // of --duration; 0: none
  int64_t last_record_ns_ = 0;
};

void consumer_run::start_at(int64_t ns) {
  span_.start_ns = ns;
  last_record_ns_ = ns;
  if (o_.duration_s > 0) deadline_ns_ = ns + static_cast<int64_t>(o_.duration_s * 1e9);
}

// Reading from a partition's first offset again after its last record lets
// a run read more than the topic holds: librdkafka's mock cluster keeps only
// the last 5 MiB of a partition, so benchmarks read a window that fits it,
// from every broker, as often as it takes.
void consumer_run::rewind_if_at_end(const rd_kafka_message_t* m) {
  int32_t p = m->partition;
  if (p < 0 || p >= static_cast<int32_t>(marks_.size()) || m->offset < marks_[p].high - 1) return;
  client::partition_list list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), o_.topic.c_str(), p)->offset = marks_[p].low;
  client::error_owner error(rd_kafka_seek_partitions(rk_, list.get(), 10'000));
  if (error) std::fprintf(stderr, "sluice bench: seek: %s\n", rd_kafka_error_string(error.get()));
  ++span_.seeks;
}

span consumer_run::run(uint64_t target, int64_t start_ns, int64_t idle_ns) {
  start_at(start_ns);
  bool started = joined_ == nullptr;
  uint64_t unclocked = 0;  // records read since the clock was last read
  auto clock = [&](int64_t now) {
    if (!started && joined_->assigned_ns != 0) {
      started = true;
      start_at(joined_->assigned_ns);
    }
    if (unclocked > 0) last_record_ns_ = now;
    unclocked = 0;
    meter_.tick(now);
  };
  for (;;) {
    client::message m(rd_kafka_consumer_poll(rk_, 0));
    if (!m) {
      // The queue ran dry: the time now is also when the last record came.
      int64_t now = now_ns();
      clock(now);
      if (deadline_ns_ > 0 && now >= deadline_ns_) return finish(deadline_ns_);
      if (now - last_record_ns_ >= idle_ns) return finish(last_record_ns_);
      m.reset(rd_kafka_consumer_poll(rk_, 100));
      if (!m) continue;
    }
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (++span_.errors <= 5) {
        std::fprintf(stderr, "sluice bench: consume: %s\n", rd_kafka_message_errstr(m.get()));
      }
      continue;
    }
    meter_.count(m->len);
    bool done = target > 0 && meter_.records() >= target;
    if (o_.rewind && !done) rewind_if_at_end(m.get());
    if (++unclocked < 64 && !done) continue;
    int64_t now = now_ns();
    clock(now);
    if (done || (deadline_ns_ > 0 && now >= deadline_ns_)) return finish(now);
  }
}

base::result<client::handle> open_consumer(const consume_options& o, const invocation& inv,
                                           membership* joined) {
  auto settings = inv.connection();
  if (!settings) return base::unexpected(settings.error());
  auto reachable =
      client::check_reachable(*settings, std::min(inv.timeout(), std::chrono::milliseconds(5000)));
  if (!reachable) return base::unexpected(reachable.error());
  auto conf = client::make_conf(*settings, consumer_defaults(o.fetch_wait_max_ms, o.group));
  if (!conf) return base::unexpected(conf.error());
  if (!o.group.empty()) {
    rd_kafka_conf_set_rebalance_cb(conf->get(), on_rebalance);
    rd_kafka_conf_set_opaque(conf->get(), joined);
  }
  auto rk = client::make_handle(RD_KAFKA_CONSUMER, std::move(*conf));
  if (!rk) return base::unexpected(rk.error());
  rd_kafka_poll_set_consumer(rk->get());
  return rk;
}

base::result<void> start_reading(const consume_options& o, rd_kafka_t* rk,
                                 const std::vector<client::watermarks>& marks) {
  if (o.group.empty()) {
    std::vector<int64_t> first_offsets;
    for (const auto& w : marks) first_offsets.push_back(w.low);
    return assign(rk, o.topic, first_offsets);
  }
  client::partition_list topics(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(topics.get(), o.topic.c_str(), RD_KAFKA_PARTITION_UA);
  auto error = rd_kafka_subscribe(rk, topics.get());
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return base::fail("subscribe " + o.topic + ": " + client::describe(error));
  }
  return {};
}

}  // namespace

base::result<void> run_consume(const consume_options& o, const invocation& inv) {
  membership joined;
  auto rk = open_consumer(o, inv, &joined);
  if (!rk) return base::unexpected(rk.error());
  auto partitions = prepare_topic(rk->get(), o.topic, o.partitions, false, inv.timeout());
  if (!partitions) return base::unexpected(partitions.error());
  auto marks = partition_watermarks(rk->get(), o.topic, *partitions, inv.timeout());
  if (!marks) return base::unexpected(marks.error());
  int64_t window = 0;
  for (const auto& w : *marks) window += w.high - w.low;
  // Without a count, a run without a group reads what the topic holds now.
  uint64_t target = o.records > 0                          ? static_cast<uint64_t>(o.records)
                    : o.duration_s == 0 && o.group.empty() ? static_cast<uint64_t>(window)
                                                           : 0;
  if (window == 0 && o.group.empty() && (o.rewind || (target == 0 && o.duration_s == 0))) {
    return base::fail("topic " + o.topic + " holds no records: produce some first (sluice bench " +
                      "produce " + o.topic + ")");
  }

  progress_board board;
  consumer_run reader(o, rk->get(), *marks, o.group.empty() ? nullptr : &joined, board);
  const int64_t cpu_start = process_cpu_ns();
  const int64_t subscribed = now_ns();
  auto started = start_reading(o, rk->get(), *marks);
  if (!started) return started;
  span run;
  {
    progress_printer printer("consume", board);
    run = reader.run(target, subscribed, inv.timeout().count() * 1'000'000);
  }
  const int64_t cpu_ns = process_cpu_ns() - cpu_start;
  if (o.group.empty()) rd_kafka_assign(rk->get(), nullptr);
  rd_kafka_consumer_close(rk->get());

  const uint64_t consumed = reader.counts().records();
  const uint64_t bytes = reader.counts().bytes();
  const double seconds = double(run.end_ns - run.start_ns) / 1e9;
  document doc = {
      {"mode", "consume"},
      {"label", o.label},
      {"topic", o.topic},
      {"partitions", *partitions},
      {"group", o.group.empty() ? document(nullptr) : document(o.group)},
      {"fetch_wait_max_ms", o.fetch_wait_max_ms},
      {"records", target},
      {"consumed", consumed},
      {"bytes", bytes},
      {"window", window},
      {"seeks", run.seeks},
      {"errors", run.errors},
      {"rebalance_ms", joined.assigned_ns == 0
                           ? document(nullptr)
                           : document(round_to(double(joined.assigned_ns - subscribed) / 1e6, 3))},
      {"seconds", round_to(seconds, 6)},
      {"records_per_s", seconds > 0 ? round_to(double(consumed) / seconds, 0) : 0.0},
      {"mb_per_s", seconds > 0 ? round_to(double(bytes) / seconds / 1e6, 3) : 0.0},
      {"client_cpu_ns_per_record",
       consumed > 0 ? round_to(double(cpu_ns) / double(consumed), 1) : 0.0},
  };
  print(doc, inv.format());
  if (target > 0 && consumed < target) {
    return base::fail("read " + std::to_string(consumed) + " of " + std::to_string(target) +
                      " records: none came for --timeout " + std::to_string(inv.timeout().count()) +
                      " ms");
  }
  return {};
}

}  // namespace sluice::cli::bench
