#!/usr/bin/python3
"""Drives rdkafka_roundtrip (librdkafka's C++ API, built by CMake) against a
fresh sluice broker.

    test_rdkafka.py --sluice PATH --rdkafka-roundtrip PATH
"""

import os
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

DEFAULT_PROGRAM = os.path.join(harness.REPO, "build", "release", "tests", "integration",
                               "rdkafka_roundtrip")


class RdkafkaRoundtripTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.program = os.path.abspath(harness.CONFIG["rdkafka_roundtrip"])
        if not os.access(cls.program, os.X_OK):
            raise AssertionError("no rdkafka_roundtrip at %s (build the rdkafka_roundtrip target)"
                                 % cls.program)
        cls.broker = harness.Broker(name="rdkafka").start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()

    def run_program(self, topic, count):
        try:
            r = subprocess.run([self.program, self.broker.bootstrap, topic, str(count)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=240)
        except subprocess.TimeoutExpired as e:
            self.fail("rdkafka_roundtrip timed out\n%s" % (e.output or b"").decode("utf-8", "replace")[-4000:])
        out = r.stdout.decode("utf-8", "replace")
        sys.stdout.write(out[-4000:])
        self.assertEqual(r.returncode, 0, "rdkafka_roundtrip exited %d:\n%s" % (r.returncode, out[-4000:]))
        self.assertTrue(self.broker.alive(), "the broker died")

    def test_three_partitions(self):
        harness.create_topic(self.broker.bootstrap, "rdkafka-3", partitions=3)
        self.run_program("rdkafka-3", 20000)

    def test_auto_created_topic(self):
        # Created by the producer's metadata request (auto.create.topics.enable).
        self.run_program("rdkafka-auto", 2000)


if __name__ == "__main__":
    harness.main(extra_args=[("--rdkafka-roundtrip", os.environ.get("RDKAFKA_ROUNDTRIP", DEFAULT_PROGRAM))])
