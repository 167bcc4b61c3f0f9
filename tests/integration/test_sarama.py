#!/usr/bin/python3
"""Drives sarama_roundtrip (sarama/sarama_roundtrip.go: Debian's sarama 1.22.1,
built offline in GOPATH mode by CMake) against a fresh sluice broker, at
sarama's default protocol level (0.8.2.0: Metadata v0, Produce v0 with magic-0
message sets, Fetch v0, ListOffsets v0, no ApiVersions), at 0.10.0.0 (Produce
v2 and Fetch v2, magic 1 with timestamps) and at 2.0.0 (Metadata v5, Produce v3
and Fetch v4 with record batches, ListOffsets v1, headers). What one level
wrote, the others read back. sarama's consumer groups are not used (the broker
has none): a plain Consumer reads every partition.

    test_sarama.py --sluice PATH --sarama-roundtrip PATH [--sarama-missing WHY]

The test fails (it never skips) when the program was not built: CMake passes
--sarama-missing with the reason (no `go`, or no sarama sources).
"""

import os
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

DEFAULT_PROGRAM = os.path.join(harness.REPO, "build", "release", "tests", "integration",
                               "go", "sarama_roundtrip")
PROGRAM_TIMEOUT_S = 90   # the program's own bound (-timeout)
KEYS = 97                # as in sarama_roundtrip.go


def key_of(i):
    return b"key-%02d" % (i % KEYS)


def value_of(i):
    """sarama_roundtrip.go's valueOf."""
    n = (i * 7919) % 2311
    v = bytearray(b"v%07d|" % i)
    j = 0
    while len(v) < n:
        v.append((i * 131 + j * 17) % 256)
        j += 1
    return bytes(v)


class SaramaTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        missing = harness.CONFIG.get("sarama_missing")
        program = harness.CONFIG["sarama_roundtrip"]
        if missing:
            raise AssertionError("sarama_roundtrip was not built: %s (scripts/install-deps.sh "
                                 "installs golang-go and golang-github-shopify-sarama-dev; "
                                 "then configure the build again)" % missing)
        cls.program = os.path.abspath(program)
        if not os.access(cls.program, os.X_OK):
            raise AssertionError("no sarama_roundtrip at %s (build the sarama_roundtrip target)"
                                 % cls.program)
        cls.broker = harness.Broker(name="sarama").start()
        # Message i of every run has timestamp ts_base + i ms (an hour ago).
        cls.ts_base = int(time.time() * 1000) - 3600 * 1000

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()  # must exit 0 on SIGTERM

    def run_program(self, topic, version, n, *extra):
        cmd = [self.program, "-brokers", self.broker.bootstrap, "-topic", topic,
               "-version", version, "-n", str(n), "-ts-base", str(self.ts_base),
               "-timeout", "%ds" % PROGRAM_TIMEOUT_S] + list(extra)
        try:
            r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=PROGRAM_TIMEOUT_S + 30)
        except subprocess.TimeoutExpired as e:
            self.fail("%s timed out\n%s" % (" ".join(cmd),
                                            (e.output or b"").decode("utf-8", "replace")[-4000:]))
        out = r.stdout.decode("utf-8", "replace")
        sys.stdout.write("$ %s\n%s" % (" ".join(cmd[1:]), out[-4000:]))
        self.assertEqual(r.returncode, 0, "sarama_roundtrip (%s) exited %d:\n%s"
                         % (" ".join(cmd[1:]), r.returncode, out[-4000:]))
        self.assertTrue(self.broker.alive(), "the broker died")

    def check_with_librdkafka(self, topic, n):
        """Reads the topic back with confluent_kafka: each of the n messages
        once, key and value byte for byte, produce order per partition."""
        msgs = harness.ck_read_all(self.broker.bootstrap, topic)
        self.assertEqual(len(msgs), n, "%s: confluent_kafka read %d messages" % (topic, len(msgs)))
        seen = set()
        last = {}
        for m in msgs:
            v = m.value()
            i = int(v[1:8])
            self.assertEqual(v, value_of(i), "%s: value at %d/%d" % (topic, m.partition(), m.offset()))
            self.assertEqual(m.key(), key_of(i), "%s: key at %d/%d" % (topic, m.partition(), m.offset()))
            self.assertNotIn(i, seen)
            seen.add(i)
            self.assertGreater(i, last.get(m.partition(), -1), "%s: produce order" % topic)
            last[m.partition()] = i
        self.assertEqual(seen, set(range(n)))

    # --- one level, produce and consume ------------------------------------------

    def test_default_level(self):
        # sarama's default (V0_8_2_0): Produce v0 message sets, Fetch v0.
        harness.create_topic(self.broker.bootstrap, "sarama-default", partitions=3)
        self.run_program("sarama-default", "default", 3000)
        self.check_with_librdkafka("sarama-default", 3000)

    def test_default_level_gzip_auto_created_small_fetches(self):
        # Metadata v0 auto-creates the topic; gzip wrapper messages whose inner
        # offsets are all 0 (magic 0); fetches of 4 KiB split the message sets.
        self.run_program("sarama-default-gzip", "default", 2000, "-codec", "gzip",
                         "-fetch-bytes", "4096")
        self.check_with_librdkafka("sarama-default-gzip", 2000)

    def test_default_level_snappy(self):
        harness.create_topic(self.broker.bootstrap, "sarama-default-snappy", partitions=2)
        self.run_program("sarama-default-snappy", "default", 2000, "-codec", "snappy")

    def test_v0_10_0_0(self):
        # Produce v2 / Fetch v2: magic-1 messages with timestamps; LZ4.
        harness.create_topic(self.broker.bootstrap, "sarama-0100", partitions=3)
        self.run_program("sarama-0100", "0.10.0.0", 2000)
        self.run_program("sarama-0100-lz4", "0.10.0.0", 2000, "-codec", "lz4")

    def test_v2_0_0_0(self):
        # Produce v3 / Fetch v4: record batches, timestamps and headers.
        harness.create_topic(self.broker.bootstrap, "sarama-200", partitions=3)
        self.run_program("sarama-200", "2.0.0", 3000)
        self.check_with_librdkafka("sarama-200", 3000)
        harness.create_topic(self.broker.bootstrap, "sarama-200-gzip", partitions=3)
        self.run_program("sarama-200-gzip", "2.0.0", 2000, "-codec", "gzip")

    # --- written at one level, read at the others -----------------------------------

    def test_cross_levels(self):
        levels = ["default", "0.10.0.0", "2.0.0"]
        for produced in levels:
            topic = "sarama-cross-%s" % produced.replace(".", "")
            harness.create_topic(self.broker.bootstrap, topic, partitions=3)
            self.run_program(topic, produced, 1500, "-mode", "produce", "-codec", "gzip")
            for consumed in levels:
                with self.subTest(produced=produced, consumed=consumed):
                    self.run_program(topic, consumed, 1500, "-mode", "consume",
                                     "-produced-version", produced)


if __name__ == "__main__":
    harness.main(extra_args=[
        ("--sarama-roundtrip", os.environ.get("SARAMA_ROUNDTRIP", DEFAULT_PROGRAM)),
        ("--sarama-missing", ""),
    ])
