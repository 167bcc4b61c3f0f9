#!/usr/bin/python3
"""How the broker behaves at its edges, driven by real clients and raw sockets:
startup configuration (invalid values, unknown keys, server.properties files
and --set overrides), produce errors (a message over the topic's
max.message.bytes, an unknown topic without auto-creation), CreateTopics
errors, LogAppendTime topics, connections.max.idle.ms, Fetch long polls,
DeleteTopics then re-creation with another partition count, topic configs
and ids across a restart, --smp 1 and 3, and DescribeLogDirs (partition
sizes on disk)."""

import os
import re
import signal
import struct
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from kafka_wire import (API_VERSIONS, FETCH, METADATA, Connection,  # noqa: E402
                        compact_string, connect, expect_closed, fetch_v4_body,
                        parse_api_versions_v0, parse_fetch, read_compact_string,
                        read_uvarint, recv_frame, request, skip_tags, string, uvarint)

from confluent_kafka import (OFFSET_BEGINNING, OFFSET_END,  # noqa: E402
                             TIMESTAMP_CREATE_TIME, TIMESTAMP_LOG_APPEND_TIME,
                             KafkaError, KafkaException, Producer,
                             TopicPartition)
from confluent_kafka.admin import (AdminClient, ConfigResource,  # noqa: E402
                                   ConfigSource, NewTopic)

TIMEOUT = 30
# A process that refuses its configuration must be gone well within this.
CONFIG_EXIT_BOUND_S = 10.0


# --- helpers ---------------------------------------------------------------------

class DeliveryLog:
    """Collects delivery reports: (error or None, partition, offset, key, value,
    timestamp)."""

    def __init__(self):
        self.reports = []

    def __call__(self, err, msg):
        self.reports.append((err, msg.partition(), msg.offset(), msg.key(), msg.value(),
                             msg.timestamp()))

    @property
    def errors(self):
        return [r for r in self.reports if r[0] is not None]

    @property
    def ok(self):
        return [r for r in self.reports if r[0] is None]


def producer(bootstrap, **extra):
    conf = {"bootstrap.servers": bootstrap, "linger.ms": 5, "message.timeout.ms": 30000,
            "error_cb": lambda err: None}
    conf.update(extra)
    return Producer(conf)


def produce_all(test, bootstrap, topic, messages, **extra):
    """Produces (key, value) pairs with acks=all; every report must be good.
    Returns the DeliveryLog."""
    dr = DeliveryLog()
    p = producer(bootstrap, acks="all", **extra)
    for key, value in messages:
        p.produce(topic, value=value, key=key, on_delivery=dr)
        p.poll(0)
    remaining = p.flush(TIMEOUT)
    test.assertEqual(remaining, 0, "%d messages undelivered after %d s" % (remaining, TIMEOUT))
    test.assertEqual([str(r[0]) for r in dr.errors][:5], [], "delivery errors")
    test.assertEqual(len(dr.ok), len(messages))
    return dr


def partition_count(admin, topic, timeout=10):
    t = admin.list_topics(topic=topic, timeout=timeout).topics.get(topic)
    if t is None or t.error is not None:
        return None
    return len(t.partitions)


def describe_topic_configs(admin, topic):
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    return admin.describe_configs([res], request_timeout=TIMEOUT)[res].result(timeout=TIMEOUT)


def describe_broker_configs(admin, node="1"):
    res = ConfigResource(ConfigResource.Type.BROKER, node)
    return admin.describe_configs([res], request_timeout=TIMEOUT)[res].result(timeout=TIMEOUT)


def admin_error(futures, key):
    """The KafkaError a failed admin future carries (fails if it succeeded)."""
    try:
        futures[key].result(timeout=TIMEOUT)
    except KafkaException as e:
        return e.args[0]
    raise AssertionError("%r succeeded; an error was expected" % (key,))


def sluice_command(settings, config_file=None, smp="1", extra=()):
    cmd = [harness.CONFIG["sluice"], "broker"]
    if config_file:
        cmd += ["--config", config_file]
    for k, v in settings:
        cmd += ["--set", "%s=%s" % (k, v)]
    if smp:
        cmd += ["--smp", str(smp)]
    return cmd + list(extra)


class RawRun:
    """A sluice process with stdout and stderr kept apart (the harness's Broker
    merges them). Stopped by PID; killed at the latest when the test ends."""

    def __init__(self, cmd, root):
        if not os.access(cmd[0], os.X_OK):
            raise harness.BrokerError("no sluice binary at %s" % cmd[0])
        self.cmd = cmd
        self.out_path = os.path.join(root, "stdout.log")
        self.err_path = os.path.join(root, "stderr.log")
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                         cwd=root, preexec_fn=harness._die_with_parent)
        self.started = time.monotonic()

    def wait(self, timeout):
        """Exit status, or None if it is still running after `timeout`."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        """SIGTERM by PID, then SIGKILL after a bound. Returns the exit status."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=harness.STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=harness.STOP_TIMEOUT_S)
        return self.proc.returncode

    def read(self, path):
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    @property
    def stdout(self):
        return self.read(self.out_path)

    @property
    def stderr(self):
        return self.read(self.err_path)

    def describe(self):
        return "command: %s\n--- stdout ---\n%s--- stderr ---\n%s" % (
            " ".join(self.cmd), self.stdout[-3000:], self.stderr[-3000:])


class FileBroker(harness.Broker):
    """A harness Broker that also reads a server.properties file (--config);
    `drop` removes the harness's own --set of those keys, so the file decides."""

    def __init__(self, config_file, drop=(), settings=None, **kw):
        super().__init__(**kw)
        self.config_file = config_file
        for k in drop:
            self.settings.pop(k, None)
        self.settings.update({k: str(v) for k, v in (settings or {}).items()})

    def command(self):
        cmd = super().command()
        return cmd[:2] + ["--config", self.config_file] + cmd[2:]


# --- raw Metadata v10 (framing and Fetch v4: kafka_wire) -------------------------------

def metadata_v10_body(topics):
    body = uvarint(len(topics) + 1)
    for t in topics:
        body += b"\x00" * 16 + compact_string(t) + b"\x00"  # zero topic id, name, no tags
    # allow_auto_topic_creation, include_cluster/topic_authorized_operations, no tags
    return body + b"\x00\x00\x00" + b"\x00"


def parse_metadata_v10(frame):
    """{topic: (error, topic id bytes, partition count)} of a v10 response."""
    (corr,) = struct.unpack_from(">i", frame, 0)
    pos = skip_tags(frame, 4)  # response header v1
    pos += 4  # throttle
    n, pos = read_uvarint(frame, pos)
    for _ in range(n - 1):  # brokers
        pos += 4
        _host, pos = read_compact_string(frame, pos)
        pos += 4
        _rack, pos = read_compact_string(frame, pos)
        pos = skip_tags(frame, pos)
    _cluster, pos = read_compact_string(frame, pos)
    pos += 4  # controller
    topics = {}
    n, pos = read_uvarint(frame, pos)
    for _ in range(n - 1):
        (err,) = struct.unpack_from(">h", frame, pos)
        pos += 2
        name, pos = read_compact_string(frame, pos)
        topic_id = frame[pos:pos + 16]
        pos += 16 + 1  # id, is_internal
        n_parts, pos = read_uvarint(frame, pos)
        for _ in range(n_parts - 1):
            pos += 2 + 4 + 4 + 4  # error, index, leader, leader epoch
            for _arr in range(3):  # replicas, isr, offline
                k, pos = read_uvarint(frame, pos)
                pos += 4 * max(0, k - 1)
            pos = skip_tags(frame, pos)
        pos += 4  # topic authorized operations
        pos = skip_tags(frame, pos)
        topics[name] = (err, topic_id, max(0, n_parts - 1))
    pos += 4  # cluster authorized operations
    pos = skip_tags(frame, pos)
    if pos != len(frame):
        raise AssertionError("%d bytes left after the Metadata v10 response" % (len(frame) - pos))
    return corr, topics


def raw_metadata(port, topic, corr=7):
    with connect(port) as s:
        s.sendall(request(METADATA, 10, corr, metadata_v10_body([topic]), flexible=True))
        got_corr, topics = parse_metadata_v10(recv_frame(s))
    if got_corr != corr:
        raise AssertionError("correlation id %d, sent %d" % (got_corr, corr))
    return topics[topic]


# --- 1. startup configuration ----------------------------------------------------------

class StartupConfigTest(unittest.TestCase):
    """The broker's command line and server.properties files."""

    def setUp(self):
        self.root = harness.make_temp_dir(prefix="sluice-it-config-")
        self.runs = []

    def tearDown(self):
        for r in self.runs:
            if r.proc.poll() is None:
                r.stop()

    def base_settings(self, port=None):
        return [("node.id", "1"),
                ("listeners", "PLAINTEXT://127.0.0.1:%d" % (port or harness.free_port())),
                ("log.dirs", os.path.join(self.root, "data-%d" % len(self.runs)))]

    def run_sluice(self, settings, config_file=None):
        d = os.path.join(self.root, "run-%d" % len(self.runs))
        os.makedirs(d)
        r = RawRun(sluice_command(settings, config_file), d)
        self.runs.append(r)
        return r

    def write_file(self, name, text):
        path = os.path.join(self.root, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def invalid_cases(self):
        bad_file = self.write_file("bad-segment.properties",
                                   "# a server.properties with one bad value\n"
                                   "num.partitions=2\n"
                                   "log.segment.bytes=-1\n"
                                   "log.retention.hours: 24\n")
        return [
            ("num.partitions", [("num.partitions", "abc")], None),
            ("listeners", [("listeners", "garbage")], None),
            ("log.segment.bytes", [], bad_file),
        ]

    def refused(self, key, sets, config_file):
        """Runs one invalid configuration; it must exit non-zero, promptly."""
        settings = [kv for kv in self.base_settings() if kv[0] != key] + sets
        r = self.run_sluice(settings, config_file)
        rc = r.wait(CONFIG_EXIT_BOUND_S)
        elapsed = time.monotonic() - r.started
        self.assertIsNotNone(rc, "still running %.0f s after an invalid %s\n%s"
                             % (CONFIG_EXIT_BOUND_S, key, r.describe()))
        self.assertNotEqual(rc, 0, "exit status 0 with an invalid %s\n%s" % (key, r.describe()))
        print("  invalid %s: exit %d after %.2f s" % (key, rc, elapsed))
        return r

    def test_invalid_value_exits_non_zero_naming_the_key(self):
        for key, sets, config_file in self.invalid_cases():
            with self.subTest(key=key):
                r = self.refused(key, sets, config_file)
                self.assertIn(key, r.stdout + r.stderr,
                              "the output does not name %s\n%s" % (key, r.describe()))

    def test_invalid_value_is_reported_on_stderr(self):
        # A refused configuration is an error of the command: it belongs on
        # stderr (stdout may be a pipe to a log collector, or closed).
        for key, sets, config_file in self.invalid_cases():
            with self.subTest(key=key):
                r = self.refused(key, sets, config_file)
                self.assertIn(key, r.stderr, "stderr does not name %s\n%s" % (key, r.describe()))

    def start_and_stop(self, extra_settings):
        """Starts it, waits for its port (bounded), stops it by SIGTERM. A port
        someone else took meanwhile (EADDRINUSE) is replaced, twice at most."""
        for attempt in range(3):
            port = harness.free_port()
            r = self.run_sluice(self.base_settings(port) + extra_settings)
            deadline = time.monotonic() + harness.START_TIMEOUT_S
            while not harness.port_accepts(port) and r.proc.poll() is None:
                self.assertLess(time.monotonic(), deadline, "no listener within %.0f s\n%s"
                                % (harness.START_TIMEOUT_S, r.describe()))
                time.sleep(0.05)
            if r.proc.poll() is None:
                break
            in_use = re.search(r"(?i)address (already )?in use|EADDRINUSE", r.stdout + r.stderr)
            if not in_use or attempt == 2:
                self.fail("exited with status %s while starting\n%s" % (r.proc.returncode, r.describe()))
        rc = r.stop()
        self.assertEqual(rc, 0, "exit status after SIGTERM\n%s" % r.describe())
        return r

    def test_unknown_key_starts_and_warns(self):
        r = self.start_and_stop([("foo.bar", "1")])
        lines = [l for l in (r.stdout + r.stderr).splitlines() if "foo.bar" in l]
        self.assertTrue(lines, "no warning names foo.bar\n%s" % r.describe())
        self.assertRegex(lines[0].lower(), r"warn|unknown", r.describe())

    def test_unknown_key_warning_is_on_stderr(self):
        r = self.start_and_stop([("foo.bar", "1")])
        self.assertIn("foo.bar", r.stderr, "stderr does not name foo.bar\n%s" % r.describe())

    def test_properties_file_is_honoured_and_set_overrides_it(self):
        path = self.write_file("server.properties", "\n".join([
            "# Sluice test configuration",
            "! a comment in the other style",
            "num.partitions: 5",
            "log.retention.ms=8640\\",
            "    0000",
            "  log.segment.bytes = 10485760",
            "log.cleaner.backoff.ms 20000",
            "auto.create.topics.enable=true",
            "",
        ]))
        file_only = FileBroker(path, drop=("num.partitions",), name="file").start()
        try:
            admin = AdminClient({"bootstrap.servers": file_only.bootstrap})
            produce_all(self, file_only.bootstrap, "auto-from-file", [(b"k", b"v")])
            self.assertEqual(partition_count(admin, "auto-from-file"), 5,
                             "num.partitions: 5 from the file")
            cfg = describe_broker_configs(admin)
            self.assertEqual(cfg["num.partitions"].value, "5")
            self.assertEqual(cfg["log.retention.ms"].value, "86400000")
            self.assertEqual(cfg["log.segment.bytes"].value, "10485760")
            self.assertEqual(cfg["log.cleaner.backoff.ms"].value, "20000", "a `key value` line")
            tcfg = describe_topic_configs(admin, "auto-from-file")
            self.assertEqual(tcfg["retention.ms"].value, "86400000", "the broker default from the file")
            self.assertEqual(tcfg["segment.bytes"].value, "10485760")
        finally:
            file_only.stop()

        overridden = FileBroker(path, drop=("num.partitions",), name="file-set",
                                settings={"num.partitions": "2", "log.retention.ms": "7200000"})
        self.assertIn("num.partitions=2", " ".join(overridden.command()))
        overridden.start()
        try:
            admin = AdminClient({"bootstrap.servers": overridden.bootstrap})
            produce_all(self, overridden.bootstrap, "auto-overridden", [(b"k", b"v")])
            self.assertEqual(partition_count(admin, "auto-overridden"), 2,
                             "--set num.partitions=2 over the file's 5")
            cfg = describe_broker_configs(admin)
            self.assertEqual(cfg["num.partitions"].value, "2")
            self.assertEqual(cfg["log.retention.ms"].value, "7200000")
            self.assertEqual(cfg["log.segment.bytes"].value, "10485760", "kept from the file")
        finally:
            overridden.stop()


# --- 2, 3, 4, 6, 7: errors, timestamps, long polls, re-creation ---------------------------

class BrokerBehaviourTest(harness.BrokerTestCase):
    BROKER_NAME = "behaviour"
    BROKER_SETTINGS = {"auto.create.topics.enable": "false"}
    BROKER_ADMIN = True

    # --- 2. produce errors ------------------------------------------------------------

    def test_message_over_topic_max_message_bytes_is_refused_by_the_broker(self):
        topic = "bb-max-message-bytes"
        harness.create_topic(self.bootstrap, topic, partitions=1,
                             config={"max.message.bytes": "2000"})
        self.assertEqual(describe_topic_configs(self.admin, topic)["max.message.bytes"].value, "2000")
        dr = DeliveryLog()
        # The client's own limit is far above, so the broker decides.
        p = producer(self.bootstrap, acks="all", retries=0,
                     **{"message.max.bytes": 1_000_000, "compression.type": "none"})
        p.produce(topic, value=b"small", on_delivery=dr)
        p.flush(TIMEOUT)
        p.produce(topic, value=b"x" * 10_000, on_delivery=dr)  # must not raise locally
        self.assertEqual(p.flush(TIMEOUT), 0)
        self.assertEqual(len(dr.reports), 2)
        self.assertIsNone(dr.reports[0][0], "the small message: %s" % dr.reports[0][0])
        err = dr.reports[1][0]
        self.assertIsNotNone(err, "a 10 KB message was accepted into a topic with max.message.bytes=2000")
        self.assertEqual(err.code(), KafkaError.MSG_SIZE_TOO_LARGE, str(err))
        # Nothing of it is in the log.
        c = harness.ck_consumer(self.bootstrap)
        try:
            self.assertEqual(c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10), (0, 1))
        finally:
            c.close()

    def test_produce_to_unknown_topic_without_auto_create(self):
        topic = "bb-no-such-topic"
        dr = DeliveryLog()
        p = producer(self.bootstrap, acks="all",
                     **{"message.timeout.ms": 10000, "topic.metadata.propagation.max.ms": 1000,
                        "topic.metadata.refresh.interval.ms": 500})
        t0 = time.monotonic()
        try:
            p.produce(topic, value=b"nowhere", on_delivery=dr)
        except KafkaException as e:  # librdkafka may already know it does not exist
            self.assertIn(e.args[0].code(), (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC))
        else:
            self.assertEqual(p.flush(TIMEOUT), 0)
            self.assertEqual(len(dr.reports), 1)
            err = dr.reports[0][0]
            self.assertIsNotNone(err, "a message to an unknown topic was delivered")
            print("  unknown topic: %s after %.1f s" % (err, time.monotonic() - t0))
            self.assertIn(err.code(), (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC),
                          "expected the broker's UNKNOWN_TOPIC_OR_PART, not %s" % err)
        # The broker says so in Metadata, and did not create it.
        t = self.admin.list_topics(topic=topic, timeout=10).topics.get(topic)
        self.assertIsNotNone(t)
        self.assertIsNotNone(t.error)
        self.assertEqual(t.error.code(), KafkaError.UNKNOWN_TOPIC_OR_PART)
        self.assertNotIn(topic, self.admin.list_topics(timeout=10).topics)
        err, _id, _n = raw_metadata(self.broker.port, topic)
        self.assertEqual(err, 3, "Metadata v10 error code for an unknown topic")

    # --- 3. CreateTopics errors ------------------------------------------------------

    def create(self, name, partitions=1, rf=1, config=None, **kw):
        fs = self.admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=rf,
                                                config=config or {})],
                                      request_timeout=TIMEOUT, **kw)
        return fs

    def test_create_topics_errors(self):
        for name in ("bad name", "a" * 250, "..", ".", "with/slash", "ümlaut"):
            with self.subTest(name=name[:20]):
                err = admin_error(self.create(name), name)
                self.assertEqual(err.code(), KafkaError.TOPIC_EXCEPTION, str(err))
        md = self.admin.list_topics(timeout=10).topics
        self.assertEqual([n for n in ("bad name", "a" * 250, "..", ".") if n in md], [])

        err = admin_error(self.create("bb-zero-partitions", partitions=0), "bb-zero-partitions")
        self.assertEqual(err.code(), KafkaError.INVALID_PARTITIONS, str(err))

        err = admin_error(self.create("bb-rf3", rf=3), "bb-rf3")
        self.assertEqual(err.code(), KafkaError.INVALID_REPLICATION_FACTOR, str(err))
        self.assertTrue(err.str(), "no error message")
        self.assertIn("3", err.str(), "the message does not say what was asked: %s" % err.str())
        print("  replication_factor=3: %s" % err.str())

        err = admin_error(self.create("bb-bad-config", config={"retention.ms": "abc"}), "bb-bad-config")
        self.assertEqual(err.code(), KafkaError.INVALID_CONFIG, str(err))
        err = admin_error(self.create("bb-bad-config2", config={"cleanup.policy": "shred"}),
                          "bb-bad-config2")
        self.assertEqual(err.code(), KafkaError.INVALID_CONFIG, str(err))
        md = self.admin.list_topics(timeout=10).topics
        for name in ("bb-zero-partitions", "bb-rf3", "bb-bad-config", "bb-bad-config2"):
            self.assertNotIn(name, md, "a refused topic exists")

        # An existing topic, and one whose name collides with it ('.' vs '_').
        self.assertIsNone(self.create("bb.dotted")["bb.dotted"].result(timeout=TIMEOUT))
        err = admin_error(self.create("bb.dotted"), "bb.dotted")
        self.assertEqual(err.code(), KafkaError.TOPIC_ALREADY_EXISTS, str(err))
        err = admin_error(self.create("bb_dotted"), "bb_dotted")
        self.assertEqual(err.code(), KafkaError.TOPIC_EXCEPTION, str(err))
        self.assertIn("collides", err.str().lower(), err.str())
        # The same refusals under validate_only.
        err = admin_error(self.create("bb_dotted", validate_only=True), "bb_dotted")
        self.assertEqual(err.code(), KafkaError.TOPIC_EXCEPTION, str(err))
        err = admin_error(self.create("bb-rf3", rf=3, validate_only=True), "bb-rf3")
        self.assertEqual(err.code(), KafkaError.INVALID_REPLICATION_FACTOR, str(err))
        md = self.admin.list_topics(timeout=10).topics
        self.assertIn("bb.dotted", md)
        self.assertNotIn("bb_dotted", md)

        # One bad topic does not spoil the good one in the same request.
        fs = self.admin.create_topics([NewTopic("bb-good", 2, 1), NewTopic("bad name 2", 1, 1)],
                                      request_timeout=TIMEOUT)
        self.assertIsNone(fs["bb-good"].result(timeout=TIMEOUT))
        self.assertEqual(admin_error(fs, "bad name 2").code(), KafkaError.TOPIC_EXCEPTION)
        harness.wait_until(lambda: partition_count(self.admin, "bb-good") == 2, 10,
                           what="bb-good with 2 partitions")

    # --- 4. LogAppendTime ------------------------------------------------------------

    def test_log_append_time_topic(self):
        topic = "bb-log-append-time"
        harness.create_topic(self.bootstrap, topic, partitions=1,
                             config={"message.timestamp.type": "LogAppendTime"})
        fake = int(time.time() * 1000) - 10 * 24 * 3600 * 1000  # ten days ago
        before = int(time.time() * 1000)
        dr = DeliveryLog()
        for codec in ("none", "gzip"):
            p = producer(self.bootstrap, acks="all", **{"compression.type": codec, "linger.ms": 20})
            for i in range(50):
                p.produce(topic, value=b"%s-%d" % (codec.encode(), i), timestamp=fake + i, on_delivery=dr)
            self.assertEqual(p.flush(TIMEOUT), 0)
        after = int(time.time() * 1000)
        self.assertEqual([str(r[0]) for r in dr.errors], [])
        window = (before - 5000, after + 5000)
        # librdkafka reports the broker's LogAppendTime (Produce v2+) in delivery reports.
        for r in dr.ok[:3] + dr.ok[-3:]:
            ts_type, ts = r[5]
            self.assertEqual(ts_type, TIMESTAMP_LOG_APPEND_TIME, "delivery report timestamp %s" % (r[5],))
            self.assertTrue(window[0] <= ts <= window[1],
                            "delivery report timestamp %d is not near now %d" % (ts, before))

        msgs = harness.ck_read_all(self.bootstrap, topic)
        self.assertEqual(len(msgs), 100)
        for m in msgs:
            ts_type, ts = m.timestamp()
            self.assertEqual(ts_type, TIMESTAMP_LOG_APPEND_TIME,
                             "offset %d: timestamp type %d (2 = LogAppendTime)" % (m.offset(), ts_type))
            self.assertNotEqual(ts, fake + (int(m.value().split(b"-")[1])),
                                "offset %d kept the producer's timestamp" % m.offset())
            self.assertTrue(window[0] <= ts <= window[1],
                            "offset %d: timestamp %d outside [%d, %d]" % (m.offset(), ts, *window))

        # A CreateTime topic keeps the producer's timestamp (the contrast).
        harness.create_topic(self.bootstrap, "bb-create-time", partitions=1)
        dr2 = DeliveryLog()
        p = producer(self.bootstrap, acks="all")
        p.produce("bb-create-time", value=b"old", timestamp=fake, on_delivery=dr2)
        self.assertEqual(p.flush(TIMEOUT), 0)
        [m] = harness.ck_read_all(self.bootstrap, "bb-create-time")
        self.assertEqual(m.timestamp(), (TIMESTAMP_CREATE_TIME, fake))

    # --- 6. Fetch long poll ------------------------------------------------------------

    def test_consumer_long_poll_wakes_on_produce(self):
        topic = "bb-long-poll"
        harness.create_topic(self.bootstrap, topic, partitions=1)
        c = harness.ck_consumer(self.bootstrap, **{"fetch.wait.max.ms": 10000,
                                                   "fetch.min.bytes": 1})
        try:
            c.assign([TopicPartition(topic, 0, OFFSET_END)])

            def fetching():
                self.assertEqual(c.consume(num_messages=10, timeout=0.1), [], "a message from nowhere")
                lo, hi = c.get_watermark_offsets(TopicPartition(topic, 0), cached=True)
                return hi >= 0
            harness.wait_until(fetching, 20, interval=0.05, what="the consumer fetching at the end")
            # About a second of nothing: its fetch waits in the broker.
            quiet_end = time.monotonic() + 1.0
            while time.monotonic() < quiet_end:
                self.assertEqual(c.consume(num_messages=10, timeout=0.1), [], "a message from nowhere")

            dr = DeliveryLog()
            p = producer(self.bootstrap, acks="all", **{"linger.ms": 0})
            produced = time.monotonic()
            p.produce(topic, value=b"wake up", on_delivery=dr)
            self.assertEqual(p.flush(TIMEOUT), 0)
            self.assertEqual([str(r[0]) for r in dr.errors], [])
            msgs = harness.ck_consume(c, 1, 20)
            latency = time.monotonic() - produced
            print("  long poll: the message reached the consumer %.3f s after it was produced"
                  " (fetch.wait.max.ms=10000)" % latency)
            self.assertEqual([m.value() for m in msgs], [b"wake up"])
            self.assertLess(latency, 8.0, "the fetch was not woken by the produce")
        finally:
            c.close()

    def test_raw_fetch_waits_then_wakes(self):
        topic = "bb-raw-fetch"
        harness.create_topic(self.bootstrap, topic, partitions=1)
        with connect(self.broker.port, timeout=30) as s:
            # Empty partition, min_bytes=1, max_wait 2 s: an empty answer, after a wait.
            t0 = time.monotonic()
            s.sendall(request(FETCH, 4, 11, fetch_v4_body(topic, 0, 0, 2000)))
            corr, parts = parse_fetch(recv_frame(s, timeout=30), 4)
            waited = time.monotonic() - t0
            print("  empty fetch (max_wait_ms=2000) answered after %.3f s" % waited)
            self.assertEqual(corr, 11)
            self.assertEqual(parts, [(topic, 0, 0, 0, b"")])
            self.assertGreaterEqual(waited, 0.5, "an empty fetch with min_bytes=1 did not wait")
            self.assertLess(waited, 15.0)

            # max_wait 10 s; a message produced after ~1 s answers it.
            s.sendall(request(FETCH, 4, 12, fetch_v4_body(topic, 0, 0, 10000)))
            time.sleep(1.0)
            produced = time.monotonic()
            dr = produce_all(self, self.bootstrap, topic, [(None, b"woken")], **{"linger.ms": 0})
            corr, parts = parse_fetch(recv_frame(s, timeout=30), 4)
            latency = time.monotonic() - produced
            print("  raw fetch (max_wait_ms=10000) answered %.3f s after the produce" % latency)
            self.assertEqual(corr, 12)
            self.assertEqual(len(parts), 1)
            _t, _p, err, hw, records = parts[0]
            self.assertEqual((err, hw), (0, 1))
            self.assertIn(b"woken", records)
            self.assertEqual(dr.ok[0][2], 0)
            self.assertLess(latency, 8.0, "the fetch was not woken by the produce")

            # min_bytes larger than what is there: it waits the whole max_wait, then
            # answers with what it has.
            t0 = time.monotonic()
            s.sendall(request(FETCH, 4, 13, fetch_v4_body(topic, 0, 0, 1500, min_bytes=1 << 20)))
            corr, parts = parse_fetch(recv_frame(s, timeout=30), 4)
            waited = time.monotonic() - t0
            print("  fetch with min_bytes=1 MiB (max_wait_ms=1500) answered after %.3f s" % waited)
            self.assertEqual(corr, 13)
            self.assertEqual(parts[0][2:4], (0, 1))
            self.assertIn(b"woken", parts[0][4])
            self.assertLess(waited, 15.0)

    # --- 7. DeleteTopics, then the same name with another partition count --------------

    def test_delete_then_recreate_with_other_partition_count(self):
        topic = "bb-recreate"
        harness.create_topic(self.bootstrap, topic, partitions=3)
        _e, old_id, _n = raw_metadata(self.broker.port, topic)
        produce_all(self, self.bootstrap, topic,
                    [(b"k%d" % i, b"old-%d" % i) for i in range(300)])
        self.assertEqual(len(harness.ck_read_all(self.bootstrap, topic)), 300)

        fs = self.admin.delete_topics([topic], request_timeout=TIMEOUT)
        self.assertIsNone(fs[topic].result(timeout=TIMEOUT))
        harness.wait_until(lambda: partition_count(self.admin, topic) is None, 20,
                           what="%s to disappear" % topic)

        harness.create_topic(self.bootstrap, topic, partitions=5)
        err, new_id, n = raw_metadata(self.broker.port, topic)
        self.assertEqual((err, n), (0, 5))
        self.assertNotEqual(new_id, old_id, "the re-created topic has the old topic id")
        self.assertNotEqual(new_id, b"\x00" * 16)
        c = harness.ck_consumer(self.bootstrap)
        try:
            for q in range(5):
                self.assertEqual(c.get_watermark_offsets(TopicPartition(topic, q), timeout=10), (0, 0),
                                 "partition %d of the new topic" % q)
            c.assign([TopicPartition(topic, q, OFFSET_BEGINNING) for q in range(5)])
            stale = harness.ck_consume(c, 1, 2.0)
            self.assertEqual([(m.partition(), m.offset(), m.value()) for m in stale], [],
                             "old data in the re-created topic")
        finally:
            c.close()

        # New data only, in all five partitions.
        produce_all(self, self.bootstrap, topic, [(b"n%d" % i, b"new-%d" % i) for i in range(100)])
        msgs = harness.ck_read_all(self.bootstrap, topic)
        self.assertEqual(sorted(m.value() for m in msgs), sorted(b"new-%d" % i for i in range(100)))
        self.assertEqual(len({m.partition() for m in msgs}), 5)

        # And back down to 2 partitions.
        self.assertIsNone(self.admin.delete_topics([topic], request_timeout=TIMEOUT)[topic]
                          .result(timeout=TIMEOUT))
        harness.wait_until(lambda: partition_count(self.admin, topic) is None, 20,
                           what="%s to disappear" % topic)
        harness.create_topic(self.bootstrap, topic, partitions=2)
        c = harness.ck_consumer(self.bootstrap)
        try:
            for q in range(2):
                self.assertEqual(c.get_watermark_offsets(TopicPartition(topic, q), timeout=10), (0, 0))
        finally:
            c.close()


# --- 5. connections.max.idle.ms ----------------------------------------------------------

class IdleConnectionTest(harness.BrokerTestCase):
    BROKER_NAME = "idle"
    BROKER_SETTINGS = {"connections.max.idle.ms": "1500"}

    def test_silent_connection_is_closed(self):
        with connect(self.broker.port) as s:
            s.sendall(request(API_VERSIONS, 0, 1))
            corr, err, _apis = parse_api_versions_v0(recv_frame(s))
            self.assertEqual((corr, err), (1, 0))
            t0 = time.monotonic()
            leftover = expect_closed(s, timeout=15)
            print("  a silent connection was closed %.2f s after its last answer"
                  " (connections.max.idle.ms=1500)" % (time.monotonic() - t0))
            self.assertEqual(leftover, b"")

    def test_connection_that_never_sends_is_closed(self):
        with connect(self.broker.port) as s:
            self.assertEqual(expect_closed(s, timeout=15), b"")

    def test_busy_connection_stays_open(self):
        with connect(self.broker.port) as s:
            corr = 0
            end = time.monotonic() + 4.0
            while time.monotonic() < end:
                corr += 1
                try:
                    s.sendall(request(API_VERSIONS, 0, corr))
                    got, err, _apis = parse_api_versions_v0(recv_frame(s))
                except (OSError, AssertionError) as e:
                    self.fail("request %d, %.1f s in: the connection broke: %r"
                              % (corr, 4.0 - (end - time.monotonic()), e))
                self.assertEqual((got, err), (corr, 0))
                time.sleep(0.3)
            self.assertGreaterEqual(corr, 10)


class MaxConnectionsTest(unittest.TestCase):
    """max.connections: connections past the limit are closed at once; once
    some close, new ones are served again."""

    LIMIT = 3

    @classmethod
    def setUpClass(cls):
        cls.broker = harness.Broker(name="maxconn",
                                    settings={"max.connections": str(cls.LIMIT)}).start()

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()

    def served(self, s, corr):
        try:
            s.sendall(request(API_VERSIONS, 0, corr))
            got, err, _apis = parse_api_versions_v0(recv_frame(s))
            return (got, err) == (corr, 0)
        except (OSError, AssertionError):
            return False

    def hold_limit(self):
        """LIMIT served connections. A connection closed just before (the
        harness's readiness probe) counts until the broker has seen its close,
        as in Kafka: bounded retries until all LIMIT are served."""
        deadline = time.monotonic() + 15
        while True:
            held = [connect(self.broker.port) for _ in range(self.LIMIT)]
            served = [self.served(s, i + 1) for i, s in enumerate(held)]
            if all(served) or time.monotonic() > deadline:
                return held, served
            for s in held:
                s.close()
            time.sleep(0.2)

    def test_connections_past_the_limit_are_closed(self):
        held, served = self.hold_limit()
        try:
            for i, ok in enumerate(served):
                self.assertTrue(ok, "connection %d within the limit" % i)
            with connect(self.broker.port) as extra:
                self.assertEqual(expect_closed(extra, timeout=15), b"")
            held.pop().close()
            # The slot frees once the broker has seen the close: bounded retries.
            deadline = time.monotonic() + 15
            ok = False
            while not ok and time.monotonic() < deadline:
                with connect(self.broker.port) as again:
                    ok = self.served(again, 99)
                if not ok:
                    time.sleep(0.2)
            self.assertTrue(ok, "a freed slot was never given to a new connection")
        finally:
            for s in held:
                s.close()
        self.assertTrue(self.broker.alive())


# --- 8. restart keeps topic configs and ids ---------------------------------------------

class RestartConfigTest(unittest.TestCase):

    def test_restart_keeps_topic_configs_partitions_and_id(self):
        b = harness.Broker(name="restart-configs").start()
        try:
            topic = "bb-restart"
            harness.create_topic(b.bootstrap, topic, partitions=3, config={"retention.ms": "123456"})
            err, topic_id, n = raw_metadata(b.port, topic)
            self.assertEqual((err, n), (0, 3))
            produce_all(self, b.bootstrap, topic, [(b"k%d" % i, b"v%d" % i) for i in range(60)])

            b.restart()
            admin = AdminClient({"bootstrap.servers": b.bootstrap})
            cfg = describe_topic_configs(admin, topic)
            self.assertEqual(cfg["retention.ms"].value, "123456")
            self.assertEqual(cfg["retention.ms"].source, ConfigSource.DYNAMIC_TOPIC_CONFIG.value,
                             "retention.ms source (1 = TOPIC_CONFIG)")
            self.assertFalse(cfg["retention.ms"].is_default)
            self.assertNotEqual(cfg["segment.bytes"].source, ConfigSource.DYNAMIC_TOPIC_CONFIG.value,
                                "segment.bytes was never set on the topic")
            self.assertEqual(partition_count(admin, topic), 3)
            err2, topic_id2, n2 = raw_metadata(b.port, topic)
            self.assertEqual((err2, n2), (0, 3))
            self.assertEqual(topic_id2, topic_id, "the topic id changed across the restart")
            self.assertEqual(len(harness.ck_read_all(b.bootstrap, topic)), 60)
        finally:
            b.stop()


# --- 9. --smp 1 and --smp 3 -------------------------------------------------------------

class SmpTest(unittest.TestCase):

    def round_trip(self, smp):
        b = harness.Broker(name="smp%d" % smp, smp=str(smp)).start()
        try:
            self.assertIn("--smp", b.command())
            topic = "bb-smp"
            harness.create_topic(b.bootstrap, topic, partitions=6)
            n = 3000
            sent = [(b"key-%d" % (i % 97), b"value-%d" % i) for i in range(n)]
            dr = produce_all(self, b.bootstrap, topic, sent, **{"enable.idempotence": True})
            parts = {r[1] for r in dr.ok}
            self.assertEqual(parts, set(range(6)), "keys did not spread over the 6 partitions")
            key_part = {}
            for _e, part, _off, key, _v, _ts in dr.ok:
                self.assertEqual(key_part.setdefault(key, part), part, "key %r in two partitions" % key)
            msgs = harness.ck_read_all(b.bootstrap, topic)
            self.assertEqual(len(msgs), n)
            delivered = {(r[1], r[2]): (r[3], r[4]) for r in dr.ok}
            for m in msgs:
                self.assertEqual((m.key(), m.value()), delivered[(m.partition(), m.offset())])
            # Produce order within each partition.
            for q in range(6):
                got = [int(m.value().split(b"-")[1]) for m in msgs if m.partition() == q]
                self.assertEqual(got, sorted(got), "order in partition %d" % q)
            self.assertIn("started with %d shards" % smp, b.run_log())
        finally:
            b.stop()

    def pipelined_produce_then_list_offsets_across_shards(self, acks):
        # A Produce's appends on other shards run while the connection goes
        # on; a ListOffsets pipelined right behind it on the same connection
        # must still see them, and each Produce answer must name its own
        # partition with the offset it got. kafka-python's protocol classes
        # build the requests; the socket is raw, so nothing waits between them.
        from kafka.protocol.offset import OffsetRequest, OffsetResponse
        from kafka.protocol.produce import ProduceRequest, ProduceResponse
        from kafka.record.memory_records import MemoryRecordsBuilder

        def batch(value):
            builder = MemoryRecordsBuilder(magic=2, compression_type=0, batch_size=1 << 20)
            builder.append(int(time.time() * 1000), None, value, headers=[])
            builder.close()
            return builder.buffer()

        b = harness.Broker(name="smp3-pipelined-acks%d" % acks, smp="3").start()
        try:
            topic = "bb-smp-pipelined"
            harness.create_topic(b.bootstrap, topic, partitions=6)
            rounds, frames = 120, []
            for i in range(rounds):
                part = i % 6
                produce = ProduceRequest[3](transactional_id=None, required_acks=acks,
                                            timeout=30000,
                                            topics=[(topic, [(part, batch(b"v%d" % i))])])
                latest = OffsetRequest[1](replica_id=-1, topics=[(topic, [(part, -1)])])
                frames.append(request(0, 3, 2 * i, produce.encode()))
                frames.append(request(2, 1, 2 * i + 1, latest.encode()))
            with connect(b.port, timeout=30) as s:
                s.sendall(b"".join(frames))
                for i in range(rounds):
                    part, offset = i % 6, i // 6
                    if acks != 0:
                        frame = recv_frame(s, timeout=30)
                        self.assertEqual(struct.unpack_from(">i", frame)[0], 2 * i)
                        (answer,) = ProduceResponse[3].decode(frame[4:]).topics
                        self.assertEqual(answer[0], topic)
                        (index, error, base_offset, _ts), = answer[1]
                        self.assertEqual((index, error, base_offset), (part, 0, offset),
                                         "round %d" % i)
                    frame = recv_frame(s, timeout=30)
                    self.assertEqual(struct.unpack_from(">i", frame)[0], 2 * i + 1)
                    (answer,) = OffsetResponse[1].decode(frame[4:]).topics
                    (index, error, _ts, end), = answer[1]
                    self.assertEqual((index, error, end), (part, 0, offset + 1), "round %d" % i)
        finally:
            b.stop()

    def test_pipelined_produce_then_list_offsets_across_shards(self):
        self.pipelined_produce_then_list_offsets_across_shards(acks=1)

    def test_pipelined_acks_0_produce_then_list_offsets_across_shards(self):
        # acks=0 does not wait for its appends elsewhere either.
        self.pipelined_produce_then_list_offsets_across_shards(acks=0)

    def test_pipelined_acks_all_produce_then_list_offsets_across_shards(self):
        self.pipelined_produce_then_list_offsets_across_shards(acks=-1)

    def test_smp_1(self):
        self.round_trip(1)

    def test_smp_3(self):
        self.round_trip(3)



# --- 10. DescribeLogDirs: partition sizes on disk ---------------------------------------

DESCRIBE_LOG_DIRS = 35
FIND_COORDINATOR = 10


def describe_log_dirs_body(version, topics):
    """DescribeLogDirs v0-4; `topics` is None (all) or [(topic, [partition])]."""
    flexible = version >= 2

    def array(items):
        if items is None:
            return uvarint(0) if flexible else struct.pack(">i", -1)
        return uvarint(len(items) + 1) if flexible else struct.pack(">i", len(items))

    body = array(topics)
    for name, parts in topics or ():
        body += compact_string(name) if flexible else string(name)
        body += array(parts) + b"".join(struct.pack(">i", q) for q in parts)
        if flexible:
            body += b"\x00"  # no tags
    return body + (b"\x00" if flexible else b"")


def parse_describe_log_dirs(r, version):
    """(throttle, error (v3+, else None), [{error, log_dir, topics: {name:
    {partition: (size, offset_lag, is_future)}}, total_bytes, usable_bytes}])
    of a response read whole from the Reader `r`."""
    flexible = version >= 2

    def count():
        return r.uvarint() - 1 if flexible else r.take(">i")

    def text():
        return r.compact_string() if flexible else r.string()

    throttle = r.take(">i")
    error = r.take(">h") if version >= 3 else None
    results = []
    for _ in range(count()):
        result = {"error": r.take(">h"), "log_dir": text(), "topics": {}}
        for _t in range(count()):
            name = text()
            parts = {}
            for _p in range(count()):
                index, size, lag, future = r.take(">i"), r.take(">q"), r.take(">q"), r.take(">?")
                if flexible:
                    r.skip_tags()
                parts[index] = (size, lag, future)
            if flexible:
                r.skip_tags()
            result["topics"][name] = parts
        if version >= 4:
            result["total_bytes"], result["usable_bytes"] = r.take(">q"), r.take(">q")
        if flexible:
            r.skip_tags()
        results.append(result)
    if flexible:
        r.skip_tags()
    if r.pos != len(r.data):
        raise AssertionError("%d bytes left after the DescribeLogDirs v%d response"
                             % (len(r.data) - r.pos, version))
    return throttle, error, results


def log_bytes_on_disk(data_dir, topic, partition):
    """What Kafka counts as a partition's size: its segments' .log files."""
    d = os.path.join(data_dir, "%s-%d" % (topic, partition))
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d) if f.endswith(".log"))


class DescribeLogDirsTest(harness.BrokerTestCase):
    """DescribeLogDirs as kafka-log-dirs.sh sends it: the one log dir, each
    partition's size (its .log files), nothing for what does not exist, and the
    file system's totals at v4. With the harness's --smp 2 the partitions are
    spread over both shards."""

    BROKER_NAME = "log-dirs"
    BROKER_SETTINGS = {"auto.create.topics.enable": "false", "offsets.topic.num.partitions": "3"}
    TOPIC = "ld-sizes"
    # Random values (no codec could shrink them) of 1000 bytes: partition 0
    # gets ten times what partition 1 gets.
    COUNTS = {0: 200, 1: 20}
    VALUE_BYTES = 1000

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        harness.create_topic(cls.bootstrap, cls.TOPIC, partitions=2)
        dr = DeliveryLog()
        p = producer(cls.bootstrap, acks="all", **{"compression.type": "none"})
        for q, n in cls.COUNTS.items():
            for _ in range(n):
                p.produce(cls.TOPIC, value=os.urandom(cls.VALUE_BYTES), partition=q, on_delivery=dr)
                p.poll(0)
        remaining = p.flush(TIMEOUT)
        if remaining or dr.errors or len(dr.ok) != sum(cls.COUNTS.values()):
            raise AssertionError("produce: %d undelivered, errors %s"
                                 % (remaining, [str(e[0]) for e in dr.errors][:5]))

    def describe(self, version, topics):
        with Connection(self.broker.port, timeout=TIMEOUT) as c:
            r = c.call(DESCRIBE_LOG_DIRS, version, describe_log_dirs_body(version, topics),
                       flexible=version >= 2)
            throttle, error, results = parse_describe_log_dirs(r, version)
        self.assertEqual(throttle, 0)
        self.assertEqual(error, None if version < 3 else 0, "top-level error code")
        self.assertEqual(len(results), 1, "one log dir: %r" % results)
        result = results[0]
        self.assertEqual(result["error"], 0)
        self.assertEqual(result["log_dir"], os.path.abspath(self.broker.data_dir))
        return result

    def check_sizes(self, result):
        self.assertIn(self.TOPIC, result["topics"])
        parts = result["topics"][self.TOPIC]
        self.assertEqual(sorted(parts), [0, 1], "partitions of %s" % self.TOPIC)
        for q, (size, lag, future) in parts.items():
            self.assertEqual((lag, future), (0, False), "partition %d" % q)
            self.assertGreaterEqual(size, self.COUNTS[q] * self.VALUE_BYTES, "partition %d" % q)
            self.assertEqual(size, log_bytes_on_disk(self.broker.data_dir, self.TOPIC, q),
                             "partition %d: not the size of its .log files" % q)
        self.assertGreater(parts[0][0], parts[1][0], "the partition with 10x the data")
        self.assertGreater(parts[1][0], 0)
        print("  %s sizes: %s" % (self.TOPIC, {q: v[0] for q, v in sorted(parts.items())}))
        return parts

    def test_advertised(self):
        with connect(self.broker.port) as s:
            s.sendall(request(API_VERSIONS, 0, 1))
            _corr, err, apis = parse_api_versions_v0(recv_frame(s))
        self.assertEqual(err, 0)
        self.assertEqual(apis.get(DESCRIBE_LOG_DIRS), (0, 4))

    def test_v0_sizes_and_unknown_left_out(self):
        result = self.describe(0, [(self.TOPIC, [0, 1, 7]), ("ld-no-such-topic", [0])])
        self.assertEqual(sorted(result["topics"]), [self.TOPIC], "only what exists")
        self.check_sizes(result)
        # A topic named without partitions asks for none of them (Kafka's set
        # of partitions), and one named twice is answered once.
        self.assertEqual(self.describe(0, [(self.TOPIC, [])])["topics"], {})
        twice = self.describe(1, [(self.TOPIC, [1]), (self.TOPIC, [0])])
        self.assertEqual(sorted(twice["topics"][self.TOPIC]), [0, 1])
        self.assertEqual(self.describe(1, [("ld-no-such-topic", [0, 1])])["topics"], {})

    def test_v4_sizes_and_space(self):
        v0 = self.check_sizes(self.describe(0, [(self.TOPIC, [0, 1])]))
        result = self.describe(4, [(self.TOPIC, [0, 1]), ("ld-no-such-topic", [0])])
        self.assertEqual(sorted(result["topics"]), [self.TOPIC])
        self.assertEqual(self.check_sizes(result), v0, "v0 and v4 disagree")
        total, usable = result["total_bytes"], result["usable_bytes"]
        print("  total_bytes %d, usable_bytes %d" % (total, usable))
        self.assertGreater(usable, 0)
        self.assertGreaterEqual(total, usable)
        st = os.statvfs(self.broker.data_dir)
        self.assertEqual(total, st.f_blocks * st.f_frsize)
        # Others write to the same file system meanwhile: close, not equal.
        self.assertLess(abs(usable - st.f_bavail * st.f_frsize), 1 << 30)

    def test_all_topics_include_internal_ones(self):
        # The first FindCoordinator for a group creates __consumer_offsets.
        with Connection(self.broker.port, timeout=TIMEOUT) as c:
            r = c.call(FIND_COORDINATOR, 0, string("ld-group"))
            self.assertEqual(r.take(">h"), 0, "FindCoordinator error")
        for version in (0, 2, 4):
            with self.subTest(version=version):
                result = self.describe(version, None)
                self.assertEqual(sorted(result["topics"]), ["__consumer_offsets", self.TOPIC])
                self.assertEqual(sorted(result["topics"]["__consumer_offsets"]), [0, 1, 2])
                self.check_sizes(result)

    def test_relative_log_dir_is_reported_absolute(self):
        b = harness.Broker(name="log-dirs-relative", settings={"log.dirs": "data-relative"}).start()
        try:
            harness.create_topic(b.bootstrap, "ld-relative", partitions=1)
            with Connection(b.port, timeout=TIMEOUT) as c:
                r = c.call(DESCRIBE_LOG_DIRS, 4, describe_log_dirs_body(4, None), flexible=True)
                _throttle, _error, results = parse_describe_log_dirs(r, 4)
            # The broker runs in its root directory (harness.Broker).
            self.assertEqual([x["log_dir"] for x in results], [os.path.join(b.root, "data-relative")])
            self.assertEqual(results[0]["topics"], {"ld-relative": {0: (0, 0, False)}})
        finally:
            b.stop()


if __name__ == "__main__":
    harness.main()
