#pragma once

// checkpoint_file: Kafka's small text files that remember offsets between
// runs — `recovery-point-offset-checkpoint`, `log-start-offset-checkpoint`
// and `cleaner-offset-checkpoint` in a log directory (topic, partition,
// offset), and `leader-epoch-checkpoint` in a partition's (epoch, start
// offset). The format is Kafka's, so its tools read ours:
//
//   0            <- version
//   2            <- number of entries
//   orders 0 42  <- one entry a line, fields separated by one space
//   orders 1 17
//
// A write goes to `<name>.tmp`, is fsynced, renamed over the old file and the
// directory synced, so a crash leaves either the old or the new content,
// never a mix. A failed write may leave `<name>.tmp` behind; readers never
// look at it and the next write starts it over.
//
// Parsing is strict, because a checkpoint that reads wrong (an offset cut
// short, a line lost) would silently move a recovery point: every line ends
// in a newline, fields are separated by exactly one space, numbers are plain
// decimal digits within their type, topics are Kafka's legal names
// ([a-zA-Z0-9._-]+).

#include <cstdint>
#include <string>
#include <vector>

#include "storage/file_system.h"

namespace sluice::storage {

struct topic_partition_offset {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  friend bool operator==(const topic_partition_offset&, const topic_partition_offset&) = default;
};

struct epoch_start_offset {
  int32_t epoch = 0;
  int64_t start_offset = 0;
  friend bool operator==(const epoch_start_offset&, const epoch_start_offset&) = default;
};

class checkpoint_file {
 public:
  checkpoint_file(file_system& fs, std::string path);

  const std::string& path() const { return path_; }

  // Replaces the file's content atomically and durably. Entries that could
  // not be read back (a negative number, a topic that is not a legal name)
  // fail with EINVAL before anything is written.
  io_result<void> write(const std::vector<topic_partition_offset>& entries);
  io_result<void> write(const std::vector<epoch_start_offset>& entries);

  // The entries; empty when the file does not exist. A file that is not in
  // the format (wrong version, count, field) fails with EBADMSG and a message
  // naming the path and line: the caller decides to recover without it.
  io_result<std::vector<topic_partition_offset>> read_partition_offsets();
  io_result<std::vector<epoch_start_offset>> read_epochs();

 private:
  io_result<void> write_lines(const std::vector<std::string>& lines);
  io_result<std::vector<std::string>> read_lines();

  file_system& fs_;
  std::string path_;
};

}  // namespace sluice::storage
