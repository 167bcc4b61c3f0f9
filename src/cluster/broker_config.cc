#include "cluster/broker_config.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <type_traits>

#include "cluster/config_value.h"

namespace sluice::cluster {

// ---------------------------------------------------------------------------
// Values shared with topic_config.cc (config_value.h).

namespace config_value {
namespace {

checked bad(std::string message) { return base::unexpected(std::move(message)); }

// Kafka's parsers (Integer.parseInt, Double.parseDouble) take a leading '+';
// from_chars does not.
std::string_view without_plus(std::string_view s) {
  if (s.size() > 1 && s[0] == '+' && s[1] != '-' && s[1] != '+') s.remove_prefix(1);
  return s;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

template <typename T>
bool parse_number(std::string_view s, T& out) {
  s = without_plus(trim(s));
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && end == s.data() + s.size();
}

}  // namespace

std::string_view trim(std::string_view s) {
  // Java's String.trim(): everything up to and including ' ' is blank.
  while (!s.empty() && static_cast<unsigned char>(s.front()) <= ' ') s.remove_prefix(1);
  while (!s.empty() && static_cast<unsigned char>(s.back()) <= ' ') s.remove_suffix(1);
  return s;
}

checked check_integer(std::string_view value, int64_t min, int64_t max, std::string_view note) {
  std::string expected =
      "expected an integer from " + std::to_string(min) + " to " + std::to_string(max);
  if (!note.empty()) expected += " (" + std::string(note) + ")";
  std::string_view digits = without_plus(trim(value));
  int64_t v = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (digits.empty() || end != digits.data() + digits.size() ||
      (ec != std::errc{} && ec != std::errc::result_out_of_range)) {
    return bad("'" + std::string(value) + "' is not an integer; " + expected);
  }
  if (ec == std::errc::result_out_of_range || v < min || v > max) {
    return bad(std::string(trim(value)) + " is out of range; " + expected);
  }
  return std::to_string(v);
}

checked check_boolean(std::string_view value) {
  std::string_view t = trim(value);
  if (equals_ignoring_case(t, "true")) return std::string("true");
  if (equals_ignoring_case(t, "false")) return std::string("false");
  return bad("'" + std::string(value) + "' is not a boolean; expected true or false");
}

checked check_ratio(std::string_view value) {
  double v = 0;
  if (!parse_number(value, v) || !std::isfinite(v)) {
    return bad("'" + std::string(value) + "' is not a number; expected a number from 0 to 1");
  }
  if (v < 0 || v > 1) {
    return bad(std::string(trim(value)) + " is out of range; expected a number from 0 to 1");
  }
  return format_double(v);
}

checked check_cleanup_policy(std::string_view value) {
  bool compact = false, remove = false, valid = true;
  std::string_view rest = value;
  while (valid) {
    size_t comma = rest.find(',');
    std::string_view item = trim(rest.substr(0, comma));
    if (item == "compact") {
      compact = true;
    } else if (item == "delete") {
      remove = true;
    } else {
      valid = false;
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (!valid) {
    return bad("'" + std::string(value) +
               "' is not a cleanup policy; expected delete, compact or compact,delete");
  }
  if (compact && remove) return std::string("compact,delete");
  return std::string(compact ? "compact" : "delete");
}

checked check_timestamp_type(std::string_view value) {
  std::string_view t = trim(value);
  if (t == "CreateTime" || t == "LogAppendTime") return std::string(t);
  return bad("'" + std::string(value) +
             "' is not a timestamp type; expected CreateTime or LogAppendTime");
}

checked check_compression_type(std::string_view value) {
  std::string_view t = trim(value);
  for (std::string_view name : {"producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"}) {
    if (t == name) return std::string(t);
  }
  return bad("'" + std::string(value) +
             "' is not a compression type; expected producer, uncompressed, gzip, snappy, lz4 "
             "or zstd");
}

int64_t to_integer(std::string_view checked_value) {
  int64_t v = 0;
  return parse_number(checked_value, v) ? v : 0;
}

bool to_boolean(std::string_view checked_value) {
  return equals_ignoring_case(trim(checked_value), "true");
}

double to_double(std::string_view checked_value) {
  double v = 0;
  return parse_number(checked_value, v) ? v : 0;
}

storage::cleanup_policy to_cleanup_policy(std::string_view checked_value) {
  bool compact = checked_value.find("compact") != std::string_view::npos;
  bool remove = checked_value.find("delete") != std::string_view::npos;
  if (compact && remove) return storage::cleanup_policy::compact_and_remove;
  return compact ? storage::cleanup_policy::compact : storage::cleanup_policy::remove;
}

std::string format_double(double v) {
  char buffer[32];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, v);
  std::string s(buffer, ec == std::errc{} ? end : buffer);
  if (s.find_first_of(".en") == std::string::npos) s += ".0";  // Java prints 1 as "1.0"
  return s;
}

std::string_view format_cleanup_policy(storage::cleanup_policy policy) {
  switch (policy) {
    case storage::cleanup_policy::remove:
      return "delete";
    case storage::cleanup_policy::compact:
      return "compact";
    case storage::cleanup_policy::compact_and_remove:
      return "compact,delete";
  }
  return "delete";
}

}  // namespace config_value

// ---------------------------------------------------------------------------
// Listeners.

namespace {

std::string format_endpoint(const endpoint& e) {
  bool ipv6 = e.host.find(':') != std::string::npos;
  return e.listener_name + "://" + (ipv6 ? "[" + e.host + "]" : e.host) + ":" +
         std::to_string(e.port);
}

std::string format_endpoints(const std::vector<endpoint>& endpoints) {
  std::string out;
  for (const endpoint& e : endpoints) {
    if (!out.empty()) out += ",";
    out += format_endpoint(e);
  }
  return out;
}

}  // namespace

base::result<std::vector<endpoint>, config_error> parse_listeners(std::string_view key,
                                                                  std::string_view value) {
  auto fail = [&](std::string message) {
    return base::unexpected(config_error{std::string(key), std::move(message)});
  };
  std::vector<endpoint> out;
  std::string_view rest = value;
  while (true) {
    size_t comma = rest.find(',');
    std::string_view item = config_value::trim(rest.substr(0, comma));
    if (!item.empty()) {
      std::string not_a_listener = "'" + std::string(item) +
                                   "' is not a listener; expected NAME://host:port, e.g. "
                                   "PLAINTEXT://127.0.0.1:9092 (an IPv6 host in brackets)";
      size_t scheme = item.find("://");
      if (scheme == std::string_view::npos || scheme == 0) return fail(not_a_listener);
      endpoint e;
      for (char c : item.substr(0, scheme)) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') {
          return fail(not_a_listener);
        }
        // Kafka upper-cases listener names (ListenerName.normalised).
        e.listener_name.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
      }
      std::string_view address = item.substr(scheme + 3);
      std::string_view port;
      if (address.starts_with('[')) {
        size_t close = address.find(']');
        if (close == std::string_view::npos || address.substr(close + 1, 1) != ":") {
          return fail(not_a_listener);
        }
        e.host = address.substr(1, close - 1);
        port = address.substr(close + 2);
      } else {
        size_t colon = address.rfind(':');
        if (colon == std::string_view::npos) return fail(not_a_listener);
        e.host = address.substr(0, colon);
        if (e.host.find(':') != std::string::npos) return fail(not_a_listener);
        port = address.substr(colon + 1);
      }
      auto p = config_value::check_integer(port, 0, 65535);
      if (!p) return fail("port of '" + std::string(item) + "': " + p.error());
      e.port = static_cast<uint16_t>(config_value::to_integer(*p));
      for (const endpoint& other : out) {
        if (other.listener_name == e.listener_name) {
          return fail("listener name " + e.listener_name +
                      " appears twice; expected each listener to have its own name");
        }
      }
      out.push_back(std::move(e));
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (out.empty()) return fail("no listener given; expected NAME://host:port[,...]");
  return out;
}

// ---------------------------------------------------------------------------
// The table of broker keys.

namespace {

using config_value::check_fn;
using config_value::checked;

constexpr int64_t int16_max = std::numeric_limits<int16_t>::max();
constexpr int64_t int32_max = std::numeric_limits<int32_t>::max();
constexpr int64_t int64_max = std::numeric_limits<int64_t>::max();
constexpr int64_t ms_per_minute = 60 * 1000;
constexpr int64_t ms_per_hour = 60 * ms_per_minute;

using store_fn = std::function<void(broker_config&, std::string_view checked_value)>;
using show_fn = std::function<std::string(const broker_config&)>;

// One broker key: load() checks and stores it, describe() reports it, from
// the same row.
struct broker_key {
  std::string_view name;
  config_type type;
  // The default as DescribeConfigs prints it; nullptr for Kafka's null.
  const char* default_value;
  std::string_view documentation;
  // Checks a value as given; returns it as Kafka prints it.
  check_fn check;
  // Stores a checked value into the config. Empty for keys that Sluice accepts
  // but does not act on, or that only topics read (from explicit_values).
  store_fn store;
  // The value in force, when it is not simply the value given or the default:
  // the keys that have fields, and those that synonyms also set.
  show_fn show;
};

check_fn integer(int64_t min, int64_t max, std::string_view note = {}) {
  return [=](std::string_view v) { return config_value::check_integer(v, min, max, note); };
}
check_fn boolean() { return config_value::check_boolean; }
check_fn any_string() {
  return [](std::string_view v) -> checked { return std::string(config_value::trim(v)); };
}
// A broker synonym of a topic key accepts exactly what the topic key does.
check_fn as_topic(std::string_view topic_key) {
  return [topic_key](std::string_view v) { return config_value::check_topic_value(topic_key, v); };
}
check_fn listeners(std::string_view key) {
  return [key](std::string_view v) -> checked {
    auto parsed = parse_listeners(key, v);
    if (!parsed) return base::unexpected(parsed.error().message);
    return format_endpoints(*parsed);
  };
}
check_fn paths() {
  return [](std::string_view v) -> checked {
    std::string out;
    std::string_view rest = v;
    while (true) {
      size_t comma = rest.find(',');
      std::string_view item = config_value::trim(rest.substr(0, comma));
      if (!item.empty()) out += (out.empty() ? "" : ",") + std::string(item);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    if (out.empty()) {
      return base::unexpected(
          std::string("no directory given; expected a path, or paths "
                      "separated by commas"));
    }
    return out;
  };
}

std::vector<std::string> split_paths(std::string_view checked_value) {
  std::vector<std::string> out;
  while (true) {
    size_t comma = checked_value.find(',');
    out.emplace_back(checked_value.substr(0, comma));
    if (comma == std::string_view::npos) return out;
    checked_value.remove_prefix(comma + 1);
  }
}

template <typename T>
store_fn field(T broker_config::*member) {
  return [member](broker_config& c, std::string_view v) {
    if constexpr (std::is_same_v<T, bool>) {
      c.*member = config_value::to_boolean(v);
    } else {
      c.*member = static_cast<T>(config_value::to_integer(v));
    }
  };
}
template <typename T>
show_fn shown(T broker_config::*member) {
  return [member](const broker_config& c) -> std::string {
    if constexpr (std::is_same_v<T, bool>) {
      return c.*member ? "true" : "false";
    } else {
      return std::to_string(c.*member);
    }
  };
}
store_fn to_log(std::string_view topic_key) {
  return [topic_key](broker_config& c, std::string_view v) {
    config_value::apply_topic_value(topic_key, v, c.log_defaults);
  };
}
show_fn from_log(std::string_view topic_key) {
  return [topic_key](const broker_config& c) {
    return config_value::log_config_value(topic_key, c.log_defaults).value_or("");
  };
}
// log.retention.minutes and .hours, log.roll.hours: a count of `unit`
// milliseconds; a negative count stays -1 (forever).
store_fn to_log_ms(int64_t storage::log_config::*member, int64_t unit) {
  return [member, unit](broker_config& c, std::string_view v) {
    int64_t n = config_value::to_integer(v);
    c.log_defaults.*member = n < 0 ? -1 : n * unit;
  };
}

// A given value as Kafka prints it (as given, should it not pass its check).
std::string given_value(const broker_key& key, std::string_view value) {
  auto v = key.check(value);
  return v ? *v : std::string(value);
}

// Where a key's value may come from, most specific first, with the source
// DescribeConfigs reports for it (the defaults come last, from the table).
struct layer {
  const base::properties& values;
  config_source source;
};
std::array<layer, 3> layers_of(const broker_config& c) {
  return {{{c.dynamic_broker_values, config_source::dynamic_broker},
           {c.dynamic_default_values, config_source::dynamic_default_broker},
           {c.explicit_values, config_source::static_broker}}};
}

// The value the most specific layer gives `key`, as given; nullopt when none does.
std::optional<std::string_view> layered_value(const broker_config& c, std::string_view key) {
  for (const layer& l : layers_of(c)) {
    if (auto it = l.values.find(key); it != l.values.end()) return it->second;
  }
  return std::nullopt;
}

// log.roll.jitter.ms has no field yet (the log does not jitter its rolls),
// so its value in force comes from the given keys.
std::string jitter_ms(const broker_config& c) {
  if (auto v = layered_value(c, "log.roll.jitter.ms")) {
    return std::to_string(config_value::to_integer(*v));
  }
  if (auto v = layered_value(c, "log.roll.jitter.hours")) {
    return std::to_string(config_value::to_integer(*v) * ms_per_hour);
  }
  return "0";
}

// Keys that set the same value, most specific first: the most specific one
// given wins (Kafka's precedence), and DescribeConfigs lists them as synonyms.
const std::vector<std::vector<std::string_view>>& synonym_groups() {
  static const std::vector<std::vector<std::string_view>> groups = {
      {"node.id", "broker.id"},
      {"log.dirs", "log.dir"},
      {"log.retention.ms", "log.retention.minutes", "log.retention.hours"},
      {"log.roll.ms", "log.roll.hours"},
      {"log.roll.jitter.ms", "log.roll.jitter.hours"},
  };
  return groups;
}

// `key` and its less specific synonyms, in precedence order.
std::vector<std::string_view> synonyms_from(std::string_view key) {
  for (const auto& group : synonym_groups()) {
    auto it = std::find(group.begin(), group.end(), key);
    if (it != group.end()) return {it, group.end()};
  }
  return {key};
}

// Whether a more specific synonym of `key` was given, which then wins.
bool overridden(std::string_view key, const base::properties& given) {
  for (const auto& group : synonym_groups()) {
    auto it = std::find(group.begin(), group.end(), key);
    if (it == group.end()) continue;
    return std::any_of(group.begin(), it, [&](std::string_view k) { return given.contains(k); });
  }
  return false;
}

const std::vector<broker_key>& broker_keys() {
  using T = config_type;
  using C = broker_config;
  static const std::vector<broker_key> keys = {
      // --- The broker.
      {"node.id", T::int32, "1", "The id of this broker (KRaft's name; broker.id is a synonym).",
       integer(0, int32_max), field(&C::node_id), shown(&C::node_id)},
      {"broker.id", T::int32, "1", "The id of this broker; node.id takes precedence.",
       integer(0, int32_max), field(&C::node_id), shown(&C::node_id)},
      {"listeners", T::list, "PLAINTEXT://127.0.0.1:9092",
       "Where the broker listens: NAME://host:port, comma separated; an empty host binds every "
       "interface, port 0 any free port.",
       listeners("listeners"),
       [](C& c, std::string_view v) { c.listeners = parse_listeners("listeners", v).value(); },
       [](const C& c) { return format_endpoints(c.listeners); }},
      {"advertised.listeners", T::list, "PLAINTEXT://127.0.0.1:9092",
       "The addresses clients are told to connect to; defaults to listeners.",
       listeners("advertised.listeners"),
       [](C& c, std::string_view v) {
         c.advertised_listeners = parse_listeners("advertised.listeners", v).value();
       },
       [](const C& c) { return format_endpoints(c.advertised_listeners); }},
      {"log.dirs", T::list, "./data",
       "The directories of the partition logs, comma separated; takes precedence over log.dir.",
       paths(), [](C& c, std::string_view v) { c.log_dirs = split_paths(v); },
       [](const C& c) {
         std::string out;
         for (const auto& d : c.log_dirs) out += (out.empty() ? "" : ",") + d;
         return out;
       }},
      {"log.dir", T::string, "./data",
       "The directory of the partition logs, unless log.dirs is set.", paths(),
       [](C& c, std::string_view v) { c.log_dirs = split_paths(v); }},
      {"num.partitions", T::int32, "1", "The partition count of topics created without one.",
       integer(1, int32_max), field(&C::num_partitions), shown(&C::num_partitions)},
      {"default.replication.factor", T::int32, "1",
       "The replication factor of topics created without one.", integer(1, int16_max),
       field(&C::default_replication_factor), shown(&C::default_replication_factor)},
      {"auto.create.topics.enable", T::boolean, "true",
       "Whether Metadata and Produce requests create the topics they name.", boolean(),
       field(&C::auto_create_topics_enable), shown(&C::auto_create_topics_enable)},
      {"delete.topic.enable", T::boolean, "true", "Whether DeleteTopics may delete topics.",
       boolean(), field(&C::delete_topic_enable), shown(&C::delete_topic_enable)},
      {"message.max.bytes", T::int32, "1048588",
       "The largest record batch the broker accepts (topic: max.message.bytes).",
       as_topic("max.message.bytes"), field(&C::message_max_bytes), shown(&C::message_max_bytes)},
      {"socket.request.max.bytes", T::int32, "104857600", "The largest request the broker reads.",
       integer(1, int32_max), field(&C::socket_request_max_bytes),
       shown(&C::socket_request_max_bytes)},
      {"fetch.max.bytes", T::int32, "57671680",
       "The most bytes the broker returns for one Fetch request, whatever the request asks.",
       integer(1024, int32_max), field(&C::fetch_max_bytes), shown(&C::fetch_max_bytes)},
      {"queued.max.requests", T::int32, "500",
       "How many requests of one connection may wait to be handled before the broker stops "
       "reading from it.",
       integer(1, int32_max), field(&C::queued_max_requests), shown(&C::queued_max_requests)},
      // Kafka's -1 means "no limit". Sluice keeps -1 to mean "not set": the
      // broker then bounds the bytes of queued requests itself (a multiple of
      // socket.request.max.bytes), since unbounded queues only move an
      // overload from the network into memory.
      {"queued.max.request.bytes", T::int64, "-1",
       "The bytes of requests that may wait to be handled; -1 lets the broker pick a bound from "
       "socket.request.max.bytes.",
       [](std::string_view v) -> checked {
         auto n = config_value::check_integer(v, -1, int64_max, "-1 lets the broker pick");
         if (n && *n == "0") {
           return base::unexpected(std::string(
               "0 is out of range; expected -1 (the broker picks a bound) or a positive number "
               "of bytes"));
         }
         return n;
       },
       field(&C::queued_max_request_bytes), shown(&C::queued_max_request_bytes)},
      {"connections.max.idle.ms", T::int64, "600000",
       "How long a connection may stay idle before the broker closes it; -1: never.",
       integer(-1, int64_max, "-1 means never"), field(&C::connections_max_idle_ms),
       shown(&C::connections_max_idle_ms)},
      {"max.connections", T::int32, "2147483647", "The most connections the broker accepts.",
       integer(0, int32_max), field(&C::max_connections), shown(&C::max_connections)},
      {"producer.id.expiration.ms", T::int32, "86400000",
       "How long a producer id's state is kept after its last write.", integer(1, int32_max),
       field(&C::producer_id_expiration_ms), shown(&C::producer_id_expiration_ms)},
      // --- Consumer groups (coordinator::group, kafka/group_coordinator).
      {"group.min.session.timeout.ms", T::int32, "6000",
       "The shortest session timeout a group member may ask for.", integer(0, int32_max),
       field(&C::group_min_session_timeout_ms), shown(&C::group_min_session_timeout_ms)},
      {"group.max.session.timeout.ms", T::int32, "1800000",
       "The longest session timeout a group member may ask for.", integer(0, int32_max),
       field(&C::group_max_session_timeout_ms), shown(&C::group_max_session_timeout_ms)},
      {"group.initial.rebalance.delay.ms", T::int32, "3000",
       "How long an empty group's first rebalance waits for more members.", integer(0, int32_max),
       field(&C::group_initial_rebalance_delay_ms), shown(&C::group_initial_rebalance_delay_ms)},
      {"group.max.size", T::int32, "2147483647", "The most members a group may have.",
       integer(1, int32_max), field(&C::group_max_size), shown(&C::group_max_size)},
      {"offsets.topic.num.partitions", T::int32, "50",
       "Partitions of __consumer_offsets when it is created.", integer(1, int32_max),
       field(&C::offsets_topic_num_partitions), shown(&C::offsets_topic_num_partitions)},
      {"offsets.topic.segment.bytes", T::int32, "104857600",
       "segment.bytes of __consumer_offsets when it is created.", integer(14, int32_max),
       field(&C::offsets_topic_segment_bytes), shown(&C::offsets_topic_segment_bytes)},
      {"offsets.retention.minutes", T::int32, "10080",
       "How long the committed offsets of a group without members are kept.", integer(1, int32_max),
       field(&C::offsets_retention_minutes), shown(&C::offsets_retention_minutes)},
      {"offsets.retention.check.interval.ms", T::int64, "600000",
       "How often expired committed offsets are looked for.", integer(1, int64_max),
       field(&C::offsets_retention_check_interval_ms),
       shown(&C::offsets_retention_check_interval_ms)},
      {"offset.metadata.max.bytes", T::int32, "4096",
       "The longest metadata string a committed offset may carry.", integer(0, int32_max),
       field(&C::offset_metadata_max_bytes), shown(&C::offset_metadata_max_bytes)},
      {"num.recovery.threads.per.data.dir", T::int32, "2",
       "Threads per log directory that open (and recover) the logs at startup.",
       integer(1, int32_max), field(&C::num_recovery_threads_per_data_dir),
       shown(&C::num_recovery_threads_per_data_dir)},
      // Kafka's default is Long.MAX (no periodic check); Sluice's flusher
      // checks flush.ms every second.
      {"log.flush.scheduler.interval.ms", T::int64, "1000",
       "How often the flusher looks for logs due for flush.ms.", integer(1, int64_max),
       field(&C::log_flush_scheduler_interval_ms), shown(&C::log_flush_scheduler_interval_ms)},
      {"log.retention.check.interval.ms", T::int64, "300000",
       "How often retention looks for segments to delete.", integer(1, int64_max),
       field(&C::log_retention_check_interval_ms), shown(&C::log_retention_check_interval_ms)},
      {"log.flush.offset.checkpoint.interval.ms", T::int32, "60000",
       "How often the recovery points are checkpointed.", integer(1, int32_max),
       field(&C::log_flush_offset_checkpoint_interval_ms),
       shown(&C::log_flush_offset_checkpoint_interval_ms)},
      {"log.cleaner.enable", T::boolean, "true",
       "Whether topics with cleanup.policy=compact are compacted.", boolean(),
       field(&C::log_cleaner_enable), shown(&C::log_cleaner_enable)},
      {"log.cleaner.backoff.ms", T::int64, "15000",
       "How long the cleaner sleeps when no log needs compacting.", integer(0, int64_max),
       field(&C::log_cleaner_backoff_ms), shown(&C::log_cleaner_backoff_ms)},
      {"log.cleaner.dedupe.buffer.size", T::int64, "134217728",
       "The memory the cleaner uses for its key map.", integer(1, int64_max),
       field(&C::log_cleaner_dedupe_buffer_size), shown(&C::log_cleaner_dedupe_buffer_size)},

      // --- Topic defaults the logs obey (broker.log_defaults).
      {"log.segment.bytes", T::int32, "1073741824", "Default of segment.bytes.",
       as_topic("segment.bytes"), to_log("segment.bytes"), from_log("segment.bytes")},
      {"log.roll.ms", T::int64, "604800000",
       "Default of segment.ms; takes precedence over log.roll.hours.", as_topic("segment.ms"),
       to_log("segment.ms"), from_log("segment.ms")},
      {"log.roll.hours", T::int32, "168", "Default of segment.ms, in hours.", integer(1, int32_max),
       to_log_ms(&storage::log_config::segment_ms, ms_per_hour)},
      {"log.index.size.max.bytes", T::int32, "10485760", "Default of segment.index.bytes.",
       as_topic("segment.index.bytes"), to_log("segment.index.bytes"),
       from_log("segment.index.bytes")},
      {"log.index.interval.bytes", T::int32, "4096", "Default of index.interval.bytes.",
       as_topic("index.interval.bytes"), to_log("index.interval.bytes"),
       from_log("index.interval.bytes")},
      {"log.retention.ms", T::int64, "604800000",
       "Default of retention.ms; takes precedence over log.retention.minutes and .hours.",
       as_topic("retention.ms"), to_log("retention.ms"), from_log("retention.ms")},
      {"log.retention.minutes", T::int32, nullptr,
       "Default of retention.ms, in minutes; takes precedence over log.retention.hours.",
       integer(-1, int32_max, "-1 means forever"),
       to_log_ms(&storage::log_config::retention_ms, ms_per_minute)},
      {"log.retention.hours", T::int32, "168", "Default of retention.ms, in hours.",
       integer(-1, int32_max, "-1 means forever"),
       to_log_ms(&storage::log_config::retention_ms, ms_per_hour)},
      {"log.retention.bytes", T::int64, "-1", "Default of retention.bytes.",
       as_topic("retention.bytes"), to_log("retention.bytes"), from_log("retention.bytes")},
      {"log.cleanup.policy", T::list, "delete", "Default of cleanup.policy.",
       as_topic("cleanup.policy"), to_log("cleanup.policy"), from_log("cleanup.policy")},
      {"log.cleaner.delete.retention.ms", T::int64, "86400000", "Default of delete.retention.ms.",
       as_topic("delete.retention.ms"), to_log("delete.retention.ms"),
       from_log("delete.retention.ms")},
      {"log.cleaner.min.cleanable.ratio", T::floating, "0.5",
       "Default of min.cleanable.dirty.ratio.", as_topic("min.cleanable.dirty.ratio"),
       to_log("min.cleanable.dirty.ratio"), from_log("min.cleanable.dirty.ratio")},
      {"log.cleaner.min.compaction.lag.ms", T::int64, "0", "Default of min.compaction.lag.ms.",
       as_topic("min.compaction.lag.ms"), to_log("min.compaction.lag.ms"),
       from_log("min.compaction.lag.ms")},
      {"log.flush.interval.messages", T::int64, "9223372036854775807", "Default of flush.messages.",
       as_topic("flush.messages"), to_log("flush.messages"), from_log("flush.messages")},
      {"log.flush.interval.ms", T::int64, "9223372036854775807", "Default of flush.ms.",
       as_topic("flush.ms"), to_log("flush.ms"), from_log("flush.ms")},
      {"log.flush.on.acks.all", T::boolean, "true",
       "Default of flush.on.acks.all (Sluice's own): fsync acks=all writes before acknowledging.",
       as_topic("flush.on.acks.all"), to_log("flush.on.acks.all"), from_log("flush.on.acks.all")},
      {"log.message.timestamp.type", T::string, "CreateTime", "Default of message.timestamp.type.",
       as_topic("message.timestamp.type"), to_log("message.timestamp.type"),
       from_log("message.timestamp.type")},

      // --- Topic defaults that only topics read (stored in explicit_values).
      {"compression.type", T::string, "producer", "Default of the topic's compression.type.",
       as_topic("compression.type")},
      {"min.insync.replicas", T::int32, "1", "Default of the topic's min.insync.replicas.",
       as_topic("min.insync.replicas")},
      {"unclean.leader.election.enable", T::boolean, "false",
       "Default of the topic's unclean.leader.election.enable.",
       as_topic("unclean.leader.election.enable")},
      {"log.preallocate", T::boolean, "false", "Default of preallocate.", as_topic("preallocate")},
      {"log.segment.delete.delay.ms", T::int64, "60000", "Default of file.delete.delay.ms.",
       as_topic("file.delete.delay.ms")},
      {"log.cleaner.max.compaction.lag.ms", T::int64, "9223372036854775807",
       "Default of max.compaction.lag.ms.", as_topic("max.compaction.lag.ms")},
      {"log.message.timestamp.difference.max.ms", T::int64, "9223372036854775807",
       "Default of message.timestamp.difference.max.ms.",
       as_topic("message.timestamp.difference.max.ms")},
      {"log.message.timestamp.before.max.ms", T::int64, "9223372036854775807",
       "Default of message.timestamp.before.max.ms.", as_topic("message.timestamp.before.max.ms")},
      {"log.message.timestamp.after.max.ms", T::int64, "9223372036854775807",
       "Default of message.timestamp.after.max.ms.", as_topic("message.timestamp.after.max.ms")},
      {"log.message.downconversion.enable", T::boolean, "true",
       "Default of message.downconversion.enable.", as_topic("message.downconversion.enable")},
      {"log.roll.jitter.ms", T::int64, "0",
       "Default of segment.jitter.ms; takes precedence over log.roll.jitter.hours.",
       as_topic("segment.jitter.ms"), nullptr, jitter_ms},
      {"log.roll.jitter.hours", T::int32, "0", "Default of segment.jitter.ms, in hours.",
       integer(0, int32_max)},

      // --- Accepted but not acted on: common server.properties keys that
      // Sluice has no use for yet (a single node, no ZooKeeper, no TLS or
      // SASL, one thread per core). Their values are checked by type and
      // reported by DescribeConfigs, so a Kafka config file loads without
      // warnings; nothing else reads them.
      {"num.network.threads", T::int32, "3", "Accepted, not acted on.", integer(1, int32_max)},
      {"num.io.threads", T::int32, "8", "Accepted, not acted on.", integer(1, int32_max)},
      {"num.replica.fetchers", T::int32, "1", "Accepted, not acted on.", integer(1, int32_max)},
      {"socket.send.buffer.bytes", T::int32, "102400", "Accepted, not acted on.",
       integer(-1, int32_max, "-1: the OS default")},
      {"socket.receive.buffer.bytes", T::int32, "102400", "Accepted, not acted on.",
       integer(-1, int32_max, "-1: the OS default")},
      {"zookeeper.connect", T::string, nullptr, "Accepted, not acted on.", any_string()},
      {"zookeeper.connection.timeout.ms", T::int32, nullptr, "Accepted, not acted on.",
       integer(0, int32_max)},
      {"offsets.topic.replication.factor", T::int16, "3", "Accepted, not acted on.",
       integer(1, int16_max)},
      {"transaction.state.log.replication.factor", T::int16, "3", "Accepted, not acted on.",
       integer(1, int16_max)},
      {"transaction.state.log.min.isr", T::int32, "2", "Accepted, not acted on.",
       integer(1, int32_max)},
      {"transaction.state.log.num.partitions", T::int32, "50", "Accepted, not acted on.",
       integer(1, int32_max)},
      {"process.roles", T::list, "", "Accepted, not acted on.", any_string()},
      {"controller.quorum.voters", T::list, "", "Accepted, not acted on.", any_string()},
      {"controller.listener.names", T::string, nullptr, "Accepted, not acted on.", any_string()},
      {"listener.security.protocol.map", T::string,
       "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
       "Accepted, not acted on.", any_string()},
      {"inter.broker.listener.name", T::string, nullptr, "Accepted, not acted on.", any_string()},
      {"security.inter.broker.protocol", T::string, "PLAINTEXT", "Accepted, not acted on.",
       any_string()},
      {"replica.lag.time.max.ms", T::int64, "30000", "Accepted, not acted on.",
       integer(0, int64_max)},
      {"log.cleaner.threads", T::int32, "1", "Accepted, not acted on.", integer(0, int32_max)},
  };
  return keys;
}

const broker_key* find_key(std::string_view name) {
  static const std::map<std::string_view, const broker_key*> index = [] {
    std::map<std::string_view, const broker_key*> m;
    for (const broker_key& k : broker_keys()) m.emplace(k.name, &k);
    return m;
  }();
  auto it = index.find(name);
  return it == index.end() ? nullptr : it->second;
}

// The dynamic keys: Kafka's DynamicLogConfig, the broker synonyms of topic
// configs. Topics read them through to_log_config() and describe them, so a
// change reaches every topic without an override of its own. Keys with
// their own consumers (listeners, socket limits, the log manager's
// intervals) stay static: nothing would apply a new value.
const std::set<std::string_view>& dynamic_keys() {
  static const std::set<std::string_view> keys = {
      "log.segment.bytes",
      "log.roll.ms",
      "log.roll.hours",
      "log.index.size.max.bytes",
      "log.index.interval.bytes",
      "log.retention.ms",
      "log.retention.minutes",
      "log.retention.hours",
      "log.retention.bytes",
      "log.cleanup.policy",
      "log.cleaner.delete.retention.ms",
      "log.cleaner.min.cleanable.ratio",
      "log.cleaner.min.compaction.lag.ms",
      "log.flush.interval.messages",
      "log.flush.interval.ms",
      "log.flush.on.acks.all",
      "log.message.timestamp.type",
      "message.max.bytes",
      "compression.type",
      "min.insync.replicas",
      "unclean.leader.election.enable",
      "log.preallocate",
      "log.segment.delete.delay.ms",
      "log.cleaner.max.compaction.lag.ms",
      "log.message.timestamp.difference.max.ms",
      "log.message.timestamp.before.max.ms",
      "log.message.timestamp.after.max.ms",
      "log.message.downconversion.enable",
      "log.roll.jitter.ms",
      "log.roll.jitter.hours",
  };
  return keys;
}

config_description describe(const broker_config& config, const broker_key& key) {
  config_description d;
  d.name = std::string(key.name);
  d.type = key.type;
  d.read_only = !dynamic_keys().contains(key.name);
  d.documentation = std::string(key.documentation);
  // As Kafka orders them: layer by layer, most specific first, each layer's
  // synonyms in precedence order; then the defaults.
  std::vector<std::string_view> synonyms = synonyms_from(key.name);
  for (const layer& l : layers_of(config)) {
    for (std::string_view name : synonyms) {
      if (auto it = l.values.find(name); it != l.values.end()) {
        d.synonyms.push_back(
            {std::string(name), given_value(*find_key(name), it->second), l.source});
      }
    }
  }
  for (std::string_view name : synonyms) {
    if (const char* v = find_key(name)->default_value) {
      d.synonyms.push_back({std::string(name), std::string(v), config_source::default_value});
    }
  }
  if (key.show) {
    // The value in force, which a less specific synonym may have set.
    d.value = key.show(config);
    if (!d.synonyms.empty()) d.source = d.synonyms.front().source;
    return d;
  }
  for (const layer& l : layers_of(config)) {
    if (auto it = l.values.find(key.name); it != l.values.end()) {
      d.value = given_value(key, it->second);
      d.source = l.source;
      return d;
    }
  }
  if (key.default_value != nullptr) d.value = std::string(key.default_value);
  return d;
}

}  // namespace

namespace config_value {

std::optional<config_description> describe_broker_key(const broker_config& config,
                                                      std::string_view key) {
  const broker_key* k = find_key(key);
  if (k == nullptr) return std::nullopt;
  return describe(config, *k);
}

}  // namespace config_value

base::result<loaded_broker_config, config_error> load_broker_config(
    const base::properties& file, const base::properties& overrides) {
  base::properties given = file;
  for (const auto& [key, value] : overrides) given.insert_or_assign(key, value);

  loaded_broker_config out;
  broker_config& c = out.config;
  c.listeners = {endpoint{"PLAINTEXT", "127.0.0.1", 9092}};
  c.log_dirs = {"./data"};
  for (const broker_key& key : broker_keys()) {
    auto it = given.find(key.name);
    if (it == given.end()) continue;
    auto value = key.check(it->second);
    if (!value) return base::unexpected(config_error{std::string(key.name), value.error()});
    // Every given value is checked, even one that a synonym overrides.
    if (key.store && !overridden(key.name, given)) key.store(c, *value);
  }
  for (const auto& [key, value] : given) {
    if (find_key(key) == nullptr) {
      out.warnings.push_back("unknown configuration key '" + key + "' (ignored)");
    }
  }

  auto node_id = given.find("node.id");
  auto broker_id = given.find("broker.id");
  if (node_id != given.end() && broker_id != given.end() &&
      config_value::to_integer(node_id->second) != config_value::to_integer(broker_id->second)) {
    return base::unexpected(config_error{
        "broker.id",
        "broker.id=" + std::string(config_value::trim(broker_id->second)) +
            " differs from node.id=" + std::string(config_value::trim(node_id->second)) +
            "; expected the same id, or only one of the two keys"});
  }

  if (!given.contains("advertised.listeners")) {
    c.advertised_listeners = c.listeners;
  } else {
    for (const endpoint& a : c.advertised_listeners) {
      if (a.port == 0) {
        return base::unexpected(
            config_error{"advertised.listeners", "port 0 in " + format_endpoint(a) +
                                                     "; expected the port clients connect to (only "
                                                     "listeners may ask for any free port)"});
      }
      bool listening = std::any_of(c.listeners.begin(), c.listeners.end(), [&](const endpoint& l) {
        return l.listener_name == a.listener_name;
      });
      if (!listening) {
        return base::unexpected(
            config_error{"advertised.listeners", "listener name " + a.listener_name +
                                                     " is not in listeners; expected names among " +
                                                     format_endpoints(c.listeners)});
      }
    }
  }
  c.explicit_values = std::move(given);
  return out;
}

std::vector<config_description> describe_broker_config(const broker_config& config) {
  std::vector<config_description> out;
  out.reserve(broker_keys().size());
  for (const broker_key& key : broker_keys()) out.push_back(describe(config, key));
  return out;
}

// A key Kafka reports as null (log.retention.minutes when not given) gives "".
std::optional<std::string> broker_config_value(const broker_config& config, std::string_view key) {
  const broker_key* k = find_key(key);
  if (k == nullptr) return std::nullopt;
  return describe(config, *k).value.value_or("");
}

std::vector<config_description> describe_dynamic_broker_defaults(const broker_config& config) {
  // Kafka describes the "" resource without the broker's own layer: what a
  // broker that sets nothing itself would have.
  broker_config without_own = config;
  without_own.dynamic_broker_values.clear();
  std::vector<config_description> out;
  for (const auto& [name, value] : config.dynamic_default_values) {
    const broker_key* key = find_key(name);
    if (key == nullptr) continue;
    config_description d = describe(without_own, *key);
    d.value = given_value(*key, value);
    d.source = config_source::dynamic_default_broker;
    out.push_back(std::move(d));
  }
  return out;
}

bool is_broker_config_key(std::string_view key) { return find_key(key) != nullptr; }

bool is_dynamic_broker_config_key(std::string_view key) { return dynamic_keys().contains(key); }

base::result<void, dynamic_config_error> validate_dynamic_broker_configs(
    const base::properties& configs) {
  using problem = dynamic_config_error::problem;
  // Kafka names every offending key at once, in a Java set's print.
  auto listed = [](const std::vector<std::string>& keys) {
    std::string out = "[";
    for (const auto& k : keys) out += (out.size() > 1 ? ", " : "") + k;
    return out + "]";
  };
  std::vector<std::string> unknown, fixed;
  for (const auto& [key, value] : configs) {
    if (!is_broker_config_key(key)) {
      unknown.push_back(key);
    } else if (!is_dynamic_broker_config_key(key)) {
      fixed.push_back(key);
    }
  }
  if (!unknown.empty()) {
    return base::unexpected(dynamic_config_error{
        problem::unknown_key,
        (unknown.size() == 1 ? "Unknown broker config name: " + unknown.front()
                             : "Unknown broker config names: " + listed(unknown))});
  }
  if (!fixed.empty()) {
    return base::unexpected(dynamic_config_error{
        problem::not_dynamic, "Cannot update these configs dynamically: " + listed(fixed)});
  }
  for (const auto& [key, value] : configs) {
    auto checked_value = find_key(key)->check(value);
    if (!checked_value) {
      return base::unexpected(dynamic_config_error{
          problem::invalid_value,
          "Invalid value " + value + " for configuration " + key + ": " + checked_value.error()});
    }
  }
  return {};
}

layered_broker_config with_dynamic_configs(const broker_config& static_config,
                                           const base::properties& cluster_default,
                                           const base::properties& per_broker) {
  layered_broker_config out;
  broker_config& c = out.config;
  c = static_config;
  auto keep = [&out](const base::properties& given, std::string_view scope) {
    base::properties kept;
    for (const auto& [key, value] : given) {
      const broker_key* k = find_key(key);
      std::string why;
      if (k == nullptr) {
        why = "is not a broker config";
      } else if (!is_dynamic_broker_config_key(key)) {
        why = "cannot be set dynamically";
      } else if (auto checked_value = k->check(value); !checked_value) {
        why = "is not valid: " + checked_value.error();
      } else {
        kept.emplace(key, value);
        continue;
      }
      out.warnings.push_back("dynamic broker config '" + key + "' (" + std::string(scope) + ") " +
                             why + " (ignored)");
    }
    return kept;
  };
  c.dynamic_default_values = keep(cluster_default, "cluster default");
  c.dynamic_broker_values = keep(per_broker, "this broker");

  base::properties merged = c.explicit_values;
  for (const auto& [key, value] : c.dynamic_default_values) merged.insert_or_assign(key, value);
  for (const auto& [key, value] : c.dynamic_broker_values) merged.insert_or_assign(key, value);
  // Only the dynamic keys are stored again: the rest keep what the static
  // config holds, which may not come from explicit_values at all (a config
  // built in code). A dynamic key that no layer sets keeps its static value.
  for (const broker_key& key : broker_keys()) {
    if (!key.store || !is_dynamic_broker_config_key(key.name)) continue;
    auto it = merged.find(key.name);
    if (it == merged.end() || overridden(key.name, merged)) continue;
    if (auto checked_value = key.check(it->second)) key.store(c, *checked_value);
  }
  return out;
}

}  // namespace sluice::cluster
