#include "cli/bench_support.h"

#include "client/admin_owners.h"

#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace sluice::cli::bench {
namespace {

constexpr int64_t report_interval_ns = 100'000'000;

int clamp_ms(std::chrono::milliseconds timeout) {
  return static_cast<int>(std::max<int64_t>(1, timeout.count()));
}

// CreateTopics with `partitions` and the brokers' default replication
// factor. An existing topic is no error: prepare_topic checks its partitions.
base::result<void> create_topic(rd_kafka_t* rk, const std::string& topic, int32_t partitions,
                                std::chrono::milliseconds timeout) {
  char errstr[512];
  client::new_topic request(
      rd_kafka_NewTopic_new(topic.c_str(), partitions, -1, errstr, sizeof errstr));
  if (!request) return base::fail("create topic " + topic + ": " + errstr);
  auto answer =
      client::run_admin(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS, RD_KAFKA_EVENT_CREATETOPICS_RESULT,
                        timeout, [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* q) {
                          rd_kafka_NewTopic_t* one = request.get();
                          rd_kafka_CreateTopics(rk, &one, 1, options, q);
                        });
  if (!answer) return base::fail("create topic " + topic + ": " + answer.error().message);
  size_t n = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(answer->get()), &n);
  for (size_t i = 0; i < n; ++i) {
    auto error = rd_kafka_topic_result_error(results[i]);
    if (error != RD_KAFKA_RESP_ERR_NO_ERROR && error != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      const char* why = rd_kafka_topic_result_error_string(results[i]);
      return base::fail("create topic " + topic + ": " + client::describe(error) +
                        (why != nullptr ? std::string(" (") + why + ")" : ""));
    }
  }
  return {};
}

// How many partitions the topic has once all have a leader; 0 while it is
// missing or some partition has none; an error for anything else.
base::result<int32_t> ready_partitions(rd_kafka_t* rk, rd_kafka_topic_t* rkt,
                                       std::chrono::milliseconds timeout) {
  const rd_kafka_metadata_t* raw = nullptr;
  auto error = rd_kafka_metadata(rk, 0, rkt, &raw, clamp_ms(timeout));
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return base::fail("metadata request failed: " + client::describe(error));
  }
  client::metadata md(raw);
  if (md->topic_cnt != 1) return 0;
  const auto& t = md->topics[0];
  if (t.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
      t.err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE) {
    return 0;
  }
  if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return base::fail("topic " + std::string(t.topic) + ": " + client::describe(t.err));
  }
  for (int i = 0; i < t.partition_cnt; ++i) {
    if (t.partitions[i].leader < 0) return 0;
  }
  return t.partition_cnt;
}

}  // namespace

int64_t now_ns() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

int64_t process_cpu_ns() {
  rusage ru;
  ::getrusage(RUSAGE_SELF, &ru);
  auto ns = [](const timeval& tv) {
    return int64_t{tv.tv_sec} * 1'000'000'000 + int64_t{tv.tv_usec} * 1000;
  };
  return ns(ru.ru_utime) + ns(ru.ru_stime);
}

client::property_list producer_defaults(const std::string& acks, int linger_ms, int64_t batch_size,
                                        const std::string& compression,
                                        std::chrono::milliseconds timeout) {
  return {
      {"client.id", "sluice-bench"},
      {"acks", acks},
      {"linger.ms", std::to_string(linger_ms)},
      {"batch.size", std::to_string(batch_size)},
      {"batch.num.messages", "10000"},
      {"compression.codec", compression},
      {"enable.idempotence", "false"},
      // Room for a whole run of small records: a full queue costs a wait.
      {"queue.buffering.max.messages", "2000000"},
      {"queue.buffering.max.kbytes", "2097151"},
      {"message.timeout.ms", std::to_string(std::max<int64_t>(1, timeout.count()))},
  };
}

client::property_list consumer_defaults(int fetch_wait_max_ms, const std::string& group) {
  client::property_list defaults = {
      {"client.id", "sluice-bench"},
      {"group.id", group.empty() ? "sluice-bench" : group},
      {"enable.partition.eof", "false"},
      {"auto.offset.reset", "earliest"},
      {"fetch.wait.max.ms", std::to_string(fetch_wait_max_ms)},
      {"fetch.min.bytes", "1"},
      {"max.partition.fetch.bytes", "1048576"},
      {"fetch.max.bytes", "52428800"},
      // Prefetch without a ceiling: librdkafka 2.0 takes a partition off its
      // fetch list once queued.min.messages are queued and looks at it again
      // only on its 1 s timer, which stalled runs for whole seconds.
      {"queued.min.messages", "10000000"},
      {"queued.max.messages.kbytes", "2097151"},
  };
  if (group.empty()) {
    defaults.emplace_back("enable.auto.commit", "false");
    defaults.emplace_back("enable.auto.offset.store", "false");
  }
  return defaults;
}

base::result<void> assign(rd_kafka_t* rk, const std::string& topic,
                          const std::vector<int64_t>& offsets) {
  client::partition_list list(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
  for (size_t p = 0; p < offsets.size(); ++p) {
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), static_cast<int32_t>(p))->offset =
        offsets[p];
  }
  auto error = rd_kafka_assign(rk, list.get());
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return base::fail("assign " + topic + ": " + client::describe(error));
  }
  return {};
}

base::result<std::vector<client::watermarks>> partition_watermarks(
    rd_kafka_t* rk, const std::string& topic, int32_t partitions,
    std::chrono::milliseconds timeout) {
  std::vector<client::watermarks> out;
  for (int32_t p = 0; p < partitions; ++p) {
    auto w = client::query_watermarks(rk, topic, p, timeout);
    if (!w) return base::unexpected(w.error());
    out.push_back(*w);
  }
  return out;
}

base::result<int32_t> prepare_topic(rd_kafka_t* rk, const std::string& topic, int32_t wanted,
                                    bool create, std::chrono::milliseconds timeout) {
  if (create) {
    auto created = create_topic(rk, topic, wanted > 0 ? wanted : 1, timeout);
    if (!created) return base::unexpected(created.error());
  }
  client::topic rkt(rd_kafka_topic_new(rk, topic.c_str(), nullptr));
  // A topic just created may take a moment to have leaders everywhere.
  const int64_t deadline = now_ns() + timeout.count() * 1'000'000;
  for (;;) {
    auto partitions = ready_partitions(rk, rkt.get(), timeout);
    if (!partitions) return base::unexpected(partitions.error());
    if (*partitions > 0) {
      if (*partitions < wanted) {
        return base::fail("topic " + topic + " has " + std::to_string(*partitions) +
                          " partition(s), fewer than --partitions " + std::to_string(wanted));
      }
      return wanted > 0 ? wanted : *partitions;
    }
    if (now_ns() > deadline) {
      return base::fail(
          "topic " + topic +
          (create ? " has no leader for every partition" : " does not exist (or lacks leaders)") +
          " after " + std::to_string(timeout.count()) + " ms");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void progress_board::add(uint64_t records, uint64_t bytes, const latency_histogram& latencies) {
  std::lock_guard lock(mu_);
  records_ += records;
  bytes_ += bytes;
  latencies_.merge(latencies);
}

void progress_board::take(uint64_t& records, uint64_t& bytes, latency_histogram& latencies) {
  latencies.reset();
  std::lock_guard lock(mu_);
  records = records_;
  bytes = bytes_;
  records_ = 0;
  bytes_ = 0;
  std::swap(latencies, latencies_);
}

void meter::report(int64_t now) {
  board_.add(records_ - reported_records_, bytes_ - reported_bytes_, recent_);
  reported_records_ = records_;
  reported_bytes_ = bytes_;
  all_.merge(recent_);
  recent_.reset();
  next_report_ns_ = now + report_interval_ns;
}

progress_printer::progress_printer(std::string mode, progress_board& board)
    : mode_(std::move(mode)), board_(board), thread_([this] { run(); }) {}

progress_printer::~progress_printer() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void progress_printer::run() {
  const auto start = std::chrono::steady_clock::now();
  latency_histogram latencies;
  uint64_t total = 0;
  for (int second = 1;; ++second) {
    {
      std::unique_lock lock(mu_);
      if (wake_.wait_until(lock, start + std::chrono::seconds(second), [this] { return stop_; })) {
        return;
      }
    }
    uint64_t records = 0;
    uint64_t bytes = 0;
    board_.take(records, bytes, latencies);
    total += records;
    char p99[64] = "";
    if (latencies.count() > 0) {
      std::snprintf(p99, sizeof p99, ", p99 %.3f ms", double(latencies.percentile(0.99)) / 1e6);
    }
    std::fprintf(stderr, "%s %d s: %llu records, %llu records/s, %.1f MB/s%s\n", mode_.c_str(),
                 second, static_cast<unsigned long long>(total),
                 static_cast<unsigned long long>(records), double(bytes) / 1e6, p99);
  }
}

double round_to(double x, int decimals) {
  double scale = std::pow(10.0, decimals);
  return std::round(x * scale) / scale;
}

void add_latency_fields(document& doc, const latency_histogram& h) {
  auto ms = [](double ns) { return round_to(ns / 1e6, 3); };
  doc["p50_ms"] = ms(double(h.percentile(0.5)));
  doc["p95_ms"] = ms(double(h.percentile(0.95)));
  doc["p99_ms"] = ms(double(h.percentile(0.99)));
  doc["p999_ms"] = ms(double(h.percentile(0.999)));
  doc["max_ms"] = ms(double(h.max()));
  doc["mean_ms"] = ms(h.mean());
}

}  // namespace sluice::cli::bench
