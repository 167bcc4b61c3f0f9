// DeleteRecords, as Kafka answers it on a partition's leader: the log start
// offset moves up to the requested offset (-1: the high watermark), and the
// low watermark returned is the log start offset after that. Records below
// it are unreadable at once; their segments go at the next retention pass.
//
// Moving the start offset can rewrite the leader-epoch checkpoint, which
// fsyncs, so the moves run on the blocking pool. They need no owner shard:
// the log takes calls from any thread, and the producer state is not touched.

#include "protocol/messages/delete_records.h"
#include "cluster/topic_name.h"
#include "kafka/handlers.h"

namespace sluice::kafka {

namespace {

using protocol::error_code;

int16_t code(error_code c) { return static_cast<int16_t>(c); }

// Kafka's DeleteRecordsResponse.INVALID_LOW_WATERMARK, for partitions that failed.
constexpr int64_t invalid_low_watermark = -1;

}  // namespace

boost::asio::awaitable<handler_result> handle_delete_records(request_context& ctx) {
  auto decoded = decode_request<protocol::delete_records_request>(ctx);
  if (auto* closed = std::get_if<close_connection>(&decoded)) co_return *closed;
  auto& request = std::get<protocol::delete_records_request>(decoded);

  auto image = ctx.broker.topics.image();
  protocol::delete_records_response response;
  // The partitions to move. The results are reserved first so that the
  // pointers to them stay valid.
  struct move {
    protocol::delete_records_response::delete_records_partition_result* result;
    partition* target;
    int64_t offset;
  };
  std::vector<move> moves;
  response.topics.reserve(request.topics.size());
  for (const auto& topic : request.topics) {
    auto& topic_result = response.topics.emplace_back();
    topic_result.name = topic.name;
    topic_result.partitions.reserve(topic.partitions.size());
    const topic_info* info = image->find(topic.name);
    for (const auto& wanted : topic.partitions) {
      auto& result = topic_result.partitions.emplace_back();
      result.partition_index = wanted.partition_index;
      result.low_watermark = invalid_low_watermark;
      partition* target = image->find(topic.name, wanted.partition_index);
      if (target == nullptr) {
        result.error_code = code(error_code::unknown_topic_or_partition);
        continue;
      }
      // Kafka keeps its internal topics whole: the coordinators replay them.
      if (cluster::is_internal_topic(topic.name)) {
        result.error_code = code(error_code::invalid_topic_exception);
        continue;
      }
      // A compacted log keeps the latest record of every key, whatever its age.
      if (info->log_config.policy == storage::cleanup_policy::compact) {
        result.error_code = code(error_code::policy_violation);
        continue;
      }
      const int64_t high_watermark = target->high_watermark();
      const int64_t offset = wanted.offset == -1 ? high_watermark : wanted.offset;
      if (offset < 0 || offset > high_watermark) {
        result.error_code = code(error_code::offset_out_of_range);
        continue;
      }
      moves.push_back({&result, target, offset});
    }
  }

  if (!moves.empty()) {
    co_await ctx.broker.shards.offload([&moves] {
      for (auto& m : moves) {
        auto moved = m.target->log->advance_log_start_offset(m.offset);
        if (moved) {
          m.result->low_watermark = *moved;
        } else {
          m.result->error_code = code(error_code::kafka_storage_error);
        }
      }
    });
  }
  co_return encode_response(ctx, response);
}

}  // namespace sluice::kafka
