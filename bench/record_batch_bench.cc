// Record batches: what the broker does to every produced batch (CRC, header
// rules, record walk) against memcpy of the same bytes, and building and
// decoding records.
//
// The validate/memcpy pair runs over 1 batch (hot in cache: the ceiling of one
// pass) and over 128 distinct 1 MiB batches (a working set far beyond the
// caches, as batches fresh from the network are).

#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "protocol/record_batch.h"

namespace {

using namespace sluice;
using namespace sluice::protocol;

constexpr int records_per_batch = 1000;
constexpr size_t value_size = 1024;
constexpr size_t max_decompressed = 64 << 20;

// Values drawn from a small alphabet: compressible about as much as text.
std::vector<std::vector<uint8_t>> make_values() {
  std::mt19937_64 rng(42);
  std::vector<std::vector<uint8_t>> values(records_per_batch, std::vector<uint8_t>(value_size));
  for (auto& v : values) {
    for (auto& b : v) b = static_cast<uint8_t>('a' + rng() % 16);
  }
  return values;
}

std::vector<uint8_t> build(compression codec, const std::vector<std::vector<uint8_t>>& values) {
  batch_options options;
  options.codec = codec;
  record_batch_builder builder(options);
  builder.reserve(records_per_batch * (value_size + 32));
  for (int i = 0; i < records_per_batch; ++i) {
    std::string key = "key-" + std::to_string(i);
    builder.add(1'700'000'000'000 + i,
                std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(key.data()), key.size()),
                std::span<const uint8_t>(values[i]));
  }
  return std::move(builder.build()).value();
}

// `count` copies of one ~1 MiB uncompressed batch, each in its own buffer.
std::vector<std::vector<uint8_t>> uncompressed_batches(int64_t count) {
  std::vector<uint8_t> batch = build(compression::none, make_values());
  return std::vector<std::vector<uint8_t>>(static_cast<size_t>(count), batch);
}

// Parse + CRC + LogValidator rules + record walk.
void BM_BatchValidate(benchmark::State& state) {
  std::vector<base::shared_bytes> batches;
  for (auto& b : uncompressed_batches(state.range(0))) batches.emplace_back(std::move(b));
  size_t next = 0;
  for (auto _ : state) {
    auto parsed = record_batch::parse(batches[next]);
    auto valid = validate_produced_batch(*parsed);
    if (!valid.ok()) state.SkipWithError(valid.error().message.c_str());
    benchmark::DoNotOptimize(valid);
    next = (next + 1) % batches.size();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(batches[0].size()));
  state.SetLabel(std::to_string(batches.size()) + " x " + std::to_string(batches[0].size()) +
                 " bytes");
}

void BM_BatchMemcpy(benchmark::State& state) {
  auto sources = uncompressed_batches(state.range(0));
  auto destinations = uncompressed_batches(state.range(0));
  size_t next = 0;
  for (auto _ : state) {
    std::memcpy(destinations[next].data(), sources[next].data(), sources[next].size());
    benchmark::ClobberMemory();
    next = (next + 1) % sources.size();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(sources[0].size()));
}

void BM_BatchBuild(benchmark::State& state) {
  auto codec = static_cast<compression>(state.range(0));
  auto values = make_values();
  for (auto _ : state) benchmark::DoNotOptimize(build(codec, values));
  state.SetItemsProcessed(state.iterations() * records_per_batch);
  state.SetLabel(std::string(compression_name(codec)));
}

// Streams every record through one reused record: slices, no copies of keys
// or values.
void BM_BatchDecode(benchmark::State& state) {
  auto codec = static_cast<compression>(state.range(0));
  auto parsed = record_batch::parse(base::shared_bytes(build(codec, make_values())));
  for (auto _ : state) {
    auto reader = record_reader::open(*parsed, max_decompressed);
    record r;
    while (*reader->next(r)) benchmark::DoNotOptimize(r.value);
  }
  state.SetItemsProcessed(state.iterations() * records_per_batch);
  state.SetLabel(std::string(compression_name(codec)));
}

}  // namespace

BENCHMARK(BM_BatchValidate)->Arg(1)->Arg(128);
BENCHMARK(BM_BatchMemcpy)->Arg(1)->Arg(128);
BENCHMARK(BM_BatchBuild)
    ->Arg(static_cast<int>(compression::none))
    ->Arg(static_cast<int>(compression::lz4))
    ->Arg(static_cast<int>(compression::zstd));
BENCHMARK(BM_BatchDecode)
    ->Arg(static_cast<int>(compression::none))
    ->Arg(static_cast<int>(compression::lz4))
    ->Arg(static_cast<int>(compression::zstd));
