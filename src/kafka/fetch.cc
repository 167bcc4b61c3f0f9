// Fetch: read each partition from where the connection lives (logs are safe
// to read from any shard), and when fewer than min.bytes are there, wait
// until an append brings more or max.wait.ms passes (the long poll).
// Old clients (Fetch v0-3) get the batches converted down to message sets.

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <list>

#include "kafka/fetch_waiters.h"
#include "kafka/handlers.h"
#include "protocol/legacy_message_set.h"
#include "protocol/messages/fetch.h"
#include "protocol/record_batch.h"

namespace sluice::kafka {

namespace {

using protocol::error_code;
using partition_answer = protocol::fetch_response::partition_data;
using clock = std::chrono::steady_clock;

// Fetch v4 brought record batches; earlier versions read message sets.
constexpr int16_t first_batch_version = 4;
// Records at least this large are sent from their own buffers (a gathering
// write) rather than copied into the response.
constexpr size_t min_spliced_records = 4096;
// Fetch v2 and v3 read magic-1 messages (with timestamps), v0 and v1 magic 0.
constexpr int16_t first_magic1_version = 2;

// A Fetch waiting on this shard, and the partitions it waits for.
struct fetch_wait {
  asio::steady_timer* timer;
  std::vector<const partition*> partitions;
};

// The waits of this shard's thread; only this shard touches them.
thread_local std::list<fetch_wait*> shard_waits;

void wake_fetch_waits(const partition* p) {
  for (fetch_wait* wait : shard_waits) {
    if (std::find(wait->partitions.begin(), wait->partitions.end(), p) != wait->partitions.end()) {
      wait->timer->cancel();
    }
  }
}

// Rewrites v2 batches as a message set of `magic` for an old client. Records
// go out uncompressed: the codec of a batch may be one the old format lacks.
// Decompressed records count against `limit`, the bytes the response may
// still take, so a compressed batch cannot inflate a response without bound.
base::result<std::vector<uint8_t>> down_convert(const base::shared_bytes& batches, int8_t magic,
                                                size_t limit) {
  std::vector<protocol::legacy_record> records;
  protocol::batch_splitter splitter(batches, {.allow_partial_tail = true});
  std::vector<std::pair<protocol::batch_header, std::vector<protocol::record>>> decoded;
  while (true) {
    auto next = splitter.next();
    if (!next) return base::fail(next.error().message);
    if (!*next) break;
    const auto& batch = **next;
    if (batch.header().is_control()) continue;
    auto recs = protocol::decode_records(batch, limit);
    if (!recs) return base::fail(recs.error().message);
    decoded.emplace_back(batch.header(), std::move(*recs));
  }
  auto view = [](const std::optional<base::shared_bytes>& b) -> protocol::optional_bytes {
    if (!b) return std::nullopt;
    return std::span<const uint8_t>(b->data(), b->size());
  };
  for (auto& [header, recs] : decoded) {
    for (auto& r : recs) {
      records.push_back({r.offset(header), r.timestamp(header), view(r.key), view(r.value)});
    }
  }
  if (records.empty()) return std::vector<uint8_t>{};
  protocol::legacy_write_options options;
  options.magic = magic;
  return protocol::write_legacy_message_set(records, options);
}

struct fetch_state {
  const protocol::fetch_request& request;
  protocol::fetch_response response;
  size_t bytes = 0;
  bool any_error = false;
  // The partitions of the request, in order (nullptr when unknown), and the
  // high watermark each had when it was read.
  std::vector<partition*> partitions;
  std::vector<int64_t> read_at_watermark;
};

// Reads what each partition has into a fresh response.
void read_all(request_context& ctx, fetch_state& state, const metadata_image& image) {
  const auto& request = state.request;
  state.response = {};
  state.bytes = 0;
  state.any_error = false;
  state.partitions.clear();
  state.read_at_watermark.clear();
  // fetch.max.bytes bounds every response, whatever the request asks (and
  // Fetch v0-2 asks no total at all).
  const size_t broker_max = static_cast<size_t>(ctx.broker.config.fetch_max_bytes);
  const size_t max_bytes =
      ctx.version >= 3 ? std::min(broker_max, static_cast<size_t>(std::max(0, request.max_bytes)))
                       : broker_max;
  for (const auto& topic : request.topics) {
    auto& topic_out = state.response.responses.emplace_back();
    topic_out.topic = topic.topic;
    for (const auto& wanted : topic.partitions) {
      auto& answer = topic_out.partitions.emplace_back();
      answer.partition_index = wanted.partition;
      answer.aborted_transactions = std::vector<protocol::fetch_response::aborted_transaction>{};
      partition* p = image.find(topic.topic, wanted.partition);
      state.partitions.push_back(p);
      state.read_at_watermark.push_back(p ? p->high_watermark() : -1);
      auto fail = [&](error_code code) {
        answer.error_code = static_cast<int16_t>(code);
        answer.high_watermark = -1;
        answer.records = base::shared_bytes();
        state.any_error = true;
      };
      if (p == nullptr) {
        fail(error_code::unknown_topic_or_partition);
        continue;
      }
      if (wanted.current_leader_epoch > 0) {
        fail(error_code::unknown_leader_epoch);
        continue;
      }
      const int64_t hw = p->high_watermark();
      state.read_at_watermark.back() = hw;
      answer.high_watermark = hw;
      answer.last_stable_offset = hw;
      answer.log_start_offset = p->log->log_start_offset();
      answer.records = base::shared_bytes();
      // KIP-74: the first batch of the response comes whole, whatever the
      // limits; after it, the request's and the partition's limits hold.
      size_t room = std::min(static_cast<size_t>(std::max(0, wanted.partition_max_bytes)),
                             max_bytes > state.bytes ? max_bytes - state.bytes : 0);
      if (state.bytes > 0 && room == 0) continue;
      // read_committed reads up to the last stable offset, which is the
      // high watermark while there are no transactions.
      auto slice = p->log->read(wanted.fetch_offset, room, hw);
      if (!slice) {
        if (slice.error().code == ERANGE) {
          fail(error_code::offset_out_of_range);
          answer.high_watermark = hw;
          answer.log_start_offset = p->log->log_start_offset();
        } else {
          fail(error_code::kafka_storage_error);
        }
        continue;
      }
      if (!*slice) continue;
      // Records that go out as they are, from their own buffer, are read by
      // the kernel alone, so they may come straight from the mapped log: no
      // copy at all. Anything Sluice itself reads is copied (the mapping's
      // I/O errors are SIGBUS in user space). This test must match the
      // encoder's: records of min_spliced_records or more are always spliced
      // (base::byte_writer::splice), smaller ones memcpy'd into the response.
      const bool sent_as_they_are =
          ctx.version >= first_batch_version && (*slice)->range().length >= min_spliced_records;
      auto data = sent_as_they_are ? (*slice)->map() : (*slice)->read();
      if (!data) {
        fail(error_code::kafka_storage_error);
        continue;
      }
      if (ctx.version < first_batch_version) {
        int8_t magic = ctx.version >= first_magic1_version ? 1 : 0;
        auto converted = down_convert(*data, magic, std::max(max_bytes, data->size()));
        if (!converted) {
          fail(error_code::corrupt_message);
          continue;
        }
        state.bytes += converted->size();
        answer.records = base::shared_bytes(std::move(*converted));
      } else {
        state.bytes += data->size();
        answer.records = std::move(*data);
      }
    }
  }
}

// True when some partition has grown since it was read.
bool any_grew(const fetch_state& state) {
  for (size_t i = 0; i < state.partitions.size(); ++i) {
    const partition* p = state.partitions[i];
    if (p != nullptr && p->high_watermark() > state.read_at_watermark[i]) return true;
  }
  return false;
}

}  // namespace

void notify_appended(partition& p, shard_set& shards) {
  uint64_t waiting = p.waiting_shards.exchange(0);
  for (shard_id shard = 0; waiting != 0; ++shard, waiting >>= 1) {
    if ((waiting & 1) == 0) continue;
    const partition* grown = &p;
    if (shard == shard_set::current()) {
      wake_fetch_waits(grown);
    } else {
      asio::post(shards.context(shard), [grown] { wake_fetch_waits(grown); });
    }
  }
}

boost::asio::awaitable<handler_result> handle_fetch(request_context& ctx) {
  auto decoded = decode_request<protocol::fetch_request>(ctx);
  if (auto* closed = std::get_if<close_connection>(&decoded)) co_return *closed;
  auto& request = std::get<protocol::fetch_request>(decoded);

  const auto deadline = clock::now() + std::chrono::milliseconds(std::max(0, request.max_wait_ms));
  const size_t min_bytes = static_cast<size_t>(std::max(0, request.min_bytes));
  fetch_state state{request, {}, 0, false, {}};
  asio::steady_timer timer(co_await asio::this_coro::executor);
  fetch_wait wait{&timer, {}};
  const uint64_t my_bit = uint64_t{1} << shard_set::current();

  while (true) {
    auto image = ctx.broker.topics.image();
    read_all(ctx, state, *image);
    if (state.bytes >= min_bytes || state.any_error || clock::now() >= deadline) break;
    // Register before the last look, so an append in between still wakes us.
    wait.partitions.assign(state.partitions.begin(), state.partitions.end());
    for (partition* p : state.partitions) {
      if (p != nullptr) p->waiting_shards.fetch_or(my_bit);
    }
    if (any_grew(state)) continue;
    shard_waits.push_back(&wait);
    timer.expires_at(deadline);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    shard_waits.remove(&wait);
    // Either the deadline passed (read once more, answer) or a partition grew.
  }
  state.response.session_id = 0;  // no incremental fetch sessions (KIP-227)
  // The records go out from the buffers they were read into, not copied into
  // the response; only small ones are cheaper to copy than to send apart.
  co_return protocol::encode_gathered_response_frame(
      state.response, ctx.version, ctx.header.correlation_id, min_spliced_records);
}

}  // namespace sluice::kafka
