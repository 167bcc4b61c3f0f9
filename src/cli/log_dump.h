#pragma once

// What `sluice dump-log` shows: the record batches of a segment's .log and the
// entries of its .index and .timeindex, decoded from the files alone with
// protocol/ (never the broker's storage code, whose bugs this is meant to
// find), as a document (output.h). Kept apart from the command line so the
// decoding is tested on its own.
//
// The files may be damaged or hostile: every length is checked against the
// bytes there before it is used, nothing is allocated beyond the file's own
// size (or, for compressed records, a fixed cap), and a walk that cannot go
// on stops with the reason in the file's "error" instead of failing the dump.
//
// The document: {"files": [file...]}, one file per segment file, in order.
// Every file has "path", "type" ("log", "index" or "timeindex"),
// "base_offset" (from the name; null when it is not a 20-digit offset),
// "size", then "batches" or "entries", then "error" (null, or why the walk
// stopped before the end), and with --verify "problems" (a list of
// {"location", "problem"}).

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "base/shared_bytes.h"
#include "cli/output.h"

namespace sluice::cli {

struct dump_options {
  // Decode every record of every batch.
  bool records = false;
  // Check what can be checked (CRCs, records, offset order, index entries
  // against the .log) and list what is wrong under "problems".
  bool verify = false;
  // Keys, values and header values show at most this many bytes; 0: all.
  size_t max_bytes = 256;
  // Leave out batches, records and index entries below this offset.
  int64_t from_offset = std::numeric_limits<int64_t>::min();
};

enum class segment_file_type { log, offset_index, time_index };

struct segment_file {
  std::string path;
  segment_file_type type = segment_file_type::log;
  // From a 20-digit file name, as the broker writes them.
  std::optional<int64_t> base_offset;
};

// The segment file `path` names, by its extension; nullopt for any other file.
std::optional<segment_file> classify_segment_file(const std::string& path);

// A file's bytes, read a piece at a time: a 1 GiB segment is walked, not
// loaded.
class byte_source {
 public:
  virtual ~byte_source() = default;
  // Fixed when the source is opened: a file that grows meanwhile is read up
  // to its size then.
  virtual uint64_t size() const = 0;
  // Exactly `length` bytes at `position`; position + length <= size().
  virtual base::result<base::shared_bytes> read(uint64_t position, size_t length) = 0;
};

std::unique_ptr<byte_source> memory_source(base::shared_bytes bytes);
base::result<std::unique_ptr<byte_source>> open_file_source(const std::string& path);

// The document of one file, read from `bytes`. With --verify an index is
// checked against its segment's .log, `log`; null when there is none.
document dump_segment_file(const segment_file& file, byte_source& bytes, byte_source* log,
                           const dump_options& options);

// {"files": [...]} for `paths`: segment files, or partition directories,
// which stand for their .log files in offset order (with --verify, each
// followed by its .index and .timeindex). Fails before reading anything when
// a path is missing or is neither.
base::result<document> dump_paths(const std::vector<std::string>& paths,
                                  const dump_options& options);

// With --verify: a one-line summary of what a dump_paths() document found
// wrong (problems and walks stopped early), or nullopt when nothing was.
std::optional<std::string> verification_failure(const document& dump);

}  // namespace sluice::cli
