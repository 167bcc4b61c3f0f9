// Request decoding cost: how many Produce requests per second one core can
// parse (header + body), with record data left in place (zero-copy slices).

#include <benchmark/benchmark.h>

#include "protocol/frame.h"
#include "protocol/messages/produce.h"

namespace sluice::protocol {
namespace {

// A Produce v7 request (what librdkafka 2.0.2 sends) for `partitions`
// partitions of one topic, each with `batch_bytes` of record data.
base::shared_bytes produce_frame(int partitions, size_t batch_bytes) {
  produce_request request;
  request.acks = -1;
  request.timeout_ms = 30000;
  auto& topic = request.topic_data.emplace_back();
  topic.name = "bench-topic";
  for (int p = 0; p < partitions; ++p) {
    auto& partition = topic.partition_data.emplace_back();
    partition.index = p;
    partition.records = base::shared_bytes(std::vector<uint8_t>(batch_bytes, 0x5a));
  }
  auto frame = encode_request_frame(request, 7, 1, "rdkafka");
  return base::shared_bytes(std::vector<uint8_t>(frame.begin() + 4, frame.end()));
}

void BM_DecodeProduceRequest(benchmark::State& state) {
  auto frame = produce_frame(static_cast<int>(state.range(0)), static_cast<size_t>(state.range(1)));
  for (auto _ : state) {
    auto request = parse_request(frame);
    auto body = decode_body<produce_request>(request->body, request->header.request_api_version);
    benchmark::DoNotOptimize(body);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * frame.size()));
}
BENCHMARK(BM_DecodeProduceRequest)->Args({1, 1024})->Args({1, 16384})->Args({16, 16384});

void BM_EncodeProduceResponse(benchmark::State& state) {
  produce_response response;
  auto& topic = response.responses.emplace_back();
  topic.name = "bench-topic";
  for (int p = 0; p < state.range(0); ++p) topic.partition_responses.emplace_back().index = p;
  for (auto _ : state) {
    auto frame = encode_response_frame(response, 7, 1);
    benchmark::DoNotOptimize(frame);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EncodeProduceResponse)->Arg(1)->Arg(16);

}  // namespace
}  // namespace sluice::protocol
