// sluice produce: records from a file or stdin to a topic, kcat -P style.

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>

#include "cli/command_families.h"
#include "cli/escapes.h"
#include "cli/interrupt.h"
#include "cli/record_input.h"
#include "client/rdkafka.h"

namespace sluice::cli {
namespace {

constexpr size_t read_chunk_bytes = 1 << 20;

struct produce_options {
  std::string topic;
  std::string file;  // empty: stdin
  std::string delimiter = "\\n";
  std::string key_delimiter;
  std::vector<std::string> headers;
  int32_t partition = RD_KAFKA_PARTITION_UA;
  std::string compression = "none";
  std::string acks = "all";
  std::string input = "text";
};

class file_descriptor {
 public:
  explicit file_descriptor(int fd) : fd_(fd) {}
  file_descriptor(const file_descriptor&) = delete;
  file_descriptor& operator=(const file_descriptor&) = delete;
  ~file_descriptor() {
    if (fd_ > STDIN_FILENO) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// JSON input is numbered by line, as its parse errors are.
std::string numbering(const produce_options& options) {
  return options.input == "json" ? "line" : "record";
}

// What the delivery reports said; filled on this thread from rd_kafka_poll
// and rd_kafka_flush.
struct delivery_state {
  std::string numbering;  // "record" or, for JSON input, "line"
  int64_t delivered = 0;
  int64_t failed = 0;
  std::string first_error;
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  auto& state = *static_cast<delivery_state*>(opaque);
  if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    ++state.delivered;
    return;
  }
  if (state.failed++ == 0) {
    // The record number rides in the message's opaque.
    state.first_error = state.numbering + " " +
                        std::to_string(reinterpret_cast<uintptr_t>(message->_private)) +
                        " was not delivered: " + client::describe(message->err);
  }
}

// One record to send, viewing the input or a parsed JSON line.
struct outgoing {
  std::optional<std::string_view> key;
  std::optional<std::string_view> value;
  client::headers header_list;  // null: none
  int32_t partition = RD_KAFKA_PARTITION_UA;
  int64_t timestamp_ms = 0;  // 0: now
};

// The producer, the input's interpretation and the running counts.
class record_sender {
 public:
  record_sender(rd_kafka_t* rk, client::topic topic, const produce_options& options,
                std::string key_delimiter, client::headers fixed_headers, const stop_signals& stop)
      : rk_(rk),
        topic_(std::move(topic)),
        options_(options),
        key_delimiter_(std::move(key_delimiter)),
        fixed_headers_(std::move(fixed_headers)),
        stop_(stop) {}

  // Sends one record of input; fails on input that is not a record and on a
  // record librdkafka refuses at once.
  base::result<void> send_input(std::string_view record) {
    ++number_;
    if (options_.input == "json") return send_json(record);
    auto [key, value] = split_key(record, key_delimiter_);
    outgoing out{key, value, copy_fixed_headers(), options_.partition, 0};
    return send(std::move(out));
  }

 private:
  base::result<void> send_json(std::string_view line) {
    if (is_blank(line)) return {};
    auto parsed = parse_json_record(line, number_);
    if (!parsed) return base::unexpected(parsed.error());
    client::headers list = copy_fixed_headers();
    if (!parsed->headers.empty() && !list) list.reset(rd_kafka_headers_new(parsed->headers.size()));
    for (const auto& [name, value] : parsed->headers) {
      rd_kafka_header_add(list.get(), name.data(), static_cast<ssize_t>(name.size()),
                          value ? value->data() : nullptr,
                          value ? static_cast<ssize_t>(value->size()) : 0);
    }
    std::optional<std::string_view> key, value;
    if (parsed->key) key = *parsed->key;
    if (parsed->value) value = *parsed->value;
    outgoing out{key, value, std::move(list), parsed->partition.value_or(options_.partition),
                 parsed->timestamp_ms.value_or(0)};
    return send(std::move(out));
  }

  std::string where() const { return numbering(options_) + " " + std::to_string(number_); }

  client::headers copy_fixed_headers() const {
    return client::headers(fixed_headers_ ? rd_kafka_headers_copy(fixed_headers_.get()) : nullptr);
  }

  // Hands the record to librdkafka, waiting (serving delivery reports) while
  // its queue is full, so memory stays bounded however large the input.
  base::result<void> send(outgoing out) {
    while (true) {
      client::error_owner failure = produce(out);
      if (!failure) {
        out.header_list.release();  // librdkafka owns them now
        return {};
      }
      auto code = rd_kafka_error_code(failure.get());
      if (code == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION) {
        return base::fail(where() + ": topic " + options_.topic + " has no partition " +
                          std::to_string(out.partition));
      }
      if (code != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        return base::fail(where() + ": " + client::describe(code));
      }
      rd_kafka_poll(rk_, 100);
      if (stop_.count() > 1) return base::fail("interrupted while the send queue was full");
    }
  }

  client::error_owner produce(const outgoing& out) {
    rd_kafka_vu_t fields[7];
    size_t n = 0;
    fields[n].vtype = RD_KAFKA_VTYPE_RKT;
    fields[n++].u.rkt = topic_.get();
    fields[n].vtype = RD_KAFKA_VTYPE_PARTITION;
    fields[n++].u.i32 = out.partition;
    fields[n].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
    fields[n++].u.i = RD_KAFKA_MSG_F_COPY;
    fields[n].vtype = RD_KAFKA_VTYPE_OPAQUE;
    fields[n++].u.ptr = reinterpret_cast<void*>(static_cast<uintptr_t>(number_));
    fields[n].vtype = RD_KAFKA_VTYPE_VALUE;
    fields[n].u.mem.ptr = out.value ? const_cast<char*>(out.value->data()) : nullptr;
    fields[n++].u.mem.size = out.value ? out.value->size() : 0;
    if (out.key) {
      fields[n].vtype = RD_KAFKA_VTYPE_KEY;
      fields[n].u.mem.ptr = const_cast<char*>(out.key->data());
      fields[n++].u.mem.size = out.key->size();
    }
    if (out.header_list) {
      fields[n].vtype = RD_KAFKA_VTYPE_HEADERS;
      fields[n++].u.headers = out.header_list.get();
    }
    if (out.timestamp_ms != 0) {
      fields[n].vtype = RD_KAFKA_VTYPE_TIMESTAMP;
      fields[n++].u.i64 = out.timestamp_ms;
    }
    return client::error_owner(rd_kafka_produceva(rk_, fields, n));
  }

  rd_kafka_t* rk_;
  client::topic topic_;
  const produce_options& options_;
  std::string key_delimiter_;
  client::headers fixed_headers_;
  const stop_signals& stop_;
  int64_t number_ = 0;
};

std::string records(int64_t n) { return std::to_string(n) + (n == 1 ? " record" : " records"); }

base::result<client::headers> make_fixed_headers(const std::vector<std::string>& entries) {
  auto pairs = parse_key_values(entries, "-H");
  if (!pairs) return base::unexpected(pairs.error());
  if (pairs->empty()) return client::headers();
  client::headers list(rd_kafka_headers_new(pairs->size()));
  for (const auto& [name, value] : *pairs) {
    rd_kafka_header_add(list.get(), name.data(), static_cast<ssize_t>(name.size()), value.data(),
                        static_cast<ssize_t>(value.size()));
  }
  return list;
}

client::property_list producer_defaults(const produce_options& options) {
  bool all = options.acks == "all" || options.acks == "-1";
  return {
      {"acks", all ? "-1" : options.acks},
      // Exactly-once per partition on retries; needs acks=all.
      {"enable.idempotence", all ? "true" : "false"},
      {"compression.type", options.compression},
      // The Java client's partitioner, so a key lands where Kafka Streams,
      // Connect and every Java producer put it (librdkafka's own default,
      // consistent_random, hashes differently).
      {"partitioner", "murmur2_random"},
      // How long a record may take to be acknowledged, retries included:
      // the Java client's delivery.timeout.ms, not librdkafka's 5 minutes,
      // so a cluster that went away fails the command in bounded time.
      {"message.timeout.ms", "120000"},
  };
}

base::result<client::handle> open_producer(const invocation& inv, const produce_options& options,
                                           delivery_state& state) {
  auto settings = inv.connection();
  if (!settings) return base::unexpected(settings.error());
  return client::connect(RD_KAFKA_PRODUCER, *settings, producer_defaults(options),
                         [&state](rd_kafka_conf_t* conf) {
                           rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
                           rd_kafka_conf_set_opaque(conf, &state);
                         });
}

// Fails unless `topic` exists (and has `partition`, when one is given), so a
// typo is reported at once instead of as a timeout per record.
base::result<void> check_topic(rd_kafka_t* rk, const produce_options& options,
                               std::chrono::milliseconds timeout) {
  auto metadata = client::fetch_metadata(rk, options.topic, timeout);
  if (!metadata) return base::unexpected(metadata.error());
  for (const auto& t : metadata->topics) {
    if (t.name != options.topic) continue;
    if (t.error == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) break;
    if (t.error != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return base::fail("topic " + t.name + ": " + client::describe(t.error));
    }
    if (options.partition >= static_cast<int32_t>(t.partitions.size())) {
      return base::fail("topic " + t.name + " has " + std::to_string(t.partitions.size()) +
                        " partitions: -p must be below that");
    }
    return {};
  }
  return base::fail("topic " + options.topic +
                    " does not exist: create it with `sluice topic create " + options.topic + "`");
}

base::result<int> open_input(const std::string& path) {
  if (path.empty() || path == "-") return STDIN_FILENO;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return base::fail("cannot open " + path + ": " + std::strerror(errno));
  return fd;
}

// Reads `fd` to its end (or until a stop signal or a delivery failure) and
// sends every record in it.
base::result<void> send_all(int fd, record_splitter& splitter, record_sender& sender,
                            rd_kafka_t* rk, const delivery_state& state, const stop_signals& stop) {
  std::vector<char> chunk(read_chunk_bytes);
  while (!stop.requested() && state.failed == 0) {
    ssize_t n = ::read(fd, chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return base::fail(std::string("cannot read the input: ") + std::strerror(errno));
    if (n == 0) {
      if (auto last = splitter.rest()) return sender.send_input(*last);
      return {};
    }
    splitter.feed(std::string_view(chunk.data(), static_cast<size_t>(n)));
    while (auto record = splitter.next()) {
      auto sent = sender.send_input(*record);
      if (!sent) return sent;
    }
    rd_kafka_poll(rk, 0);
  }
  return {};
}

// Waits for every queued record's delivery report; a second stop signal
// gives up on the rest.
void flush(rd_kafka_t* rk, const stop_signals& stop) {
  while (rd_kafka_outq_len(rk) > 0 && stop.count() < 2) rd_kafka_flush(rk, 100);
  if (rd_kafka_outq_len(rk) > 0) {
    rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(rk, 1000);
  }
}

base::result<void> run_produce(const invocation& inv, const produce_options& options) {
  auto delimiter = unescape(options.delimiter);
  if (!delimiter) return base::fail("-D: " + delimiter.error().message);
  if (delimiter->empty()) return base::fail("-D: the delimiter must not be empty");
  auto key_delimiter = unescape(options.key_delimiter);
  if (!key_delimiter) return base::fail("-K: " + key_delimiter.error().message);
  auto fixed_headers = make_fixed_headers(options.headers);
  if (!fixed_headers) return base::unexpected(fixed_headers.error());
  auto fd = open_input(options.file);
  if (!fd) return base::unexpected(fd.error());
  file_descriptor input(*fd);
  delivery_state state{numbering(options)};
  auto producer = open_producer(inv, options, state);
  if (!producer) return base::unexpected(producer.error());
  rd_kafka_t* rk = producer->get();
  auto exists = check_topic(rk, options, inv.timeout());
  if (!exists) return exists;

  stop_signals stop;
  record_sender sender(rk, client::topic(rd_kafka_topic_new(rk, options.topic.c_str(), nullptr)),
                       options, std::move(*key_delimiter), std::move(*fixed_headers), stop);
  record_splitter splitter(std::move(*delimiter));
  auto sent = send_all(input.get(), splitter, sender, rk, state, stop);
  flush(rk, stop);

  std::string counts = records(state.delivered) + " to " + options.topic;
  if (!sent) return base::fail(sent.error().message + " (produced " + counts + ")");
  if (state.failed > 0) {
    return base::fail(state.first_error + " (" + std::to_string(state.failed) +
                      " failed; produced " + counts + ")");
  }
  // With acks=0 nobody confirms anything was stored.
  std::fprintf(stderr, "%s %s%s\n", options.acks == "0" ? "sent" : "produced", counts.c_str(),
               stop.requested() ? " (interrupted)" : "");
  return {};
}

}  // namespace

void add_produce_command(CLI::App& root, invocation& inv) {
  auto options = std::make_shared<produce_options>();
  auto* produce = root.add_subcommand("produce", "Write records from stdin or a file to a topic");
  produce->add_option("topic", options->topic, "Topic to write to")->required();
  produce->add_option("-f,--file", options->file, "Read this file instead of stdin");
  produce->add_option("-D,--delimiter", options->delimiter,
                      "Record delimiter (default \\n; escapes \\n \\t \\r \\0 \\\\ \\xNN)");
  produce->add_option("-K,--key-delimiter", options->key_delimiter,
                      "Split each record into key and value at the first occurrence of this "
                      "(a record without it has no key)");
  produce->add_option("-H,--header", options->headers,
                      "Header name=value on every record "
                      "(repeatable)");
  produce
      ->add_option("-p,--partition", options->partition,
                   "Write every record to this partition (default: by key, with the Java "
                   "client's murmur2 partitioner; records without a key are spread)")
      ->check(CLI::Range(0, std::numeric_limits<int32_t>::max()));
  produce->add_option("-z,--compression", options->compression, "Compression (default none)")
      ->check(CLI::IsMember({"none", "gzip", "snappy", "lz4", "zstd"}));
  produce->add_option("--acks", options->acks, "0, 1 or all (default all, with idempotence)")
      ->check(CLI::IsMember({"0", "1", "all", "-1"}));
  produce
      ->add_option("--input,--format", options->input,
                   "Input: text (default) or json, one {\"key\",\"value\",\"headers\","
                   "\"partition\",\"timestamp\"} object per line")
      ->check(CLI::IsMember({"text", "json"}));
  produce->footer(
      "Each delimiter-separated record of the input becomes one record (an empty line an empty\n"
      "value, as with kcat; a final delimiter makes no extra record). In JSON input, strings\n"
      "are taken as is, other values as compact JSON, a null or missing value is a tombstone\n"
      "and blank lines are skipped. Records are flushed at the end; the command fails if any\n"
      "was not delivered. Ctrl-C stops reading and flushes what was read (twice: gives up).\n"
      "After a subcommand, --format means the input format; before it, the output format.\n"
      "\n"
      "Examples:\n"
      "  echo hello | sluice produce orders\n"
      "  sluice produce orders -K : < keyed.txt                  # lines like customer-7:{...}\n"
      "  sluice produce orders -f events.bin -D '\\0' -z zstd\n"
      "  sluice produce orders -H source=backfill -p 0 --acks 1 < lines.txt\n"
      "  echo '{\"key\":\"k1\",\"value\":{\"n\":1},\"headers\":{\"h\":\"v\"}}' | "
      "sluice produce orders --format json\n"
      "  echo '{\"key\":\"k1\",\"value\":null}' | sluice produce orders --format json  "
      "# tombstone");
  on_run(produce, inv, [&inv, options] { return run_produce(inv, *options); });
}

}  // namespace sluice::cli
