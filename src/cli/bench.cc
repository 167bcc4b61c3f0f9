// sluice bench: produce, consume and end-to-end latency benchmarks against
// any Kafka-compatible cluster (bench_modes.h has what each measures).

#include <limits>
#include <memory>

#include "cli/bench_modes.h"
#include "cli/command_families.h"

namespace sluice::cli {
namespace {

using bench::consume_options;
using bench::latency_options;
using bench::produce_options;
using bench::run_options;

const std::vector<std::string> acks_values = {"0", "1", "all", "-1"};
const std::vector<std::string> codecs = {"none", "gzip", "snappy", "lz4", "zstd"};

void add_run_options(CLI::App* command, run_options& o, const char* partitions_help) {
  command->add_option("topic", o.topic, "Topic")->required();
  command->add_option("--partitions", o.partitions, partitions_help)->check(CLI::PositiveNumber);
  command->add_option("--label", o.label, "Text echoed in the summary, to tell runs apart");
}

void add_count_or_time(CLI::App* command, run_options& o, const char* records_help) {
  auto* records =
      command->add_option("--records", o.records, records_help)->check(CLI::PositiveNumber);
  auto* duration = command->add_option("--duration", o.duration_s, "Run for this many seconds")
                       ->check(CLI::PositiveNumber);
  records->excludes(duration);
}

void add_produce(CLI::App* bench, invocation& inv) {
  auto o = std::make_shared<produce_options>();
  auto* produce = bench->add_subcommand("produce",
                                        "Produce as fast as asked; throughput and "
                                        "produce-to-acknowledgement latency");
  add_run_options(produce, *o,
                  "Partitions to produce to (round-robin), creating the topic with this many if "
                  "missing (default: every partition; 1 when created)");
  add_count_or_time(produce, *o, "Records to produce (default 1000000)");
  produce->add_option("--size", o->size, "Bytes of each record's value (default 100)")
      ->check(CLI::NonNegativeNumber);
  produce->add_option("--rate", o->rate, "Records/s over all producers; 0: unthrottled (default)")
      ->check(CLI::NonNegativeNumber);
  produce->add_option("--acks", o->acks, "0, 1 (default) or all")
      ->check(CLI::IsMember(acks_values));
  produce->add_option("--compression", o->compression, "none (default), gzip, snappy, lz4, zstd")
      ->check(CLI::IsMember(codecs));
  produce
      ->add_option("--producers", o->producers,
                   "Threads, each with a producer handle of its own (default 1)")
      ->check(CLI::PositiveNumber);
  produce->add_option("--linger-ms", o->linger_ms, "linger.ms (default 5)")
      ->check(CLI::NonNegativeNumber);
  produce->add_option("--batch-size", o->batch_size, "batch.size in bytes (default 1000000)")
      ->check(CLI::PositiveNumber);
  auto no_create = std::make_shared<bool>(false);
  produce->add_flag("--no-create", *no_create, "Never create the topic");
  produce->footer(
      "Latency is from the produce call to the delivery report. A progress line each second\n"
      "goes to stderr; -X key=value sets any other librdkafka property.\n\n"
      "Examples:\n"
      "  sluice bench produce bench --records 2000000 --size 1024 --acks all --partitions 6\n"
      "  sluice bench produce bench --duration 30 --rate 50000 --producers 2 --format json");
  on_run(produce, inv, [o, no_create, &inv]() -> base::result<void> {
    o->create = !*no_create;
    return bench::run_produce(*o, inv);
  });
}

void add_consume(CLI::App* bench, invocation& inv) {
  auto o = std::make_shared<consume_options>();
  auto* consume = bench->add_subcommand("consume", "Read a topic as fast as one consumer can");
  add_run_options(consume, *o, "Read partitions 0..N-1 (default: every partition)");
  add_count_or_time(consume, *o,
                    "Records to read (default: what the partitions hold at the start; with "
                    "--group, no count)");
  consume->add_option("--group", o->group,
                      "Subscribe as a member of this group (committing as consumers do) instead "
                      "of assigning the partitions from their first offset");
  auto* rewind = consume->add_flag(
      "--rewind", o->rewind,
      "After a partition's last record, read it again from its first offset, so that --records "
      "may exceed what the topic holds");
  consume->add_option("--fetch-wait-max-ms", o->fetch_wait_max_ms, "fetch.wait.max.ms (default 1)")
      ->check(CLI::NonNegativeNumber);
  rewind->excludes("--group");
  consume->get_option("--partitions")->excludes("--group");
  consume->footer(
      "The run ends after the records, the duration, or --timeout seconds without a record.\n\n"
      "Examples:\n"
      "  sluice bench consume bench --records 5000000 --rewind\n"
      "  sluice bench consume bench --group bench-readers --duration 20");
  on_run(consume, inv, [o, &inv] { return bench::run_consume(*o, inv); });
}

void add_latency(CLI::App* bench, invocation& inv) {
  auto o = std::make_shared<latency_options>();
  o->duration_s = 5;
  auto* latency = bench->add_subcommand(
      "latency", "End-to-end latency at a fixed rate: intended send time -> consumed");
  add_run_options(latency, *o,
                  "Partitions to produce to and read, creating the topic with this many if "
                  "missing (default: every partition; 1 when created)");
  latency->add_option("--rate", o->rate, "Records/s (default 50000)")->check(CLI::PositiveNumber);
  latency->add_option("--duration", o->duration_s, "Seconds of producing (default 5)")
      ->check(CLI::PositiveNumber);
  latency
      ->add_option("--warmup", o->warmup_s,
                   "Seconds at the start left out of the histogram (default 1)")
      ->check(CLI::NonNegativeNumber);
  latency->add_option("--size", o->size, "Bytes of each record's value, at least 24 (default 100)")
      ->check(CLI::Range(int64_t{24}, std::numeric_limits<int64_t>::max()));
  latency->add_option("--acks", o->acks, "0, 1 (default) or all")
      ->check(CLI::IsMember(acks_values));
  latency->add_option("--compression", o->compression, "none (default), gzip, snappy, lz4, zstd")
      ->check(CLI::IsMember(codecs));
  latency->add_option("--linger-ms", o->linger_ms, "linger.ms (default 0)")
      ->check(CLI::NonNegativeNumber);
  latency
      ->add_option("--fetch-wait-max-ms", o->fetch_wait_max_ms, "fetch.wait.max.ms (default 100)")
      ->check(CLI::NonNegativeNumber);
  auto no_create = std::make_shared<bool>(false);
  latency->add_flag("--no-create", *no_create, "Never create the topic");
  latency->footer(
      "--timeout is how long the last records may take to arrive.\n\n"
      "Examples:\n"
      "  sluice bench latency bench --rate 10000 --duration 10 --acks all\n"
      "  sluice bench latency bench --rate 50000 --size 1024 --partitions 6 --format json");
  on_run(latency, inv, [o, no_create, &inv]() -> base::result<void> {
    if (o->warmup_s >= o->duration_s) return base::fail("--warmup must be shorter than --duration");
    o->create = !*no_create;
    return bench::run_latency(*o, inv);
  });
}

}  // namespace

void add_bench_commands(CLI::App& root, invocation& inv) {
  auto* bench =
      root.add_subcommand("bench", "Benchmark a cluster: produce, consume and end-to-end latency");
  bench->require_subcommand(1);
  bench->footer(
      "--format json prints the summary as one JSON document (progress stays on stderr).");
  add_produce(bench, inv);
  add_consume(bench, inv);
  add_latency(bench, inv);
}

}  // namespace sluice::cli
