#!/usr/bin/python3
"""confluent-kafka-python (librdkafka) against sluice: idempotent acks=all
producing, assign() consumers from the beginning and from the end, acks 0 and
1, codecs, headers, timestamps, and the AdminClient."""

import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

from confluent_kafka import (OFFSET_END, KafkaError,  # noqa: E402
                             KafkaException, Producer, TopicPartition)
from confluent_kafka.admin import ConfigResource, NewPartitions, NewTopic  # noqa: E402

TIMEOUT = 30


class DeliveryLog:
    """Collects delivery reports; fails the test on any error."""

    def __init__(self):
        self.ok = []      # (partition, offset, key, value)
        self.errors = []  # (KafkaError, key)

    def __call__(self, err, msg):
        if err is not None:
            self.errors.append((err, msg.key()))
        else:
            self.ok.append((msg.partition(), msg.offset(), msg.key(), msg.value()))


def producer(bootstrap, **extra):
    conf = {"bootstrap.servers": bootstrap, "linger.ms": 5, "message.timeout.ms": 30000}
    conf.update(extra)
    return Producer(conf)


def flush(test, p, dr, expected):
    remaining = p.flush(TIMEOUT)
    test.assertEqual(remaining, 0, "%d messages still undelivered after %d s" % (remaining, TIMEOUT))
    test.assertEqual(dr.errors[:5], [], "%d delivery errors" % len(dr.errors))
    test.assertEqual(len(dr.ok), expected)


class ConfluentKafkaTest(harness.BrokerTestCase):
    BROKER_NAME = "confluent"
    BROKER_ADMIN = True

    # --- produce / consume --------------------------------------------------------

    def test_idempotent_acks_all_then_consume_from_beginning(self):
        topic = "ck-idempotent"
        harness.create_topic(self.bootstrap, topic, partitions=3)
        n = 5000
        dr = DeliveryLog()
        p = producer(self.bootstrap, **{"acks": "all", "enable.idempotence": True})
        sent = {}
        for i in range(n):
            key = b"k%d" % (i % 37)
            value = b"value-%05d-" % i + bytes(range(256))[: i % 256]
            headers = [("seq", b"%d" % i), ("empty", b"")] if i % 10 == 0 else None
            sent[value] = (key, headers)
            p.produce(topic, value=value, key=key, headers=headers, on_delivery=dr)
            p.poll(0)
        flush(self, p, dr, n)

        # Offsets in the delivery reports: 0..k-1 in each partition.
        by_part = {}
        for part, off, key, value in dr.ok:
            by_part.setdefault(part, []).append(off)
        for part, offs in by_part.items():
            self.assertEqual(sorted(offs), list(range(len(offs))), "offsets of partition %d" % part)

        msgs = harness.ck_read_all(self.bootstrap, topic)
        self.assertEqual(len(msgs), n)
        delivered = {(part, off): (key, value) for part, off, key, value in dr.ok}
        for m in msgs:
            where = (m.partition(), m.offset())
            self.assertIn(where, delivered, "message at %s was never delivered" % (where,))
            self.assertEqual((m.key(), m.value()), delivered[where], "content at %s" % (where,))
            key, headers = sent[m.value()]
            self.assertEqual(m.headers(), headers, "headers at %s" % (where,))
            ts_type, ts = m.timestamp()
            self.assertEqual(ts_type, 1, "timestamp type at %s (1 = CreateTime)" % (where,))
            self.assertGreater(ts, 0)

    def test_acks_all_without_linger_many_requests_in_flight(self):
        # One record a request, thousands in flight on one connection: the
        # broker answers them in order, gathering the answers one fsync
        # covered into one write. Every report must carry its own offset.
        topic = "ck-acks-all-in-flight"
        harness.create_topic(self.bootstrap, topic, partitions=6)
        n = 20000
        dr = DeliveryLog()
        p = producer(self.bootstrap, **{"acks": "all", "linger.ms": 0,
                                        "enable.idempotence": False,
                                        "max.in.flight.requests.per.connection": 1000})
        for i in range(n):
            p.produce(topic, value=b"in-flight-%d" % i, partition=i % 6, on_delivery=dr)
            p.poll(0)
        flush(self, p, dr, n)
        delivered = {}
        for part, off, _, value in dr.ok:
            delivered.setdefault(part, []).append((off, value))
        for part in range(6):
            offsets = sorted(off for off, _ in delivered[part])
            self.assertEqual(offsets, list(range(n // 6 + (part < n % 6))), "partition %d" % part)
        where = {(part, off): value for part, pairs in delivered.items() for off, value in pairs}
        msgs = harness.ck_read_all(self.bootstrap, topic)
        self.assertEqual(len(msgs), n)
        for m in msgs:
            self.assertEqual(m.value(), where[(m.partition(), m.offset())])

    def test_consume_from_end_sees_only_new_messages(self):
        topic = "ck-from-end"
        harness.create_topic(self.bootstrap, topic, partitions=2)
        dr = DeliveryLog()
        p = producer(self.bootstrap, acks="all")
        for i in range(200):
            p.produce(topic, value=b"old-%d" % i, key=b"%d" % i, on_delivery=dr)
        flush(self, p, dr, 200)

        c = harness.ck_consumer(self.bootstrap)
        try:
            tps = [TopicPartition(topic, 0, OFFSET_END), TopicPartition(topic, 1, OFFSET_END)]
            c.assign(tps)

            # Wait until the logical END is resolved and fetching: the cached
            # high watermarks come from the fetch responses. (position() stays
            # invalid until a message reaches the application.)
            def fetching():
                self.assertEqual(c.consume(num_messages=100, timeout=0.1), [],
                                 "a message before anything new was produced")
                hws = [c.get_watermark_offsets(TopicPartition(topic, q), cached=True) for q in (0, 1)]
                return all(hi >= 0 for _, hi in hws) and hws
            hws = harness.wait_until(fetching, 20, interval=0.05, what="fetching from OFFSET_END")
            self.assertEqual(sum(hi for _, hi in hws), 200)

            dr2 = DeliveryLog()
            for i in range(75):
                p.produce(topic, value=b"new-%d" % i, key=b"%d" % i, on_delivery=dr2)
            flush(self, p, dr2, 75)
            msgs = harness.ck_consume(c, 75, TIMEOUT, settle=1.0)
            values = sorted(m.value() for m in msgs)
            self.assertEqual(values, sorted(b"new-%d" % i for i in range(75)))
        finally:
            c.close()

    def test_consume_while_producing_across_segment_rolls(self):
        # Records of 4 KiB and more are sent from the active segment mapped
        # into memory, and copied from sealed segments and from behind the
        # mapped window. A consumer that keeps up while segments of 1 MiB
        # roll under it, and one that reads everything afterwards, must both
        # get every record, byte for byte and in order.
        topic = "ck-rolling"
        harness.create_topic(self.bootstrap, topic, partitions=2,
                             config={"segment.bytes": str(1 << 20)})
        n = 3000

        def value(i):
            return (b"%06d" % i) * 700  # 4.2 KB

        c = harness.ck_consumer(self.bootstrap)
        try:
            c.assign([TopicPartition(topic, q, 0) for q in (0, 1)])
            dr = DeliveryLog()
            p = producer(self.bootstrap, acks="1")
            live = []
            for i in range(n):
                p.produce(topic, value=value(i), key=b"%d" % (i % 2), partition=i % 2,
                          on_delivery=dr)
                p.poll(0)
                if i % 100 == 99:
                    live += c.consume(num_messages=1000, timeout=0.05)
            flush(self, p, dr, n)
            live += harness.ck_consume(c, n - len(live), TIMEOUT)
        finally:
            c.close()
        self.assertFalse([m.error() for m in live if m.error()])
        afterwards = harness.ck_read_all(self.bootstrap, topic)
        for msgs in (live, afterwards):
            self.assertEqual(len(msgs), n)
            for q in (0, 1):
                got = [(m.offset(), m.value()) for m in msgs if m.partition() == q]
                self.assertEqual(got, [(k, value(2 * k + q)) for k in range(n // 2)],
                                 "partition %d" % q)

    def test_acks_0_and_1(self):
        topic = "ck-acks"
        harness.create_topic(self.bootstrap, topic, partitions=1)
        for acks, tag in (("1", b"one"), ("0", b"zero")):
            dr = DeliveryLog()
            p = producer(self.bootstrap, acks=acks)
            for i in range(500):
                p.produce(topic, value=b"%s-%d" % (tag, i), on_delivery=dr)
            flush(self, p, dr, 500)
            if acks == "1":
                self.assertEqual(sorted(off for _, off, _, _ in dr.ok), list(range(500)))
        # acks=0 has no answer: wait until the broker has all of them.
        c = harness.ck_consumer(self.bootstrap)
        try:
            harness.wait_until(
                lambda: c.get_watermark_offsets(TopicPartition(topic, 0), timeout=5)[1] >= 1000,
                20, what="the acks=0 messages to arrive")
            self.assertEqual(c.get_watermark_offsets(TopicPartition(topic, 0), timeout=5), (0, 1000))
        finally:
            c.close()
        msgs = harness.ck_read_all(self.bootstrap, topic)
        self.assertEqual([m.value() for m in msgs],
                         [b"one-%d" % i for i in range(500)] + [b"zero-%d" % i for i in range(500)])

    def test_codecs(self):
        topic = "ck-codecs"
        harness.create_topic(self.bootstrap, topic, partitions=1)
        expected = []
        for codec in ("none", "gzip", "snappy", "lz4", "zstd"):
            dr = DeliveryLog()
            p = producer(self.bootstrap, **{"compression.type": codec, "acks": "all",
                                            "enable.idempotence": True, "linger.ms": 50})
            for i in range(1000):
                v = b"%s %d " % (codec.encode(), i) * (1 + i % 20)
                expected.append(v)
                p.produce(topic, value=v, on_delivery=dr)
            flush(self, p, dr, 1000)
        msgs = harness.ck_read_all(self.bootstrap, topic)
        self.assertEqual([m.value() for m in msgs], expected)

    def test_timestamps_and_list_offsets(self):
        topic = "ck-times"
        harness.create_topic(self.bootstrap, topic, partitions=1)
        base = 1_600_000_000_000
        dr = DeliveryLog()
        p = producer(self.bootstrap, acks="all")
        for i in range(100):
            p.produce(topic, value=b"t%d" % i, partition=0, timestamp=base + i * 1000, on_delivery=dr)
            if i % 10 == 9:
                p.flush(TIMEOUT)  # several batches, so the time index has entries
        flush(self, p, dr, 100)
        c = harness.ck_consumer(self.bootstrap)
        try:
            tp = TopicPartition(topic, 0)
            self.assertEqual(c.get_watermark_offsets(tp, timeout=10), (0, 100))
            for ts, want in ((base - 1, 0), (base, 0), (base + 1, 1), (base + 37_000, 37),
                             (base + 99_000, 99), (base + 99_001, -1)):
                got = c.offsets_for_times([TopicPartition(topic, 0, ts)], timeout=10)[0]
                self.assertIsNone(got.error)
                self.assertEqual(got.offset, want, "offsets_for_times(%d)" % ts)
            c.assign([TopicPartition(topic, 0, 37)])
            msgs = harness.ck_consume(c, 63, TIMEOUT, settle=0.5)
            self.assertEqual([m.offset() for m in msgs], list(range(37, 100)))
            self.assertEqual([m.timestamp() for m in msgs], [(1, base + i * 1000) for i in range(37, 100)])
        finally:
            c.close()

    def test_fetch_out_of_range(self):
        topic = "ck-range"
        harness.create_topic(self.bootstrap, topic, partitions=1)
        dr = DeliveryLog()
        p = producer(self.bootstrap, acks="all")
        for i in range(10):
            p.produce(topic, value=b"r%d" % i, on_delivery=dr)
        flush(self, p, dr, 10)
        # auto.offset.reset=error: the OFFSET_OUT_OF_RANGE of the broker surfaces.
        c = harness.ck_consumer(self.bootstrap, **{"auto.offset.reset": "error"})
        try:
            c.assign([TopicPartition(topic, 0, 50)])
            deadline = time.monotonic() + 20
            err = None
            while err is None and time.monotonic() < deadline:
                for m in c.consume(num_messages=10, timeout=0.2):
                    self.assertIsNotNone(m.error(), "a message at %d past the end" % m.offset())
                    if m.error().code() != KafkaError._PARTITION_EOF:
                        err = m.error()
            self.assertIsNotNone(err, "no error for a fetch past the log end")
            self.assertIn(err.code(), (KafkaError._AUTO_OFFSET_RESET, KafkaError.OFFSET_OUT_OF_RANGE),
                          str(err))
        finally:
            c.close()

    # --- admin --------------------------------------------------------------------

    def wait_topic(self, topic, present, partitions=None):
        def check():
            md = self.admin.list_topics(timeout=5)
            t = md.topics.get(topic)
            if not present:
                return t is None or t.error is not None
            return t is not None and t.error is None and (
                partitions is None or len(t.partitions) == partitions)
        harness.wait_until(check, 20, what="topic %s %s" % (
            topic, ("with %s partitions" % partitions) if present else "to disappear"))

    def admin_error(self, futures, key):
        with self.assertRaises(KafkaException) as cm:
            futures[key].result(timeout=TIMEOUT)
        return cm.exception.args[0].code()

    def test_admin_create_list_partitions_delete(self):
        topic = "ck-admin"
        fs = self.admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1,
                                                config={"retention.ms": "3600000"})],
                                      request_timeout=TIMEOUT)
        self.assertIsNone(fs[topic].result(timeout=TIMEOUT))
        self.wait_topic(topic, True, 2)
        md = self.admin.list_topics(timeout=10)
        self.assertEqual(sorted(md.brokers), [1])
        self.assertEqual((md.brokers[1].host, md.brokers[1].port), ("127.0.0.1", self.broker.port))
        self.assertEqual(md.controller_id, 1)
        for part in md.topics[topic].partitions.values():
            self.assertEqual((part.leader, list(part.replicas), list(part.isrs)), (1, [1], [1]))

        # Again: TOPIC_ALREADY_EXISTS.
        fs = self.admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
        self.assertEqual(self.admin_error(fs, topic), KafkaError.TOPIC_ALREADY_EXISTS)

        # Grow to 4 partitions, then a message in the new partition 3.
        fs = self.admin.create_partitions([NewPartitions(topic, 4)], request_timeout=TIMEOUT)
        self.assertIsNone(fs[topic].result(timeout=TIMEOUT))
        self.wait_topic(topic, True, 4)
        # Shrinking is refused.
        fs = self.admin.create_partitions([NewPartitions(topic, 3)])
        self.assertEqual(self.admin_error(fs, topic), KafkaError.INVALID_PARTITIONS)

        dr = DeliveryLog()
        p = producer(self.bootstrap, acks="all", **{"topic.metadata.refresh.interval.ms": 500})
        p.produce(topic, value=b"in-3", partition=3, on_delivery=dr)
        flush(self, p, dr, 1)
        self.assertEqual(dr.ok[0][:2], (3, 0))

        fs = self.admin.delete_topics([topic], request_timeout=TIMEOUT)
        self.assertIsNone(fs[topic].result(timeout=TIMEOUT))
        self.wait_topic(topic, False)
        fs = self.admin.delete_topics(["ck-no-such-topic"], request_timeout=TIMEOUT)
        self.assertEqual(self.admin_error(fs, "ck-no-such-topic"), KafkaError.UNKNOWN_TOPIC_OR_PART)

        # The name can be used again, empty.
        harness.create_topic(self.bootstrap, topic, partitions=1)
        c = harness.ck_consumer(self.bootstrap)
        try:
            self.assertEqual(c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10), (0, 0))
        finally:
            c.close()

    def test_admin_validate_only(self):
        topic = "ck-validate-only"
        fs = self.admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)],
                                      validate_only=True, request_timeout=TIMEOUT)
        self.assertIsNone(fs[topic].result(timeout=TIMEOUT))
        time.sleep(0.5)
        md = self.admin.list_topics(timeout=10)
        self.assertNotIn(topic, md.topics, "validate_only created the topic")

    def describe(self, restype, name):
        res = ConfigResource(restype, name)
        fs = self.admin.describe_configs([res], request_timeout=TIMEOUT)
        return fs[res].result(timeout=TIMEOUT)

    def test_admin_configs(self):
        topic = "ck-configs"
        harness.create_topic(self.bootstrap, topic, partitions=1,
                             config={"retention.ms": "3600000", "cleanup.policy": "delete"})
        cfg = self.describe(ConfigResource.Type.TOPIC, topic)
        self.assertEqual(cfg["retention.ms"].value, "3600000")
        self.assertFalse(cfg["retention.ms"].is_default)
        for name in ("segment.bytes", "cleanup.policy", "max.message.bytes",
                     "message.timestamp.type", "compression.type"):
            self.assertIn(name, cfg, "topic config %s is not described" % name)

        broker_cfg = self.describe(ConfigResource.Type.BROKER, "1")
        self.assertIn("log.dirs", broker_cfg)
        self.assertEqual(broker_cfg["log.dirs"].value, self.broker.data_dir)

        # AlterConfigs (the whole set of the resource's dynamic configs).
        res = ConfigResource(ConfigResource.Type.TOPIC, topic,
                             set_config={"retention.ms": "7200000", "cleanup.policy": "delete"})
        fs = self.admin.alter_configs([res], request_timeout=TIMEOUT)
        self.assertIsNone(fs[res].result(timeout=TIMEOUT))
        cfg = self.describe(ConfigResource.Type.TOPIC, topic)
        self.assertEqual(cfg["retention.ms"].value, "7200000")

        # An unknown topic is an error for describe.
        res = ConfigResource(ConfigResource.Type.TOPIC, "ck-no-such-topic")
        fs = self.admin.describe_configs([res], request_timeout=TIMEOUT)
        with self.assertRaises(KafkaException):
            fs[res].result(timeout=TIMEOUT)

    def test_admin_incremental_alter_configs(self):
        if not hasattr(self.admin, "incremental_alter_configs"):
            self.skipTest("confluent_kafka %s has no incremental_alter_configs"
                          % __import__("confluent_kafka").version()[0])
        from confluent_kafka.admin import AlterConfigOpType, ConfigEntry
        topic = "ck-incremental"
        harness.create_topic(self.bootstrap, topic, partitions=1, config={"retention.ms": "3600000"})
        res = ConfigResource(ConfigResource.Type.TOPIC, topic, incremental_configs=[
            ConfigEntry("segment.ms", "600000", incremental_operation=AlterConfigOpType.SET)])
        fs = self.admin.incremental_alter_configs([res])
        fs[res].result(timeout=TIMEOUT)
        cfg = self.describe(ConfigResource.Type.TOPIC, topic)
        self.assertEqual(cfg["segment.ms"].value, "600000")
        self.assertEqual(cfg["retention.ms"].value, "3600000")

    def test_admin_delete_records(self):
        if not hasattr(self.admin, "delete_records"):
            self.skipTest("confluent_kafka %s has no delete_records (test_kafkajs covers DeleteRecords)"
                          % __import__("confluent_kafka").version()[0])
        topic = "ck-delete-records"
        harness.create_topic(self.bootstrap, topic, partitions=1)
        dr = DeliveryLog()
        p = producer(self.bootstrap, acks="all")
        for i in range(100):
            p.produce(topic, value=b"d%d" % i, on_delivery=dr)
        flush(self, p, dr, 100)
        fs = self.admin.delete_records([TopicPartition(topic, 0, 40)])
        for f in fs.values():
            f.result(timeout=TIMEOUT)
        msgs = harness.ck_read_all(self.bootstrap, topic)
        self.assertEqual([m.offset() for m in msgs], list(range(40, 100)))


if __name__ == "__main__":
    harness.main()
