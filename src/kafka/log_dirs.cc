// DescribeLogDirs: the broker's one log directory and, for each partition it
// holds there, the bytes of its segments (what `kafka-log-dirs.sh` and
// `sluice topic describe` show). As Kafka answers it: requested topics or
// partitions this broker does not hold are left out rather than failed, and a
// single replica has no future log and no lag.
//
// The sizes are read on each partition's owner shard, where its appends run:
// there the read never waits on the owner's own append holding the segment
// lock, and it sees every append answered before the request came in. The
// file system's totals come from statvfs(3) on the blocking pool, since a
// network file system can stall it.

#include <sys/statvfs.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include "kafka/handlers.h"
#include "protocol/messages/describe_log_dirs.h"

namespace sluice::kafka {

namespace {

using response_type = protocol::describe_log_dirs_response;

// TotalBytes / UsableBytes (v4) of the file system holding a directory; -1
// each when it cannot be read.
struct space {
  int64_t total_bytes = -1;
  int64_t usable_bytes = -1;
};

// Kafka's adjustForLargeFileSystems: a size past int64 is reported as its maximum.
int64_t bytes_of(uint64_t blocks, uint64_t block_size) {
  constexpr auto max = std::numeric_limits<int64_t>::max();
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(blocks, block_size, &bytes)) return max;
  return bytes > static_cast<uint64_t>(max) ? max : static_cast<int64_t>(bytes);
}

space file_system_space(const std::string& dir) {
  struct statvfs st {};
  if (::statvfs(dir.c_str(), &st) != 0) return {};
  // Usable as Java's FileStore.getUsableSpace counts it: the blocks an
  // unprivileged writer may take, without root's reserve.
  return {bytes_of(st.f_blocks, st.f_frsize), bytes_of(st.f_bavail, st.f_frsize)};
}

// The directory as Kafka names it, the configured path made absolute (Kafka
// resolves log.dirs against its working directory too); "." and ".." are
// folded so that a relative setting reads as the place it is.
std::string absolute_log_dir(const std::string& dir) {
  std::error_code ec;
  auto path = std::filesystem::absolute(dir, ec);
  if (ec) return dir;
  path = path.lexically_normal();
  if (!path.has_filename() && path.has_relative_path()) path = path.parent_path();
  return path.string();
}

// One partition whose size is still to be read, by its place in the answer.
struct size_read {
  partition* source;
  size_t topic;
  size_t index;
};

}  // namespace

boost::asio::awaitable<handler_result> handle_describe_log_dirs(request_context& ctx) {
  auto decoded = decode_request<protocol::describe_log_dirs_request>(ctx);
  if (auto* closed = std::get_if<close_connection>(&decoded)) co_return *closed;
  auto& request = std::get<protocol::describe_log_dirs_request>(decoded);

  response_type response;
  if (ctx.broker.config.log_dirs.empty()) co_return encode_response(ctx, response);
  const std::string& dir = ctx.broker.config.log_dirs.front();

  auto image = ctx.broker.topics.image();
  auto& result = response.results.emplace_back();
  result.log_dir = absolute_log_dir(dir);

  // Kafka takes the request as a set of partitions: a topic named twice
  // is answered once, with the union of its partitions.
  std::map<std::string, std::set<int32_t>, std::less<>> wanted;
  if (request.topics) {
    for (const auto& topic : *request.topics) {
      wanted[topic.topic].insert(topic.partitions.begin(), topic.partitions.end());
    }
  }

  std::vector<std::vector<size_read>> by_owner(ctx.broker.shards.count());
  auto add_topic = [&](const topic_info& info, auto&& keep) {
    response_type::describe_log_dirs_topic out;
    out.name = info.name;
    for (const auto& p : info.partitions) {
      if (!keep(p->tp.partition)) continue;
      by_owner[p->owner].push_back({p.get(), result.topics.size(), out.partitions.size()});
      out.partitions.emplace_back().partition_index = p->tp.partition;
    }
    if (!out.partitions.empty()) result.topics.push_back(std::move(out));
  };
  if (!request.topics) {
    for (const auto& entry : image->topics) add_topic(*entry.second, [](int32_t) { return true; });
  } else {
    for (const auto& [name, indexes] : wanted) {
      const topic_info* info = image->find(name);
      if (info == nullptr) continue;
      add_topic(*info, [&indexes](int32_t index) { return indexes.contains(index); });
    }
  }

  // An admin call: one hop per owning shard in turn is cheap enough.
  for (shard_id shard = 0; shard < by_owner.size(); ++shard) {
    if (by_owner[shard].empty()) continue;
    co_await ctx.broker.shards.on_shard(shard, [&, shard]() -> boost::asio::awaitable<void> {
      for (const auto& read : by_owner[shard]) {
        result.topics[read.topic].partitions[read.index].partition_size =
            static_cast<int64_t>(read.source->log->size_bytes());
      }
      co_return;
    });
  }

  if (ctx.version >= 4) {
    auto found = co_await ctx.broker.shards.offload([&dir] { return file_system_space(dir); });
    result.total_bytes = found.total_bytes;
    result.usable_bytes = found.usable_bytes;
  }
  co_return encode_response(ctx, response);
}

}  // namespace sluice::kafka
