#include "cluster/topic_name.h"

#include <algorithm>

namespace sluice::cluster {
namespace {

bool legal_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

}  // namespace

// The messages are Kafka's (Topic.validate), so clients see the same text.
std::optional<std::string> check_topic_name(std::string_view name) {
  if (name.empty()) return "Topic name is illegal, it can't be empty";
  if (name == "." || name == "..") return "Topic name cannot be \".\" or \"..\"";
  if (name.size() > max_topic_name_length) {
    return "Topic name is illegal, it can't be longer than " +
           std::to_string(max_topic_name_length) + " characters, topic name: " + std::string(name);
  }
  if (!std::all_of(name.begin(), name.end(), legal_char)) {
    return "Topic name \"" + std::string(name) +
           "\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' "
           "and '-'";
  }
  return std::nullopt;
}

// As Kafka's Topic.hasCollision: equal once every '.' reads as '_'. Equal
// names collide too; callers look for an existing topic of that name first.
bool topic_names_collide(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i] == '.' ? '_' : a[i];
    char y = b[i] == '.' ? '_' : b[i];
    if (x != y) return false;
  }
  return true;
}

bool is_internal_topic(std::string_view name) { return name.starts_with("__"); }

}  // namespace sluice::cluster
