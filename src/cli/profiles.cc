#include "cli/profiles.h"

#include <fstream>
#include <sstream>

extern char** environ;

namespace sluice::cli {
namespace {

std::string trim(const std::string& text) {
  size_t first = text.find_first_not_of(" \t\r");
  if (first == std::string::npos) return "";
  size_t last = text.find_last_not_of(" \t\r");
  return text.substr(first, last - first + 1);
}

// "key = value  # comment" -> the text before an unquoted " #".
std::string strip_comment(const std::string& line) {
  if (!line.empty() && (line[0] == '#' || line[0] == ';')) return "";
  size_t hash = line.find(" #");
  return hash == std::string::npos ? line : line.substr(0, hash);
}

}  // namespace

environment environment::current() {
  environment env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string text = *entry;
    size_t eq = text.find('=');
    if (eq != std::string::npos) env.variables[text.substr(0, eq)] = text.substr(eq + 1);
  }
  return env;
}

std::string environment::get(const std::string& name) const {
  auto it = variables.find(name);
  return it == variables.end() ? "" : it->second;
}

base::result<client::connection_settings> invocation::connection() const {
  auto profiles = load_profiles(env);
  if (!profiles) return base::unexpected(profiles.error());
  auto settings = resolve_connection(globals, env, *profiles);
  if (!settings) return settings;
  settings->timeout = timeout();
  return settings;
}

const profile* profile_file::find(const std::string& name) const {
  for (const auto& p : profiles) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

base::result<profile_file> parse_profiles(const std::string& text, const std::string& path) {
  profile_file file;
  file.path = path;
  std::istringstream lines(text);
  std::string raw;
  int number = 0;
  profile* current = nullptr;
  while (std::getline(lines, raw)) {
    ++number;
    std::string line = trim(strip_comment(trim(raw)));
    if (line.empty()) continue;
    auto where = path + ":" + std::to_string(number) + ": ";
    if (line.front() == '[') {
      if (line.back() != ']' || line.size() < 3) {
        return base::fail(where + "expected [profile-name]");
      }
      std::string name = trim(line.substr(1, line.size() - 2));
      if (file.find(name) != nullptr) return base::fail(where + "profile " + name + " twice");
      file.profiles.push_back(profile{name, std::nullopt, {}});
      current = &file.profiles.back();
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string::npos) return base::fail(where + "expected key = value");
    std::string key = trim(line.substr(0, eq));
    std::string value = trim(line.substr(eq + 1));
    if (key.empty()) return base::fail(where + "empty key");
    if (current == nullptr) {
      if (key != "default") {
        return base::fail(where + "only `default = name` may come before the first [profile]");
      }
      file.default_profile = value;
    } else if (key == "brokers") {
      current->brokers = value;
    } else {
      current->properties.emplace_back(key, value);
    }
  }
  if (file.default_profile && file.find(*file.default_profile) == nullptr) {
    return base::fail(path + ": default profile " + *file.default_profile + " is not defined");
  }
  return file;
}

std::string profiles_path(const environment& env) {
  if (auto explicit_path = env.get("SLUICE_PROFILES"); !explicit_path.empty()) {
    return explicit_path;
  }
  if (auto xdg = env.get("XDG_CONFIG_HOME"); !xdg.empty()) return xdg + "/sluice/profiles";
  if (auto home = env.get("HOME"); !home.empty()) return home + "/.config/sluice/profiles";
  return "";
}

base::result<profile_file> load_profiles(const environment& env) {
  std::string path = profiles_path(env);
  if (path.empty()) return profile_file{};
  std::ifstream in(path);
  if (!in) return profile_file{};
  std::stringstream text;
  text << in.rdbuf();
  return parse_profiles(text.str(), path);
}

base::result<client::connection_settings> resolve_connection(const global_options& globals,
                                                             const environment& env,
                                                             const profile_file& profiles) {
  auto lookup = [&](const std::string& name, const char* source) -> base::result<const profile*> {
    const profile* p = profiles.find(name);
    if (p == nullptr) {
      std::string where = profiles.path.empty() ? "no profiles file" : profiles.path;
      return base::fail(std::string("unknown profile \"") + name + "\" (" + source + ", " + where +
                        "); `sluice profile list` shows the profiles");
    }
    return p;
  };
  const profile* explicit_profile = nullptr;
  const profile* implicit_profile = nullptr;
  if (!globals.profile.empty()) {
    auto p = lookup(globals.profile, "--profile");
    if (!p) return base::unexpected(p.error());
    explicit_profile = *p;
  } else if (auto name = env.get("SLUICE_PROFILE"); !name.empty()) {
    auto p = lookup(name, "$SLUICE_PROFILE");
    if (!p) return base::unexpected(p.error());
    implicit_profile = *p;
  } else if (profiles.default_profile) {
    implicit_profile = profiles.find(*profiles.default_profile);
  }

  client::connection_settings settings;
  const profile* chosen = explicit_profile != nullptr ? explicit_profile : implicit_profile;
  if (!globals.brokers.empty()) {
    settings.bootstrap = globals.brokers;
  } else if (explicit_profile != nullptr && explicit_profile->brokers) {
    settings.bootstrap = *explicit_profile->brokers;
  } else if (auto from_env = env.get("SLUICE_BROKERS"); !from_env.empty()) {
    settings.bootstrap = from_env;
  } else if (implicit_profile != nullptr && implicit_profile->brokers) {
    settings.bootstrap = *implicit_profile->brokers;
  }
  if (chosen != nullptr) settings.properties = chosen->properties;
  for (const auto& property : globals.client_properties) {
    size_t eq = property.find('=');
    if (eq == std::string::npos || eq == 0) {
      return base::fail("-X " + property + ": expected key=value (a librdkafka property)");
    }
    settings.properties.emplace_back(property.substr(0, eq), property.substr(eq + 1));
  }
  return settings;
}

}  // namespace sluice::cli
