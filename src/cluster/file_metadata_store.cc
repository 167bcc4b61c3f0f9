#include "cluster/metadata_store.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <map>
#include <optional>
#include <string_view>
#include <utility>

#include "base/crc32c.h"
#include "base/properties.h"
#include "storage/atomic_write.h"

// The file `sluice-metadata`, one record a line, fields separated by one
// space, the last line a CRC-32C (8 hex digits) of every byte before it:
//
//   sluice-metadata 2                     <- format and version
//   node.id 1
//   cluster.id MkU3OEVBNTcwNTJENDM2Qk
//   next.producer.id 4000                 <- the first id not handed out
//   topics 1
//   topic orders <32 hex digits> 3 1 1    <- name, id, partitions, RF, configs
//   config cleanup.policy compact         <- key and value, %XX-escaped
//   broker.configs 2                      <- scopes of dynamic broker configs
//   broker <default> 1                    <- scope and config count
//   config log.retention.ms 3600000
//   broker 1 1                            <- a node id's own
//   config message.max.bytes 2097152
//   crc32c 0a1b2c3d
//
// Version 1 is the same without the broker.configs section. A store writes
// version 1 while no dynamic broker configs are set, so that the Sluice before
// them still opens its file, and reads both. The cluster-wide scope ("") is
// written `<default>`, Kafka's name for it in ZooKeeper.
//
// Text, so that an operator can read it; strict, because a file that parses
// wrong would silently lose a topic or hand out a producer id twice. Config
// keys and values may hold any byte: everything outside printable ASCII,
// the space and '%' itself are written as %XX, so a value never breaks a line
// or a field. An empty value leaves the line ending in the separating space.

namespace sluice::cluster {
namespace {

using storage::io_error;
using storage::io_result;

constexpr std::string_view metadata_file_name = "sluice-metadata";
constexpr std::string_view meta_properties_name = "meta.properties";
constexpr std::string_view format_name = "sluice-metadata";
// The versions this Sluice reads; it writes the oldest that holds the image.
constexpr int first_format_version = 1;
constexpr int broker_configs_format_version = 2;  // adds broker.configs
constexpr int format_version = broker_configs_format_version;
constexpr std::string_view default_scope_name = "<default>";
constexpr std::string_view crc_prefix = "crc32c ";
// Kafka's limit: a partition directory name (`<topic>-<partition>`) must fit
// in 255 bytes.
constexpr size_t max_topic_name_length = 249;

// Everything the file holds.
struct image {
  int32_t node_id = 0;
  std::string cluster_id;
  int64_t next_producer_id = 0;
  std::map<std::string, topic_record, std::less<>> topics;
  // Dynamic broker configs by scope ("" or a node id); no empty sets.
  std::map<std::string, base::properties> broker_configs;
};

base::unexpected<io_error> bad_message(const std::string& path, size_t line,
                                       std::string_view what) {
  io_error error = storage::make_io_error(EBADMSG, "read", path);
  error.message.append(" (");
  if (line > 0) error.message.append("line ").append(std::to_string(line)).append(": ");
  error.message.append(what).append(")");
  return {std::move(error)};
}

base::unexpected<io_error> invalid(std::string_view operation, std::string_view subject,
                                   std::string_view what, int code = EINVAL) {
  io_error error = storage::make_io_error(code, operation, subject);
  error.message.append(" (").append(what).append(")");
  return {std::move(error)};
}

bool is_legal_topic_name(std::string_view name) {
  if (name.empty() || name.size() > max_topic_name_length) return false;
  if (name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

// A broker config scope: "" (cluster-wide) or a node id in plain decimal, so
// that one scope has one spelling.
bool is_legal_scope(std::string_view scope) {
  if (scope.empty()) return true;
  if (scope.size() > 1 && scope.front() == '0') return false;
  return std::all_of(scope.begin(), scope.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
         scope.size() <= 10 && std::stoll(std::string(scope)) <= INT32_MAX;
}

// A cluster id is printed in files and logs as is: printable, no spaces.
bool is_legal_cluster_id(std::string_view id) {
  if (id.empty()) return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return c > ' ' && c < 0x7f; });
}

// Plain decimal digits that fit in T, with a '-' only where T may be negative.
template <typename T>
std::optional<T> parse_number(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (text.front() == '-' ? text.size() < 2 || text[1] < '0' || text[1] > '9'
                          : text.front() < '0' || text.front() > '9') {
    return std::nullopt;
  }
  T value{};
  const char* end = text.data() + text.size();
  auto [stop, error] = std::from_chars(text.data(), end, value);
  if (error != std::errc() || stop != end) return std::nullopt;
  return value;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr char hex_digits[] = "0123456789abcdef";

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto byte = static_cast<uint8_t>(c);
    if (byte > ' ' && byte < 0x7f && c != '%') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(hex_digits[byte >> 4]);
      out.push_back(hex_digits[byte & 0x0f]);
    }
  }
  return out;
}

std::optional<std::string> unescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    auto byte = static_cast<uint8_t>(text[i]);
    if (byte <= ' ' || byte >= 0x7f) return std::nullopt;
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    int high = hex_value(text[i + 1]);
    int low = hex_value(text[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return out;
}

std::string uuid_to_hex(const base::uuid& id) {
  std::string out;
  for (uint8_t b : id.bytes) {
    out.push_back(hex_digits[b >> 4]);
    out.push_back(hex_digits[b & 0x0f]);
  }
  return out;
}

std::optional<base::uuid> uuid_from_hex(std::string_view text) {
  base::uuid id;
  if (text.size() != id.bytes.size() * 2) return std::nullopt;
  for (size_t i = 0; i < id.bytes.size(); ++i) {
    int high = hex_value(text[2 * i]);
    int low = hex_value(text[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    id.bytes[i] = static_cast<uint8_t>(high * 16 + low);
  }
  return id;
}

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  for (size_t start = 0;;) {
    size_t end = line.find(' ', start);
    fields.push_back(line.substr(start, end == line.npos ? line.npos : end - start));
    if (end == line.npos) return fields;
    start = end + 1;
  }
}

std::string crc_line(std::string_view body) {
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", base::crc32c::value(body.data(), body.size()));
  return std::string(crc_prefix) + hex + "\n";
}

void append_configs(std::string& text, const base::properties& configs) {
  for (const auto& [key, value] : configs) {
    text.append("config ").append(escape(key)).append(" ").append(escape(value)).append("\n");
  }
}

std::string encode_image(const image& img) {
  const int version =
      img.broker_configs.empty() ? first_format_version : broker_configs_format_version;
  std::string text;
  text.append(format_name).append(" ").append(std::to_string(version)).append("\n");
  text.append("node.id ").append(std::to_string(img.node_id)).append("\n");
  text.append("cluster.id ").append(img.cluster_id).append("\n");
  text.append("next.producer.id ").append(std::to_string(img.next_producer_id)).append("\n");
  text.append("topics ").append(std::to_string(img.topics.size())).append("\n");
  for (const auto& [name, topic] : img.topics) {
    text.append("topic ").append(name).append(" ").append(uuid_to_hex(topic.id));
    text.append(" ").append(std::to_string(topic.partition_count));
    text.append(" ").append(std::to_string(topic.replication_factor));
    text.append(" ").append(std::to_string(topic.configs.size())).append("\n");
    append_configs(text, topic.configs);
  }
  if (version >= broker_configs_format_version) {
    text.append("broker.configs ").append(std::to_string(img.broker_configs.size())).append("\n");
    for (const auto& [scope, configs] : img.broker_configs) {
      text.append("broker ").append(scope.empty() ? default_scope_name : scope);
      text.append(" ").append(std::to_string(configs.size())).append("\n");
      append_configs(text, configs);
    }
  }
  text.append(crc_line(text));
  return text;
}

// Reads lines one by one, naming each by its number for errors.
class line_reader {
 public:
  line_reader(std::string_view text) : text_(text) {}
  // The next line without its newline; nullopt at the end.
  std::optional<std::string_view> next() {
    if (position_ >= text_.size()) return std::nullopt;
    size_t end = text_.find('\n', position_);
    std::string_view line = text_.substr(position_, end - position_);
    position_ = end + 1;
    ++number_;
    return line;
  }
  size_t number() const { return number_; }

 private:
  std::string_view text_;  // every line ends in '\n'
  size_t position_ = 0;
  size_t number_ = 0;
};

io_result<image> decode_image(const std::string& path, std::string_view text) {
  // The version first, so a file from a newer Sluice says so rather than
  // failing its checksum or a field.
  std::string_view first = text.substr(0, text.find('\n'));
  auto header = split_fields(first);
  if (header.size() != 2 || header[0] != format_name) {
    return bad_message(path, 1, "not a sluice-metadata file");
  }
  const auto version = parse_number<int32_t>(header[1]);
  if (!version || *version < first_format_version || *version > format_version) {
    return bad_message(path, 1,
                       "version " + std::string(header[1]) + " is not supported (expected " +
                           std::to_string(first_format_version) + " to " +
                           std::to_string(format_version) + ")");
  }

  // Then the checksum over everything else, so a flipped byte or a file cut
  // short is reported as corruption, not as whatever field it happens to hit.
  if (text.empty() || text.back() != '\n') {
    return bad_message(path, 0, "no newline at the end of the file: cut short?");
  }
  size_t crc_at = text.rfind('\n', text.size() - 2);
  crc_at = crc_at == text.npos ? 0 : crc_at + 1;
  std::string_view body = text.substr(0, crc_at);
  std::string_view stored = text.substr(crc_at);
  if (!stored.starts_with(crc_prefix)) {
    return bad_message(path, 0, "the last line is not the crc32c: cut short?");
  }
  if (stored != crc_line(body)) {
    return bad_message(path, 0,
                       "checksum mismatch: the file is corrupt (stored " +
                           std::string(stored.substr(crc_prefix.size(), 8)) + ", computed " +
                           crc_line(body).substr(crc_prefix.size(), 8) + ")");
  }

  line_reader lines(body);
  lines.next();  // the version, checked above
  image img;
  // `name value` with a number value of type T.
  auto number_field = [&]<typename T>(std::string_view name, T min) -> io_result<T> {
    auto line = lines.next();
    if (!line) return bad_message(path, lines.number() + 1, "expected " + std::string(name));
    auto fields = split_fields(*line);
    if (fields.size() != 2 || fields[0] != name) {
      return bad_message(path, lines.number(), "expected `" + std::string(name) + " <number>`");
    }
    auto value = parse_number<T>(fields[1]);
    if (!value || *value < min) {
      return bad_message(path, lines.number(), std::string(name) + " is not a valid number");
    }
    return *value;
  };

  auto node_id = number_field(std::string_view("node.id"), int32_t{0});
  if (!node_id) return base::unexpected(node_id.error());
  img.node_id = *node_id;

  auto cluster_line = lines.next();
  auto cluster_fields = split_fields(cluster_line.value_or(""));
  if (!cluster_line || cluster_fields.size() != 2 || cluster_fields[0] != "cluster.id" ||
      !is_legal_cluster_id(cluster_fields[1])) {
    return bad_message(path, lines.number(), "expected `cluster.id <id>`");
  }
  img.cluster_id = std::string(cluster_fields[1]);

  auto next_id = number_field(std::string_view("next.producer.id"), int64_t{0});
  if (!next_id) return base::unexpected(next_id.error());
  img.next_producer_id = *next_id;

  // `count` lines `config <key> <value>` of `owner`.
  auto read_configs = [&](uint64_t count, const std::string& owner) -> io_result<base::properties> {
    base::properties configs;
    for (uint64_t c = 0; c < count; ++c) {
      auto config = lines.next();
      if (!config) {
        return bad_message(path, lines.number() + 1,
                           "the file ends inside the configs of " + owner);
      }
      auto parts = split_fields(*config);
      if (parts.size() != 3 || parts[0] != "config") {
        return bad_message(path, lines.number(), "expected `config <key> <value>`");
      }
      auto key = unescape(parts[1]);
      auto value = unescape(parts[2]);
      if (!key || key->empty() || !value) {
        return bad_message(path, lines.number(), "config key or value is badly escaped");
      }
      if (!configs.emplace(std::move(*key), std::move(*value)).second) {
        return bad_message(path, lines.number(), "config key repeated");
      }
    }
    return configs;
  };

  auto topic_count = number_field(std::string_view("topics"), uint64_t{0});
  if (!topic_count) return base::unexpected(topic_count.error());

  for (uint64_t t = 0; t < *topic_count; ++t) {
    auto line = lines.next();
    if (!line) {
      return bad_message(path, lines.number() + 1,
                         "the file ends after " + std::to_string(t) + " of " +
                             std::to_string(*topic_count) + " topics");
    }
    auto fields = split_fields(*line);
    if (fields.size() != 6 || fields[0] != "topic") {
      return bad_message(path, lines.number(),
                         "expected `topic <name> <id> <partitions> <replication factor> "
                         "<config count>`");
    }
    topic_record topic;
    if (!is_legal_topic_name(fields[1])) {
      return bad_message(path, lines.number(), "topic is not a legal name");
    }
    topic.name = std::string(fields[1]);
    auto id = uuid_from_hex(fields[2]);
    if (!id || id->is_zero()) return bad_message(path, lines.number(), "topic id is not valid");
    topic.id = *id;
    auto partitions = parse_number<int32_t>(fields[3]);
    if (!partitions || *partitions < 1) {
      return bad_message(path, lines.number(), "partition count is not an int32 >= 1");
    }
    topic.partition_count = *partitions;
    auto replicas = parse_number<int16_t>(fields[4]);
    if (!replicas || *replicas < 1) {
      return bad_message(path, lines.number(), "replication factor is not an int16 >= 1");
    }
    topic.replication_factor = *replicas;
    auto config_count = parse_number<uint64_t>(fields[5]);
    if (!config_count) return bad_message(path, lines.number(), "config count is not a number");
    auto configs = read_configs(*config_count, "topic " + topic.name);
    if (!configs) return base::unexpected(configs.error());
    topic.configs = std::move(*configs);
    if (img.topics.contains(topic.name)) {
      return bad_message(path, lines.number(), "topic " + topic.name + " repeated");
    }
    img.topics.emplace(topic.name, std::move(topic));
  }

  if (*version >= broker_configs_format_version) {
    auto scope_count = number_field(std::string_view("broker.configs"), uint64_t{0});
    if (!scope_count) return base::unexpected(scope_count.error());
    for (uint64_t b = 0; b < *scope_count; ++b) {
      auto line = lines.next();
      if (!line) {
        return bad_message(path, lines.number() + 1,
                           "the file ends after " + std::to_string(b) + " of " +
                               std::to_string(*scope_count) + " broker config scopes");
      }
      auto fields = split_fields(*line);
      if (fields.size() != 3 || fields[0] != "broker") {
        return bad_message(path, lines.number(), "expected `broker <scope> <config count>`");
      }
      std::string scope = fields[1] == default_scope_name ? "" : std::string(fields[1]);
      if (scope.empty() && fields[1] != default_scope_name) {
        return bad_message(path, lines.number(), "broker config scope is empty");
      }
      if (!is_legal_scope(scope)) {
        return bad_message(path, lines.number(),
                           "broker config scope is neither <default> nor a node id");
      }
      auto config_count = parse_number<uint64_t>(fields[2]);
      if (!config_count || *config_count == 0) {
        return bad_message(path, lines.number(), "config count is not a number >= 1");
      }
      auto configs = read_configs(*config_count, "broker " + std::string(fields[1]));
      if (!configs) return base::unexpected(configs.error());
      if (!img.broker_configs.emplace(scope, std::move(*configs)).second) {
        return bad_message(path, lines.number(), "broker " + std::string(fields[1]) + " repeated");
      }
    }
  }
  if (lines.next()) {
    return bad_message(path, lines.number(), "more lines than the topics and broker configs need");
  }
  return img;
}

// The content of `path`; nullopt when the file does not exist.
io_result<std::optional<std::string>> read_whole_file(storage::file_system& fs,
                                                      const std::string& path) {
  auto opened = fs.open(path, storage::open_mode::read_only);
  if (!opened) {
    if (opened.error().code == ENOENT) return std::optional<std::string>();
    return base::unexpected(opened.error());
  }
  auto size = (*opened)->size();
  if (!size) return base::unexpected(size.error());
  std::string text(*size, '\0');
  auto n = (*opened)->read_at(0, std::span(reinterpret_cast<uint8_t*>(text.data()), text.size()));
  if (!n) return base::unexpected(n.error());
  text.resize(*n);
  return std::optional<std::string>(std::move(text));
}

// Kafka's meta.properties (KRaft, version 1). Written by us with no escapes
// to worry about: the values are a number and a base64url id.
std::string encode_meta_properties(int32_t node_id, const std::string& cluster_id) {
  std::string text = "#\n#Written by Sluice\n";
  text.append("version=1\n");
  text.append("node.id=").append(std::to_string(node_id)).append("\n");
  text.append("cluster.id=").append(cluster_id).append("\n");
  return text;
}

struct meta_properties {
  int32_t node_id = -1;
  std::string cluster_id;
};

// The file as Kafka writes it (java.util.Properties.store): comments, then
// `key=value` lines in any order. Version 0 (ZooKeeper mode) names the node
// broker.id, version 1 node.id.
io_result<meta_properties> parse_meta_properties(const std::string& path, std::string_view text) {
  auto parsed = base::parse_properties(text);
  if (!parsed) return bad_message(path, 0, parsed.error().message);
  const base::properties& keys = *parsed;
  auto version = keys.find("version");
  if (version == keys.end()) return bad_message(path, 0, "no version");
  std::string_view node_key;
  if (version->second == "1") {
    node_key = "node.id";
  } else if (version->second == "0") {
    node_key = "broker.id";
  } else {
    return bad_message(path, 0, "version " + version->second + " is not supported");
  }
  meta_properties meta;
  auto node = keys.find(node_key);
  std::optional<int32_t> node_id;
  if (node != keys.end()) node_id = parse_number<int32_t>(node->second);
  if (!node_id || *node_id < 0) {
    return bad_message(path, 0, "no valid " + std::string(node_key));
  }
  meta.node_id = *node_id;
  auto cluster = keys.find("cluster.id");
  if (cluster == keys.end() || !is_legal_cluster_id(cluster->second)) {
    return bad_message(path, 0, "no valid cluster.id");
  }
  meta.cluster_id = cluster->second;
  return meta;
}

base::unexpected<io_error> wrong_node(const std::string& directory, std::string_view file,
                                      int32_t found, int32_t expected) {
  return invalid("open", directory,
                 std::string(file) + ": the directory belongs to node " + std::to_string(found) +
                     ", not node " + std::to_string(expected));
}

}  // namespace

struct file_metadata_store::state {
  storage::file_system& fs;
  std::string directory;
  image current;

  std::string path() const { return directory + "/" + std::string(metadata_file_name); }

  // Writes `next` and only then makes it the state: after a failure the
  // store answers as before (the file may hold either; both are consistent).
  io_result<void> commit(image next) {
    auto written = storage::write_file_atomically(fs, path(), encode_image(next));
    if (!written) return written;
    current = std::move(next);
    return {};
  }
};

io_result<std::unique_ptr<file_metadata_store>> file_metadata_store::open(storage::file_system& fs,
                                                                          std::string directory,
                                                                          int32_t node_id) {
  if (node_id < 0) return invalid("open", directory, "node id must be >= 0");
  if (auto made = storage::create_durable_directory(fs, directory); !made) {
    return base::unexpected(made.error());
  }

  const std::string meta_path = directory + "/" + std::string(meta_properties_name);
  auto meta_text = read_whole_file(fs, meta_path);
  if (!meta_text) return base::unexpected(meta_text.error());
  std::optional<meta_properties> meta;
  if (*meta_text) {
    auto parsed = parse_meta_properties(meta_path, **meta_text);
    if (!parsed) return base::unexpected(parsed.error());
    if (parsed->node_id != node_id) {
      return wrong_node(directory, meta_properties_name, parsed->node_id, node_id);
    }
    meta = std::move(*parsed);
  }

  auto s = std::make_unique<state>(state{fs, directory, {}});
  auto text = read_whole_file(fs, s->path());
  if (!text) return base::unexpected(text.error());
  if (*text) {
    auto decoded = decode_image(s->path(), **text);
    if (!decoded) return base::unexpected(decoded.error());
    if (decoded->node_id != node_id) {
      return wrong_node(directory, metadata_file_name, decoded->node_id, node_id);
    }
    if (meta && meta->cluster_id != decoded->cluster_id) {
      return invalid("open", directory,
                     "meta.properties names cluster " + meta->cluster_id +
                         " but sluice-metadata cluster " + decoded->cluster_id);
    }
    s->current = std::move(*decoded);
  } else {
    // A fresh directory, or one whose meta.properties another tool (or a
    // crash half-way through our first open) left alone.
    image fresh;
    fresh.node_id = node_id;
    fresh.cluster_id = meta ? meta->cluster_id : base::uuid::random().to_string();
    if (auto written = s->commit(std::move(fresh)); !written) {
      return base::unexpected(written.error());
    }
  }
  if (!meta) {
    auto written = storage::write_file_atomically(
        fs, meta_path, encode_meta_properties(node_id, s->current.cluster_id));
    if (!written) return base::unexpected(written.error());
  }
  return std::unique_ptr<file_metadata_store>(new file_metadata_store(std::move(s)));
}

file_metadata_store::file_metadata_store(std::unique_ptr<state> s) : state_(std::move(s)) {}
file_metadata_store::~file_metadata_store() = default;

const std::string& file_metadata_store::cluster_id() const { return state_->current.cluster_id; }

std::vector<topic_record> file_metadata_store::topics() const {
  std::vector<topic_record> out;
  out.reserve(state_->current.topics.size());
  for (const auto& [name, topic] : state_->current.topics) out.push_back(topic);
  return out;
}

io_result<void> file_metadata_store::put_topic(const topic_record& topic) {
  if (!is_legal_topic_name(topic.name)) {
    return invalid("put_topic", topic.name, "topic is not a legal name");
  }
  if (topic.id.is_zero()) return invalid("put_topic", topic.name, "topic id is zero");
  if (topic.partition_count < 1) return invalid("put_topic", topic.name, "partition count < 1");
  if (topic.replication_factor < 1) {
    return invalid("put_topic", topic.name, "replication factor < 1");
  }
  for (const auto& [key, value] : topic.configs) {
    if (key.empty()) return invalid("put_topic", topic.name, "empty config key");
  }
  for (const auto& [name, other] : state_->current.topics) {
    if (name != topic.name && other.id == topic.id) {
      return invalid("put_topic", topic.name, "topic id already belongs to topic " + name);
    }
  }
  image next = state_->current;
  next.topics.insert_or_assign(topic.name, topic);
  return state_->commit(std::move(next));
}

io_result<void> file_metadata_store::remove_topic(const std::string& name) {
  if (!state_->current.topics.contains(name)) {
    return invalid("remove_topic", name, "no such topic", ENOENT);
  }
  image next = state_->current;
  next.topics.erase(name);
  return state_->commit(std::move(next));
}

std::map<std::string, base::properties> file_metadata_store::broker_configs() const {
  return state_->current.broker_configs;
}

io_result<void> file_metadata_store::put_broker_configs(const std::string& scope,
                                                        const base::properties& configs) {
  if (!is_legal_scope(scope)) {
    return invalid("put_broker_configs", scope, "scope is neither \"\" nor a node id");
  }
  for (const auto& [key, value] : configs) {
    if (key.empty()) return invalid("put_broker_configs", scope, "empty config key");
  }
  image next = state_->current;
  if (configs.empty()) {
    next.broker_configs.erase(scope);
  } else {
    next.broker_configs.insert_or_assign(scope, configs);
  }
  return state_->commit(std::move(next));
}

io_result<int64_t> file_metadata_store::allocate_producer_ids(int64_t count) {
  if (count < 1) return invalid("allocate_producer_ids", std::to_string(count), "count < 1");
  const int64_t first = state_->current.next_producer_id;
  if (first > INT64_MAX - count) {
    return invalid("allocate_producer_ids", std::to_string(count), "producer ids exhausted",
                   EOVERFLOW);
  }
  image next = state_->current;
  next.next_producer_id = first + count;
  // Durable before any id is used: after a crash the next block starts past
  // this one, whether or not its ids were ever handed to a producer.
  auto written = state_->commit(std::move(next));
  if (!written) return base::unexpected(written.error());
  return first;
}

}  // namespace sluice::cluster
