#!/usr/bin/python3
"""kcat (librdkafka) against sluice: metadata, 100,000 keyed messages with each
codec into a 3-partition topic, consumed back byte for byte from the beginning,
from an offset and from a timestamp."""

import json
import os
import subprocess
import sys
import time
import unittest
import zlib

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
MESSAGES = 100_000
PHASE1 = 60_000          # produced before the timestamp mark, the rest after it
PARTITIONS = 3
KEYS = 997               # distinct keys; each one is used ~100 times
FROM_OFFSET = 1000       # the -o N case
KCAT_TIMEOUT_S = 90
FMT = "%p %o %T %K %S:%k%s\n"


def key_of(i):
    return b"key-%03d" % (i % KEYS)


def value_of(codec, i):
    # Printable bytes only (kcat splits input on '\n' and key from value on the
    # first ':'); varied lengths and content, compressible but not constant.
    # Values contain ':' after the first, which must survive as is.
    n = (i * 7919) % 300
    body = bytes(33 + ((i * 31 + j * 17) % 94) for j in range(n % 61))
    return b"%s|%06d|x:y|%s|%s" % (codec.encode(), i, body, b"z" * (n // 3))


def parse_kcat(out):
    """Parses kcat -f FMT output into (partition, offset, timestamp, key, value)."""
    recs = []
    pos = 0
    end = len(out)
    while pos < end:
        colon = out.index(b":", pos)
        p, o, t, kl, vl = (int(x) for x in out[pos:colon].split(b" "))
        pos = colon + 1
        key = None
        if kl >= 0:
            key = out[pos:pos + kl]
            pos += kl
        val = None
        if vl >= 0:
            val = out[pos:pos + vl]
            pos += vl
        if out[pos:pos + 1] != b"\n":
            raise AssertionError("kcat output does not parse at byte %d: %r"
                                 % (pos, out[pos - 40:pos + 40]))
        pos += 1
        recs.append((p, o, t, key, val))
    return recs


class KcatTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.kcat = harness.require_tool("kcat")
        cls.broker = harness.Broker(name="kcat").start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()  # must exit 0 on SIGTERM

    def run_kcat(self, args, stdin=None, timeout=KCAT_TIMEOUT_S):
        cmd = [self.kcat, "-b", self.broker.bootstrap] + args
        try:
            r = subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            self.fail("kcat timed out after %d s: %s\nstderr: %s" % (
                timeout, " ".join(cmd), (e.stderr or b"")[-3000:].decode("utf-8", "replace")))
        self.assertEqual(r.returncode, 0, "kcat failed (%d): %s\nstderr: %s" % (
            r.returncode, " ".join(cmd), r.stderr[-3000:].decode("utf-8", "replace")))
        return r

    def consume(self, topic, offset):
        r = self.run_kcat(["-C", "-t", topic, "-o", offset, "-e", "-q", "-f", FMT,
                           "-X", "fetch.wait.max.ms=100"])
        return parse_kcat(r.stdout)

    def test_metadata(self):
        topic = "kcat-metadata"
        harness.create_topic(self.broker.bootstrap, topic, partitions=PARTITIONS)
        r = self.run_kcat(["-L"])
        text = r.stdout.decode("utf-8", "replace")
        self.assertIn("1 brokers:", text)
        self.assertIn("broker 1 at %s" % self.broker.bootstrap, text)
        self.assertIn('topic "%s" with %d partitions:' % (topic, PARTITIONS), text)
        for p in range(PARTITIONS):
            self.assertIn("partition %d, leader 1," % p, text)

        r = self.run_kcat(["-L", "-J", "-t", topic])
        md = json.loads(r.stdout)
        self.assertEqual([b["id"] for b in md["brokers"]], [1])
        self.assertEqual(md["brokers"][0]["name"], self.broker.bootstrap)
        self.assertEqual(md["controllerid"], 1)
        topics = {t["topic"]: t for t in md["topics"]}
        self.assertIn(topic, topics)
        parts = sorted(topics[topic]["partitions"], key=lambda p: p["partition"])
        self.assertEqual([p["partition"] for p in parts], list(range(PARTITIONS)))
        for p in parts:
            self.assertEqual(p["leader"], 1)
            self.assertEqual(p["replicas"], [{"id": 1}])
            self.assertEqual(p["isrs"], [{"id": 1}])

    def check_codec(self, codec):
        topic = "kcat-%s" % codec
        harness.create_topic(self.broker.bootstrap, topic, partitions=PARTITIONS)
        produced = [(key_of(i), value_of(codec, i)) for i in range(MESSAGES)]

        def produce(lo, hi):
            data = b"".join(k + b":" + v + b"\n" for k, v in produced[lo:hi])
            self.run_kcat(["-P", "-t", topic, "-K:", "-z", codec,
                           "-X", "acks=all", "-X", "linger.ms=20",
                           "-X", "partitioner=consistent_random"], stdin=data)

        produce(0, PHASE1)
        time.sleep(0.02)
        mark_ms = int(time.time() * 1000)
        time.sleep(0.02)
        produce(PHASE1, MESSAGES)

        # From the beginning: everything, once, byte for byte.
        recs = self.consume(topic, "beginning")
        self.assertEqual(len(recs), MESSAGES, "consumed %d of %d messages" % (len(recs), MESSAGES))
        index_of = {v: i for i, (_, v) in enumerate(produced)}
        self.assertEqual(len(index_of), MESSAGES)
        by_part = {p: [] for p in range(PARTITIONS)}
        seen = set()
        for p, o, t, k, v in recs:
            self.assertIn(p, by_part, "partition %d does not exist" % p)
            self.assertIn(v, index_of, "unknown value at %d/%d: %r" % (p, o, v[:80] if v else v))
            i = index_of[v]
            self.assertNotIn(i, seen, "message %d consumed twice" % i)
            seen.add(i)
            self.assertEqual(k, produced[i][0], "key of message %d at %d/%d" % (i, p, o))
            by_part[p].append((o, i, t))
        self.assertEqual(len(seen), MESSAGES)

        # Per partition: offsets 0..n-1 in order, messages in produce order,
        # and each key in the partition the client's partitioner chose
        # (librdkafka's consistent_random: CRC-32 of the key mod partitions).
        key_parts = {}
        for p, lst in by_part.items():
            self.assertEqual([o for o, _, _ in lst], list(range(len(lst))),
                             "offsets of partition %d are not 0..%d in order" % (p, len(lst) - 1))
            idx = [i for _, i, _ in lst]
            self.assertEqual(idx, sorted(idx), "partition %d is out of produce order" % p)
            for _, i, _ in lst:
                key_parts.setdefault(produced[i][0], set()).add(p)
        for k, parts in key_parts.items():
            self.assertEqual(len(parts), 1, "key %r landed in partitions %s" % (k, sorted(parts)))
            self.assertEqual(parts, {zlib.crc32(k) % PARTITIONS},
                             "key %r is not in its consistent_random partition" % k)
        self.assertEqual(len(key_parts), KEYS)

        # From an offset: each partition from FROM_OFFSET on.
        recs_n = self.consume(topic, str(FROM_OFFSET))
        got = {p: [] for p in range(PARTITIONS)}
        for p, o, t, k, v in recs_n:
            got[p].append((o, index_of.get(v)))
        for p in range(PARTITIONS):
            want = [(o, i) for o, i, _ in by_part[p] if o >= FROM_OFFSET]
            self.assertEqual(got[p], want, "partition %d from offset %d" % (p, FROM_OFFSET))

        # From a timestamp: exactly the messages produced after the mark.
        recs_t = self.consume(topic, "s@%d" % mark_ms)
        idx_t = sorted(index_of[v] for _, _, _, _, v in recs_t)
        self.assertEqual(idx_t, list(range(PHASE1, MESSAGES)),
                         "from timestamp %d: got %d messages, first %s" % (
                             mark_ms, len(idx_t), idx_t[:3]))
        for p, o, t, k, v in recs_t:
            self.assertGreaterEqual(t, mark_ms, "timestamp of %d/%d" % (p, o))
        # The timestamps are the producer's (CreateTime), increasing with the
        # produce order within each partition.
        for p, lst in by_part.items():
            ts = [t for _, _, t in lst]
            self.assertEqual(ts, sorted(ts), "timestamps of partition %d decrease" % p)

    def test_codec_none(self):
        self.check_codec("none")

    def test_codec_gzip(self):
        self.check_codec("gzip")

    def test_codec_snappy(self):
        self.check_codec("snappy")

    def test_codec_lz4(self):
        self.check_codec("lz4")

    def test_codec_zstd(self):
        self.check_codec("zstd")


if __name__ == "__main__":
    harness.main()
