#include "cli/commands.h"

#include <CLI/CLI.hpp>

#include "cli/command_families.h"
#include "cli/completion.h"
#include "cli/profiles.h"

namespace sluice::cli {

base::result<std::vector<std::pair<std::string, std::string>>> parse_key_values(
    const std::vector<std::string>& entries, const std::string& flag) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& entry : entries) {
    size_t eq = entry.find('=');
    if (eq == std::string::npos || eq == 0) {
      return base::fail(flag + " " + entry + ": expected key=value");
    }
    out.emplace_back(entry.substr(0, eq), entry.substr(eq + 1));
  }
  return out;
}

void add_profile_commands(CLI::App& root, invocation& inv) {
  auto* profile = root.add_subcommand("profile", "Named connection profiles (--profile NAME)");
  profile->require_subcommand(1);
  profile->footer(
      "The profiles file is $SLUICE_PROFILES, else $XDG_CONFIG_HOME/sluice/profiles, else\n"
      "~/.config/sluice/profiles:\n"
      "  default = local\n"
      "  [local]\n"
      "  brokers = 127.0.0.1:9092\n"
      "  [prod]\n"
      "  brokers = k1:9092,k2:9092\n"
      "  client.id = ops   # other keys are librdkafka properties");

  auto* list = profile->add_subcommand("list", "List the profiles and the default one");
  on_run(list, inv, [&inv]() -> base::result<void> {
    auto file = load_profiles(inv.env);
    if (!file) return base::unexpected(file.error());
    document rows = document::array();
    for (const auto& p : file->profiles) {
      rows.push_back({{"name", p.name},
                      {"default", file->default_profile == p.name},
                      {"brokers", p.brokers ? document(*p.brokers) : document(nullptr)},
                      {"settings", p.properties.size()}});
    }
    print({{"file", file->path.empty() ? profiles_path(inv.env) : file->path}, {"profiles", rows}},
          inv.format());
    return {};
  });

  auto* show = profile->add_subcommand(
      "show", "Show the connection settings the other flags and the environment resolve to");
  on_run(show, inv, [&inv]() -> base::result<void> {
    auto settings = inv.connection();
    if (!settings) return base::unexpected(settings.error());
    document properties = document::object();
    for (const auto& [key, value] : settings->properties) properties[key] = value;
    print({{"brokers", settings->bootstrap},
           {"timeout_ms", settings->timeout.count()},
           {"client_properties", properties}},
          inv.format());
    return {};
  });
}

void add_completion_command(CLI::App& root, invocation& inv) {
  auto* completion = root.add_subcommand("completion", "Print a shell completion script");
  auto shell = std::make_shared<std::string>("bash");
  completion->add_option("shell", *shell, "Shell (bash)")->check(CLI::IsMember({"bash"}));
  completion->footer(
      "Examples:\n  source <(sluice completion bash)\n"
      "  sluice completion bash > /etc/bash_completion.d/sluice");
  // The action owns `shell`, the option's storage, so it outlives parsing.
  on_run(completion, inv, [&root, shell]() -> base::result<void> {
    if (*shell != "bash") return base::fail("no completion for " + *shell + ": only bash");
    std::string script = bash_completion_script(root);
    std::fwrite(script.data(), 1, script.size(), stdout);
    return {};
  });
}

void add_client_commands(CLI::App& root, invocation& inv) {
  auto& g = inv.globals;
  auto* brokers = root.add_option("-b,--brokers", g.brokers,
                                  "Bootstrap brokers host:port[,...] (default: $SLUICE_BROKERS "
                                  "or the profile's, else 127.0.0.1:9092)");
  auto* profile =
      root.add_option("--profile", g.profile, "Connection profile (sluice profile list)");
  auto* format = root.add_option("--format", g.format, "Output: table (default) or json")
                     ->check(CLI::IsMember({"table", "json"}));
  auto* properties = root.add_option("-X,--property", g.client_properties,
                                     "librdkafka property key=value (repeatable)");
  auto* timeout =
      root.add_option("--timeout", g.timeout_s, "Seconds one request may take (default 10)")
          ->check(CLI::Range(0.001, 86400.0));
  for (auto* option : {brokers, profile, format, properties, timeout}) option->group("Global");

  // Client commands accept the global flags after their own name too
  // (`sluice topic list --brokers h:9092`). Subcommands inherit the setting
  // when they are created, so the broker command, added earlier, does not.
  root.fallthrough(true);
  add_topic_commands(root, inv);
  add_produce_command(root, inv);
  add_consume_command(root, inv);
  add_group_commands(root, inv);
  add_cluster_commands(root, inv);
  add_bench_commands(root, inv);
  add_dump_log_command(root, inv);
  add_profile_commands(root, inv);
  add_completion_command(root, inv);
  root.fallthrough(false);
}

}  // namespace sluice::cli
