"""The Kafka wire protocol by hand, for the tests that send what no client
library sends (test_hostile, test_broker_behaviour, test_broker_configs,
test_review_regressions, test_consumer_groups): primitive encoders of the
classic and the compact (flexible, KIP-482) encodings, a response `Reader`,
request header v1/v2 framing with correlation ids, raw sockets that read whole
frames within a timeout, and `Connection`, one blocking connection that sends a
request and reads its answer. The request bodies a single script needs stay in
that script; those of several are here (ApiVersions v0, Fetch).

    with Connection(broker.port) as c:
        r = c.call(FETCH, 4, fetch_v4_body(topic, 0, 0, 500))
        r.take(">i")  # throttle

Every read is bounded by a timeout; a peer that closes early or sends an
implausible size is an AssertionError (a test failure)."""

import socket
import struct
import time

# Kafka's API keys of the raw requests of more than one script.
PRODUCE = 0
FETCH = 1
METADATA = 3
API_VERSIONS = 18

# The client id of `request()` unless told (the one test_hostile has always
# sent, so that every script's raw requests stay byte for byte what they were).
CLIENT_ID = b"sluice-it-hostile"
CLOSE_TIMEOUT_S = 10
MAX_FRAME = 64 << 20  # a larger response size is taken for garbage


# --- encoders ------------------------------------------------------------------------------

def uvarint(n):
    """An unsigned varint (compact lengths, tagged fields)."""
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def string(s):
    """STRING: int16 length, UTF-8."""
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def nullable_string(s):
    """NULLABLE_STRING: length -1 for None."""
    return struct.pack(">h", -1) if s is None else string(s)


def nullable_bytes(b):
    """NULLABLE_BYTES (BYTES when not None): int32 length, the bytes."""
    return struct.pack(">i", -1) if b is None else struct.pack(">i", len(b)) + b


def compact_string(s):
    """COMPACT_STRING: uvarint length + 1, UTF-8."""
    b = s.encode()
    return uvarint(len(b) + 1) + b


# --- decoders ------------------------------------------------------------------------------

def read_uvarint(buf, pos):
    """(value, position after it) of the unsigned varint at `pos`."""
    shift = 0
    n = 0
    while True:
        b = buf[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        if not b & 0x80:
            return n, pos
        shift += 7


def read_compact_string(buf, pos, errors="strict"):
    """(COMPACT_NULLABLE_STRING at `pos` or None, position after it)."""
    n, pos = read_uvarint(buf, pos)
    if n == 0:
        return None, pos
    return buf[pos:pos + n - 1].decode("utf-8", errors), pos + n - 1


def skip_tags(buf, pos):
    """The position after the tagged fields at `pos`."""
    n, pos = read_uvarint(buf, pos)
    for _ in range(n):
        _tag, pos = read_uvarint(buf, pos)
        size, pos = read_uvarint(buf, pos)
        pos += size
    return pos


class Reader:
    """Reads a response body field by field from the front. Text is decoded
    as UTF-8 with `errors` (a codecs error handler: "strict" raises, "replace"
    keeps a garbled string)."""

    def __init__(self, data, errors="strict"):
        self.data, self.pos = data, 0
        self.errors = errors

    def take(self, fmt):
        """One struct field: r.take(">i")."""
        v = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return v[0]

    def string(self):
        """A (nullable) STRING: None for length -1."""
        n = self.take(">h")
        if n < 0:
            return None
        s = self.data[self.pos:self.pos + n].decode("utf-8", self.errors)
        self.pos += n
        return s

    def bytes(self):
        """(NULLABLE_)BYTES: None for length -1."""
        n = self.take(">i")
        if n < 0:
            return None
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return bytes(b)

    # Flexible versions (KIP-482).
    def uvarint(self):
        n, self.pos = read_uvarint(self.data, self.pos)
        return n

    def compact_string(self):
        s, self.pos = read_compact_string(self.data, self.pos, self.errors)
        return s

    def skip_tags(self):
        self.pos = skip_tags(self.data, self.pos)


# --- frames and raw sockets ----------------------------------------------------------------

def request(api_key, version, corr, body=b"", flexible=False, client_id=CLIENT_ID):
    """A frame: size, request header v1 (v2 if flexible), body."""
    hdr = struct.pack(">hhih", api_key, version, corr, len(client_id)) + client_id
    if flexible:
        hdr += b"\x00"  # no tagged fields
    payload = hdr + body
    return struct.pack(">i", len(payload)) + payload


def connect(port, timeout=10, host="127.0.0.1"):
    s = socket.create_connection((host, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exact(s, n, timeout=10):
    s.settimeout(timeout)
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise AssertionError("connection closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return bytes(buf)


def recv_frame(s, timeout=10):
    """One response frame, without its size prefix."""
    (size,) = struct.unpack(">i", recv_exact(s, 4, timeout))
    if size < 4 or size > MAX_FRAME:
        raise AssertionError("implausible response size %d" % size)
    return recv_exact(s, size, timeout)


def expect_closed(s, timeout=CLOSE_TIMEOUT_S):
    """Waits until the peer closes; returns what it sent before closing.
    Fails if the connection is still open after `timeout`."""
    got = bytearray()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        except (ConnectionResetError, BrokenPipeError):
            return bytes(got)
        if not chunk:
            return bytes(got)
        got += chunk
    raise AssertionError("the broker kept the connection open for %d s (received %d bytes)"
                         % (timeout, len(got)))


def send_ignoring_reset(s, data):
    try:
        s.sendall(data)
    except (ConnectionResetError, BrokenPipeError):
        pass  # the broker may close before reading all of it


class Connection:
    """One blocking connection (header v1, v2 for flexible versions): each
    request takes the next correlation id (from `corr` + 1) unless told one,
    and its answer must come whole within `timeout` and carry that id.

        with Connection(port, timeout=30) as c:
            r = c.call(api_key, version, body)   # a Reader after the header
    """

    def __init__(self, port, timeout=10, client_id=CLIENT_ID, host="127.0.0.1", corr=0,
                 errors="strict"):
        self.sock = connect(port, timeout=timeout, host=host)
        self.timeout = timeout
        self.client_id = client_id
        self.corr = corr
        self.errors = errors  # for the Readers of the answers

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, api_key, version, body=b"", flexible=False, corr=None, client_id=None):
        """Sends one request; returns its correlation id."""
        if corr is None:
            self.corr += 1
            corr = self.corr
        self.sock.sendall(request(api_key, version, corr, body, flexible=flexible,
                                  client_id=self.client_id if client_id is None else client_id))
        return corr

    def receive(self, corr, flexible=False):
        """The next answer, which must be to `corr`: a Reader of its body
        (response header v0, v1 if flexible, read off)."""
        frame = recv_frame(self.sock, self.timeout)
        (got,) = struct.unpack_from(">i", frame)
        if got != corr:
            raise AssertionError("correlation id %d, expected %d" % (got, corr))
        r = Reader(frame[4:], self.errors)
        if flexible:
            r.skip_tags()  # response header v1
        return r

    def call(self, api_key, version, body=b"", flexible=False, corr=None):
        """send() then receive(): a Reader of the answer's body."""
        return self.receive(self.send(api_key, version, body, flexible=flexible, corr=corr),
                            flexible=flexible)


# --- requests of more than one script ------------------------------------------------------

def parse_api_versions_v0(frame):
    """(correlation id, error code, {api_key: (min, max)}) of a v0 response."""
    corr, err, n = struct.unpack_from(">ihi", frame, 0)
    pos = 10
    apis = {}
    if n < 0 or n > 1000:
        raise AssertionError("api_keys count %d" % n)
    for _ in range(n):
        k, lo, hi = struct.unpack_from(">hhh", frame, pos)
        pos += 6
        apis[k] = (lo, hi)
    if pos != len(frame):
        raise AssertionError("%d bytes left after the v0 ApiVersions response" % (len(frame) - pos))
    return corr, err, apis


def fetch_body(version, topic, partition, offset, partition_max_bytes, max_wait_ms=0,
               min_bytes=1, max_bytes=None, times=1):
    """Fetch v0-4 naming (topic, partition) `times` times in one topic entry;
    max_bytes (v3+) defaults to partition_max_bytes, v4 reads uncommitted."""
    body = struct.pack(">iii", -1, max_wait_ms, min_bytes)
    if version >= 3:
        body += struct.pack(">i", partition_max_bytes if max_bytes is None else max_bytes)
    if version >= 4:
        body += struct.pack(">b", 0)  # isolation level
    entry = struct.pack(">iqi", partition, offset, partition_max_bytes)
    return body + struct.pack(">i", 1) + string(topic) + struct.pack(">i", times) + entry * times


def fetch_v4_body(topic, partition, offset, max_wait_ms, min_bytes=1, max_bytes=1 << 20):
    """Fetch v4 of one partition (max_bytes also its partition_max_bytes)."""
    return fetch_body(4, topic, partition, offset, max_bytes, max_wait_ms, min_bytes)


def parse_fetch(frame, version):
    """(correlation id, [(topic, partition, error, high watermark, records
    bytes)]) of a Fetch v0-4 response."""
    (corr,) = struct.unpack_from(">i", frame, 0)
    pos = 4
    if version >= 1:
        pos += 4  # throttle
    (n_topics,) = struct.unpack_from(">i", frame, pos)
    pos += 4
    out = []
    for _ in range(n_topics):
        (tlen,) = struct.unpack_from(">h", frame, pos)
        pos += 2
        topic = frame[pos:pos + tlen].decode()
        pos += tlen
        (n_parts,) = struct.unpack_from(">i", frame, pos)
        pos += 4
        for _ in range(n_parts):
            part, err, hw = struct.unpack_from(">ihq", frame, pos)
            pos += 14
            if version >= 4:
                _lso, n_aborted = struct.unpack_from(">qi", frame, pos)
                pos += 12 + max(0, n_aborted) * 16
            (rlen,) = struct.unpack_from(">i", frame, pos)
            pos += 4
            records = b"" if rlen < 0 else frame[pos:pos + rlen]
            pos += max(0, rlen)
            out.append((topic, part, err, hw, records))
    if pos != len(frame):
        raise AssertionError("%d bytes left after the Fetch v%d response"
                             % (len(frame) - pos, version))
    return corr, out
