// Crash test on the real disk: a child process (crash_child.cc) appends and
// fsyncs while this test SIGKILLs it at random moments, hundreds of times;
// after each kill the test reopens the log directory in-process and checks
// that every acknowledged (fsynced) batch is there and intact, that the log
// is contiguous from offset 0 with every record where its sequence says, and
// that nothing torn stays visible. Every few kills it also damages the tail
// of the active segment (cuts it inside the last batch, flips a byte of it,
// or appends garbage) and checks that recovery cuts the log exactly there.
//
// A SIGKILL loses nothing the kernel has, so what this finds are writes torn
// by the kill (a large pwrite(2) stops between pages when a fatal signal
// arrives), kills inside a roll, an open or a checkpoint write, and recovery
// that cuts too much or too little; losses of unsynced data at a power cut
// are the fault-injecting file system's part (segment_test.cc).

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "protocol/record_batch.h"
#include "storage/log_manager.h"
#include "storage/tests/crash_workload.h"
#include "storage/tests/file_system_test_util.h"

extern char** environ;

namespace sluice::storage {
namespace {

using std::chrono::steady_clock;

constexpr int iterations = 300;
constexpr int damage_every = 20;
// Between full checks, only the segments written since the last check are
// read: what was checked was fsynced and closed, and the time a check takes
// would otherwise grow with the log.
constexpr int full_check_every = 25;
// The test takes about 22 s on a 2-core VM (30 s under ASan); this bounds it
// if the disk is slow.
constexpr auto time_limit = std::chrono::seconds(90);
constexpr uint64_t seed = 20261127;

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by ") + strsignal(WTERMSIG(status));
  return "wait status " + std::to_string(status);
}

// The running child, its stdout a pipe to us. Destroying it SIGKILLs and
// reaps the child, so that no child outlives a failed assertion.
class child_process {
 public:
  static std::unique_ptr<child_process> spawn(const std::string& log_dir, uint64_t child_seed) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      ADD_FAILURE() << "pipe2: " << std::strerror(errno);
      return nullptr;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    // dup2 clears close-on-exec on the child's stdout; both pipe ends close.
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    std::string seed_text = std::to_string(child_seed);
    std::string path = SLUICE_CRASH_CHILD;
    char* argv[] = {path.data(), const_cast<char*>(log_dir.c_str()), seed_text.data(), nullptr};
    pid_t pid = -1;
    int spawned = ::posix_spawn(&pid, path.c_str(), &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    if (spawned != 0) {
      ::close(fds[0]);
      ADD_FAILURE() << "posix_spawn " << path << ": " << std::strerror(spawned);
      return nullptr;
    }
    return std::unique_ptr<child_process>(new child_process(pid, fds[0]));
  }

  ~child_process() {
    if (pid_ > 0) static_cast<void>(kill_and_wait());
    ::close(out_);
  }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  int stdout_fd() const { return out_; }

  // SIGKILLs the child (if it still runs) and reaps it; the wait status.
  // Once only: kill(-1) would signal every process we may signal.
  int kill_and_wait() {
    assert(pid_ > 0);
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return status;
  }

 private:
  child_process(pid_t pid, int out) : pid_(pid), out_(out) {}

  pid_t pid_;
  int out_;
};

struct ack {
  int64_t offset = -1;  // the last offset of a synced append
  int64_t seq = -1;     // the sequence of its last record
};

// Reads the child's "acked <offset> <seq>" lines until `deadline`, or until
// end of file without one. Lines are written whole (one write of less than
// PIPE_BUF bytes each), so a partial line at the end is an error.
void read_acks(int fd, std::optional<steady_clock::time_point> deadline, std::string& pending,
               std::vector<ack>& out) {
  while (true) {
    if (deadline) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - steady_clock::now());
      if (left.count() <= 0) return;
      pollfd p{fd, POLLIN, 0};
      int ready = ::poll(&p, 1, static_cast<int>(left.count()));
      if (ready < 0 && errno == EINTR) continue;
      ASSERT_GE(ready, 0) << "poll: " << std::strerror(errno);
      if (ready == 0) return;
    }
    char buffer[4096];
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    ASSERT_GE(n, 0) << "read: " << std::strerror(errno);
    if (n == 0) {
      ASSERT_TRUE(pending.empty()) << "partial line from the child: " << pending;
      return;
    }
    pending.append(buffer, static_cast<size_t>(n));
    for (size_t newline; (newline = pending.find('\n')) != std::string::npos;) {
      std::string line = pending.substr(0, newline);
      pending.erase(0, newline + 1);
      ack a;
      char rest = 0;
      ASSERT_EQ(
          std::sscanf(line.c_str(), "acked %" SCNd64 " %" SCNd64 "%c", &a.offset, &a.seq, &rest), 2)
          << "unexpected line from the child: " << line;
      out.push_back(a);
    }
  }
}

// The active (last) segment's .log as recovery will judge it: the batches
// from its start that are whole, pass their CRC and follow each other.
struct segment_tail {
  std::string path;
  uint64_t file_size = 0;
  uint64_t valid_bytes = 0;  // where recovery must cut
  int64_t end_offset = 0;    // the log end offset recovery must leave
  // The last valid batch, if any.
  uint64_t last_position = 0;
  uint64_t last_size = 0;
  int64_t last_base_offset = -1;
};

std::optional<segment_tail> read_active_tail(file_system& fs, const std::string& directory) {
  auto names = fs.list(directory);
  if (!names) return std::nullopt;  // not created before the first kill
  std::optional<int64_t> active;
  for (const auto& name : *names) {
    auto base = parse_segment_file_name(name, log_extension);
    if (base && (!active || *base > *active)) active = base;
  }
  if (!active) return std::nullopt;
  segment_tail tail;
  tail.end_offset = *active;
  tail.path = directory + "/" + segment_file_name(*active, log_extension);
  std::string content = read_file(fs, tail.path);
  tail.file_size = content.size();
  protocol::batch_splitter splitter(base::shared_bytes::copy_of(content),
                                    {.allow_partial_tail = true});
  while (true) {
    auto batch = splitter.next();
    if (!batch || !*batch) break;
    const auto& h = (*batch)->header();
    if (!protocol::verify_crc(**batch) || h.base_offset < tail.end_offset) break;
    tail.last_position = tail.valid_bytes;
    tail.last_size = h.size();
    tail.last_base_offset = h.base_offset;
    tail.valid_bytes += h.size();
    tail.end_offset = h.last_offset() + 1;
  }
  return tail;
}

enum class damage { torn_batch, flipped_byte, garbage };

const char* damage_name(damage d) {
  switch (d) {
    case damage::torn_batch:
      return "cut inside the last batch";
    case damage::flipped_byte:
      return "byte flipped in the last batch";
    case damage::garbage:
      return "garbage after the last batch";
  }
  return "?";
}

// Damages the active segment behind the log's back and returns the log end
// offset recovery must leave. An empty segment only gets garbage.
int64_t inflict(file_system& fs, const segment_tail& tail, damage kind, std::mt19937_64& rng) {
  auto f = fs.open(tail.path, open_mode::read_write);
  EXPECT_TRUE(f.ok()) << f.error().message;
  if (!f) return -1;
  if (tail.last_base_offset < 0) kind = damage::garbage;
  switch (kind) {
    case damage::torn_batch: {
      uint64_t cut = tail.last_position + 1 + rng() % (tail.last_size - 1);
      EXPECT_TRUE((*f)->truncate(cut).ok());
      return tail.last_base_offset;
    }
    case damage::flipped_byte: {
      // From the magic byte on: the base offset, length and leader epoch
      // before it lie outside the CRC in Kafka's format, and a changed
      // length shows as a torn batch, which the case above covers.
      uint64_t at = tail.last_position + protocol::batch_layout::magic +
                    rng() % (tail.last_size - protocol::batch_layout::magic);
      uint8_t byte = 0;
      EXPECT_TRUE((*f)->read_at(at, std::span(&byte, 1)).ok());
      byte ^= static_cast<uint8_t>(1 + rng() % 255);
      EXPECT_TRUE((*f)->write_at(at, std::span(&byte, 1)).ok());
      return tail.last_base_offset;
    }
    case damage::garbage: {
      std::vector<uint8_t> junk(1 + rng() % 300);
      for (auto& b : junk) b = static_cast<uint8_t>(rng());
      EXPECT_TRUE((*f)->write_at(tail.file_size, junk).ok());
      return tail.end_offset;
    }
  }
  return -1;
}

// The log from the segment holding `from` on (from offset 0 for all of it),
// read as a consumer reads it: contiguous batches with valid CRCs, each
// record's value the one its offset's sequence gives, nothing after the last
// batch, and no byte in the .log files that the log does not account for.
// Returns the log end offset.
int64_t check_log(file_system& fs, partition_log& log, int64_t from) {
  EXPECT_EQ(log.log_start_offset(), 0);
  const auto bases = log.segment_base_offsets();
  int64_t next = *std::prev(std::upper_bound(bases.begin(), bases.end(), from));
  const int64_t first_checked = next;
  uint64_t bytes = 0;
  while (true) {
    auto slice = log.read(next, 256 * 1024);
    EXPECT_TRUE(slice.ok()) << slice.error().message;
    if (!slice || !*slice) break;
    auto range = (*slice)->read();
    EXPECT_TRUE(range.ok()) << range.error().message;
    if (!range) break;
    auto batches = protocol::split_batches(*range);
    EXPECT_TRUE(batches.ok()) << "at offset " << next << ": " << batches.error().message;
    if (!batches) break;
    for (const auto& batch : *batches) {
      const auto& h = batch.header();
      EXPECT_EQ(h.base_offset, next) << "batches are not contiguous";
      EXPECT_TRUE(protocol::verify_crc(batch).ok()) << "bad CRC in the batch at " << h.base_offset;
      auto records = protocol::decode_records(batch, 0);
      EXPECT_TRUE(records.ok()) << "batch at " << h.base_offset << ": " << records.error().message;
      if (!records) return -1;
      EXPECT_EQ(records->size(), static_cast<size_t>(h.last_offset_delta) + 1);
      for (const auto& r : *records) {
        const int64_t offset = r.offset(h);
        auto seq = r.value ? crash::sequence_of(r.value->span()) : std::nullopt;
        EXPECT_EQ(seq, std::optional<int64_t>(offset)) << "record at offset " << offset;
        if (seq != offset) return -1;
      }
      next = h.last_offset() + 1;
      bytes += h.size();
    }
  }
  EXPECT_EQ(log.log_end_offset(), next) << "batches end before the log end offset";
  auto at_end = log.read(next, 1);
  EXPECT_TRUE(at_end.ok() && !*at_end) << "something readable at the log end offset " << next;
  auto past_end = log.read(next + 1, 1);
  EXPECT_TRUE(!past_end.ok() && past_end.error().code == ERANGE);
  // On disk: the segments checked hold exactly the batches read, and all of
  // them together what the log counts.
  uint64_t on_disk = 0;
  uint64_t on_disk_checked = 0;
  auto names = fs.list(log.directory());
  EXPECT_TRUE(names.ok());
  if (names) {
    for (const auto& name : *names) {
      auto base = parse_segment_file_name(name, log_extension);
      if (!base) continue;
      auto f = fs.open(log.directory() + "/" + name, open_mode::read_only);
      EXPECT_TRUE(f.ok());
      if (!f) continue;
      const uint64_t size = (*f)->size().value();
      on_disk += size;
      if (*base >= first_checked) on_disk_checked += size;
    }
  }
  EXPECT_EQ(on_disk_checked, bytes) << "the .log files hold bytes past the last batch";
  EXPECT_EQ(on_disk, log.size_bytes());
  return next;
}

log_manager_config reopen_config(const std::string& log_dir) {
  log_manager_config config;
  config.log_dir = log_dir;
  config.defaults = crash::config();
  config.background = false;
  config.recovery_threads = 1;
  return config;
}

TEST(CrashTest, SigkillWhileAppendingKeepsEveryFsyncedBatchAndRecoveryCutsDamage) {
  temporary_directory dir;
  auto fs = make_posix_file_system();
  const std::string partition_dir = dir.path() + "/" + partition_directory_name(crash::partition);
  std::mt19937_64 rng(seed);
  // Every acknowledged offset is below this (less what damage destroyed).
  int64_t durable_end = 0;
  bool damage_due = false;
  int damaged = 0;
  int torn_by_kill = 0;
  int64_t acked = 0;
  int64_t log_end = 0;
  int kills = 0;
  const auto started = steady_clock::now();
  for (int i = 0; i < iterations; ++i) {
    SCOPED_TRACE("iteration " + std::to_string(i) + " of seed " + std::to_string(seed));
    if (steady_clock::now() - started > time_limit) {
      ADD_FAILURE() << "stopped after " << i << " of " << iterations << " kills: over "
                    << time_limit.count() << " s (is the disk slow?)";
      break;
    }
    if (i % damage_every == damage_every - 1) damage_due = true;

    std::vector<ack> acks;
    {
      auto child = child_process::spawn(dir.path(), rng());
      ASSERT_TRUE(child);
      // From the spawn on: short runs kill it while it opens and recovers.
      auto deadline = steady_clock::now() + std::chrono::milliseconds(2 + rng() % 99);
      std::string pending;
      ASSERT_NO_FATAL_FAILURE(read_acks(child->stdout_fd(), deadline, pending, acks));
      int status = child->kill_and_wait();
      ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
          << "the child " << describe_wait_status(status);
      // What it printed before it died counts too.
      ASSERT_NO_FATAL_FAILURE(read_acks(child->stdout_fd(), std::nullopt, pending, acks));
    }
    ++kills;
    for (const ack& a : acks) {
      ASSERT_EQ(a.offset, a.seq) << "an acknowledged offset does not hold its sequence";
      durable_end = std::max(durable_end, a.offset + 1);
    }
    acked += static_cast<int64_t>(acks.size());

    // What recovery must leave: the active segment cut after its last valid
    // batch (earlier segments were fsynced whole before the roll).
    auto tail = read_active_tail(*fs, partition_dir);
    int64_t expected_end = tail ? tail->end_offset : 0;
    ASSERT_LE(durable_end, expected_end) << "acknowledged batches are missing from the files";
    if (tail && tail->valid_bytes < tail->file_size) ++torn_by_kill;
    // Damage only a log the child had opened: the clean-shutdown marker of
    // our last close is still there otherwise, and a clean log is trusted
    // without a scan, in Kafka too.
    auto marker = fs->exists(dir.path() + "/" + std::string(log_manager::clean_shutdown_file));
    ASSERT_TRUE(marker.ok());
    if (damage_due && tail && !*marker) {
      const damage kind = static_cast<damage>(damaged % 3);
      SCOPED_TRACE(damage_name(kind));
      expected_end = inflict(*fs, *tail, kind, rng);
      ASSERT_GE(expected_end, 0);
      durable_end = std::min(durable_end, expected_end);
      damage_due = false;
      ++damaged;
    }

    auto manager = log_manager::open(*fs, reopen_config(dir.path()));
    ASSERT_TRUE(manager.ok()) << manager.error().message;
    auto log = (*manager)->find(crash::partition);
    if (!log) {
      ASSERT_EQ(durable_end, 0) << "the partition is gone";
      continue;
    }
    const bool full = i % full_check_every == 0 || i + 1 == iterations;
    log_end = check_log(*fs, *log, full ? 0 : std::min(log_end, expected_end));
    ASSERT_FALSE(HasFailure());
    ASSERT_EQ(log_end, expected_end) << "recovery did not cut the log where it is damaged";
    // Each acknowledged offset by itself, through the offset index.
    for (const ack& a : acks) {
      if (a.offset >= durable_end) continue;
      auto slice = log->read(a.offset, 1);
      ASSERT_TRUE(slice.ok() && *slice) << "acknowledged offset " << a.offset << " is unreadable";
      ASSERT_LE((*slice)->range().first_offset, a.offset);
      ASSERT_GE((*slice)->range().last_offset, a.offset);
    }
    auto closed = (*manager)->close();
    ASSERT_TRUE(closed.ok()) << closed.error().message;
  }
  EXPECT_GE(damaged, iterations / damage_every - 2);
  std::printf(
      "crash test: %d kills, %lld acknowledged appends, %d tails torn by a kill, %d "
      "damaged on purpose, log end offset %lld, %.1f s\n",
      kills, static_cast<long long>(acked), torn_by_kill, damaged, static_cast<long long>(log_end),
      std::chrono::duration<double>(steady_clock::now() - started).count());
}

}  // namespace
}  // namespace sluice::storage
