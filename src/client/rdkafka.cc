#include "client/rdkafka.h"

#include <unistd.h>

#include <algorithm>

#include "client/socket_util.h"

namespace sluice::client {
namespace {

base::result<void> set(rd_kafka_conf_t* c, const std::string& key, const std::string& value) {
  char errstr[512];
  if (rd_kafka_conf_set(c, key.c_str(), value.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
    return base::fail("client setting " + key + "=" + value + ": " + errstr);
  }
  return {};
}

int timeout_ms(std::chrono::milliseconds timeout) {
  return static_cast<int>(std::clamp<int64_t>(timeout.count(), 1, 24L * 3600 * 1000));
}

}  // namespace

std::string describe(rd_kafka_resp_err_t error) {
  return std::string(rd_kafka_err2name(error)) + ": " + rd_kafka_err2str(error);
}

base::result<conf> make_conf(const connection_settings& settings, const property_list& defaults) {
  conf c(rd_kafka_conf_new());
  auto ok = set(c.get(), "bootstrap.servers", settings.bootstrap);
  if (!ok) return base::unexpected(ok.error());
  // librdkafka logs connection trouble on stderr by itself; the tool reports
  // failures once, as errors, so only real warnings should get through.
  ok = set(c.get(), "log_level", "4");
  if (!ok) return base::unexpected(ok.error());
  // A tool asking about a topic must not create it: librdkafka producers
  // (unlike consumers) ask the broker to auto-create any topic whose metadata
  // they request, so a typo would become a topic.
  ok = set(c.get(), "allow.auto.create.topics", "false");
  if (!ok) return base::unexpected(ok.error());
  for (const auto* list : {&defaults, &settings.properties}) {
    for (const auto& [key, value] : *list) {
      ok = set(c.get(), key, value);
      if (!ok) return base::unexpected(ok.error());
    }
  }
  return c;
}

base::result<handle> make_handle(rd_kafka_type_t type, conf configuration) {
  char errstr[512];
  // rd_kafka_new takes the configuration only when it succeeds.
  rd_kafka_t* rk = rd_kafka_new(type, configuration.get(), errstr, sizeof errstr);
  if (rk == nullptr) return base::fail(std::string("cannot create a Kafka client: ") + errstr);
  configuration.release();
  return handle(rk);
}

base::result<void> check_reachable(const connection_settings& settings,
                                   std::chrono::milliseconds timeout) {
  auto addresses = split_bootstrap(settings.bootstrap);
  if (addresses.empty()) return base::fail("no broker address given: set --brokers host:port");
  std::string reasons;
  for (const auto& address : addresses) {
    auto fd = connect_tcp(address, timeout);
    if (fd) {
      ::close(*fd);
      return {};
    }
    if (!reasons.empty()) reasons += "; ";
    reasons += fd.error().message;
  }
  return base::fail("cannot reach a broker (" + reasons +
                    "): is it running? Point to it with --brokers or $SLUICE_BROKERS");
}

base::result<handle> connect(rd_kafka_type_t type, const connection_settings& settings,
                             const property_list& defaults,
                             const std::function<void(rd_kafka_conf_t*)>& prepare) {
  auto configuration = make_conf(settings, defaults);
  if (!configuration) return base::unexpected(configuration.error());
  if (prepare) prepare(configuration->get());
  auto reachable =
      check_reachable(settings, std::min(settings.timeout, std::chrono::milliseconds(5000)));
  if (!reachable) return base::unexpected(reachable.error());
  return make_handle(type, std::move(*configuration));
}

base::result<cluster_metadata> fetch_metadata(rd_kafka_t* rk,
                                              const std::optional<std::string>& topic,
                                              std::chrono::milliseconds timeout) {
  const rd_kafka_metadata_t* raw = nullptr;
  rd_kafka_resp_err_t error;
  if (topic) {
    // A topic handle makes librdkafka request just that topic; make_conf's
    // allow.auto.create.topics=false keeps that from creating it.
    client::topic t(rd_kafka_topic_new(rk, topic->c_str(), nullptr));
    error = rd_kafka_metadata(rk, 0, t.get(), &raw, timeout_ms(timeout));
  } else {
    error = rd_kafka_metadata(rk, 1, nullptr, &raw, timeout_ms(timeout));
  }
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return base::fail("metadata request failed: " + describe(error));
  }
  metadata owner(raw);
  cluster_metadata out;
  for (int i = 0; i < raw->broker_cnt; ++i) {
    out.brokers.push_back({raw->brokers[i].id, raw->brokers[i].host, raw->brokers[i].port});
  }
  for (int i = 0; i < raw->topic_cnt; ++i) {
    const auto& t = raw->topics[i];
    topic_info info{t.topic, t.err, {}};
    for (int p = 0; p < t.partition_cnt; ++p) {
      const auto& part = t.partitions[p];
      partition_info pi;
      pi.id = part.id;
      pi.leader = part.leader;
      pi.error = part.err;
      pi.replicas.assign(part.replicas, part.replicas + part.replica_cnt);
      pi.isr.assign(part.isrs, part.isrs + part.isr_cnt);
      info.partitions.push_back(std::move(pi));
    }
    std::sort(info.partitions.begin(), info.partitions.end(),
              [](const auto& a, const auto& b) { return a.id < b.id; });
    out.topics.push_back(std::move(info));
  }
  std::sort(out.brokers.begin(), out.brokers.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  std::sort(out.topics.begin(), out.topics.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  if (char* id = rd_kafka_clusterid(rk, timeout_ms(timeout))) {
    out.cluster_id = id;
    rd_kafka_mem_free(rk, id);
  }
  out.controller_id = rd_kafka_controllerid(rk, timeout_ms(timeout));
  return out;
}

base::result<watermarks> query_watermarks(rd_kafka_t* rk, const std::string& topic,
                                          int32_t partition, std::chrono::milliseconds timeout) {
  watermarks w;
  auto error = rd_kafka_query_watermark_offsets(rk, topic.c_str(), partition, &w.low, &w.high,
                                                timeout_ms(timeout));
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return base::fail("offsets of " + topic + "/" + std::to_string(partition) + ": " +
                      describe(error));
  }
  return w;
}

base::result<std::vector<int64_t>> offsets_for_times(rd_kafka_t* rk,
                                                     const std::vector<timestamp_query>& query,
                                                     std::chrono::milliseconds timeout) {
  partition_list list(rd_kafka_topic_partition_list_new(static_cast<int>(query.size())));
  for (const auto& q : query) {
    rd_kafka_topic_partition_list_add(list.get(), q.topic.c_str(), q.partition)->offset =
        q.timestamp_ms;
  }
  auto error = rd_kafka_offsets_for_times(rk, list.get(), timeout_ms(timeout));
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return base::fail("offsets by timestamp: " + describe(error));
  }
  std::vector<int64_t> out;
  for (int i = 0; i < list->cnt; ++i) {
    const auto& e = list->elems[i];
    if (e.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return base::fail("offset by timestamp of " + std::string(e.topic) + "/" +
                        std::to_string(e.partition) + ": " + describe(e.err));
    }
    out.push_back(e.offset);
  }
  return out;
}

base::result<admin_options> make_admin_options(rd_kafka_t* rk, rd_kafka_admin_op_t op,
                                               std::chrono::milliseconds timeout) {
  admin_options options(rd_kafka_AdminOptions_new(rk, op));
  char errstr[512];
  if (rd_kafka_AdminOptions_set_request_timeout(options.get(), timeout_ms(timeout), errstr,
                                                sizeof errstr) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return base::fail(std::string("admin request timeout: ") + errstr);
  }
  return options;
}

base::result<event> wait_admin_result(rd_kafka_queue_t* q, rd_kafka_event_type_t expected,
                                      std::chrono::milliseconds timeout) {
  // The request carries its own timeout; the extra second lets its timeout
  // error arrive as the result instead of racing it here.
  event e(rd_kafka_queue_poll(q, timeout_ms(timeout + std::chrono::seconds(1))));
  if (!e)
    return base::fail("no answer from the cluster within " + std::to_string(timeout.count()) +
                      " ms");
  if (rd_kafka_event_error(e.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return base::fail(std::string(rd_kafka_err2name(rd_kafka_event_error(e.get()))) + ": " +
                      rd_kafka_event_error_string(e.get()));
  }
  if (rd_kafka_event_type(e.get()) != expected) {
    return base::fail(std::string("unexpected answer: ") + rd_kafka_event_name(e.get()));
  }
  return e;
}

}  // namespace sluice::client
