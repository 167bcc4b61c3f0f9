#!/usr/bin/python3
"""kafkajs (Node.js) against sluice. kafkajs's consumer needs consumer groups,
which sluice does not serve yet, so kafkajs produces and administers, and
confluent_kafka reads back what it wrote."""

import json
import os
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SCRIPT = os.path.join(harness.HERE, "kafkajs_roundtrip.js")
NODE_MODULES = os.path.join(harness.REPO, "tests", "golden", "node_modules")


class KafkajsTest(harness.BrokerTestCase):
    BROKER_NAME = "kafkajs"

    @classmethod
    def setUpClass(cls):
        cls.node = harness.require_tool("node")
        if not os.path.isdir(os.path.join(NODE_MODULES, "kafkajs")):
            raise unittest.SkipTest("kafkajs is not installed in %s (npm ci there)" % NODE_MODULES)
        super().setUpClass()

    def kjs(self, command, **args):
        env = dict(os.environ, NODE_PATH=NODE_MODULES, KAFKAJS_NO_PARTITIONER_WARNING="1")
        cmd = [self.node, SCRIPT, self.broker.bootstrap, command, json.dumps(args)]
        try:
            r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, timeout=120)
        except subprocess.TimeoutExpired as e:
            self.fail("kafkajs %s timed out\n%s" % (command, (e.stderr or b"").decode("utf-8", "replace")[-3000:]))
        err = r.stderr.decode("utf-8", "replace")
        self.assertEqual(r.returncode, 0, "kafkajs %s %s failed (%d):\n%s" % (
            command, json.dumps(args)[:200], r.returncode, err[-3000:]))
        return json.loads(r.stdout.decode("utf-8").strip().splitlines()[-1])

    def test_produce_admin_and_read_back(self):
        topic = "kjs-roundtrip"
        self.assertEqual(self.kjs("create", topic=topic, partitions=3,
                                  configs={"retention.ms": "86400000"}), {"created": True})
        self.assertEqual(self.kjs("create", topic=topic, partitions=3), {"created": False})
        self.assertIn(topic, self.kjs("list")["topics"])
        md = self.kjs("metadata", topics=[topic])["topics"]
        self.assertEqual([t["name"] for t in md], [topic])
        parts = sorted(md[0]["partitions"], key=lambda p: p["partitionId"])
        self.assertEqual([(p["partitionId"], p["leader"], p["replicas"], p["isr"]) for p in parts],
                         [(q, 1, [1], [1]) for q in range(3)])

        cfg = self.kjs("describe-configs", topic=topic)
        entries = {e["configName"]: e["configValue"] for e in cfg["resources"][0]["configEntries"]}
        self.assertEqual(cfg["resources"][0]["errorCode"], 0)
        self.assertEqual(entries.get("retention.ms"), "86400000")

        before_ms = int(time.time() * 1000)
        produced = []
        for tag, compression, idempotent, count in (("plain", "none", False, 1200),
                                                    ("gz", "gzip", False, 800),
                                                    ("idem", "none", True, 500)):
            out = self.kjs("produce", topic=topic, count=count, tag=tag,
                           compression=compression, idempotent=idempotent)
            self.assertEqual(len(out["messages"]), count)
            for res in out["results"]:
                self.assertEqual(res["errorCode"], 0, res)
                self.assertEqual(res["topicName"], topic)
            produced.extend(out["messages"])

        # ListOffsets through kafkajs: high watermarks add up, lows are 0.
        offsets = sorted(self.kjs("offsets", topic=topic), key=lambda o: o["partition"])
        self.assertEqual([o["partition"] for o in offsets], [0, 1, 2])
        self.assertEqual([o["low"] for o in offsets], ["0", "0", "0"])
        per_part = {q: sum(1 for m in produced if m["partition"] == q) for q in range(3)}
        self.assertEqual({o["partition"]: int(o["high"]) for o in offsets}, per_part)
        by_time = self.kjs("offsets-by-time", topic=topic, timestamp=before_ms - 60_000)
        self.assertEqual(sorted((o["partition"], o["offset"]) for o in by_time),
                         [(0, "0"), (1, "0"), (2, "0")])

        # confluent_kafka reads it all back: content, headers, the partition the
        # kafkajs partitioner chose, and produce order within each partition.
        msgs = harness.ck_read_all(self.broker.bootstrap, topic)
        self.assertEqual(len(msgs), len(produced))
        want = {m["value"].encode(): m for m in produced}
        order = {m["value"].encode(): i for i, m in enumerate(produced)}
        last = {}
        for m in msgs:
            self.assertIn(m.value(), want, "unknown message %r" % m.value()[:60])
            w = want[m.value()]
            self.assertEqual(m.key(), w["key"].encode())
            self.assertEqual(m.partition(), w["partition"], "partition of %r" % m.value()[:40])
            self.assertEqual(dict((k, v.decode()) for k, v in (m.headers() or [])), w["headers"])
            i = order[m.value()]
            self.assertGreater(i, last.get(m.partition(), -1), "order in partition %d" % m.partition())
            last[m.partition()] = i

        # DeleteRecords: partition 0 now starts at 10.
        self.assertGreater(per_part[0], 10)
        self.kjs("delete-records", topic=topic, partitions=[{"partition": 0, "offset": "10"}])
        offsets = {o["partition"]: o for o in self.kjs("offsets", topic=topic)}
        self.assertEqual(offsets[0]["low"], "10")
        self.assertEqual(int(offsets[0]["high"]), per_part[0])
        msgs = harness.ck_read_all(self.broker.bootstrap, topic)
        self.assertEqual(len(msgs), len(produced) - 10)
        self.assertEqual(min(m.offset() for m in msgs if m.partition() == 0), 10)

        self.kjs("delete", topics=[topic])
        harness.wait_until(lambda: topic not in self.kjs("list")["topics"], 30,
                           interval=0.5, what="%s gone from listTopics" % topic)

    def test_create_and_delete_many(self):
        names = ["kjs-many-%d" % i for i in range(10)]
        for i, name in enumerate(names):
            self.assertEqual(self.kjs("create", topic=name, partitions=1 + i % 4), {"created": True})
        listed = set(self.kjs("list")["topics"])
        self.assertTrue(set(names) <= listed, sorted(set(names) - listed))
        md = {t["name"]: len(t["partitions"]) for t in self.kjs("metadata", topics=names)["topics"]}
        self.assertEqual(md, {name: 1 + i % 4 for i, name in enumerate(names)})
        self.kjs("delete", topics=names)
        harness.wait_until(lambda: not (set(names) & set(self.kjs("list")["topics"])), 30,
                           interval=0.5, what="the topics to be gone")


if __name__ == "__main__":
    harness.main()
