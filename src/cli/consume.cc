// sluice consume: records of topics to stdout, kcat -C / -G style.

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <string_view>

#include "cli/command_families.h"
#include "cli/interrupt.h"
#include "cli/offset_spec.h"
#include "cli/record_format.h"
#include "cli/topic_partitions.h"
#include "client/rdkafka.h"

namespace sluice::cli {
namespace {

constexpr int poll_ms = 100;
constexpr size_t output_flush_bytes = 256 * 1024;

struct consume_options {
  std::vector<std::string> topics;
  std::string offset = "beginning";
  int64_t count = 0;  // 0: no limit
  std::string group;
  std::vector<int32_t> partitions;
  bool exit_at_end = false;
  std::string template_text;  // empty: the default
  std::string isolation = "read_committed";
};

// The checked options: how to start and how to print.
struct consume_plan {
  offset_spec start;
  std::optional<record_template> text;  // nullopt: JSON lines
};

std::string records(int64_t n) { return std::to_string(n) + (n == 1 ? " record" : " records"); }

bool is_pattern(const std::string& topic) { return topic.starts_with('^'); }

base::result<consume_plan> make_plan(const consume_options& options, output_format format) {
  auto start = parse_offset_spec(options.offset);
  if (!start) return base::unexpected(start.error());
  using kind = offset_spec::kind;
  bool by_group = !options.group.empty();
  if (by_group && start->what != kind::beginning && start->what != kind::end &&
      start->what != kind::stored) {
    return base::fail("-o " + options.offset +
                      ": with --group, -o only picks where partitions without a committed offset "
                      "start (beginning or end); drop --group to start elsewhere");
  }
  if (!by_group && start->what == kind::stored) {
    return base::fail("-o stored reads a group's committed offsets: add --group GROUP");
  }
  if (by_group && !options.partitions.empty()) {
    return base::fail("-p cannot be used with --group: the group assigns the partitions");
  }
  for (const auto& topic : options.topics) {
    if (is_pattern(topic) && !by_group) {
      return base::fail("topic pattern " + topic + " needs --group (it subscribes)");
    }
  }
  if (format == output_format::json) {
    if (!options.template_text.empty()) {
      return base::fail("-f and --format json exclude each other: pick one way to print");
    }
    return consume_plan{*start, std::nullopt};
  }
  auto text = record_template::parse(options.template_text.empty()
                                         ? record_template::default_text
                                         : std::string_view(options.template_text));
  if (!text) return base::fail("-f: " + text.error().message);
  return consume_plan{*start, std::move(*text)};
}

client::property_list consumer_defaults(const consume_options& options, const offset_spec& start,
                                        std::chrono::milliseconds timeout) {
  client::property_list defaults = {
      {"isolation.level", options.isolation},
      // Requests give up after --timeout (librdkafka: 60 s), so that closing
      // against a broker that stopped answering ends in bounded time; the
      // floor leaves room above fetch.wait.max.ms, as librdkafka requires.
      {"socket.timeout.ms", std::to_string(std::max<int64_t>(timeout.count(), 2000))},
      {"enable.partition.eof", options.exit_at_end ? "true" : "false"},
      // Offsets are stored by hand once a record is written out, so what gets
      // committed is exactly what was printed.
      {"enable.auto.offset.store", "false"},
  };
  if (options.group.empty()) {
    // librdkafka's assign() needs a group.id, though with assign alone no
    // group is joined and, without commits, none is created on the broker.
    defaults.emplace_back("group.id", "sluice-consume-" + std::to_string(::getpid()));
    defaults.emplace_back("enable.auto.commit", "false");
    // An offset deleted between the watermark query and the first fetch.
    defaults.emplace_back("auto.offset.reset", "earliest");
  } else {
    defaults.emplace_back("group.id", options.group);
    defaults.emplace_back("enable.auto.commit", "true");
    defaults.emplace_back("auto.offset.reset",
                          start.what == offset_spec::kind::end ? "latest" : "earliest");
  }
  return defaults;
}

// The partitions to read from each named topic, after checking that the
// topics and the asked-for partitions exist.
base::result<std::vector<topic_partition>> find_partitions(rd_kafka_t* rk,
                                                           const consume_options& options,
                                                           std::chrono::milliseconds timeout) {
  std::vector<topic_partition> out;
  for (const auto& topic : options.topics) {
    if (is_pattern(topic)) continue;
    auto metadata = client::fetch_metadata(rk, topic, timeout);
    if (!metadata) return base::unexpected(metadata.error());
    auto t = std::find_if(metadata->topics.begin(), metadata->topics.end(),
                          [&](const client::topic_info& info) { return info.name == topic; });
    if (t == metadata->topics.end() || t->error == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
      return base::fail("topic " + topic + " does not exist (sluice topic list shows them)");
    }
    if (t->error != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return base::fail("topic " + topic + ": " + client::describe(t->error));
    }
    for (int32_t p : options.partitions) {
      if (p < 0 || p >= static_cast<int32_t>(t->partitions.size())) {
        return base::fail("topic " + topic + " has no partition " + std::to_string(p) +
                          " (it has " + std::to_string(t->partitions.size()) + ")");
      }
    }
    for (const auto& partition : t->partitions) {
      bool wanted = options.partitions.empty() ||
                    std::count(options.partitions.begin(), options.partitions.end(), partition.id);
      if (wanted) out.push_back({topic, partition.id});
    }
  }
  return out;
}

// Where each partition starts for `start` (no group).
base::result<std::vector<int64_t>> start_offsets(rd_kafka_t* rk,
                                                 const std::vector<topic_partition>& partitions,
                                                 const offset_spec& start,
                                                 std::chrono::milliseconds timeout) {
  using kind = offset_spec::kind;
  if (start.what == kind::beginning || start.what == kind::end) {
    return std::vector<int64_t>(partitions.size(), start.what == kind::beginning
                                                       ? RD_KAFKA_OFFSET_BEGINNING
                                                       : RD_KAFKA_OFFSET_END);
  }
  if (start.what == kind::timestamp) {
    std::vector<client::timestamp_query> query;
    for (const auto& tp : partitions) query.push_back({tp.topic, tp.partition, start.value});
    auto found = client::offsets_for_times(rk, query, timeout);
    if (!found) return found;
    // -1: no record is that late; wait for the next one.
    for (auto& offset : *found) offset = offset < 0 ? RD_KAFKA_OFFSET_END : offset;
    return found;
  }
  std::vector<int64_t> out;
  for (const auto& tp : partitions) {
    auto marks = client::query_watermarks(rk, tp.topic, tp.partition, timeout);
    if (!marks) return base::unexpected(marks.error());
    out.push_back(resolve_offset(start, marks->low, marks->high));
  }
  return out;
}

base::result<void> assign(rd_kafka_t* rk, const std::vector<topic_partition>& partitions,
                          const std::vector<int64_t>& offsets) {
  client::partition_list list(
      rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
  for (size_t i = 0; i < partitions.size(); ++i) {
    rd_kafka_topic_partition_list_add(list.get(), partitions[i].topic.c_str(),
                                      partitions[i].partition)
        ->offset = offsets[i];
  }
  auto error = rd_kafka_assign(rk, list.get());
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) return base::fail("assign: " + client::describe(error));
  return {};
}

base::result<void> subscribe(rd_kafka_t* rk, const std::vector<std::string>& topics) {
  client::partition_list list(rd_kafka_topic_partition_list_new(static_cast<int>(topics.size())));
  for (const auto& topic : topics) {
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
  }
  auto error = rd_kafka_subscribe(rk, list.get());
  if (error != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return base::fail("subscribe: " + client::describe(error));
  }
  return {};
}

record_view view_of(const rd_kafka_message_t* m) {
  record_view view;
  view.topic = rd_kafka_topic_name(m->rkt);
  view.partition = m->partition;
  view.offset = m->offset;
  rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
  view.timestamp_ms = rd_kafka_message_timestamp(m, &type);
  view.timestamp_type =
      type == RD_KAFKA_TIMESTAMP_CREATE_TIME       ? record_view::timestamp_kind::create_time
      : type == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME ? record_view::timestamp_kind::log_append_time
                                                   : record_view::timestamp_kind::none;
  if (m->key) view.key = std::string_view(static_cast<const char*>(m->key), m->key_len);
  if (m->payload) view.value = std::string_view(static_cast<const char*>(m->payload), m->len);
  rd_kafka_headers_t* headers = nullptr;
  if (rd_kafka_message_headers(m, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name;
    const void* value;
    size_t size;
    for (size_t i = 0;
         rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      std::optional<std::string_view> text;
      if (value) text = std::string_view(static_cast<const char*>(value), size);
      view.headers.emplace_back(name, text);
    }
  }
  return view;
}

// Renders records into a buffer written to stdout in large pieces, and
// stores a record's offset for the group's commit only once the record has
// really been written.
class record_output {
 public:
  record_output(rd_kafka_t* rk, const consume_plan& plan, bool store_offsets)
      : rk_(rk), plan_(plan), store_offsets_(store_offsets) {}

  void add(const rd_kafka_message_t* m) {
    record_view view = view_of(m);
    if (plan_.text) {
      plan_.text->render(view, buffer_);
    } else {
      buffer_ += render_json(record_json(view));
      buffer_ += '\n';
    }
    ++printed_;
    if (store_offsets_) note_offset(view.topic, view.partition, view.offset + 1);
  }

  bool has_pending() const { return !buffer_.empty(); }
  bool wants_flush() const { return buffer_.size() >= output_flush_bytes; }
  int64_t printed() const { return printed_; }

  // Writes the buffer out; false when stdout is gone (a closed pipe) or a
  // stop signal interrupted a blocked write.
  bool flush(const stop_signals& stop) {
    size_t done = 0;
    while (done < buffer_.size()) {
      ssize_t n = ::write(STDOUT_FILENO, buffer_.data() + done, buffer_.size() - done);
      if (n < 0 && errno == EINTR && !stop.requested()) continue;
      if (n < 0) return false;
      done += static_cast<size_t>(n);
    }
    buffer_.clear();
    store_noted_offsets();
    return true;
  }

 private:
  struct next_offset {
    std::string topic;
    int32_t partition;
    int64_t offset;
  };

  void note_offset(std::string_view topic, int32_t partition, int64_t offset) {
    for (auto& n : noted_) {
      if (n.partition == partition && n.topic == topic) {
        n.offset = offset;
        return;
      }
    }
    noted_.push_back({std::string(topic), partition, offset});
  }

  void store_noted_offsets() {
    if (noted_.empty()) return;
    client::partition_list list(rd_kafka_topic_partition_list_new(static_cast<int>(noted_.size())));
    for (const auto& n : noted_) {
      rd_kafka_topic_partition_list_add(list.get(), n.topic.c_str(), n.partition)->offset =
          n.offset;
    }
    // Fails only for partitions revoked meanwhile, whose records the new
    // owner will read again: nothing to report.
    rd_kafka_offsets_store(rk_, list.get());
    noted_.clear();
  }

  rd_kafka_t* rk_;
  const consume_plan& plan_;
  bool store_offsets_;
  std::string buffer_;
  int64_t printed_ = 0;
  std::vector<next_offset> noted_;
};

// For -e: whether every partition read has reached its end.
class end_tracker {
 public:
  explicit end_tracker(rd_kafka_t* rk) : rk_(rk) {}

  void record_seen(const rd_kafka_message_t* m) {
    if (!at_end_.empty()) erase(partition_of(m));
  }
  void end_reached(const rd_kafka_message_t* m) {
    auto tp = partition_of(m);
    if (std::find(at_end_.begin(), at_end_.end(), tp) == at_end_.end()) at_end_.push_back(tp);
  }

  // The assignment, not a list fixed at the start, so a group's rebalance
  // is followed too.
  bool all_at_end() const {
    rd_kafka_topic_partition_list_t* raw = nullptr;
    if (rd_kafka_assignment(rk_, &raw) != RD_KAFKA_RESP_ERR_NO_ERROR) return false;
    client::partition_list assigned(raw);
    if (assigned->cnt == 0) return false;
    for (int i = 0; i < assigned->cnt; ++i) {
      topic_partition tp{assigned->elems[i].topic, assigned->elems[i].partition};
      if (std::find(at_end_.begin(), at_end_.end(), tp) == at_end_.end()) return false;
    }
    return true;
  }

 private:
  static topic_partition partition_of(const rd_kafka_message_t* m) {
    return {rd_kafka_topic_name(m->rkt), m->partition};
  }
  void erase(const topic_partition& tp) {
    at_end_.erase(std::remove(at_end_.begin(), at_end_.end(), tp), at_end_.end());
  }

  rd_kafka_t* rk_;
  std::vector<topic_partition> at_end_;
};

// Errors after which reading on makes no sense; others (a broker restarting)
// librdkafka recovers from, so they are only shown.
bool is_fatal(rd_kafka_resp_err_t error) {
  switch (error) {
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
      return true;
    default:
      return false;
  }
}

std::string message_error(const rd_kafka_message_t* m) {
  std::string where =
      m->rkt ? std::string(rd_kafka_topic_name(m->rkt)) + "/" + std::to_string(m->partition) + ": "
             : "";
  return where + rd_kafka_err2name(m->err) + ": " + rd_kafka_message_errstr(m);
}

// Errors librdkafka reports apart from any message, such as the topic being
// deleted while it is read; filled on this thread from consumer_poll.
struct consumer_errors {
  std::string fatal;  // the first fatal one; empty: none
};

void on_error(rd_kafka_t*, int code, const char* reason, void* opaque) {
  auto& errors = *static_cast<consumer_errors*>(opaque);
  auto error = static_cast<rd_kafka_resp_err_t>(code);
  std::string text = std::string(rd_kafka_err2name(error)) + ": " + reason;
  if (!is_fatal(error)) {
    std::fprintf(stderr, "sluice: %s (retrying)\n", text.c_str());
  } else if (errors.fatal.empty()) {
    errors.fatal = text;
  }
}

// A reader that went away (`| head -1`) shows as POLLERR on the pipe's write
// end; checking while idle ends the command without waiting for a record to
// fail to write.
bool stdout_closed() {
  pollfd out{STDOUT_FILENO, 0, 0};
  return ::poll(&out, 1, 0) == 1 && (out.revents & (POLLERR | POLLNVAL)) != 0;
}

enum class loop_end { done, stdout_closed };

// Polls and prints until -c, -e, a stop signal, a closed stdout or a fatal
// error.
base::result<loop_end> consume_loop(rd_kafka_t* rk, const consume_options& options,
                                    const consumer_errors& errors, record_output& out,
                                    const stop_signals& stop) {
  end_tracker ends(rk);
  while (!stop.requested()) {
    client::message m(rd_kafka_consumer_poll(rk, out.has_pending() ? 0 : poll_ms));
    if (!errors.fatal.empty()) {
      out.flush(stop);  // what was read before the error is still worth showing
      return base::fail(errors.fatal);
    }
    if (!m || out.wants_flush()) {
      if (out.has_pending() && !out.flush(stop)) return loop_end::stdout_closed;
    }
    if (!m) {
      if (stdout_closed()) return loop_end::stdout_closed;
      continue;
    }
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      ends.end_reached(m.get());
      if (ends.all_at_end()) break;
      continue;
    }
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (is_fatal(m->err)) {
        out.flush(stop);  // what was read before the error is still worth showing
        return base::fail(message_error(m.get()));
      }
      std::fprintf(stderr, "sluice: %s (retrying)\n", message_error(m.get()).c_str());
      continue;
    }
    ends.record_seen(m.get());
    out.add(m.get());
    if (options.count > 0 && out.printed() >= options.count) break;
  }
  if (out.has_pending() && !out.flush(stop)) return loop_end::stdout_closed;
  return loop_end::done;
}

// Waits for the next event on `q`, serving it in steps so that a second stop
// signal gives up at once; null at the deadline or on that signal.
client::event next_event(rd_kafka_queue_t* q, std::chrono::steady_clock::time_point deadline,
                         const stop_signals& stop) {
  while (stop.count() < 2 && std::chrono::steady_clock::now() < deadline) {
    client::event e(rd_kafka_queue_poll(q, poll_ms));
    if (e) return e;
  }
  return nullptr;
}

// Commits what was stored (the printed records), waiting at most until
// `deadline`: librdkafka's synchronous commit waits without a bound for a
// coordinator that stopped answering.
base::result<void> commit_stored(rd_kafka_t* rk, std::chrono::steady_clock::time_point deadline,
                                 const stop_signals& stop) {
  client::queue q(rd_kafka_queue_new(rk));
  rd_kafka_commit_queue(rk, nullptr, q.get(), nullptr, nullptr);
  for (;;) {
    client::event e = next_event(q.get(), deadline, stop);
    if (!e) return base::fail("committing the group's offsets got no answer in time");
    if (rd_kafka_event_type(e.get()) != RD_KAFKA_EVENT_OFFSET_COMMIT) continue;
    auto error = rd_kafka_event_error(e.get());
    if (error == RD_KAFKA_RESP_ERR_NO_ERROR || error == RD_KAFKA_RESP_ERR__NO_OFFSET) return {};
    return base::fail("committing the group's offsets failed: " + client::describe(error));
  }
}

// Gives up the partitions a rebalance during close revokes (the consumer has
// no rebalance callback, so close hands these events to the application).
void serve_close_event(rd_kafka_t* rk, rd_kafka_event_t* e) {
  if (rd_kafka_event_type(e) != RD_KAFKA_EVENT_REBALANCE) return;
  if (std::string_view(rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE") {
    client::error_owner ignored(
        rd_kafka_incremental_unassign(rk, rd_kafka_event_topic_partition_list(e)));
  } else {
    rd_kafka_assign(rk, nullptr);
  }
}

// Leaves the group (or drops the assignment), waiting at most until
// `deadline`; false when it did not finish, and the handle must then be
// destroyed without another close.
bool leave(rd_kafka_t* rk, std::chrono::steady_clock::time_point deadline,
           const stop_signals& stop) {
  client::queue q(rd_kafka_queue_new(rk));
  client::error_owner failed(rd_kafka_consumer_close_queue(rk, q.get()));
  if (failed) return false;
  while (!rd_kafka_consumer_closed(rk)) {
    client::event e = next_event(q.get(), deadline, stop);
    if (!e) return rd_kafka_consumer_closed(rk) == 1;
    serve_close_event(rk, e.get());
  }
  return true;
}

// Commits the printed records (with a group) and closes the consumer, all
// within `timeout`. A consumer that could not close is destroyed without the
// close librdkafka would otherwise retry, without a bound, in rd_kafka_destroy.
base::result<void> close_consumer(client::handle consumer, bool by_group,
                                  std::chrono::milliseconds timeout, const stop_signals& stop) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  base::result<void> committed;
  if (by_group) committed = commit_stored(consumer.get(), deadline, stop);
  if (!leave(consumer.get(), deadline, stop)) {
    rd_kafka_destroy_flags(consumer.release(), RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    if (committed) return base::fail("leaving the group got no answer in time");
  }
  return committed;
}

base::result<void> start_reading(rd_kafka_t* rk, const consume_options& options,
                                 const consume_plan& plan, std::chrono::milliseconds timeout) {
  auto partitions = find_partitions(rk, options, timeout);
  if (!partitions) return base::unexpected(partitions.error());
  if (!options.group.empty()) return subscribe(rk, options.topics);
  auto offsets = start_offsets(rk, *partitions, plan.start, timeout);
  if (!offsets) return base::unexpected(offsets.error());
  return assign(rk, *partitions, *offsets);
}

base::result<void> run_consume(const invocation& inv, const consume_options& options) {
  // From the start, so that a Ctrl-C while connecting also ends cleanly.
  stop_signals stop;
  auto plan = make_plan(options, inv.format());
  if (!plan) return base::unexpected(plan.error());
  auto settings = inv.connection();
  if (!settings) return base::unexpected(settings.error());
  consumer_errors errors;
  auto consumer = client::connect(RD_KAFKA_CONSUMER, *settings,
                                  consumer_defaults(options, plan->start, inv.timeout()),
                                  [&errors](rd_kafka_conf_t* conf) {
                                    rd_kafka_conf_set_error_cb(conf, on_error);
                                    rd_kafka_conf_set_opaque(conf, &errors);
                                  });
  if (!consumer) return base::unexpected(consumer.error());
  rd_kafka_t* rk = consumer->get();
  auto started = start_reading(rk, options, *plan, inv.timeout());
  if (!started) return started;

  bool by_group = !options.group.empty();
  record_output out(rk, *plan, by_group);
  auto ended = consume_loop(rk, options, errors, out, stop);
  auto closed = close_consumer(std::move(*consumer), by_group, inv.timeout(), stop);
  if (!ended) return base::unexpected(ended.error());
  if (!closed) return closed;
  // Whoever closed the pipe (`| head`) has what they wanted: end quietly.
  if (*ended == loop_end::stdout_closed) return {};
  std::fprintf(stderr, "consumed %s\n", records(out.printed()).c_str());
  return {};
}

}  // namespace

void add_consume_command(CLI::App& root, invocation& inv) {
  auto options = std::make_shared<consume_options>();
  auto* consume = root.add_subcommand("consume", "Print the records of topics");
  consume->add_option("topics", options->topics, "Topics (with --group also ^regex patterns)")
      ->required();
  consume->add_option("-o,--offset", options->offset,
                      "Start: beginning (default), end, stored, N, -N (last N per partition), "
                      "@MS or @2026-11-26T10:00:00Z (first record at or after)");
  consume->add_option("-c,--count", options->count, "Exit after this many records")
      ->check(CLI::Range(int64_t{1}, std::numeric_limits<int64_t>::max()));
  consume->add_option("-g,--group", options->group,
                      "Consume as this group: subscribe, resume from its committed offsets and "
                      "commit the printed records");
  consume->add_option("-p,--partition", options->partitions,
                      "Only this partition (repeatable; not with --group)");
  consume->add_flag("-e,--exit", options->exit_at_end,
                    "Exit once every partition has been read to its end");
  consume->add_option("-f,--template", options->template_text,
                      "Print each record by this template (default '%v\\n')");
  consume
      ->add_option("--isolation", options->isolation,
                   "read_committed (default: skips aborted transactions) or read_uncommitted")
      ->check(CLI::IsMember({"read_committed", "read_uncommitted"}));
  consume->footer(
      "Template: %t topic  %p partition  %o offset  %T timestamp (ms)  %k key  %v value (also\n"
      "%s)  %K key length  %S value length (-1: null)  %h headers k=v,k2=v2  %% percent;\n"
      "escapes \\n \\t \\r \\0 \\\\ \\xNN. --format json prints one JSON object per record:\n"
      "{\"topic\",\"partition\",\"offset\",\"timestamp\",\"timestamp_type\",\"key\",\"value\","
      "\"headers\"}.\n"
      "With --group, partitions without a committed offset start at -o beginning (default) or\n"
      "end, and exactly the printed records are committed. Ctrl-C exits cleanly (status 0).\n"
      "\n"
      "Examples:\n"
      "  sluice consume orders -e                           # everything, then exit\n"
      "  sluice consume orders -o -10 -e                    # the last 10 of each partition\n"
      "  sluice consume orders -o @2026-11-26T10:00:00Z -c 100\n"
      "  sluice consume orders -p 0 -o 1234 -f '%p/%o %k=%v\\n'\n"
      "  sluice consume orders -g audit -c 10               # next 10 for group audit\n"
      "  sluice consume '^orders-.*' -g audit -o end\n"
      "  sluice consume orders -e --format json | jq .value");
  on_run(consume, inv, [&inv, options] { return run_consume(inv, *options); });
}

}  // namespace sluice::cli
