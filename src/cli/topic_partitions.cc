#include "cli/topic_partitions.h"

#include <algorithm>
#include <charconv>
#include <set>

namespace sluice::cli {
namespace {

base::result<int32_t> parse_partition(const std::string& text, const std::string& context) {
  int32_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || value < 0) {
    return base::fail(context + ": partition \"" + text +
                      "\" is not a partition number (expected TOPIC:0,1,...)");
  }
  return value;
}

}  // namespace

std::string to_string(const topic_partition& tp) {
  return tp.topic + "/" + std::to_string(tp.partition);
}

base::result<partition_selector> parse_partition_selector(const std::string& arg,
                                                          const std::string& flag) {
  const std::string context = flag + " " + arg;
  size_t colon = arg.find(':');
  partition_selector out{arg.substr(0, colon), {}};
  if (out.topic.empty()) return base::fail(context + ": missing the topic name");
  if (colon == std::string::npos) return out;

  std::set<int32_t> partitions;
  size_t start = colon + 1;
  while (true) {
    size_t comma = arg.find(',', start);
    auto number = parse_partition(arg.substr(start, comma - start), context);
    if (!number) return base::unexpected(number.error());
    partitions.insert(*number);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  out.partitions.assign(partitions.begin(), partitions.end());
  return out;
}

base::result<std::vector<partition_selector>> parse_partition_selectors(
    const std::vector<std::string>& args, const std::string& flag) {
  std::vector<partition_selector> out;
  for (const auto& arg : args) {
    auto parsed = parse_partition_selector(arg, flag);
    if (!parsed) return base::unexpected(parsed.error());
    auto same = std::find_if(out.begin(), out.end(),
                             [&](const auto& s) { return s.topic == parsed->topic; });
    if (same == out.end()) {
      out.push_back(std::move(*parsed));
    } else if (same->partitions.empty() || parsed->partitions.empty()) {
      same->partitions.clear();
    } else {
      std::set<int32_t> merged(same->partitions.begin(), same->partitions.end());
      merged.insert(parsed->partitions.begin(), parsed->partitions.end());
      same->partitions.assign(merged.begin(), merged.end());
    }
  }
  return out;
}

base::result<std::vector<topic_partition>> expand_selectors(
    const std::vector<partition_selector>& selectors,
    const std::map<std::string, std::vector<int32_t>>& known, const std::string& where) {
  std::set<topic_partition> out;
  for (const auto& selector : selectors) {
    auto found = known.find(selector.topic);
    if (found == known.end() || found->second.empty()) {
      return base::fail("topic " + selector.topic + " not found " + where);
    }
    const auto& existing = found->second;
    for (int32_t p : selector.partitions.empty() ? existing : selector.partitions) {
      if (std::find(existing.begin(), existing.end(), p) == existing.end()) {
        return base::fail("partition " + to_string({selector.topic, p}) + " not found " + where);
      }
      out.insert({selector.topic, p});
    }
  }
  return std::vector<topic_partition>(out.begin(), out.end());
}

}  // namespace sluice::cli
