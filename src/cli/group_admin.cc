#include "cli/group_admin.h"

#include <algorithm>
#include <memory>

namespace sluice::cli {
namespace {

// Owners for the request objects librdkafka copies when a call starts; the
// result objects belong to the result event.
template <typename T, void (*destroy)(T*)>
struct c_deleter {
  void operator()(T* p) const { destroy(p); }
};
using delete_group_owner =
    std::unique_ptr<rd_kafka_DeleteGroup_t,
                    c_deleter<rd_kafka_DeleteGroup_t, rd_kafka_DeleteGroup_destroy>>;
using list_offsets_owner = std::unique_ptr<
    rd_kafka_ListConsumerGroupOffsets_t,
    c_deleter<rd_kafka_ListConsumerGroupOffsets_t, rd_kafka_ListConsumerGroupOffsets_destroy>>;
using alter_offsets_owner = std::unique_ptr<
    rd_kafka_AlterConsumerGroupOffsets_t,
    c_deleter<rd_kafka_AlterConsumerGroupOffsets_t, rd_kafka_AlterConsumerGroupOffsets_destroy>>;
using delete_offsets_owner = std::unique_ptr<
    rd_kafka_DeleteConsumerGroupOffsets_t,
    c_deleter<rd_kafka_DeleteConsumerGroupOffsets_t, rd_kafka_DeleteConsumerGroupOffsets_destroy>>;

std::string error_text(const rd_kafka_error_t* error) {
  return std::string(rd_kafka_error_name(error)) + ": " + rd_kafka_error_string(error);
}

base::result<void> group_error(const std::string& group, const rd_kafka_error_t* error) {
  if (error == nullptr) return {};
  return base::fail("group " + group + ": " + error_text(error));
}

client::partition_list to_list(const std::vector<topic_partition>& partitions) {
  client::partition_list list(
      rd_kafka_topic_partition_list_new(static_cast<int>(partitions.size())));
  for (const auto& tp : partitions) {
    rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition);
  }
  return list;
}

std::vector<topic_partition> from_list(const rd_kafka_topic_partition_list_t* list) {
  std::vector<topic_partition> out;
  if (list == nullptr) return out;
  for (int i = 0; i < list->cnt; ++i) {
    out.push_back({list->elems[i].topic, list->elems[i].partition});
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<partition_outcome> outcomes(const rd_kafka_topic_partition_list_t* list) {
  std::vector<partition_outcome> out;
  if (list == nullptr) return out;
  for (int i = 0; i < list->cnt; ++i) {
    const auto& e = list->elems[i];
    out.push_back({{e.topic, e.partition}, e.err});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.tp < b.tp; });
  return out;
}

// The single group result of an offsets request for `group`.
base::result<const rd_kafka_group_result_t*> only_group(const rd_kafka_group_result_t** groups,
                                                        size_t count, const std::string& group) {
  if (count != 1) return base::fail("group " + group + ": the cluster answered no result");
  auto ok = group_error(group, rd_kafka_group_result_error(groups[0]));
  if (!ok) return base::unexpected(ok.error());
  return groups[0];
}

base::result<std::vector<rd_kafka_consumer_group_state_t>> parse_states(
    const std::vector<std::string>& names) {
  std::vector<rd_kafka_consumer_group_state_t> out;
  for (const auto& name : names) {
    auto code = rd_kafka_consumer_group_state_code(name.c_str());
    if (code == RD_KAFKA_CONSUMER_GROUP_STATE_UNKNOWN) {
      return base::fail("--state " + name +
                        ": not a group state (Stable, Empty, PreparingRebalance, "
                        "CompletingRebalance, Dead)");
    }
    out.push_back(code);
  }
  return out;
}

group_member member_of(const rd_kafka_MemberDescription_t* m) {
  const char* instance = rd_kafka_MemberDescription_group_instance_id(m);
  const auto* assignment = rd_kafka_MemberDescription_assignment(m);
  return {rd_kafka_MemberDescription_consumer_id(m), rd_kafka_MemberDescription_client_id(m),
          rd_kafka_MemberDescription_host(m),
          instance != nullptr && *instance != '\0' ? std::optional<std::string>(instance)
                                                   : std::nullopt,
          from_list(assignment ? rd_kafka_MemberAssignment_partitions(assignment) : nullptr)};
}

group_description description_of(const rd_kafka_ConsumerGroupDescription_t* g) {
  group_description out;
  out.group_id = rd_kafka_ConsumerGroupDescription_group_id(g);
  out.state = rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(g));
  out.is_simple = rd_kafka_ConsumerGroupDescription_is_simple_consumer_group(g) != 0;
  const char* assignor = rd_kafka_ConsumerGroupDescription_partition_assignor(g);
  out.partition_assignor = assignor ? assignor : "";
  if (const auto* node = rd_kafka_ConsumerGroupDescription_coordinator(g)) {
    out.coordinator = client::broker_info{rd_kafka_Node_id(node), rd_kafka_Node_host(node),
                                          rd_kafka_Node_port(node)};
  }
  for (size_t i = 0; i < rd_kafka_ConsumerGroupDescription_member_count(g); ++i) {
    out.members.push_back(member_of(rd_kafka_ConsumerGroupDescription_member(g, i)));
  }
  return out;
}

// ListOffsets for `partitions` with one special timestamp (-2 earliest,
// -1 latest) or a real one.
base::result<std::vector<int64_t>> list_offsets(rd_kafka_t* rk,
                                                const std::vector<topic_partition>& partitions,
                                                int64_t timestamp,
                                                std::chrono::milliseconds timeout) {
  std::vector<client::timestamp_query> query;
  for (const auto& tp : partitions) query.push_back({tp.topic, tp.partition, timestamp});
  return client::offsets_for_times(rk, query, timeout);
}

}  // namespace

base::result<std::vector<group_listing>> list_groups(rd_kafka_t* rk,
                                                     const std::vector<std::string>& states,
                                                     std::chrono::milliseconds timeout) {
  auto wanted = parse_states(states);
  if (!wanted) return base::unexpected(wanted.error());
  client::error_owner option_error;
  auto e = client::run_admin(
      rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS, RD_KAFKA_EVENT_LISTCONSUMERGROUPS_RESULT, timeout,
      [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* q) {
        if (!wanted->empty()) {
          option_error.reset(rd_kafka_AdminOptions_set_match_consumer_group_states(
              options, wanted->data(), wanted->size()));
        }
        rd_kafka_ListConsumerGroups(rk, options, q);
      });
  if (option_error) return base::fail("--state: " + error_text(option_error.get()));
  if (!e) return base::fail("listing groups: " + e.error().message);
  const auto* result = rd_kafka_event_ListConsumerGroups_result(e->get());

  size_t error_count = 0;
  const rd_kafka_error_t** errors = rd_kafka_ListConsumerGroups_result_errors(result, &error_count);
  // A broker that did not answer would hide its groups: better no list
  // than a short one.
  if (error_count > 0) return base::fail("listing groups: " + error_text(errors[0]));

  size_t count = 0;
  const auto** groups = rd_kafka_ListConsumerGroups_result_valid(result, &count);
  std::vector<group_listing> out;
  for (size_t i = 0; i < count; ++i) {
    out.push_back(
        {rd_kafka_ConsumerGroupListing_group_id(groups[i]),
         rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupListing_state(groups[i])),
         rd_kafka_ConsumerGroupListing_is_simple_consumer_group(groups[i]) != 0});
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.group_id < b.group_id; });
  return out;
}

base::result<std::vector<group_description>> describe_groups(rd_kafka_t* rk,
                                                             const std::vector<std::string>& groups,
                                                             std::chrono::milliseconds timeout) {
  std::vector<const char*> names;
  for (const auto& g : groups) names.push_back(g.c_str());
  auto e = client::run_admin(
      rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS, RD_KAFKA_EVENT_DESCRIBECONSUMERGROUPS_RESULT,
      timeout, [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* q) {
        rd_kafka_DescribeConsumerGroups(rk, names.data(), names.size(), options, q);
      });
  if (!e) return base::fail("describing groups: " + e.error().message);
  size_t count = 0;
  const auto** described = rd_kafka_DescribeConsumerGroups_result_groups(
      rd_kafka_event_DescribeConsumerGroups_result(e->get()), &count);

  std::vector<group_description> out;
  for (size_t i = 0; i < count; ++i) {
    auto ok = group_error(rd_kafka_ConsumerGroupDescription_group_id(described[i]),
                          rd_kafka_ConsumerGroupDescription_error(described[i]));
    if (!ok) return base::unexpected(ok.error());
    out.push_back(description_of(described[i]));
  }
  // librdkafka answers in its own order.
  std::vector<group_description> ordered;
  for (const auto& g : groups) {
    auto found =
        std::find_if(out.begin(), out.end(), [&](const auto& d) { return d.group_id == g; });
    if (found == out.end()) return base::fail("group " + g + ": the cluster answered no result");
    ordered.push_back(*found);
  }
  return ordered;
}

base::result<std::map<topic_partition, int64_t>> committed_offsets(
    rd_kafka_t* rk, const std::string& group, std::chrono::milliseconds timeout) {
  // No partition list: OffsetFetch for every partition the group has.
  list_offsets_owner request(rd_kafka_ListConsumerGroupOffsets_new(group.c_str(), nullptr));
  auto* raw = request.get();
  auto e = client::run_admin(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS,
                             RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT, timeout,
                             [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* q) {
                               rd_kafka_ListConsumerGroupOffsets(rk, &raw, 1, options, q);
                             });
  if (!e) return base::fail("committed offsets of group " + group + ": " + e.error().message);
  size_t count = 0;
  const auto** groups = rd_kafka_ListConsumerGroupOffsets_result_groups(
      rd_kafka_event_ListConsumerGroupOffsets_result(e->get()), &count);
  auto result = only_group(groups, count, group);
  if (!result) return base::unexpected(result.error());

  std::map<topic_partition, int64_t> out;
  const auto* list = rd_kafka_group_result_partitions(*result);
  for (int i = 0; list != nullptr && i < list->cnt; ++i) {
    const auto& p = list->elems[i];
    if (p.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return base::fail("committed offset of group " + group + " on " +
                        to_string({p.topic, p.partition}) + ": " + client::describe(p.err));
    }
    // Kafka answers -1 for a partition without a commit.
    if (p.offset >= 0) out[{p.topic, p.partition}] = p.offset;
  }
  return out;
}

base::result<std::vector<partition_outcome>> alter_offsets(
    rd_kafka_t* rk, const std::string& group, const std::map<topic_partition, int64_t>& offsets,
    std::chrono::milliseconds timeout) {
  client::partition_list list(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
  for (const auto& [tp, offset] : offsets) {
    rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition)->offset = offset;
  }
  alter_offsets_owner request(rd_kafka_AlterConsumerGroupOffsets_new(group.c_str(), list.get()));
  auto* raw = request.get();
  auto e = client::run_admin(rk, RD_KAFKA_ADMIN_OP_ALTERCONSUMERGROUPOFFSETS,
                             RD_KAFKA_EVENT_ALTERCONSUMERGROUPOFFSETS_RESULT, timeout,
                             [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* q) {
                               rd_kafka_AlterConsumerGroupOffsets(rk, &raw, 1, options, q);
                             });
  if (!e) return base::fail("committing offsets of group " + group + ": " + e.error().message);
  size_t count = 0;
  const auto** groups = rd_kafka_AlterConsumerGroupOffsets_result_groups(
      rd_kafka_event_AlterConsumerGroupOffsets_result(e->get()), &count);
  auto result = only_group(groups, count, group);
  if (!result) return base::unexpected(result.error());
  return outcomes(rd_kafka_group_result_partitions(*result));
}

base::result<std::vector<partition_outcome>> delete_offsets(
    rd_kafka_t* rk, const std::string& group, const std::vector<topic_partition>& partitions,
    std::chrono::milliseconds timeout) {
  auto list = to_list(partitions);
  delete_offsets_owner request(rd_kafka_DeleteConsumerGroupOffsets_new(group.c_str(), list.get()));
  auto* raw = request.get();
  auto e = client::run_admin(rk, RD_KAFKA_ADMIN_OP_DELETECONSUMERGROUPOFFSETS,
                             RD_KAFKA_EVENT_DELETECONSUMERGROUPOFFSETS_RESULT, timeout,
                             [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* q) {
                               rd_kafka_DeleteConsumerGroupOffsets(rk, &raw, 1, options, q);
                             });
  if (!e) return base::fail("deleting offsets of group " + group + ": " + e.error().message);
  size_t count = 0;
  const auto** groups = rd_kafka_DeleteConsumerGroupOffsets_result_groups(
      rd_kafka_event_DeleteConsumerGroupOffsets_result(e->get()), &count);
  auto result = only_group(groups, count, group);
  if (!result) return base::unexpected(result.error());
  return outcomes(rd_kafka_group_result_partitions(*result));
}

base::result<std::vector<group_outcome>> delete_groups(rd_kafka_t* rk,
                                                       const std::vector<std::string>& groups,
                                                       std::chrono::milliseconds timeout) {
  std::vector<delete_group_owner> owners;
  std::vector<rd_kafka_DeleteGroup_t*> raw;
  for (const auto& g : groups) {
    owners.emplace_back(rd_kafka_DeleteGroup_new(g.c_str()));
    raw.push_back(owners.back().get());
  }
  auto e = client::run_admin(rk, RD_KAFKA_ADMIN_OP_DELETEGROUPS, RD_KAFKA_EVENT_DELETEGROUPS_RESULT,
                             timeout, [&](rd_kafka_AdminOptions_t* options, rd_kafka_queue_t* q) {
                               rd_kafka_DeleteGroups(rk, raw.data(), raw.size(), options, q);
                             });
  if (!e) return base::fail("deleting groups: " + e.error().message);
  size_t count = 0;
  const auto** results =
      rd_kafka_DeleteGroups_result_groups(rd_kafka_event_DeleteGroups_result(e->get()), &count);
  std::map<std::string, rd_kafka_resp_err_t> answered;
  for (size_t i = 0; i < count; ++i) {
    const auto* error = rd_kafka_group_result_error(results[i]);
    answered[rd_kafka_group_result_name(results[i])] =
        error ? rd_kafka_error_code(error) : RD_KAFKA_RESP_ERR_NO_ERROR;
  }
  std::vector<group_outcome> out;
  for (const auto& g : groups) {
    auto found = answered.find(g);
    if (found == answered.end())
      return base::fail("group " + g + ": the cluster answered no result");
    out.push_back({g, found->second});
  }
  return out;
}

base::result<std::map<std::string, std::vector<int32_t>>> cluster_partitions(
    rd_kafka_t* rk, std::chrono::milliseconds timeout) {
  auto metadata = client::fetch_metadata(rk, std::nullopt, timeout);
  if (!metadata) return base::unexpected(metadata.error());
  std::map<std::string, std::vector<int32_t>> out;
  for (const auto& topic : metadata->topics) {
    if (topic.error != RD_KAFKA_RESP_ERR_NO_ERROR) continue;
    auto& ids = out[topic.name];
    for (const auto& p : topic.partitions) ids.push_back(p.id);
  }
  return out;
}

base::result<std::map<topic_partition, client::watermarks>> log_bounds(
    rd_kafka_t* rk, const std::vector<topic_partition>& partitions,
    const std::map<std::string, std::vector<int32_t>>& cluster, std::chrono::milliseconds timeout) {
  // A partition librdkafka cannot place would make it wait out the timeout.
  std::vector<topic_partition> existing;
  for (const auto& tp : partitions) {
    auto topic = cluster.find(tp.topic);
    if (topic != cluster.end() && std::find(topic->second.begin(), topic->second.end(),
                                            tp.partition) != topic->second.end()) {
      existing.push_back(tp);
    }
  }
  std::map<topic_partition, client::watermarks> out;
  if (existing.empty()) return out;
  auto low = list_offsets(rk, existing, RD_KAFKA_OFFSET_BEGINNING, timeout);
  if (!low) return base::unexpected(low.error());
  auto high = list_offsets(rk, existing, RD_KAFKA_OFFSET_END, timeout);
  if (!high) return base::unexpected(high.error());
  for (size_t i = 0; i < existing.size(); ++i) out[existing[i]] = {(*low)[i], (*high)[i]};
  return out;
}

base::result<std::map<topic_partition, int64_t>> offsets_at_time(
    rd_kafka_t* rk, const std::vector<topic_partition>& partitions, int64_t timestamp_ms,
    std::chrono::milliseconds timeout) {
  auto offsets = list_offsets(rk, partitions, timestamp_ms, timeout);
  if (!offsets) return base::unexpected(offsets.error());
  std::map<topic_partition, int64_t> out;
  for (size_t i = 0; i < partitions.size(); ++i) out[partitions[i]] = (*offsets)[i];
  return out;
}

}  // namespace sluice::cli
