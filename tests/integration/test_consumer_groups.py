#!/usr/bin/python3
"""Consumer groups against sluice, judged by Apache Kafka's behaviour: queue
semantics (range assignment, LeaveGroup, a member killed with SIGKILL and
expired after session.timeout.ms, synchronous commits so that every record is
consumed once), cooperative-sticky incremental rebalancing, static membership
(a restart within the session timeout does not rebalance), a group of
kafka-python and kafkajs members, pub-sub across groups, committed offsets
across a SIGTERM and a kill -9 restart, assign()-only commits, the admin side
(ListGroups, DescribeGroups, DeleteGroups, OffsetDelete, lag) and Kafka's error
codes for bad requests. On raw frames (RawClient, for what no library sends):
OffsetCommit v2's retention_time_ms and offsets.retention.check.interval.ms
(tombstones, across SIGTERM and kill -9 restarts), ILLEGAL_GENERATION and
FENCED_INSTANCE_ID, a LeaveGroup v3 batch, DescribeGroups and ListGroups v4's
states filter, a restart between a generation's JoinGroup and SyncGroup, and
hostile JoinGroups (1000 protocols of 10 KiB; truncated and garbage bodies);
a Stable librdkafka group across a SIGTERM restart; 200 groups from simple
commits in ListGroups. __consumer_offsets is the coordinator's alone (Produce,
DeleteTopics and CreatePartitions refused, internal in Metadata), a group's
records land in the partition Kafka places it in (abs of the id's hash), and
a SIGTERM during a rebalance answers the waiting JoinGroup and stops at once.

Group members run as child processes of this script (`--ck-member`,
`--kp-member`; kafkajs_group_member.js for kafkajs) that report what they do
as JSON lines on stdout, so that one can be killed with SIGKILL; kafka-python's
KafkaAdminClient runs in a child too (`--kp-admin`), since it can wait forever
on a failed request. Every child is stopped by PID and dies with this script."""

import collections
import json
import os
import random
import signal
import struct
import subprocess
import sys
import threading
import time
import unittest
import zlib

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from kafka_wire import (API_VERSIONS, CLIENT_ID, Connection, Reader,  # noqa: E402
                        compact_string, connect, expect_closed, nullable_bytes,
                        nullable_string, parse_api_versions_v0, recv_frame, request, string,
                        uvarint)

from confluent_kafka import (OFFSET_BEGINNING, OFFSET_INVALID, Consumer, KafkaError,  # noqa: E402
                             KafkaException, Producer, TopicPartition)
from confluent_kafka.admin import AdminClient, NewPartitions  # noqa: E402

TIMEOUT = 30
THIS = os.path.abspath(__file__)
KAFKAJS_MEMBER = os.path.join(harness.HERE, "kafkajs_group_member.js")
NODE_MODULES = os.path.join(harness.REPO, "tests", "golden", "node_modules")

# Every broker of this file: no wait for more members before the first
# rebalance of a new group (Kafka's default is 3 s).
BASE_SETTINGS = {"group.initial.rebalance.delay.ms": "0"}

# The APIs a consumer group needs, and those of the admin side.
MEMBER_APIS = {8: "OffsetCommit", 9: "OffsetFetch", 10: "FindCoordinator", 11: "JoinGroup",
               12: "Heartbeat", 13: "LeaveGroup", 14: "SyncGroup"}
ADMIN_APIS = {15: "DescribeGroups", 16: "ListGroups", 42: "DeleteGroups", 47: "OffsetDelete"}

# Kafka's error codes.
NONE = 0
UNKNOWN_TOPIC_OR_PARTITION = 3
COORDINATOR_LOAD_IN_PROGRESS = 14
COORDINATOR_NOT_AVAILABLE = 15
NOT_COORDINATOR = 16
ILLEGAL_GENERATION = 22
INVALID_TOPIC_EXCEPTION = 17
INVALID_GROUP_ID = 24
UNKNOWN_MEMBER_ID = 25
INVALID_SESSION_TIMEOUT = 26
REBALANCE_IN_PROGRESS = 27
INVALID_REQUEST = 42
NON_EMPTY_GROUP = 68
GROUP_ID_NOT_FOUND = 69
MEMBER_ID_REQUIRED = 79
FENCED_INSTANCE_ID = 82
GROUP_SUBSCRIBED_TO_TOPIC = 86
COORDINATOR_RETRY = (COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE, NOT_COORDINATOR)


# --- group members in child processes -------------------------------------------

def _child_io():
    """emit() writes one JSON line; stop[0] turns true on SIGTERM."""
    stop = [False]

    def on_term(_signum, _frame):
        stop[0] = True

    signal.signal(signal.SIGTERM, on_term)

    def emit(**ev):
        sys.stdout.write(json.dumps(ev) + "\n")
        sys.stdout.flush()

    return emit, stop


def _text(b):
    return None if b is None else b.decode("utf-8", "replace")


def cgmd_generation(consumer):
    """(generation, member id) from librdkafka's serialized consumer group
    metadata: "CGMDv2:", the generation (native int32), then NUL-terminated
    group id and member id."""
    data = consumer.consumer_group_metadata()
    if not isinstance(data, bytes) or not data.startswith(b"CGMDv2:") or len(data) < 11:
        return None, None
    (generation,) = struct.unpack_from("=i", data, 7)
    fields = data[11:].split(b"\0")
    return generation, _text(fields[1]) if len(fields) > 1 else None


def ck_member_main(spec):
    """A confluent_kafka (librdkafka) member: subscribe, then for each message
    report it ("msg"), sleep spec["delay"] seconds (the processing), commit it
    synchronously and report the outcome ("commit" with the committed offset,
    or "commit_failed"). Also reports the rebalance callbacks, every change of
    consumer.assignment() and of the generation, consumer errors, and "closed"
    after close() (on SIGTERM)."""
    from confluent_kafka import KafkaError, KafkaException
    emit, stop = _child_io()

    def error_cb(err):
        emit(ev="error", where="error_cb", code=err.code(), name=err.name(), text=err.str())

    conf = {
        "bootstrap.servers": spec["bootstrap"],
        "group.id": spec["group"],
        "client.id": spec["name"],
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": False,
        "fetch.wait.max.ms": 100,
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
        "error_cb": error_cb,
    }
    conf.update(spec.get("conf", {}))
    c = Consumer(conf)

    def parts(tps):
        return sorted(tp.partition for tp in tps)

    c.subscribe([spec["topic"]],
                on_assign=lambda _c, tps: emit(ev="assign", parts=parts(tps)),
                on_revoke=lambda _c, tps: emit(ev="revoke", parts=parts(tps)),
                on_lost=lambda _c, tps: emit(ev="lost", parts=parts(tps)))
    delay = spec.get("delay", 0)
    deadline = time.monotonic() + spec.get("lifetime", 240)
    last_assignment = last_generation = None
    try:
        while not stop[0] and time.monotonic() < deadline:
            m = c.poll(0.1)
            assignment = parts(c.assignment())
            if assignment != last_assignment:
                emit(ev="assignment", parts=assignment)
                last_assignment = assignment
            generation = cgmd_generation(c)
            if generation != last_generation:
                emit(ev="gen", gen=generation[0], member=generation[1])
                last_generation = generation
            if m is None:
                continue
            if m.error():
                if m.error().code() != KafkaError._PARTITION_EOF:
                    emit(ev="error", where="poll", code=m.error().code(), name=m.error().name(),
                         text=m.error().str())
                continue
            p, o = m.partition(), m.offset()
            emit(ev="msg", p=p, o=o, k=_text(m.key()), v=_text(m.value()))
            if delay:
                time.sleep(delay)
            try:
                res = c.commit(message=m, asynchronous=False)
                bad = [str(tp.error) for tp in res or [] if tp.error is not None]
                if bad:
                    emit(ev="commit_failed", p=p, o=o, err=bad[0])
                else:
                    emit(ev="commit", p=p, o=o + 1)
            except KafkaException as e:
                emit(ev="commit_failed", p=p, o=o, err=str(e))
    finally:
        c.close()
        emit(ev="closed")
    return 0


def kp_member_main(spec):
    """A kafka-python member with the range assignor: reports like
    ck_member_main; commits synchronously after each polled batch."""
    from kafka import KafkaConsumer
    from kafka.coordinator.assignors.range import RangePartitionAssignor
    emit, stop = _child_io()
    try:
        c = KafkaConsumer(bootstrap_servers=[spec["bootstrap"]], group_id=spec["group"],
                          client_id=spec["name"], auto_offset_reset="earliest",
                          enable_auto_commit=False,
                          partition_assignment_strategy=[RangePartitionAssignor],
                          session_timeout_ms=spec.get("session_timeout_ms", 10000),
                          heartbeat_interval_ms=spec.get("heartbeat_interval_ms", 1000),
                          fetch_max_wait_ms=100, api_version_auto_timeout_ms=10000)
    except Exception as e:
        emit(ev="error", where="constructor", name=type(e).__name__, text=str(e)[:500])
        return 1
    c.subscribe([spec["topic"]])
    deadline = time.monotonic() + spec.get("lifetime", 240)
    last_assignment = None
    try:
        while not stop[0] and time.monotonic() < deadline:
            try:
                records = c.poll(timeout_ms=200)
            except Exception as e:
                emit(ev="error", where="poll", name=type(e).__name__, text=str(e)[:500])
                time.sleep(0.2)
                continue
            assignment = sorted(tp.partition for tp in c.assignment())
            if assignment != last_assignment:
                emit(ev="assignment", parts=assignment)
                last_assignment = assignment
            batch = [r for rs in records.values() for r in rs]
            for r in batch:
                emit(ev="msg", p=r.partition, o=r.offset, k=_text(r.key), v=_text(r.value))
            if batch:
                try:
                    c.commit()
                    for r in batch:
                        emit(ev="commit", p=r.partition, o=r.offset + 1)
                except Exception as e:
                    for r in batch:
                        emit(ev="commit_failed", p=r.partition, o=r.offset, err=repr(e)[:300])
    finally:
        c.close()
        emit(ev="closed")
    return 0


def kp_admin_main(spec):
    """One kafka-python KafkaAdminClient call; prints {"ok": result} or
    {"exc": name, "text": message} as JSON."""
    from kafka import KafkaAdminClient
    admin = KafkaAdminClient(bootstrap_servers=[spec["bootstrap"]], client_id="sluice-it-groups-admin",
                             request_timeout_ms=20000, api_version_auto_timeout_ms=10000)
    try:
        op = spec["op"]
        if op == "describe":
            out = []
            for g in admin.describe_consumer_groups(spec["groups"]):
                members = []
                for m in g.members:
                    a = m.member_assignment
                    assignment = ({t: sorted(ps) for t, ps in a.assignment}
                                  if hasattr(a, "assignment") else None)
                    members.append({"member_id": m.member_id, "client_id": m.client_id,
                                    "assignment": assignment})
                out.append({"error": g.error_code, "group": g.group, "state": g.state,
                            "protocol_type": g.protocol_type, "protocol": g.protocol,
                            "members": members})
        elif op == "list":
            out = sorted([g, t] for g, t in admin.list_consumer_groups())
        elif op == "delete":
            out = [[g, err.errno, err.__name__] for g, err in admin.delete_consumer_groups(spec["groups"])]
        elif op == "offsets":
            out = sorted([tp.topic, tp.partition, om.offset, om.metadata]
                         for tp, om in admin.list_consumer_group_offsets(spec["group"]).items())
        else:
            raise ValueError("unknown op %r" % op)
        print(json.dumps({"ok": out}))
    except Exception as e:
        print(json.dumps({"exc": type(e).__name__, "text": str(e)[:2000]}))
    finally:
        admin.close()
    return 0


CHILD_MODES = {"--ck-member": ck_member_main, "--kp-member": kp_member_main,
               "--kp-admin": kp_admin_main}


class Member:
    """A group member in a child process, and what it reported (each event a
    dict with its arrival time under "t")."""

    def __init__(self, name, argv, env=None):
        self.name = name
        self.argv = argv
        self.events = []
        self.lock = threading.Lock()
        self.stderr_path = os.path.join(harness.make_temp_dir("sluice-it-member-"), "stderr")
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=err, env=env, preexec_fn=harness._die_with_parent)
        self.pid = self.proc.pid
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            now = time.monotonic()
            try:
                ev = json.loads(line)
            except ValueError:
                ev = {"ev": "text", "text": line.decode("utf-8", "replace").rstrip()}
            if not isinstance(ev, dict):
                ev = {"ev": "text", "text": repr(ev)}
            ev["t"] = now
            with self.lock:
                self.events.append(ev)

    # --- what it reported --------------------------------------------------------

    def all_events(self, kinds=None, since=0):
        with self.lock:
            evs = self.events[since:]
        return [e for e in evs if kinds is None or e["ev"] in kinds]

    def mark(self):
        with self.lock:
            return len(self.events)

    def assignment(self):
        """The latest reported assignment (sorted partitions), or None."""
        evs = self.all_events(("assignment", "joined"))
        return evs[-1]["parts"] if evs else None

    def assignment_time(self):
        evs = self.all_events(("assignment", "joined"))
        return evs[-1]["t"] if evs else None

    def generations(self, since=0):
        return [(e["gen"], e["member"]) for e in self.all_events(("gen",), since)
                if e["gen"] is not None and e["gen"] >= 0]

    def processed(self):
        """(partition, offset, value) of every message it reported."""
        return [(e["p"], e["o"], e["v"]) for e in self.all_events(("msg",))]

    def acked(self):
        """(partition, offset) of the messages whose commit succeeded."""
        return {(e["p"], e["o"] - 1) for e in self.all_events(("commit",))}

    def commit_failures(self):
        return {(e["p"], e["o"]) for e in self.all_events(("commit_failed",))}

    def has(self, kind):
        return bool(self.all_events((kind,)))

    def summary(self):
        evs = self.all_events()
        counts = collections.Counter(e["ev"] for e in evs)
        notable = [{k: v for k, v in e.items() if k != "t"} for e in evs
                   if e["ev"] not in ("msg", "commit")]
        try:
            with open(self.stderr_path, "rb") as f:
                err = f.read().decode("utf-8", "replace").splitlines()[-15:]
        except OSError:
            err = []
        return "--- member %s (pid %d, exit %s): assignment %s, %s\n  last events: %s\n  stderr: %s" % (
            self.name, self.pid, self.proc.poll(), self.assignment(), dict(counts),
            json.dumps(notable[-12:]), "\n    ".join(err))

    # --- stopping it ---------------------------------------------------------------

    def alive(self):
        return self.proc.poll() is None

    def signal_term(self):
        if self.alive():
            os.kill(self.pid, signal.SIGTERM)

    def terminate(self, timeout=TIMEOUT):
        """SIGTERM (the member closes: LeaveGroup unless static), wait for the
        exit; returns the exit status."""
        self.signal_term()
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("member %s did not exit within %d s of SIGTERM\n%s"
                                 % (self.name, timeout, self.summary()))
        self.reader.join(5)
        return rc

    def kill(self):
        """SIGKILL by PID: no LeaveGroup, no last commit."""
        if self.alive():
            os.kill(self.pid, signal.SIGKILL)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.reader.join(5)


# --- a minimal raw client for what the client libraries cannot send ------------------

def encode_subscription(topics):
    """ConsumerProtocolSubscription v0 with its version prefix."""
    return (struct.pack(">hi", 0, len(topics)) + b"".join(string(t) for t in topics)
            + nullable_bytes(None))


def encode_assignment(assignment):
    """{topic: [partitions]} -> ConsumerProtocolAssignment v0 bytes."""
    out = struct.pack(">hi", 0, len(assignment))
    for topic, partitions in sorted(assignment.items()):
        out += string(topic) + struct.pack(">i", len(partitions))
        out += b"".join(struct.pack(">i", p) for p in partitions)
    return out + nullable_bytes(None)


def join_group_body(version, group, session_timeout_ms, member_id, protocols, instance_id=None,
                    protocol_type="consumer", rebalance_timeout_ms=None):
    """A JoinGroup v0-5 request body; protocols: [(name, metadata bytes)]."""
    body = string(group) + struct.pack(">i", session_timeout_ms)
    if version >= 1:
        body += struct.pack(">i", rebalance_timeout_ms or session_timeout_ms)
    body += string(member_id)
    if version >= 5:
        body += nullable_string(instance_id)
    body += string(protocol_type) + struct.pack(">i", len(protocols))
    for name, metadata in protocols:
        body += string(name) + nullable_bytes(metadata)
    return body


def offset_commit_key(group, topic, partition):
    """A __consumer_offsets key: OffsetCommitKey (version 1)."""
    return struct.pack(">h", 1) + string(group) + string(topic) + struct.pack(">i", partition)


def offset_commit_value(offset, commit_ms):
    """OffsetCommitValue version 1: offset, metadata, commit and expire time."""
    return struct.pack(">hq", 1, offset) + string("") + struct.pack(">qq", commit_ms, -1)


def message_set_v1(records):
    """A legacy message set of magic 1 messages [(key, value)] (what Produce
    v2 carries), each with its CRC32."""
    out = b""
    for i, (key, value) in enumerate(records):
        body = (struct.pack(">bbq", 1, 0, int(time.time() * 1000)) + nullable_bytes(key)
                + nullable_bytes(value))
        message = struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF) + body
        out += struct.pack(">qi", i, len(message)) + message
    return out


def decode_assignment(data):
    """ConsumerProtocolAssignment bytes -> {topic: sorted partitions}."""
    if not data:
        return {}
    r = Reader(data, errors="replace")
    r.take(">h")  # version
    out = {}
    for _ in range(r.take(">i")):
        topic = r.string()
        out[topic] = sorted(r.take(">i") for _ in range(r.take(">i")))
    return out


class RawClient(Connection):
    """Requests on one connection (header v1; v2 for ListGroups v4): each call
    uses the highest version that both the broker (ApiVersions) and this
    encoder know."""

    def __init__(self, port, client_id="sluice-it-groups"):
        super().__init__(port, timeout=TIMEOUT, client_id=client_id.encode(), errors="replace")
        # ApiVersions v0 under kafka_wire's client id, unchecked correlation id.
        self.send(API_VERSIONS, 0, client_id=CLIENT_ID)
        _, err, self.apis = parse_api_versions_v0(recv_frame(self.sock, TIMEOUT))
        if err != NONE:
            raise AssertionError("ApiVersions v0: error %d" % err)

    def version(self, api_key, lo, hi):
        if api_key not in self.apis:
            raise AssertionError("the broker does not advertise API key %d" % api_key)
        blo, bhi = self.apis[api_key]
        v = min(hi, bhi)
        if v < max(lo, blo):
            raise AssertionError("API key %d: the broker serves v%d-%d, this client v%d-%d"
                                 % (api_key, blo, bhi, lo, hi))
        return v

    def join_group(self, group, session_timeout_ms, topics, member_id="", instance_id=None,
                   protocols=None, version=None):
        """JoinGroup v0-5 (version: exactly that one) with one "range"
        protocol, or `protocols` [(name, metadata)]: {version, error,
        generation, protocol, leader, member_id, members: [(member_id,
        instance_id, metadata)]}."""
        v = self.version(11, version or 0, version or 5)
        if instance_id is not None and v < 5:
            raise AssertionError("JoinGroup v%d has no group instance id" % v)
        if protocols is None:
            protocols = [("range", encode_subscription(topics))]
        r = self.call(11, v, join_group_body(v, group, session_timeout_ms, member_id, protocols,
                                             instance_id=instance_id))
        if v >= 2:
            r.take(">i")  # throttle
        out = {"version": v, "error": r.take(">h"), "generation": r.take(">i"),
               "protocol": r.string(), "leader": r.string(), "member_id": r.string()}
        out["members"] = []
        for _ in range(r.take(">i")):
            mid = r.string()
            iid = r.string() if v >= 5 else None
            out["members"].append((mid, iid, r.bytes()))
        return out

    def sync_group(self, group, generation, member_id, assignments=None, instance_id=None):
        """SyncGroup v0-3; assignments {member_id: {topic: [partitions]}} (the
        leader's): (error code, {topic: partitions} of this member)."""
        v = self.version(14, 3 if instance_id is not None else 0, 3)
        body = string(group) + struct.pack(">i", generation) + string(member_id)
        if v >= 3:
            body += nullable_string(instance_id)
        assignments = assignments or {}
        body += struct.pack(">i", len(assignments))
        for mid, assignment in sorted(assignments.items()):
            body += string(mid) + nullable_bytes(encode_assignment(assignment))
        r = self.call(14, v, body)
        if v >= 1:
            r.take(">i")
        err = r.take(">h")
        return err, decode_assignment(r.bytes())

    def heartbeat(self, group, generation, member_id, instance_id=None):
        """Heartbeat v0-3: the error code."""
        v = self.version(12, 3 if instance_id is not None else 0, 3)
        body = string(group) + struct.pack(">i", generation) + string(member_id)
        if v >= 3:
            body += nullable_string(instance_id)
        r = self.call(12, v, body)
        if v >= 1:
            r.take(">i")
        return r.take(">h")

    def leave_group(self, group, members):
        """LeaveGroup v3 (a batch, KIP-345); members [(member_id,
        instance_id)]: (top-level error, [(member_id, instance_id, error)])."""
        v = self.version(13, 3, 3)
        body = string(group) + struct.pack(">i", len(members))
        for mid, iid in members:
            body += string(mid) + nullable_string(iid)
        r = self.call(13, v, body)
        r.take(">i")
        err = r.take(">h")
        return err, [(r.string(), r.string(), r.take(">h")) for _ in range(r.take(">i"))]

    def describe_groups(self, groups):
        """DescribeGroups v0-4: [{error, group, state, protocol_type, protocol,
        members: [{member_id, instance_id, client_id, client_host, metadata,
        assignment}]}]."""
        v = self.version(15, 0, 4)
        body = struct.pack(">i", len(groups)) + b"".join(string(g) for g in groups)
        if v >= 3:
            body += b"\x00"  # include_authorized_operations
        r = self.call(15, v, body)
        if v >= 1:
            r.take(">i")
        out = []
        for _ in range(r.take(">i")):
            g = {"error": r.take(">h"), "group": r.string(), "state": r.string(),
                 "protocol_type": r.string(), "protocol": r.string(), "members": []}
            for _ in range(r.take(">i")):
                m = {"member_id": r.string()}
                m["instance_id"] = r.string() if v >= 4 else None
                m["client_id"], m["client_host"] = r.string(), r.string()
                m["metadata"], m["assignment"] = r.bytes(), r.bytes()
                g["members"].append(m)
            if v >= 3:
                r.take(">i")  # authorized operations
            out.append(g)
        return out

    def list_groups(self, states=None):
        """ListGroups v4 (flexible; states_filter, KIP-518): (error,
        {group: (protocol_type, state)})."""
        v = self.version(16, 4, 4)
        states = states or []
        body = uvarint(len(states) + 1) + b"".join(compact_string(s) for s in states) + b"\x00"
        r = self.call(16, v, body, flexible=True)
        r.take(">i")  # throttle
        err = r.take(">h")
        out = {}
        for _ in range(r.uvarint() - 1):
            gid, ptype, state = r.compact_string(), r.compact_string(), r.compact_string()
            r.skip_tags()
            out[gid] = (ptype, state)
        return err, out

    def offset_fetch(self, group, topic, partitions):
        """OffsetFetch v1-5 of some partitions of one topic: (top-level error
        (v2+), {partition: (committed offset, error)})."""
        v = self.version(9, 1, 5)
        body = (string(group) + struct.pack(">i", 1) + string(topic)
                + struct.pack(">i", len(partitions)))
        body += b"".join(struct.pack(">i", p) for p in partitions)
        r = self.call(9, v, body)
        if v >= 3:
            r.take(">i")
        out = {}
        for _ in range(r.take(">i")):
            r.string()
            for _ in range(r.take(">i")):
                p, offset = r.take(">i"), r.take(">q")
                if v >= 5:
                    r.take(">i")  # leader epoch
                r.string()  # metadata
                out[p] = (offset, r.take(">h"))
        err = r.take(">h") if v >= 2 else NONE
        return err, out

    def offset_commit(self, group, offsets, generation=-1, member_id="", instance_id=None,
                      version=None, retention_ms=-1):
        """OffsetCommit v2-7 (version: exactly that one) ({(topic, partition):
        offset}; generation -1 and no member: a commit outside group
        management; retention_ms: v2-4's retention_time_ms, -1 the
        broker's): {(topic, partition): error code}."""
        v = self.version(8, version or (7 if instance_id is not None else 2), version or 7)
        body = string(group) + struct.pack(">i", generation) + string(member_id)
        if v >= 7:
            body += nullable_string(instance_id)
        if v <= 4:
            body += struct.pack(">q", retention_ms)
        by_topic = collections.defaultdict(list)
        for (topic, partition), offset in offsets.items():
            by_topic[topic].append((partition, offset))
        body += struct.pack(">i", len(by_topic))
        for topic, parts in by_topic.items():
            body += string(topic) + struct.pack(">i", len(parts))
            for partition, offset in parts:
                body += struct.pack(">iq", partition, offset)
                if v >= 6:
                    body += struct.pack(">i", -1)  # leader epoch
                body += nullable_string("")
        r = self.call(8, v, body)
        if v >= 3:
            r.take(">i")
        out = {}
        for _ in range(r.take(">i")):
            topic = r.string()
            for _ in range(r.take(">i")):
                partition = r.take(">i")
                out[(topic, partition)] = r.take(">h")
        return out

    def produce(self, topic, partition, records, acks=-1):
        """Produce v2 of [(key, value)] to one partition: (error, base offset)."""
        v = self.version(0, 2, 2)
        records = message_set_v1(records)
        body = struct.pack(">hi", acks, 10000) + struct.pack(">i", 1) + string(topic)
        body += struct.pack(">ii", 1, partition) + nullable_bytes(records)
        r = self.call(0, v, body)
        out = None
        for _ in range(r.take(">i")):
            r.string()
            for _ in range(r.take(">i")):
                r.take(">i")
                err, base = r.take(">h"), r.take(">q")
                r.take(">q")  # log append time
                out = (err, base)
        return out

    def metadata(self, topics=None):
        """Metadata v1 (topics None: all): {topic: (error, is_internal,
        partition count)}."""
        v = self.version(3, 1, 1)
        if topics is None:
            body = struct.pack(">i", -1)
        else:
            body = struct.pack(">i", len(topics)) + b"".join(string(t) for t in topics)
        r = self.call(3, v, body)
        for _ in range(r.take(">i")):  # brokers
            r.take(">i"), r.string(), r.take(">i"), r.string()
        r.take(">i")  # controller
        out = {}
        for _ in range(r.take(">i")):
            err, name, internal = r.take(">h"), r.string(), r.take(">b")
            n = r.take(">i")
            for _ in range(n):
                r.take(">h"), r.take(">i"), r.take(">i")
                for _ in range(2):  # replicas, isr
                    for _ in range(r.take(">i")):
                        r.take(">i")
            out[name] = (err, bool(internal), n)
        return out

    def delete_topics(self, topics):
        """DeleteTopics v1: {topic: error}."""
        v = self.version(20, 1, 1)
        body = struct.pack(">i", len(topics)) + b"".join(string(t) for t in topics)
        body += struct.pack(">i", 10000)
        r = self.call(20, v, body)
        r.take(">i")  # throttle
        return {r.string(): r.take(">h") for _ in range(r.take(">i"))}

    def create_partitions(self, topic, count):
        """CreatePartitions v0 of one topic to `count` partitions: (error,
        message)."""
        v = self.version(37, 0, 0)
        body = struct.pack(">i", 1) + string(topic) + struct.pack(">i", count)
        body += struct.pack(">i", -1)  # no assignment
        body += struct.pack(">ib", 10000, 0)  # timeout, validate_only
        r = self.call(37, v, body)
        r.take(">i")  # throttle
        out = None
        for _ in range(r.take(">i")):
            r.string()
            out = (r.take(">h"), r.string())
        return out

    def offset_delete(self, group, topic, partitions):
        """OffsetDelete v0: (top-level error, {partition: error})."""
        v = self.version(47, 0, 0)
        body = (string(group) + struct.pack(">i", 1) + string(topic)
                + struct.pack(">i", len(partitions)))
        body += b"".join(struct.pack(">i", p) for p in partitions)
        r = self.call(47, v, body)
        err = r.take(">h")
        r.take(">i")  # throttle
        out = {}
        for _ in range(r.take(">i")):
            r.string()
            for _ in range(r.take(">i")):
                partition = r.take(">i")
                out[partition] = r.take(">h")
        return err, out


def in_thread(fn):
    """Runs fn() in a daemon thread (a request whose answer waits for another
    member's); returns result(timeout), which joins it and returns fn's value
    or raises what it raised."""
    box = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as e:  # handed to the caller
            box["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()

    def result(timeout=TIMEOUT):
        t.join(timeout)
        if t.is_alive():
            raise AssertionError("no answer within %d s" % timeout)
        if "error" in box:
            raise box["error"]
        return box["value"]

    result.done = lambda: not t.is_alive()
    return result


def parse_offsets_key(key):
    """A __consumer_offsets record key: ("offset", group, topic, partition)
    for versions 0-1 (OffsetCommitKey), ("group", group) for 2
    (GroupMetadataKey), None otherwise."""
    r = Reader(key, errors="replace")
    version = r.take(">h")
    if version in (0, 1):
        return ("offset", r.string(), r.string(), r.take(">i"))
    if version == 2:
        return ("group", r.string())
    return None


def retry_coordinator(call, errors_of=lambda r: [r], timeout=20):
    """call() until none of its errors is a coordinator error (loading, not
    available, not coordinator): a fresh broker may still be loading
    __consumer_offsets. Bounded."""
    deadline = time.monotonic() + timeout
    while True:
        r = call()
        if not any(e in COORDINATOR_RETRY for e in errors_of(r)) or time.monotonic() > deadline:
            return r
        time.sleep(0.2)


# --- the tests -------------------------------------------------------------------------

class ConsumerGroupTest(unittest.TestCase):

    def setUp(self):
        self.members = []
        self.broker = None
        self.produced = {}  # value -> (partition, offset)
        self._producer = None

    def tearDown(self):
        for m in self.members:
            m.kill()
        if self._producer is not None:
            self._producer.flush(5)
        if self.broker is not None:
            alive = self.broker.alive()
            self.broker.stop(expect_clean=alive)
            self.assertTrue(alive, "the broker died during the test")

    # --- helpers -------------------------------------------------------------------

    def raw(self, client_id="sluice-it-groups"):
        """A RawClient on the current broker, closed at the end of the test."""
        c = RawClient(self.broker.port, client_id=client_id)
        self.addCleanup(c.close)
        return c

    def start_broker(self, name, settings=None, apis=MEMBER_APIS):
        s = dict(BASE_SETTINGS)
        s.update(settings or {})
        self.broker = harness.Broker(name=name, settings=s).start()
        raw = RawClient(self.broker.port)
        raw.close()
        missing = {k: v for k, v in apis.items() if k not in raw.apis}
        if missing:
            self.fail("the broker does not serve consumer groups: ApiVersions lacks %s"
                      % ", ".join("%s (%d)" % (n, k) for k, n in sorted(missing.items())))
        return self.broker

    def ck_member(self, name, group, topic, conf=None, delay=0.0):
        spec = {"bootstrap": self.broker.bootstrap, "group": group, "topic": topic, "name": name,
                "conf": conf or {}, "delay": delay}
        m = Member(name, [sys.executable, THIS, "--ck-member", json.dumps(spec)])
        self.members.append(m)
        return m

    def kp_member(self, name, group, topic, **extra):
        spec = {"bootstrap": self.broker.bootstrap, "group": group, "topic": topic, "name": name}
        spec.update(extra)
        m = Member(name, [sys.executable, THIS, "--kp-member", json.dumps(spec)])
        self.members.append(m)
        return m

    def kjs_member(self, name, group, topic):
        node = harness.require_tool("node")
        if not os.path.isdir(os.path.join(NODE_MODULES, "kafkajs")):
            raise unittest.SkipTest("kafkajs is not installed in %s (npm ci there)" % NODE_MODULES)
        args = {"groupId": group, "topic": topic, "clientId": name, "sessionTimeout": 10000,
                "heartbeatInterval": 500}
        env = dict(os.environ, NODE_PATH=NODE_MODULES)
        m = Member(name, [node, KAFKAJS_MEMBER, self.broker.bootstrap, json.dumps(args)], env=env)
        self.members.append(m)
        return m

    def kp_admin(self, op, **args):
        """One KafkaAdminClient call in a child: its result; RuntimeError if it
        raised (a retry may help), AssertionError if the child failed."""
        spec = dict(args, op=op, bootstrap=self.broker.bootstrap)
        try:
            r = subprocess.run([sys.executable, THIS, "--kp-admin", json.dumps(spec)],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=60, preexec_fn=harness._die_with_parent)
        except subprocess.TimeoutExpired:
            raise AssertionError("kafka-python admin %s %s: no answer within 60 s" % (op, args))
        lines = r.stdout.decode("utf-8", "replace").strip().splitlines()
        if r.returncode != 0 or not lines:
            raise AssertionError("kafka-python admin %s failed (%d):\n%s" % (
                op, r.returncode, r.stderr.decode("utf-8", "replace")[-3000:]))
        out = json.loads(lines[-1])
        if "exc" in out:
            raise RuntimeError("kafka-python admin %s %s: %s: %s" % (op, args, out["exc"], out["text"]))
        return out["ok"]

    def kp_offsets(self, group):
        """{(topic, partition): committed offset} from kafka-python's
        list_consumer_group_offsets (OffsetFetch of all partitions)."""
        rows = harness.wait_until(lambda: [self.kp_admin("offsets", group=group)], TIMEOUT,
                                  interval=0.5, what="list_consumer_group_offsets(%s)" % group)[0]
        return {(t, p): off for t, p, off, _meta in rows}

    def wait(self, predicate, timeout, what, members=()):
        try:
            return harness.wait_until(predicate, timeout, interval=0.05, what=what)
        except AssertionError as e:
            raise AssertionError("%s\n%s" % (e, "\n".join(m.summary() for m in members))) from None

    def wait_split(self, members, partitions, timeout=TIMEOUT, stable_s=1.0):
        """Waits until the members' assignments are disjoint, together cover
        partitions 0..partitions-1, are balanced (sizes differ by at most one),
        and stay so for stable_s. Returns {name: partitions}."""
        seen = {"value": None, "since": 0.0}

        def split():
            asg = {m.name: m.assignment() for m in members}
            if any(a is None for a in asg.values()):
                return False
            flat = sorted(p for a in asg.values() for p in a)
            sizes = [len(a) for a in asg.values()]
            if flat != list(range(partitions)) or max(sizes) - min(sizes) > 1:
                seen["value"] = None
                return False
            now = time.monotonic()
            if asg != seen["value"]:
                seen["value"], seen["since"] = asg, now
            return now - seen["since"] >= stable_s and asg

        return self.wait(split, timeout, "%s to split %d partitions" % (
            [m.name for m in members], partitions), members)

    def produce(self, topic, first, count, partition=None):
        """Keyed records "rec-%06d" (i from first), acks=all, all acknowledged;
        self.produced maps each value to its (partition, offset)."""
        if self._producer is None:
            self._producer = Producer({"bootstrap.servers": self.broker.bootstrap, "acks": "all",
                                       "linger.ms": 5})
        errors = []

        def report(err, msg):
            if err is not None:
                errors.append(err)
            else:
                self.produced[msg.value().decode()] = (msg.partition(), msg.offset())

        for i in range(first, first + count):
            extra = {} if partition is None else {"partition": partition(i)}
            self._producer.produce(topic, key=b"key-%d" % i, value=b"rec-%06d" % i,
                                   on_delivery=report, **extra)
            self._producer.poll(0)
        self.assertEqual(self._producer.flush(TIMEOUT), 0, "records still unacknowledged")
        self.assertEqual(errors[:5], [], "%d delivery errors" % len(errors))
        return ["rec-%06d" % i for i in range(first, first + count)]

    def wait_consumed(self, members, values, timeout=60, committed=False):
        """Waits until every record in `values` was processed by one of the
        members (with committed: and its commit succeeded)."""
        want = {self.produced[v] for v in values}

        def got():
            if committed:
                return {w for m in members for w in m.acked()}
            return {(p, o) for m in members for p, o, _ in m.processed()}

        def covered():
            return want <= got()

        def missing():
            return len(want - got())

        try:
            harness.wait_until(covered, timeout, interval=0.1, what="records consumed")
        except AssertionError as e:
            raise AssertionError("%s: %d of %d records never consumed\n%s" % (
                e, missing(), len(want), "\n".join(m.summary() for m in members))) from None

    def check_delivered(self, members, allowed_duplicates=frozenset(), allow_failed_commits=False):
        """Every produced record was processed by some member, with the content
        it was produced with; none more than once, except (partition, offset)
        in allowed_duplicates or, with allow_failed_commits, whose commit
        failed at the member that processed it (Kafka's at-least-once window).
        Without allow_failed_commits no commit may fail: Kafka accepts a
        member's commit with its current generation while the group is Stable
        and also while it prepares a rebalance, and an eager member rejoins only
        after its revocation, so it never commits during CompletingRebalance.
        Returns the duplicates."""
        failed = {m.name: m.all_events(("commit_failed",))[:3] for m in members if m.commit_failures()}
        if not allow_failed_commits:
            self.assertEqual(failed, {}, "commits failed")
        by_where = {where: v for v, where in self.produced.items()}
        counts = collections.Counter()
        for m in members:
            for p, o, v in m.processed():
                self.assertIn((p, o), by_where, "%s processed %s:%s, never produced" % (m.name, p, o))
                self.assertEqual(v, by_where[(p, o)], "content at %s:%s" % (p, o))
                counts[(p, o)] += 1
        missing = sorted(set(by_where) - set(counts))
        self.assertEqual(missing[:10], [], "%d records never consumed" % len(missing))
        explained = set(allowed_duplicates)
        for m in members:
            explained |= m.commit_failures() if allow_failed_commits else set()
        duplicates = {k: n for k, n in counts.items() if n > 1}
        unexplained = {k: n for k, n in duplicates.items() if k not in explained or n > 2}
        self.assertEqual(unexplained, {}, "records consumed more than once outside the window of an "
                         "uncommitted message\n%s" % "\n".join(m.summary() for m in members))
        return duplicates

    def committed(self, group, topic, partitions):
        """{partition: committed offset} through confluent_kafka's committed()
        (OffsetFetch), from a consumer that does not join the group."""
        c = harness.ck_consumer(self.broker.bootstrap, **{"group.id": group})
        try:
            def fetch():
                tps = c.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
                errors = [tp.error for tp in tps if tp.error is not None]
                return not errors and [{tp.partition: tp.offset for tp in tps}]
            return harness.wait_until(fetch, TIMEOUT, interval=0.2,
                                      what="committed offsets of %s" % group)[0]
        finally:
            c.close()

    def group_consumer(self, group, **extra):
        conf = {"bootstrap.servers": self.broker.bootstrap, "group.id": group,
                "enable.auto.commit": False, "auto.offset.reset": "earliest",
                "enable.partition.eof": False, "fetch.wait.max.ms": 100,
                "session.timeout.ms": 6000, "heartbeat.interval.ms": 500,
                "error_cb": lambda err: None}
        conf.update(extra)
        return Consumer(conf)

    def consume_and_commit(self, c, partitions, at_least, timeout=TIMEOUT):
        """Polls c (subscribed) until it has seen `at_least` messages and every
        partition in `partitions`, committing each synchronously after it
        arrives, and stops right there. Returns ({partition: first offset},
        {partition: next offset}, [messages])."""
        first, nxt, msgs = {}, {}, []
        deadline = time.monotonic() + timeout
        while len(msgs) < at_least or not set(partitions) <= set(first):
            self.assertLess(time.monotonic(), deadline, "consumed %d messages, partitions %s, in %d s"
                            % (len(msgs), sorted(first), timeout))
            m = c.poll(0.2)
            if m is None:
                continue
            self.assertIsNone(m.error(), "consumer error")
            first.setdefault(m.partition(), m.offset())
            self.assertEqual(m.offset(), nxt.get(m.partition(), m.offset()),
                             "offsets not consecutive in partition %d" % m.partition())
            res = c.commit(message=m, asynchronous=False)
            self.assertEqual([tp.error for tp in res if tp.error is not None], [])
            nxt[m.partition()] = m.offset() + 1
            msgs.append(m)
        return first, nxt, msgs

    # --- 1: queue semantics ----------------------------------------------------------

    def test_queue_semantics_with_leave_and_kill(self):
        """Three librdkafka members (range) of one group on 6 partitions get two
        each; one closes (LeaveGroup: its partitions move at once), one is
        killed with SIGKILL (they move after session.timeout.ms). Records are
        produced throughout, each member commits synchronously after each
        record: every record is consumed exactly once, except at most the one
        the killed member had processed but not committed."""
        session_ms = 5000  # below Kafka's default minimum (6000): the setting counts
        self.start_broker("groups-queue", {"group.min.session.timeout.ms": "1000"})
        topic, group = "grp-queue", "g-queue"
        harness.create_topic(self.broker.bootstrap, topic, partitions=6)
        conf = {"partition.assignment.strategy": "range", "session.timeout.ms": session_ms,
                "heartbeat.interval.ms": 500}
        a, b, c = (self.ck_member(n, group, topic, conf, delay=0.002) for n in ("a", "b", "c"))
        split = self.wait_split([a, b, c], 6)
        self.assertEqual(sorted(split.values()), [[0, 1], [2, 3], [4, 5]], "range assignment")

        batch1 = self.produce(topic, 0, 1000)
        self.wait_consumed([a, b, c], batch1)

        # c closes in the middle of the second batch: LeaveGroup, so a and b
        # get its partitions without waiting for its session to expire.
        batch2 = self.produce(topic, 1000, 1000)
        self.wait(lambda: sum(1 for _, _, v in c.processed() if v >= "rec-001000") >= 20, TIMEOUT,
                  "c to consume from the second batch", [c])
        self.assertEqual(c.terminate(), 0)
        closed_at = c.all_events(("closed",))[-1]["t"]
        split = self.wait_split([a, b], 6)
        self.assertEqual(sorted(split.values()), [[0, 1, 2], [3, 4, 5]], "range assignment")
        moved_after = max(a.assignment_time(), b.assignment_time()) - closed_at
        self.assertLess(moved_after, 3.0, "c's partitions moved %.1f s after it closed: was its "
                        "LeaveGroup ignored (session.timeout.ms %d)?" % (moved_after, session_ms))
        self.wait_consumed([a, b, c], batch2)

        # b is killed in the middle of the third batch: no LeaveGroup, so its
        # partitions stay with it until its session expires.
        batch3 = self.produce(topic, 2000, 1000)
        self.wait(lambda: sum(1 for _, _, v in b.processed() if v >= "rec-002000") >= 30, TIMEOUT,
                  "b to consume from the third batch", [b])
        b_parts = b.assignment()
        killed_at = time.monotonic()
        b.kill()
        self.wait(lambda: a.assignment() == list(range(6)) and a.assignment_time() > killed_at, TIMEOUT,
                  "a to own all 6 partitions after b was killed", [a, b])
        moved_after = a.assignment_time() - killed_at
        self.assertGreaterEqual(moved_after, session_ms / 1000.0 - 1.0,
                                "b's partitions moved %.1f s after its kill, before its session of %d ms "
                                "could expire" % (moved_after, session_ms))
        self.assertLess(moved_after, session_ms / 1000.0 + 10.0)
        self.wait_consumed([a, b, c], batch3)
        time.sleep(1.0)  # anything consumed twice shows up now
        self.assertEqual(a.terminate(), 0)

        # b processed (reported) each record before committing it: at most the
        # last one of them can lack its commit and be consumed again by a.
        b_unacked = {(p, o) for p, o, _ in b.processed()} - b.acked()
        self.assertLessEqual(len(b_unacked), 1, sorted(b_unacked))
        self.assertTrue(all(p in b_parts for p, _ in b_unacked), (sorted(b_unacked), b_parts))
        duplicates = self.check_delivered([a, b, c], allowed_duplicates=b_unacked)
        self.assertEqual(len(self.produced), 3000)
        print("queue: %d records, %d consumed twice (b's uncommitted window: %s)"
              % (len(self.produced), len(duplicates), sorted(b_unacked)))

        # The group's committed offsets are the end of every partition.
        ends = {}
        for p, o in self.produced.values():
            ends[p] = max(ends.get(p, 0), o + 1)
        self.assertEqual(self.committed(group, topic, range(6)), ends)

    # --- 2: cooperative-sticky ----------------------------------------------------------

    def test_cooperative_sticky_rebalance_is_incremental(self):
        """With cooperative-sticky, a third member joining two (6 partitions)
        takes one partition from each: the two keep the rest, revoke only the
        moved one and are assigned nothing new; consumption goes on, each
        record once (or twice where a commit failed, Kafka's window)."""
        self.start_broker("groups-cooperative")
        topic, group = "grp-coop", "g-coop"
        harness.create_topic(self.broker.bootstrap, topic, partitions=6)
        conf = {"partition.assignment.strategy": "cooperative-sticky"}
        m1 = self.ck_member("m1", group, topic, conf, delay=0.002)
        self.wait_split([m1], 6)
        m2 = self.ck_member("m2", group, topic, conf, delay=0.002)
        before = self.wait_split([m1, m2], 6)
        revoked = [e["parts"] for e in m1.all_events(("revoke",))]
        self.assertEqual(sorted(p for r in revoked for p in r), sorted(before["m2"]),
                         "m1 revoked more than what moved to m2: %s" % revoked)
        self.assertFalse(m1.has("lost") or m2.has("lost"))

        batch1 = self.produce(topic, 0, 300)
        marks = {m.name: m.mark() for m in (m1, m2)}
        m3 = self.ck_member("m3", group, topic, conf, delay=0.002)
        batch2 = self.produce(topic, 300, 300)
        after = self.wait_split([m1, m2, m3], 6)
        for m in (m1, m2):
            self.assertFalse(m.has("lost"), "%s lost its partitions\n%s" % (m.name, m.summary()))
            kept, had = set(after[m.name]), set(before[m.name])
            self.assertLessEqual(kept, had, "%s was given a partition it did not have" % m.name)
            self.assertEqual(len(kept), 2)
            revoked = [e["parts"] for e in m.all_events(("revoke",), marks[m.name])]
            self.assertEqual(sorted(p for r in revoked for p in r), sorted(had - kept),
                             "%s revoked more than the partition that moved: %s" % (m.name, revoked))
            assigned = [e["parts"] for e in m.all_events(("assign",), marks[m.name])]
            self.assertEqual([p for a in assigned for p in a], [],
                             "%s was assigned partitions: %s" % (m.name, assigned))
        self.assertEqual(sorted(p for e in m3.all_events(("assign",)) for p in e["parts"]),
                         after["m3"])

        groups = AdminClient({"bootstrap.servers": self.broker.bootstrap}).list_groups(group, timeout=10)
        self.assertEqual([(g.id, g.protocol_type, g.protocol, g.state) for g in groups],
                         [(group, "consumer", "cooperative-sticky", "Stable")])
        self.wait_consumed([m1, m2, m3], batch1 + batch2)
        time.sleep(1.0)
        # Retained partitions are consumed on during the rebalance, so a commit
        # between the JoinGroup and SyncGroup responses gets
        # REBALANCE_IN_PROGRESS in Kafka too; if that was the last commit of a
        # partition that moved, the new owner consumes that record again.
        self.check_delivered([m1, m2, m3], allow_failed_commits=True)

    # --- 3: static membership ------------------------------------------------------------

    def test_static_member_restart_does_not_rebalance(self):
        """A static member (group.instance.id) closes without LeaveGroup and a
        new consumer with the same group.instance.id joins within
        session.timeout.ms: it gets the same partitions in the same generation,
        and the other member sees no rebalance at all."""
        self.start_broker("groups-static")
        topic, group = "grp-static", "g-static"
        harness.create_topic(self.broker.bootstrap, topic, partitions=4)
        static_conf = {"group.instance.id": "sluice-it-static-1", "session.timeout.ms": 20000,
                       "partition.assignment.strategy": "range"}
        other = self.ck_member("dynamic", group, topic, {"partition.assignment.strategy": "range"})
        self.wait_split([other], 4)
        static = self.ck_member("static", group, topic, static_conf)
        split = self.wait_split([other, static], 4)

        def same_generation():
            g1, g2 = other.generations(), static.generations()
            return g1 and g2 and g1[-1][0] == g2[-1][0] and g1[-1][0]
        generation = self.wait(same_generation, TIMEOUT, "both members in one generation",
                               [other, static])
        mark = other.mark()

        self.assertEqual(static.terminate(), 0)
        restarted = self.ck_member("static-restarted", group, topic, static_conf)
        self.wait(lambda: restarted.assignment() == split["static"], TIMEOUT,
                  "the restarted static member to get %s back" % split["static"], [restarted, other])
        self.wait(lambda: restarted.generations(), TIMEOUT, "the restarted member's generation",
                  [restarted])
        self.assertEqual(restarted.generations()[-1][0], generation,
                         "the restarted static member joined another generation")
        time.sleep(3.0)  # six heartbeats of the other member: a rebalance would show
        rebalance = other.all_events(("assign", "revoke", "lost", "gen"), mark)
        self.assertEqual(rebalance, [], "the other member saw a rebalance")
        self.assertEqual(other.assignment(), split["dynamic"])
        self.assertEqual(other.generations()[-1][0], generation)

        groups = AdminClient({"bootstrap.servers": self.broker.bootstrap}).list_groups(group, timeout=10)
        self.assertEqual([(g.state, len(g.members)) for g in groups], [("Stable", 2)])
        values = self.produce(topic, 0, 200)
        self.wait_consumed([other, restarted], values)
        for m in (other, restarted):
            self.assertTrue(all(p in m.assignment() for p, _, _ in m.processed()), m.summary())
        self.check_delivered([other, restarted])

    # --- 4: kafka-python and kafkajs in one group ------------------------------------------

    def test_kafka_python_and_kafkajs_share_a_group(self):
        """A kafka-python member (RangePartitionAssignor) and a kafkajs member
        (a "range" assigner, kafkajs_group_member.js) split 4 partitions 2 and 2,
        with either of them leading, and consume every record once."""
        harness.require_tool("node")
        if not os.path.isdir(os.path.join(NODE_MODULES, "kafkajs")):
            raise unittest.SkipTest("kafkajs is not installed in %s (npm ci there)" % NODE_MODULES)
        self.start_broker("groups-mixed")
        topic, group = "grp-mixed", "g-mixed"
        harness.create_topic(self.broker.bootstrap, topic, partitions=4)

        # kafka-python first: it leads and assigns for both.
        kp = self.kp_member("kafka-python", group, topic)
        self.wait_split([kp], 4)
        kjs = self.kjs_member("kafkajs", group, topic)
        self.wait_split([kp, kjs], 4, timeout=45)
        joined = kjs.all_events(("joined",))[-1]
        self.assertEqual((joined["protocol"], joined["isLeader"]), ("range", False))
        batch1 = self.produce(topic, 0, 400)
        self.wait_consumed([kp, kjs], batch1)

        described = harness.wait_until(lambda: self.kp_admin("describe", groups=[group]), TIMEOUT,
                                       interval=0.5, what="describe_consumer_groups")[0]
        self.assertEqual((described["state"], described["protocol_type"], described["protocol"]),
                         ("Stable", "consumer", "range"))
        self.assertEqual(sorted((m["client_id"], m["assignment"]) for m in described["members"]),
                         [("kafka-python", {topic: kp.assignment()}), ("kafkajs", {topic: kjs.assignment()})])

        # kafka-python leaves; a new one joins: now kafkajs leads and assigns.
        self.assertEqual(kp.terminate(), 0)
        self.wait(lambda: kjs.assignment() == [0, 1, 2, 3], TIMEOUT, "kafkajs to own all 4", [kjs])
        kp2 = self.kp_member("kafka-python-2", group, topic)
        self.wait_split([kp2, kjs], 4, timeout=45)
        joined = kjs.all_events(("joined",))[-1]
        self.assertEqual((joined["protocol"], joined["isLeader"]), ("range", True))
        batch2 = self.produce(topic, 400, 400)
        self.wait_consumed([kp, kp2, kjs], batch2)
        time.sleep(1.0)
        for m in (kp2, kjs):
            late = [(p, o) for p, o, v in m.processed() if v >= "rec-000400" and p not in m.assignment()]
            self.assertEqual(late, [], "%s consumed partitions it did not own" % m.name)
        self.check_delivered([kp, kp2, kjs])

    # --- 5: pub-sub across groups ---------------------------------------------------------

    def test_two_groups_each_receive_every_record(self):
        """Two members of one group split the partitions and the records; a
        second group's single member receives every record as well."""
        self.start_broker("groups-pubsub")
        topic = "grp-pubsub"
        harness.create_topic(self.broker.bootstrap, topic, partitions=4)
        a1 = self.ck_member("a1", "g-pub-a", topic)
        a2 = self.ck_member("a2", "g-pub-a", topic)
        b1 = self.ck_member("b1", "g-pub-b", topic)
        split = self.wait_split([a1, a2], 4)
        self.assertEqual(sorted(len(p) for p in split.values()), [2, 2])
        self.wait_split([b1], 4)
        values = self.produce(topic, 0, 500)
        self.wait_consumed([a1, a2], values, committed=True)
        self.wait_consumed([b1], values, committed=True)
        time.sleep(1.0)
        self.check_delivered([a1, a2])
        self.check_delivered([b1])
        for m in (a1, a2):
            self.assertTrue(m.processed(), "%s consumed nothing" % m.name)
            self.assertTrue(all(p in m.assignment() for p, _, _ in m.processed()), m.summary())
        ends = {}
        for p, o in self.produced.values():
            ends[(topic, p)] = max(ends.get((topic, p), 0), o + 1)
        self.assertEqual(self.kp_offsets("g-pub-a"), ends)
        self.assertEqual(self.kp_offsets("g-pub-b"), ends)

    # --- 6: committed offsets across restarts ------------------------------------------------

    def test_committed_offsets_survive_sigterm_and_kill9(self):
        """Offsets committed before a SIGTERM restart and before a kill -9
        restart are still committed afterwards, and a consumer of the group
        resumes exactly there. They live in __consumer_offsets: internal,
        compacted, offsets.topic.num.partitions partitions."""
        self.start_broker("groups-restart", {"offsets.topic.num.partitions": "5"})
        topic, group = "grp-restart", "g-restart"
        harness.create_topic(self.broker.bootstrap, topic, partitions=2)
        self.produce(topic, 0, 100, partition=lambda i: i % 2)

        c = self.group_consumer(group)
        try:
            c.subscribe([topic])
            first, committed, _ = self.consume_and_commit(c, [0, 1], 30)
            self.assertEqual(first, {0: 0, 1: 0})
        finally:
            c.close()
        self.assertEqual(self.committed(group, topic, [0, 1]), committed)

        from confluent_kafka.admin import ConfigResource
        admin = AdminClient({"bootstrap.servers": self.broker.bootstrap})
        md = admin.list_topics(timeout=10).topics
        self.assertIn("__consumer_offsets", md)
        self.assertEqual(len(md["__consumer_offsets"].partitions), 5)
        res = ConfigResource(ConfigResource.Type.TOPIC, "__consumer_offsets")
        cfg = admin.describe_configs([res])[res].result(timeout=TIMEOUT)
        self.assertEqual(cfg["cleanup.policy"].value, "compact")

        for n, how in enumerate(("SIGTERM", "kill -9")):
            if how == "SIGTERM":
                self.assertEqual(self.broker.stop(), 0)
            else:
                self.broker.kill9()
            self.broker.start()
            # Records at and after every committed offset, then a consumer
            # of the group: it starts exactly at the committed offsets.
            self.produce(topic, 100 + 20 * n, 20, partition=lambda i: i % 2)
            self.assertEqual(self.committed(group, topic, [0, 1]), committed,
                             "committed offsets after the %s restart" % how)
            c = self.group_consumer(group)
            try:
                c.subscribe([topic])
                first, now_committed, _ = self.consume_and_commit(c, [0, 1], 15)
            finally:
                c.close()
            self.assertEqual(first, committed, "where the consumer resumed after the %s restart" % how)
            committed = now_committed
            self.assertEqual(self.committed(group, topic, [0, 1]), committed)

    # --- 7: commits without subscribing ----------------------------------------------------

    def test_deleting_a_topic_forgets_its_committed_offsets(self):
        """DeleteTopics takes the topic's committed offsets with it (as Kafka
        does), other topics' offsets of the same group stay, and a restart
        does not bring them back (tombstones)."""
        self.start_broker("groups-deleted-topic")
        gone, kept, group = "grp-deleted", "grp-kept", "g-deleted-topic"
        for topic in (gone, kept):
            harness.create_topic(self.broker.bootstrap, topic, partitions=2)
        c = harness.ck_consumer(self.broker.bootstrap, **{"group.id": group})
        try:
            offsets = [TopicPartition(t, p, 5 + p) for t in (gone, kept) for p in (0, 1)]
            res = c.commit(offsets=offsets, asynchronous=False)
            self.assertTrue(all(tp.error is None for tp in res), res)
        finally:
            c.close()
        self.assertEqual(self.kp_offsets(group),
                         {(gone, 0): 5, (gone, 1): 6, (kept, 0): 5, (kept, 1): 6})

        admin = AdminClient({"bootstrap.servers": self.broker.bootstrap})
        admin.delete_topics([gone])[gone].result(30)
        self.assertEqual(self.kp_offsets(group), {(kept, 0): 5, (kept, 1): 6})
        self.broker.restart()
        self.assertEqual(self.kp_offsets(group), {(kept, 0): 5, (kept, 1): 6})

    def test_assign_only_consumer_commits(self):
        """A consumer with a group id that only assign()s commits offsets
        (generation -1, no member id); committed() and kafka-python's
        list_consumer_group_offsets show them, a second assign()-only consumer
        starts there, and OffsetDelete removes one of them."""
        self.start_broker("groups-simple", apis={**MEMBER_APIS, 47: "OffsetDelete"})
        topic, group = "grp-simple", "g-simple"
        harness.create_topic(self.broker.bootstrap, topic, partitions=2)
        self.produce(topic, 0, 40, partition=lambda i: i % 2)
        tps = [TopicPartition(topic, 0), TopicPartition(topic, 1)]

        c = harness.ck_consumer(self.broker.bootstrap, **{"group.id": group})
        try:
            c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in (0, 1)])
            self.assertEqual(len(harness.ck_consume(c, 40, TIMEOUT)), 40)
            res = c.commit(offsets=[TopicPartition(topic, 0, 7), TopicPartition(topic, 1, 3)],
                           asynchronous=False)
            self.assertEqual(sorted((tp.partition, tp.offset, tp.error) for tp in res),
                             [(0, 7, None), (1, 3, None)])
            got = c.committed(tps, timeout=10)
            self.assertEqual(sorted((tp.partition, tp.offset) for tp in got), [(0, 7), (1, 3)])
        finally:
            c.close()
        self.assertEqual(self.kp_offsets(group), {(topic, 0): 7, (topic, 1): 3})

        c = harness.ck_consumer(self.broker.bootstrap, **{"group.id": group})
        try:
            c.assign(tps)  # OFFSET_INVALID: from the committed offsets
            msgs = harness.ck_consume(c, 30, TIMEOUT, settle=0.5)
            by_part = collections.defaultdict(list)
            for m in msgs:
                by_part[m.partition()].append(m.offset())
            self.assertEqual(dict(by_part), {0: list(range(7, 20)), 1: list(range(3, 20))})
        finally:
            c.close()

        described = harness.wait_until(lambda: self.kp_admin("describe", groups=[group]), TIMEOUT,
                                       interval=0.5, what="describe_consumer_groups")[0]
        self.assertEqual((described["state"], described["members"]), ("Empty", []))

        raw = RawClient(self.broker.port)
        try:
            err, parts = retry_coordinator(lambda: raw.offset_delete(group, topic, [1]),
                                           lambda r: [r[0]] + list(r[1].values()))
            self.assertEqual((err, parts), (NONE, {1: NONE}))
            err, _ = raw.offset_delete("g-simple-never-existed", topic, [0])
            self.assertEqual(err, GROUP_ID_NOT_FOUND)
        finally:
            raw.close()
        self.assertEqual(self.kp_offsets(group), {(topic, 0): 7})
        self.assertEqual(self.committed(group, topic, [0, 1]), {0: 7, 1: OFFSET_INVALID})

    # --- 8: admin -------------------------------------------------------------------------------

    def test_admin_list_describe_delete_and_lag(self):
        """ListGroups/DescribeGroups (librdkafka's list_groups, kafka-python's
        describe_consumer_groups) show a Stable group with its members and
        their assignments; DeleteGroups fails with NON_EMPTY_GROUP while they
        are in and OffsetDelete with GROUP_SUBSCRIBED_TO_TOPIC, deletion
        succeeds once they left and takes the committed offsets with it. Lag
        (end offset - committed) is what was left unconsumed."""
        self.start_broker("groups-admin", apis={**MEMBER_APIS, **ADMIN_APIS})
        topic, group = "grp-admin", "g-admin"
        harness.create_topic(self.broker.bootstrap, topic, partitions=4)
        values = self.produce(topic, 0, 100, partition=lambda i: i % 4)
        m1 = self.ck_member("g8-m1", group, topic, {"partition.assignment.strategy": "range"})
        m2 = self.ck_member("g8-m2", group, topic, {"partition.assignment.strategy": "range"})
        split = self.wait_split([m1, m2], 4)
        self.wait_consumed([m1, m2], values, committed=True)

        admin = AdminClient({"bootstrap.servers": self.broker.bootstrap})
        listed = [g for g in admin.list_groups(timeout=10) if g.id == group]
        self.assertEqual([(g.error.code() if g.error else NONE, g.state, g.protocol_type, g.protocol)
                          for g in listed], [(NONE, "Stable", "consumer", "range")])
        members = {m.client_id: decode_assignment(m.assignment) for m in listed[0].members}
        self.assertEqual(members, {n: {topic: p} for n, p in split.items()})

        described = harness.wait_until(lambda: self.kp_admin("describe", groups=[group]), TIMEOUT,
                                       interval=0.5, what="describe_consumer_groups")[0]
        self.assertEqual((described["error"], described["state"], described["protocol"]),
                         (NONE, "Stable", "range"))
        self.assertEqual({m["client_id"]: m["assignment"] for m in described["members"]},
                         {n: {topic: p} for n, p in split.items()})
        self.assertEqual(self.kp_offsets(group), {(topic, p): 25 for p in range(4)})

        self.assertEqual([r[:2] for r in self.kp_admin("delete", groups=[group])], [[group, NON_EMPTY_GROUP]])
        raw = RawClient(self.broker.port)
        try:
            err, parts = raw.offset_delete(group, topic, [0])
            self.assertEqual((err, parts), (NONE, {0: GROUP_SUBSCRIBED_TO_TOPIC}))
        finally:
            raw.close()

        self.assertEqual(m1.terminate(), 0)
        self.assertEqual(m2.terminate(), 0)

        def empty():
            d = self.kp_admin("describe", groups=[group])[0]
            return d["state"] == "Empty" and d["members"] == []
        self.wait(empty, TIMEOUT, "the group to be Empty after both members left")
        deleted = self.kp_admin("delete", groups=[group, "g-admin-never-existed"])
        self.assertEqual(sorted(r[:2] for r in deleted), [[group, NONE],
                                                          ["g-admin-never-existed", GROUP_ID_NOT_FOUND]])
        self.assertEqual(self.kp_offsets(group), {})
        self.assertNotIn(group, [g for g, _ in self.kp_admin("list")])
        self.assertEqual(self.committed(group, topic, range(4)), {p: OFFSET_INVALID for p in range(4)})

        # Lag: 60 of 100 records consumed and committed in another group.
        lag_group = "g-admin-lag"
        c = self.group_consumer(lag_group)
        try:
            c.subscribe([topic])
            _, nxt, msgs = self.consume_and_commit(c, [], 60)
            self.assertEqual(len(msgs), 60)
        finally:
            c.close()
        committed = self.kp_offsets(lag_group)
        self.assertEqual(committed, {(topic, p): o for p, o in nxt.items()})
        ends = {}
        for p, o in self.produced.values():
            ends[p] = max(ends.get(p, 0), o + 1)
        self.assertEqual(sum(committed.values()), 60)
        self.assertEqual(sum(ends[p] - committed.get((topic, p), 0) for p in range(4)), 40)

    # --- 9: bad input ----------------------------------------------------------------------------

    def test_bad_requests_get_kafka_errors(self):
        """OffsetCommit for an unknown topic or partition:
        UNKNOWN_TOPIC_OR_PARTITION (the rest is committed); JoinGroup and
        Heartbeat with group id "": INVALID_GROUP_ID; JoinGroup with a session
        timeout outside group.min/max.session.timeout.ms (6000/1800000):
        INVALID_SESSION_TIMEOUT, which librdkafka and kafka-python report;
        Heartbeat with an unknown member id: UNKNOWN_MEMBER_ID. Each against a
        control that the same request done right is accepted."""
        self.start_broker("groups-errors")
        topic = "grp-errors"
        harness.create_topic(self.broker.bootstrap, topic, partitions=2)
        raw = RawClient(self.broker.port)
        self.addCleanup(raw.close)

        commit = retry_coordinator(lambda: raw.offset_commit("g-errors-simple", {(topic, 0): 5}),
                                   lambda r: r.values())
        self.assertEqual(commit, {(topic, 0): NONE})
        commit = raw.offset_commit("g-errors-simple", {("grp-no-such-topic", 0): 5, (topic, 7): 1,
                                                       (topic, 1): 2})
        self.assertEqual(commit, {("grp-no-such-topic", 0): UNKNOWN_TOPIC_OR_PARTITION,
                                  (topic, 7): UNKNOWN_TOPIC_OR_PARTITION, (topic, 1): NONE})
        self.assertEqual(self.committed("g-errors-simple", topic, [0, 1]), {0: 5, 1: 2})

        self.assertEqual(raw.join_group("", 10000, [topic])["error"], INVALID_GROUP_ID)
        self.assertEqual(raw.heartbeat("", 1, "m"), INVALID_GROUP_ID)

        for timeout_ms in (5999, 1800001):
            join = retry_coordinator(lambda: raw.join_group("g-errors-session", timeout_ms, [topic]),
                                     lambda r: [r["error"]])
            self.assertEqual(join["error"], INVALID_SESSION_TIMEOUT, "session timeout %d" % timeout_ms)
        join = raw.join_group("g-errors-session", 6000, [topic])
        if join["version"] >= 4:
            self.assertEqual(join["error"], MEMBER_ID_REQUIRED, join)  # KIP-394: join again with it
            self.assertTrue(join["member_id"], join)
        else:
            self.assertEqual(join["error"], NONE, join)
            self.assertEqual((join["protocol"], join["leader"]), ("range", join["member_id"]), join)

        # Clients report it too.
        c = self.group_consumer("g-errors-client", **{"session.timeout.ms": 3000,
                                                       "heartbeat.interval.ms": 1000})
        seen = []
        try:
            c.subscribe([topic])

            def client_error():
                m = c.poll(0.2)
                if m is not None and m.error() is not None:
                    seen.append(m.error())
                    return m.error().code() == INVALID_SESSION_TIMEOUT
                return False
            harness.wait_until(client_error, TIMEOUT, what="librdkafka to report INVALID_SESSION_TIMEOUT "
                               "(errors so far: %s)" % seen)
            self.assertEqual(c.assignment(), [])
        finally:
            c.close()
        kp = self.kp_member("kafka-python-short-session", "g-errors-kp", topic, session_timeout_ms=3000,
                            heartbeat_interval_ms=1000)
        self.wait(lambda: any(e.get("name") == "InvalidSessionTimeoutError"
                              for e in kp.all_events(("error",))),
                  TIMEOUT, "kafka-python to raise InvalidSessionTimeoutError", [kp])
        self.assertEqual(kp.assignment() or [], [])

        # Heartbeat: an unknown member of a live group, and of no group.
        c = self.group_consumer("g-errors-hb")
        try:
            c.subscribe([topic])
            self.wait(lambda: c.poll(0.1) is None and c.assignment() and (cgmd_generation(c)[0] or 0) > 0,
                      TIMEOUT, "a member of g-errors-hb")
            generation, member_id = cgmd_generation(c)
            self.assertEqual(raw.heartbeat("g-errors-hb", generation, "sluice-it-no-such-member"),
                             UNKNOWN_MEMBER_ID)
            self.assertEqual(raw.heartbeat("g-errors-hb", generation, member_id), NONE)
            hb = retry_coordinator(lambda: raw.heartbeat("g-errors-no-such-group", 1,
                                                         "sluice-it-no-such-member"))
            self.assertEqual(hb, UNKNOWN_MEMBER_ID)
            self.assertEqual(len(c.assignment()), 2)
        finally:
            c.close()

    # --- 10: offset retention ----------------------------------------------------------------------

    def test_offset_retention_expires_with_tombstones_across_restarts(self):
        """OffsetCommit v2's retention_time_ms (1500 ms) for a group with no
        members (generation -1, member ""): with
        offsets.retention.check.interval.ms=500 the offset is gone from
        OffsetFetch (-1) within a bounded wait, not before its 1.5 s, and a
        tombstone for its key is in __consumer_offsets; an offset committed
        with retention -1 (offsets.retention.minutes, 7 days) stays. Restarts
        with a retention check too rare to run (1 h) show what the log says:
        after SIGTERM and after kill -9 the expired offset stays gone and the
        other survives; a tombstone written just before a kill -9 holds too;
        and an explicit expiry time survives a restart (Kafka writes
        OffsetCommitValue v1 for it) and is honoured after it."""
        check_ms = "500"
        rare = "3600000"
        self.start_broker("groups-retention", {"offsets.retention.check.interval.ms": check_ms,
                                               "offsets.topic.num.partitions": "3"})
        topic, group = "grp-retention", "g-retention"
        harness.create_topic(self.broker.bootstrap, topic, partitions=3)

        def fetch():
            c = RawClient(self.broker.port)
            try:
                err, got = retry_coordinator(lambda: c.offset_fetch(group, topic, [0, 1, 2]),
                                             lambda r: [r[0]] + [e for _, e in r[1].values()])
            finally:
                c.close()
            self.assertEqual((err, sorted(e for _, e in got.values())), (NONE, [NONE] * 3), got)
            return {p: o for p, (o, _) in got.items()}

        def restart(how, check_interval):
            self.broker.settings["offsets.retention.check.interval.ms"] = check_interval
            if how == "SIGTERM":
                self.assertEqual(self.broker.stop(), 0)
            else:
                self.broker.kill9()
            self.broker.start()

        def commit(partition, offset, retention_ms):
            c = RawClient(self.broker.port)
            try:
                at = time.monotonic()
                res = c.offset_commit(group, {(topic, partition): offset}, version=2,
                                      retention_ms=retention_ms)
            finally:
                c.close()
            self.assertEqual(res, {(topic, partition): NONE})
            return at

        def wait_gone(partition, since, what):
            def gone():
                return fetch()[partition] == -1 and time.monotonic() - since
            return self.wait(gone, 20, "the offset of partition %d to expire (%s)" % (partition, what))

        self.assertEqual(fetch(), {0: -1, 1: -1, 2: -1})  # creates __consumer_offsets
        t0 = commit(0, 11, 1500)
        commit(1, 22, -1)
        self.assertEqual(fetch(), {0: 11, 1: 22, 2: -1})
        expired_after = wait_gone(0, t0, "retention_time_ms 1500")
        self.assertGreaterEqual(expired_after, 1.4, "expired %.2f s after a commit with a retention of "
                                "1.5 s" % expired_after)
        self.assertLess(expired_after, 10.0)
        self.assertEqual(fetch(), {0: -1, 1: 22, 2: -1})
        time.sleep(1.2)  # two more retention checks
        self.assertEqual(fetch(), {0: -1, 1: 22, 2: -1})

        # The log: p0 committed and then its tombstone; p1 committed, no tombstone.
        history = collections.defaultdict(list)
        for m in harness.ck_read_all(self.broker.bootstrap, "__consumer_offsets"):
            key = parse_offsets_key(m.key())
            if key and key[0] == "offset" and key[1] == group:
                history[key[3]].append(m.value() is None)
        self.assertEqual(dict(history), {0: [False, True], 1: [False]},
                         "records of %s in __consumer_offsets (True: a tombstone)" % group)

        for how in ("SIGTERM", "kill -9"):
            restart(how, rare)
            self.assertEqual(fetch(), {0: -1, 1: 22, 2: -1}, "after a %s restart" % how)

        # A tombstone written just before a kill -9.
        restart("SIGTERM", check_ms)
        t2 = commit(2, 33, 1500)
        wait_gone(2, t2, "retention_time_ms 1500, before the kill -9")
        restart("kill -9", rare)
        self.assertEqual(fetch(), {0: -1, 1: 22, 2: -1}, "after a kill -9 right after expiry")

        # An explicit expiry time survives a restart and is honoured after it.
        t3 = commit(0, 44, 4000)
        self.assertEqual(fetch(), {0: 44, 1: 22, 2: -1})
        restart("SIGTERM", check_ms)
        expired_after = wait_gone(0, t3, "retention_time_ms 4000, across a restart")
        self.assertGreaterEqual(expired_after, 3.9)
        self.assertEqual(fetch(), {0: -1, 1: 22, 2: -1})

    # --- 11: illegal generation, fencing, batch leave, describe, list --------------------------------

    def test_raw_illegal_generation_fencing_leave_describe_list(self):
        """A group of two members built with raw JoinGroup v5 / SyncGroup v3:
        the dynamic one's first join gets MEMBER_ID_REQUIRED and an id, the
        static one (group.instance.id "i1") is admitted at once and waits for
        it. Then: Heartbeat and OffsetCommit with another generation get
        ILLEGAL_GENERATION (and commit nothing); DescribeGroups shows Stable,
        "consumer", "range", both members with client id, host, instance id,
        subscription and assignment; ListGroups v4 with states_filter
        ["Stable"] lists the group and ["Empty"] does not. "i1" rejoining with
        member id "" gets a new member id in the same generation, and
        Heartbeat, OffsetCommit, SyncGroup, JoinGroup and LeaveGroup with the
        old member id and "i1" get FENCED_INSTANCE_ID while the new one is
        served and the other member sees no rebalance. LeaveGroup v3 with
        a known and an unknown member answers NONE and UNKNOWN_MEMBER_ID, and
        the group rebalances for the member left."""
        self.start_broker("groups-fencing", apis={**MEMBER_APIS, **ADMIN_APIS})
        topic, group = "grp-fence", "g-fence"
        harness.create_topic(self.broker.bootstrap, topic, partitions=2)
        a, b, admin = (self.raw(client_id=n) for n in ("raw-a", "raw-b", "raw-admin"))
        for api, need in ((11, 5), (12, 3), (13, 3), (14, 3), (8, 7), (15, 4), (16, 4)):
            self.assertGreaterEqual(admin.apis[api][1], need, "API key %d: v%d needed" % (api, need))
        session = 30000

        first = retry_coordinator(lambda: a.join_group(group, session, [topic], version=5),
                                  lambda r: [r["error"]])
        self.assertEqual((first["error"], first["generation"]), (MEMBER_ID_REQUIRED, -1), first)
        member_a = first["member_id"]
        self.assertTrue(member_a, first)

        b_join = in_thread(lambda: b.join_group(group, session, [topic], instance_id="i1", version=5))

        def b_waits():
            if b_join.done():
                raise AssertionError("b's JoinGroup was answered before a rejoined: %r" % (b_join(),))
            d = admin.describe_groups([group])[0]
            return d["state"] == "PreparingRebalance" and [m["client_id"] for m in d["members"]] == ["raw-b"]
        self.wait(b_waits, TIMEOUT, "b to wait in PreparingRebalance for a")
        ja = a.join_group(group, session, [topic], member_id=member_a, version=5)
        jb = b_join()
        self.assertEqual((ja["error"], jb["error"]), (NONE, NONE), (ja, jb))
        member_b = jb["member_id"]
        self.assertEqual(ja["member_id"], member_a)
        self.assertTrue(member_b and member_b != member_a, jb)
        generation = ja["generation"]
        self.assertGreaterEqual(generation, 1)
        self.assertEqual(jb["generation"], generation)
        self.assertEqual((ja["protocol"], jb["protocol"], ja["leader"]), ("range", "range", jb["leader"]))
        leader = ja["leader"]
        self.assertIn(leader, (member_a, member_b))
        follower = member_b if leader == member_a else member_a
        by_id = {member_a: ja, member_b: jb}
        self.assertEqual(sorted((m, i) for m, i, _ in by_id[leader]["members"]),
                         sorted([(member_a, None), (member_b, "i1")]))
        self.assertEqual({md for _, _, md in by_id[leader]["members"]}, {encode_subscription([topic])})
        self.assertEqual(by_id[follower]["members"], [])

        assignment = {member_a: {topic: [0]}, member_b: {topic: [1]}}
        clients = {member_a: (a, None), member_b: (b, "i1")}
        c, iid = clients[leader]
        self.assertEqual(c.sync_group(group, generation, leader, assignment, instance_id=iid),
                         (NONE, assignment[leader]))
        c, iid = clients[follower]
        self.assertEqual(c.sync_group(group, generation, follower, instance_id=iid),
                         (NONE, assignment[follower]))

        # DescribeGroups and ListGroups of the Stable group.
        d = admin.describe_groups([group])[0]
        self.assertEqual((d["error"], d["group"], d["state"], d["protocol_type"], d["protocol"]),
                         (NONE, group, "Stable", "consumer", "range"), d)
        self.assertEqual({m["member_id"]: (m["client_id"], m["instance_id"], m["client_host"],
                                           m["metadata"], decode_assignment(m["assignment"]))
                          for m in d["members"]},
                         {member_a: ("raw-a", None, "/127.0.0.1", encode_subscription([topic]), {topic: [0]}),
                          member_b: ("raw-b", "i1", "/127.0.0.1", encode_subscription([topic]), {topic: [1]})})
        err, stable = admin.list_groups(["Stable"])
        self.assertEqual((err, stable.get(group)), (NONE, ("consumer", "Stable")))
        err, empty = admin.list_groups(["Empty"])
        self.assertEqual(err, NONE)
        self.assertNotIn(group, empty)
        err, every = admin.list_groups()
        self.assertEqual((err, every.get(group)), (NONE, ("consumer", "Stable")))

        # Another generation: ILLEGAL_GENERATION, nothing committed.
        self.assertEqual(a.heartbeat(group, generation, member_a), NONE)
        self.assertEqual(a.heartbeat(group, generation + 1, member_a), ILLEGAL_GENERATION)
        self.assertEqual(a.offset_commit(group, {(topic, 0): 5}, generation, member_a), {(topic, 0): NONE})
        self.assertEqual(a.offset_commit(group, {(topic, 0): 99}, generation + 1, member_a),
                         {(topic, 0): ILLEGAL_GENERATION})
        self.assertEqual(a.offset_commit(group, {(topic, 0): 98}, generation - 1, member_a),
                         {(topic, 0): ILLEGAL_GENERATION})
        self.assertEqual(admin.offset_fetch(group, topic, [0, 1]), (NONE, {0: (5, NONE), 1: (-1, NONE)}))

        # "i1" restarts: a new member id, the same generation; the old id is fenced.
        b2 = self.raw(client_id="raw-b-restarted")
        rejoin = b2.join_group(group, session, [topic], instance_id="i1", version=5)
        self.assertEqual((rejoin["error"], rejoin["generation"]), (NONE, generation), rejoin)
        member_b2 = rejoin["member_id"]
        self.assertTrue(member_b2 and member_b2 not in (member_a, member_b), rejoin)
        self.assertEqual(b.heartbeat(group, generation, member_b, instance_id="i1"), FENCED_INSTANCE_ID)
        self.assertEqual(b.offset_commit(group, {(topic, 1): 7}, generation, member_b, instance_id="i1"),
                         {(topic, 1): FENCED_INSTANCE_ID})
        self.assertEqual(b.sync_group(group, generation, member_b, instance_id="i1")[0], FENCED_INSTANCE_ID)
        self.assertEqual(b.heartbeat(group, generation, member_b), UNKNOWN_MEMBER_ID)
        fenced_join = b.join_group(group, session, [topic], member_id=member_b, instance_id="i1", version=5)
        self.assertEqual(fenced_join["error"], FENCED_INSTANCE_ID, fenced_join)
        self.assertEqual(admin.leave_group(group, [(member_b, "i1")]),
                         (NONE, [(member_b, "i1", FENCED_INSTANCE_ID)]))
        self.assertEqual(b2.sync_group(group, generation, member_b2, instance_id="i1"), (NONE, {topic: [1]}))
        self.assertEqual(b2.heartbeat(group, generation, member_b2, instance_id="i1"), NONE)
        self.assertEqual(b2.offset_commit(group, {(topic, 1): 7}, generation, member_b2, instance_id="i1"),
                         {(topic, 1): NONE})
        self.assertEqual(a.heartbeat(group, generation, member_a), NONE, "a saw a rebalance")
        self.assertEqual(admin.offset_fetch(group, topic, [0, 1]), (NONE, {0: (5, NONE), 1: (7, NONE)}))
        d = admin.describe_groups([group])[0]
        self.assertEqual((d["state"], sorted((m["member_id"], m["instance_id"]) for m in d["members"])),
                         ("Stable", sorted([(member_a, None), (member_b2, "i1")])))

        # LeaveGroup v3: one known member, one unknown.
        err, left = admin.leave_group(group, [(member_a, None), ("sluice-it-no-such-member", None)])
        self.assertEqual((err, left), (NONE, [(member_a, None, NONE),
                                              ("sluice-it-no-such-member", None, UNKNOWN_MEMBER_ID)]))
        self.assertEqual(a.heartbeat(group, generation, member_a), UNKNOWN_MEMBER_ID)
        self.assertEqual(b2.heartbeat(group, generation, member_b2, instance_id="i1"), REBALANCE_IN_PROGRESS)
        d = admin.describe_groups([group])[0]
        self.assertEqual((d["state"], [m["member_id"] for m in d["members"]]),
                         ("PreparingRebalance", [member_b2]))
        self.assertEqual(admin.list_groups(["PreparingRebalance"])[1].get(group),
                         ("consumer", "PreparingRebalance"))
        self.assertNotIn(group, admin.list_groups(["Stable"])[1])

    # --- 12: group state across a restart --------------------------------------------------------

    def test_group_state_survives_sigterm_restart(self):
        """Two librdkafka members of a Stable group (range, 4 partitions)
        consume and commit 400 records; the broker stops with SIGTERM and
        starts again on the same port and directory. The members go on: 400
        more records are each consumed once (none of the committed ones
        again), DescribeGroups shows the group Stable with both members, and
        the committed offsets are the ends of the partitions."""
        self.start_broker("groups-state-restart", apis={**MEMBER_APIS, **ADMIN_APIS})
        topic, group = "grp-state-restart", "g-state-restart"
        harness.create_topic(self.broker.bootstrap, topic, partitions=4)
        conf = {"partition.assignment.strategy": "range"}
        r1 = self.ck_member("r1", group, topic, conf, delay=0.002)
        r2 = self.ck_member("r2", group, topic, conf, delay=0.002)
        self.wait_split([r1, r2], 4)
        batch1 = self.produce(topic, 0, 400)
        self.wait_consumed([r1, r2], batch1, committed=True)

        def described():
            c = RawClient(self.broker.port)
            try:
                return c.describe_groups([group])[0]
            finally:
                c.close()

        def stable_with_both():
            d = described()
            return (d["state"] == "Stable" and sorted(m["client_id"] for m in d["members"]) == ["r1", "r2"]
                    and d)
        before = self.wait(stable_with_both, TIMEOUT, "Stable with r1 and r2", [r1, r2])
        generations = {m.name: m.generations()[-1] for m in (r1, r2)}
        marks = {m.name: m.mark() for m in (r1, r2)}

        stopped_at = time.monotonic()
        self.assertEqual(self.broker.stop(), 0)
        self.broker.start()
        down_s = time.monotonic() - stopped_at
        after = self.wait(stable_with_both, TIMEOUT, "Stable with r1 and r2 after the restart", [r1, r2])
        batch2 = self.produce(topic, 400, 400)
        self.wait_consumed([r1, r2], batch2, committed=True)
        time.sleep(1.0)

        for m in (r1, r2):
            again = [(p, o) for p, o, v in ((e["p"], e["o"], e["v"]) for e in m.all_events(("msg",), marks[m.name]))
                     if v < "rec-000400"]
            self.assertEqual(again, [], "%s consumed committed records again after the restart\n%s"
                             % (m.name, m.summary()))
        self.check_delivered([r1, r2], allow_failed_commits=True)
        ends = {}
        for p, o in self.produced.values():
            ends[p] = max(ends.get(p, 0), o + 1)
        self.assertEqual(self.committed(group, topic, range(4)), ends)
        d = self.wait(stable_with_both, TIMEOUT, "Stable with r1 and r2 at the end", [r1, r2])
        self.assertEqual((d["error"], d["protocol_type"], d["protocol"]), (NONE, "consumer", "range"))
        rejoined = {m.name: m.generations(marks[m.name]) for m in (r1, r2)}
        print("state restart: broker down %.1f s; generations before %s, after %s; member ids %s"
              % (down_s, generations, rejoined,
                 "kept" if {m["member_id"] for m in after["members"]} ==
                 {m["member_id"] for m in before["members"]} else "changed"))

    def test_restart_between_join_and_sync_forgets_the_unsynced_generation(self):
        """A generation whose JoinGroup answers went out but whose leader has
        not sent SyncGroup is not stored (Kafka writes the group at the
        leader's SyncGroup and when it turns Empty, never at the end of the
        join). After a SIGTERM restart in that window the members' SyncGroup
        must not be answered NONE with an assignment the leader never sent:
        Kafka answers UNKNOWN_MEMBER_ID or ILLEGAL_GENERATION (it knows only
        the last synced generation) and the clients rejoin. Two groups: one
        whose only member joined generation 1, and one Stable in generation 1
        (a: both partitions) that b joined, both answered generation 2."""
        self.start_broker("groups-unsynced", apis={**MEMBER_APIS, **ADMIN_APIS})
        topic = "grp-unsynced"
        harness.create_topic(self.broker.bootstrap, topic, partitions=2)
        session = 30000

        def join_dynamic(c, group):
            first = retry_coordinator(lambda: c.join_group(group, session, [topic], version=5),
                                      lambda r: [r["error"]])
            self.assertEqual(first["error"], MEMBER_ID_REQUIRED, first)
            return first["member_id"]

        # g1: one member, generation 1 joined, not synced.
        c1 = self.raw(client_id="u1-a")
        m1 = join_dynamic(c1, "g-unsynced-1")
        j1 = c1.join_group("g-unsynced-1", session, [topic], member_id=m1, version=5)
        self.assertEqual((j1["error"], j1["generation"], j1["leader"]), (NONE, 1, m1), j1)

        # g2: a Stable in generation 1 with [0, 1]; b joins; generation 2 joined, not synced.
        ca, cb = self.raw(client_id="u2-a"), self.raw(client_id="u2-b")
        ma = join_dynamic(ca, "g-unsynced-2")
        ja = ca.join_group("g-unsynced-2", session, [topic], member_id=ma, version=5)
        self.assertEqual((ja["error"], ja["generation"], ja["leader"]), (NONE, 1, ma), ja)
        self.assertEqual(ca.sync_group("g-unsynced-2", 1, ma, {ma: {topic: [0, 1]}}), (NONE, {topic: [0, 1]}))
        mb = join_dynamic(cb, "g-unsynced-2")
        b_join = in_thread(lambda: cb.join_group("g-unsynced-2", session, [topic], member_id=mb, version=5))
        self.wait(lambda: ca.heartbeat("g-unsynced-2", 1, ma) == REBALANCE_IN_PROGRESS, TIMEOUT,
                  "g-unsynced-2 to rebalance for b")
        ja2 = ca.join_group("g-unsynced-2", session, [topic], member_id=ma, version=5)
        jb2 = b_join()
        self.assertEqual([(j["error"], j["generation"], j["leader"]) for j in (ja2, jb2)],
                         [(NONE, 2, ma), (NONE, 2, ma)])

        self.assertEqual(self.broker.stop(), 0)
        self.broker.start()

        leader_assignment = {ma: {topic: [0]}, mb: {topic: [1]}}
        c1, ca, cb = self.raw(client_id="u1-a"), self.raw(client_id="u2-a"), self.raw(client_id="u2-b")
        got = {
            "g1 leader": retry_coordinator(lambda: c1.sync_group("g-unsynced-1", 1, m1, {m1: {topic: [0, 1]}}),
                                           lambda r: [r[0]]),
            "g2 leader": retry_coordinator(lambda: ca.sync_group("g-unsynced-2", 2, ma, leader_assignment),
                                           lambda r: [r[0]]),
            "g2 follower": retry_coordinator(lambda: cb.sync_group("g-unsynced-2", 2, mb), lambda r: [r[0]]),
        }
        sent = {"g1 leader": {topic: [0, 1]}, "g2 leader": leader_assignment[ma],
                "g2 follower": leader_assignment[mb]}
        rejoin = (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS)
        invented = {who: r for who, r in got.items()
                    if not (r[0] in rejoin or r == (NONE, sent[who]))}
        described = {g: self.raw().describe_groups([g])[0] for g in ("g-unsynced-1", "g-unsynced-2")}
        self.assertEqual(invented, {}, "SyncGroup after the restart answered NONE with an assignment "
                         "the leader never sent (error %d/%d/%d expected, or the leader's assignment %s); "
                         "DescribeGroups now: %s" % (
                             UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS, sent,
                             {g: (d["state"], [(m["client_id"], decode_assignment(m["assignment"]))
                                               for m in d["members"]]) for g, d in described.items()}))

    # --- 13: hostile group input -------------------------------------------------------------------

    def test_hostile_join_group_with_1000_protocols_of_10_kib(self):
        """A JoinGroup v5 with 1000 protocols of 10 KiB random metadata each
        (about 10 MiB, under socket.request.max.bytes) is answered:
        MEMBER_ID_REQUIRED, then with the id NONE, the first protocol chosen
        and its 10 KiB metadata given back to the leader; SyncGroup and
        LeaveGroup work for it. The broker stays up, and a librdkafka
        consumer group on it consumes afterwards."""
        self.start_broker("groups-hostile-big", apis={**MEMBER_APIS, **ADMIN_APIS})
        topic, group = "grp-hostile-big", "g-hostile-big"
        harness.create_topic(self.broker.bootstrap, topic, partitions=2)
        rnd = random.Random(20240601)
        protocols = [("proto-%04d" % i, rnd.randbytes(10 * 1024)) for i in range(1000)]
        size = len(join_group_body(5, group, 30000, "", protocols))
        self.assertGreater(size, 10 * 1024 * 1000)
        big = self.raw(client_id="big-join")
        started = time.monotonic()
        first = retry_coordinator(lambda: big.join_group(group, 30000, [], protocols=protocols, version=5),
                                  lambda r: [r["error"]])
        self.assertEqual(first["error"], MEMBER_ID_REQUIRED, first)
        joined = big.join_group(group, 30000, [], member_id=first["member_id"], protocols=protocols,
                                version=5)
        took = time.monotonic() - started
        self.assertEqual((joined["error"], joined["protocol"], joined["leader"], joined["generation"]),
                         (NONE, "proto-0000", first["member_id"], 1),
                         {k: v for k, v in joined.items() if k != "members"})
        self.assertEqual(joined["members"], [(first["member_id"], None, protocols[0][1])])
        self.assertEqual(big.sync_group(group, 1, first["member_id"], {first["member_id"]: {topic: [0]}}),
                         (NONE, {topic: [0]}))
        d = big.describe_groups([group])[0]
        self.assertEqual((d["state"], d["protocol"], [m["metadata"] for m in d["members"]]),
                         ("Stable", "proto-0000", [protocols[0][1]]))
        self.assertEqual(big.leave_group(group, [(first["member_id"], None)]),
                         (NONE, [(first["member_id"], None, NONE)]))
        rss_kb = self.broker.rss_kb()
        print("1000 protocols (%d bytes): two joins answered in %.1f s; broker RSS %d MiB"
              % (size, took, rss_kb // 1024))
        self.assertLess(rss_kb, 500 * 1024, "broker RSS after the 10 MiB JoinGroups")
        self.assertTrue(self.broker.alive())

        values = self.produce(topic, 0, 200)
        m = self.ck_member("after-big", "g-hostile-big-after", topic)
        self.wait_consumed([m], values, committed=True)
        self.check_delivered([m])

    def test_hostile_join_group_garbage_closes_only_that_connection(self):
        """JoinGroup v5 frames whose body is truncated at several points, has
        an array or bytes length of 2^31-1 with nothing behind it, a negative
        string length, or is garbage: each connection is closed without an
        answer. A raw client connected before, and a librdkafka member of the
        group the truncated requests name, notice nothing: the one's
        requests are answered, the other keeps its generation and consumes;
        a well-formed JoinGroup on a fresh connection is answered."""
        self.start_broker("groups-hostile-garbage", apis={**MEMBER_APIS, **ADMIN_APIS})
        topic, group = "grp-hostile-garbage", "g-hostile-live"
        harness.create_topic(self.broker.bootstrap, topic, partitions=2)
        live = self.ck_member("live", group, topic)
        self.wait_split([live], 2)
        self.wait(lambda: live.generations(), TIMEOUT, "live's generation", [live])
        generation = live.generations()[-1]
        mark = live.mark()
        bystander = self.raw(client_id="bystander")
        self.assertEqual(bystander.describe_groups([group])[0]["state"], "Stable")

        head = (string(group) + struct.pack(">ii", 30000, 30000) + string("")
                + nullable_string(None) + string("consumer"))
        valid = (head + struct.pack(">i", 1) + string("range")
                 + nullable_bytes(encode_subscription([topic])))
        self.assertEqual(valid, join_group_body(5, group, 30000, "", [("range", encode_subscription([topic]))]))
        rnd = random.Random(7)
        bodies = {
            "empty body": b"",
            "cut in the group id": valid[:5],
            "cut in the protocol type": head[:-3],
            "no protocols array": head,
            "cut in the protocol metadata": valid[:-1],
            "2^31-1 protocols": head + struct.pack(">i", 0x7FFFFFFF),
            "2^31-1 bytes of metadata": head + struct.pack(">i", 1) + string("range")
            + struct.pack(">i", 0x7FFFFFFF) + b"\0" * 16,
            "negative group id length": struct.pack(">h", -7) + valid[2 + len(group):],
            "garbage": b"\x7f\xff" + rnd.randbytes(300),
        }
        for what, body in bodies.items():
            s = connect(self.broker.port, timeout=TIMEOUT)
            try:
                s.sendall(request(11, 5, 42, body, client_id=b"sluice-it-garbage"))
                got = expect_closed(s)
            except AssertionError as e:
                raise AssertionError("JoinGroup v5, %s: %s" % (what, e)) from None
            finally:
                s.close()
            self.assertEqual(got, b"", "JoinGroup v5, %s: answered before closing" % what)
            self.assertTrue(self.broker.alive(), "the broker died on JoinGroup v5, %s" % what)

        # A well-formed one (another group) on a fresh connection is answered.
        fresh = self.raw(client_id="fresh")
        self.assertEqual(fresh.join_group("g-hostile-other", 30000, [topic], version=5)["error"],
                         MEMBER_ID_REQUIRED)
        # The bystander's connection and the live member are untouched.
        d = bystander.describe_groups([group])[0]
        self.assertEqual((d["state"], [m["client_id"] for m in d["members"]]), ("Stable", ["live"]))
        member = d["members"][0]["member_id"]
        self.assertEqual(bystander.heartbeat(group, generation[0], member), NONE)
        values = self.produce(topic, 0, 200)
        self.wait_consumed([live], values, committed=True)
        self.assertEqual(live.all_events(("assign", "revoke", "lost", "gen", "error"), mark), [],
                         "the live member saw a rebalance or an error")
        self.check_delivered([live])

    def test_200_groups_from_simple_commits_are_listed(self):
        """200 groups, each created by one OffsetCommit with generation -1 and
        no member: ListGroups v4 lists every one (protocol type "", Empty),
        with states_filter ["Empty"] too, with ["Stable"] none of them but a
        Stable group; librdkafka's list_groups (ListGroups and
        DescribeGroups) shows them all; each has its offset."""
        self.start_broker("groups-many", apis={**MEMBER_APIS, **ADMIN_APIS})
        topic = "grp-many"
        harness.create_topic(self.broker.bootstrap, topic, partitions=2)
        live = self.ck_member("live", "g-many-live", topic)
        self.wait_split([live], 2)
        c = self.raw(client_id="many")
        names = ["g-many-%03d" % i for i in range(200)]
        for i, name in enumerate(names):
            res = retry_coordinator(lambda: c.offset_commit(name, {(topic, i % 2): i}), lambda r: r.values())
            self.assertEqual(res, {(topic, i % 2): NONE}, name)

        err, listed = c.list_groups()
        self.assertEqual(err, NONE)
        self.assertEqual(sorted(set(names) - set(listed)), [], "groups ListGroups left out")
        self.assertEqual({listed[n] for n in names}, {("", "Empty")})
        self.assertEqual(listed.get("g-many-live"), ("consumer", "Stable"))
        err, empty = c.list_groups(["Empty"])
        self.assertEqual((err, sorted(g for g in empty if g.startswith("g-many-"))), (NONE, names))
        err, stable = c.list_groups(["Stable"])
        self.assertEqual((err, sorted(stable)), (NONE, ["g-many-live"]))

        admin = AdminClient({"bootstrap.servers": self.broker.bootstrap})
        groups = {g.id: g for g in admin.list_groups(timeout=TIMEOUT)}
        self.assertEqual(sorted(set(names) - set(groups)), [], "groups librdkafka's list_groups left out")
        self.assertEqual({(groups[n].state, groups[n].error) for n in names}, {("Empty", None)})
        for i in (0, 1, 99, 199):
            self.assertEqual(c.offset_fetch(names[i], topic, [i % 2]), (NONE, {i % 2: (i, NONE)}))


    # --- 14: __consumer_offsets belongs to the coordinator ----------------------------------------

    def test_consumer_offsets_topic_is_protected(self):
        """Once a group has committed offsets, __consumer_offsets refuses what
        would change it from outside, as Kafka does: a Produce to it (a forged
        OffsetCommit record that would become the group's offset at the next
        start) gets INVALID_TOPIC_EXCEPTION from a raw Produce and from
        librdkafka; DeleteTopics and CreatePartitions (which would move every
        group away from its records) get INVALID_REQUEST, from the raw
        requests and from librdkafka's AdminClient. Metadata v1 lists it
        with is_internal true (and a user topic false). Afterwards, and after a
        SIGTERM restart, the group's committed offsets are what it committed,
        and the topic has its partitions still."""
        self.start_broker("groups-protected", {"offsets.topic.num.partitions": "3"})
        topic, group = "grp-protected", "g-protected"
        harness.create_topic(self.broker.bootstrap, topic, partitions=2)
        raw = self.raw(client_id="protected")
        res = retry_coordinator(lambda: raw.offset_commit(group, {(topic, 0): 5, (topic, 1): 6}),
                                lambda r: r.values())
        self.assertEqual(res, {(topic, 0): NONE, (topic, 1): NONE})
        self.assertEqual(raw.offset_fetch(group, topic, [0, 1]), (NONE, {0: (5, NONE), 1: (6, NONE)}))
        before = collections.Counter(
            m.partition() for m in harness.ck_read_all(self.broker.bootstrap, "__consumer_offsets"))

        # Produce: a forged commit of offset 999 to every partition.
        forged = [(offset_commit_key(group, topic, 0), offset_commit_value(999, int(time.time() * 1000)))]
        for p in range(3):
            err, _ = raw.produce("__consumer_offsets", p, forged)
            self.assertEqual(err, INVALID_TOPIC_EXCEPTION, "raw Produce to __consumer_offsets-%d" % p)
        self.assertEqual(raw.produce(topic, 0, [(b"k", b"v")])[0], NONE, "a Produce to a user topic")
        delivered = []
        producer = Producer({"bootstrap.servers": self.broker.bootstrap, "message.timeout.ms": 10000,
                             "error_cb": lambda err: None})
        producer.produce("__consumer_offsets", key=forged[0][0], value=forged[0][1], partition=0,
                         on_delivery=lambda err, msg: delivered.append(err))
        self.assertEqual(producer.flush(20), 0, "librdkafka's Produce to __consumer_offsets unanswered")
        self.assertEqual(len(delivered), 1)
        self.assertIsNotNone(delivered[0], "librdkafka's Produce to __consumer_offsets was accepted")
        self.assertEqual(delivered[0].code(), KafkaError.TOPIC_EXCEPTION, str(delivered[0]))

        # DeleteTopics and CreatePartitions.
        self.assertEqual(raw.delete_topics(["__consumer_offsets"]), {"__consumer_offsets": INVALID_REQUEST})
        err, message = raw.create_partitions("__consumer_offsets", 10)
        self.assertEqual(err, INVALID_REQUEST, message)
        self.assertTrue(message, "CreatePartitions on __consumer_offsets refused without a message")
        admin = AdminClient({"bootstrap.servers": self.broker.bootstrap})
        for what, fs in (
                ("DeleteTopics", admin.delete_topics(["__consumer_offsets"], request_timeout=TIMEOUT)),
                ("CreatePartitions", admin.create_partitions([NewPartitions("__consumer_offsets", 10)],
                                                             request_timeout=TIMEOUT))):
            with self.assertRaises(KafkaException, msg="librdkafka's %s of __consumer_offsets" % what) as e:
                fs["__consumer_offsets"].result(timeout=TIMEOUT)
            self.assertEqual(e.exception.args[0].code(), KafkaError.INVALID_REQUEST,
                             "%s: %s" % (what, e.exception))

        # Metadata: internal; a user topic is not.
        md = raw.metadata(["__consumer_offsets", topic])
        self.assertEqual(md, {"__consumer_offsets": (NONE, True, 3), topic: (NONE, False, 2)})
        self.assertEqual(raw.metadata()["__consumer_offsets"], (NONE, True, 3))

        # Nothing reached the log, the group is as it was, before and after a restart.
        after = collections.Counter(
            m.partition() for m in harness.ck_read_all(self.broker.bootstrap, "__consumer_offsets"))
        self.assertEqual(after, before, "records in __consumer_offsets by partition")
        self.assertEqual(self.committed(group, topic, [0, 1]), {0: 5, 1: 6})
        del producer, admin  # librdkafka clients: gone before the broker stops
        self.assertEqual(self.broker.stop(), 0)
        self.broker.start()
        raw = self.raw(client_id="protected-after")
        got = retry_coordinator(lambda: raw.offset_fetch(group, topic, [0, 1]),
                                lambda r: [r[0]] + [e for _, e in r[1].values()])
        self.assertEqual(got, (NONE, {0: (5, NONE), 1: (6, NONE)}), "after a SIGTERM restart")
        self.assertEqual(raw.metadata(["__consumer_offsets"]), {"__consumer_offsets": (NONE, True, 3)})

    def test_group_is_placed_in_kafkas_partition(self):
        """A group's __consumer_offsets partition is Kafka's
        Utils.abs(groupId.hashCode()) % offsets.topic.num.partitions: with the
        default 50 partitions, "my-group" (hash -1906497762) is in partition
        12 (masking the sign bit instead would give 36). Its GroupMetadata
        record (raw JoinGroup and SyncGroup) and its offset commit are both
        there and in no other partition, and a consumer assigned to partition
        12 from the beginning reads them."""
        self.start_broker("groups-placement")
        topic, group = "grp-placement", "my-group"
        harness.create_topic(self.broker.bootstrap, topic, partitions=1)
        c = self.raw(client_id="placement")
        first = retry_coordinator(lambda: c.join_group(group, 30000, [topic], version=5),
                                  lambda r: [r["error"]])
        self.assertEqual(first["error"], MEMBER_ID_REQUIRED, first)
        member = first["member_id"]
        joined = c.join_group(group, 30000, [topic], member_id=member, version=5)
        self.assertEqual((joined["error"], joined["generation"]), (NONE, 1), joined)
        self.assertEqual(c.sync_group(group, 1, member, {member: {topic: [0]}}), (NONE, {topic: [0]}))
        self.assertEqual(c.offset_commit(group, {(topic, 0): 3}, 1, member), {(topic, 0): NONE})
        self.assertEqual(c.metadata(["__consumer_offsets"])["__consumer_offsets"], (NONE, True, 50))

        # Partition 12 alone, read from its beginning.
        consumer = harness.ck_consumer(self.broker.bootstrap)
        try:
            consumer.assign([TopicPartition("__consumer_offsets", 12, OFFSET_BEGINNING)])
            kinds = set()

            def found():
                for m in consumer.consume(num_messages=100, timeout=0.2):
                    if m.error() is None and m.key() and b"my-group" in m.key():
                        key = parse_offsets_key(m.key())
                        if key and key[1] == group:
                            kinds.add(key[0])
                return kinds == {"group", "offset"}
            self.wait(found, TIMEOUT, "the records of my-group in __consumer_offsets-12 (found: %s)" % kinds)
        finally:
            consumer.close()

        # And in no other partition.
        where = collections.defaultdict(set)
        for m in harness.ck_read_all(self.broker.bootstrap, "__consumer_offsets"):
            key = parse_offsets_key(m.key()) if m.key() else None
            if key and key[1] == group:
                where[m.partition()].add(key[0])
        self.assertEqual(dict(where), {12: {"group", "offset"}},
                         "partitions of __consumer_offsets holding my-group's records")

    def test_sigterm_during_a_rebalance_answers_the_waiting_join(self):
        """A raw member a is Stable alone (rebalance timeout 60 s); b joins, so
        b's JoinGroup waits for a to rejoin, which it does not. In a second
        group, a follower's SyncGroup waits for a leader that does not send
        one. SIGTERM: the broker answers both NOT_COORDINATOR (or closes their
        connections) and exits 0 within a few seconds, not after its 30 s
        drain of requests in flight nor a's 60 s. After a restart the first
        group is what was stored: Stable in generation 1 with a alone, and
        a's heartbeat is served."""
        self.start_broker("groups-stop-rebalance", apis={**MEMBER_APIS, **ADMIN_APIS})
        topic, group = "grp-stop-rebalance", "g-stop-rebalance"
        harness.create_topic(self.broker.bootstrap, topic, partitions=2)
        session = 60000
        a, b, admin = (self.raw(client_id=n) for n in ("stop-a", "stop-b", "stop-admin"))

        first = retry_coordinator(lambda: a.join_group(group, session, [topic], version=5),
                                  lambda r: [r["error"]])
        self.assertEqual(first["error"], MEMBER_ID_REQUIRED, first)
        member_a = first["member_id"]
        ja = a.join_group(group, session, [topic], member_id=member_a, version=5)
        self.assertEqual((ja["error"], ja["generation"], ja["leader"]), (NONE, 1, member_a), ja)
        self.assertEqual(a.sync_group(group, 1, member_a, {member_a: {topic: [0, 1]}}),
                         (NONE, {topic: [0, 1]}))

        first_b = b.join_group(group, session, [topic], version=5)
        self.assertEqual(first_b["error"], MEMBER_ID_REQUIRED, first_b)
        member_b = first_b["member_id"]
        b_join = in_thread(lambda: b.join_group(group, session, [topic], member_id=member_b, version=5))

        def b_waits():
            if b_join.done():
                raise AssertionError("b's JoinGroup was answered before the SIGTERM: %r" % (b_join(),))
            d = admin.describe_groups([group])[0]
            return d["state"] == "PreparingRebalance" and len(d["members"]) == 2
        self.wait(b_waits, TIMEOUT, "b to wait in PreparingRebalance for a")
        self.assertEqual(a.heartbeat(group, 1, member_a), REBALANCE_IN_PROGRESS)

        # The second group: generation 1 joined by a leader and a follower;
        # the follower's SyncGroup waits for the leader's.
        # (Whichever joins first leads.)
        sync_group = "g-stop-sync"
        clients = {}
        for n in ("stop-c1", "stop-c2"):
            c = self.raw(client_id=n)
            r = retry_coordinator(lambda: c.join_group(sync_group, session, [topic], version=5),
                                  lambda r: [r["error"]])
            self.assertEqual(r["error"], MEMBER_ID_REQUIRED, r)
            clients[r["member_id"]] = c
        (m1, c1), (m2, c2) = clients.items()
        join1 = in_thread(lambda: c1.join_group(sync_group, session, [topic], member_id=m1, version=5))
        j2 = c2.join_group(sync_group, session, [topic], member_id=m2, version=5)
        j1 = join1()
        self.assertEqual([(j["error"], j["generation"]) for j in (j1, j2)], [(NONE, 1)] * 2, (j1, j2))
        self.assertEqual(j1["leader"], j2["leader"])
        follower_id = m2 if j1["leader"] == m1 else m1
        follower = clients[follower_id]
        follower_sync = in_thread(lambda: follower.sync_group(sync_group, 1, follower_id))

        def follower_waits():
            if follower_sync.done():
                raise AssertionError("the follower's SyncGroup was answered before the leader's: %r"
                                     % (follower_sync(),))
            return admin.describe_groups([sync_group])[0]["state"] == "CompletingRebalance"
        self.wait(follower_waits, TIMEOUT, "the follower's SyncGroup to wait in CompletingRebalance")
        time.sleep(0.3)  # the SyncGroup itself reaches the broker
        self.assertFalse(follower_sync.done())

        stopped_at = time.monotonic()
        self.assertEqual(self.broker.stop(timeout=40), 0)
        took = time.monotonic() - stopped_at

        def answer_or_closed(result, what):
            """The error code of the answer, or None when the connection
            closed without one."""
            try:
                answer = result(timeout=10)
            except (AssertionError, ConnectionError) as e:
                self.assertNotIsInstance(e, TimeoutError)
                self.assertTrue(isinstance(e, ConnectionError) or "connection closed" in str(e),
                                "%s: %r" % (what, e))
                return None
            code = answer["error"] if isinstance(answer, dict) else answer[0]
            self.assertEqual(code, NOT_COORDINATOR, "%s: %r" % (what, answer))
            return code

        joined = answer_or_closed(b_join, "b's waiting JoinGroup")
        synced = answer_or_closed(follower_sync, "the follower's waiting SyncGroup")
        print("SIGTERM during a rebalance: stopped in %.2f s; waiting JoinGroup: %s, SyncGroup: %s"
              % (took, "closed" if joined is None else "error %d" % joined,
                 "closed" if synced is None else "error %d" % synced))
        self.assertLess(took, 10.0, "the broker took %.1f s to stop with a JoinGroup and a SyncGroup "
                        "waiting" % took)

        self.broker.start()
        c = self.raw(client_id="stop-after")
        d = retry_coordinator(lambda: c.describe_groups([group])[0], lambda r: [r["error"]])
        self.assertEqual((d["error"], d["state"], [m["member_id"] for m in d["members"]]),
                         (NONE, "Stable", [member_a]))
        self.assertEqual(decode_assignment(d["members"][0]["assignment"]), {topic: [0, 1]})
        self.assertEqual(c.heartbeat(group, 1, member_a), NONE)

if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] in CHILD_MODES:
        sys.exit(CHILD_MODES[sys.argv[1]](json.loads(sys.argv[2])))
    harness.main()
