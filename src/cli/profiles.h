#pragma once

// Named connection profiles, so that `--profile prod` replaces a list of
// brokers and client settings typed every time. The file is INI-like:
//
//   # ~/.config/sluice/profiles
//   default = local            # used when nothing else picks one
//   [local]
//   brokers = 127.0.0.1:9092
//   [prod]
//   brokers = k1:9092,k2:9092
//   client.id = ops-laptop     # any other key is a librdkafka property
//
// Where it is: $SLUICE_PROFILES, else $XDG_CONFIG_HOME/sluice/profiles, else
// $HOME/.config/sluice/profiles. A missing file is no error.
//
// Which brokers: --brokers, else the --profile's brokers, else
// $SLUICE_BROKERS, else the brokers of $SLUICE_PROFILE or of the file's
// default profile, else 127.0.0.1:9092. An explicit --profile thus beats the
// environment; an explicit --brokers beats everything.

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "cli/invocation.h"
#include "client/settings.h"

namespace sluice::cli {

struct profile {
  std::string name;
  std::optional<std::string> brokers;
  std::vector<std::pair<std::string, std::string>> properties;  // file order
};

struct profile_file {
  std::string path;  // empty when there is none
  std::optional<std::string> default_profile;
  std::vector<profile> profiles;  // file order

  const profile* find(const std::string& name) const;
};

// Parses the text of a profiles file; errors name the line.
base::result<profile_file> parse_profiles(const std::string& text, const std::string& path);

// Where the profiles file is for `env` (it need not exist).
std::string profiles_path(const environment& env);

// Reads the profiles file for `env`; a missing file gives an empty one.
base::result<profile_file> load_profiles(const environment& env);

// The connection settings for `globals` under the rules above. Fails on an
// unknown profile name and on a -X that is not key=value.
base::result<client::connection_settings> resolve_connection(const global_options& globals,
                                                             const environment& env,
                                                             const profile_file& profiles);

}  // namespace sluice::cli
