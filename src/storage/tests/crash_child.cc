// The child of the crash test (crash_test.cc): appends to one partition log
// on the real disk until the test SIGKILLs it.
//
//   storage_crash_child <log dir> <seed>
//
// It opens the log directory with a log manager (background thread on, short
// intervals, so that flushes, rolls and checkpoint writes happen between
// kills), takes up the record sequence where the log ends, and appends
// batches of records forever, most with sync = true. After each synced append
// returns it prints "acked <last offset> <last sequence>" and flushes stdout:
// from then on those records must survive any crash.

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "protocol/record_batch.h"
#include "storage/log_manager.h"
#include "storage/tests/crash_workload.h"

namespace sluice::storage {
namespace {

int fail(const std::string& message) {
  std::fprintf(stderr, "storage_crash_child: %s\n", message.c_str());
  return 1;
}

// The sequence after the last record of the log: 0 for an empty log.
io_result<int64_t> next_sequence(partition_log& log) {
  const int64_t end = log.log_end_offset();
  if (end == log.log_start_offset()) return int64_t{0};
  auto slice = log.read(end - 1, 1);
  if (!slice) return base::unexpected(slice.error());
  auto bad = [&](const std::string& why) {
    return base::unexpected(io_error{EBADMSG, "last batch of " + log.directory() + ": " + why});
  };
  if (!*slice) return bad("none below the log end offset " + std::to_string(end));
  auto bytes = (*slice)->read();
  if (!bytes) return base::unexpected(bytes.error());
  auto batches = protocol::split_batches(*bytes);
  if (!batches || batches->empty()) return bad("unreadable");
  auto records = protocol::decode_records(batches->back(), 0);
  if (!records || records->empty() || !records->back().value) return bad("no records");
  auto seq = crash::sequence_of(records->back().value->span());
  if (!seq) return bad("its last value is not one this program writes");
  return *seq + 1;
}

std::vector<uint8_t> build_batch(int64_t first_seq, int records) {
  protocol::record_batch_builder builder;
  const int64_t now = wall_clock_ms();
  for (int i = 0; i < records; ++i) {
    std::string value = crash::value_of(first_seq + i);
    builder.add(now, std::nullopt,
                std::span(reinterpret_cast<const uint8_t*>(value.data()), value.size()));
  }
  return std::move(builder.build()).value();
}

int run(const std::string& log_dir, uint64_t seed) {
  auto fs = make_posix_file_system();
  log_manager_config config;
  config.log_dir = log_dir;
  config.defaults = crash::config();
  config.scheduler_interval_ms = 5;
  config.checkpoint_interval_ms = 20;
  config.retention_check_interval_ms = 50;
  config.recovery_threads = 1;
  auto manager = log_manager::open(*fs, config);
  if (!manager) return fail(manager.error().message);
  auto log = (*manager)->get_or_create(crash::partition, config.defaults);
  if (!log) return fail(log.error().message);
  auto next = next_sequence(**log);
  if (!next) return fail(next.error().message);

  std::mt19937_64 rng(seed);
  for (int64_t seq = *next;;) {
    // One batch, or now and then two in one append (one write, one group).
    std::vector<uint8_t> bytes;
    const int batch_count = rng() % 4 == 0 ? 2 : 1;
    for (int b = 0; b < batch_count; ++b) {
      const int records = 1 + static_cast<int>(rng() % 8);
      std::vector<uint8_t> batch = build_batch(seq, records);
      bytes.insert(bytes.end(), batch.begin(), batch.end());
      seq += records;
    }
    // Unsynced appends are never acknowledged: only a later fsync (of a
    // synced append or the flusher) makes them durable.
    const bool sync = rng() % 8 != 0;
    auto appended = (*log)->append(bytes, {.sync = sync});
    if (!appended) return fail(appended.error().message);
    if (!sync) continue;
    std::printf("acked %" PRId64 " %" PRId64 "\n", appended->last_offset, seq - 1);
    // The test reads acknowledgements as they come; a closed pipe ends the run.
    if (std::fflush(stdout) != 0) return fail("stdout closed");
  }
}

}  // namespace
}  // namespace sluice::storage

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: storage_crash_child <log dir> <seed>\n");
    return 2;
  }
  return sluice::storage::run(argv[1], std::strtoull(argv[2], nullptr, 10));
}
