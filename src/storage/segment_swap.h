#pragma once

// segment_swap: replacing a run of a partition's segments with the cleaner's
// output so that a crash at any moment leaves either the old segments or the
// new ones, never a mix and never neither.
//
// The cleaner builds its segments in `<partition>/cleaning/` (an ordinary
// segment directory). The swap then
//   1. writes `cleaning/replaces` — the offset range [first, end) of the
//      segments being replaced and the base offsets of the cleaned ones,
//      with a CRC — syncs it and the directory,
//   2. renames `cleaning/` to `swap/` and syncs the partition directory:
//      this one rename is the commit point,
//   3. removes the partition's segment files whose base offset lies in
//      [first, end) and syncs the partition directory, then moves each
//      cleaned segment's .index, .timeindex and last its .log into the
//      partition and syncs both directories,
//   4. removes `swap/`.
// Each cleaned segment stands for the part of the range from its base offset
// (from `first` for the oldest) to the next one's (to `end` for the newest).
// Recovery (run by partition_log::open before it lists segments) deletes a
// `cleaning/` left behind (the swap never committed) and redoes steps 3-4 for
// a `swap/` (it did): a segment whose .log is still in `swap/` has not been
// moved, so removing the files in its part of the range again and moving it
// is safe; indexes lost on the way are rebuilt when the segment opens.
// `replaces` names every cleaned segment, so recovery never needs to know
// in which order renames reached the disk.

#include <cstdint>
#include <string>
#include <string_view>

#include "storage/file_system.h"

namespace sluice::storage {

inline constexpr std::string_view cleaning_directory_name = "cleaning";
inline constexpr std::string_view swap_directory_name = "swap";

// Steps 1-4 for the segments in `<partition_directory>/cleaning/`, which
// replace the partition's segments with base offsets in [first, end). The
// cleaned segments must be flushed and closed (their files are renamed), and
// their base offsets lie in [first, end) (EINVAL otherwise). The replaced
// segments' files are removed by name: their open handles stay readable, but
// must not be remove()d, which would remove the cleaned files now bearing
// those names. A failure before the commit point leaves the partition as it
// was (the caller discards `cleaning/`); one after it leaves `swap/`: on
// disk the partition is then the cleaned segments, as
// recover_interrupted_swap completes them, and the caller may not go on with
// the old ones (Kafka takes the log directory offline on such an error).
io_result<void> commit_swap(file_system& fs, const std::string& partition_directory, int64_t first,
                            int64_t end);

// Finishes or discards an interrupted swap; does nothing when there is none.
// EBADMSG when `swap/replaces` is unreadable, which a swap never leaves.
io_result<void> recover_interrupted_swap(file_system& fs, const std::string& partition_directory);

}  // namespace sluice::storage
