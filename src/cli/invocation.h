#pragma once

// The state one run of a client-side command shares: the global flags, the
// environment and the action the chosen subcommand registered. The command
// tree is parsed first; main then runs `action` and turns its error into a
// one-line message and exit status 1.

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "base/result.h"
#include "cli/output.h"
#include "client/settings.h"

namespace sluice::cli {

// Flags every client-side command accepts (before or after the subcommand).
struct global_options {
  std::string brokers;  // --brokers; empty when not given
  std::string profile;  // --profile; empty when not given
  std::string format = "table";
  std::vector<std::string> client_properties;  // -X key=value (librdkafka)
  double timeout_s = 10;
};

// What the process sees besides its flags; a value so tests can supply it.
struct environment {
  std::map<std::string, std::string> variables;  // SLUICE_BROKERS, HOME, ...
  static environment current();
  std::string get(const std::string& name) const;
};

struct invocation {
  global_options globals;
  environment env = environment::current();
  // Set by the parse callback of the subcommand the user chose.
  std::function<base::result<void>()> action;

  output_format format() const {
    return globals.format == "json" ? output_format::json : output_format::table;
  }
  std::chrono::milliseconds timeout() const {
    return std::chrono::milliseconds(static_cast<int64_t>(globals.timeout_s * 1000));
  }
  // Connection settings from flags, profile and environment (profiles.h).
  base::result<client::connection_settings> connection() const;
};

}  // namespace sluice::cli
