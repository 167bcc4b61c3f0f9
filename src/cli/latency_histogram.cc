#include "cli/latency_histogram.h"

#include <algorithm>
#include <cmath>

namespace sluice::cli {

latency_histogram::latency_histogram() : counts_(bucket_count, 0) {}

int64_t latency_histogram::upper_bound(size_t i) {
  auto bucket = static_cast<int64_t>(i);
  if (bucket < 2 * sub_buckets) return bucket;
  int shift = static_cast<int>(bucket / sub_buckets) - 1;
  auto sub = static_cast<uint64_t>(bucket % sub_buckets + sub_buckets);
  // Unsigned: the last bucket's bound, 2^63 - 1, is computed through 2^63.
  return static_cast<int64_t>(((sub + 1) << shift) - 1);
}

void latency_histogram::merge(const latency_histogram& other) {
  if (other.count_ == 0) return;
  for (size_t i = 0; i < bucket_count; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  max_ = std::max(max_, other.max_);
  min_ = std::min(min_, other.min_);
  sum_ += other.sum_;
}

void latency_histogram::reset() {
  if (count_ == 0) return;
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = 0;
  max_ = 0;
  min_ = std::numeric_limits<int64_t>::max();
  sum_ = 0;
}

int64_t latency_histogram::percentile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  // 0.999 * 1000 may come out a hair above 999 in floating point; that must
  // not make the rank 1000.
  double exact = q * static_cast<double>(count_);
  auto rank = static_cast<uint64_t>(std::ceil(exact - exact * 1e-12));
  rank = std::max<uint64_t>(rank, 1);
  uint64_t seen = 0;
  for (size_t i = 0; i < bucket_count; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::clamp(upper_bound(i), min_, max_);
  }
  return max_;
}

}  // namespace sluice::cli
