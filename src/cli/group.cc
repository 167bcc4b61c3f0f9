// `sluice group`: consumer groups, as kafka-consumer-groups.sh and rpk group
// show and change them. The librdkafka calls are in group_admin; lag and
// reset planning are the pure group_lag and offset_reset.
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cli/admin.h"
#include "cli/command_families.h"
#include "cli/group_admin.h"
#include "cli/group_lag.h"
#include "cli/offset_reset.h"
#include "cli/topic_partitions.h"

namespace sluice::cli {
namespace {

template <typename T>
document or_null(const std::optional<T>& value) {
  return value ? document(*value) : document(nullptr);
}

// What went wrong with one group (and partition) in words a user can act on.
std::string outcome_message(const std::string& group, const topic_partition* tp,
                            rd_kafka_resp_err_t error) {
  switch (error) {
    case RD_KAFKA_RESP_ERR_NON_EMPTY_GROUP:
      return "group " + group + " still has members: stop its consumers first";
    case RD_KAFKA_RESP_ERR_GROUP_ID_NOT_FOUND:
      return "group " + group + " does not exist";
    case RD_KAFKA_RESP_ERR_GROUP_SUBSCRIBED_TO_TOPIC:
      return "group " + group + " is subscribed to " + (tp ? tp->topic : "the topic") +
             ": stop its consumers first";
    case RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID:
    case RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION:
    case RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS:
      return "group " + group + " has active members: stop them first";
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
      return (tp ? to_string(*tp) : std::string("the partition")) + " does not exist";
    default:
      return "group " + group + (tp ? " on " + to_string(*tp) : std::string()) + ": " +
             client::describe(error);
  }
}

// The command's error after it printed per-item outcomes: the first failure,
// and how many more there were.
base::result<void> summarize(const std::vector<std::string>& failures) {
  if (failures.empty()) return {};
  std::string message = failures.front();
  if (failures.size() > 1) message += " (and " + std::to_string(failures.size() - 1) + " more)";
  return base::fail(message);
}

// ["orders:0,1", "audit:2"] from a sorted assignment.
document assignment_text(const std::vector<topic_partition>& assignment) {
  document out = document::array();
  std::string current_topic;
  std::string text;
  for (const auto& tp : assignment) {
    if (tp.topic != current_topic) {
      if (!text.empty()) out.push_back(text);
      current_topic = tp.topic;
      text = tp.topic + ":" + std::to_string(tp.partition);
    } else {
      text += "," + std::to_string(tp.partition);
    }
  }
  if (!text.empty()) out.push_back(text);
  return out;
}

// --- list

void add_list(CLI::App& group, invocation& inv) {
  auto* list = group.add_subcommand("list", "List the consumer groups");
  auto states = std::make_shared<std::vector<std::string>>();
  list->add_option("--state", *states,
                   "Only groups in this state: Stable, Empty, PreparingRebalance, "
                   "CompletingRebalance (repeatable)");
  list->footer(
      "Examples:\n"
      "  sluice group list\n"
      "  sluice group list --state Empty --format json");
  on_run(list, inv, [&inv, states]() -> base::result<void> {
    auto rk = connect_admin(inv);
    if (!rk) return base::unexpected(rk.error());
    auto groups = list_groups(rk->get(), *states, inv.timeout());
    if (!groups) return base::unexpected(groups.error());
    document rows = document::array();
    for (const auto& g : *groups) {
      rows.push_back({{"group", g.group_id}, {"state", g.state}, {"is_simple", g.is_simple}});
    }
    print({{"groups", rows}}, inv.format());
    return {};
  });
}

// --- describe

document members_document(const group_description& description) {
  document rows = document::array();
  for (const auto& m : description.members) {
    document row = {{"member_id", m.member_id}, {"client_id", m.client_id}, {"host", m.host}};
    // Only static members (KIP-345) have one; most groups never do.
    if (m.group_instance_id) row["group_instance_id"] = *m.group_instance_id;
    row["assignments"] = assignment_text(m.assignment);
    rows.push_back(std::move(row));
  }
  return rows;
}

std::map<topic_partition, std::string> owners_of(const group_description& description) {
  std::map<topic_partition, std::string> out;
  for (const auto& m : description.members) {
    for (const auto& tp : m.assignment) out[tp] = m.member_id;
  }
  return out;
}

document offsets_document(const group_lag& lag, const group_description& description) {
  std::map<std::string, std::string> client_of;
  for (const auto& m : description.members) client_of[m.member_id] = m.client_id;
  document rows = document::array();
  for (const auto& p : lag.partitions) {
    rows.push_back({{"topic", p.tp.topic},
                    {"partition", p.tp.partition},
                    {"committed_offset", or_null(p.committed)},
                    {"log_end_offset", or_null(p.log_end)},
                    {"lag", or_null(p.lag)},
                    {"member_id", or_null(p.member_id)},
                    {"client_id", p.member_id ? document(client_of[*p.member_id]) : nullptr}});
  }
  return rows;
}

base::result<document> describe_document(rd_kafka_t* rk, const group_description& description,
                                         const std::map<std::string, std::vector<int32_t>>& cluster,
                                         std::chrono::milliseconds timeout) {
  const std::string& id = description.group_id;
  auto committed = committed_offsets(rk, id, timeout);
  if (!committed) return base::unexpected(committed.error());
  // Kafka describes a group it does not know as Dead rather than failing.
  if (description.state == "Dead" && committed->empty()) {
    return base::fail("group " + id + " does not exist: `sluice group list` shows the groups");
  }
  auto owners = owners_of(description);
  std::set<topic_partition> partitions;
  for (const auto& [tp, offset] : *committed) partitions.insert(tp);
  for (const auto& [tp, member] : owners) partitions.insert(tp);
  auto bounds = log_bounds(rk, {partitions.begin(), partitions.end()}, cluster, timeout);
  if (!bounds) return base::unexpected(bounds.error());
  std::map<topic_partition, int64_t> log_ends;
  for (const auto& [tp, w] : *bounds) log_ends[tp] = w.high;
  auto lag = compute_lag(*committed, owners, log_ends);

  const auto& coordinator = description.coordinator;
  return document{{"group", id},
                  {"state", description.state},
                  {"partition_assignor", description.partition_assignor.empty()
                                             ? document(nullptr)
                                             : document(description.partition_assignor)},
                  {"is_simple", description.is_simple},
                  {"coordinator_id", coordinator ? document(coordinator->id) : nullptr},
                  {"coordinator_address", coordinator ? document(coordinator->host + ":" +
                                                                 std::to_string(coordinator->port))
                                                      : nullptr},
                  {"total_lag", lag.total_lag},
                  {"partitions_without_commit", lag.without_commit},
                  {"members", members_document(description)},
                  {"offsets", offsets_document(lag, description)}};
}

// One document {"groups": [...]} in JSON. In tables each group prints on
// its own: a group without members and offsets has only empty lists, and
// an array of such objects would render as one table.
void print_groups(const document& groups, output_format format) {
  if (format == output_format::json) {
    print({{"groups", groups}}, format);
    return;
  }
  for (size_t i = 0; i < groups.size(); ++i) {
    if (i > 0) std::fputs("\n", stdout);
    print(groups[i], format);
  }
}

void add_describe(CLI::App& group, invocation& inv) {
  auto* describe = group.add_subcommand(
      "describe", "Show groups' state, members, committed offsets and lag per partition");
  auto groups = std::make_shared<std::vector<std::string>>();
  describe->add_option("group", *groups, "Group ids")->required();
  describe->footer(
      "LAG is LOG-END-OFFSET - COMMITTED-OFFSET; '-' where the group has not committed.\n"
      "\n"
      "Examples:\n"
      "  sluice group describe billing\n"
      "  sluice group describe billing audit --format json | jq '.groups[].total_lag'");
  on_run(describe, inv, [&inv, groups]() -> base::result<void> {
    auto rk = connect_admin(inv);
    if (!rk) return base::unexpected(rk.error());
    auto descriptions = describe_groups(rk->get(), *groups, inv.timeout());
    if (!descriptions) return base::unexpected(descriptions.error());
    auto cluster = cluster_partitions(rk->get(), inv.timeout());
    if (!cluster) return base::unexpected(cluster.error());
    document out = document::array();
    for (const auto& description : *descriptions) {
      auto doc = describe_document(rk->get(), description, *cluster, inv.timeout());
      if (!doc) return base::unexpected(doc.error());
      out.push_back(std::move(*doc));
    }
    print_groups(out, inv.format());
    return {};
  });
}

// --- reset-offsets

struct reset_args {
  std::string group;
  std::vector<std::string> topics;
  bool all_topics = false;
  bool execute = false;
  std::vector<reset_spec> modes;  // one per mode flag given; exactly one is valid
  std::string datetime;
};

base::result<reset_spec> chosen_mode(const reset_args& args) {
  if (args.modes.size() != 1) {
    return base::fail(std::string(args.modes.empty() ? "choose" : "choose only") +
                      " one of --to-earliest, --to-latest, --to-offset, --to-datetime, "
                      "--shift-by, --to-current");
  }
  reset_spec spec = args.modes.front();
  if (spec.mode == reset_mode::datetime) {
    auto ms = parse_datetime(args.datetime);
    if (!ms) return base::fail("--to-datetime " + ms.error().message);
    spec.value = *ms;
  }
  return spec;
}

// Committing offsets under running consumers would race their own commits
// (and the broker refuses it), so only an idle group is reset.
base::result<void> check_idle(const group_description& description) {
  const auto& g = description;
  if (!g.members.empty()) {
    size_t n = g.members.size();
    return base::fail("group " + g.group_id + " has " + std::to_string(n) +
                      (n == 1 ? " active member" : " active members") +
                      ": stop them before resetting offsets");
  }
  if (g.state != "Empty" && g.state != "Dead") {
    return base::fail("group " + g.group_id + " is " + g.state +
                      ": wait until it is Empty before resetting offsets");
  }
  return {};
}

base::result<std::vector<topic_partition>> reset_partitions(
    const reset_args& args, const std::map<topic_partition, int64_t>& committed,
    const std::map<std::string, std::vector<int32_t>>& cluster) {
  if (args.all_topics) {
    if (committed.empty()) {
      return base::fail("group " + args.group +
                        " has no committed offsets: name the partitions with --topic");
    }
    std::vector<topic_partition> out;
    for (const auto& [tp, offset] : committed) out.push_back(tp);
    return out;
  }
  if (args.topics.empty()) return base::fail("name the partitions with --topic or --all-topics");
  auto selectors = parse_partition_selectors(args.topics, "--topic");
  if (!selectors) return base::unexpected(selectors.error());
  return expand_selectors(*selectors, cluster, "in the cluster");
}

base::result<std::vector<planned_offset>> plan_all(
    rd_kafka_t* rk, const std::vector<topic_partition>& partitions, const reset_spec& spec,
    const std::map<topic_partition, int64_t>& committed,
    const std::map<std::string, std::vector<int32_t>>& cluster, std::chrono::milliseconds timeout) {
  auto bounds = log_bounds(rk, partitions, cluster, timeout);
  if (!bounds) return base::unexpected(bounds.error());
  std::map<topic_partition, int64_t> by_time;
  if (spec.mode == reset_mode::datetime) {
    auto answer = offsets_at_time(rk, partitions, spec.value, timeout);
    if (!answer) return base::unexpected(answer.error());
    by_time = std::move(*answer);
  }
  std::vector<planned_offset> plans;
  for (const auto& tp : partitions) {
    auto w = bounds->find(tp);
    if (w == bounds->end()) {
      return base::fail(to_string(tp) +
                        " has a committed offset but no longer exists: drop it with "
                        "`sluice group delete-offsets` or leave it out with --topic");
    }
    reset_input input{tp, std::nullopt, w->second.low, w->second.high, std::nullopt};
    if (auto c = committed.find(tp); c != committed.end()) input.current = c->second;
    if (auto t = by_time.find(tp); t != by_time.end()) input.by_time = t->second;
    auto plan = plan_reset(input, spec);
    if (!plan) return base::unexpected(plan.error());
    plans.push_back(std::move(*plan));
  }
  return plans;
}

document plan_row(const planned_offset& plan) {
  return {{"topic", plan.tp.topic},
          {"partition", plan.tp.partition},
          {"current_offset", or_null(plan.current)},
          {"new_offset", plan.target},
          {"note", or_null(plan.note)}};
}

// Commits the plan; fills each row's "error" and returns the failures.
base::result<std::vector<std::string>> execute_plan(rd_kafka_t* rk, const std::string& group,
                                                    const std::vector<planned_offset>& plans,
                                                    document& rows,
                                                    std::chrono::milliseconds timeout) {
  std::map<topic_partition, int64_t> offsets;
  for (const auto& plan : plans) offsets[plan.tp] = plan.target;
  auto outcomes = alter_offsets(rk, group, offsets, timeout);
  if (!outcomes) return base::unexpected(outcomes.error());
  std::map<topic_partition, rd_kafka_resp_err_t> errors;
  for (const auto& o : *outcomes) errors[o.tp] = o.error;
  std::vector<std::string> failures;
  for (size_t i = 0; i < plans.size(); ++i) {
    std::optional<std::string> failure;
    auto found = errors.find(plans[i].tp);
    if (found == errors.end()) {
      failure = to_string(plans[i].tp) + ": the cluster did not answer for it";
    } else if (found->second != RD_KAFKA_RESP_ERR_NO_ERROR) {
      failure = outcome_message(group, &plans[i].tp, found->second);
    }
    rows[i]["error"] = or_null(failure);
    if (failure) failures.push_back(*failure);
  }
  return failures;
}

base::result<void> run_reset(const invocation& inv, const reset_args& args) {
  auto spec = chosen_mode(args);
  if (!spec) return base::unexpected(spec.error());
  auto rk = connect_admin(inv);
  if (!rk) return base::unexpected(rk.error());
  auto timeout = inv.timeout();
  if (args.execute) {
    auto description = describe_groups(rk->get(), {args.group}, timeout);
    if (!description) return base::unexpected(description.error());
    auto idle = check_idle(description->front());
    if (!idle) return idle;
  }
  auto committed = committed_offsets(rk->get(), args.group, timeout);
  if (!committed) return base::unexpected(committed.error());
  auto cluster = cluster_partitions(rk->get(), timeout);
  if (!cluster) return base::unexpected(cluster.error());
  auto partitions = reset_partitions(args, *committed, *cluster);
  if (!partitions) return base::unexpected(partitions.error());
  auto plans = plan_all(rk->get(), *partitions, *spec, *committed, *cluster, timeout);
  if (!plans) return base::unexpected(plans.error());

  document rows = document::array();
  for (const auto& plan : *plans) rows.push_back(plan_row(plan));
  std::vector<std::string> failures;
  if (args.execute) {
    auto executed = execute_plan(rk->get(), args.group, *plans, rows, timeout);
    if (!executed) return base::unexpected(executed.error());
    failures = std::move(*executed);
  }
  print({{"group", args.group}, {"executed", args.execute}, {"partitions", rows}}, inv.format());
  return summarize(failures);
}

void add_reset_offsets(CLI::App& group, invocation& inv) {
  auto* reset = group.add_subcommand(
      "reset-offsets",
      "Plan (or with --execute, commit) new offsets for an idle group: a dry run by default");
  auto args = std::make_shared<reset_args>();
  reset->add_option("group", args->group, "Group id")->required();
  auto* topic = reset->add_option("--topic", args->topics,
                                  "TOPIC or TOPIC:P,P... (repeatable): the partitions to reset");
  reset
      ->add_flag("--all-topics", args->all_topics,
                 "Every partition the group has committed offsets for")
      ->excludes(topic);
  reset->add_flag_callback(
      "--to-earliest",
      [args] {
        args->modes.push_back({reset_mode::earliest, 0});
      },
      "To the log start offset");
  reset->add_flag_callback(
      "--to-latest",
      [args] {
        args->modes.push_back({reset_mode::latest, 0});
      },
      "To the log end offset (skip everything there is now)");
  reset->add_option_function<int64_t>(
      "--to-offset",
      [args](const int64_t& n) {
        args->modes.push_back({reset_mode::offset, n});
      },
      "To offset N (clamped to the log start/end)");
  reset->add_option_function<std::string>(
      "--to-datetime",
      [args](const std::string& text) {
        args->datetime = text;
        args->modes.push_back({reset_mode::datetime, 0});
      },
      "To the first offset at or after a time: ms since the epoch or ISO 8601 with a "
      "zone (2024-05-01T12:00:00Z, ...+02:00) or a date (midnight UTC)");
  reset->add_option_function<int64_t>(
      "--shift-by",
      [args](const int64_t& n) {
        args->modes.push_back({reset_mode::shift, n});
      },
      "Move the committed offset by N (negative: back), clamped to the log start/end");
  reset->add_flag_callback(
      "--to-current",
      [args] {
        args->modes.push_back({reset_mode::current, 0});
      },
      "To the committed offset (the log end where there is none)");
  reset->add_flag("--execute", args->execute, "Commit the new offsets (default: only show them)");
  reset->footer(
      "The group must have no active members for --execute. Targets outside the log move to\n"
      "its start or end, as NOTE says.\n"
      "\n"
      "Examples:\n"
      "  sluice group reset-offsets billing --topic orders --to-earliest\n"
      "  sluice group reset-offsets billing --topic orders:0,1 --shift-by -100 --execute\n"
      "  sluice group reset-offsets billing --all-topics --to-datetime 2024-05-01T12:00:00Z "
      "--execute");
  on_run(reset, inv, [&inv, args]() { return run_reset(inv, *args); });
}

// --- delete

void add_delete(CLI::App& group, invocation& inv) {
  auto* del = group.add_subcommand("delete", "Delete idle groups and their committed offsets");
  auto groups = std::make_shared<std::vector<std::string>>();
  del->add_option("group", *groups, "Group ids")->required();
  del->footer(
      "A group with members is refused: stop its consumers first.\n"
      "\n"
      "Examples:\n"
      "  sluice group delete billing\n"
      "  sluice group delete old-a old-b --format json");
  on_run(del, inv, [&inv, groups]() -> base::result<void> {
    auto rk = connect_admin(inv);
    if (!rk) return base::unexpected(rk.error());
    auto outcomes = delete_groups(rk->get(), *groups, inv.timeout());
    if (!outcomes) return base::unexpected(outcomes.error());
    document rows = document::array();
    std::vector<std::string> failures;
    for (const auto& o : *outcomes) {
      bool ok = o.error == RD_KAFKA_RESP_ERR_NO_ERROR;
      if (!ok) failures.push_back(outcome_message(o.group_id, nullptr, o.error));
      rows.push_back({{"group", o.group_id},
                      {"deleted", ok},
                      {"error", ok ? document(nullptr) : document(failures.back())}});
    }
    print({{"groups", rows}}, inv.format());
    return summarize(failures);
  });
}

// --- delete-offsets

std::map<std::string, std::vector<int32_t>> by_topic(
    const std::map<topic_partition, int64_t>& committed) {
  std::map<std::string, std::vector<int32_t>> out;
  for (const auto& [tp, offset] : committed) out[tp.topic].push_back(tp.partition);
  return out;
}

base::result<void> run_delete_offsets(const invocation& inv, const std::string& group,
                                      const std::vector<std::string>& topics) {
  auto selectors = parse_partition_selectors(topics, "--topic");
  if (!selectors) return base::unexpected(selectors.error());
  auto rk = connect_admin(inv);
  if (!rk) return base::unexpected(rk.error());
  auto committed = committed_offsets(rk->get(), group, inv.timeout());
  if (!committed) return base::unexpected(committed.error());
  auto partitions =
      expand_selectors(*selectors, by_topic(*committed), "among group " + group + "'s offsets");
  if (!partitions) return base::unexpected(partitions.error());
  auto outcomes = delete_offsets(rk->get(), group, *partitions, inv.timeout());
  if (!outcomes) return base::unexpected(outcomes.error());

  document rows = document::array();
  std::vector<std::string> failures;
  for (const auto& o : *outcomes) {
    bool ok = o.error == RD_KAFKA_RESP_ERR_NO_ERROR;
    if (!ok) failures.push_back(outcome_message(group, &o.tp, o.error));
    rows.push_back({{"topic", o.tp.topic},
                    {"partition", o.tp.partition},
                    {"deleted", ok},
                    {"error", ok ? document(nullptr) : document(failures.back())}});
  }
  print({{"group", group}, {"partitions", rows}}, inv.format());
  return summarize(failures);
}

void add_delete_offsets(CLI::App& group, invocation& inv) {
  auto* del = group.add_subcommand("delete-offsets",
                                   "Delete a group's committed offsets of some partitions");
  auto id = std::make_shared<std::string>();
  auto topics = std::make_shared<std::vector<std::string>>();
  del->add_option("group", *id, "Group id")->required();
  del->add_option("--topic", *topics,
                  "TOPIC (every partition the group has an offset for) or TOPIC:P,P... "
                  "(repeatable)")
      ->required();
  del->footer(
      "Refused for topics the group's running consumers subscribe to.\n"
      "\n"
      "Examples:\n"
      "  sluice group delete-offsets billing --topic orders\n"
      "  sluice group delete-offsets billing --topic orders:0,1 --topic audit");
  on_run(del, inv, [&inv, id, topics]() { return run_delete_offsets(inv, *id, *topics); });
}

}  // namespace

void add_group_commands(CLI::App& root, invocation& inv) {
  auto* group =
      root.add_subcommand("group", "Consumer groups: list, describe, reset offsets, delete");
  group->require_subcommand(1);
  group->footer(
      "Examples:\n"
      "  sluice group list\n"
      "  sluice group describe billing\n"
      "  sluice group reset-offsets billing --all-topics --to-latest --execute");
  add_list(*group, inv);
  add_describe(*group, inv);
  add_reset_offsets(*group, inv);
  add_delete(*group, inv);
  add_delete_offsets(*group, inv);
}

}  // namespace sluice::cli
