// kafka_load: a load generator for any Kafka-compatible broker, on
// librdkafka's C API, so Sluice and librdkafka's mock cluster (mock_cluster)
// can be driven with the same client and the same settings.
//
//   kafka_load produce --bootstrap H:P --topic T [--records N] [--size S]
//                      [--acks 1|all] [--partitions P] [--linger-ms L]
//   kafka_load consume --bootstrap H:P --topic T [--records N] [--partitions P]
//   kafka_load latency --bootstrap H:P --topic T [--rate R] [--duration D]
//                      [--warmup W] [--size S] [--acks 1|all] [--partitions P]
//   kafka_load delete  --bootstrap H:P --topic T
//
// produce: N records of S bytes (null key), round-robin over the partitions;
//   timed from the first produce call to the last delivery report.
// consume: assigns every partition at its first offset and reads N records,
//   going back to the first offset of a partition after its last record when
//   the topic holds fewer than N; timed from the assignment to the N-th record.
// latency: produces R records/s for D seconds, each carrying its intended send
//   time (CLOCK_MONOTONIC), and a consumer in the same process records the
//   end-to-end latency (intended send -> consumer_poll returns it) of every
//   record produced after the first W seconds in a log-linear histogram.
//   Using the intended rather than the actual send time keeps a stalled
//   producer from hiding latency (no coordinated omission).
// delete: deletes the topic (DeleteTopics).
//
// produce and latency create the topic first with the admin API (CreateTopics;
// "already exists" is fine) unless --no-create. Each run prints one JSON line
// on stdout and one line for people on stderr. Exit status 0 only if every
// record was delivered / read.

#include <librdkafka/rdkafka.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

struct options {
  std::string mode;
  std::string bootstrap = "127.0.0.1:9092";
  std::string topic = "bench";
  std::string acks = "1";
  std::string label;
  std::string debug;  // librdkafka's debug contexts, e.g. "fetch,broker"
  long records = 100000;
  long size = 100;
  int partitions = 1;
  int linger_ms = -1;  // -1: 5 for produce, 0 for latency
  long batch_size = 1000000;
  int fetch_wait_max_ms = -1;  // -1: 1 for consume, 100 for latency
  long rate = 50000;
  double duration_s = 5;
  double warmup_s = 1;
  bool create_topic = true;
  int timeout_s = 120;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "kafka_load: %s\n"
               "usage: kafka_load produce|consume|latency|delete --bootstrap H:P --topic T\n"
               "  [--records N] [--size BYTES] [--acks 1|all] [--partitions P]\n"
               "  [--linger-ms L] [--batch-size BYTES] [--fetch-wait-max-ms MS]\n"
               "  [--rate R] [--duration S] [--warmup S] [--no-create] [--timeout S]\n"
               "  [--label TEXT] [--debug CONTEXTS]\n",
               why);
  std::exit(2);
}

options parse(int argc, char** argv) {
  if (argc < 2) usage("no mode");
  options o;
  o.mode = argv[1];
  if (o.mode != "produce" && o.mode != "consume" && o.mode != "latency" && o.mode != "delete") {
    usage("unknown mode");
  }
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value for " + a).c_str());
      return argv[++i];
    };
    if (a == "--bootstrap") {
      o.bootstrap = value();
    } else if (a == "--topic") {
      o.topic = value();
    } else if (a == "--records") {
      o.records = std::stol(value());
    } else if (a == "--size") {
      o.size = std::stol(value());
    } else if (a == "--acks") {
      o.acks = value();
    } else if (a == "--partitions") {
      o.partitions = std::stoi(value());
    } else if (a == "--linger-ms") {
      o.linger_ms = std::stoi(value());
    } else if (a == "--batch-size") {
      o.batch_size = std::stol(value());
    } else if (a == "--fetch-wait-max-ms") {
      o.fetch_wait_max_ms = std::stoi(value());
    } else if (a == "--rate") {
      o.rate = std::stol(value());
    } else if (a == "--duration") {
      o.duration_s = std::stod(value());
    } else if (a == "--warmup") {
      o.warmup_s = std::stod(value());
    } else if (a == "--timeout") {
      o.timeout_s = std::stoi(value());
    } else if (a == "--label") {
      o.label = value();
    } else if (a == "--debug") {
      o.debug = value();
    } else if (a == "--no-create") {
      o.create_topic = false;
    } else {
      usage(("unknown option " + a).c_str());
    }
  }
  if (o.linger_ms < 0) o.linger_ms = o.mode == "latency" ? 0 : 5;
  if (o.fetch_wait_max_ms < 0) o.fetch_wait_max_ms = o.mode == "latency" ? 100 : 1;
  if (o.partitions < 1 || o.records < 1 || o.rate < 1) usage("bad numbers");
  if (o.mode == "latency" && o.size < 24) usage("latency needs --size >= 24");
  if (o.size < 0) usage("bad size");
  return o;
}

int64_t now_ns() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// User + system CPU of this process so far, in ns.
int64_t process_cpu_ns() {
  rusage ru;
  ::getrusage(RUSAGE_SELF, &ru);
  auto ns = [](const timeval& tv) {
    return int64_t{tv.tv_sec} * 1'000'000'000 + tv.tv_usec * 1000;
  };
  return ns(ru.ru_utime) + ns(ru.ru_stime);
}

[[noreturn]] void die(const std::string& why) {
  std::fprintf(stderr, "kafka_load: %s\n", why.c_str());
  std::exit(1);
}

void set(rd_kafka_conf_t* conf, const char* key, const std::string& value) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, key, value.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
    die(std::string("config ") + key + "=" + value + ": " + errstr);
  }
}

// Client settings shared by every run against every broker.
rd_kafka_conf_t* base_conf(const options& o) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", o.bootstrap);
  set(conf, "client.id", "kafka_load");
  set(conf, "api.version.request", "true");
  if (!o.debug.empty()) set(conf, "debug", o.debug);
  return conf;
}

rd_kafka_t* new_producer(const options& o,
                         void (*dr)(rd_kafka_t*, const rd_kafka_message_t*, void*), void* opaque) {
  rd_kafka_conf_t* conf = base_conf(o);
  set(conf, "acks", o.acks);
  set(conf, "linger.ms", std::to_string(o.linger_ms));
  set(conf, "batch.size", std::to_string(o.batch_size));
  set(conf, "batch.num.messages", "10000");
  set(conf, "compression.codec", "none");
  set(conf, "enable.idempotence", "false");
  set(conf, "queue.buffering.max.messages", "2000000");
  set(conf, "queue.buffering.max.kbytes", "2097151");
  set(conf, "message.timeout.ms", std::to_string(o.timeout_s * 1000));
  // Explicit partitions are used; the partitioner only matters if they are not.
  set(conf, "partitioner", "consistent_random");
  if (dr != nullptr) rd_kafka_conf_set_dr_msg_cb(conf, dr);
  rd_kafka_conf_set_opaque(conf, opaque);
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (rk == nullptr) die(std::string("producer: ") + errstr);
  return rk;
}

rd_kafka_t* new_consumer(const options& o) {
  rd_kafka_conf_t* conf = base_conf(o);
  // librdkafka's assign() and consumer_poll() need a group id; nothing is
  // committed and no group is joined (assign, not subscribe).
  set(conf, "group.id", "kafka_load");
  set(conf, "enable.auto.commit", "false");
  set(conf, "enable.auto.offset.store", "false");
  set(conf, "enable.partition.eof", "false");
  set(conf, "auto.offset.reset", "earliest");
  set(conf, "fetch.wait.max.ms", std::to_string(o.fetch_wait_max_ms));
  set(conf, "fetch.min.bytes", "1");
  set(conf, "max.partition.fetch.bytes", "1048576");
  set(conf, "fetch.max.bytes", "52428800");
  // Prefetch without a ceiling: librdkafka 2.0 takes a partition off its fetch
  // list once queued.min.messages are queued and looks at it again only on
  // its 1 s timer, which stalled consume runs for whole seconds.
  set(conf, "queued.min.messages", "10000000");
  set(conf, "queued.max.messages.kbytes", "2097151");
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
  if (rk == nullptr) die(std::string("consumer: ") + errstr);
  rd_kafka_poll_set_consumer(rk);
  return rk;
}

// CreateTopics through the admin API; an existing topic is fine.
void create_topic(rd_kafka_t* rk, const options& o) {
  char errstr[512];
  rd_kafka_NewTopic_t* nt =
      rd_kafka_NewTopic_new(o.topic.c_str(), o.partitions, 1, errstr, sizeof errstr);
  if (nt == nullptr) die(std::string("NewTopic: ") + errstr);
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_AdminOptions_t* ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_operation_timeout(ao, 10000, errstr, sizeof errstr);
  rd_kafka_AdminOptions_set_request_timeout(ao, 15000, errstr, sizeof errstr);
  rd_kafka_CreateTopics(rk, &nt, 1, ao, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 20000);
  if (ev == nullptr) die("CreateTopics: no answer in 20 s");
  if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    die(std::string("CreateTopics: ") + rd_kafka_event_error_string(ev));
  }
  const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev);
  size_t n = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(res, &n);
  for (size_t i = 0; i < n; ++i) {
    rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      die(std::string("CreateTopics ") + o.topic + ": " + rd_kafka_err2str(err));
    }
  }
  rd_kafka_event_destroy(ev);
  rd_kafka_AdminOptions_destroy(ao);
  rd_kafka_NewTopic_destroy(nt);
  rd_kafka_queue_destroy(q);
}

// Waits (bounded) until the metadata shows the topic with its partitions and a
// leader for each: connects the handle to the broker before the clock starts.
void wait_for_topic(rd_kafka_t* rk, const options& o) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, o.topic.c_str(), nullptr);
  int64_t deadline = now_ns() + int64_t{20} * 1'000'000'000;
  std::string last = "no metadata";
  while (now_ns() < deadline) {
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, 5000);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      bool ready = md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
                   md->topics[0].partition_cnt >= o.partitions;
      for (int i = 0; ready && i < md->topics[0].partition_cnt; ++i) {
        ready = md->topics[0].partitions[i].leader >= 0;
      }
      if (md->topic_cnt == 1) last = rd_kafka_err2str(md->topics[0].err);
      rd_kafka_metadata_destroy(md);
      if (ready) {
        rd_kafka_topic_destroy(rkt);
        return;
      }
    } else {
      last = rd_kafka_err2str(err);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  die("topic " + o.topic + " not ready: " + last);
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) out += c;
  }
  return out;
}

std::string common_json(const options& o) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "\"mode\":\"%s\",\"label\":\"%s\",\"topic\":\"%s\",\"size\":%ld,"
                "\"partitions\":%d,\"acks\":\"%s\",\"linger_ms\":%d,\"fetch_wait_max_ms\":%d",
                o.mode.c_str(), json_escape(o.label).c_str(), json_escape(o.topic).c_str(), o.size,
                o.partitions, o.acks.c_str(), o.linger_ms, o.fetch_wait_max_ms);
  return buf;
}

// DeleteTopics through the admin API: drops a run's records (and their dirty
// pages in the broker's page cache) before the next run.
int run_delete(const options& o) {
  rd_kafka_t* rk = new_producer(o, nullptr, nullptr);
  char errstr[512];
  rd_kafka_DeleteTopic_t* dt = rd_kafka_DeleteTopic_new(o.topic.c_str());
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_AdminOptions_t* ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DELETETOPICS);
  rd_kafka_AdminOptions_set_operation_timeout(ao, 10000, errstr, sizeof errstr);
  rd_kafka_AdminOptions_set_request_timeout(ao, 15000, errstr, sizeof errstr);
  rd_kafka_DeleteTopics(rk, &dt, 1, ao, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 20000);
  int rc = 0;
  if (ev == nullptr) {
    std::fprintf(stderr, "kafka_load: DeleteTopics: no answer in 20 s\n");
    rc = 1;
  } else if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    std::fprintf(stderr, "kafka_load: DeleteTopics: %s\n", rd_kafka_event_error_string(ev));
    rc = 1;
  } else {
    size_t n = 0;
    const rd_kafka_topic_result_t** results =
        rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n);
    for (size_t i = 0; i < n; ++i) {
      rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        std::fprintf(stderr, "kafka_load: DeleteTopics %s: %s\n", o.topic.c_str(),
                     rd_kafka_err2str(err));
        rc = 1;
      }
    }
  }
  if (ev != nullptr) rd_kafka_event_destroy(ev);
  rd_kafka_AdminOptions_destroy(ao);
  rd_kafka_DeleteTopic_destroy(dt);
  rd_kafka_queue_destroy(q);
  rd_kafka_destroy(rk);
  std::fprintf(stderr, "delete %s: %s\n", o.topic.c_str(), rc == 0 ? "done" : "failed");
  return rc;
}

// ---------------------------------------------------------------- produce

struct produce_state {
  std::atomic<long> delivered{0};
  std::atomic<long> failed{0};
  std::atomic<int64_t> last_dr_ns{0};
  rd_kafka_resp_err_t first_error = RD_KAFKA_RESP_ERR_NO_ERROR;
};

void produce_dr(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* st = static_cast<produce_state*>(opaque);
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (st->failed.fetch_add(1) == 0) st->first_error = m->err;
  } else {
    st->delivered.fetch_add(1, std::memory_order_relaxed);
  }
  st->last_dr_ns.store(now_ns(), std::memory_order_relaxed);
}

// Produces one record, waiting (serving delivery reports) while the local
// queue is full. Returns false on a hard error.
bool produce_one(rd_kafka_t* rk, rd_kafka_topic_t* rkt, int32_t partition, void* payload,
                 size_t len, int msgflags) {
  for (;;) {
    if (rd_kafka_produce(rkt, partition, msgflags, payload, len, nullptr, 0, nullptr) == 0) {
      return true;
    }
    rd_kafka_resp_err_t err = rd_kafka_last_error();
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      std::fprintf(stderr, "kafka_load: produce: %s\n", rd_kafka_err2str(err));
      return false;
    }
    rd_kafka_poll(rk, 1);
  }
}

int run_produce(const options& o) {
  produce_state st;
  rd_kafka_t* rk = new_producer(o, produce_dr, &st);
  if (o.create_topic) create_topic(rk, o);
  wait_for_topic(rk, o);
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, o.topic.c_str(), nullptr);

  // One payload shared by every record: librdkafka neither copies nor frees
  // it (msgflags 0), the same for both brokers.
  std::vector<char> payload(static_cast<size_t>(o.size));
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i % 26);

  int64_t cpu0 = process_cpu_ns();
  int64_t t0 = now_ns();
  bool ok = true;
  for (long i = 0; i < o.records && ok; ++i) {
    ok = produce_one(rk, rkt, static_cast<int32_t>(i % o.partitions), payload.data(),
                     payload.size(), 0);
    if ((i & 1023) == 0) rd_kafka_poll(rk, 0);
  }
  int64_t deadline = now_ns() + int64_t{o.timeout_s} * 1'000'000'000;
  while (rd_kafka_outq_len(rk) > 0 && now_ns() < deadline) rd_kafka_poll(rk, 10);
  rd_kafka_poll(rk, 0);
  int64_t t1 = st.last_dr_ns.load();
  if (t1 < t0) t1 = now_ns();
  int64_t cpu1 = process_cpu_ns();

  long delivered = st.delivered.load();
  double secs = double(t1 - t0) / 1e9;
  double rps = delivered / secs;
  double mbps = rps * double(o.size) / 1e6;
  std::printf(
      "{%s,\"records\":%ld,\"delivered\":%ld,\"failed\":%ld,\"seconds\":%.6f,"
      "\"records_per_s\":%.1f,\"mb_per_s\":%.3f,\"client_cpu_ns_per_record\":%.1f}\n",
      common_json(o).c_str(), o.records, delivered, st.failed.load(), secs, rps, mbps,
      delivered > 0 ? double(cpu1 - cpu0) / delivered : 0.0);
  std::fprintf(stderr,
               "produce %s: %ld x %ld B, %d partition(s), acks=%s: %.0f records/s, %.1f MB/s "
               "(%.3f s)%s%s\n",
               o.label.c_str(), delivered, o.size, o.partitions, o.acks.c_str(), rps, mbps, secs,
               st.failed.load() ? ", first error: " : "",
               st.failed.load() ? rd_kafka_err2str(st.first_error) : "");
  std::fflush(stdout);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(rk);
  return delivered == o.records ? 0 : 1;
}

// ---------------------------------------------------------------- consume

void assign_all(rd_kafka_t* rk, const options& o, const std::vector<int64_t>* offsets = nullptr) {
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(o.partitions);
  for (int p = 0; p < o.partitions; ++p) {
    rd_kafka_topic_partition_list_add(parts, o.topic.c_str(), p)->offset =
        offsets != nullptr ? (*offsets)[p] : RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_resp_err_t err = rd_kafka_assign(rk, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) die(std::string("assign: ") + rd_kafka_err2str(err));
}

// Reads N records from the records the partitions hold. When there are fewer
// than N, each partition is read again from its first offset once its last
// record has been read (a seek back): librdkafka's mock cluster keeps only the
// last 5 MiB of each partition, so a consume run reads a window that fits it,
// the same window from both brokers, as many times as it takes.
int run_consume(const options& o) {
  rd_kafka_t* rk = new_consumer(o);
  wait_for_topic(rk, o);

  std::vector<int64_t> low(o.partitions), high(o.partitions);
  long window = 0;
  for (int p = 0; p < o.partitions; ++p) {
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(rk, o.topic.c_str(), p, &low[p], &high[p], 10000);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      die(std::string("watermarks: ") + rd_kafka_err2str(err));
    }
    window += static_cast<long>(high[p] - low[p]);
  }
  if (window == 0) die("topic " + o.topic + " holds no records");
  for (int p = 0; p < o.partitions; ++p) {
    if (high[p] == low[p]) die("partition " + std::to_string(p) + " holds no records");
  }

  int64_t cpu0 = process_cpu_ns();
  int64_t t0 = now_ns();
  assign_all(rk, o, &low);
  long got = 0;
  long bytes = 0;
  long errors = 0;
  long seeks = 0;
  int64_t deadline = t0 + int64_t{o.timeout_s} * 1'000'000'000;
  int64_t t1 = t0;
  rd_kafka_topic_partition_list_t* rewind = rd_kafka_topic_partition_list_new(1);
  while (got < o.records) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 100);
    if (m == nullptr) {
      if (now_ns() > deadline) break;
      continue;
    }
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      ++got;
      bytes += static_cast<long>(m->len);
      if (got == o.records) t1 = now_ns();
      int32_t p = m->partition;
      if (got < o.records && p >= 0 && p < o.partitions && m->offset >= high[p] - 1) {
        rd_kafka_topic_partition_list_add(rewind, o.topic.c_str(), p)->offset = low[p];
        rd_kafka_error_t* e = rd_kafka_seek_partitions(rk, rewind, 10000);
        if (e != nullptr) {
          std::fprintf(stderr, "kafka_load: seek: %s\n", rd_kafka_error_string(e));
          rd_kafka_error_destroy(e);
        }
        rd_kafka_topic_partition_list_del_by_idx(rewind, 0);
        ++seeks;
      }
    } else if (++errors <= 5) {
      std::fprintf(stderr, "kafka_load: consume: %s\n", rd_kafka_message_errstr(m));
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_topic_partition_list_destroy(rewind);
  if (got < o.records) t1 = now_ns();
  int64_t cpu1 = process_cpu_ns();

  double secs = double(t1 - t0) / 1e9;
  double rps = got / secs;
  double mbps = double(bytes) / secs / 1e6;
  std::printf(
      "{%s,\"records\":%ld,\"consumed\":%ld,\"bytes\":%ld,\"window\":%ld,\"seeks\":%ld,"
      "\"seconds\":%.6f,\"records_per_s\":%.1f,\"mb_per_s\":%.3f,"
      "\"client_cpu_ns_per_record\":%.1f}\n",
      common_json(o).c_str(), o.records, got, bytes, window, seeks, secs, rps, mbps,
      got > 0 ? double(cpu1 - cpu0) / got : 0.0);
  std::fprintf(stderr,
               "consume %s: %ld records (%ld bytes; a window of %ld read with %ld seeks back), "
               "%d partition(s): %.0f records/s, %.1f MB/s (%.3f s)\n",
               o.label.c_str(), got, bytes, window, seeks, o.partitions, rps, mbps, secs);
  std::fflush(stdout);
  rd_kafka_assign(rk, nullptr);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return got == o.records ? 0 : 1;
}

// ---------------------------------------------------------------- latency

// A log-linear histogram of nanosecond values in the manner of HdrHistogram:
// values below 2 * sub_buckets are counted exactly; above, each power of two is
// split into sub_buckets equal buckets, so a bucket's width is under 1/128 of
// its values (2 significant decimal digits).
class histogram {
 public:
  static constexpr int sub_bits = 7;
  static constexpr int64_t sub_buckets = int64_t{1} << sub_bits;

  histogram() : counts_(64 * sub_buckets, 0) {}

  static size_t index(int64_t v) {
    if (v < 0) v = 0;
    if (v < 2 * sub_buckets) return static_cast<size_t>(v);
    int msb = 63 - __builtin_clzll(static_cast<uint64_t>(v));
    int shift = msb - sub_bits;
    return static_cast<size_t>((shift + 1) * sub_buckets + ((v >> shift) - sub_buckets));
  }
  // The largest value that falls in bucket i.
  static int64_t upper(size_t i) {
    int64_t b = static_cast<int64_t>(i);
    if (b < 2 * sub_buckets) return b;
    int shift = static_cast<int>(b / sub_buckets) - 1;
    int64_t sub = b % sub_buckets + sub_buckets;
    return ((sub + 1) << shift) - 1;
  }

  void record(int64_t v) {
    ++counts_[std::min(index(v), counts_.size() - 1)];
    ++total_;
    max_ = std::max(max_, v);
    min_ = std::min(min_, v);
    sum_ += static_cast<double>(v);
  }
  // The value at quantile q: the upper bound of the bucket holding the
  // ceil(q * total)-th smallest value, capped at the exact maximum.
  int64_t quantile(double q) const {
    if (total_ == 0) return 0;
    auto rank = static_cast<uint64_t>(q * double(total_));
    if (double(rank) < q * double(total_)) ++rank;
    rank = std::max<uint64_t>(rank, 1);
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min(upper(i), max_);
    }
    return max_;
  }
  uint64_t total() const { return total_; }
  int64_t max() const { return max_; }
  int64_t min() const { return total_ ? min_ : 0; }
  double mean() const { return total_ ? sum_ / double(total_) : 0; }

 private:
  std::vector<uint64_t> counts_;
  uint64_t total_ = 0;
  int64_t max_ = 0;
  int64_t min_ = INT64_MAX;
  double sum_ = 0;
};

int run_latency(const options& o) {
  produce_state st;
  rd_kafka_t* producer = new_producer(o, produce_dr, &st);
  if (o.create_topic) create_topic(producer, o);
  wait_for_topic(producer, o);
  rd_kafka_t* consumer = new_consumer(o);
  wait_for_topic(consumer, o);
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(producer, o.topic.c_str(), nullptr);

  const long total = static_cast<long>(double(o.rate) * o.duration_s);
  const long warmup = static_cast<long>(double(o.rate) * o.warmup_s);
  histogram hist;
  std::atomic<long> consumed{0};
  std::atomic<bool> stop{false};
  long bad = 0;
  // Records of this run carry a random tag: anything else in the topic (an
  // earlier run's records) is skipped, not measured.
  const uint64_t nonce = (static_cast<uint64_t>(now_ns()) * 0x9E3779B97F4A7C15ull) ^
                         (static_cast<uint64_t>(::getpid()) << 32);

  // The consumer is assigned (from the beginning of a fresh topic) and has
  // started fetching before the first record is produced.
  assign_all(consumer, o);
  std::thread reader([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 50);
      if (m == nullptr) continue;
      int64_t now = now_ns();
      uint64_t tag = 0;
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->len >= 24) {
        std::memcpy(&tag, static_cast<const char*>(m->payload) + 16, 8);
      }
      if (tag == nonce) {
        int64_t sent;
        int64_t seq;
        std::memcpy(&sent, m->payload, 8);
        std::memcpy(&seq, static_cast<const char*>(m->payload) + 8, 8);
        if (seq >= warmup) hist.record(now - sent);
        consumed.fetch_add(1, std::memory_order_relaxed);
      } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        ++bad;
        if (bad <= 5) std::fprintf(stderr, "kafka_load: consume: %s\n", rd_kafka_message_errstr(m));
      }
      rd_kafka_message_destroy(m);
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));

  std::vector<char> payload(static_cast<size_t>(o.size));
  for (size_t i = 24; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i % 26);
  std::memcpy(payload.data() + 16, &nonce, 8);
  const double interval_ns = 1e9 / double(o.rate);
  int64_t cpu0 = process_cpu_ns();
  const int64_t t0 = now_ns();
  long late_max_ns = 0;
  bool ok = true;
  for (long i = 0; i < total && ok;) {
    int64_t now = now_ns();
    // Produce every record whose intended send time has come.
    while (i < total && ok) {
      int64_t due = t0 + static_cast<int64_t>(double(i) * interval_ns);
      if (due > now) break;
      late_max_ns = std::max<long>(late_max_ns, static_cast<long>(now - due));
      std::memcpy(payload.data(), &due, 8);
      int64_t seq = i;
      std::memcpy(payload.data() + 8, &seq, 8);
      ok = produce_one(producer, rkt, static_cast<int32_t>(i % o.partitions), payload.data(),
                       payload.size(), RD_KAFKA_MSG_F_COPY);
      ++i;
    }
    rd_kafka_poll(producer, 0);
    if (i < total) {
      int64_t due = t0 + static_cast<int64_t>(double(i) * interval_ns);
      int64_t wait = due - now_ns();
      if (wait > 0) {
        timespec ts{static_cast<time_t>(wait / 1'000'000'000),
                    static_cast<long>(wait % 1'000'000'000)};
        ::nanosleep(&ts, nullptr);
      }
    }
  }
  const int64_t t_end_produce = now_ns();
  int64_t deadline = t_end_produce + int64_t{o.timeout_s} * 1'000'000'000;
  while (rd_kafka_outq_len(producer) > 0 && now_ns() < deadline) rd_kafka_poll(producer, 10);
  while (consumed.load() < total && now_ns() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  stop = true;
  reader.join();
  int64_t cpu1 = process_cpu_ns();

  long got = consumed.load();
  double achieved = double(total) / (double(t_end_produce - t0) / 1e9);
  auto us = [](int64_t ns) { return double(ns) / 1e3; };
  std::printf(
      "{%s,\"rate\":%ld,\"achieved_rate\":%.1f,\"duration_s\":%.3f,\"warmup_s\":%.3f,"
      "\"produced\":%ld,\"delivered\":%ld,\"consumed\":%ld,\"measured\":%llu,"
      "\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,"
      "\"max_us\":%.1f,\"min_us\":%.1f,\"mean_us\":%.1f,\"producer_late_max_us\":%.1f,"
      "\"client_cpu_ns_per_record\":%.1f}\n",
      common_json(o).c_str(), o.rate, achieved, o.duration_s, o.warmup_s, total,
      st.delivered.load(), got, static_cast<unsigned long long>(hist.total()),
      us(hist.quantile(0.5)), us(hist.quantile(0.9)), us(hist.quantile(0.99)),
      us(hist.quantile(0.999)), us(hist.max()), us(hist.min()), hist.mean() / 1e3, us(late_max_ns),
      got > 0 ? double(cpu1 - cpu0) / got : 0.0);
  std::fprintf(stderr,
               "latency %s: %ld records/s x %.1f s, %ld B, %d partition(s), acks=%s: "
               "p50 %.0f us, p99 %.0f us, p99.9 %.0f us, max %.0f us (%llu measured, %ld/%ld "
               "consumed)\n",
               o.label.c_str(), o.rate, o.duration_s, o.size, o.partitions, o.acks.c_str(),
               us(hist.quantile(0.5)), us(hist.quantile(0.99)), us(hist.quantile(0.999)),
               us(hist.max()), static_cast<unsigned long long>(hist.total()), got, total);
  std::fflush(stdout);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_assign(consumer, nullptr);
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  rd_kafka_destroy(producer);
  return got >= total && st.delivered.load() == total ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  options o = parse(argc, argv);
  if (o.mode == "produce") return run_produce(o);
  if (o.mode == "consume") return run_consume(o);
  if (o.mode == "delete") return run_delete(o);
  return run_latency(o);
}
