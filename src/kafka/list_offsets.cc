#include "protocol/messages/list_offsets.h"
#include "kafka/handlers.h"

namespace sluice::kafka {

namespace {

using protocol::error_code;
using partition_answer = protocol::list_offsets_response::list_offsets_partition_response;

// ListOffsets' special timestamps.
constexpr int64_t latest_timestamp = -1;
constexpr int64_t earliest_timestamp = -2;
constexpr int64_t max_timestamp = -3;  // KIP-734, v7

void set_error(partition_answer& answer, error_code code) {
  answer.error_code = static_cast<int16_t>(code);
}

// The offset (and the timestamp that found it) for one partition. The log is
// read here, on the connection's shard: lookups go through the indexes and
// touch at most a few pages.
void look_up(partition& p, int64_t timestamp, partition_answer& answer) {
  answer.leader_epoch = 0;
  if (timestamp == latest_timestamp) {
    answer.offset = p.high_watermark();
    return;
  }
  if (timestamp == earliest_timestamp) {
    answer.offset = p.log->log_start_offset();
    return;
  }
  auto found =
      timestamp == max_timestamp ? p.log->max_timestamp() : p.log->offset_for_timestamp(timestamp);
  if (!found) {
    set_error(answer, error_code::kafka_storage_error);
    return;
  }
  if (*found) {
    answer.timestamp = (*found)->timestamp;
    answer.offset = (*found)->offset;
  }
}

}  // namespace

boost::asio::awaitable<handler_result> handle_list_offsets(request_context& ctx) {
  auto decoded = decode_request<protocol::list_offsets_request>(ctx);
  if (auto* closed = std::get_if<close_connection>(&decoded)) co_return *closed;
  auto& request = std::get<protocol::list_offsets_request>(decoded);

  auto image = ctx.broker.topics.image();
  protocol::list_offsets_response response;
  for (const auto& topic : request.topics) {
    auto& topic_out = response.topics.emplace_back();
    topic_out.name = topic.name;
    for (const auto& wanted : topic.partitions) {
      auto& answer = topic_out.partitions.emplace_back();
      answer.partition_index = wanted.partition_index;
      partition* p = image->find(topic.name, wanted.partition_index);
      if (p == nullptr) {
        set_error(answer, error_code::unknown_topic_or_partition);
        continue;
      }
      // A single node's leader epoch is 0; a client that saw a later one
      // knows of a leader this broker does not.
      if (wanted.current_leader_epoch > 0) {
        set_error(answer, error_code::unknown_leader_epoch);
        continue;
      }
      look_up(*p, wanted.timestamp, answer);
      if (ctx.version == 0) {
        // v0 answers with a list of offsets; clients ask for one.
        if (answer.error_code == 0 && wanted.max_num_offsets > 0) {
          answer.old_style_offsets.push_back(answer.offset >= 0 ? answer.offset
                                                                : p->high_watermark());
        }
      }
    }
  }
  co_return encode_response(ctx, response);
}

}  // namespace sluice::kafka
