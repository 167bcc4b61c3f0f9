#pragma once

// A log-linear histogram of latencies in nanoseconds, in the manner of
// HdrHistogram: values below 256 are counted exactly; above, each power of
// two is split into 128 equal buckets, so a bucket is narrower than 1/128 of
// the values it holds (two significant decimal digits). Recording is a few
// arithmetic instructions and no allocation, cheap enough for every record of
// a benchmark; the buckets cover every non-negative int64 (57 KiB).
//
// Not thread-safe: each thread records into its own and merges.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace sluice::cli {

class latency_histogram {
 public:
  static constexpr int sub_bits = 7;
  static constexpr int64_t sub_buckets = int64_t{1} << sub_bits;
  // Bucket indexes run up to that of INT64_MAX (most significant bit 62).
  static constexpr size_t bucket_count = (64 - sub_bits) * sub_buckets;

  latency_histogram();

  // Negative values (a clock that went backwards) count as 0.
  void record(int64_t ns) {
    if (ns < 0) ns = 0;
    ++counts_[index(ns)];
    ++count_;
    if (ns > max_) max_ = ns;
    if (ns < min_) min_ = ns;
    sum_ += static_cast<double>(ns);
  }

  void merge(const latency_histogram& other);
  void reset();

  // The value at quantile q in [0, 1] (0.999 for p99.9): the upper bound of
  // the bucket holding the ceil(q * count())-th smallest value, kept within
  // [min(), max()]. 0 when empty.
  int64_t percentile(double q) const;

  uint64_t count() const { return count_; }
  int64_t max() const { return max_; }
  int64_t min() const { return count_ == 0 ? 0 : min_; }
  double mean() const { return count_ == 0 ? 0 : sum_ / static_cast<double>(count_); }

  static size_t index(int64_t ns) {
    if (ns < 2 * sub_buckets) return static_cast<size_t>(ns);
    int msb = 63 - __builtin_clzll(static_cast<uint64_t>(ns));
    int shift = msb - sub_bits;
    return static_cast<size_t>((shift + 1) * sub_buckets + ((ns >> shift) - sub_buckets));
  }
  // The largest value that falls in bucket i.
  static int64_t upper_bound(size_t i);

 private:
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  int64_t max_ = 0;
  int64_t min_ = std::numeric_limits<int64_t>::max();
  double sum_ = 0;
};

}  // namespace sluice::cli
