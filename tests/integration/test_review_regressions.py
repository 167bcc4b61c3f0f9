#!/usr/bin/python3
"""Regression tests for three broker bugs found in review, on raw sockets
(kafka_wire's framing and Fetch helpers) and confluent_kafka:

1. queued.max.request.bytes leak: requests read ahead on a connection that
   then closes (an unknown API key, while a Fetch long poll holds the
   processor) must give their bytes back to the broker-wide budget, or later
   connections wait for budget forever.
2. Fetch long poll busy spin: a Fetch whose partition has data, but fewer than
   min_bytes, must sleep until max_wait, not spin a shard for it.
3. fetch.max.bytes caps every Fetch response: a v4 request listing the same
   partition 20 times with max_bytes = INT32_MAX, and a v2 request (which has
   no max_bytes field), both get about fetch.max.bytes, never 20 x 4 MB."""

import os
import struct
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from kafka_wire import (FETCH, PRODUCE, connect, expect_closed,  # noqa: E402
                        fetch_body, fetch_v4_body, parse_fetch, recv_exact, recv_frame, request,
                        send_ignoring_reset)
from test_broker_behaviour import DeliveryLog, producer  # noqa: E402

UNKNOWN_API_KEY = 9999
INT32_MAX = 2**31 - 1
MIB = 1 << 20
TIMEOUT = 30


# --- record batches and message sets ---------------------------------------------------

def record_batches(records):
    """[(base offset, last offset, size in bytes)] of the v2 record batches in
    `records` (a trailing partial batch is ignored, as clients do)."""
    out = []
    pos = 0
    while pos + 27 <= len(records):
        base, length = struct.unpack_from(">qi", records, pos)
        size = 12 + length
        if pos + size > len(records):
            break
        magic = records[pos + 16]
        if magic != 2:
            raise AssertionError("record batch magic %d at byte %d" % (magic, pos))
        (last_delta,) = struct.unpack_from(">i", records, pos + 23)
        out.append((base, base + last_delta, size))
        pos += size
    return out


def message_set_offsets(data):
    """Offsets of the whole messages in a magic 0/1 message set."""
    out = []
    pos = 0
    while pos + 12 <= len(data):
        offset, size = struct.unpack_from(">qi", data, pos)
        if pos + 12 + size > len(data):
            break
        magic = data[pos + 16]
        if magic not in (0, 1):
            raise AssertionError("message magic %d at byte %d" % (magic, pos))
        out.append(offset)
        pos += 12 + size
    return out


def produce(bootstrap, topic, values, **conf):
    """Produces `values` (acks=all unless conf says otherwise); returns the
    DeliveryLog. Raises unless every message was delivered."""
    settings = {"acks": "all"}
    settings.update(conf)
    dr = DeliveryLog()
    p = producer(bootstrap, **settings)
    for v in values:
        p.produce(topic, value=v, on_delivery=dr)
        p.poll(0)
    remaining = p.flush(TIMEOUT)
    if remaining or dr.errors or len(dr.ok) != len(values):
        raise AssertionError("%s: %d undelivered after %d s, errors %s" % (
            topic, remaining, TIMEOUT, [str(r[0]) for r in dr.errors][:5]))
    return dr


# --- /proc --------------------------------------------------------------------------------

def cpu_seconds(pid):
    """utime + stime of every thread of process `pid`, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()  # field 3 (state) onwards
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- 1. queued.max.request.bytes -------------------------------------------------------

BUDGET = 1000000
BIG_FRAME = 250 * 1000
LEAK_ROUNDS = 5


def padded_request(api_key, version, corr, frame_size):
    """A frame of exactly `frame_size` bytes after its size prefix: a valid
    request header and a garbage body."""
    head = request(api_key, version, corr)
    body_len = frame_size - (len(head) - 4)
    return request(api_key, version, corr, b"\xa5" * body_len)


class RequestBudgetLeakTest(harness.BrokerTestCase):
    """queued.max.request.bytes=1000000, and connections that close with
    requests read ahead of a Fetch long poll."""

    BROKER_NAME = "budget"
    BROKER_SETTINGS = {"queued.max.request.bytes": BUDGET}

    def leak_round(self, topic, n, wait_for_close):
        """One connection, pipelined without reading: a Fetch long poll (2 s, on
        an empty partition), an unknown API key (the broker closes there), and
        three 250 KB frames read ahead behind it. About 760 KB of the 1 MB
        budget, which must all come back when the connection ends."""
        s = connect(self.broker.port, timeout=30)
        try:
            fetch_corr = 100 + n
            frames = (request(FETCH, 4, fetch_corr, fetch_v4_body(topic, 0, 0, 2000))
                      + request(UNKNOWN_API_KEY, 0, 200 + n)
                      + b"".join(padded_request(PRODUCE, 7, 300 + 10 * n + i, BIG_FRAME)
                                 for i in range(3)))
            t0 = time.monotonic()
            send_ignoring_reset(s, frames)
            if not wait_for_close:
                return  # closed by us at once; the broker still works through it
            # The Fetch is answered after its wait, then the broker closes at the
            # unknown API key, with the three big frames queued behind it.
            got = expect_closed(s, timeout=15)
            took = time.monotonic() - t0
            self.assertGreaterEqual(len(got), 4, "round %d: no Fetch response before the close" % n)
            (size,) = struct.unpack_from(">i", got, 0)
            self.assertEqual(len(got), 4 + size,
                             "round %d: expected exactly the Fetch response before the close" % n)
            corr, parts = parse_fetch(got[4:], 4)
            self.assertEqual(corr, fetch_corr)
            self.assertEqual(parts, [(topic, 0, 0, 0, b"")])
            self.assertGreaterEqual(took, 1.0, "round %d: the Fetch did not long-poll" % n)
        finally:
            s.close()

    def test_closed_connection_returns_its_read_ahead_budget(self):
        empty = "rr-budget-empty"
        big = "rr-budget-big"
        harness.create_topic(self.bootstrap, empty, partitions=1)
        harness.create_topic(self.bootstrap, big, partitions=1,
                             config={"max.message.bytes": "1048588"})

        # Five rounds, ~760 KB each: leaking the three read-ahead frames of any
        # one round leaves under 300 KB of the 1 MB budget for everyone after.
        # Odd rounds close from our side at once (FIN while the Fetch waits);
        # even ones wait for the broker's close, the last one included. (The
        # broker gives a closed connection's queued bytes back when the
        # connection object goes, up to ~1 s after the close: within the
        # bounds below.)
        for n in range(LEAK_ROUNDS):
            self.leak_round(empty, n, wait_for_close=(n % 2 == 0))
        self.assertTrue(self.broker.alive(), "the broker died in the leak rounds")

        # A new connection's 300 KB frame must get budget to be read: the
        # broker reads it, finds an unknown API key, and closes. With budget
        # leaked, its reader waits forever and the connection stays open.
        with connect(self.broker.port, timeout=30) as s:
            t0 = time.monotonic()
            send_ignoring_reset(s, padded_request(UNKNOWN_API_KEY, 0, 4242, 300 * 1000))
            got = expect_closed(s, timeout=10)
            took = time.monotonic() - t0
        print("  a 300 KB frame with an unknown API key after %d leak rounds: closed after %.3f s"
              % (LEAK_ROUNDS, took))
        self.assertEqual(got, b"", "the broker answered an unknown API key")

        # And a real client's ~1 MB produce requests go through.
        values = [bytes([65 + i]) * (200 * 1000) for i in range(5)]
        t0 = time.monotonic()
        dr = produce(self.bootstrap, big, values, acks="1",
                     **{"message.max.bytes": 1000000, "message.timeout.ms": 20000})
        took = time.monotonic() - t0
        print("  5 x 200 KB produced (acks=1) in %.3f s" % took)
        self.assertLess(took, 20.0)
        self.assertEqual(sorted(r[2] for r in dr.ok), list(range(5)))
        msgs = harness.ck_read_all(self.bootstrap, big, timeout=TIMEOUT)
        self.assertEqual(sorted(m.value() for m in msgs), sorted(values))


# --- 2. Fetch long poll without a busy spin ---------------------------------------------

class FetchLongPollCpuTest(harness.BrokerTestCase):
    BROKER_NAME = "longpoll-cpu"

    def test_fetch_under_min_bytes_sleeps_until_max_wait(self):
        topic = "rr-longpoll-cpu"
        harness.create_topic(self.bootstrap, topic, partitions=1)
        values = [b"small-%d" % i for i in range(5)]
        produce(self.bootstrap, topic, values)
        time.sleep(0.5)  # the clients are gone; let the broker settle

        pid = self.broker.pid
        with connect(self.broker.port, timeout=30) as s:
            # Five small records there, min_bytes 1 MiB: the broker must wait
            # the whole max_wait (3 s) asleep, then answer with what it has.
            cpu0 = cpu_seconds(pid)
            t0 = time.monotonic()
            s.sendall(request(FETCH, 4, 21,
                              fetch_v4_body(topic, 0, 0, 3000, min_bytes=MIB, max_bytes=MIB)))
            corr, parts = parse_fetch(recv_frame(s, timeout=30), 4)
            waited = time.monotonic() - t0
            cpu = cpu_seconds(pid) - cpu0
        print("  fetch under min_bytes (max_wait_ms=3000): answered after %.3f s,"
              " broker CPU %.2f s meanwhile" % (waited, cpu))
        self.assertEqual(corr, 21)
        self.assertEqual(len(parts), 1)
        _t, _p, err, hw, records = parts[0]
        self.assertEqual((err, hw), (0, 5))
        for v in values:
            self.assertIn(v, records)
        self.assertGreaterEqual(waited, 2.0, "the fetch did not wait for max_wait_ms")
        self.assertLess(waited, 15.0)
        self.assertLess(cpu, 1.0, "the broker used %.2f s of CPU during a %.1f s long poll"
                        " (a busy spin)" % (cpu, waited))


# --- 3. fetch.max.bytes caps every response -----------------------------------------------

FETCH_MAX = 1048576
VALUE_SIZE = 10 * 1000
MESSAGES = 400
# librdkafka batches at most this many messages, so a batch is ~100 KB.
BATCH_MESSAGES = 10
# A batch of BATCH_MESSAGES values, with room for record and batch headers
# (also as a down-converted magic 1 message set).
BATCH_BOUND = BATCH_MESSAGES * (VALUE_SIZE + 100) + 100
OVERHEAD = 64 * 1024
RSS_GROWTH_LIMIT_KB = 50 * 1024


class FetchMaxBytesTest(harness.BrokerTestCase):
    BROKER_NAME = "fetch-max"
    BROKER_SETTINGS = {"fetch.max.bytes": FETCH_MAX}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.topic = "rr-fetch-max"
        harness.create_topic(cls.bootstrap, cls.topic, partitions=1)
        values = [(b"%06d-" % i) + b"v" * (VALUE_SIZE - 7) for i in range(MESSAGES)]
        cls.values = values
        produce(cls.bootstrap, cls.topic, values,
                **{"batch.num.messages": BATCH_MESSAGES, "compression.type": "none"})

    def test_v4_partition_listed_20_times_is_capped(self):
        rss_before = self.broker.rss_kb()
        body = fetch_body(4, self.topic, 0, 0, partition_max_bytes=4 * MIB, max_bytes=INT32_MAX,
                          times=20)
        with connect(self.broker.port, timeout=30) as s:
            s.sendall(request(FETCH, 4, 31, body))
            # Not reading yet: the broker holds the whole response while it
            # waits to write it.
            time.sleep(1.0)
            rss_holding = self.broker.rss_kb()
            (size,) = struct.unpack(">i", recv_exact(s, 4, timeout=30))
            self.assertLess(size, 2 * MIB, "a %d-byte Fetch response with fetch.max.bytes=%d"
                            % (size, FETCH_MAX))
            frame = recv_exact(s, size, timeout=30)
        corr, parts = parse_fetch(frame, 4)
        self.assertEqual(corr, 31)
        self.assertEqual(len(parts), 20)
        total = 0
        largest = 0
        for i, (t, p, err, hw, records) in enumerate(parts):
            self.assertEqual((t, p, err, hw), (self.topic, 0, 0, MESSAGES), "entry %d" % i)
            batches = record_batches(records)
            if records:
                self.assertTrue(batches, "entry %d has %d bytes and no whole batch" % (i, len(records)))
                self.assertEqual(batches[0][0], 0, "entry %d does not start at offset 0" % i)
                for (_b0, l0, _s0), (b1, _l1, _s1) in zip(batches, batches[1:]):
                    self.assertEqual(b1, l0 + 1, "entry %d: batches not contiguous" % i)
            total += len(records)
            largest = max([largest] + [b[2] for b in batches])
        print("  v4, one partition listed 20 times, max_bytes=INT32_MAX: response %d bytes,"
              " records %d bytes, largest batch %d bytes; broker RSS %d -> %d KiB"
              % (size, total, largest, rss_before, rss_holding))
        self.assertGreater(len(parts[0][4]), FETCH_MAX // 2, "the first entry should be filled")
        self.assertLessEqual(total, FETCH_MAX + largest,
                             "records past fetch.max.bytes plus one batch")
        self.assertLessEqual(size, FETCH_MAX + largest + OVERHEAD)
        self.assertLess(rss_holding - rss_before, RSS_GROWTH_LIMIT_KB,
                        "broker RSS grew from %d to %d KiB for one capped Fetch"
                        % (rss_before, rss_holding))

    def test_v2_without_max_bytes_is_capped(self):
        with connect(self.broker.port, timeout=30) as s:
            s.sendall(request(FETCH, 2, 41, fetch_body(2, self.topic, 0, 0, 8 * MIB)))
            frame = recv_frame(s, timeout=30)
        corr, parts = parse_fetch(frame, 2)
        self.assertEqual(corr, 41)
        self.assertEqual(len(parts), 1)
        t, p, err, hw, data = parts[0]
        self.assertEqual((t, p, err, hw), (self.topic, 0, 0, MESSAGES))
        offsets = message_set_offsets(data)
        print("  v2 (no max_bytes), partition_max_bytes=8 MiB: response %d bytes,"
              " %d messages" % (len(frame), len(offsets)))
        self.assertEqual(offsets, list(range(len(offsets))), "offsets not dense from 0")
        self.assertGreater(len(offsets), 0)
        self.assertIn(self.values[0], data)
        self.assertLess(len(offsets), MESSAGES, "the whole partition came back")
        self.assertGreater(len(data), FETCH_MAX // 2, "the answer should be filled")
        self.assertLessEqual(len(frame), FETCH_MAX + BATCH_BOUND + OVERHEAD,
                             "a %d-byte Fetch v2 response with fetch.max.bytes=%d"
                             % (len(frame), FETCH_MAX))


if __name__ == "__main__":
    harness.main()
