#pragma once

// log_manager: every partition log of one log directory (`log.dirs` entry),
// and the background work they share — Kafka's LogManager.
//
// On open it reads the directory's checkpoints and clean-shutdown marker and
// opens each `<topic>-<partition>/` with them, on several threads: after a
// clean shutdown a partition opens from its indexes without scanning; after a
// crash each is scanned from its recovery point. close() flushes everything,
// writes the checkpoints and then the marker, so the next open is fast.
//
// Files in the log directory (Kafka's names and formats):
//   recovery-point-offset-checkpoint   offsets below which each log was fsynced
//   log-start-offset-checkpoint        each log's start offset (DeleteRecords, retention)
//   cleaner-offset-checkpoint          where compaction of each log resumes
//   .kafka_cleanshutdown               present only after a clean close()
//
// Background work, on one thread of its own (or driven by run_due_work() in
// tests): flush.ms flushes and segment.ms rolls every scheduler tick,
// retention every log.retention.check.interval.ms, compaction every
// log.cleaner.backoff.ms, checkpoints every
// log.flush.offset.checkpoint.interval.ms, and the unmapping of idle
// partitions' read windows every idle_window_ms. None of it blocks appends or
// reads for longer than a segment-list update.

#include <compare>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/file_system.h"
#include "storage/log_cleaner.h"
#include "storage/log_config.h"
#include "storage/partition_log.h"

namespace sluice::storage {

struct topic_partition {
  std::string topic;
  int32_t partition = 0;
  friend auto operator<=>(const topic_partition&, const topic_partition&) = default;
};

// "<topic>-<partition>", Kafka's directory name; the partition is what
// follows the last '-' (topic names may hold '-' themselves).
std::string partition_directory_name(const topic_partition& tp);
std::optional<topic_partition> parse_partition_directory_name(std::string_view name);

struct log_manager_config {
  std::string log_dir;
  clock_function clock = wall_clock_ms;
  // The topic config of each partition found on open; the broker's log.*
  // defaults when not given.
  std::function<log_config(const topic_partition&)> config_for;
  log_config defaults;

  int64_t scheduler_interval_ms = 1000;           // log.flush.scheduler.interval.ms
  int64_t retention_check_interval_ms = 300'000;  // log.retention.check.interval.ms
  int64_t checkpoint_interval_ms = 60'000;        // log.flush.offset.checkpoint.interval.ms
  bool cleaner_enable = true;                     // log.cleaner.enable
  int64_t cleaner_backoff_ms = 15'000;            // log.cleaner.backoff.ms
  cleaner_limits cleaner;                         // log.cleaner.dedupe.buffer.size
  size_t recovery_threads = 0;                    // 0: one per core
  // A partition whose mapped window (segment::map_range) no Fetch used for
  // this long lets it go.
  int64_t idle_window_ms = 60'000;
  // Run the background thread; tests drive run_due_work() themselves.
  bool background = true;
};

// What the background work did and what went wrong, for metrics and logs.
struct maintenance_stats {
  uint64_t segments_deleted = 0;
  uint64_t compactions = 0;
  uint64_t errors = 0;
  std::string last_error;  // "<partition>: <message>"
};

class log_manager {
 public:
  static constexpr std::string_view clean_shutdown_file = ".kafka_cleanshutdown";
  static constexpr std::string_view recovery_point_file = "recovery-point-offset-checkpoint";
  static constexpr std::string_view log_start_offset_file = "log-start-offset-checkpoint";
  static constexpr std::string_view cleaner_offset_file = "cleaner-offset-checkpoint";

  static io_result<std::unique_ptr<log_manager>> open(file_system& fs, log_manager_config config);
  // Stops the background thread. Without close() the next open recovers as
  // after a crash (which is safe, only slower).
  ~log_manager();
  log_manager(const log_manager&) = delete;
  log_manager& operator=(const log_manager&) = delete;

  // Whether the last shutdown was clean (what open found).
  bool opened_after_clean_shutdown() const;

  // The partition's log, created with `config` when there is none.
  io_result<std::shared_ptr<partition_log>> get_or_create(const topic_partition& tp,
                                                          const log_config& config);
  std::shared_ptr<partition_log> find(const topic_partition& tp) const;
  std::vector<topic_partition> partitions() const;
  // Deletes the partition's log and its directory (DeleteTopics). Reads that
  // hold a slice finish; later calls on the log fail.
  io_result<void> remove(const topic_partition& tp);

  // One round of the background work that is due at the clock's time.
  void run_due_work();
  // Each part on its own, for tests and for the broker's admin paths.
  void flush_and_roll_due();
  void enforce_retention();
  void compact_due();
  io_result<void> write_checkpoints();
  maintenance_stats stats() const;

  // Flushes every log, writes the checkpoints and the clean-shutdown marker,
  // stops the background thread. The manager must not be used afterwards.
  io_result<void> close();

 private:
  struct state;
  explicit log_manager(std::unique_ptr<state> s);
  std::unique_ptr<state> state_;
};

}  // namespace sluice::storage
