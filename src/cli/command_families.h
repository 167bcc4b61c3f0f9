#pragma once

// How the command families plug into the tree; internal to cli/.

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "cli/invocation.h"

namespace sluice::cli {

void add_topic_commands(CLI::App& root, invocation& inv);
void add_produce_command(CLI::App& root, invocation& inv);
void add_consume_command(CLI::App& root, invocation& inv);
void add_group_commands(CLI::App& root, invocation& inv);
void add_cluster_commands(CLI::App& root, invocation& inv);
void add_bench_commands(CLI::App& root, invocation& inv);
void add_dump_log_command(CLI::App& root, invocation& inv);
void add_profile_commands(CLI::App& root, invocation& inv);
void add_completion_command(CLI::App& root, invocation& inv);

// Makes `action` what runs when the user chose `command`.
inline void on_run(CLI::App* command, invocation& inv, std::function<base::result<void>()> action) {
  command->callback([&inv, action = std::move(action)] { inv.action = action; });
}

// "key=value" entries -> pairs; `flag` names the option in the error.
base::result<std::vector<std::pair<std::string, std::string>>> parse_key_values(
    const std::vector<std::string>& entries, const std::string& flag);

}  // namespace sluice::cli
