#!/usr/bin/python3
"""Whole-system benchmark: Sluice against librdkafka's mock cluster.

Starts a Sluice broker per --smp value (default 1; fresh data directory under
/tmp, a free port) and bench/mock_cluster (librdkafka's in-memory mock broker,
in a process of its own), then runs the same `sluice bench` commands, with
the same client settings, against each: for 100-byte and 1 KiB values, 1 and
6 partitions, acks=1 and acks=all,

  produce  N records; records/s and MB/s              (--repeat times, median)
  consume  N records; records/s and MB/s              (--repeat times, median)
  latency  R records/s for D seconds; end-to-end p50/p99/p99.9/max

and the CPU per record each run cost: the broker's from /proc/<pid>/stat
(utime + stime of the whole broker process), the client's as `sluice bench`
reports it, and the whole machine's from /proc/stat. Next to each produce
run it measures the disk alone: the same number of payload bytes written
with pwrite(2) in 1 MiB pieces to a fresh file in the scratch directory
(reserving space ahead as a segment does), then one fdatasync(2), the least
work any broker that writes its log to files must do (into page cache memory
just used and freed, as the brokers' runs get). The mock keeps records in
memory, so at acks=all Sluice / disk says more than Sluice / mock, and the
machine's CPU for that write bounds the Sluice / mock a broker can reach on
cores it shares with the client ("within reach" in the report). The
fdatasync's own rate (the payload over its time) is the disk's rate when it
writes back everything at once: an acks=all target above it asks for more
than the disk takes, and the report marks it. Prints
markdown tables with the ratios Sluice / mock and, with --out, writes them
to a file (--json: every result).

  /usr/bin/python3 bench/broker_bench.py [--build build/release] [--smp 1,2]
      [--repeat 3] [--out FILE] [--json FILE] [--quick]
      [--modes produce,consume,latency] [--producers N]
      [--broker-cpus 0-3 --client-cpus 8-15] [--baseline OTHER_BUILD]

--broker-cpus and --client-cpus pin every broker (Sluice and the mock alike)
and every `sluice bench` client to CPU sets of their own (--mock-cpus gives
the mock a set apart). On two cores they share whatever they are given; on a
larger machine they show what each side costs when it does not wait for the
other's core. --modes picks what runs (the latency runs alone, say), and
--producers gives each produce run's client more producer threads (for
--smp scaling).

--baseline runs a second Sluice per --smp value from another build directory
(named baseline-smpN in the tables), in the same run and interleaved with the
first: an A/B of two builds on the same machine drift. The clients are this
build's `sluice bench` for both.

The mock keeps only the last 5 MiB of each partition, so consume runs read a
topic holding about 4 MB per partition, from both brokers, rewinding each
partition to its first offset after its last record until N records are read
(`sluice bench consume --rewind`). Sluice's topics are deleted after each run
(`sluice topic delete`), so that no
run writes behind the writeback of the ones before it. Every process started
here is stopped by its PID at the end, whatever happens. Each run starts once
no broker is busy any more (at most 20 s), so a broker still working off the
last run's backlog does not share the CPUs with the next. About 4 minutes with
the defaults on 2 cores (4.0 measured), about 7 with --smp 1,2.
"""

import argparse
import ctypes
import datetime
import json
import os
import platform
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CLK_TCK = os.sysconf("SC_CLK_TCK")
# Bytes of payload per partition of a consume topic: under the mock's 5 MiB
# per partition with the batches' overhead.
CONSUME_WINDOW_BYTES = 4_000_000


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def cpu_ns(pid):
    """utime + stime of every thread of `pid` so far, in ns (None once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except FileNotFoundError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) * 1_000_000_000 // CLK_TCK


def machine_cpu():
    """(busy, elapsed) CPU time of the whole machine so far, in ns summed over
    its cores, from /proc/stat. Busy is user, nice, system, irq and softirq
    time: what the processes and the kernel did, the brokers' writeback
    included; idle, iowait and the host's steal are not."""
    with open("/proc/stat") as f:
        user, nice, system, idle, iowait, irq, softirq, steal = (
            int(x) for x in f.readline().split()[1:9])
    busy = user + nice + system + irq + softirq
    elapsed = busy + idle + iowait + steal
    return busy * 1_000_000_000 // CLK_TCK, elapsed * 1_000_000_000 // CLK_TCK


def parse_cpus(option, text):
    """'0-3,8' -> {0, 1, 2, 3, 8}; None for an empty text (no pinning).

    Exits with a message naming `option` for a malformed list or CPUs this
    process may not run on."""
    if not text:
        return None
    cpus = set()
    try:
        for part in text.split(","):
            first, _, last = part.partition("-")
            cpus.update(range(int(first), int(last or first) + 1))
    except ValueError:
        sys.exit(f"broker_bench: {option} {text!r}: expected CPU numbers and ranges, e.g. 0-3,8")
    unavailable = cpus - os.sched_getaffinity(0)
    if unavailable:
        sys.exit(f"broker_bench: {option} {text}: CPUs {sorted(unavailable)} are not available "
                 f"here (available: {sorted(os.sched_getaffinity(0))})")
    return cpus


def pinned_to(cpus):
    """A preexec_fn that runs the child on `cpus` only (None: anywhere)."""
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc, name, grace=10.0):
    """SIGTERM, then SIGKILL after `grace` seconds; by PID only."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        log(f"{name} (pid {proc.pid}) ignored SIGTERM for {grace:.0f} s: SIGKILL")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=grace)
    except ProcessLookupError:
        pass


class Broker:
    name = ""
    pid = 0
    bootstrap = ""

    def create_topic(self, topic, partitions):
        """True if `sluice bench` should create the topic itself (CreateTopics)."""
        return True

    def delete_topic(self, args, topic):
        pass

    def stop(self):
        pass


class Sluice(Broker):
    def __init__(self, binary, smp, workdir, cpus=None, settings=(), name="sluice"):
        self.name = f"{name}-smp{smp}"
        self.data = tempfile.mkdtemp(prefix="sluice-data-", dir=workdir)
        self.log_path = os.path.join(workdir, f"{self.name}.log")
        self.proc = None
        for attempt in range(5):
            port = free_port()
            self.bootstrap = f"127.0.0.1:{port}"
            logf = open(self.log_path, "w")
            self.proc = subprocess.Popen(
                [binary, "broker",
                 "--set", f"listeners=PLAINTEXT://{self.bootstrap}",
                 "--set", f"log.dirs={self.data}",
                 "--set", "num.partitions=1",
                 "--smp", str(smp)]
                + [arg for setting in settings for arg in ("--set", setting)],
                stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                preexec_fn=pinned_to(cpus))
            logf.close()
            self.pid = self.proc.pid
            # Ready once it says so: a connect alone could reach another
            # process that took the port meanwhile.
            deadline = time.monotonic() + 20
            started = False
            while time.monotonic() < deadline and self.proc.poll() is None:
                with open(self.log_path) as f:
                    text = f.read()
                if "started with" in text:
                    started = True
                    break
                time.sleep(0.05)
            if started:
                return
            stop_process(self.proc, self.name)
            log(f"{self.name}: did not start on {self.bootstrap} (attempt {attempt + 1}):\n"
                + open(self.log_path).read()[-2000:])
        raise RuntimeError(f"{self.name} would not start")

    def delete_topic(self, args, topic):
        # Deleting a run's records drops their dirty pages too: otherwise
        # every run writes behind the writeback of the runs before it, and a
        # run's result depends on its place in the matrix.
        subprocess.run([args.sluice, "topic", "delete", topic, "--if-exists",
                        "--brokers", self.bootstrap, "--timeout", "20"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)

    def stop(self):
        stop_process(self.proc, self.name)


class Mock(Broker):
    def __init__(self, binary, workdir, cpus=None):
        self.name = "mock"
        self.log_path = os.path.join(workdir, "mock.log")
        logf = open(self.log_path, "w")
        self.proc = subprocess.Popen([binary], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=logf, text=True, bufsize=1,
                                     preexec_fn=pinned_to(cpus))
        logf.close()
        self.pid = self.proc.pid
        self.bootstrap = self._read_line(30)
        if not self.bootstrap:
            self.stop()
            raise RuntimeError("mock_cluster printed no bootstrap servers")

    def _read_line(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                return self.proc.stdout.readline().strip()
            if self.proc.poll() is not None:
                return ""
        return ""

    def create_topic(self, topic, partitions):
        # The mock in this librdkafka does not answer CreateTopics usefully
        # (no controller): it creates topics through its own API.
        self.proc.stdin.write(f"topic {topic} {partitions}\n")
        self.proc.stdin.flush()
        answer = self._read_line(10)
        if answer != "ok":
            raise RuntimeError(f"mock_cluster: topic {topic}: {answer!r}")
        return False

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()  # mock_cluster ends when stdin closes
                self.proc.wait(timeout=10)
            except (subprocess.TimeoutExpired, BrokenPipeError, OSError):
                pass
        stop_process(self.proc, self.name)


def dirty_kb():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("Dirty:"):
                return int(line.split()[1])
    return -1


LIBC = ctypes.CDLL(None, use_errno=True)
FALLOC_FL_KEEP_SIZE = 1
# What a growing Sluice segment reserves past its end (storage/segment.cc).
MAX_RESERVATION_AHEAD = 4 << 20


def disk_write(workdir, payload_bytes):
    """MB/s of writing payload_bytes to a fresh file and fdatasync-ing it once,
    and the machine's CPU time per byte for each of the two steps."""
    piece = b"\xa5" * (1 << 20)
    path = os.path.join(workdir, "disk-baseline")
    # Not while the brokers' last run is still being written back.
    os.sync()
    # Twice: the first time unsynced and deleted at once, so that the timed
    # writes get the page cache pages it frees. Some VMs (the 2-core one
    # here) hand free guest memory back to the host, and the first write into
    # such memory costs far more: 1 GB written with dd took 2.06 s of system
    # time, and 0.16 s each of the next four times. The brokers' runs reuse
    # the memory their deleted topics free; the baseline must too.
    for timed in (False, True):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            started = time.monotonic()
            cpu_started = machine_cpu()[0]
            written = reserved = 0
            while written < payload_bytes:
                n = min(len(piece), payload_bytes - written)
                if written + n > reserved:
                    # As a segment does: ext4 then maps the blocks in one go
                    # instead of at each 4 KiB a write reaches.
                    until = written + n + min(written + n, MAX_RESERVATION_AHEAD)
                    LIBC.fallocate(fd, FALLOC_FL_KEEP_SIZE, ctypes.c_long(reserved),
                                   ctypes.c_long(until - reserved))
                    reserved = until
                os.pwrite(fd, piece[:n] if n < len(piece) else piece, written)
                written += n
            cpu_written = machine_cpu()[0]
            written_at = time.monotonic()
            if timed:
                os.fdatasync(fd)
            cpu_synced = machine_cpu()[0]
            finished = time.monotonic()
            seconds = finished - started
            sync_seconds = finished - written_at
        finally:
            os.close(fd)
            os.unlink(path)
    # The fdatasync alone writes everything back in one go, as fast as this
    # disk takes buffered writes: no broker that makes its log durable
    # before it answers can go faster for long.
    return {"mode": "disk", "broker": "disk", "mb_per_s": payload_bytes / seconds / 1e6,
            "records_per_s": 0, "seconds": seconds,
            "writeback_mb_per_s": payload_bytes / max(sync_seconds, 1e-9) / 1e6,
            "write_cpu_ns_per_byte": (cpu_written - cpu_started) / payload_bytes,
            "sync_cpu_ns_per_byte": (cpu_synced - cpu_written) / payload_bytes}


def describe(r):
    """One line for people about a `sluice bench` summary."""
    mode, label = r["mode"], r["label"]
    if mode == "produce":
        return (f"produce {label}: {r['delivered']} x {r['size']} B, {r['partitions']} "
                f"partition(s), acks={r['acks']}: {r['records_per_s']:.0f} records/s, "
                f"{r['mb_per_s']:.1f} MB/s ({r['seconds']:.3f} s)")
    if mode == "consume":
        return (f"consume {label}: {r['consumed']} records ({r['bytes']} bytes; a window of "
                f"{r['window']} read with {r['seeks']} seeks back), {r['partitions']} "
                f"partition(s): {r['records_per_s']:.0f} records/s, {r['mb_per_s']:.1f} MB/s "
                f"({r['seconds']:.3f} s)")
    us = {k: r[k + "_ms"] * 1000 for k in ("p50", "p99", "p999", "max")}
    return (f"latency {label}: {r['rate']} records/s x {r['duration_s']:.1f} s, {r['size']} B, "
            f"{r['partitions']} partition(s), acks={r['acks']}: p50 {us['p50']:.0f} us, "
            f"p99 {us['p99']:.0f} us, p99.9 {us['p999']:.0f} us, max {us['max']:.0f} us "
            f"({r['measured']} measured, {r['consumed']}/{r['produced']} consumed)")


def wait_quiet(brokers, limit_s=20.0):
    """Waits (at most limit_s) until no broker uses more than 5% of a core.

    A broker can stay busy after a run: the mock, swamped by a latency run,
    works through its backlog for seconds. The next run, of whichever broker,
    would share the CPUs with it."""
    window_s = 0.4
    deadline = time.monotonic() + limit_s
    while True:
        before = [cpu_ns(b.pid) for b in brokers]
        time.sleep(window_s)
        after = [cpu_ns(b.pid) for b in brokers]
        busy = [b.name for b, was, now in zip(brokers, before, after)
                if was is not None and now is not None and now - was > 0.05 * window_s * 1e9]
        if not busy:
            return
        if time.monotonic() > deadline:
            log(f"  still busy after {limit_s:.0f} s: {', '.join(busy)}")
            return


def run_load(args, brokers, broker, mode, topic, extra, create, timeout):
    """Runs `sluice bench MODE` against `broker` once, when all `brokers` are
    idle; returns its JSON summary, with the broker's CPU."""
    wait_quiet(brokers)
    cmd = [args.sluice, "bench", mode, topic, "--brokers", broker.bootstrap,
           "--label", broker.name, "--format", "json"] + extra
    if not create:
        cmd.append("--no-create")
    dirty = dirty_kb()
    before = cpu_ns(broker.pid)
    machine_before = machine_cpu()
    try:
        out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             timeout=timeout, preexec_fn=pinned_to(args.client_cpus))
    except subprocess.TimeoutExpired:
        log(f"  {broker.name} {mode}: sluice bench ran past {timeout} s")
        return None
    after = cpu_ns(broker.pid)
    machine_after = machine_cpu()
    # Progress lines ("produce 3 s: ...") are not news; errors are.
    noise = [l for l in out.stderr.splitlines() if not l.startswith(f"{mode} ")]
    for l in noise[-3:]:
        log(f"    {l}")
    lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
    if not lines:
        log(f"  {broker.name} {mode}: no result")
        return None
    result = json.loads(lines[-1])
    log(f"  {describe(result)}")
    result["broker"] = broker.name
    result["exit"] = out.returncode
    # None when the broker died during the run.
    cpu = after - before if before is not None and after is not None else None
    result["broker_cpu_ns"] = cpu
    result["dirty_kb_before"] = dirty
    n = result.get("delivered") if mode == "produce" else result.get("consumed")
    result["broker_cpu_ns_per_record"] = cpu / n if n and cpu is not None else None
    busy = machine_after[0] - machine_before[0]
    elapsed = machine_after[1] - machine_before[1]
    result["machine_cpu_ns_per_record"] = busy / n if n else None
    result["machine_busy"] = busy / elapsed if elapsed else None
    return result


def median_result(runs, rate_key="records_per_s",
                  other_keys=("broker_cpu_ns_per_record", "client_cpu_ns_per_record",
                              "machine_cpu_ns_per_record", "machine_busy")):
    """The run with the median `rate_key` (the lower middle one of an even
    count), with the medians of `other_keys` taken apart."""
    runs = [r for r in runs if r]
    if not runs:
        return None
    runs.sort(key=lambda r: r[rate_key])
    chosen = dict(runs[(len(runs) - 1) // 2])
    chosen["repeats"] = [round(r[rate_key]) for r in runs]
    for key in other_keys:
        values = sorted(r[key] for r in runs if r.get(key) is not None)
        if values:
            chosen[key] = values[(len(values) - 1) // 2]
    return chosen


def run_matrix(args, brokers, prefix):
    results = []
    for size in args.sizes:
        records = args.records_100 if size <= 100 else args.records_1k
        for partitions in args.partitions:
            for acks in args.acks:
                config = dict(size=size, partitions=partitions, acks=acks)
                log(f"== {size} B, {partitions} partition(s), acks={acks}")
                base = ["--size", str(size), "--partitions", str(partitions), "--acks", acks]
                window = max(1, CONSUME_WINDOW_BYTES // (size + 30))
                t = f"{prefix}-s{size}-p{partitions}-a{acks}"
                runs = {(b.name, m): [] for b in brokers for m in ("produce", "consume")}
                producers = ["--producers", str(args.producers)]
                if "consume" in args.modes:
                    for broker in brokers:
                        # The records a consume run reads: about 4 MB a partition.
                        create = broker.create_topic(f"{t}-consume", partitions)
                        run_load(args, brokers, broker, "produce", f"{t}-consume",
                                 base + producers
                                 + ["--records", str(window * partitions), "--timeout", "120"],
                                 create, 120)
                # Repetitions interleave the brokers, in turn first, so that
                # each sees the same drift of a shared machine.
                for rep in range(args.repeat):
                    order = brokers if rep % 2 == 0 else list(reversed(brokers))
                    for broker in order:
                        if "produce" in args.modes:
                            topic = f"{t}-produce{rep}"
                            create = broker.create_topic(topic, partitions)
                            runs[(broker.name, "produce")].append(run_load(
                                args, brokers, broker, "produce", topic,
                                base + producers
                                + ["--records", str(records), "--timeout", "120"], create, 300))
                            broker.delete_topic(args, topic)
                            if broker is order[-1]:
                                disk = disk_write(args.workdir, records * size)
                                log(f"  disk: {records * size} bytes, pwrite + fdatasync: "
                                    f"{disk['mb_per_s']:.1f} MB/s ({disk['seconds']:.3f} s)")
                                runs.setdefault(("disk", "disk"), []).append(disk)
                        if "consume" in args.modes:
                            runs[(broker.name, "consume")].append(run_load(
                                args, brokers, broker, "consume", f"{t}-consume",
                                ["--partitions", str(partitions), "--records", str(records),
                                 "--rewind", "--timeout", "120"], True, 300))
                disk = median_result(runs.get(("disk", "disk"), []), "mb_per_s",
                                     ("write_cpu_ns_per_byte", "sync_cpu_ns_per_byte",
                                      "writeback_mb_per_s"))
                if disk:
                    results.append({**disk, **config})
                for broker in brokers:
                    for mode in ("produce", "consume"):
                        r = median_result(runs[(broker.name, mode)])
                        if r:
                            results.append({**r, **config})
                    if "latency" in args.modes:
                        topic = f"{t}-latency"
                        create = broker.create_topic(topic, partitions)
                        r = run_load(args, brokers, broker, "latency", topic,
                                     base + ["--rate", str(args.rate),
                                             "--duration", str(args.duration),
                                             "--warmup", str(args.warmup),
                                             "--timeout", str(args.latency_drain)],
                                     create, args.duration + args.latency_drain + 60)
                        if r:
                            results.append({**r, **config})
                        broker.delete_topic(args, topic)
                    if "consume" in args.modes:
                        broker.delete_topic(args, f"{t}-consume")
    return results


# ---------------------------------------------------------------- report

def find(results, broker, mode, size, partitions, acks):
    for r in results:
        if (r["broker"] == broker and r["mode"] == mode and r["size"] == size
                and r["partitions"] == partitions and r["acks"] == acks):
            return r
    return None


def size_label(size):
    return f"{size // 1024} KiB" if size % 1024 == 0 else f"{size} B"


def fmt_rate(r):
    if r is None:
        return "failed"
    complete = r.get("delivered", r.get("consumed")) == r["records"]
    spread = ""
    reps = r.get("repeats", [])
    if len(reps) > 1 and r["records_per_s"] > 0:
        half = (max(reps) - min(reps)) / 2 / r["records_per_s"]
        spread = f" ±{100 * half:.0f}%"
    return (f"{r['records_per_s'] / 1e3:,.0f} k/s{spread} ({r['mb_per_s']:.0f} MB/s)"
            + ("" if complete else " incomplete"))


def fmt_cpu(r):
    if r is None or r.get("broker_cpu_ns_per_record") is None:
        return "—"
    return f"{r['broker_cpu_ns_per_record']:,.0f}"


def fmt_pair(s, m, key, scale=1.0, unit=""):
    """'S / M' of `key` in two results, '—' where one is missing."""
    def one(r):
        v = None if r is None else r.get(key)
        return "—" if v is None else f"{v * scale:,.0f}{unit}"
    return f"{one(s)} / {one(m)}"


def kernel_write_ns(disk, size, acks):
    """The machine's CPU time for the kernel's part of storing one record of
    `size` payload bytes, from the disk baseline: its pwrite, and at
    acks=all its fdatasync. None without a baseline."""
    if disk is None:
        return None
    per_byte = disk["write_cpu_ns_per_byte"]
    if acks != "1":
        per_byte += disk["sync_cpu_ns_per_byte"]
    return per_byte * size


# The targets: Sluice / mock at acks=1 and at acks=all.
TARGET_ACKS_1 = 1.0
TARGET_ACKS_ALL = 0.8


def fmt_target(mock, disk):
    """The acks=all target in MB/s (a share of the mock's), and whether the
    disk allows it."""
    if mock is None:
        return "—"
    target = TARGET_ACKS_ALL * mock["mb_per_s"]
    text = f"{target:,.0f} MB/s"
    if disk is not None and target > disk["writeback_mb_per_s"]:
        return text + ", beyond the disk"
    if disk is not None and target > disk["mb_per_s"]:
        return text + ", beyond pwrite + fdatasync"
    return text


def ratio(a, b, key="records_per_s"):
    if a is None or b is None or not b.get(key):
        return None
    return a[key] / b[key]


def fmt_us(v):
    if v >= 10_000:
        return f"{v / 1000:,.0f} ms"
    if v >= 1000:
        return f"{v / 1000:.1f} ms"
    return f"{v:.0f} µs"


def fmt_latency(r):
    if r is None:
        return "failed", "—"
    text = " / ".join(fmt_us(r[k] * 1000) for k in ("p50_ms", "p99_ms", "p999_ms", "max_ms"))
    expected = r["produced"] - int(r["rate"] * r["warmup_s"])
    if r["measured"] < expected:
        text += f" (only {100 * r['measured'] / max(expected, 1):.0f}% arrived in time)"
    return text, fmt_cpu(r)


def each_cell(args):
    """(value size, partitions, acks) of every cell of the matrix, in table order."""
    for size in args.sizes:
        for partitions in args.partitions:
            for acks in args.acks:
                yield size, partitions, acks


def machine_cpu_table(args, results, sluice):
    """Markdown lines: where the machine's CPU went in the produce runs, and
    the Sluice / mock ratio within reach."""
    lines = [
        f"#### Produce: where the machine's CPU went, {sluice} against the mock",
        "",
        "| value | partitions | acks | machine CPU ns/record (Sluice / mock) | client | broker "
        "| machine busy | kernel's write of a record, ns | Sluice / mock within reach |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for size, p, acks in each_cell(args):
        s = find(results, sluice, "produce", size, p, acks)
        m = find(results, "mock", "produce", size, p, acks)
        floor = kernel_write_ns(find(results, "disk", "disk", size, p, acks), size, acks)
        spent = None if m is None else m.get("machine_cpu_ns_per_record")
        reach = "—" if floor is None or not spent else f"{spent / (spent + floor):.2f}"
        lines.append(f"| {size_label(size)} | {p} | {acks} "
                     f"| {fmt_pair(s, m, 'machine_cpu_ns_per_record')} "
                     f"| {fmt_pair(s, m, 'client_cpu_ns_per_record')} "
                     f"| {fmt_pair(s, m, 'broker_cpu_ns_per_record')} "
                     f"| {fmt_pair(s, m, 'machine_busy', 100, '%')} "
                     f"| {'—' if floor is None else f'{floor:,.0f}'} | {reach} |")
    lines += [
        "",
        "Machine CPU is all the cores' busy time during a run (client, broker, the kernel's "
        "threads, anything else running) per record. The kernel's write of a record is the disk "
        "baseline's CPU time for its payload bytes: the pwrite into the page cache, and at "
        "acks=all the fdatasync's writeback, which the mock never does. When the runs keep the "
        "machine's cores busy, a broker that cost the machine no more than the mock does plus "
        "that write would reach at most the last column's ratio: Sluice's CPU above that line is "
        "what its code can still win.",
        "",
    ]
    return lines


def report(args, results, sluices, started, finished):
    lines = []
    out = lines.append
    mock = "mock"
    out(f"Run {started:%Y-%m-%d %H:%M} – {finished:%H:%M} "
        f"({(finished - started).total_seconds() / 60:.1f} min), "
        f"{os.cpu_count()} cores, {platform.node()}.")
    dirty = [r["dirty_kb_before"] for r in results if r.get("dirty_kb_before", -1) >= 0]
    if dirty:
        out(f"Dirty page cache at the start of a run (the whole machine's): "
            f"{min(dirty) / 1024:,.0f} to {max(dirty) / 1024:,.0f} MiB.")
    if {"produce", "consume"} & args.modes:
        out(f"Produce and consume: median of {args.repeat} run(s), ± half the range.")
    pinning = [f"{who} on CPUs {text}" for who, text in
               (("brokers", args.broker_cpus_text), ("the mock", args.mock_cpus_text),
                ("clients", args.client_cpus_text)) if text]
    if pinning:
        out("Pinned: " + ", ".join(pinning) + ".")
    if args.producers > 1:
        out(f"Produce runs: {args.producers} producer threads in one client.")
    out("")
    throughput_tables = sluices if {"produce", "consume"} & args.modes else []
    for sluice in throughput_tables:
        out(f"#### Throughput: {sluice} against the mock")
        out("")
        out("| value | partitions | acks | produce, Sluice | produce, mock | Sluice / mock "
            "| consume, Sluice | consume, mock | Sluice / mock "
            "| broker CPU ns/record, produce (Sluice / mock) "
            "| broker CPU ns/record, consume (Sluice / mock) |")
        out("|---|---|---|---|---|---|---|---|---|---|---|")
        for size, p, acks in each_cell(args):
            target = TARGET_ACKS_1 if acks == "1" else TARGET_ACKS_ALL
            cells = [size_label(size), str(p), acks]
            cpu = []
            for mode in ("produce", "consume"):
                if mode not in args.modes:
                    cells += ["not run"] * 3
                    cpu.append("—")
                    continue
                s = find(results, sluice, mode, size, p, acks)
                m = find(results, mock, mode, size, p, acks)
                q = ratio(s, m)
                mark = "" if q is None else (" ✓" if q >= target else " ✗")
                cells += [fmt_rate(s), fmt_rate(m), "—" if q is None else f"**{q:.2f}**{mark}"]
                cpu.append(f"{fmt_cpu(s)} / {fmt_cpu(m)}")
            out("| " + " | ".join(cells + cpu) + " |")
        out("")
        out(f"Targets: Sluice / mock ≥ 1.0 at acks=1, ≥ 0.8 at acks=all (✓ met, ✗ missed).")
        out("")
        if "produce" in args.modes:
            lines += machine_cpu_table(args, results, sluice)
        if "all" in args.acks and "produce" in args.modes:
            out(f"#### acks=all: {sluice} against the disk alone")
            out("")
            out("| value | partitions | produce, Sluice (payload) | disk: pwrite + one fdatasync "
                "| the fdatasync alone | Sluice / disk | the target, 0.8 × mock |")
            out("|---|---|---|---|---|---|---|")
            for size in args.sizes:
                for p in args.partitions:
                    s = find(results, sluice, "produce", size, p, "all")
                    m = find(results, mock, "produce", size, p, "all")
                    d = find(results, "disk", "disk", size, p, "all")
                    q = ratio(s, d, "mb_per_s")
                    rate = ["—" if r is None else f"{r['mb_per_s']:,.0f} MB/s" for r in (s, d)]
                    writeback = "—" if d is None else f"{d['writeback_mb_per_s']:,.0f} MB/s"
                    out(f"| {size_label(size)} | {p} | {rate[0]} | {rate[1]} | {writeback} "
                        f"| {'—' if q is None else f'**{q:.2f}**'} | {fmt_target(m, d)} |")
            out("")
            out("The fdatasync alone is the disk's rate when it writes back everything at once; a "
                "target above it asks for more than the disk takes.")
            out("")
    latency_tables = sluices if "latency" in args.modes else []
    for sluice in latency_tables:
        out(f"#### End-to-end latency at {args.rate:,} records/s: {sluice} against the mock")
        out("")
        out("| value | partitions | acks | Sluice p50 / p99 / p99.9 / max | p99 ≤ 1 ms "
            "| mock p50 / p99 / p99.9 / max | broker CPU ns/record (Sluice / mock) |")
        out("|---|---|---|---|---|---|---|")
        for size, p, acks in each_cell(args):
            s = find(results, sluice, "latency", size, p, acks)
            m = find(results, mock, "latency", size, p, acks)
            st, scpu = fmt_latency(s)
            mt, mcpu = fmt_latency(m)
            met = "—" if s is None else ("✓" if s["p99_ms"] <= 1 else "✗")
            out(f"| {size_label(size)} | {p} | {acks} | {st} | {met} | {mt} | {scpu} / {mcpu} |")
        out("")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "release"))
    ap.add_argument("--smp", default="1",
                    help="comma-separated shard counts, one Sluice broker each (default 1)")
    ap.add_argument("--sizes", default="100,1024")
    ap.add_argument("--partitions", default="1,6")
    ap.add_argument("--acks", default="1,all")
    # Runs of about half a second: at 200,000 x 1 KiB (0.1 s) the client's
    # start-up made cells move by up to ±50% between runs of one binary.
    ap.add_argument("--records-100", type=int, default=2_000_000,
                    help="records per produce / consume run of values up to 100 B")
    ap.add_argument("--records-1k", type=int, default=1_000_000,
                    help="records per produce / consume run of larger values")
    ap.add_argument("--repeat", type=int, default=3,
                    help="produce and consume runs per broker and configuration; "
                    "the tables show the median (default 3)")
    ap.add_argument("--rate", type=int, default=50_000, help="latency runs: records/s")
    ap.add_argument("--duration", type=float, default=4.0, help="latency runs: seconds")
    ap.add_argument("--warmup", type=float, default=1.0,
                    help="latency runs: seconds at the start left out of the histogram")
    ap.add_argument("--latency-drain", type=int, default=3,
                    help="latency runs: seconds to wait for the last records")
    ap.add_argument("--quick", action="store_true", help="a tenth of the records, 2 s latency")
    ap.add_argument("--modes", default="produce,consume,latency",
                    help="which of produce, consume and latency to run (default all three)")
    ap.add_argument("--producers", type=int, default=1,
                    help="producer threads in each produce run's client (default 1)")
    ap.add_argument("--baseline",
                    help="another build directory: its Sluice runs beside this one's")
    ap.add_argument("--broker-cpus", default="",
                    help="CPUs for every broker, e.g. 0-3 (default: no pinning)")
    ap.add_argument("--mock-cpus", default="",
                    help="CPUs for the mock, if not --broker-cpus")
    ap.add_argument("--client-cpus", default="",
                    help="CPUs for every `sluice bench` client, e.g. 8-15 (default: no pinning)")
    ap.add_argument("--out", help="also write the markdown tables here")
    ap.add_argument("--json", help="write every `sluice bench` result (one JSON a line) here")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = ap.parse_args()
    args.sizes = [int(x) for x in args.sizes.split(",")]
    args.partitions = [int(x) for x in args.partitions.split(",")]
    args.acks = args.acks.split(",")
    args.modes = set(args.modes.split(","))
    unknown = args.modes - {"produce", "consume", "latency"}
    if unknown:
        sys.exit(f"broker_bench: unknown mode(s) {', '.join(sorted(unknown))}")
    args.broker_cpus_text = args.broker_cpus
    args.mock_cpus_text = args.mock_cpus
    args.client_cpus_text = args.client_cpus
    args.broker_cpus = parse_cpus("--broker-cpus", args.broker_cpus)
    args.mock_cpus = parse_cpus("--mock-cpus", args.mock_cpus) or args.broker_cpus
    args.client_cpus = parse_cpus("--client-cpus", args.client_cpus)
    if args.quick:
        args.records_100 //= 10
        args.records_1k //= 10
        args.repeat = 1
        args.duration = 2.0
        args.warmup = 0.5
    mock_binary = os.path.join(args.build, "bench", "mock_cluster")
    sluice_binary = os.path.join(args.build, "src", "app", "sluice")
    args.sluice = sluice_binary
    baseline_binary = (os.path.join(args.baseline, "src", "app", "sluice")
                       if args.baseline else sluice_binary)
    for b in (mock_binary, sluice_binary, baseline_binary):
        if not os.access(b, os.X_OK):
            sys.exit(f"broker_bench: {b} is missing: build it first (make bench-broker)")

    workdir = tempfile.mkdtemp(prefix="sluice-broker-bench-")
    args.workdir = workdir
    brokers = []
    started = datetime.datetime.now()
    # A prefix of its own for this run's topics.
    prefix = f"bench{os.getpid()}"
    try:
        for smp in args.smp.split(","):
            brokers.append(Sluice(sluice_binary, int(smp), workdir, args.broker_cpus))
            if args.baseline:
                brokers.append(Sluice(baseline_binary, int(smp), workdir, args.broker_cpus,
                                      name="baseline"))
        brokers.append(Mock(mock_binary, workdir, args.mock_cpus))
        for b in brokers:
            log(f"{b.name}: pid {b.pid}, {b.bootstrap}")
        results = run_matrix(args, brokers, prefix)
        for b in brokers:
            if b.proc.poll() is not None:
                log(f"{b.name} exited with {b.proc.returncode} during the run")
    finally:
        for b in brokers:
            b.stop()
        if args.keep:
            log(f"scratch directory kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    finished = datetime.datetime.now()

    if args.json:
        with open(args.json, "w") as f:
            for r in results:
                f.write(json.dumps(r) + "\n")
    table = report(args, results, [b.name for b in brokers if b.name != "mock"], started,
                   finished)
    print(table)
    if args.out:
        with open(args.out, "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
