// rdkafka_roundtrip BOOTSTRAP TOPIC [COUNT]
//
// A librdkafka C++ client against a running broker (test_rdkafka.py starts
// it): an acks=all idempotent producer sends COUNT messages, every delivery
// report must be a success; a consumer assigned to every partition from the
// beginning reads exactly those COUNT messages back; a consumer assigned from
// the end sees only what is produced after it started. Exit status 0 on
// success, 1 with a message on stderr on the first failure, 2 on bad usage.
// Every wait is bounded.

#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "rdkafka_roundtrip: FAILED: %s\n", what.c_str());
  std::exit(1);
}

void set(RdKafka::Conf& conf, const std::string& key, const std::string& value) {
  std::string err;
  if (conf.set(key, value, err) != RdKafka::Conf::CONF_OK) fail("config " + key + ": " + err);
}

struct delivery_log : RdKafka::DeliveryReportCb {
  int ok = 0;
  int failed = 0;
  std::string first_error;
  std::map<int32_t, std::vector<int64_t>> offsets;  // per partition

  void dr_cb(RdKafka::Message& m) override {
    if (m.err() != RdKafka::ERR_NO_ERROR) {
      if (failed++ == 0) first_error = m.errstr();
      return;
    }
    ++ok;
    offsets[m.partition()].push_back(m.offset());
  }
};

struct error_log : RdKafka::EventCb {
  bool fatal = false;
  std::string fatal_error;
  void event_cb(RdKafka::Event& e) override {
    if (e.type() == RdKafka::Event::EVENT_ERROR && e.fatal()) {
      fatal = true;
      fatal_error = RdKafka::err2str(e.err()) + ": " + e.str();
    }
  }
};

std::string value_of(const std::string& tag, int i) {
  std::string v = tag + "-" + std::to_string(i) + "-";
  v.append(static_cast<size_t>(i % 200), static_cast<char>('a' + i % 26));
  v.push_back('\0');  // binary-safe
  v.push_back(static_cast<char>(0xff));
  return v;
}

std::string key_of(int i) { return "key-" + std::to_string(i % 64); }

// Produces messages [first, first + count) tagged `tag`, waits for every
// delivery report (bounded), and fails unless all of them succeeded.
void produce(RdKafka::Producer& producer, delivery_log& dr, error_log& errors,
             const std::string& topic, const std::string& tag, int first, int count) {
  const int ok_before = dr.ok;
  for (int i = first; i < first + count; ++i) {
    std::string v = value_of(tag, i);
    std::string k = key_of(i);
    for (int attempt = 0;; ++attempt) {
      RdKafka::ErrorCode rc =
          producer.produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                           v.data(), v.size(), k.data(), k.size(), 0, nullptr);
      if (rc == RdKafka::ERR_NO_ERROR) break;
      if (rc != RdKafka::ERR__QUEUE_FULL || attempt > 1000)
        fail("produce: " + RdKafka::err2str(rc));
      producer.poll(10);
    }
    producer.poll(0);
  }
  RdKafka::ErrorCode rc = producer.flush(30000);
  if (rc != RdKafka::ERR_NO_ERROR) fail("flush: " + RdKafka::err2str(rc));
  if (errors.fatal) fail("fatal producer error: " + errors.fatal_error);
  if (dr.failed != 0)
    fail(std::to_string(dr.failed) + " delivery reports failed, first: " + dr.first_error);
  if (dr.ok - ok_before != count)
    fail("expected " + std::to_string(count) + " delivery reports, got " +
         std::to_string(dr.ok - ok_before));
}

std::vector<int32_t> partitions_of(RdKafka::Handle& handle, const std::string& topic) {
  std::string err;
  std::unique_ptr<RdKafka::Topic> t(RdKafka::Topic::create(&handle, topic, nullptr, err));
  if (!t) fail("Topic::create: " + err);
  RdKafka::Metadata* raw = nullptr;
  RdKafka::ErrorCode rc = handle.metadata(false, t.get(), &raw, 10000);
  if (rc != RdKafka::ERR_NO_ERROR) fail("metadata: " + RdKafka::err2str(rc));
  std::unique_ptr<RdKafka::Metadata> md(raw);
  std::vector<int32_t> parts;
  for (const auto* tm : *md->topics()) {
    if (tm->topic() != topic) continue;
    if (tm->err() != RdKafka::ERR_NO_ERROR)
      fail("metadata of topic: " + RdKafka::err2str(tm->err()));
    for (const auto* pm : *tm->partitions()) parts.push_back(pm->id());
  }
  if (parts.empty()) fail("topic " + topic + " has no partitions in the metadata");
  return parts;
}

std::unique_ptr<RdKafka::KafkaConsumer> make_consumer(const std::string& bootstrap) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  set(*conf, "bootstrap.servers", bootstrap);
  // KafkaConsumer insists on a group id; nothing is joined or committed.
  set(*conf, "group.id", "sluice-it-rdkafka-assign-only");
  set(*conf, "enable.auto.commit", "false");
  set(*conf, "enable.auto.offset.store", "false");
  set(*conf, "fetch.wait.max.ms", "100");
  std::string err;
  std::unique_ptr<RdKafka::KafkaConsumer> c(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!c) fail("KafkaConsumer::create: " + err);
  return c;
}

// Consumes until `count` messages arrived or `timeout` passed, then keeps
// polling for `settle` to see any message too many.
std::vector<std::pair<int32_t, std::string>> consume(RdKafka::KafkaConsumer& c, int count,
                                                     std::chrono::milliseconds timeout,
                                                     std::chrono::milliseconds settle) {
  std::vector<std::pair<int32_t, std::string>> out;
  std::map<int32_t, int64_t> last_offset;
  auto take = [&](RdKafka::Message* m) {
    std::unique_ptr<RdKafka::Message> msg(m);
    if (msg->err() == RdKafka::ERR__TIMED_OUT || msg->err() == RdKafka::ERR__PARTITION_EOF) return;
    if (msg->err() != RdKafka::ERR_NO_ERROR) fail("consume: " + msg->errstr());
    auto it = last_offset.find(msg->partition());
    if (it != last_offset.end() && msg->offset() != it->second + 1)
      fail("partition " + std::to_string(msg->partition()) + ": offset " +
           std::to_string(msg->offset()) + " after " + std::to_string(it->second));
    last_offset[msg->partition()] = msg->offset();
    out.emplace_back(msg->partition(),
                     std::string(static_cast<const char*>(msg->payload()), msg->len()));
  };
  auto deadline = clock_type::now() + timeout;
  while (static_cast<int>(out.size()) < count && clock_type::now() < deadline) take(c.consume(200));
  auto settle_end = clock_type::now() + settle;
  while (clock_type::now() < settle_end) take(c.consume(100));
  return out;
}

void expect_values(const std::vector<std::pair<int32_t, std::string>>& got, const std::string& tag,
                   int first, int count, const char* what) {
  if (static_cast<int>(got.size()) != count)
    fail(std::string(what) + ": expected " + std::to_string(count) + " messages, got " +
         std::to_string(got.size()));
  std::set<std::string> want;
  for (int i = first; i < first + count; ++i) want.insert(value_of(tag, i));
  std::set<std::string> seen;
  for (const auto& [part, value] : got) {
    if (!want.count(value))
      fail(std::string(what) + ": unexpected message in partition " + std::to_string(part) + ": " +
           value.substr(0, 40));
    if (!seen.insert(value).second) fail(std::string(what) + ": duplicate " + value.substr(0, 40));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4) {
    std::fprintf(stderr, "usage: %s BOOTSTRAP TOPIC [COUNT]\n", argv[0]);
    return 2;
  }
  const std::string bootstrap = argv[1];
  const std::string topic = argv[2];
  const int count = argc == 4 ? std::atoi(argv[3]) : 10000;
  if (count <= 0) {
    std::fprintf(stderr, "COUNT must be positive\n");
    return 2;
  }

  delivery_log dr;
  error_log errors;
  std::unique_ptr<RdKafka::Conf> pconf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  set(*pconf, "bootstrap.servers", bootstrap);
  set(*pconf, "acks", "all");
  set(*pconf, "enable.idempotence", "true");
  set(*pconf, "linger.ms", "5");
  set(*pconf, "message.timeout.ms", "30000");
  std::string err;
  if (pconf->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(&dr), err) !=
      RdKafka::Conf::CONF_OK)
    fail("dr_cb: " + err);
  if (pconf->set("event_cb", static_cast<RdKafka::EventCb*>(&errors), err) !=
      RdKafka::Conf::CONF_OK)
    fail("event_cb: " + err);
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(pconf.get(), err));
  if (!producer) fail("Producer::create: " + err);

  // 1. acks=all, idempotent: every delivery report succeeds, offsets dense.
  produce(*producer, dr, errors, topic, "first", 0, count);
  for (auto& [part, offs] : dr.offsets) {
    std::set<int64_t> uniq(offs.begin(), offs.end());
    if (uniq.size() != offs.size() || *uniq.begin() != 0 ||
        *uniq.rbegin() != static_cast<int64_t>(offs.size()) - 1)
      fail("delivered offsets of partition " + std::to_string(part) + " are not 0.." +
           std::to_string(offs.size() - 1));
  }
  std::printf("produced %d messages (acks=all, idempotent) into %zu partitions\n", count,
              dr.offsets.size());

  const std::vector<int32_t> parts = partitions_of(*producer, topic);

  // 2. From the beginning: all of them.
  {
    auto c = make_consumer(bootstrap);
    std::vector<RdKafka::TopicPartition*> tps;
    for (int32_t p : parts)
      tps.push_back(RdKafka::TopicPartition::create(topic, p, RdKafka::Topic::OFFSET_BEGINNING));
    RdKafka::ErrorCode rc = c->assign(tps);
    RdKafka::TopicPartition::destroy(tps);
    if (rc != RdKafka::ERR_NO_ERROR) fail("assign: " + RdKafka::err2str(rc));
    auto got = consume(*c, count, std::chrono::seconds(60), std::chrono::milliseconds(500));
    expect_values(got, "first", 0, count, "from the beginning");
    c->close();
    std::printf("consumed %d messages from the beginning\n", count);
  }

  // 3. From the end: only what is produced after the offsets are resolved.
  {
    auto c = make_consumer(bootstrap);
    std::vector<RdKafka::TopicPartition*> tps;
    for (int32_t p : parts)
      tps.push_back(RdKafka::TopicPartition::create(topic, p, RdKafka::Topic::OFFSET_END));
    RdKafka::ErrorCode rc = c->assign(tps);
    if (rc != RdKafka::ERR_NO_ERROR) fail("assign: " + RdKafka::err2str(rc));
    // Wait until the logical end is resolved and the consumer fetches: the
    // cached high watermarks come from fetch responses. (position() stays
    // invalid until a message reaches the application.)
    auto deadline = clock_type::now() + std::chrono::seconds(20);
    std::map<int32_t, int64_t> high;
    while (high.size() < parts.size() && clock_type::now() < deadline) {
      std::unique_ptr<RdKafka::Message> m(c->consume(100));
      if (m->err() == RdKafka::ERR_NO_ERROR) fail("a message before anything new was produced");
      for (int32_t p : parts) {
        int64_t lo = -1, hi = -1;
        if (c->get_watermark_offsets(topic, p, &lo, &hi) == RdKafka::ERR_NO_ERROR && hi >= 0)
          high[p] = hi;
      }
    }
    RdKafka::TopicPartition::destroy(tps);
    if (high.size() < parts.size()) fail("not fetching from OFFSET_END within 20 s");
    int64_t total_end = 0;
    for (auto& [p, hi] : high) total_end += hi;
    if (total_end != count)
      fail("the high watermarks add up to " + std::to_string(total_end) + ", not " +
           std::to_string(count));

    const int more = count / 10 + 1;
    produce(*producer, dr, errors, topic, "second", 0, more);
    auto got = consume(*c, more, std::chrono::seconds(60), std::chrono::milliseconds(1000));
    expect_values(got, "second", 0, more, "from the end");
    c->close();
    std::printf("consumed only the %d new messages from the end\n", more);
  }

  producer.reset();
  RdKafka::wait_destroyed(10000);
  std::printf("rdkafka_roundtrip: OK\n");
  return 0;
}
