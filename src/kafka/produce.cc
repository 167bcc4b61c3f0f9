// Produce: validate each partition's records here, on the connection's shard,
// then append them on the partition's owner shard, where the idempotent
// producer state lives (without waiting for those on other shards: the
// answer does); acks=all waits for an fsync (while flush.on.acks.all,
// Sluice's default) on the blocking pool before answering.

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>

#include "cluster/topic_name.h"
#include "kafka/fetch_waiters.h"
#include "kafka/handlers.h"
#include "protocol/legacy_message_set.h"
#include "protocol/messages/produce.h"
#include "protocol/record_batch.h"

namespace sluice::kafka {

namespace {

using protocol::error_code;
using partition_answer = protocol::produce_response::partition_produce_response;

// The first version whose batches may be zstd-compressed (KIP-110).
constexpr int16_t first_zstd_version = 7;
// Produce v3 brought record batches (magic 2); earlier versions send message sets.
constexpr int16_t first_batch_version = 3;

struct rejected {
  error_code code;
  std::string message;
};

// One partition's records, checked and ready to append.
struct checked_records {
  base::shared_bytes storage;  // the frame's records, or a converted message set
  std::span<uint8_t> bytes;    // what gets appended: storage, writable
  std::vector<protocol::batch_header> headers;
};

// How much a compressed batch may expand while its records are checked.
size_t decompression_limit(int32_t max_message_bytes) {
  return std::max<size_t>(64u << 20, 8u * static_cast<size_t>(max_message_bytes));
}

// Converts an old client's message set (magic 0 or 1) into one record batch,
// as Kafka does when it stores them in the v2 format.
base::result<std::vector<uint8_t>, rejected> convert_message_set(const base::shared_bytes& set,
                                                                 size_t limit) {
  protocol::legacy_read_options options;
  options.max_decompressed_bytes = limit;
  auto messages = protocol::read_legacy_message_set(set, options);
  if (!messages) {
    return base::unexpected{
        rejected{protocol::to_error_code(messages.error().code), messages.error().message}};
  }
  if (messages->empty()) {
    return base::unexpected{rejected{error_code::invalid_record, "no messages"}};
  }
  protocol::batch_options batch;
  batch.codec = messages->front().codec;
  batch.ts_type = messages->front().ts_type;
  protocol::record_batch_builder builder(batch);
  for (const auto& m : *messages) {
    auto view = [](const std::optional<base::shared_bytes>& b) -> protocol::optional_bytes {
      if (!b) return std::nullopt;
      return std::span<const uint8_t>(b->data(), b->size());
    };
    builder.add(m.timestamp, view(m.key), view(m.value));
  }
  auto built = builder.build();
  if (!built) return base::unexpected{rejected{error_code::corrupt_message, built.error().message}};
  return std::move(*built);
}

// Kafka's LogValidator checks, before anything reaches the log.
base::result<checked_records, rejected> check_records(
    const request_context& ctx, const topic_info& topic,
    const std::optional<base::shared_bytes>& records) {
  checked_records out;
  if (!records || records->size() == 0) {
    return base::unexpected{rejected{error_code::invalid_record, "no records"}};
  }
  const size_t limit = decompression_limit(topic.max_message_bytes);
  base::shared_bytes input = *records;
  if (ctx.version < first_batch_version) {
    auto converted = convert_message_set(input, limit);
    if (!converted) return base::unexpected(converted.error());
    input = base::shared_bytes(std::move(*converted));
  } else if (input.size() > protocol::batch_layout::magic &&
             input.data()[protocol::batch_layout::magic] != protocol::record_batch_magic) {
    return base::unexpected{rejected{error_code::invalid_record,
                                     "Produce v3 and later carry record batches (magic 2) only"}};
  }
  protocol::batch_splitter splitter(input);
  while (true) {
    auto next = splitter.next();
    if (!next) {
      return base::unexpected{
          rejected{protocol::to_error_code(next.error().code), next.error().message}};
    }
    if (!*next) break;
    const protocol::record_batch& batch = **next;
    const auto& header = batch.header();
    if (header.size() > static_cast<size_t>(topic.max_message_bytes)) {
      return base::unexpected{rejected{
          error_code::message_too_large,
          "The batch is " + std::to_string(header.size()) +
              " bytes, larger than max.message.bytes=" + std::to_string(topic.max_message_bytes)}};
    }
    if (header.codec() == protocol::compression::zstd && ctx.version < first_zstd_version) {
      return base::unexpected{
          rejected{error_code::unsupported_compression_type, "zstd needs Produce v7 or later"}};
    }
    if (header.is_transactional()) {
      return base::unexpected{rejected{error_code::transactional_id_authorization_failed,
                                       "transactions are not supported yet"}};
    }
    auto valid = protocol::validate_produced_batch(batch, limit);
    if (!valid) {
      return base::unexpected{
          rejected{protocol::to_error_code(valid.error().code), valid.error().message}};
    }
    out.headers.push_back(header);
  }
  // The bytes belong to this request alone (its frame, or the batch made
  // from a message set): the log stamps offsets into them in place rather
  // than copying the records.
  out.storage = input;
  out.bytes = std::span<uint8_t>(const_cast<uint8_t*>(input.data()), input.size());
  return out;
}

void fail(partition_answer& answer, error_code code, std::string message = {}) {
  answer.error_code = static_cast<int16_t>(code);
  answer.base_offset = -1;
  if (!message.empty()) answer.error_message = std::move(message);
}

error_code storage_error_code(const storage::io_error& error) {
  return error.code == EINVAL ? error_code::corrupt_message : error_code::kafka_storage_error;
}

// On the owner shard, after an append: once the log has rolled a segment
// since the last producer snapshot, producers idle for longer than
// producer.id.expiration.ms are forgotten and a copy of the state goes to the
// disk in the background (the image keeps the partition alive meanwhile).
void snapshot_if_rolled(partition& p, int64_t log_end, std::shared_ptr<const metadata_image> image,
                        broker_services& broker) {
  const size_t segments = p.log->segment_count();
  if (segments == p.producer_snapshot_segments || p.producer_snapshot_running) return;
  p.producer_snapshot_segments = segments;
  p.producer_snapshot_running = true;
  p.producers.expire(storage::wall_clock_ms(), broker.config.producer_id_expiration_ms);
  shard_set& shards = broker.shards;
  auto write = [&p, &shards, log_end, image = std::move(image),
                state = p.producers]() -> asio::awaitable<void> {
    auto written = co_await shards.offload(
        [&] { return coordinator::write_producer_snapshot(*p.log, state, log_end); });
    if (!written) {
      spdlog::warn("producer snapshot of {}-{}: {}", p.tp.topic, p.tp.partition,
                   written.error().message);
    }
    p.producer_snapshot_running = false;
  };
  asio::co_spawn(shards.context(p.owner), std::move(write), asio::detached);
}

// On the owner shard: the idempotence checks, the append, the producer
// state, and the wakeup of waiting fetches.
// The sequence a producer's next batch starts at; sequences wrap at 2^31.
int32_t next_sequence(const protocol::batch_header& batch) {
  int64_t next = int64_t{batch.base_sequence} + batch.last_offset_delta + 1;
  return static_cast<int32_t>(next % (int64_t{1} << 31));
}

// `durable_end` gets the log end offset the answer depends on.
void append_on_owner(partition& p, checked_records& records, partition_answer& answer,
                     int64_t& durable_end, std::shared_ptr<const metadata_image> image,
                     broker_services& broker) {
  const bool idempotent = records.headers.front().producer_id >= 0;
  if (idempotent) {
    const auto& first = records.headers.front();
    auto check = p.producers.check(first);
    using verdict = coordinator::sequence_check::verdict;
    if (check.outcome == verdict::duplicate) {
      // A retry of what is already written: the original offsets, once.
      answer.base_offset = check.original.first_offset;
      answer.log_start_offset = p.log->log_start_offset();
      durable_end = check.original.last_offset + 1;
      return;
    }
    if (check.outcome != verdict::accept) {
      fail(answer, check.error(), check.message);
      return;
    }
    // Later batches of the same request are checked against the one before
    // them, which the producer state does not hold yet.
    for (size_t i = 1; i < records.headers.size(); ++i) {
      const auto& before = records.headers[i - 1];
      const auto& batch = records.headers[i];
      if (batch.producer_id != before.producer_id ||
          batch.producer_epoch != before.producer_epoch ||
          batch.base_sequence != next_sequence(before)) {
        fail(answer, error_code::out_of_order_sequence_number,
             "batch " + std::to_string(i) + " does not follow the batch before it");
        return;
      }
    }
  }
  storage::append_options options;
  options.leader_epoch = 0;
  options.verify_crc = false;  // checked by validate_produced_batch
  auto appended = p.log->append(records.bytes, options);
  if (!appended) {
    spdlog::warn("append to {}-{}: {}", p.tp.topic, p.tp.partition, appended.error().message);
    fail(answer, storage_error_code(appended.error()), appended.error().message);
    return;
  }
  int64_t next_offset = appended->base_offset;
  for (auto& header : records.headers) {
    header.base_offset = next_offset;
    next_offset += header.last_offset_delta + 1;
    if (idempotent) p.producers.update(header);
  }
  answer.base_offset = appended->base_offset;
  answer.log_append_time_ms = appended->log_append_time;
  durable_end = appended->log_end_offset;
  answer.log_start_offset = p.log->log_start_offset();
  notify_appended(p, broker.shards);
  snapshot_if_rolled(p, appended->log_end_offset, std::move(image), broker);
}

// Partitions and the log end each must have on disk before an answer.
using durable_ends = std::vector<std::pair<partition*, int64_t>>;

bool covered(const durable_ends& wanted) {
  return std::all_of(wanted.begin(), wanted.end(),
                     [](const auto& w) { return w.first->log->recovery_point() >= w.second; });
}

// The appends of one Produce request that belong to other shards than the
// connection's. Each is posted to its owner at once and the connection goes
// on with its next request: waiting for the owner and back (two thread
// wakeups) bounded a connection's rate of small requests, not the work.
// Posts from one shard to another run in the order they were made, so a
// partition's appends keep the order of the requests. The results come back
// to the connection's shard, where the answer waits for them.
class remote_appends final : public work_elsewhere,
                             public std::enable_shared_from_this<remote_appends> {
 public:
  explicit remote_appends(asio::any_io_executor home) : home_(std::move(home)) {}

  // Appends `records` on the partition's owner; the result goes to answer
  // `partition_at` of topic `topic_at` in the response. `flush`: acks=all.
  void start(partition& p, checked_records records, size_t topic_at, size_t partition_at,
             bool flush, std::shared_ptr<const metadata_image> image, broker_services& broker) {
    auto one = std::make_shared<append>(
        append{&p, std::move(records), flush, topic_at, partition_at, partition_answer{}, -1});
    appends_.push_back(one);
    ++outstanding_;
    asio::post(broker.shards.context(p.owner), [self = shared_from_this(), one,
                                                image = std::move(image), &broker] {
      // `image` stays here until the end: it keeps the partition alive.
      try {
        append_on_owner(*one->p, one->records, one->answer, one->durable_end, image, broker);
      } catch (const std::exception& e) {
        spdlog::error("append to {}-{} failed: {}", one->p->tp.topic, one->p->tp.partition,
                      e.what());
        fail(one->answer, error_code::unknown_server_error, e.what());
      }
      // The request's bytes (and their share of the request
      // budget) go now, not when the answer does.
      one->records = checked_records{};
      asio::post(self->home_, [self] {
        if (--self->outstanding_ > 0) return;
        for (auto* waiter : self->waiters_) waiter->cancel();
      });
    });
  }

  // On the connection's shard: the answer's writer and a later request may
  // both wait.
  bool done() const override { return outstanding_ == 0; }
  asio::awaitable<void> wait() override {
    if (outstanding_ == 0) co_return;
    // The timer lives here, on the connection's shard, not in this object,
    // which a shard that stops with appends in its queue may destroy late.
    asio::steady_timer all_back(home_, asio::steady_timer::time_point::max());
    waiters_.push_back(&all_back);
    while (outstanding_ > 0) {
      boost::system::error_code ignored;
      co_await all_back.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    }
    std::erase(waiters_, &all_back);
  }
  // Once all are back: puts each answer in its place and adds the
  // partitions an fsync must cover.
  void collect(protocol::produce_response& response, durable_ends& to_flush) const {
    for (const auto& one : appends_) {
      auto& slot = response.responses[one->topic_at].partition_responses[one->partition_at];
      const auto index = slot.index;
      slot = one->answer;
      slot.index = index;
    }
    auto mine = to_sync();
    to_flush.insert(to_flush.end(), mine.begin(), mine.end());
  }
  // Once all are back: whether their acks=all records are on disk.
  bool durable() const { return covered(to_sync()); }

 private:
  // The acks=all appends that succeeded, and the log end each needs on disk.
  durable_ends to_sync() const {
    durable_ends wanted;
    for (const auto& one : appends_) {
      if (one->flush && one->answer.error_code == 0) wanted.emplace_back(one->p, one->durable_end);
    }
    return wanted;
  }

  struct append {
    partition* p;
    checked_records records;
    bool flush;
    size_t topic_at;
    size_t partition_at;
    partition_answer answer;  // written on the owner shard
    int64_t durable_end;
  };

  asio::any_io_executor home_;
  size_t outstanding_ = 0;
  // The timers of the wait() calls waiting; cancelled when the last append
  // is back.
  std::vector<asio::steady_timer*> waiters_;
  std::vector<std::shared_ptr<append>> appends_;
};

// acks=all (while flush.on.acks.all): the answer goes out once the records
// are on disk. The connection's writer starts this when it reaches the
// answer and handles later requests meanwhile, so their appends often ride
// on this fsync (partition_log::sync skips what an earlier one covered).
asio::awaitable<std::vector<uint8_t>> answer_when_durable(
    broker_services& broker,
    // Keeps the partitions alive until their fsync is done.
    [[maybe_unused]] std::shared_ptr<const metadata_image> image, durable_ends to_flush,
    protocol::produce_response response, int16_t version, int32_t correlation_id) {
  // Records an earlier fsync covered need no hop to the blocking pool and
  // back: with small requests, one fsync covers dozens of them, and the hops
  // were most of what acks=all cost the broker (two thread wakeups each).
  std::erase_if(to_flush, [](const std::pair<partition*, int64_t>& wanted) {
    return wanted.first->log->recovery_point() >= wanted.second;
  });
  if (to_flush.empty())
    co_return protocol::encode_response_frame(response, version, correlation_id);
  auto failures = co_await broker.shards.offload([&] {
    std::vector<std::pair<partition*, storage::io_error>> failed;
    for (auto& [p, end] : to_flush) {
      auto done = p->log->sync(end);
      if (!done) failed.emplace_back(p, done.error());
    }
    return failed;
  });
  for (auto& [p, error] : failures) {
    spdlog::error("fsync of {}-{} failed: {}", p->tp.topic, p->tp.partition, error.message);
    for (auto& topic_out : response.responses) {
      if (topic_out.name != p->tp.topic) continue;
      for (auto& answer : topic_out.partition_responses) {
        if (answer.index == p->tp.partition) {
          fail(answer, error_code::kafka_storage_error, error.message);
        }
      }
    }
  }
  co_return protocol::encode_response_frame(response, version, correlation_id);
}

// The answer to a request with appends on other shards: once they are back,
// and (acks=all) on disk.
asio::awaitable<std::vector<uint8_t>> answer_when_appended(
    broker_services& broker, std::shared_ptr<const metadata_image> image,
    std::shared_ptr<remote_appends> remote, durable_ends to_flush,
    protocol::produce_response response, int16_t version, int32_t correlation_id) {
  co_await remote->wait();
  remote->collect(response, to_flush);
  co_return co_await answer_when_durable(broker, std::move(image), std::move(to_flush),
                                         std::move(response), version, correlation_id);
}

// What an acks=0 request with appends on other shards answers: nothing, once
// they are back.
asio::awaitable<std::vector<uint8_t>> nothing_once_appended(
    std::shared_ptr<remote_appends> remote) {
  co_await remote->wait();
  co_return std::vector<uint8_t>{};
}

}  // namespace

boost::asio::awaitable<handler_result> handle_produce(request_context& ctx) {
  auto decoded = decode_request<protocol::produce_request>(ctx);
  if (auto* closed = std::get_if<close_connection>(&decoded)) co_return *closed;
  auto& request = std::get<protocol::produce_request>(decoded);

  const bool acks_valid = request.acks == 0 || request.acks == 1 || request.acks == -1;
  auto image = ctx.broker.topics.image();
  protocol::produce_response response;
  // Partitions appended here with acks=all, and the log end offset each
  // must have on disk before the answer goes out.
  durable_ends to_flush;
  std::shared_ptr<remote_appends> remote;
  for (auto& topic_data : request.topic_data) {
    const size_t topic_at = response.responses.size();
    auto& topic_out = response.responses.emplace_back();
    topic_out.name = topic_data.name;
    const topic_info* topic = image->find(topic_data.name);
    for (auto& data : topic_data.partition_data) {
      auto& answer = topic_out.partition_responses.emplace_back();
      answer.index = data.index;
      if (!acks_valid) {
        fail(answer, error_code::invalid_required_acks);
        continue;
      }
      partition* p = topic ? image->find(topic_data.name, data.index) : nullptr;
      if (p == nullptr) {
        fail(answer, error_code::unknown_topic_or_partition);
        continue;
      }
      // Only the coordinators write their topics (as Kafka refuses "Cannot
      // append to internal topic"): a forged record would become group state
      // at the next start.
      if (cluster::is_internal_topic(topic_data.name)) {
        fail(answer, error_code::invalid_topic_exception,
             "Cannot append to internal topic " + topic_data.name);
        continue;
      }
      auto records = check_records(ctx, *topic, data.records);
      if (!records) {
        fail(answer, records.error().code, records.error().message);
        continue;
      }
      const bool flush = request.acks == -1 && topic->log_config.flush_on_acks_all;
      if (p->owner != shard_set::current()) {
        if (!remote) {
          auto home = co_await asio::this_coro::executor;
          remote = std::make_shared<remote_appends>(std::move(home));
        }
        remote->start(*p, std::move(*records), topic_at, topic_out.partition_responses.size() - 1,
                      flush, image, ctx.broker);
        continue;
      }
      int64_t sync_end = -1;
      append_on_owner(*p, *records, answer, sync_end, image, ctx.broker);
      if (flush && answer.error_code == 0) to_flush.emplace_back(p, sync_end);
    }
  }

  if (request.acks == 0) {
    if (!remote) co_return no_response{};
    auto ready = [remote] { return remote->done(); };
    co_return deferred_response{nothing_once_appended(remote), std::move(ready), remote};
  }
  if (remote) {
    auto ready = [remote, local = to_flush] {
      return remote->done() && remote->durable() && covered(local);
    };
    co_return deferred_response{
        answer_when_appended(ctx.broker, std::move(image), remote, std::move(to_flush),
                             std::move(response), ctx.version, ctx.header.correlation_id),
        std::move(ready), remote};
  }
  if (!to_flush.empty()) {
    auto ready = [local = to_flush] { return covered(local); };
    co_return deferred_response{
        answer_when_durable(ctx.broker, std::move(image), std::move(to_flush), std::move(response),
                            ctx.version, ctx.header.correlation_id),
        std::move(ready)};
  }
  co_return encode_response(ctx, response);
}

}  // namespace sluice::kafka
