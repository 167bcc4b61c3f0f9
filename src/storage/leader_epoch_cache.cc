#include "storage/leader_epoch_cache.h"

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <utility>

namespace sluice::storage {
namespace {

std::string checkpoint_path(const std::string& directory) {
  return directory + "/" + std::string(leader_epoch_cache::file_name);
}

}  // namespace

io_result<leader_epoch_cache> leader_epoch_cache::load(file_system& fs,
                                                       const std::string& directory) {
  leader_epoch_cache cache(fs, directory);
  auto entries = cache.file_.read_epochs();
  if (!entries) return base::unexpected(entries.error());
  for (size_t i = 1; i < entries->size(); ++i) {
    const auto& before = (*entries)[i - 1];
    const auto& e = (*entries)[i];
    if (e.epoch <= before.epoch || e.start_offset <= before.start_offset) {
      io_error error = make_io_error(EBADMSG, "read", cache.file_.path());
      // Entry i is on line i + 3, after the version and the count.
      error.message += " (line " + std::to_string(i + 3) + ": epoch " + std::to_string(e.epoch) +
                       " at offset " + std::to_string(e.start_offset) + " does not follow epoch " +
                       std::to_string(before.epoch) + " at offset " +
                       std::to_string(before.start_offset) + ")";
      return base::unexpected(std::move(error));
    }
  }
  cache.entries_ = std::move(*entries);
  return cache;
}

leader_epoch_cache::leader_epoch_cache(file_system& fs, const std::string& directory)
    : file_(fs, checkpoint_path(directory)) {}

io_result<void> leader_epoch_cache::assign(int32_t epoch, int64_t start_offset) {
  if (epoch < 0 || start_offset < 0) {
    io_error error = make_io_error(EINVAL, "assign", file_.path());
    error.message +=
        " (epoch " + std::to_string(epoch) + " at offset " + std::to_string(start_offset) + ")";
    return base::unexpected(std::move(error));
  }
  if (!entries_.empty() && epoch <= entries_.back().epoch) return {};
  auto next = entries_;
  // An epoch that starts where later entries start again (a leader whose
  // predecessors wrote nothing that survived) replaces them: the new leader's
  // log is the truth from its start offset on.
  while (!next.empty() && next.back().start_offset >= start_offset) next.pop_back();
  next.push_back({epoch, start_offset});
  return replace(std::move(next));
}

std::optional<int32_t> leader_epoch_cache::latest_epoch() const {
  if (entries_.empty()) return std::nullopt;
  return entries_.back().epoch;
}

std::optional<epoch_start_offset> leader_epoch_cache::end_offset_for(int32_t epoch,
                                                                     int64_t log_end_offset) const {
  // The first entry with a greater epoch; the one before it is the answer.
  auto after =
      std::upper_bound(entries_.begin(), entries_.end(), epoch,
                       [](int32_t e, const epoch_start_offset& entry) { return e < entry.epoch; });
  if (after == entries_.begin()) return std::nullopt;
  int64_t end = after == entries_.end() ? log_end_offset : after->start_offset;
  return epoch_start_offset{std::prev(after)->epoch, end};
}

io_result<void> leader_epoch_cache::truncate_from_end(int64_t offset) {
  auto next = entries_;
  while (!next.empty() && next.back().start_offset >= offset) next.pop_back();
  return replace(std::move(next));
}

io_result<void> leader_epoch_cache::truncate_from_start(int64_t offset) {
  // The last entry starting at or before `offset` covers it; the ones before
  // it hold nothing at or after `offset`.
  auto covering = std::upper_bound(
      entries_.begin(), entries_.end(), offset,
      [](int64_t o, const epoch_start_offset& entry) { return o < entry.start_offset; });
  if (covering == entries_.begin()) return {};
  --covering;
  std::vector<epoch_start_offset> next(covering, entries_.end());
  next.front().start_offset = offset;
  return replace(std::move(next));
}

io_result<void> leader_epoch_cache::replace(std::vector<epoch_start_offset> next) {
  if (next == entries_) return {};
  if (auto written = file_.write(next); !written) return written;
  entries_ = std::move(next);
  return {};
}

}  // namespace sluice::storage
