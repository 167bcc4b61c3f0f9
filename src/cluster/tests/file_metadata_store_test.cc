#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "base/crc32c.h"
#include "cluster/metadata_store.h"
#include "storage/testing/fault_injecting_file_system.h"

namespace sluice::cluster {
namespace {

using storage::testing::fault_injecting_file_system;
using storage::testing::operation;

const std::string dir = "/data/meta";
const std::string metadata_path = dir + "/sluice-metadata";
const std::string meta_properties_path = dir + "/meta.properties";

std::string read_file(storage::file_system& fs, const std::string& path) {
  auto f = fs.open(path, storage::open_mode::read_only);
  if (!f) return "<error: " + f.error().message + ">";
  auto size = (*f)->size();
  if (!size) return "<error: " + size.error().message + ">";
  std::string out(*size, '\0');
  auto n = (*f)->read_at(0, {reinterpret_cast<uint8_t*>(out.data()), out.size()});
  if (!n) return "<error: " + n.error().message + ">";
  out.resize(*n);
  return out;
}

// Replaces the file's content durably (a test's hand, not the store's).
void write_file(storage::file_system& fs, const std::string& path, const std::string& text) {
  auto f = fs.open(path, storage::open_mode::create_read_write);
  ASSERT_TRUE(f.ok()) << f.error().message;
  ASSERT_TRUE((*f)->truncate(0).ok());
  auto bytes = std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  ASSERT_TRUE((*f)->write_at(0, bytes).ok());
  ASSERT_TRUE((*f)->sync().ok());
  ASSERT_TRUE(fs.sync_directory(dir).ok());
}

base::uuid make_id(uint8_t seed) {
  base::uuid id;
  for (size_t i = 0; i < id.bytes.size(); ++i) id.bytes[i] = static_cast<uint8_t>(seed + i);
  return id;
}

topic_record make_topic(const std::string& name, uint8_t seed, int32_t partitions = 3) {
  topic_record topic;
  topic.name = name;
  topic.id = make_id(seed);
  topic.partition_count = partitions;
  topic.replication_factor = 1;
  return topic;
}

class FileMetadataStore : public ::testing::Test {
 protected:
  std::unique_ptr<file_metadata_store> open_store(int32_t node_id = 1) {
    auto opened = file_metadata_store::open(fs, dir, node_id);
    EXPECT_TRUE(opened.ok()) << opened.error().message;
    return opened.ok() ? std::move(*opened) : nullptr;
  }

  fault_injecting_file_system fs;
};

TEST_F(FileMetadataStore, FirstOpenMakesAClusterIdAndMetaProperties) {
  auto store = open_store(7);
  ASSERT_TRUE(store);
  EXPECT_EQ(store->cluster_id().size(), 22u);
  EXPECT_NE(store->cluster_id().front(), '-');
  EXPECT_TRUE(store->topics().empty());
  std::string meta = read_file(fs, meta_properties_path);
  EXPECT_EQ(meta.front(), '#');
  EXPECT_NE(meta.find("\nversion=1\n"), std::string::npos) << meta;
  EXPECT_NE(meta.find("\nnode.id=7\n"), std::string::npos) << meta;
  EXPECT_NE(meta.find("\ncluster.id=" + store->cluster_id() + "\n"), std::string::npos) << meta;
  EXPECT_TRUE(fs.exists(metadata_path).value());

  // Both files are durable: a crash right after the first open keeps them.
  const std::string cluster_id = store->cluster_id();
  store.reset();
  fs.crash();
  auto reopened = open_store(7);
  ASSERT_TRUE(reopened);
  EXPECT_EQ(reopened->cluster_id(), cluster_id);
}

TEST_F(FileMetadataStore, EveryDirectoryGetsItsOwnClusterId) {
  auto first = open_store();
  auto second = file_metadata_store::open(fs, "/data/other", 1);
  ASSERT_TRUE(first && second.ok());
  EXPECT_NE(first->cluster_id(), (*second)->cluster_id());
}

TEST_F(FileMetadataStore, TopicsArePutReplacedRemovedAndSurviveReopen) {
  auto store = open_store();
  ASSERT_TRUE(store->put_topic(make_topic("orders", 1)).ok());
  ASSERT_TRUE(store->put_topic(make_topic("a.b_c-9", 50, 1)).ok());
  auto payments = make_topic("payments", 100);
  payments.replication_factor = 3;
  payments.configs["retention.ms"] = "1000";
  ASSERT_TRUE(store->put_topic(payments).ok());

  // CreatePartitions: the same name, more partitions.
  auto grown = make_topic("orders", 1, 12);
  grown.configs["cleanup.policy"] = "compact";
  ASSERT_TRUE(store->put_topic(grown).ok());
  ASSERT_TRUE(store->remove_topic("a.b_c-9").ok());

  const std::vector<topic_record> expected = {grown, payments};
  EXPECT_EQ(store->topics(), expected);
  store.reset();
  fs.crash();
  auto reopened = open_store();
  EXPECT_EQ(reopened->topics(), expected);
}

TEST_F(FileMetadataStore, ConfigKeysAndValuesWithAnyBytesSurvive) {
  auto store = open_store();
  auto topic = make_topic("odd", 3);
  topic.configs["spaces"] = "a b  c ";
  topic.configs["newlines"] = "line1\nline2\r\n";
  topic.configs["percent"] = "100% %41 %";
  topic.configs["empty"] = "";
  topic.configs["equals=colon:"] = "x=y:z";
  topic.configs["tab\tkey"] = "\t";
  topic.configs["utf8"] = "caf\xc3\xa9 \xe2\x82\xac";
  topic.configs["nul"] = std::string("a\0b", 3);
  topic.configs["fake-line"] = "\ncrc32c 00000000\ntopic x";
  topic.configs["high"] = "\xff\x80\x7f\x01";
  ASSERT_TRUE(store->put_topic(topic).ok());
  store.reset();
  auto reopened = open_store();
  ASSERT_EQ(reopened->topics().size(), 1u);
  EXPECT_EQ(reopened->topics()[0], topic);
  // Every record stays on its own line.
  std::string text = read_file(fs, metadata_path);
  size_t lines = 0;
  for (char c : text) lines += c == '\n';
  EXPECT_EQ(lines, 6u + 1u + topic.configs.size()) << text;
}

TEST_F(FileMetadataStore, RejectsInvalidTopicsWithoutWriting) {
  auto store = open_store();
  ASSERT_TRUE(store->put_topic(make_topic("orders", 1)).ok());
  const std::string before = read_file(fs, metadata_path);
  auto expect_invalid = [&](const topic_record& topic) {
    auto put = store->put_topic(topic);
    ASSERT_FALSE(put.ok()) << topic.name;
    EXPECT_EQ(put.error().code, EINVAL) << put.error().message;
  };
  expect_invalid(make_topic("", 2));
  expect_invalid(make_topic("has space", 2));
  expect_invalid(make_topic("slash/", 2));
  expect_invalid(make_topic("..", 2));
  expect_invalid(make_topic(std::string(250, 'a'), 2));
  expect_invalid(make_topic("zero-partitions", 2, 0));
  auto no_rf = make_topic("no-rf", 2);
  no_rf.replication_factor = 0;
  expect_invalid(no_rf);
  auto zero_id = make_topic("zero-id", 2);
  zero_id.id = base::uuid{};
  expect_invalid(zero_id);
  auto empty_key = make_topic("empty-key", 2);
  empty_key.configs[""] = "x";
  expect_invalid(empty_key);
  // Another topic's id.
  expect_invalid(make_topic("copy", 1));
  EXPECT_EQ(read_file(fs, metadata_path), before);
  EXPECT_TRUE(store->put_topic(make_topic(std::string(249, 'a'), 2)).ok());
  EXPECT_EQ(store->topics().size(), 2u);

  auto removed = store->remove_topic("missing");
  ASSERT_FALSE(removed.ok());
  EXPECT_EQ(removed.error().code, ENOENT);
}

TEST_F(FileMetadataStore, AnotherNodesDirectoryIsRefused) {
  ASSERT_TRUE(open_store(1));
  auto opened = file_metadata_store::open(fs, dir, 2);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, EINVAL);
  EXPECT_NE(opened.error().message.find("belongs to node 1, not node 2"), std::string::npos)
      << opened.error().message;
  // sluice-metadata names the node too, should meta.properties go missing.
  ASSERT_TRUE(fs.remove(meta_properties_path).ok());
  opened = file_metadata_store::open(fs, dir, 2);
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.error().message.find("belongs to node 1, not node 2"), std::string::npos)
      << opened.error().message;
}

TEST_F(FileMetadataStore, AdoptsMetaPropertiesWrittenByKafka) {
  ASSERT_TRUE(fs.create_directories(dir).ok());
  write_file(fs, meta_properties_path,
             "#\n#Tue Mar 05 10:00:00 UTC 2024\ncluster.id=q1Sh-9_ISia_zwGINzRvyQ\n"
             "directory.id=AAAAAAAAAAAAAAAAAAAAAA\nnode.id=3\nversion=1\n");
  auto store = open_store(3);
  ASSERT_TRUE(store);
  EXPECT_EQ(store->cluster_id(), "q1Sh-9_ISia_zwGINzRvyQ");
  EXPECT_TRUE(fs.exists(metadata_path).value());
  // The file is Kafka's; it is left as it was.
  EXPECT_NE(read_file(fs, meta_properties_path).find("directory.id"), std::string::npos);
  store.reset();
  auto wrong = file_metadata_store::open(fs, dir, 4);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("belongs to node 3, not node 4"), std::string::npos);
}

TEST_F(FileMetadataStore, MissingMetaPropertiesIsWrittenAgain) {
  std::string cluster_id;
  {
    auto store = open_store();
    cluster_id = store->cluster_id();
  }
  ASSERT_TRUE(fs.remove(meta_properties_path).ok());
  auto store = open_store();
  EXPECT_EQ(store->cluster_id(), cluster_id);
  EXPECT_NE(read_file(fs, meta_properties_path).find("cluster.id=" + cluster_id),
            std::string::npos);
}

TEST_F(FileMetadataStore, BadMetaPropertiesAndClusterMismatchFail) {
  ASSERT_TRUE(open_store());
  write_file(fs, meta_properties_path, "version=1\nnode.id=1\ncluster.id=someoneelse\n");
  auto mismatch = file_metadata_store::open(fs, dir, 1);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(mismatch.error().code, EINVAL);
  EXPECT_NE(mismatch.error().message.find("someoneelse"), std::string::npos);

  for (std::string text : {"node.id=1\ncluster.id=x\n", "version=9\nnode.id=1\ncluster.id=x\n",
                           "version=1\nnode.id=one\ncluster.id=x\n", "version=1\nnode.id=1\n"}) {
    write_file(fs, meta_properties_path, text);
    auto opened = file_metadata_store::open(fs, dir, 1);
    ASSERT_FALSE(opened.ok()) << text;
    EXPECT_EQ(opened.error().code, EBADMSG) << opened.error().message;
    EXPECT_NE(opened.error().message.find("meta.properties"), std::string::npos);
  }
}

TEST_F(FileMetadataStore, CorruptOrCutFileIsAnErrorNotAnEmptyStore) {
  {
    auto store = open_store();
    auto topic = make_topic("orders", 1);
    topic.configs["retention.ms"] = "86400000";
    ASSERT_TRUE(store->put_topic(topic).ok());
  }
  const std::string good = read_file(fs, metadata_path);

  // Every single flipped bit is caught, wherever it is.
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] ^= 0x04;
    write_file(fs, metadata_path, bad);
    auto opened = file_metadata_store::open(fs, dir, 1);
    ASSERT_FALSE(opened.ok()) << "byte " << i;
    EXPECT_EQ(opened.error().code, EBADMSG) << opened.error().message;
    EXPECT_NE(opened.error().message.find("sluice-metadata"), std::string::npos);
  }
  // A file cut anywhere is caught.
  for (size_t n = 0; n < good.size(); ++n) {
    write_file(fs, metadata_path, good.substr(0, n));
    auto opened = file_metadata_store::open(fs, dir, 1);
    ASSERT_FALSE(opened.ok()) << "length " << n;
    EXPECT_EQ(opened.error().code, EBADMSG) << opened.error().message;
  }
  // The message says what is wrong.
  std::string flipped = good;
  flipped[good.find("86400000")] = '9';
  write_file(fs, metadata_path, flipped);
  auto corrupt = file_metadata_store::open(fs, dir, 1);
  ASSERT_FALSE(corrupt.ok());
  EXPECT_NE(corrupt.error().message.find("checksum mismatch"), std::string::npos)
      << corrupt.error().message;

  std::string newer = good;
  newer.replace(0, newer.find('\n'), "sluice-metadata 3");
  write_file(fs, metadata_path, newer);
  auto future = file_metadata_store::open(fs, dir, 1);
  ASSERT_FALSE(future.ok());
  EXPECT_NE(future.error().message.find("version 3 is not supported"), std::string::npos)
      << future.error().message;

  write_file(fs, metadata_path, good);
  EXPECT_TRUE(open_store());
}

// A body with the crc32c line the store writes (for files made by hand).
std::string with_crc(const std::string& body) {
  char hex[9];
  std::snprintf(hex, sizeof hex, "%08x", base::crc32c::value(body.data(), body.size()));
  return body + "crc32c " + hex + "\n";
}

TEST_F(FileMetadataStore, BrokerConfigsArePutReplacedRemovedAndSurviveReopen) {
  auto store = open_store();
  EXPECT_TRUE(store->broker_configs().empty());
  ASSERT_TRUE(store->put_topic(make_topic("orders", 1)).ok());
  ASSERT_TRUE(store->put_broker_configs("", {{"log.retention.ms", "1000"}}).ok());
  ASSERT_TRUE(store
                  ->put_broker_configs("1", {{"message.max.bytes", "2097152"},
                                             {"odd key", "a value with spaces, %, and\nnewline"},
                                             {"empty", ""}})
                  .ok());
  // A scope's set is replaced whole.
  ASSERT_TRUE(store->put_broker_configs("", {{"log.segment.bytes", "1048576"}}).ok());
  const std::map<std::string, base::properties> expected = {
      {"", {{"log.segment.bytes", "1048576"}}},
      {"1",
       {{"message.max.bytes", "2097152"},
        {"odd key", "a value with spaces, %, and\nnewline"},
        {"empty", ""}}}};
  EXPECT_EQ(store->broker_configs(), expected);
  std::string text = read_file(fs, metadata_path);
  EXPECT_TRUE(text.starts_with("sluice-metadata 2\n")) << text;
  EXPECT_NE(text.find("\nbroker <default> 1\n"), std::string::npos) << text;

  store.reset();
  fs.crash();
  auto reopened = open_store();
  EXPECT_EQ(reopened->broker_configs(), expected);
  EXPECT_EQ(reopened->topics(), std::vector<topic_record>{make_topic("orders", 1)});

  // Emptied scopes go; without any the file is version 1 again, which the
  // Sluice before dynamic broker configs reads.
  ASSERT_TRUE(reopened->put_broker_configs("", {}).ok());
  ASSERT_TRUE(reopened->put_broker_configs("1", {}).ok());
  EXPECT_TRUE(reopened->broker_configs().empty());
  EXPECT_TRUE(read_file(fs, metadata_path).starts_with("sluice-metadata 1\n"));
  reopened.reset();
  EXPECT_TRUE(open_store()->broker_configs().empty());
}

TEST_F(FileMetadataStore, BrokerConfigScopesAreTheClusterOrANodeId) {
  auto store = open_store();
  for (std::string scope : {"x", "01", "-1", "+1", " 1", "99999999999", "<default>"}) {
    SCOPED_TRACE(scope);
    auto put = store->put_broker_configs(scope, {{"log.retention.ms", "1"}});
    ASSERT_FALSE(put.ok());
    EXPECT_EQ(put.error().code, EINVAL);
  }
  EXPECT_FALSE(store->put_broker_configs("1", {{"", "1"}}).ok());
  EXPECT_TRUE(store->broker_configs().empty());
  EXPECT_TRUE(store->put_broker_configs("0", {{"log.retention.ms", "1"}}).ok());
  EXPECT_TRUE(store->put_broker_configs("2147483647", {{"log.retention.ms", "1"}}).ok());
}

// A file as the Sluice before dynamic broker configs wrote it (version 1)
// opens unchanged; version 2 adds the broker.configs section.
TEST_F(FileMetadataStore, ReadsEveryVersionItWrote) {
  const std::string v1 = with_crc(
      "sluice-metadata 1\n"
      "node.id 1\n"
      "cluster.id MkU3OEVBNTcwNTJENDM2Qk\n"
      "next.producer.id 4000\n"
      "topics 1\n"
      "topic orders 000102030405060708090a0b0c0d0e0f 3 1 1\n"
      "config cleanup.policy compact\n");
  ASSERT_TRUE(storage::create_durable_directory(fs, dir).ok());
  write_file(fs, metadata_path, v1);
  {
    auto store = open_store();
    ASSERT_TRUE(store);
    EXPECT_EQ(store->cluster_id(), "MkU3OEVBNTcwNTJENDM2Qk");
    ASSERT_EQ(store->topics().size(), 1u);
    EXPECT_EQ(store->topics()[0].configs.at("cleanup.policy"), "compact");
    EXPECT_TRUE(store->broker_configs().empty());
  }
  const std::string v2 = with_crc(
      "sluice-metadata 2\n"
      "node.id 1\n"
      "cluster.id MkU3OEVBNTcwNTJENDM2Qk\n"
      "next.producer.id 4000\n"
      "topics 0\n"
      "broker.configs 2\n"
      "broker 1 1\n"
      "config log.retention.ms 2000\n"
      "broker <default> 2\n"
      "config compression.type gzip\n"
      "config log.retention.ms 1000\n");
  write_file(fs, metadata_path, v2);
  {
    auto store = open_store();
    ASSERT_TRUE(store);
    const std::map<std::string, base::properties> expected = {
        {"", {{"compression.type", "gzip"}, {"log.retention.ms", "1000"}}},
        {"1", {{"log.retention.ms", "2000"}}}};
    EXPECT_EQ(store->broker_configs(), expected);
  }
  // What a version 2 file may not hold.
  const std::string head =
      "sluice-metadata 2\nnode.id 1\ncluster.id MkU3OEVBNTcwNTJENDM2Qk\nnext.producer.id 0\n"
      "topics 0\n";
  for (std::string bad :
       {"", "broker.configs 1\n", "broker.configs 1\nbroker x 1\nconfig a b\n",
        "broker.configs 1\nbroker  1\nconfig a b\n", "broker.configs 1\nbroker 1 0\n",
        "broker.configs 1\nbroker 1 2\nconfig a b\n",
        "broker.configs 2\nbroker 1 1\nconfig a b\nbroker 1 1\nconfig a c\n",
        "broker.configs 1\nbroker 1 1\nconfig a b\nextra\n"}) {
    SCOPED_TRACE(bad);
    write_file(fs, metadata_path, with_crc(head + bad));
    auto opened = file_metadata_store::open(fs, dir, 1);
    ASSERT_FALSE(opened.ok());
    EXPECT_EQ(opened.error().code, EBADMSG) << opened.error().message;
  }
}

// The state after an interrupted change, read by a fresh open after power
// loss, is the one before the change or the one after: never a mix, never an
// error, never empty.
TEST_F(FileMetadataStore, CrashDuringAChangeLeavesTheOldOrTheNewState) {
  struct fault {
    operation op;
    std::string path;
  };
  const std::vector<fault> faults = {
      {operation::open, "sluice-metadata.tmp"},  {operation::truncate, "sluice-metadata.tmp"},
      {operation::write, "sluice-metadata.tmp"}, {operation::sync, "sluice-metadata.tmp"},
      {operation::rename, "sluice-metadata"},    {operation::sync_directory, dir},
  };
  for (size_t f = 0; f < faults.size(); ++f) {
    for (int crash = 0; crash < 2; ++crash) {
      SCOPED_TRACE("fault " + std::to_string(f) + (crash ? " then crash" : ""));
      fault_injecting_file_system disk;
      std::vector<topic_record> old_state;
      {
        auto opened = file_metadata_store::open(disk, dir, 1);
        ASSERT_TRUE(opened.ok());
        auto& store = **opened;
        auto topic = make_topic("orders", 1);
        topic.configs["retention.ms"] = "1";
        ASSERT_TRUE(store.put_topic(topic).ok());
        ASSERT_TRUE(store.put_topic(make_topic("payments", 40)).ok());
        old_state = store.topics();

        disk.fail_next(faults[f].op, EIO, 1, faults[f].path);
        auto grown = make_topic("orders", 1, 30);
        grown.configs["retention.ms"] = "2";
        grown.configs["cleanup.policy"] = "compact";
        auto put = store.put_topic(grown);
        ASSERT_FALSE(put.ok());
        EXPECT_EQ(put.error().code, EIO);
        // A failed change is not applied.
        EXPECT_EQ(store.topics(), old_state);
      }
      std::vector<topic_record> new_state = old_state;
      new_state[0].partition_count = 30;
      new_state[0].configs = {{"cleanup.policy", "compact"}, {"retention.ms", "2"}};

      if (crash) disk.crash(f);
      auto reopened = file_metadata_store::open(disk, dir, 1);
      ASSERT_TRUE(reopened.ok()) << reopened.error().message;
      auto topics = (*reopened)->topics();
      EXPECT_TRUE(topics == old_state || topics == new_state);
      if (crash) {
        EXPECT_EQ(topics, old_state);  // the rename was never durable
      }
      // And it takes the next change.
      EXPECT_TRUE((*reopened)->remove_topic("payments").ok());
    }
  }
}

TEST_F(FileMetadataStore, ProducerIdsNeverRepeatAcrossRestartsAndCrashes) {
  std::set<int64_t> handed_out;
  auto take = [&](file_metadata_store& store, int64_t count) {
    auto first = store.allocate_producer_ids(count);
    ASSERT_TRUE(first.ok()) << first.error().message;
    for (int64_t id = *first; id < *first + count; ++id) {
      EXPECT_TRUE(handed_out.insert(id).second) << "producer id " << id << " handed out twice";
    }
  };
  {
    auto store = open_store();
    auto first = store->allocate_producer_ids(1000);
    ASSERT_TRUE(first.ok());
    EXPECT_EQ(*first, 0);
    for (int64_t id = 0; id < 1000; ++id) handed_out.insert(id);
    take(*store, 1);
    take(*store, 5);
  }
  for (int round = 0; round < 5; ++round) {
    auto store = open_store();
    take(*store, 1000);
    // A failed allocation hands out nothing; the next one still starts past
    // everything handed out.
    fs.fail_next(operation::sync, EIO, 1, "sluice-metadata.tmp");
    auto failed = store->allocate_producer_ids(10);
    ASSERT_FALSE(failed.ok());
    take(*store, 7);
    fs.crash(round);
  }
  auto store = open_store();
  EXPECT_EQ(store->allocate_producer_ids(0).error().code, EINVAL);
  EXPECT_EQ(store->allocate_producer_ids(-1).error().code, EINVAL);
  take(*store, 1);
}

TEST_F(FileMetadataStore, StrayTmpFileFromAnEarlierCrashIsHarmless) {
  {
    auto store = open_store();
    ASSERT_TRUE(store->put_topic(make_topic("orders", 1)).ok());
  }
  write_file(fs, metadata_path + ".tmp", std::string(10000, 'x'));
  auto store = open_store();
  ASSERT_EQ(store->topics().size(), 1u);
  ASSERT_TRUE(store->put_topic(make_topic("payments", 40)).ok());
  store.reset();
  EXPECT_EQ(open_store()->topics().size(), 2u);
}

}  // namespace
}  // namespace sluice::cluster
