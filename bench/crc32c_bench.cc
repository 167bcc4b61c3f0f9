// CRC-32C throughput against memcpy of the same buffer, the practical ceiling
// for a pass over data that is already in cache.

#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <vector>

#include "base/crc32c.h"

namespace {

using namespace sluice::base;

std::vector<uint8_t> random_buffer(size_t n) {
  std::mt19937_64 rng(42);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

void BM_Crc32c(benchmark::State& state) {
  auto buffer = random_buffer(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(crc32c::extend(0, buffer.data(), buffer.size()));
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
  state.SetLabel(crc32c::implementation());
}

void BM_Crc32cPortable(benchmark::State& state) {
  auto buffer = random_buffer(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    benchmark::DoNotOptimize(crc32c::extend_portable(0, buffer.data(), buffer.size()));
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

void BM_Memcpy(benchmark::State& state) {
  auto source = random_buffer(static_cast<size_t>(state.range(0)));
  std::vector<uint8_t> destination(source.size());
  for (auto _ : state) {
    std::memcpy(destination.data(), source.data(), source.size());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

void buffer_sizes(benchmark::internal::Benchmark* b) {
  for (int64_t size : {4 << 10, 64 << 10, 1 << 20}) b->Arg(size);
}

BENCHMARK(BM_Crc32c)->Apply(buffer_sizes);
BENCHMARK(BM_Crc32cPortable)->Apply(buffer_sizes);
BENCHMARK(BM_Memcpy)->Apply(buffer_sizes);

}  // namespace
