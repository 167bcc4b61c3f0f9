// The partition log on the real disk against the system calls under it:
// appends against a write(2) loop of the same bytes (with and without an
// fdatasync each), group commit (16 appending threads against 1), sequential
// reads against read(2) of the segment files, and offset and timestamp
// lookups on a log of 1,000 segments against one pread(2) of a batch header.
//
// Everything lives in a scratch directory under /tmp (the real disk, not a
// tmpfs on the machines we measure), removed at the end. Reads run from the
// page cache: the log was just written.

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "protocol/record_batch.h"
#include "storage/partition_log.h"

namespace {

using namespace sluice;
using namespace sluice::storage;

constexpr size_t record_value_bytes = 100;
constexpr int64_t first_timestamp = 1'700'000'000'000;

// A fresh directory under /tmp, removed with everything in it at the end.
class scratch_directory {
 public:
  scratch_directory() {
    std::string pattern = "/tmp/sluice-storage-bench-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  // Syncs the file system after the removal, so that the next benchmark's
  // fsyncs do not pay for the journal commit (and discard) of this one's.
  ~scratch_directory() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
    ::sync();
  }
  scratch_directory(const scratch_directory&) = delete;
  scratch_directory& operator=(const scratch_directory&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Counts fdatasync calls, to show how many appends share one (group commit).
class counting_file_system final : public file_system {
 public:
  explicit counting_file_system(file_system& inner) : inner_(inner) {}

  io_result<std::unique_ptr<file>> open(const std::string& path, open_mode mode) override {
    auto opened = inner_.open(path, mode);
    if (!opened) return opened;
    auto& counter = path.ends_with(log_extension) ? log_syncs : index_syncs;
    return std::unique_ptr<file>(std::make_unique<counting_file>(std::move(*opened), counter));
  }
  io_result<bool> exists(const std::string& path) override { return inner_.exists(path); }
  io_result<std::vector<std::string>> list(const std::string& directory) override {
    return inner_.list(directory);
  }
  io_result<void> create_directories(const std::string& path) override {
    return inner_.create_directories(path);
  }
  io_result<void> rename(const std::string& from, const std::string& to) override {
    return inner_.rename(from, to);
  }
  io_result<void> remove(const std::string& path) override { return inner_.remove(path); }
  io_result<void> sync_directory(const std::string& directory) override {
    return inner_.sync_directory(directory);
  }

  std::atomic<uint64_t> log_syncs{0};    // of .log files
  std::atomic<uint64_t> index_syncs{0};  // of .index and .timeindex files

 private:
  class counting_file final : public file {
   public:
    counting_file(std::unique_ptr<file> inner, std::atomic<uint64_t>& syncs)
        : inner_(std::move(inner)), syncs_(syncs) {}
    io_result<size_t> read_at(uint64_t offset, std::span<uint8_t> out) override {
      return inner_->read_at(offset, out);
    }
    io_result<void> write_at(uint64_t offset, std::span<const uint8_t> bytes) override {
      return inner_->write_at(offset, bytes);
    }
    io_result<void> sync() override {
      syncs_.fetch_add(1, std::memory_order_relaxed);
      return inner_->sync();
    }
    io_result<void> truncate(uint64_t size) override { return inner_->truncate(size); }
    io_result<void> reserve(uint64_t offset, uint64_t length) override {
      return inner_->reserve(offset, length);
    }
    io_result<uint64_t> size() override { return inner_->size(); }
    int native_handle() const override { return inner_->native_handle(); }

   private:
    std::unique_ptr<file> inner_;
    std::atomic<uint64_t>& syncs_;
  };

  file_system& inner_;
};

// A producer's batch of 100-byte records, about `bytes` long (16,472 bytes
// for 16 KiB, 1,070,496 for 1 MiB: a record takes 109 to 111 bytes with its
// framing), with increasing timestamps.
std::vector<uint8_t> make_batch(size_t bytes, int64_t timestamp = first_timestamp) {
  std::mt19937_64 rng(bytes);
  std::vector<uint8_t> value(record_value_bytes);
  for (auto& b : value) b = static_cast<uint8_t>('a' + rng() % 26);
  protocol::record_batch_builder builder;
  builder.reserve(bytes);
  const size_t records = (bytes - protocol::batch_layout::header_size) / 109;
  for (size_t i = 0; i < records; ++i) {
    builder.add(timestamp + static_cast<int64_t>(i), std::nullopt, std::span<const uint8_t>(value));
  }
  return std::move(builder.build()).value();
}

int32_t record_count(std::span<const uint8_t> batch) {
  return protocol::parse_batch_header(batch)->records_count;
}

std::unique_ptr<partition_log> open_log(file_system& fs, const std::string& directory,
                                        const log_config& config = {}) {
  log_open_options options;
  options.config = config;
  auto opened = partition_log::open(fs, directory, options);
  if (!opened) {
    std::fprintf(stderr, "open %s: %s\n", directory.c_str(), opened.error().message.c_str());
    std::abort();
  }
  return std::move(*opened);
}

void set_throughput(benchmark::State& state, std::span<const uint8_t> batch) {
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(batch.size()));
  state.SetItemsProcessed(state.iterations() * record_count(batch));
  state.SetLabel(std::to_string(batch.size()) + "-byte batches");
}

// ---------------------------------------------------------------------------
// Appends. Args: batch bytes, fsync each append (0/1).

void BM_LogAppend(benchmark::State& state) {
  const bool sync = state.range(1) != 0;
  scratch_directory dir;
  auto fs = make_posix_file_system();
  auto log = open_log(*fs, dir.path() + "/bench-0");
  std::vector<uint8_t> batch = make_batch(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    auto appended = log->append(batch, {.sync = sync});
    if (!appended) {
      state.SkipWithError(appended.error().message.c_str());
      break;
    }
  }
  set_throughput(state, batch);
}

// The same bytes with write(2) to one file, and fdatasync(2) after each.
void BM_WriteLoop(benchmark::State& state) {
  const bool sync = state.range(1) != 0;
  scratch_directory dir;
  const std::string path = dir.path() + "/plain.log";
  int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) std::abort();
  std::vector<uint8_t> batch = make_batch(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    for (size_t done = 0; done < batch.size();) {
      ssize_t n = ::write(fd, batch.data() + done, batch.size() - done);
      if (n < 0 && errno != EINTR) {
        state.SkipWithError(std::strerror(errno));
        break;
      }
      if (n > 0) done += static_cast<size_t>(n);
    }
    if (sync && ::fdatasync(fd) != 0) state.SkipWithError(std::strerror(errno));
  }
  ::close(fd);
  set_throughput(state, batch);
}

// Each pair runs back to back, so that both see the same machine.
BENCHMARK(BM_WriteLoop)->Args({16 << 10, 0})->MinTime(0.2)->UseRealTime();
BENCHMARK(BM_LogAppend)->Args({16 << 10, 0})->MinTime(0.2)->UseRealTime();
BENCHMARK(BM_WriteLoop)->Args({1 << 20, 0})->MinTime(0.2)->UseRealTime();
BENCHMARK(BM_LogAppend)->Args({1 << 20, 0})->MinTime(0.2)->UseRealTime();
BENCHMARK(BM_WriteLoop)->Args({16 << 10, 1})->MinTime(0.2)->UseRealTime();
BENCHMARK(BM_LogAppend)->Args({16 << 10, 1})->MinTime(0.2)->UseRealTime();
BENCHMARK(BM_WriteLoop)->Args({1 << 20, 1})->MinTime(0.2)->UseRealTime();
BENCHMARK(BM_LogAppend)->Args({1 << 20, 1})->MinTime(0.2)->UseRealTime();

// ---------------------------------------------------------------------------
// Group commit: threads appending 16 KiB batches with sync = true to one log.

struct shared_log {
  scratch_directory dir;
  std::unique_ptr<file_system> posix = make_posix_file_system();
  counting_file_system fs{*posix};
  std::unique_ptr<partition_log> log = open_log(fs, dir.path() + "/bench-0");
  std::atomic<uint64_t> appends{0};
};

// Set up and torn down by thread 0; the other threads use it only inside
// the timed loop, which starts and ends with all threads at a barrier.
std::unique_ptr<shared_log> group_log;

void BM_GroupCommit(benchmark::State& state) {
  if (state.thread_index() == 0) group_log = std::make_unique<shared_log>();
  // Each thread its own: an append writes the offsets into the batch.
  std::vector<uint8_t> batch = make_batch(16 << 10);
  for (auto _ : state) {
    auto appended = group_log->log->append(batch, {.sync = true});
    if (!appended) {
      state.SkipWithError(appended.error().message.c_str());
      break;
    }
    group_log->appends.fetch_add(1, std::memory_order_relaxed);
  }
  set_throughput(state, batch);
  if (state.thread_index() == 0) {
    // Counters add up over threads: only thread 0 sets these.
    const double appends = static_cast<double>(group_log->appends.load());
    state.counters["log_fsyncs/append"] = static_cast<double>(group_log->fs.log_syncs) / appends;
    state.counters["index_fsyncs/append"] =
        static_cast<double>(group_log->fs.index_syncs) / appends;
    group_log.reset();
  }
}
BENCHMARK(BM_GroupCommit)->Threads(1)->UseRealTime()->MinTime(0.5);
BENCHMARK(BM_GroupCommit)->Threads(16)->UseRealTime()->MinTime(0.5);

// ---------------------------------------------------------------------------
// Sequential reads: 256 MiB of 16 KiB batches in four 64 MiB segments, read
// 1 MiB at a time (a fetch's max.partition.fetch.bytes) from the page cache.

struct read_fixture {
  static constexpr uint64_t log_bytes = 256 << 20;

  read_fixture() {
    log_config config;
    config.segment_bytes = 64 << 20;
    log = open_log(*fs, dir.path() + "/bench-0", config);
    std::vector<uint8_t> batch = make_batch(16 << 10);
    while (log->size_bytes() < log_bytes) {
      if (!log->append(batch)) std::abort();
    }
    if (!log->flush()) std::abort();
    for (int64_t base : log->segment_base_offsets()) {
      segment_paths.push_back(dir.path() + "/bench-0/" + segment_file_name(base, log_extension));
    }
  }

  scratch_directory dir;
  std::unique_ptr<file_system> fs = make_posix_file_system();
  std::unique_ptr<partition_log> log;
  std::vector<std::string> segment_paths;
};

read_fixture& reads() {
  static read_fixture fixture;
  return fixture;
}

void BM_LogRead(benchmark::State& state) {
  partition_log& log = *reads().log;
  const int64_t end = log.log_end_offset();
  int64_t offset = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    auto slice = log.read(offset, 1 << 20);
    if (!slice || !*slice) {
      state.SkipWithError("read failed");
      break;
    }
    auto data = (*slice)->read();
    if (!data) {
      state.SkipWithError(data.error().message.c_str());
      break;
    }
    benchmark::DoNotOptimize(data->data());
    bytes += static_cast<int64_t>(data->size());
    offset = (*slice)->range().last_offset + 1;
    if (offset == end) offset = 0;
  }
  state.SetBytesProcessed(bytes);
}

// read(2) of the same segment files, 1 MiB at a time into one buffer.
void BM_PlainRead(benchmark::State& state) {
  const auto& paths = reads().segment_paths;
  std::vector<int> fds;
  for (const auto& path : paths) fds.push_back(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  std::vector<uint8_t> buffer(1 << 20);
  size_t current = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    ssize_t n = ::read(fds[current], buffer.data(), buffer.size());
    if (n < 0) {
      state.SkipWithError(std::strerror(errno));
      break;
    }
    benchmark::DoNotOptimize(buffer.data());
    bytes += n;
    if (static_cast<size_t>(n) < buffer.size()) {
      ::lseek(fds[current], 0, SEEK_SET);
      current = (current + 1) % fds.size();
    }
  }
  for (int fd : fds) ::close(fd);
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_PlainRead)->MinTime(0.3)->UseRealTime();
BENCHMARK(BM_LogRead)->MinTime(0.3)->UseRealTime();

// ---------------------------------------------------------------------------
// Lookups on a log of 1,000 segments of 64 KiB, each of ~60 batches of 10
// records with increasing timestamps.

struct lookup_fixture {
  static constexpr size_t segments = 1000;

  lookup_fixture() {
    log_config config;
    config.segment_bytes = 64 << 10;
    log = open_log(*fs, dir.path() + "/bench-0", config);
    for (int64_t ts = first_timestamp; log->segment_count() < segments; ts += 10) {
      std::vector<uint8_t> batch = make_batch(1100, ts);
      if (!log->append(batch)) std::abort();
      last_timestamp = ts + record_count(batch) - 1;
    }
    // Where each batch starts, for the pread baseline.
    for (int64_t offset = 0; offset < log->log_end_offset();) {
      auto slice = log->read(offset, 0);
      if (!slice || !*slice) std::abort();
      headers.push_back({(*slice)->log_file().native_handle(), (*slice)->range().position});
      offset = (*slice)->range().last_offset + 1;
    }
  }

  scratch_directory dir;
  std::unique_ptr<file_system> fs = make_posix_file_system();
  std::unique_ptr<partition_log> log;
  int64_t last_timestamp = 0;
  struct header_at {
    int fd;
    uint64_t position;
  };
  std::vector<header_at> headers;
};

lookup_fixture& lookups() {
  static lookup_fixture fixture;
  return fixture;
}

void BM_OffsetLookup(benchmark::State& state) {
  partition_log& log = *lookups().log;
  std::mt19937_64 rng(1);
  std::uniform_int_distribution<int64_t> offsets(0, log.log_end_offset() - 1);
  for (auto _ : state) {
    auto slice = log.read(offsets(rng), 1);
    if (!slice || !*slice) {
      state.SkipWithError("lookup failed");
      break;
    }
    benchmark::DoNotOptimize((*slice)->range());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(std::to_string(log.segment_count()) + " segments");
}

void BM_TimestampLookup(benchmark::State& state) {
  partition_log& log = *lookups().log;
  std::mt19937_64 rng(2);
  std::uniform_int_distribution<int64_t> timestamps(first_timestamp, lookups().last_timestamp);
  for (auto _ : state) {
    auto found = log.offset_for_timestamp(timestamps(rng));
    if (!found || !*found) {
      state.SkipWithError("lookup failed");
      break;
    }
    benchmark::DoNotOptimize(**found);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(std::to_string(log.segment_count()) + " segments");
}

// The least a lookup reads: one batch header at a random batch of the log.
void BM_HeaderPread(benchmark::State& state) {
  const auto& headers = lookups().headers;
  std::mt19937_64 rng(3);
  std::uniform_int_distribution<size_t> pick(0, headers.size() - 1);
  uint8_t header[protocol::batch_layout::header_size];
  for (auto _ : state) {
    const auto& at = headers[pick(rng)];
    if (::pread(at.fd, header, sizeof header, static_cast<off_t>(at.position)) !=
        static_cast<ssize_t>(sizeof header)) {
      state.SkipWithError("pread failed");
      break;
    }
    benchmark::DoNotOptimize(header);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_HeaderPread)->MinTime(0.2)->UseRealTime();
BENCHMARK(BM_OffsetLookup)->MinTime(0.2)->UseRealTime();
BENCHMARK(BM_TimestampLookup)->MinTime(0.2)->UseRealTime();

}  // namespace
