#!/usr/bin/python3
"""Hostile and careless peers on raw sockets: garbage, truncated frames, huge and
negative length prefixes, unknown APIs, ApiVersions v99 (KIP-511), pipelining,
and 2000 idle connections, after which a real client must still work and the
broker's memory must stay bounded. The broker must be alive at the end."""

import os
import random
import socket
import struct
import sys
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from kafka_wire import (API_VERSIONS, FETCH, METADATA, PRODUCE, compact_string,  # noqa: E402
                        connect, expect_closed, fetch_body, parse_api_versions_v0,
                        parse_fetch, read_uvarint, recv_exact, recv_frame, request,
                        send_ignoring_reset, uvarint)

from confluent_kafka import OFFSET_BEGINNING, Producer, TopicPartition  # noqa: E402

UNSUPPORTED_VERSION = 35
IDLE_CONNECTIONS = 2000
RSS_LIMIT_KB = 500 * 1024

# The APIs the broker serves (README.md); each must be advertised.
SERVED_APIS = {
    0: "Produce", 1: "Fetch", 2: "ListOffsets", 3: "Metadata", 18: "ApiVersions",
    19: "CreateTopics", 20: "DeleteTopics", 21: "DeleteRecords", 22: "InitProducerId",
    32: "DescribeConfigs", 33: "AlterConfigs", 37: "CreatePartitions",
    35: "DescribeLogDirs", 44: "IncrementalAlterConfigs", 60: "DescribeCluster",
}


def api_versions_v3_body():
    return compact_string("sluice-it") + compact_string("1.0") + b"\x00"


def padded_api_versions(corr, body_size):
    """An ApiVersions v3 request whose body (the frame less its size prefix)
    is `body_size` bytes: the bulk an unknown tagged field, which the broker
    skips."""
    pad = 0
    for _ in range(4):
        assert pad >= 0, "%d bytes is too small a body" % body_size  # the padding's own length prefix may grow a byte
        body = (compact_string("sluice-it") + compact_string("1.0") + uvarint(1) + uvarint(1000)
                + uvarint(pad) + b"\x5a" * pad)
        frame = request(API_VERSIONS, 3, corr, body, flexible=True)
        pad += body_size - (len(frame) - 4)
    return frame


def parse_api_versions_v3(frame):
    corr, err = struct.unpack_from(">ih", frame, 0)
    n, pos = read_uvarint(frame, 6)
    apis = {}
    for _ in range(n - 1):
        k, lo, hi = struct.unpack_from(">hhh", frame, pos)
        pos += 6
        tags, pos = read_uvarint(frame, pos)
        if tags:
            raise AssertionError("unexpected tagged fields in an api entry")
        apis[k] = (lo, hi)
    (throttle,) = struct.unpack_from(">i", frame, pos)
    return corr, err, apis, throttle


class HostileTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        harness.raise_fd_limit(IDLE_CONNECTIONS * 2 + 1000)
        cls.broker = harness.Broker(name="hostile").start()
        cls.port = cls.broker.port

    @classmethod
    def tearDownClass(cls):
        alive = cls.broker.alive()
        cls.broker.stop(expect_clean=alive)
        if not alive:
            raise AssertionError("the broker is dead at the end\n%s" % cls.broker.log_tail())

    def assert_healthy(self):
        self.assertTrue(self.broker.alive(), "the broker died")
        with connect(self.port) as s:
            s.sendall(request(API_VERSIONS, 0, 4242))
            corr, err, apis = parse_api_versions_v0(recv_frame(s))
        self.assertEqual((corr, err), (4242, 0))
        self.assertIn(API_VERSIONS, apis)

    def tearDown(self):
        self.assert_healthy()

    def produce_100k_values(self, topic, count, config=None):
        """Creates `topic` (with `config`) and writes `count` values of
        100 KiB to its partition 0, each in a batch of its own, so that where
        a fetch or a segment ends does not depend on how the producer happened
        to batch them; returns them."""
        harness.create_topic(self.broker.bootstrap, topic, config=config)
        p = Producer({"bootstrap.servers": self.broker.bootstrap, "acks": "all",
                      "message.max.bytes": 1 << 20, "linger.ms": 20,
                      "batch.num.messages": 1})
        values = [bytes([i]) * (100 << 10) for i in range(count)]
        for v in values:
            p.produce(topic, value=v, partition=0)
        self.assertEqual(p.flush(30), 0)
        return values

    # --- well-formed, as a baseline ----------------------------------------------

    def test_api_versions_v0_and_v3(self):
        with connect(self.port) as s:
            s.sendall(request(API_VERSIONS, 0, 1))
            corr, err, apis0 = parse_api_versions_v0(recv_frame(s))
            self.assertEqual((corr, err), (1, 0))
            s.sendall(request(API_VERSIONS, 3, 2, api_versions_v3_body(), flexible=True))
            corr, err, apis3, throttle = parse_api_versions_v3(recv_frame(s))
            self.assertEqual((corr, err, throttle), (2, 0, 0))
        self.assertEqual(apis0, apis3)
        missing = {k: v for k, v in SERVED_APIS.items() if k not in apis3}
        self.assertEqual(missing, {}, "APIs not advertised")
        for k, (lo, hi) in apis3.items():
            self.assertLessEqual(lo, hi, "api %d" % k)
        self.assertGreaterEqual(apis3[API_VERSIONS][1], 3)

    def test_pipelined_requests_answered_in_order(self):
        n = 1000
        with connect(self.port) as s:
            s.sendall(b"".join(request(API_VERSIONS, i % 3, 10_000 + i) for i in range(n)))
            corrs = [struct.unpack_from(">i", recv_frame(s))[0] for _ in range(n)]
        self.assertEqual(corrs, [10_000 + i for i in range(n)])

    def test_frames_around_the_read_buffer_size_are_answered_in_order(self):
        # The broker reads into a 16 KiB buffer and takes every whole frame
        # from it; it moves a partial frame to the buffer's start, and reads
        # a larger one into a buffer of its own after what it already holds.
        # Bodies just under, at and over that size, back to back with small
        # ones and cut at odd places, must all be answered in order.
        buffer_size = 16 * 1024
        bodies = [buffer_size - 1, buffer_size, buffer_size + 1, 100, buffer_size - 100,
                  50_000, 10_000, 9_000, buffer_size, 120]
        frames = [padded_api_versions(1000 + i, body) for i, body in enumerate(bodies)]
        self.assertEqual([len(f) - 4 for f in frames], bodies)
        data = b"".join(frames)
        for piece in (len(data), 7001, 4099):
            with connect(self.port) as s:
                for start in range(0, len(data), piece):
                    s.sendall(data[start:start + piece])
                    time.sleep(0.01)
                for i in range(len(frames)):
                    corr, err, apis, _ = parse_api_versions_v3(recv_frame(s))
                    self.assertEqual((corr, err), (1000 + i, 0), "piece %d" % piece)
                    self.assertIn(API_VERSIONS, apis)

    def test_answers_to_a_client_that_does_not_read_arrive_whole_and_in_order(self):
        # The broker writes an answer itself when nothing is ahead of it and
        # hands what the socket has no room for to its writer; the answers
        # behind queue until the writer has caught up. A client that
        # pipelines 150 Fetch requests of about 100 KiB each (more than the
        # socket buffers hold), each followed by an ApiVersions, and reads
        # only after a pause, through a small receive buffer, must get every
        # answer whole and in order.
        topic = "unread-answers"
        values = self.produce_100k_values(topic, 10)

        def fetch(corr, offset):
            return request(FETCH, 4, corr, fetch_body(4, topic, 0, offset, 100 << 10))

        expected = {}
        with connect(self.port, timeout=30) as s:
            for offset in range(len(values)):
                s.sendall(fetch(offset, offset))
                corr, ((_, _, err, _, records),) = parse_fetch(recv_frame(s, timeout=30), 4)
                self.assertEqual((corr, err), (offset, 0))
                self.assertGreater(len(records), 100 << 10)
                expected[offset] = records

        n = 150
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 10)
            s.sendall(b"".join(fetch(30_000 + i, i % len(values)) + request(API_VERSIONS, 0, i)
                               for i in range(n)))
            time.sleep(0.5)
            for i in range(n):
                corr, ((_, _, err, _, records),) = parse_fetch(recv_frame(s, timeout=30), 4)
                self.assertEqual((corr, err), (30_000 + i, 0))
                self.assertEqual(records, expected[i % len(values)], "fetch %d" % i)
                corr, err, _ = parse_api_versions_v0(recv_frame(s, timeout=30))
                self.assertEqual((corr, err), (i, 0))

    def test_pipelined_produce_answers_to_a_client_that_does_not_read(self):
        # Produce answers are written by the processor itself while nothing
        # waits at the writer, and do not wait for the writer as other
        # requests do. 3,000 acks=1 Produce requests pipelined without
        # reading (through a small receive buffer), then read: every answer,
        # in order, each with its own offset.
        from kafka.protocol.produce import ProduceRequest, ProduceResponse
        from kafka.record.memory_records import MemoryRecordsBuilder

        topic = "unread-produce-answers"
        harness.create_topic(self.broker.bootstrap, topic)
        builder = MemoryRecordsBuilder(magic=2, compression_type=0, batch_size=1 << 20)
        builder.append(int(time.time() * 1000), None, b"v", headers=[])
        builder.close()
        produce = ProduceRequest[3](transactional_id=None, required_acks=1, timeout=30000,
                                    topics=[(topic, [(0, builder.buffer())])])
        body = produce.encode()  # (kafka-python binds encode weakly: keep the object)
        n = 3000
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 10)
            s.sendall(b"".join(request(0, 3, 40_000 + i, body) for i in range(n)))
            time.sleep(0.5)
            for i in range(n):
                frame = recv_frame(s, timeout=30)
                self.assertEqual(struct.unpack_from(">i", frame)[0], 40_000 + i)
                response = ProduceResponse[3].decode(frame[4:])
                ((name, ((index, error, offset, _ts),)),) = response.topics
                self.assertEqual((name, index, error, offset), (topic, 0, 0, i))

    def test_requests_before_one_that_closes_are_answered(self):
        # A request the broker cannot decode closes the connection, as
        # Kafka closes it, but only after the answers to the requests before
        # it: Kafka handles a connection's requests one at a time. Here those
        # are acks=all Produce requests to partitions on both shards, whose
        # answers wait for appends elsewhere and for an fsync when the bad
        # Metadata request arrives. The request behind it is not answered.
        from kafka.protocol.produce import ProduceRequest, ProduceResponse
        from kafka.record.memory_records import MemoryRecordsBuilder

        topic = "answered-before-close"
        harness.create_topic(self.broker.bootstrap, topic, partitions=2)
        builder = MemoryRecordsBuilder(magic=2, compression_type=0, batch_size=1 << 20)
        builder.append(int(time.time() * 1000), None, b"v", headers=[])
        builder.close()
        records = builder.buffer()
        produces = [ProduceRequest[3](transactional_id=None, required_acks=-1, timeout=30000,
                                      topics=[(topic, [(i % 2, records)])]) for i in range(20)]
        frames = [request(PRODUCE, 3, i, p.encode()) for i, p in enumerate(produces)]
        # Metadata v1: a topic array of 1,000 entries, none of them there.
        frames.append(request(METADATA, 1, 100, struct.pack(">i", 1000)))
        frames.append(request(API_VERSIONS, 0, 101))
        with connect(self.port, timeout=30) as s:
            s.sendall(b"".join(frames))
            got = expect_closed(s, timeout=30)
        answers = []
        while got:
            (size,) = struct.unpack_from(">i", got)
            answers.append(got[4:4 + size])
            got = got[4 + size:]
        self.assertEqual(len(answers), len(produces), "answers before the close")
        for i, frame in enumerate(answers):
            self.assertEqual(struct.unpack_from(">i", frame)[0], i)
            ((name, ((index, error, offset, _ts),)),) = ProduceResponse[3].decode(frame[4:]).topics
            self.assertEqual((name, index, error, offset), (topic, i % 2, 0, i // 2))

    def test_answers_before_a_close_survive_a_client_that_keeps_sending(self):
        # Closing a socket whose received bytes were never read makes the
        # kernel reset the connection and drop what it has not yet sent. A
        # client that pipelines a Fetch of 2 MiB, a request the broker
        # cannot decode and more requests behind it must still get the
        # whole Fetch answer and then an orderly end: the broker ends its
        # side after the last answer and discards what still arrives until
        # the client ends its own. Read at once, and read so slowly that
        # the last of the answer leaves the socket more than 2 s after the
        # broker wrote it (the broker waits while the client makes progress).
        topic = "answered-before-reset"
        values = self.produce_100k_values(topic, 20)
        fetch = request(FETCH, 4, 7, fetch_body(4, topic, 0, 0, 16 << 20))
        bad = request(METADATA, 1, 8, struct.pack(">i", 1000))
        behind = b"".join(request(API_VERSIONS, 0, 9 + i) for i in range(1000))
        for pause in (0, 0.1):
            with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
                s.sendall(fetch + bad + behind)
                time.sleep(0.3)  # the broker fills the socket and waits
                got = bytearray()
                deadline = time.monotonic() + 60
                try:
                    while time.monotonic() < deadline:
                        chunk = s.recv(32 << 10)
                        if not chunk:
                            break
                        got += chunk
                        # Keeps sending too, as a client that has not noticed.
                        if len(got) < (1 << 20):
                            s.sendall(request(API_VERSIONS, 0, 2000))
                        time.sleep(pause)
                except (ConnectionResetError, BrokenPipeError) as e:
                    self.fail(f"pause {pause}: {e} after {len(got)} bytes")
            (size,) = struct.unpack_from(">i", got)
            self.assertEqual(len(got), 4 + size, "one whole answer, then the end")
            corr, partitions = parse_fetch(bytes(got[4:]), 4)
            self.assertEqual(corr, 7)
            (_, _, err, hw, records), = partitions
            self.assertEqual((err, hw), (0, len(values)))
            self.assertGreater(len(records), len(values) * (100 << 10))

    def test_large_request_in_pieces_is_answered(self):
        # The broker reads a large body with the socket's low watermark at
        # the bytes still missing (capped at 2 MiB). A 5 MiB ApiVersions
        # (its bulk an unknown tagged field, which the broker skips) sent in
        # pieces with pauses must be answered, alone and with a request
        # queued right behind it; a watermark above what is missing would
        # wait for bytes this client sends only after the answer.
        padding = b"\x5a" * (5 << 20)
        body = (compact_string("sluice-it") + compact_string("1.0") + uvarint(1) + uvarint(1000)
                + uvarint(len(padding)) + padding)
        big = request(API_VERSIONS, 3, 5, body, flexible=True)
        cuts = [0, 1000, 200_000, 2_500_000, 4_900_000, len(big)]
        with connect(self.port, timeout=30) as s:
            for behind in (b"", request(API_VERSIONS, 0, 6)):
                frames = big + behind
                # The last piece ends with the whole of the request behind.
                for start, end in zip(cuts, cuts[1:-1] + [len(frames)]):
                    s.sendall(frames[start:end])
                    time.sleep(0.1)
                corr, err, apis, _ = parse_api_versions_v3(recv_frame(s, timeout=30))
                self.assertEqual((corr, err), (5, 0))
                self.assertIn(API_VERSIONS, apis)
                if behind:
                    corr, err, _ = parse_api_versions_v0(recv_frame(s))
                    self.assertEqual((corr, err), (6, 0))

    def test_large_fetch_read_slowly_arrives_whole(self):
        # An 8 MiB Fetch response is more than the socket's buffer takes at
        # once: the broker sends what fits, waits until the client has read
        # some, and goes on (each call offered everything still unsent),
        # while the records come straight from the mapped log. A client with
        # a small receive buffer, reading in small pieces with pauses, must
        # get the same bytes as one that reads at once, and the request it
        # queued behind must be answered after it.
        topic = "slow-reader"
        values = self.produce_100k_values(topic, 80)
        fetch = request(FETCH, 4, 7, fetch_body(4, topic, 0, 0, 16 << 20))

        with connect(self.port, timeout=30) as s:
            s.sendall(fetch)
            corr, quick = parse_fetch(recv_frame(s, timeout=30), 4)
        self.assertEqual(corr, 7)
        (_, _, err, hw, records), = quick
        self.assertEqual((err, hw), (0, len(values)))
        self.assertGreater(len(records), 80 * (100 << 10))

        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
            s.sendall(fetch + request(API_VERSIONS, 0, 8))
            time.sleep(0.3)  # let the broker fill the socket and wait
            (size,) = struct.unpack(">i", recv_exact(s, 4, timeout=30))
            pieces = []
            deadline = time.monotonic() + 60
            while sum(map(len, pieces)) < size and time.monotonic() < deadline:
                pieces.append(s.recv(min(65536, size - sum(map(len, pieces)))))
                self.assertTrue(pieces[-1], "the broker closed the connection")
                if len(pieces) % 16 == 0:
                    time.sleep(0.01)
            corr, slow = parse_fetch(b"".join(pieces), 4)
            self.assertEqual(corr, 7)
            self.assertEqual(slow, quick)
            corr, err, _ = parse_api_versions_v0(recv_frame(s))
            self.assertEqual((corr, err), (8, 0))

    def test_answers_a_client_does_not_read_hold_bounded_memory(self):
        # Records from a sealed segment are copied into the answer. A client
        # that pipelines Fetch requests for 1 MiB of them each and reads
        # nothing must not make the broker hold every answer: past 1 MiB of
        # answers waiting at the writer, it stops taking requests. 60 such
        # answers would be 60 MiB. Once read, every answer is whole. (Few
        # and small: under ASan, freed memory stays in quarantine, and a later
        # test checks the broker's whole resident size.)
        topic = "unread-sealed-fetches"
        values = self.produce_100k_values(topic, 12, config={"segment.bytes": str(1 << 20)})
        fetch = fetch_body(4, topic, 0, 0, 1 << 20)
        with connect(self.port, timeout=30) as s:
            s.sendall(request(FETCH, 4, 1, fetch))
            corr, ((_, _, err, _, expected),) = parse_fetch(recv_frame(s, timeout=30), 4)
        self.assertEqual((corr, err), (1, 0))
        self.assertGreater(len(expected), 900 << 10)
        self.assertLess(len(expected), len(values) * (100 << 10), "not from the sealed segment")

        n = 60
        rss_before = self.broker.rss_kb()
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
            s.sendall(b"".join(request(FETCH, 4, 100 + i, fetch) for i in range(n)))
            time.sleep(1.0)  # let the broker take what it will
            grown_kb = self.broker.rss_kb() - rss_before
            self.assertLess(grown_kb, 24 * 1024,
                            "RSS grew by %d KiB holding unread answers" % grown_kb)
            for i in range(n):
                corr, ((_, _, err, _, records),) = parse_fetch(recv_frame(s, timeout=30), 4)
                self.assertEqual((corr, err), (100 + i, 0))
                self.assertEqual(records, expected, "fetch %d" % i)

    # --- KIP-511 -----------------------------------------------------------------

    def test_api_versions_v99_gets_unsupported_version(self):
        with connect(self.port) as s:
            s.sendall(request(API_VERSIONS, 99, 77, api_versions_v3_body(), flexible=True))
            corr, err, apis = parse_api_versions_v0(recv_frame(s))
            self.assertEqual(corr, 77)
            self.assertEqual(err, UNSUPPORTED_VERSION)
            self.assertIn(API_VERSIONS, apis, "the answer must list the supported ApiVersions range")
            lo, hi = apis[API_VERSIONS]
            self.assertTrue(lo <= 3 <= hi, (lo, hi))
            # The client then retries with a version the broker has, on the
            # same connection.
            s.sendall(request(API_VERSIONS, hi, 78, api_versions_v3_body(), flexible=hi >= 3))
            frame = recv_frame(s)
            self.assertEqual(struct.unpack_from(">ih", frame), (78, 0))

    # --- broken frames: the broker closes ----------------------------------------

    def test_unknown_api_key_closes(self):
        with connect(self.port) as s:
            s.sendall(request(32000, 0, 5))
            got = expect_closed(s)
        self.assertEqual(got, b"", "the broker answered an unknown API")

    def test_unsupported_version_of_metadata_closes(self):
        with connect(self.port) as s:
            s.sendall(request(3, 999, 6))
            expect_closed(s)

    def test_huge_length_prefix_closes_without_allocating(self):
        rss_before = self.broker.rss_kb()
        for size in (0x7FFFFFFF, 0x7FFFFFF0, 2**31 - 4096, 100 * 1024 * 1024 + 1, 1 << 30):
            with connect(self.port) as s:
                send_ignoring_reset(s, struct.pack(">i", size) + b"\x00\x12\x00\x00" * 16)
                got = expect_closed(s)
                self.assertEqual(got, b"", "answered a %d-byte frame" % size)
        rss_after = self.broker.rss_kb()
        self.assertLess(rss_after - rss_before, 100 * 1024,
                        "RSS grew from %d to %d KiB after huge length prefixes" % (rss_before, rss_after))

    def test_negative_and_zero_length_prefix_closes(self):
        for size in (-1, -2**31, 0, 1, 3):
            with connect(self.port) as s:
                send_ignoring_reset(s, struct.pack(">i", size) + b"\x00" * max(0, size))
                got = expect_closed(s)
                self.assertEqual(got, b"", "answered a frame of size %d" % size)

    def test_http_request_closes(self):
        with connect(self.port) as s:
            send_ignoring_reset(s, b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            self.assertEqual(expect_closed(s), b"")

    def test_garbage_header_closes(self):
        # A frame of the right size whose header is garbage (api key -1, a
        # client id longer than the frame).
        with connect(self.port) as s:
            send_ignoring_reset(s, struct.pack(">i", 16) + b"\xff" * 16)
            self.assertEqual(expect_closed(s), b"")
        with connect(self.port) as s:
            send_ignoring_reset(s, struct.pack(">i", 12) + struct.pack(">hhih", 18, 0, 9, 30000) + b"ab")
            expect_closed(s)

    def test_random_garbage(self):
        rng = random.Random(1234)
        for i in range(50):
            with connect(self.port) as s:
                send_ignoring_reset(s, bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 4096))))
                # Open or closed is up to the broker; it must survive either way.
        self.assertTrue(self.broker.alive())

    def test_valid_header_garbage_body(self):
        # Real API keys and versions with random bodies: an error answer or a
        # close, never a crash.
        rng = random.Random(99)
        for api_key in SERVED_APIS:
            for version in (0, 1, 3):
                with connect(self.port) as s:
                    body = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 300)))
                    send_ignoring_reset(s, request(api_key, version, 1, body))
                    s.settimeout(2)
                    try:
                        s.recv(65536)
                    except (socket.timeout, ConnectionResetError):
                        pass
                self.assertTrue(self.broker.alive(), "died on api %d v%d" % (api_key, version))

    def test_truncated_frames_then_close(self):
        frames = [
            struct.pack(">i", 1000) + b"\x00\x12\x00\x00\x00\x00",  # body never comes
            struct.pack(">i", 8)[:2],                               # half a size prefix
            request(API_VERSIONS, 0, 1)[:-3],                       # last bytes missing
            request(0, 7, 1, b"\x00" * 100)[:50],                   # half a produce request
        ]
        for _ in range(25):
            for f in frames:
                s = connect(self.port)
                s.sendall(f)
                s.close()
        # Slowloris-style: a frame trickled one byte at a time is still answered.
        with connect(self.port) as s:
            for byte in request(API_VERSIONS, 0, 31337):
                s.sendall(bytes([byte]))
                time.sleep(0.005)
            corr, err, _ = parse_api_versions_v0(recv_frame(s))
            self.assertEqual((corr, err), (31337, 0))

    def test_large_declared_frames_are_not_preallocated(self):
        # 16 connections each announce a 64 MiB request (under the default
        # socket.request.max.bytes of 100 MiB) and send one byte of it. Holding
        # 1 GiB of buffers for bytes that never come is a memory hole.
        socks = []
        try:
            for _ in range(16):
                s = connect(self.port)
                s.sendall(struct.pack(">i", 64 << 20) + b"\x00")
                socks.append(s)
            time.sleep(1.0)
            rss = self.broker.rss_kb()
            self.assertLess(rss, RSS_LIMIT_KB, "RSS %d KiB with 16 announced 64 MiB frames" % rss)
        finally:
            for s in socks:
                s.close()

    # --- many idle connections ---------------------------------------------------

    def test_idle_connection_flood_then_real_client(self):
        socks = []
        try:
            deadline = time.monotonic() + 120
            while len(socks) < IDLE_CONNECTIONS and time.monotonic() < deadline:
                try:
                    socks.append(connect(self.port, timeout=5))
                except OSError as e:
                    self.fail("connection %d failed: %s" % (len(socks) + 1, e))
            self.assertEqual(len(socks), IDLE_CONNECTIONS, "opened only %d connections in time" % len(socks))
            # Some of them speak once and stay open.
            for s in socks[:100]:
                s.sendall(request(API_VERSIONS, 0, 1))
            for s in socks[:100]:
                self.assertEqual(parse_api_versions_v0(recv_frame(s))[:2], (1, 0))
            fds = self.broker.open_fds()
            print("broker holds %d fds with %d client connections open" % (fds, len(socks)))

            # A real client, with all of them still open.
            topic = "hostile-after-flood"
            harness.create_topic(self.broker.bootstrap, topic, partitions=2)
            delivered = []
            p = Producer({"bootstrap.servers": self.broker.bootstrap, "acks": "all",
                          "enable.idempotence": True})
            for i in range(2000):
                p.produce(topic, value=b"after-flood-%d" % i,
                          on_delivery=lambda err, msg: delivered.append(err))
            self.assertEqual(p.flush(30), 0)
            self.assertEqual(delivered.count(None), 2000, [e for e in delivered if e][:3])
            c = harness.ck_consumer(self.broker.bootstrap)
            try:
                c.assign([TopicPartition(topic, q, OFFSET_BEGINNING) for q in range(2)])
                msgs = harness.ck_consume(c, 2000, 30, settle=0.3)
            finally:
                c.close()
            self.assertEqual(sorted(m.value() for m in msgs),
                             sorted(b"after-flood-%d" % i for i in range(2000)))

            rss = self.broker.rss_kb()
            print("broker RSS with %d idle connections: %d KiB" % (len(socks), rss))
            self.assertLess(rss, RSS_LIMIT_KB, "broker RSS %d KiB after the flood" % rss)
        finally:
            for s in socks:
                s.close()
        # The broker lets go of closed connections.
        harness.wait_until(lambda: self.broker.open_fds() < IDLE_CONNECTIONS // 2, 30,
                           what="the broker to close its side of %d connections" % IDLE_CONNECTIONS)
        self.assertLess(self.broker.rss_kb(), RSS_LIMIT_KB)


if __name__ == "__main__":
    harness.main()
