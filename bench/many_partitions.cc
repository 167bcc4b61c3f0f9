// Many partitions: what 10,000 idle partitions cost a broker. Creates them
// (one small batch each) with a log manager over a bounded_file_system that
// holds at most 1,000 descriptors, closes cleanly, then measures the reopen:
// its time, the heap each partition keeps with its active segment open, and
// the descriptors the process holds. Last, the reopen after a crash (no
// clean-shutdown marker), which scans and fsyncs every active segment.
//
//   storage_many_partitions [partitions]
//
// Everything lives in a scratch directory under /tmp, removed at the end.
// The page cache is warm: the files were just written.

#include <malloc.h>
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "protocol/record_batch.h"
#include "storage/bounded_file_system.h"
#include "storage/log_manager.h"

namespace {

using namespace sluice;
using namespace sluice::storage;
using std::chrono::steady_clock;

constexpr size_t max_open_files = 1000;

// A fresh directory under /tmp, removed with everything in it at the end.
class scratch_directory {
 public:
  scratch_directory() {
    std::string pattern = "/tmp/sluice-many-partitions-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  ~scratch_directory() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  scratch_directory(const scratch_directory&) = delete;
  scratch_directory& operator=(const scratch_directory&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Bytes allocated with malloc and not freed, in every arena and in mmap.
size_t heap_in_use() {
  struct mallinfo2 info = ::mallinfo2();
  return info.uordblks + info.hblkhd;
}

size_t open_descriptors() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    ++n;
  }
  return n - 1;  // the iterator's own
}

double seconds_since(steady_clock::time_point start) {
  return std::chrono::duration<double>(steady_clock::now() - start).count();
}

[[noreturn]] void die(const std::string& what, const io_error& e) {
  std::fprintf(stderr, "storage_many_partitions: %s: %s\n", what.c_str(), e.message.c_str());
  std::exit(1);
}

std::unique_ptr<log_manager> open_manager(file_system& fs, const std::string& dir) {
  log_manager_config config;
  config.log_dir = dir;
  auto opened = log_manager::open(fs, config);
  if (!opened) die("open " + dir, opened.error());
  return std::move(*opened);
}

}  // namespace

int main(int argc, char** argv) {
  const size_t partitions = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 10'000;
  scratch_directory dir;
  auto posix = make_posix_file_system();
  bounded_file_system fs(*posix, max_open_files);

  auto start = steady_clock::now();
  {
    auto manager = open_manager(fs, dir.path());
    std::vector<uint8_t> value(100, 'v');
    for (size_t i = 0; i < partitions; ++i) {
      topic_partition tp{"many", static_cast<int32_t>(i)};
      auto log = manager->get_or_create(tp, log_config{});
      if (!log) die("create " + partition_directory_name(tp), log.error());
      protocol::record_batch_builder builder;
      builder.add(wall_clock_ms(), std::nullopt, std::span<const uint8_t>(value));
      std::vector<uint8_t> batch = std::move(builder.build()).value();
      auto appended = (*log)->append(batch);
      if (!appended) die("append " + partition_directory_name(tp), appended.error());
    }
    auto closed = manager->close();
    if (!closed) die("close", closed.error());
  }
  std::printf("create %zu partitions and close: %.1f s\n", partitions, seconds_since(start));

  const size_t fds_before = open_descriptors();
  const size_t heap_before = heap_in_use();
  start = steady_clock::now();
  auto manager = open_manager(fs, dir.path());
  const double reopen_s = seconds_since(start);
  const size_t heap_after = heap_in_use();
  const size_t fds_after = open_descriptors();
  if (manager->partitions().size() != partitions) {
    std::fprintf(stderr, "storage_many_partitions: reopened %zu partitions, not %zu\n",
                 manager->partitions().size(), partitions);
    return 1;
  }
  std::printf("reopen %zu partitions after a clean shutdown: %.2f s (target <= 10 s)\n", partitions,
              reopen_s);
  std::printf("heap per idle partition: %.0f bytes (target <= 65536)\n",
              static_cast<double>(heap_after - heap_before) / static_cast<double>(partitions));
  std::printf("open file descriptors: %zu before, %zu after (bound %zu; %zu held by the cache)\n",
              fds_before, fds_after, max_open_files, fs.open_files());

  // A crash: the manager goes without close(), so no clean-shutdown marker.
  manager.reset();
  start = steady_clock::now();
  manager = open_manager(fs, dir.path());
  std::printf("reopen %zu partitions after a crash: %.2f s\n", partitions, seconds_since(start));
  auto closed = manager->close();
  if (!closed) die("close", closed.error());
  return 0;
}
