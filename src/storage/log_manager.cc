#include "storage/log_manager.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "storage/checkpoint_file.h"

namespace sluice::storage {

std::string partition_directory_name(const topic_partition& tp) {
  return tp.topic + "-" + std::to_string(tp.partition);
}

std::optional<topic_partition> parse_partition_directory_name(std::string_view name) {
  auto dash = name.rfind('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == name.size()) return std::nullopt;
  std::string_view digits = name.substr(dash + 1);
  int32_t partition = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), partition);
  if (ec != std::errc() || end != digits.data() + digits.size() || partition < 0) {
    return std::nullopt;
  }
  return topic_partition{std::string(name.substr(0, dash)), partition};
}

namespace {

// A directory of a partition being deleted: "<topic>-<partition>.<time>-delete".
constexpr std::string_view deleting_suffix = "-delete";

struct managed_log {
  std::shared_ptr<partition_log> log;
  int64_t first_dirty_offset = 0;  // where compaction resumes
};

using offsets_by_partition = std::map<topic_partition, int64_t>;

// A checkpoint as a map; a missing or corrupt one is empty, which only makes
// recovery scan more (a checkpoint is never needed for correctness).
offsets_by_partition read_checkpoint(file_system& fs, const std::string& path) {
  offsets_by_partition out;
  auto entries = checkpoint_file(fs, path).read_partition_offsets();
  if (!entries) return out;
  for (auto& e : *entries) out[{std::move(e.topic), e.partition}] = e.offset;
  return out;
}

int64_t offset_or(const offsets_by_partition& offsets, const topic_partition& tp,
                  int64_t fallback) {
  auto it = offsets.find(tp);
  return it == offsets.end() ? fallback : it->second;
}

}  // namespace

struct log_manager::state {
  state(file_system& fs, log_manager_config config) : fs(fs), config(std::move(config)) {}

  std::string path_of(std::string_view name) const {
    return config.log_dir + "/" + std::string(name);
  }
  std::vector<std::pair<topic_partition, std::shared_ptr<partition_log>>> snapshot() const {
    std::lock_guard lock(mu);
    std::vector<std::pair<topic_partition, std::shared_ptr<partition_log>>> out;
    for (const auto& [tp, managed] : logs) out.emplace_back(tp, managed.log);
    return out;
  }
  void record_error(const topic_partition& tp, const io_error& e) {
    std::lock_guard lock(stats_mu);
    ++stats.errors;
    stats.last_error = partition_directory_name(tp) + ": " + e.message;
  }
  // Runs `work` every scheduler tick until stopping.
  void background_loop(const std::function<void()>& work);

  file_system& fs;
  const log_manager_config config;
  bool clean_shutdown = false;

  mutable std::mutex mu;
  std::map<topic_partition, managed_log> logs;

  mutable std::mutex stats_mu;
  maintenance_stats stats;

  // Background schedule, touched by whoever runs run_due_work().
  std::mutex work_mu;
  int64_t last_retention_ms = 0;
  int64_t last_cleaning_ms = 0;
  int64_t last_checkpoint_ms = 0;
  int64_t last_window_release_ms = 0;

  std::mutex thread_mu;
  std::condition_variable wake;
  bool stopping = false;
  std::thread thread;
};

log_manager::log_manager(std::unique_ptr<state> s) : state_(std::move(s)) {}

log_manager::~log_manager() {
  {
    std::lock_guard lock(state_->thread_mu);
    state_->stopping = true;
  }
  state_->wake.notify_all();
  if (state_->thread.joinable()) state_->thread.join();
}

void log_manager::state::background_loop(const std::function<void()>& work) {
  std::unique_lock lock(thread_mu);
  while (!stopping) {
    wake.wait_for(lock, std::chrono::milliseconds(config.scheduler_interval_ms));
    if (stopping) break;
    lock.unlock();
    work();
    lock.lock();
  }
}

io_result<std::unique_ptr<log_manager>> log_manager::open(file_system& fs,
                                                          log_manager_config config) {
  auto s = std::make_unique<state>(fs, std::move(config));
  const std::string& dir = s->config.log_dir;
  auto made = create_durable_directory(fs, dir);
  if (!made) return base::unexpected(made.error());

  auto marker = fs.exists(s->path_of(clean_shutdown_file));
  if (!marker) return base::unexpected(marker.error());
  s->clean_shutdown = *marker;
  auto recovery_points = read_checkpoint(fs, s->path_of(recovery_point_file));
  auto log_starts = read_checkpoint(fs, s->path_of(log_start_offset_file));
  auto cleaner_offsets = read_checkpoint(fs, s->path_of(cleaner_offset_file));

  auto names = fs.list(dir);
  if (!names) return base::unexpected(names.error());
  std::vector<topic_partition> found;
  for (const auto& name : *names) {
    if (name.ends_with(deleting_suffix)) {
      // A deletion a crash interrupted: finish it.
      auto removed = remove_all(fs, dir + "/" + name);
      if (!removed) return base::unexpected(removed.error());
      continue;
    }
    auto tp = parse_partition_directory_name(name);
    if (!tp) continue;
    auto is_directory = fs.list(dir + "/" + name);
    if (is_directory) found.push_back(std::move(*tp));
  }

  // Partitions open in parallel: after a crash each scans its tail, and a
  // broker with thousands of partitions should not do that one at a time.
  std::vector<std::optional<io_result<std::unique_ptr<partition_log>>>> opened(found.size());
  std::atomic<size_t> next = 0;
  auto open_some = [&] {
    for (size_t i = next++; i < found.size(); i = next++) {
      const topic_partition& tp = found[i];
      log_open_options options;
      options.config = s->config.config_for ? s->config.config_for(tp) : s->config.defaults;
      options.clock = s->config.clock;
      options.clean_shutdown = s->clean_shutdown;
      options.recovery_point = offset_or(recovery_points, tp, 0);
      options.log_start_offset = offset_or(log_starts, tp, -1);
      opened[i] = partition_log::open(fs, dir + "/" + partition_directory_name(tp), options);
    }
  };
  size_t threads = s->config.recovery_threads != 0
                       ? s->config.recovery_threads
                       : std::max(1u, std::thread::hardware_concurrency());
  threads = std::min(threads, std::max<size_t>(1, found.size()));
  std::vector<std::thread> openers;
  for (size_t t = 1; t < threads; ++t) openers.emplace_back(open_some);
  open_some();
  for (auto& t : openers) t.join();
  for (size_t i = 0; i < found.size(); ++i) {
    if (!*opened[i]) return base::unexpected((*opened[i]).error());
    auto log = std::shared_ptr<partition_log>(std::move(**opened[i]));
    int64_t first_dirty =
        std::max(offset_or(cleaner_offsets, found[i], 0), log->log_start_offset());
    s->logs.emplace(found[i], managed_log{std::move(log), first_dirty});
  }

  if (s->clean_shutdown) {
    // From here on the logs change: a crash must not pass for a clean stop.
    auto removed = fs.remove(s->path_of(clean_shutdown_file));
    if (!removed) return base::unexpected(removed.error());
    auto synced = fs.sync_directory(dir);
    if (!synced) return base::unexpected(synced.error());
  }
  const int64_t now = s->config.clock();
  s->last_retention_ms = s->last_cleaning_ms = s->last_checkpoint_ms = now;
  s->last_window_release_ms = now;
  auto manager = std::unique_ptr<log_manager>(new log_manager(std::move(s)));
  auto checkpointed = manager->write_checkpoints();
  if (!checkpointed) return base::unexpected(checkpointed.error());
  if (manager->state_->config.background) {
    log_manager* m = manager.get();
    m->state_->thread =
        std::thread([m] { m->state_->background_loop([m] { m->run_due_work(); }); });
  }
  return manager;
}

bool log_manager::opened_after_clean_shutdown() const { return state_->clean_shutdown; }

io_result<std::shared_ptr<partition_log>> log_manager::get_or_create(const topic_partition& tp,
                                                                     const log_config& config) {
  state& s = *state_;
  std::lock_guard lock(s.mu);
  auto it = s.logs.find(tp);
  if (it != s.logs.end()) return it->second.log;
  log_open_options options;
  options.config = config;
  options.clock = s.config.clock;
  auto opened = partition_log::open(s.fs, s.path_of(partition_directory_name(tp)), options);
  if (!opened) return base::unexpected(opened.error());
  std::shared_ptr<partition_log> log = std::move(*opened);
  s.logs.emplace(tp, managed_log{log, log->log_start_offset()});
  return log;
}

std::shared_ptr<partition_log> log_manager::find(const topic_partition& tp) const {
  std::lock_guard lock(state_->mu);
  auto it = state_->logs.find(tp);
  return it == state_->logs.end() ? nullptr : it->second.log;
}

std::vector<topic_partition> log_manager::partitions() const {
  std::lock_guard lock(state_->mu);
  std::vector<topic_partition> out;
  for (const auto& [tp, managed] : state_->logs) out.push_back(tp);
  return out;
}

io_result<void> log_manager::remove(const topic_partition& tp) {
  state& s = *state_;
  // Not while background work runs: a compaction of this log would recreate
  // its directory.
  std::lock_guard work(s.work_mu);
  std::shared_ptr<partition_log> log;
  {
    std::lock_guard lock(s.mu);
    auto it = s.logs.find(tp);
    if (it == s.logs.end()) {
      return base::unexpected(
          make_io_error(ENOENT, "delete", s.path_of(partition_directory_name(tp))));
    }
    log = std::move(it->second.log);
    s.logs.erase(it);
  }
  // Whoever still holds the log gets errors from now on, not a new directory.
  static_cast<void>(log->close());
  // One rename takes the partition out of the log directory atomically; a
  // crash during the removal that follows is finished by the next open.
  std::string from = log->directory();
  std::string to = from + "." + std::to_string(s.config.clock()) + std::string(deleting_suffix);
  auto renamed = s.fs.rename(from, to);
  if (!renamed) return renamed;
  auto synced = s.fs.sync_directory(s.config.log_dir);
  if (!synced) return synced;
  return remove_all(s.fs, to);
}

void log_manager::flush_and_roll_due() {
  for (const auto& [tp, log] : state_->snapshot()) {
    auto flushed = log->flush_if_due();
    if (!flushed) state_->record_error(tp, flushed.error());
    auto rolled = log->roll_if_due();
    if (!rolled) state_->record_error(tp, rolled.error());
  }
}

void log_manager::enforce_retention() {
  for (const auto& [tp, log] : state_->snapshot()) {
    auto removed = log->enforce_retention();
    if (!removed) {
      state_->record_error(tp, removed.error());
      continue;
    }
    std::lock_guard lock(state_->stats_mu);
    state_->stats.segments_deleted += *removed;
  }
}

void log_manager::compact_due() {
  state& s = *state_;
  const int64_t now = s.config.clock();
  for (const auto& [tp, log] : s.snapshot()) {
    if (log->config().policy == cleanup_policy::remove) continue;
    int64_t first_dirty = 0;
    {
      std::lock_guard lock(s.mu);
      auto it = s.logs.find(tp);
      if (it == s.logs.end()) continue;
      first_dirty = it->second.first_dirty_offset;
    }
    first_dirty = std::min(first_dirty, log->take_truncation_point());
    first_dirty = std::max(first_dirty, log->log_start_offset());
    auto compacted = compact_if_due(*log, first_dirty, now, s.config.cleaner);
    if (!compacted) {
      s.record_error(tp, compacted.error());
      continue;
    }
    {
      std::lock_guard lock(s.mu);
      auto it = s.logs.find(tp);
      if (it != s.logs.end()) it->second.first_dirty_offset = compacted->first_dirty_offset;
    }
    if (compacted->compacted) {
      std::lock_guard lock(s.stats_mu);
      ++s.stats.compactions;
    }
  }
}

io_result<void> log_manager::write_checkpoints() {
  state& s = *state_;
  std::vector<topic_partition_offset> recovery_points, log_starts, cleaner_offsets;
  {
    std::lock_guard lock(s.mu);
    for (const auto& [tp, managed] : s.logs) {
      recovery_points.push_back({tp.topic, tp.partition, managed.log->recovery_point()});
      log_starts.push_back({tp.topic, tp.partition, managed.log->log_start_offset()});
      cleaner_offsets.push_back({tp.topic, tp.partition, managed.first_dirty_offset});
    }
  }
  auto written = checkpoint_file(s.fs, s.path_of(recovery_point_file)).write(recovery_points);
  if (!written) return written;
  written = checkpoint_file(s.fs, s.path_of(log_start_offset_file)).write(log_starts);
  if (!written) return written;
  return checkpoint_file(s.fs, s.path_of(cleaner_offset_file)).write(cleaner_offsets);
}

void log_manager::run_due_work() {
  state& s = *state_;
  std::lock_guard work(s.work_mu);
  const int64_t now = s.config.clock();
  flush_and_roll_due();
  if (now - s.last_retention_ms >= s.config.retention_check_interval_ms) {
    s.last_retention_ms = now;
    enforce_retention();
  }
  if (s.config.cleaner_enable && now - s.last_cleaning_ms >= s.config.cleaner_backoff_ms) {
    s.last_cleaning_ms = now;
    compact_due();
  }
  if (now - s.last_window_release_ms >= s.config.idle_window_ms) {
    s.last_window_release_ms = now;
    for (const auto& [tp, log] : s.snapshot()) log->release_idle_window();
  }
  if (now - s.last_checkpoint_ms >= s.config.checkpoint_interval_ms) {
    s.last_checkpoint_ms = now;
    auto written = write_checkpoints();
    if (!written) s.record_error({"(checkpoints)", 0}, written.error());
  }
}

maintenance_stats log_manager::stats() const {
  std::lock_guard lock(state_->stats_mu);
  return state_->stats;
}

io_result<void> log_manager::close() {
  state& s = *state_;
  {
    std::lock_guard lock(s.thread_mu);
    s.stopping = true;
  }
  s.wake.notify_all();
  if (s.thread.joinable()) s.thread.join();
  for (const auto& [tp, log] : s.snapshot()) {
    auto closed = log->close();
    if (!closed) return closed;
  }
  auto checkpointed = write_checkpoints();
  if (!checkpointed) return checkpointed;
  // The marker goes last: it vouches for everything above.
  auto marker = s.fs.open(s.path_of(clean_shutdown_file), open_mode::create_read_write);
  if (!marker) return base::unexpected(marker.error());
  auto synced = (*marker)->sync();
  if (!synced) return synced;
  return s.fs.sync_directory(s.config.log_dir);
}

}  // namespace sluice::storage
