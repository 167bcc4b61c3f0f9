#include "cli/latency_histogram.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>

namespace sluice::cli {
namespace {

TEST(LatencyHistogram, EmptyReportsZero) {
  latency_histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.percentile(0.5), 0);
  EXPECT_EQ(h.max(), 0);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.mean(), 0);
}

TEST(LatencyHistogram, SmallValuesAreExact) {
  latency_histogram h;
  for (int64_t v = 1; v <= 100; ++v) h.record(v);
  EXPECT_EQ(h.count(), 100u);
  EXPECT_EQ(h.percentile(0.5), 50);
  EXPECT_EQ(h.percentile(0.95), 95);
  EXPECT_EQ(h.percentile(0.99), 99);
  EXPECT_EQ(h.percentile(0.999), 100);
  EXPECT_EQ(h.percentile(1.0), 100);
  EXPECT_EQ(h.percentile(0.0), 1);
  EXPECT_EQ(h.min(), 1);
  EXPECT_EQ(h.max(), 100);
  EXPECT_DOUBLE_EQ(h.mean(), 50.5);
}

TEST(LatencyHistogram, RankIsNotPushedUpByRounding) {
  // 0.999 * 1000 must be rank 999, not 1000.
  latency_histogram h;
  for (int64_t v = 1; v <= 1000; ++v) h.record(v < 1000 ? 10 : 200);
  EXPECT_EQ(h.percentile(0.999), 10);
  EXPECT_EQ(h.percentile(1.0), 200);
}

TEST(LatencyHistogram, UniformMillisecondsWithinBucketError) {
  // 1..10,000 us in ns: every percentile within 1/128 above the exact value.
  latency_histogram h;
  for (int64_t us = 1; us <= 10'000; ++us) h.record(us * 1000);
  for (double q : {0.5, 0.95, 0.99, 0.999}) {
    double exact = q * 10'000 * 1000;
    double got = static_cast<double>(h.percentile(q));
    EXPECT_GE(got, exact) << q;
    EXPECT_LE(got, exact * (1 + 1.0 / 128)) << q;
  }
  EXPECT_EQ(h.max(), 10'000'000);
  EXPECT_EQ(h.percentile(1.0), 10'000'000);
}

TEST(LatencyHistogram, ExponentialTailPercentiles) {
  // Known distribution: exponential with mean 1 ms; p99 = ln(100) ms.
  std::mt19937_64 rng(42);
  std::exponential_distribution<double> dist(1.0 / 1e6);
  latency_histogram h;
  const int n = 1'000'000;
  for (int i = 0; i < n; ++i) h.record(static_cast<int64_t>(dist(rng)));
  auto near = [](double got, double want) { return std::abs(got / want - 1) < 0.02; };
  EXPECT_TRUE(near(static_cast<double>(h.percentile(0.5)), std::log(2.0) * 1e6))
      << h.percentile(0.5);
  EXPECT_TRUE(near(static_cast<double>(h.percentile(0.99)), std::log(100.0) * 1e6))
      << h.percentile(0.99);
  EXPECT_TRUE(near(h.mean(), 1e6)) << h.mean();
}

TEST(LatencyHistogram, BucketsAreContiguousAndNarrow) {
  for (size_t i = 1; i < latency_histogram::bucket_count; ++i) {
    int64_t low = latency_histogram::upper_bound(i - 1) + 1;
    int64_t high = latency_histogram::upper_bound(i);
    ASSERT_EQ(latency_histogram::index(low), i);
    ASSERT_EQ(latency_histogram::index(high), i);
    ASSERT_LE(static_cast<double>(high - low + 1), static_cast<double>(low) / 128 + 1) << i;
  }
}

TEST(LatencyHistogram, BoundsNegativeAndHuge) {
  latency_histogram h;
  h.record(-5);
  h.record(std::numeric_limits<int64_t>::max());
  EXPECT_EQ(latency_histogram::index(std::numeric_limits<int64_t>::max()),
            latency_histogram::bucket_count - 1);
  EXPECT_EQ(h.count(), 2u);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.percentile(0.5), 0);
  EXPECT_EQ(h.max(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(h.percentile(1.0), std::numeric_limits<int64_t>::max());
}

TEST(LatencyHistogram, PercentileStaysWithinMinAndMax) {
  latency_histogram h;
  h.record(1'000'001);  // in a bucket whose upper bound is above it
  EXPECT_EQ(h.percentile(0.5), 1'000'001);
  EXPECT_EQ(h.percentile(0.0), 1'000'001);
}

TEST(LatencyHistogram, MergeEqualsRecordingEverything) {
  latency_histogram a, b, all;
  for (int64_t v = 0; v < 5000; ++v) {
    int64_t ns = v * 7919 % 3'000'000;
    (v % 3 == 0 ? a : b).record(ns);
    all.record(ns);
  }
  a.merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.max(), all.max());
  EXPECT_EQ(a.min(), all.min());
  EXPECT_DOUBLE_EQ(a.mean(), all.mean());
  for (double q : {0.0, 0.5, 0.95, 0.99, 0.999, 1.0}) EXPECT_EQ(a.percentile(q), all.percentile(q));
}

TEST(LatencyHistogram, MergeOfEmptyChangesNothingAndResetEmpties) {
  latency_histogram a, empty;
  a.record(300);
  a.merge(empty);
  EXPECT_EQ(a.count(), 1u);
  EXPECT_EQ(a.min(), 300);
  a.reset();
  EXPECT_EQ(a.count(), 0u);
  EXPECT_EQ(a.max(), 0);
  EXPECT_EQ(a.percentile(0.99), 0);
  a.record(7);
  EXPECT_EQ(a.min(), 7);
  EXPECT_EQ(a.percentile(0.5), 7);
}

}  // namespace
}  // namespace sluice::cli
