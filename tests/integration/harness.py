"""A small library for the integration tests: starts and stops a real `sluice`
broker and runs the test scripts.

Every broker runs in its own temporary directory with its own free port. It is
stopped by PID (SIGTERM, then SIGKILL after a bound), and every broker still
running when the interpreter exits is killed (atexit, and the kernel's
parent-death signal if the interpreter itself is killed). The broker's stderr
and stdout go to a log file whose tail is printed when a test fails.

Command line of every test script (see README.md):

    /usr/bin/python3 test_X.py [--sluice PATH] [--keep] [--smp N] [unittest args]

PATH defaults to $SLUICE_BIN, then to build/release/src/app/sluice.
"""

import argparse
import atexit
import ctypes
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_SLUICE = os.path.join(REPO, "build", "release", "src", "app", "sluice")

# Exit status of a script all of whose tests were skipped (a client tool is
# missing); CMake passes it to ctest as SKIP_RETURN_CODE.
SKIP_EXIT = 77

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 20.0
LOG_TAIL_LINES = 150

# Set by main() from the command line.
CONFIG = {
    "sluice": os.environ.get("SLUICE_BIN") or DEFAULT_SLUICE,
    "keep": bool(os.environ.get("SLUICE_IT_KEEP")),
    "smp": os.environ.get("SLUICE_IT_SMP", "2"),
}

_all_brokers = []  # every Broker made by this process, in order
_temp_dirs = []


def free_port():
    """A port nobody listens on right now, below Linux's ephemeral range
    (32768 and up): a port the kernel handed out for port 0 is soon handed to
    the outgoing connections of the tests running beside this one, and a
    broker could then not listen on it."""
    for _ in range(100):
        port = random.randint(20000, 32767)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_temp_dir(prefix="sluice-it-"):
    d = tempfile.mkdtemp(prefix=prefix)
    _temp_dirs.append(d)
    return d


def raise_fd_limit(wanted=16384):
    """Raises this process's soft RLIMIT_NOFILE (the broker inherits it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


_libc = None


def _die_with_parent():
    """preexec_fn: the child gets SIGKILL when this interpreter dies, even by
    SIGKILL (ctest's timeout), so no broker outlives its test."""
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except Exception:  # best effort; atexit still stops it
        pass


def port_accepts(port, host="127.0.0.1", timeout=0.5):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class BrokerError(AssertionError):
    """The broker did not start or stop as it must (a test failure)."""


class _PortTaken(Exception):
    pass


class Broker:
    """One sluice broker process on a data directory that survives restarts.

    b = Broker(); b.start(); ... b.bootstrap ...; b.stop()   # SIGTERM, expect exit 0
    b.kill9(); b.start()                                     # crash and recover
    """

    def __init__(self, sluice=None, settings=None, smp=None, port=None,
                 data_dir=None, name="broker"):
        self.sluice = sluice or CONFIG["sluice"]
        self.name = name
        self.root = make_temp_dir(prefix="sluice-it-%s-" % name)
        self.data_dir = data_dir or os.path.join(self.root, "data")
        os.makedirs(self.data_dir, exist_ok=True)
        self.log_path = os.path.join(self.root, "broker.log")
        self.port = port or free_port()
        self.smp = CONFIG["smp"] if smp is None else smp
        self.settings = {
            "node.id": "1",
            "listeners": "PLAINTEXT://127.0.0.1:%d" % self.port,
            "log.dirs": self.data_dir,
            "num.partitions": "1",
            "auto.create.topics.enable": "true",
        }
        if settings:
            self.settings.update({k: str(v) for k, v in settings.items()})
        self.proc = None
        self.starts = 0
        self.exit_codes = []  # one per finished run, in order
        self._log_file = None
        _all_brokers.append(self)

    # --- addresses and state -------------------------------------------------

    @property
    def bootstrap(self):
        return "127.0.0.1:%d" % self.port

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def command(self):
        if not (os.path.isfile(self.sluice) and os.access(self.sluice, os.X_OK)):
            raise BrokerError("no sluice binary at %s (build it, or pass --sluice PATH)"
                              % self.sluice)
        cmd = [self.sluice, "broker"]
        for k, v in self.settings.items():
            cmd += ["--set", "%s=%s" % (k, v)]
        if self.smp:
            cmd += ["--smp", str(self.smp)]
        return cmd

    # --- lifecycle -----------------------------------------------------------

    def start(self, timeout=START_TIMEOUT_S):
        """Starts the broker (again, on the same data directory and port) and
        waits until its port accepts connections: bounded by `timeout`.

        Ready means: the process is alive, the port accepts, and the log of
        this run has its "listening on PLAINTEXT://127.0.0.1:<port>" line (or,
        without that line, the port has accepted for 3 s: the line is checked
        by test_restart, not here). On the first start only, a port someone
        else took in the meantime (EADDRINUSE) is replaced by a fresh one."""
        for attempt in range(3):
            try:
                return self._start_once(timeout)
            except _PortTaken:
                if self.starts > 1 or attempt == 2:
                    raise BrokerError("%s: port %d is in use\n%s" % (self.name, self.port, self.log_tail()))
                self.port = free_port()
                self.settings["listeners"] = "PLAINTEXT://127.0.0.1:%d" % self.port
                self.starts = 0
        raise AssertionError("unreachable")

    def _start_once(self, timeout):
        if self.alive():
            raise BrokerError("%s is already running (pid %d)" % (self.name, self.pid))
        raise_fd_limit()
        cmd = self.command()
        self.starts += 1
        self._log_file = open(self.log_path, "ab")
        self._log_file.write(("\n===== start #%d: %s\n" % (self.starts, " ".join(cmd))).encode())
        self._log_file.flush()
        log_from = self._log_file.tell()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._log_file,
                                     stderr=subprocess.STDOUT, cwd=self.root,
                                     preexec_fn=_die_with_parent)
        ready_line = "listening on PLAINTEXT://127.0.0.1:%d" % self.port
        deadline = time.monotonic() + timeout
        accepting_since = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                this_run = self._log_since(log_from)
                rc = self._reap()
                if re.search(r"(?i)address (already )?in use|EADDRINUSE", this_run):
                    raise _PortTaken()
                raise BrokerError("%s exited with status %s while starting\n%s"
                                  % (self.name, rc, self.log_tail()))
            if port_accepts(self.port):
                now = time.monotonic()
                accepting_since = accepting_since or now
                if ready_line in self._log_since(log_from) or now - accepting_since >= 3.0:
                    if self.proc.poll() is None:
                        return self
            else:
                accepting_since = None
            time.sleep(0.05)
        self.kill9()
        raise BrokerError("%s did not accept connections on port %d within %.0f s\n%s"
                          % (self.name, self.port, timeout, self.log_tail()))

    def _log_since(self, offset):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self, timeout=STOP_TIMEOUT_S, expect_clean=True):
        """SIGTERM, wait up to `timeout`, then SIGKILL. Returns the exit status;
        with expect_clean, anything but a prompt exit 0 raises BrokerError."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill9()
                if expect_clean:
                    raise BrokerError("%s did not exit within %.0f s of SIGTERM (killed)\n%s"
                                      % (self.name, timeout, self.log_tail()))
                return self.exit_codes[-1]
        rc = self._reap()
        if expect_clean and rc != 0:
            raise BrokerError("%s exited with status %s after SIGTERM (expected 0)\n%s"
                              % (self.name, rc, self.log_tail()))
        return rc

    def kill9(self):
        """kill -9 by PID, and reap it."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pass
        return self._reap()

    def restart(self, timeout=START_TIMEOUT_S):
        self.stop()
        return self.start(timeout=timeout)

    def _reap(self):
        rc = self.proc.poll() if self.proc else None
        if self.proc is not None:
            self.exit_codes.append(rc)
            with open(self.log_path, "ab") as f:
                f.write(("\n===== run #%d ended: exit status %s\n" % (self.starts, rc)).encode())
            self.proc = None
        if self._log_file:
            self._log_file.close()
            self._log_file = None
        return rc

    def cleanup(self):
        """Stops the broker without judging it (used at exit)."""
        if self.alive():
            self.stop(timeout=5, expect_clean=False)

    # --- inspection ----------------------------------------------------------

    def rss_kb(self):
        """VmRSS of the running broker in KiB, from /proc/<pid>/status."""
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise BrokerError("no VmRSS in /proc/%d/status" % self.pid)

    def open_fds(self):
        try:
            return len(os.listdir("/proc/%d/fd" % self.pid))
        except OSError:
            return -1

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines=LOG_TAIL_LINES):
        text = self.log_text().splitlines()
        head = "----- %s log (%s), last %d of %d lines -----" % (
            self.name, self.log_path, min(lines, len(text)), len(text))
        return "\n".join([head] + text[-lines:] + ["----- end of %s log -----" % self.name])

    def run_log(self, n=None):
        """The log of start number n (1-based; default the latest)."""
        n = n or self.starts
        text = self.log_text()
        begin = text.find("\n===== start #%d:" % n)
        if begin < 0:
            return ""
        end = text.find("\n===== start #%d:" % (n + 1), begin + 1)
        return text[begin:] if end < 0 else text[begin:end]

    def log_lines_matching(self, pattern):
        rx = re.compile(pattern)
        return [l for l in self.log_text().splitlines() if rx.search(l)]


def all_brokers():
    return list(_all_brokers)


def _cleanup_at_exit():
    for b in _all_brokers:
        try:
            b.cleanup()
        except Exception as e:  # keep cleaning the others
            sys.stderr.write("cleanup of %s failed: %s\n" % (b.name, e))
    if CONFIG["keep"]:
        if _temp_dirs:
            sys.stderr.write("kept: %s\n" % " ".join(_temp_dirs))
        return
    for d in _temp_dirs:
        shutil.rmtree(d, ignore_errors=True)


atexit.register(_cleanup_at_exit)


def _on_signal(signum, _frame):
    # ctest or a user stops the test: run the atexit cleanup.
    sys.exit(128 + signum)


# --- helpers shared by the tests ---------------------------------------------

def wait_until(predicate, timeout, interval=0.1, what="condition"):
    """Polls predicate() until it is truthy; bounded by timeout. Returns its value."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = predicate()
            if v:
                return v
        except AssertionError:
            raise  # a failed check inside the predicate is final
        except Exception as e:  # remember why it is not there yet
            last_exc = e
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1f s waiting for %s%s" % (
                timeout, what, (" (last error: %r)" % last_exc) if last_exc else ""))
        time.sleep(interval)


def require_tool(name):
    path = shutil.which(name)
    if not path:
        raise unittest.SkipTest("%s is not installed (scripts/install-deps.sh installs it)" % name)
    return path


def create_topic(bootstrap, name, partitions=1, config=None, timeout=30):
    """Creates a topic with confluent_kafka's AdminClient and waits until the
    metadata shows all its partitions with a leader."""
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": bootstrap})
    fs = admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1,
                                       config=config or {})], request_timeout=timeout)
    fs[name].result(timeout=timeout)

    def ready():
        md = admin.list_topics(topic=name, timeout=5)
        t = md.topics.get(name)
        if t is None or t.error is not None or len(t.partitions) != partitions:
            return False
        return all(p.leader >= 0 and p.error is None for p in t.partitions.values())

    wait_until(ready, timeout, what="topic %s with %d partitions in metadata" % (name, partitions))


class BrokerTestCase(unittest.TestCase):
    """A test class sharing one broker: setUpClass starts Broker(name=BROKER_NAME,
    settings=BROKER_SETTINGS) as cls.broker (cls.bootstrap its address, and with
    BROKER_ADMIN a confluent_kafka AdminClient as cls.admin), tearDownClass stops
    it, and every test fails if the broker died during it. Subclasses that add
    setup or teardown call super()."""

    BROKER_NAME = "broker"
    BROKER_SETTINGS = None
    BROKER_ADMIN = False

    @classmethod
    def setUpClass(cls):
        cls.broker = Broker(name=cls.BROKER_NAME, settings=cls.BROKER_SETTINGS).start()
        cls.bootstrap = cls.broker.bootstrap
        if cls.BROKER_ADMIN:
            from confluent_kafka.admin import AdminClient
            cls.admin = AdminClient({"bootstrap.servers": cls.bootstrap})

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()

    def tearDown(self):
        self.assertTrue(self.broker.alive(), "the broker died during the test")


# --- confluent_kafka helpers (several tests read back with it) ------------------

def ck_consumer(bootstrap, **extra):
    """A confluent_kafka Consumer for assign() only: the library insists on a
    group.id, but nothing is committed and no group is joined."""
    from confluent_kafka import Consumer
    conf = {
        "bootstrap.servers": bootstrap,
        "group.id": "sluice-it-assign-only",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": False,
        "fetch.wait.max.ms": 100,
        "error_cb": lambda err: None,  # transient errors are judged by the results
    }
    conf.update(extra)
    return Consumer(conf)


def ck_consume(consumer, count, timeout, settle=0.0):
    """Consumes until `count` messages arrived (bounded by `timeout`), then
    keeps polling for `settle` seconds to catch any extra message. Raises on a
    message error other than partition EOF."""
    from confluent_kafka import KafkaError, KafkaException
    msgs = []
    deadline = time.monotonic() + timeout
    while len(msgs) < count and time.monotonic() < deadline:
        for m in consumer.consume(num_messages=min(1000, max(1, count - len(msgs))), timeout=0.2):
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise KafkaException(m.error())
            msgs.append(m)
    settle_end = time.monotonic() + settle
    while time.monotonic() < settle_end:
        for m in consumer.consume(num_messages=1000, timeout=0.2):
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise KafkaException(m.error())
            msgs.append(m)
    return msgs


def ck_partitions(bootstrap, topic, timeout=10):
    from confluent_kafka.admin import AdminClient
    admin = AdminClient({"bootstrap.servers": bootstrap})
    md = admin.list_topics(topic=topic, timeout=timeout)
    t = md.topics[topic]
    if t.error is not None:
        raise AssertionError("metadata of %s: %s" % (topic, t.error))
    return sorted(t.partitions)


def ck_read_all(bootstrap, topic, timeout=60):
    """Every message of every partition of `topic`, from the log start to the
    high watermark (ListOffsets), as confluent_kafka Messages."""
    from confluent_kafka import OFFSET_BEGINNING, TopicPartition
    parts = ck_partitions(bootstrap, topic)
    c = ck_consumer(bootstrap)
    try:
        highs = {}
        lows = {}
        for p in parts:
            lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            lows[p], highs[p] = lo, hi
        want = sum(highs[p] - lows[p] for p in parts)
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        msgs = ck_consume(c, want, timeout, settle=0.3)
        if len(msgs) != want:
            raise AssertionError("%s: read %d messages, the watermarks say %d (%s)" % (
                topic, len(msgs), want,
                {p: (lows[p], highs[p]) for p in parts}))
        return msgs
    finally:
        c.close()


# --- running a test script -----------------------------------------------------

class _Result(unittest.TextTestResult):
    """Prints the log of every broker a failing test used."""

    def startTest(self, test):
        self._first_broker = len(_all_brokers)
        super().startTest(test)

    def _dump_logs(self, test):
        first = getattr(self, "_first_broker", 0)
        used = [b for i, b in enumerate(_all_brokers) if i >= first or b.alive()]
        if not used:
            used = list(_all_brokers)
        for b in used:
            self.stream.write("\n%s\n" % b.log_tail())
        self.stream.flush()

    def addFailure(self, test, err):
        super().addFailure(test, err)
        if not isinstance(err[1], BrokerError):  # that one carries the log already
            self._dump_logs(test)

    def addError(self, test, err):
        super().addError(test, err)
        if not isinstance(err[1], BrokerError):
            self._dump_logs(test)


def main(extra_args=()):
    """Entry point of every test script. extra_args: (flag, default) pairs of
    script-specific options, stored in CONFIG under the flag's name
    ("--rdkafka-roundtrip" -> CONFIG["rdkafka_roundtrip"])."""
    ap = argparse.ArgumentParser(add_help=False)
    for flag, default in extra_args:
        ap.add_argument(flag, default=default)
    ap.add_argument("--sluice", default=CONFIG["sluice"])
    ap.add_argument("--keep", action="store_true", default=CONFIG["keep"],
                    help="keep the temporary directories (data, logs)")
    ap.add_argument("--smp", default=CONFIG["smp"],
                    help="--smp passed to the broker ('' for the broker's default)")
    args, rest = ap.parse_known_args()
    for flag, _ in extra_args:
        key = flag.lstrip("-").replace("-", "_")
        CONFIG[key] = getattr(args, key)
    CONFIG["sluice"] = os.path.abspath(args.sluice)
    CONFIG["keep"] = args.keep
    CONFIG["smp"] = args.smp
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, _on_signal)
    sys.stdout.reconfigure(line_buffering=True)
    runner = unittest.TextTestRunner(resultclass=_Result, verbosity=2, stream=sys.stdout)
    prog = unittest.main(module="__main__", argv=[sys.argv[0]] + rest, testRunner=runner,
                         exit=False)
    r = prog.result
    skipped_tests = [t for t, _ in r.skipped if isinstance(t, unittest.TestCase)]
    if r.wasSuccessful() and r.skipped and r.testsRun == len(skipped_tests):
        sys.exit(SKIP_EXIT)  # nothing ran: a client tool is missing
    sys.exit(0 if r.wasSuccessful() else 1)
