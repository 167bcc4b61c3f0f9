#!/usr/bin/python3
"""kafka-python (a pure-Python client that probes the broker's versions) against
sluice: producer/consumer round trip with assign() and seeks, and the
KafkaAdminClient."""

import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition  # noqa: E402
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic  # noqa: E402
from kafka import errors as Errors  # noqa: E402

TIMEOUT = 30
TIMEOUT_MS = TIMEOUT * 1000


def consume(consumer, count, timeout, settle=0.0):
    """ConsumerRecords until `count` arrived (bounded), then `settle` seconds more."""
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < count and time.monotonic() < deadline:
        for recs in consumer.poll(timeout_ms=200, max_records=1000).values():
            out.extend(recs)
    end = time.monotonic() + settle
    while time.monotonic() < end:
        for recs in consumer.poll(timeout_ms=200, max_records=1000).values():
            out.extend(recs)
    return out


class KafkaPythonTest(harness.BrokerTestCase):
    BROKER_NAME = "kafka-python"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = KafkaAdminClient(bootstrap_servers=[cls.bootstrap], client_id="sluice-it-admin",
                                     request_timeout_ms=TIMEOUT_MS)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.admin.close()
        finally:
            super().tearDownClass()

    def producer(self, **kw):
        conf = dict(bootstrap_servers=[self.bootstrap], acks="all", linger_ms=5,
                    request_timeout_ms=TIMEOUT_MS, max_block_ms=TIMEOUT_MS)
        conf.update(kw)
        return KafkaProducer(**conf)

    def consumer(self, **kw):
        conf = dict(bootstrap_servers=[self.bootstrap], group_id=None, enable_auto_commit=False,
                    auto_offset_reset="earliest", fetch_max_wait_ms=100,
                    request_timeout_ms=TIMEOUT_MS + 5000)
        conf.update(kw)
        return KafkaConsumer(**conf)

    def test_version_probe(self):
        # kafka-python infers the broker version from ApiVersions; anything
        # older than 0.11 means the broker advertised too little (no headers,
        # no record batches v2).
        p = self.producer()
        try:
            print("kafka-python inferred broker version %s" % (p.config["api_version"],))
            self.assertGreaterEqual(p.config["api_version"], (0, 11), p.config["api_version"])
        finally:
            p.close(timeout=10)

    def roundtrip(self, topic, compression):
        self.admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)],
                                 timeout_ms=TIMEOUT_MS)
        n = 3000
        p = self.producer(compression_type=compression)
        futures = []
        sent = {}
        try:
            for i in range(n):
                key = b"key-%d" % (i % 50)
                value = b"kp-%s-%05d-" % ((compression or "none").encode(), i) + b"." * (i % 100)
                headers = [("i", b"%d" % i)]
                sent[value] = (key, headers)
                futures.append(p.send(topic, key=key, value=value, headers=headers))
            p.flush(timeout=TIMEOUT)
            metas = [f.get(timeout=TIMEOUT) for f in futures]
        finally:
            p.close(timeout=10)
        offsets = {}
        for md in metas:
            offsets.setdefault(md.partition, []).append(md.offset)
        for part, offs in offsets.items():
            self.assertEqual(sorted(offs), list(range(len(offs))), "offsets of partition %d" % part)

        c = self.consumer()
        try:
            tps = [TopicPartition(topic, q) for q in range(3)]
            c.assign(tps)
            c.seek_to_beginning()
            recs = consume(c, n, TIMEOUT, settle=0.5)
            self.assertEqual(len(recs), n)
            for r in recs:
                self.assertIn(r.value, sent, "unknown value %r" % r.value[:60])
                key, headers = sent[r.value]
                self.assertEqual(r.key, key)
                self.assertEqual(r.headers, headers)
            per_part = {}
            for r in recs:
                per_part.setdefault(r.partition, []).append(r.offset)
            for part, offs in per_part.items():
                self.assertEqual(offs, list(range(len(offs))), "partition %d order" % part)

            ends = c.end_offsets(tps)
            self.assertEqual(sum(ends.values()), n)
            self.assertEqual(c.beginning_offsets(tps), {tp: 0 for tp in tps})

            # seek back into the middle of partition 0 and read to its end.
            tp0 = tps[0]
            mid = ends[tp0] // 2
            c.seek(tp0, mid)
            c.pause(tps[1], tps[2])
            again = consume(c, ends[tp0] - mid, TIMEOUT, settle=0.3)
            self.assertEqual([r.offset for r in again], list(range(mid, ends[tp0])))
        finally:
            c.close()

    def test_roundtrip_uncompressed(self):
        self.roundtrip("kp-none", None)

    def test_roundtrip_gzip(self):
        self.roundtrip("kp-gzip", "gzip")

    def test_offsets_for_times(self):
        topic = "kp-times"
        self.admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)],
                                 timeout_ms=TIMEOUT_MS)
        base = 1_700_000_000_000
        p = self.producer()
        try:
            fs = [p.send(topic, value=b"t%d" % i, timestamp_ms=base + i * 10) for i in range(50)]
            for f in fs:
                f.get(timeout=TIMEOUT)
        finally:
            p.close(timeout=10)
        c = self.consumer()
        try:
            tp = TopicPartition(topic, 0)
            got = c.offsets_for_times({tp: base + 205})
            self.assertEqual(got[tp].offset, 21)
            self.assertEqual(got[tp].timestamp, base + 210)
            self.assertIsNone(c.offsets_for_times({tp: base + 10_000})[tp])
        finally:
            c.close()

    def test_admin_topics(self):
        topic = "kp-admin"
        resp = self.admin.create_topics(
            [NewTopic(topic, num_partitions=2, replication_factor=1,
                      topic_configs={"retention.ms": "86400000"})], timeout_ms=TIMEOUT_MS)
        self.assertEqual([e[:2] for e in resp.topic_errors], [(topic, 0)])
        harness.wait_until(lambda: topic in self.admin.list_topics(), 20,
                           what="%s in list_topics" % topic)
        with self.assertRaises(Errors.TopicAlreadyExistsError):
            self.admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)],
                                     timeout_ms=TIMEOUT_MS)

        described = self.admin.describe_topics([topic])
        self.assertEqual(len(described), 1)
        self.assertEqual(described[0]["error_code"], 0)
        self.assertEqual(sorted(p["partition"] for p in described[0]["partitions"]), [0, 1])
        for p in described[0]["partitions"]:
            self.assertEqual((p["leader"], p["replicas"], p["isr"]), (1, [1], [1]))

        cluster = self.admin.describe_cluster()
        self.assertEqual(cluster["controller_id"], 1)
        self.assertEqual([(b["node_id"], b["host"], b["port"]) for b in cluster["brokers"]],
                         [(1, "127.0.0.1", self.broker.port)])

        self.admin.create_partitions({topic: NewPartitions(total_count=3)}, timeout_ms=TIMEOUT_MS)
        harness.wait_until(
            lambda: len(self.admin.describe_topics([topic])[0]["partitions"]) == 3, 20,
            what="3 partitions")

        resp = self.admin.delete_topics([topic], timeout_ms=TIMEOUT_MS)
        self.assertEqual([e[:2] for e in resp.topic_error_codes], [(topic, 0)])
        harness.wait_until(lambda: topic not in self.admin.list_topics(), 20,
                           what="%s gone from list_topics" % topic)
        with self.assertRaises(Errors.UnknownTopicOrPartitionError):
            self.admin.delete_topics(["kp-no-such-topic"], timeout_ms=TIMEOUT_MS)

    def test_admin_describe_configs(self):
        topic = "kp-configs"
        self.admin.create_topics(
            [NewTopic(topic, num_partitions=1, replication_factor=1,
                      topic_configs={"retention.ms": "123456789", "cleanup.policy": "delete"})],
            timeout_ms=TIMEOUT_MS)
        resps = self.admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        self.assertEqual(len(resps), 1)
        resources = resps[0].resources
        self.assertEqual(len(resources), 1)
        error_code, error_message, rtype, rname, entries = resources[0][:5]
        self.assertEqual((error_code, rtype, rname), (0, ConfigResourceType.TOPIC.value, topic),
                         error_message)
        configs = {e[0]: e[1] for e in entries}
        self.assertEqual(configs.get("retention.ms"), "123456789")
        self.assertEqual(configs.get("cleanup.policy"), "delete")
        self.assertIn("segment.bytes", configs)

        # Only the named keys.
        resps = self.admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, configs={"retention.ms": None})])
        entries = resps[0].resources[0][4]
        self.assertEqual([(e[0], e[1]) for e in entries], [("retention.ms", "123456789")])

        # The broker's own configs, sent to node 1.
        resps = self.admin.describe_configs([ConfigResource(ConfigResourceType.BROKER, "1")])
        error_code, _, rtype, rname, entries = resps[0].resources[0][:5]
        self.assertEqual((error_code, rname), (0, "1"))
        self.assertIn("log.dirs", {e[0] for e in entries})

        # AlterConfigs, then describe again.
        resp = self.admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic,
                                                        configs={"retention.ms": "1000000"})])
        self.assertEqual([r[0] for r in resp.resources], [0])
        resps = self.admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, configs={"retention.ms": None})])
        self.assertEqual(resps[0].resources[0][4][0][1], "1000000")


if __name__ == "__main__":
    harness.main()
