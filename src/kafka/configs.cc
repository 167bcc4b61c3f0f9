// DescribeConfigs, AlterConfigs and IncrementalAlterConfigs, as Kafka 3.9
// answers them, for topics and for this broker.
//
// Broker configs come from server.properties and --set (static), with
// Kafka's dynamic broker configs on top: the BROKER resource "" holds the
// cluster-wide defaults, the resource named by this broker's id its own
// (topic_manager::set_broker_configs; only the keys that give topic defaults
// may change). Describing "" lists the cluster-wide defaults alone, as Kafka
// does; describing the broker's id lists every key with the layer it comes
// from. Broker loggers (Kafka's log4j levels) have no counterpart: describing
// them gives an empty list, altering them is refused.

#include <algorithm>
#include <charconv>
#include <functional>
#include <set>

#include "cluster/topic_config.h"
#include "cluster/topic_name.h"
#include "kafka/handlers.h"
#include "protocol/messages/alter_configs.h"
#include "protocol/messages/describe_configs.h"
#include "protocol/messages/incremental_alter_configs.h"

namespace sluice::kafka {

namespace {

using protocol::error_code;

// Kafka's ConfigResource.Type ids.
constexpr int8_t topic_resource = 2;
constexpr int8_t broker_resource = 4;
constexpr int8_t broker_logger_resource = 8;

// IncrementalAlterConfigs' AlterConfigOp.OpType ids.
constexpr int8_t op_set = 0;
constexpr int8_t op_delete = 1;
constexpr int8_t op_append = 2;
constexpr int8_t op_subtract = 3;

int16_t code(error_code c) { return static_cast<int16_t>(c); }

base::unexpected<admin_error> refuse(error_code c, std::string message) {
  return base::unexpected{admin_error{c, std::move(message)}};
}

// Broker resources are named by the broker's id in decimal.
admin_result<void> check_broker_id(const std::string& name, int32_t node_id, bool allow_empty) {
  if (name.empty()) {
    if (allow_empty) return {};
    return refuse(error_code::invalid_request, "Broker id must not be empty");
  }
  int32_t id = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), id);
  if (ec != std::errc() || end != name.data() + name.size()) {
    return refuse(error_code::invalid_request, "Broker id must be an integer, but it is: " + name);
  }
  if (id != node_id) {
    return refuse(
        error_code::invalid_request,
        "Unexpected broker id, expected " + std::to_string(node_id) + ", but received " + name);
  }
  return {};
}

// The dynamic config scope a valid BROKER resource name stands for: "" or
// the node id as the metadata store spells it ("01" names node 1 too).
std::string broker_scope(const std::string& name, int32_t node_id) {
  return name.empty() ? std::string() : std::to_string(node_id);
}

// --- DescribeConfigs ---

using describe_result = protocol::describe_configs_response::describe_configs_result;
using described_config = protocol::describe_configs_response::describe_configs_resource_result;

struct describe_options {
  bool synonyms = false;       // v1+
  bool documentation = false;  // v3+
};

described_config to_wire(cluster::config_description d, const describe_options& options) {
  described_config out;
  out.name = std::move(d.name);
  out.value = std::move(d.value);
  out.read_only = d.read_only;
  out.is_default = d.source == cluster::config_source::default_value;  // v0's view of the source
  out.config_source = static_cast<int8_t>(d.source);
  out.is_sensitive = d.sensitive;
  out.config_type = static_cast<int8_t>(d.type);
  out.documentation =
      options.documentation ? std::optional(std::move(d.documentation)) : std::nullopt;
  if (options.synonyms) {
    for (auto& synonym : d.synonyms) {
      auto& s = out.synonyms.emplace_back();
      s.name = std::move(synonym.name);
      s.value = std::move(synonym.value);
      s.source = static_cast<int8_t>(synonym.source);
    }
  }
  return out;
}

// The descriptions of one resource, before the key filter. `broker` is the
// config in force (dynamic layers included); the node id is static.
admin_result<std::vector<cluster::config_description>> describe_resource(
    const metadata_image& image, const cluster::broker_config& broker, int8_t type,
    const std::string& name) {
  switch (type) {
    case topic_resource: {
      if (auto invalid = cluster::check_topic_name(name)) {
        return refuse(error_code::invalid_topic_exception, *invalid);
      }
      const topic_info* topic = image.find(name);
      if (topic == nullptr) {
        return refuse(error_code::unknown_topic_or_partition,
                      std::string(protocol::error_message(error_code::unknown_topic_or_partition)));
      }
      return cluster::describe_topic_config(topic->configs, broker);
    }
    case broker_resource: {
      if (auto checked = check_broker_id(name, broker.node_id, true); !checked) {
        return base::unexpected{checked.error()};
      }
      // "" asks for the dynamic cluster-wide defaults alone.
      if (name.empty()) return cluster::describe_dynamic_broker_defaults(broker);
      return cluster::describe_broker_config(broker);
    }
    case broker_logger_resource: {
      if (auto checked = check_broker_id(name, broker.node_id, false); !checked) {
        return base::unexpected{checked.error()};
      }
      return std::vector<cluster::config_description>{};
    }
    default:
      return refuse(error_code::invalid_request,
                    "Unsupported resource type: " + std::to_string(type));
  }
}

// --- AlterConfigs and IncrementalAlterConfigs ---

// Why a resource other than a topic or the broker cannot be altered.
admin_error not_alterable(int8_t type) {
  switch (type) {
    case broker_logger_resource:
      return {error_code::invalid_request, "changing log levels at runtime is not supported"};
    default:
      return {error_code::invalid_request, "Unsupported resource type: " + std::to_string(type)};
  }
}

template <typename Configs>
bool has_duplicate_keys(const Configs& configs) {
  std::set<std::string_view> seen;
  for (const auto& config : configs) {
    if (!seen.insert(config.name).second) return true;
  }
  return false;
}

// A list value ("compact,delete") as its items, spaces trimmed as Kafka's
// list parser does.
std::vector<std::string> split_list(std::string_view value) {
  std::vector<std::string> items;
  while (!value.empty()) {
    size_t comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) items.emplace_back(item);
  }
  return items;
}

std::string join_list(const std::vector<std::string>& items) {
  std::string joined;
  for (const auto& item : items) {
    if (!joined.empty()) joined += ',';
    joined += item;
  }
  return joined;
}

using alter_operations = std::vector<protocol::incremental_alter_configs_request::alterable_config>;

// A resource's configs (the keys set on the topic, or one scope's dynamic
// broker configs) after `operations`, applied in order. APPEND and SUBTRACT
// start from the value the resource has now: its own, else the one it
// inherits, as `inherited` describes the resource without keys of its own
// (Kafka starts from the key's default, which is the same unless a broker
// layer changed it). `check_key` refuses a key before anything else.
admin_result<base::properties> apply_operations(
    base::properties next, const alter_operations& operations,
    const std::vector<cluster::config_description>& inherited,
    const std::function<std::optional<admin_error>(const std::string&)>& check_key) {
  for (const auto& op : operations) {
    if (auto refused = check_key(op.name)) return base::unexpected{*refused};
    if (op.config_operation != op_delete && !op.value) {
      return refuse(error_code::invalid_request, "Null value not supported for : " + op.name);
    }
    switch (op.config_operation) {
      case op_set:
        next[op.name] = *op.value;
        break;
      case op_delete:
        next.erase(op.name);
        break;
      case op_append:
      case op_subtract: {
        const bool append = op.config_operation == op_append;
        auto description =
            std::find_if(inherited.begin(), inherited.end(),
                         [&op](const cluster::config_description& d) { return d.name == op.name; });
        if (description == inherited.end() || description->type != cluster::config_type::list) {
          return refuse(error_code::invalid_request,
                        std::string("Config value ") + (append ? "append" : "subtract") +
                            " is not allowed for config key: " + op.name);
        }
        auto set = next.find(op.name);
        auto items = split_list(set != next.end() ? set->second
                                                  : description->value.value_or(std::string()));
        for (auto& item : split_list(*op.value)) {
          auto found = std::find(items.begin(), items.end(), item);
          if (append && found == items.end()) items.push_back(std::move(item));
          if (!append) items.erase(std::remove(items.begin(), items.end(), item), items.end());
        }
        next[op.name] = join_list(items);
        break;
      }
      default:
        return refuse(error_code::invalid_request,
                      "Unknown config operation: " + std::to_string(op.config_operation));
    }
  }
  return next;
}

// IncrementalAlterConfigs on a BROKER resource: the scope's dynamic configs
// after the operations, checked and stored by the topic manager.
boost::asio::awaitable<admin_result<void>> alter_broker_incrementally(
    request_context& ctx,
    const protocol::incremental_alter_configs_request::alter_configs_resource& resource,
    bool validate_only) {
  if (auto checked = check_broker_id(resource.resource_name, ctx.broker.config.node_id, true);
      !checked) {
    co_return checked;
  }
  const std::string scope = broker_scope(resource.resource_name, ctx.broker.config.node_id);
  if (has_duplicate_keys(resource.configs)) {
    co_return refuse(error_code::invalid_request, "Error due to duplicate config keys");
  }
  // The scope's own set now, and what it inherits: the cluster defaults
  // inherit the static config, this broker inherits the cluster defaults too.
  auto effective = ctx.broker.topics.effective_broker_config();
  const bool cluster_default = scope.empty();
  base::properties current =
      cluster_default ? effective->dynamic_default_values : effective->dynamic_broker_values;
  auto below = cluster::with_dynamic_configs(
      ctx.broker.config, cluster_default ? base::properties{} : effective->dynamic_default_values,
      {});
  auto configs = apply_operations(std::move(current), resource.configs,
                                  cluster::describe_broker_config(below.config),
                                  [](const std::string&) { return std::optional<admin_error>(); });
  if (!configs) co_return base::unexpected{configs.error()};
  co_return co_await ctx.broker.shards.offload(
      [&] { return ctx.broker.topics.set_broker_configs(scope, *configs, validate_only); });
}

}  // namespace

boost::asio::awaitable<handler_result> handle_describe_configs(request_context& ctx) {
  auto decoded = decode_request<protocol::describe_configs_request>(ctx);
  if (auto* closed = std::get_if<close_connection>(&decoded)) co_return *closed;
  auto& request = std::get<protocol::describe_configs_request>(decoded);

  const describe_options options{request.include_synonyms, request.include_documentation};
  auto image = ctx.broker.topics.image();
  auto broker = ctx.broker.topics.effective_broker_config();
  protocol::describe_configs_response response;
  for (const auto& resource : request.resources) {
    auto& result = response.results.emplace_back();
    result.resource_type = resource.resource_type;
    result.resource_name = resource.resource_name;
    auto described =
        describe_resource(*image, *broker, resource.resource_type, resource.resource_name);
    if (!described) {
      result.error_code = code(described.error().code);
      result.error_message = described.error().message;
      continue;
    }
    result.error_message = std::nullopt;
    // Clients ask for everything with null; an empty list means the same.
    const auto& keys = resource.configuration_keys;
    const bool all = !keys || keys->empty();
    for (auto& description : *described) {
      if (all || std::find(keys->begin(), keys->end(), description.name) != keys->end()) {
        result.configs.push_back(to_wire(std::move(description), options));
      }
    }
  }
  co_return encode_response(ctx, response);
}

boost::asio::awaitable<handler_result> handle_alter_configs(request_context& ctx) {
  auto decoded = decode_request<protocol::alter_configs_request>(ctx);
  if (auto* closed = std::get_if<close_connection>(&decoded)) co_return *closed;
  auto& request = std::get<protocol::alter_configs_request>(decoded);

  protocol::alter_configs_response response;
  for (const auto& resource : request.resources) {
    auto& result = response.responses.emplace_back();
    result.resource_type = resource.resource_type;
    result.resource_name = resource.resource_name;
    auto fail = [&result](const admin_error& error) {
      result.error_code = code(error.code);
      result.error_message = error.message;
    };
    const bool is_broker = resource.resource_type == broker_resource;
    if (resource.resource_type != topic_resource && !is_broker) {
      fail(not_alterable(resource.resource_type));
      continue;
    }
    if (is_broker) {
      auto checked = check_broker_id(resource.resource_name, ctx.broker.config.node_id, true);
      if (!checked) {
        fail(checked.error());
        continue;
      }
    }
    if (has_duplicate_keys(resource.configs)) {
      fail({error_code::invalid_request, "Error due to duplicate config keys"});
      continue;
    }
    // The request is the resource's whole new set: keys it leaves out go
    // back to what the topic (or broker scope) inherits.
    base::properties configs;
    std::optional<admin_error> invalid;
    for (const auto& config : resource.configs) {
      if (!config.value) {
        invalid = admin_error{error_code::invalid_request,
                              "Null value not supported for : " + config.name};
        break;
      }
      configs[config.name] = *config.value;
    }
    if (invalid) {
      fail(*invalid);
      continue;
    }
    auto altered = co_await ctx.broker.shards.offload([&] {
      return is_broker ? ctx.broker.topics.set_broker_configs(
                             broker_scope(resource.resource_name, ctx.broker.config.node_id),
                             configs, request.validate_only)
                       : ctx.broker.topics.set_topic_configs(resource.resource_name, configs,
                                                             request.validate_only);
    });
    if (!altered) {
      fail(altered.error());
      continue;
    }
    result.error_message = std::nullopt;
  }
  co_return encode_response(ctx, response);
}

boost::asio::awaitable<handler_result> handle_incremental_alter_configs(request_context& ctx) {
  auto decoded = decode_request<protocol::incremental_alter_configs_request>(ctx);
  if (auto* closed = std::get_if<close_connection>(&decoded)) co_return *closed;
  auto& request = std::get<protocol::incremental_alter_configs_request>(decoded);

  protocol::incremental_alter_configs_response response;
  for (const auto& resource : request.resources) {
    auto& result = response.responses.emplace_back();
    result.resource_type = resource.resource_type;
    result.resource_name = resource.resource_name;
    auto fail = [&result](const admin_error& error) {
      result.error_code = code(error.code);
      result.error_message = error.message;
    };
    if (resource.resource_type == broker_resource) {
      auto altered = co_await alter_broker_incrementally(ctx, resource, request.validate_only);
      if (!altered) {
        fail(altered.error());
        continue;
      }
      result.error_message = std::nullopt;
      continue;
    }
    if (resource.resource_type != topic_resource) {
      fail(not_alterable(resource.resource_type));
      continue;
    }
    if (has_duplicate_keys(resource.configs)) {
      fail({error_code::invalid_request, "Error due to duplicate config keys"});
      continue;
    }
    // Read the image afresh for each resource: an earlier one may have
    // changed the same topic. (A change racing in from another connection
    // between this read and the write is lost, as the last writer wins.)
    auto image = ctx.broker.topics.image();
    const topic_info* topic = image->find(resource.resource_name);
    if (topic == nullptr) {
      fail({error_code::unknown_topic_or_partition,
            std::string(protocol::error_message(error_code::unknown_topic_or_partition))});
      continue;
    }
    auto configs = apply_operations(
        topic->configs, resource.configs,
        cluster::describe_topic_config({}, *ctx.broker.topics.effective_broker_config()),
        [](const std::string& key) -> std::optional<admin_error> {
          if (cluster::is_topic_config_key(key)) return std::nullopt;
          return admin_error{error_code::invalid_config, "Unknown topic config name: " + key};
        });
    if (!configs) {
      fail(configs.error());
      continue;
    }
    auto altered = co_await ctx.broker.shards.offload([&] {
      return ctx.broker.topics.set_topic_configs(resource.resource_name, *configs,
                                                 request.validate_only);
    });
    if (!altered) {
      fail(altered.error());
      continue;
    }
    result.error_message = std::nullopt;
  }
  co_return encode_response(ctx, response);
}

}  // namespace sluice::kafka
