#!/usr/bin/python3
"""Dynamic broker configs against sluice: AlterConfigs, IncrementalAlterConfigs
and DescribeConfigs on the BROKER resources "1" (this broker) and "" (the
cluster-wide defaults), their config sources, their effect on topics that do
not override a key (a smaller message.max.bytes refuses a produce), the keys
that cannot change, and persistence across a restart.

confluent-kafka-python drives the "1" resource. librdkafka refuses the ""
resource name and this confluent-kafka has no incremental_alter_configs, so
those go through kafka-python's AlterConfigs and a small hand-written client
of DescribeConfigs v1 and IncrementalAlterConfigs v0 (below)."""

import os
import struct
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from kafka_wire import Connection, nullable_string, string  # noqa: E402

from confluent_kafka import KafkaError, KafkaException, Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, ConfigResource, ConfigSource  # noqa: E402

TIMEOUT = 30
BROKER = ConfigResource.Type.BROKER
TOPIC = ConfigResource.Type.TOPIC

# Kafka's numbers.
BROKER_RESOURCE = 4
INVALID_CONFIG = 40
INVALID_REQUEST = 42
OP_SET, OP_DELETE, OP_APPEND, OP_SUBTRACT = 0, 1, 2, 3
DYNAMIC_BROKER = ConfigSource.DYNAMIC_BROKER_CONFIG.value
DYNAMIC_DEFAULT = ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG.value
STATIC = ConfigSource.STATIC_BROKER_CONFIG.value
DEFAULT = ConfigSource.DEFAULT_CONFIG.value


# --- a minimal Kafka client for what the client libraries here cannot send ---

def _call(bootstrap, api_key, version, body):
    """One request (header v1, correlation id 7) and a Reader of its response
    body (header v0 read off)."""
    host, port = bootstrap.split(":")
    with Connection(int(port), timeout=TIMEOUT, client_id=b"sluice-it-broker-configs",
                    host=host) as c:
        return c.call(api_key, version, body, corr=7)


def describe_raw(bootstrap, name):
    """DescribeConfigs v1 (synonyms) of BROKER `name`: (error, {key: (value,
    source, read_only, [(synonym, value, source)])})."""
    body = struct.pack(">i", 1) + struct.pack(">b", BROKER_RESOURCE) + string(name)
    body += struct.pack(">i", -1) + struct.pack(">?", True)
    r = _call(bootstrap, 32, 1, body)
    r.take(">i")  # throttle
    assert r.take(">i") == 1
    error, message = r.take(">h"), r.string()
    r.take(">b")
    r.string()
    configs = {}
    for _ in range(r.take(">i")):
        key, value = r.string(), r.string()
        read_only = r.take(">?")
        source = r.take(">b")
        r.take(">?")  # sensitive
        synonyms = []
        for _ in range(r.take(">i")):
            synonyms.append((r.string(), r.string(), r.take(">b")))
        configs[key] = (value, source, read_only, synonyms)
    return (error, message), configs


def incremental_alter_raw(bootstrap, name, ops, validate_only=False):
    """IncrementalAlterConfigs v0 of BROKER `name` with [(key, op, value)]:
    (error code, message)."""
    body = struct.pack(">i", 1) + struct.pack(">b", BROKER_RESOURCE) + string(name)
    body += struct.pack(">i", len(ops))
    for key, op, value in ops:
        body += string(key) + struct.pack(">b", op) + nullable_string(value)
    body += struct.pack(">?", validate_only)
    r = _call(bootstrap, 44, 0, body)
    r.take(">i")
    assert r.take(">i") == 1
    return r.take(">h"), r.string()


def alter_cluster_default(bootstrap, configs):
    """AlterConfigs on BROKER "" with kafka-python (librdkafka refuses the name)."""
    from kafka import KafkaAdminClient
    from kafka.admin import ConfigResource as KPResource, ConfigResourceType
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=TIMEOUT * 1000)
    try:
        resp = admin.alter_configs([KPResource(ConfigResourceType.BROKER, "", configs=configs)])
        return resp.resources[0][0], resp.resources[0][1]
    finally:
        admin.close()


class BrokerConfigsTest(harness.BrokerTestCase):
    BROKER_NAME = "broker-configs"
    BROKER_SETTINGS = {"log.retention.hours": "10"}
    BROKER_ADMIN = True

    def tearDown(self):
        super().tearDown()
        # Every test starts from no dynamic configs.
        self.alter("1", {})
        self.assertEqual(alter_cluster_default(self.bootstrap, {})[0], 0)

    def alter(self, name, configs, validate_only=False):
        res = ConfigResource(BROKER, name, set_config=configs)
        fs = self.admin.alter_configs([res], validate_only=validate_only, request_timeout=TIMEOUT)
        return fs[res].result(timeout=TIMEOUT)

    def alter_error(self, name, configs):
        with self.assertRaises(KafkaException) as caught:
            self.alter(name, configs)
        return caught.exception.args[0]

    def describe(self, restype, name):
        res = ConfigResource(restype, name)
        fs = self.admin.describe_configs([res], request_timeout=TIMEOUT)
        return fs[res].result(timeout=TIMEOUT)

    def test_static_and_default_sources(self):
        cfg = self.describe(BROKER, "1")
        self.assertEqual(cfg["log.retention.hours"].value, "10")
        self.assertEqual(cfg["log.retention.hours"].source, STATIC)
        self.assertEqual(cfg["log.retention.ms"].value, str(10 * 3600 * 1000))
        self.assertEqual(cfg["log.retention.ms"].source, STATIC)
        self.assertEqual(cfg["log.segment.bytes"].source, DEFAULT)
        # Dynamic keys are writable, the rest read-only.
        for key in ("log.retention.ms", "log.segment.bytes", "message.max.bytes",
                    "log.cleanup.policy", "compression.type", "min.insync.replicas"):
            self.assertFalse(cfg[key].is_read_only, key)
        for key in ("log.dirs", "listeners", "node.id", "num.partitions"):
            self.assertTrue(cfg[key].is_read_only, key)
        # No cluster-wide defaults yet: "" describes nothing.
        (error, _), configs = describe_raw(self.bootstrap, "")
        self.assertEqual((error, configs), (0, {}))

    def test_per_broker_config_reaches_topics_without_overrides(self):
        harness.create_topic(self.bootstrap, "dyn-plain")
        harness.create_topic(self.bootstrap, "dyn-own", config={"retention.ms": "1000"})
        self.assertIsNone(self.alter("1", {"log.retention.ms": "123456",
                                           "message.max.bytes": "4096"}))

        cfg = self.describe(BROKER, "1")
        self.assertEqual(cfg["log.retention.ms"].value, "123456")
        self.assertEqual(cfg["log.retention.ms"].source, DYNAMIC_BROKER)
        self.assertEqual(cfg["message.max.bytes"].value, "4096")
        self.assertEqual(cfg["message.max.bytes"].source, DYNAMIC_BROKER)

        plain = self.describe(TOPIC, "dyn-plain")
        self.assertEqual(plain["retention.ms"].value, "123456")
        self.assertEqual(plain["retention.ms"].source, DYNAMIC_BROKER)
        self.assertEqual(plain["max.message.bytes"].value, "4096")
        own = self.describe(TOPIC, "dyn-own")
        self.assertEqual(own["retention.ms"].value, "1000")
        self.assertEqual(own["retention.ms"].source, ConfigSource.DYNAMIC_TOPIC_CONFIG.value)

        # The produce path obeys the new max.message.bytes at once.
        self.assertEqual(self.produce("dyn-plain", 10000), KafkaError.MSG_SIZE_TOO_LARGE)
        self.assertIsNone(self.produce("dyn-plain", 1000))
        # Removing the key restores what server.properties (here: defaults) gives.
        self.assertIsNone(self.alter("1", {}))
        self.assertIsNone(self.produce("dyn-plain", 10000))
        plain = self.describe(TOPIC, "dyn-plain")
        self.assertEqual(plain["retention.ms"].value, str(10 * 3600 * 1000))
        self.assertEqual(plain["retention.ms"].source, STATIC)

    def produce(self, topic, size):
        """Produces one message of `size` bytes: None, or the delivery error code."""
        errors = []
        p = Producer({"bootstrap.servers": self.bootstrap, "message.timeout.ms": 20000,
                      "retries": 0})
        p.produce(topic, value=b"x" * size,
                  on_delivery=lambda err, msg: errors.append(err))
        self.assertEqual(p.flush(TIMEOUT), 0)
        return errors[0].code() if errors[0] is not None else None

    def test_cluster_default_scope(self):
        self.assertEqual(alter_cluster_default(self.bootstrap, {"log.segment.bytes": "1048576",
                                                                "log.retention.ms": "5000"}),
                         (0, None))
        (error, _), configs = describe_raw(self.bootstrap, "")
        self.assertEqual(error, 0)
        self.assertEqual(sorted(configs), ["log.retention.ms", "log.segment.bytes"])
        self.assertEqual(configs["log.retention.ms"][:3], ("5000", DYNAMIC_DEFAULT, False))

        cfg = self.describe(BROKER, "1")
        self.assertEqual(cfg["log.segment.bytes"].value, "1048576")
        self.assertEqual(cfg["log.segment.bytes"].source, DYNAMIC_DEFAULT)
        self.assertEqual(cfg["log.retention.ms"].value, "5000")

        # The broker's own layer is above the cluster-wide one.
        self.assertIsNone(self.alter("1", {"log.retention.ms": "7000"}))
        (error, _), mine = describe_raw(self.bootstrap, "1")
        value, source, read_only, synonyms = mine["log.retention.ms"]
        self.assertEqual((value, source, read_only), ("7000", DYNAMIC_BROKER, False))
        self.assertEqual(synonyms[:3], [("log.retention.ms", "7000", DYNAMIC_BROKER),
                                        ("log.retention.ms", "5000", DYNAMIC_DEFAULT),
                                        ("log.retention.hours", "10", STATIC)])
        (error, _), configs = describe_raw(self.bootstrap, "")
        self.assertEqual(configs["log.retention.ms"][0], "5000")
        harness.create_topic(self.bootstrap, "dyn-default")
        topic = self.describe(TOPIC, "dyn-default")
        self.assertEqual(topic["retention.ms"].value, "7000")
        self.assertEqual(topic["segment.bytes"].value, "1048576")
        self.assertEqual(topic["segment.bytes"].source, DYNAMIC_DEFAULT)

    def test_refusals(self):
        err = self.alter_error("1", {"log.dirs": "/elsewhere"})
        self.assertEqual(err.code(), KafkaError.INVALID_REQUEST)
        self.assertIn("Cannot update these configs dynamically: [log.dirs]", err.str())
        err = self.alter_error("1", {"no.such.config": "1"})
        self.assertEqual(err.code(), KafkaError.INVALID_CONFIG)
        err = self.alter_error("1", {"log.retention.ms": "soon"})
        self.assertEqual(err.code(), KafkaError.INVALID_REQUEST)
        self.assertIn("log.retention.ms", err.str())
        self.assertEqual(alter_cluster_default(self.bootstrap, {"listeners": "PLAINTEXT://:1"})[0],
                         INVALID_REQUEST)
        self.assertEqual(incremental_alter_raw(self.bootstrap, "2",
                                               [("log.retention.ms", OP_SET, "1")])[0],
                         INVALID_REQUEST)
        # validate_only checks without changing anything.
        self.assertIsNone(self.alter("1", {"log.retention.ms": "42"}, validate_only=True))
        self.assertEqual(self.describe(BROKER, "1")["log.retention.ms"].source, STATIC)
        # Nothing refused was applied.
        (error, _), configs = describe_raw(self.bootstrap, "1")
        self.assertNotIn(DYNAMIC_BROKER, {c[1] for c in configs.values()})

    def test_incremental_alter_configs(self):
        self.assertEqual(incremental_alter_raw(self.bootstrap, "1", [
            ("log.retention.ms", OP_SET, "2222"),
            ("log.cleanup.policy", OP_APPEND, "compact")]), (0, None))
        cfg = self.describe(BROKER, "1")
        self.assertEqual(cfg["log.retention.ms"].value, "2222")
        self.assertEqual(cfg["log.cleanup.policy"].value, "compact,delete")
        self.assertEqual(cfg["log.cleanup.policy"].source, DYNAMIC_BROKER)
        # Other keys of the scope stay.
        self.assertEqual(incremental_alter_raw(self.bootstrap, "1", [
            ("log.retention.ms", OP_DELETE, None),
            ("log.cleanup.policy", OP_SUBTRACT, "delete")]), (0, None))
        cfg = self.describe(BROKER, "1")
        self.assertEqual(cfg["log.retention.ms"].source, STATIC)
        self.assertEqual(cfg["log.cleanup.policy"].value, "compact")
        self.assertEqual(incremental_alter_raw(self.bootstrap, "", [
            ("compression.type", OP_SET, "zstd")]), (0, None))
        (error, _), configs = describe_raw(self.bootstrap, "")
        self.assertEqual(list(configs), ["compression.type"])
        self.assertEqual(self.describe(BROKER, "1")["compression.type"].source, DYNAMIC_DEFAULT)
        code, message = incremental_alter_raw(self.bootstrap, "1",
                                              [("log.dirs", OP_SET, "/elsewhere")])
        self.assertEqual(code, INVALID_REQUEST, message)
        code, message = incremental_alter_raw(self.bootstrap, "1",
                                              [("log.retention.ms", OP_APPEND, "1")])
        self.assertEqual(code, INVALID_REQUEST, message)


class BrokerConfigsRestartTest(unittest.TestCase):

    def test_dynamic_configs_survive_a_restart(self):
        broker = harness.Broker(name="broker-configs-restart").start()
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        harness.create_topic(broker.bootstrap, "dyn-restart")
        res = ConfigResource(BROKER, "1", set_config={"log.retention.ms": "3333"})
        admin.alter_configs([res], request_timeout=TIMEOUT)[res].result(timeout=TIMEOUT)
        self.assertEqual(alter_cluster_default(broker.bootstrap, {"log.segment.bytes": "2097152"}),
                         (0, None))
        del admin  # its connection would only complain about the restart
        broker.restart()

        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        res = ConfigResource(TOPIC, "dyn-restart")
        topic = admin.describe_configs([res], request_timeout=TIMEOUT)[res].result(timeout=TIMEOUT)
        self.assertEqual(topic["retention.ms"].value, "3333")
        self.assertEqual(topic["retention.ms"].source, DYNAMIC_BROKER)
        self.assertEqual(topic["segment.bytes"].value, "2097152")
        self.assertEqual(topic["segment.bytes"].source, DYNAMIC_DEFAULT)
        (error, _), configs = describe_raw(broker.bootstrap, "")
        self.assertEqual({k: v[0] for k, v in configs.items()}, {"log.segment.bytes": "2097152"})
        broker.stop()


if __name__ == "__main__":
    harness.main()
