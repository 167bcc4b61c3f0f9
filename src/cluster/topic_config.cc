#include "cluster/topic_config.h"

#include <limits>
#include <map>

#include "cluster/config_value.h"

namespace sluice::cluster {
namespace {

using config_value::check_fn;
using config_value::checked;
using storage::log_config;

constexpr int64_t int32_max = std::numeric_limits<int32_t>::max();
constexpr int64_t int64_max = std::numeric_limits<int64_t>::max();

using apply_fn = void (*)(log_config&, std::string_view checked_value);
using show_fn = std::string (*)(const log_config&);

// One topic key: its check (which its broker synonym shares), where a log
// keeps it, and the broker key that gives its default.
struct topic_key {
  std::string_view name;
  config_type type;
  // The broker key whose value a topic without an override has; its less
  // specific synonyms (log.retention.hours) come from broker_config.cc.
  std::string_view broker_key;
  std::string_view documentation;
  check_fn check;
  // Where a log_config keeps the value; both null for keys that Sluice stores
  // and reports but does not act on yet (compression.type, preallocate, ...).
  apply_fn apply = nullptr;
  show_fn show = nullptr;
};

check_fn integer(int64_t min, int64_t max, std::string_view note = {}) {
  return [=](std::string_view v) { return config_value::check_integer(v, min, max, note); };
}

int64_t to_int(std::string_view v) { return config_value::to_integer(v); }
std::string str(int64_t v) { return std::to_string(v); }
std::string str(bool v) { return v ? "true" : "false"; }

const std::vector<topic_key>& topic_keys() {
  using T = config_type;
  // Captureless lambdas: the apply and show columns are plain function pointers.
  static const std::vector<topic_key> keys = {
      {"cleanup.policy", T::list, "log.cleanup.policy",
       "delete: old segments are deleted (retention); compact: the latest record of each key is "
       "kept; or both.",
       config_value::check_cleanup_policy,
       [](log_config& c, std::string_view v) { c.policy = config_value::to_cleanup_policy(v); },
       [](const log_config& c) {
         return std::string(config_value::format_cleanup_policy(c.policy));
       }},
      {"compression.type", T::string, "compression.type",
       "The compression of stored batches; producer keeps the producer's (stored only: Sluice "
       "keeps batches as the producer sent them).",
       config_value::check_compression_type},
      {"delete.retention.ms", T::int64, "log.cleaner.delete.retention.ms",
       "How long tombstones survive compaction.", integer(0, int64_max),
       [](log_config& c, std::string_view v) { c.delete_retention_ms = to_int(v); },
       [](const log_config& c) { return str(c.delete_retention_ms); }},
      {"file.delete.delay.ms", T::int64, "log.segment.delete.delay.ms",
       "How long a deleted segment's files stay on disk (stored only).", integer(0, int64_max)},
      {"flush.messages", T::int64, "log.flush.interval.messages",
       "fsync once this many records arrived since the last fsync.", integer(1, int64_max),
       [](log_config& c, std::string_view v) { c.flush_messages = to_int(v); },
       [](const log_config& c) { return str(c.flush_messages); }},
      {"flush.ms", T::int64, "log.flush.interval.ms",
       "fsync once the oldest unflushed write is this old.", integer(0, int64_max),
       [](log_config& c, std::string_view v) { c.flush_ms = to_int(v); },
       [](const log_config& c) { return str(c.flush_ms); }},
      {"flush.on.acks.all", T::boolean, "log.flush.on.acks.all",
       "Sluice's own: fsync an acks=all write before acknowledging it.",
       config_value::check_boolean,
       [](log_config& c, std::string_view v) { c.flush_on_acks_all = config_value::to_boolean(v); },
       [](const log_config& c) { return str(c.flush_on_acks_all); }},
      {"index.interval.bytes", T::int32, "log.index.interval.bytes",
       "How many bytes of batches lie between two offset index entries.", integer(0, int32_max),
       [](log_config& c, std::string_view v) {
         c.index_interval_bytes = static_cast<uint32_t>(to_int(v));
       },
       [](const log_config& c) { return str(int64_t{c.index_interval_bytes}); }},
      {"max.compaction.lag.ms", T::int64, "log.cleaner.max.compaction.lag.ms",
       "The longest a record may stay uncompacted (stored only).", integer(1, int64_max)},
      {"max.message.bytes", T::int32, "message.max.bytes",
       "The largest record batch the topic accepts.", integer(0, int32_max)},
      {"message.downconversion.enable", T::boolean, "log.message.downconversion.enable",
       "Whether old fetch versions get down-converted batches (stored only).",
       config_value::check_boolean},
      {"message.timestamp.after.max.ms", T::int64, "log.message.timestamp.after.max.ms",
       "How far a batch's timestamp may lie after the broker's clock (stored only).",
       integer(0, int64_max)},
      {"message.timestamp.before.max.ms", T::int64, "log.message.timestamp.before.max.ms",
       "How far a batch's timestamp may lie before the broker's clock (stored only).",
       integer(0, int64_max)},
      {"message.timestamp.difference.max.ms", T::int64, "log.message.timestamp.difference.max.ms",
       "How far a batch's timestamp may lie from the broker's clock (stored only; deprecated by "
       "Kafka for the .before and .after keys).",
       integer(0, int64_max)},
      {"message.timestamp.type", T::string, "log.message.timestamp.type",
       "CreateTime keeps the producer's timestamps; LogAppendTime stamps batches on append.",
       config_value::check_timestamp_type,
       [](log_config& c, std::string_view v) {
         c.log_append_time = config_value::trim(v) == "LogAppendTime";
       },
       [](const log_config& c) {
         return std::string(c.log_append_time ? "LogAppendTime" : "CreateTime");
       }},
      {"min.cleanable.dirty.ratio", T::floating, "log.cleaner.min.cleanable.ratio",
       "The part of the log not yet compacted that makes it worth compacting.",
       config_value::check_ratio,
       [](log_config& c, std::string_view v) {
         c.min_cleanable_dirty_ratio = config_value::to_double(v);
       },
       [](const log_config& c) {
         return config_value::format_double(c.min_cleanable_dirty_ratio);
       }},
      {"min.compaction.lag.ms", T::int64, "log.cleaner.min.compaction.lag.ms",
       "Records younger than this are never compacted.", integer(0, int64_max),
       [](log_config& c, std::string_view v) { c.min_compaction_lag_ms = to_int(v); },
       [](const log_config& c) { return str(c.min_compaction_lag_ms); }},
      {"min.insync.replicas", T::int32, "min.insync.replicas",
       "The replicas an acks=all write needs (stored only: a single node has one).",
       integer(1, int32_max)},
      {"preallocate", T::boolean, "log.preallocate",
       "Whether segment files are preallocated (stored only).", config_value::check_boolean},
      {"retention.bytes", T::int64, "log.retention.bytes",
       "The size a partition's log is cut back to by deleting old segments; -1: no limit.",
       integer(-1, int64_max, "-1 means no limit"),
       [](log_config& c, std::string_view v) { c.retention_bytes = to_int(v); },
       [](const log_config& c) { return str(c.retention_bytes); }},
      {"retention.ms", T::int64, "log.retention.ms",
       "How long segments are kept before they are deleted; -1: forever.",
       integer(-1, int64_max, "-1 means forever"),
       [](log_config& c, std::string_view v) { c.retention_ms = to_int(v); },
       [](const log_config& c) { return str(c.retention_ms); }},
      // 14 bytes is Kafka's floor (the smallest legacy record).
      {"segment.bytes", T::int32, "log.segment.bytes",
       "The size at which the active segment is rolled.", integer(14, int32_max),
       [](log_config& c, std::string_view v) {
         c.segment_bytes = static_cast<uint64_t>(to_int(v));
       },
       [](const log_config& c) { return str(static_cast<int64_t>(c.segment_bytes)); }},
      {"segment.index.bytes", T::int32, "log.index.size.max.bytes",
       "The size of a segment's indexes at which the segment is rolled.", integer(4, int32_max),
       [](log_config& c, std::string_view v) {
         c.segment_index_bytes = static_cast<uint64_t>(to_int(v));
       },
       [](const log_config& c) { return str(static_cast<int64_t>(c.segment_index_bytes)); }},
      {"segment.jitter.ms", T::int64, "log.roll.jitter.ms",
       "A random time taken off segment.ms (stored only).", integer(0, int64_max)},
      {"segment.ms", T::int64, "log.roll.ms",
       "The age of its first batch at which the active segment is rolled.", integer(1, int64_max),
       [](log_config& c, std::string_view v) { c.segment_ms = to_int(v); },
       [](const log_config& c) { return str(c.segment_ms); }},
      {"unclean.leader.election.enable", T::boolean, "unclean.leader.election.enable",
       "Whether a replica out of sync may become leader (stored only: a single node).",
       config_value::check_boolean},
  };
  return keys;
}

const topic_key* find_key(std::string_view name) {
  static const std::map<std::string_view, const topic_key*> index = [] {
    std::map<std::string_view, const topic_key*> m;
    for (const topic_key& k : topic_keys()) m.emplace(k.name, &k);
    return m;
  }();
  auto it = index.find(name);
  return it == index.end() ? nullptr : it->second;
}

}  // namespace

namespace config_value {

checked check_topic_value(std::string_view topic_key, std::string_view value) {
  const auto* key = find_key(topic_key);
  if (key == nullptr)
    return base::unexpected("Unknown topic config name: " + std::string(topic_key));
  return key->check(value);
}

void apply_topic_value(std::string_view topic_key, std::string_view checked_value,
                       storage::log_config& log) {
  const auto* key = find_key(topic_key);
  if (key != nullptr && key->apply != nullptr) key->apply(log, checked_value);
}

std::optional<std::string> log_config_value(std::string_view topic_key,
                                            const storage::log_config& log) {
  const auto* key = find_key(topic_key);
  if (key == nullptr || key->show == nullptr) return std::nullopt;
  return key->show(log);
}

}  // namespace config_value

bool is_topic_config_key(std::string_view key) { return find_key(key) != nullptr; }

base::result<void, config_error> validate_topic_config(std::string_view key,
                                                       std::string_view value) {
  const auto* k = find_key(key);
  if (k == nullptr) {
    // Kafka's message (InvalidConfigurationException).
    return base::unexpected(
        config_error{std::string(key), "Unknown topic config name: " + std::string(key)});
  }
  auto checked_value = k->check(value);
  if (!checked_value) {
    return base::unexpected(config_error{std::string(key), checked_value.error()});
  }
  return {};
}

base::result<void, config_error> validate_topic_configs(const base::properties& configs) {
  for (const auto& [key, value] : configs) {
    auto ok = validate_topic_config(key, value);
    if (!ok) return ok;
  }
  // Kafka's one check across keys (LogConfig.validate).
  auto min_lag = configs.find("min.compaction.lag.ms");
  auto max_lag = configs.find("max.compaction.lag.ms");
  if (min_lag != configs.end() && max_lag != configs.end() &&
      config_value::to_integer(min_lag->second) > config_value::to_integer(max_lag->second)) {
    return base::unexpected(
        config_error{"min.compaction.lag.ms", "min.compaction.lag.ms (" +
                                                  std::string(config_value::trim(min_lag->second)) +
                                                  ") is greater than max.compaction.lag.ms (" +
                                                  std::string(config_value::trim(max_lag->second)) +
                                                  "); expected at most max.compaction.lag.ms"});
  }
  return {};
}

// Overrides were validated on their way in (CreateTopics, AlterConfigs); one
// that is no longer valid (written by another version) leaves the broker's
// default in force rather than failing the log.
storage::log_config to_log_config(const base::properties& overrides, const broker_config& broker) {
  storage::log_config log = broker.log_defaults;
  for (const auto& [key, value] : overrides) {
    const auto* k = find_key(key);
    if (k == nullptr || k->apply == nullptr) continue;
    auto checked_value = k->check(value);
    if (checked_value) k->apply(log, *checked_value);
  }
  return log;
}

int32_t max_message_bytes(const base::properties& overrides, const broker_config& broker) {
  if (auto it = overrides.find("max.message.bytes"); it != overrides.end()) {
    auto checked_value = find_key("max.message.bytes")->check(it->second);
    if (checked_value) return static_cast<int32_t>(config_value::to_integer(*checked_value));
  }
  return broker.message_max_bytes;
}

std::vector<config_description> describe_topic_config(const base::properties& overrides,
                                                      const broker_config& broker) {
  std::vector<config_description> out;
  out.reserve(topic_keys().size());
  for (const topic_key& key : topic_keys()) {
    config_description d;
    // Without an override the topic has what its broker key has, with the
    // broker key's source and synonyms.
    if (auto inherited = config_value::describe_broker_key(broker, key.broker_key)) {
      d = std::move(*inherited);
    }
    d.name = std::string(key.name);
    d.type = key.type;
    d.read_only = false;
    d.sensitive = false;
    d.documentation = std::string(key.documentation);
    if (auto it = overrides.find(key.name); it != overrides.end()) {
      auto checked_value = key.check(it->second);
      d.value = checked_value ? *checked_value : it->second;
      d.source = config_source::topic;
      d.synonyms.insert(d.synonyms.begin(),
                        config_synonym{std::string(key.name), d.value, config_source::topic});
    }
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace sluice::cluster
