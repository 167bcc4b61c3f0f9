#!/usr/bin/python3
"""Raft group commit on a real disk: a 3-node group on loopback against the
raw fdatasync rate of the same disk.

For each concurrency level (default 1, 8, 64, 256) it starts three
raft_node processes (src/raft/tools/raft_node.cc: real sockets, a real
storage_log, fsync) on free ports in a fresh directory under --dir, waits
for the leader's JSON report of its load (N record batches of one record,
C proposals in flight, each committed = fsynced on a majority and applied)
and stops the three by PID. In the same run and directory, before and after
the group runs, it measures how many appends + fdatasync one thread does per
second (--fsync-seconds each), of 4 KiB and of one entry's size (a record
batch of one record: the value plus 70 bytes); the disk is shared and noisy,
so the fastest of the four probes is the raw rate.

Prints a markdown table: commits/s, latency p50 and p99, commits per leader
fsync, the raw fsyncs/s and the ratio commits/s / raw fsyncs/s. Without
group commit that ratio would stay below 1 (a commit needs at least one
fsync on the leader and one on a follower); batching makes it grow with the
concurrency.

  /usr/bin/python3 bench/raft_bench.py [--raft-node build/release/src/raft/raft_node]
      [--concurrency 1,8,64,256] [--records 100000] [--value-bytes 100] [--dir /tmp]
"""

import argparse
import atexit
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_PROGRAM = os.path.join(ROOT, "build", "release", "src", "raft", "raft_node")

_processes = []  # every raft_node started here

sys.path.insert(0, HERE)
from broker_bench import free_port, log, stop_process  # noqa: E402


@atexit.register
def _stop_all():
    for p in _processes:
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()


def raw_fsync_rate(directory, seconds, size):
    """Appends of `size` bytes, each followed by fdatasync, per second."""
    path = os.path.join(directory, "fsync-probe")
    block = b"\xab" * size
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        count = 0
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            os.write(fd, block)
            os.fdatasync(fd)
            count += 1
        return count / (time.monotonic() - started)
    finally:
        os.close(fd)
        os.remove(path)


def run_level(args, base, concurrency, records):
    """One fresh 3-node group; the leader's JSON report of its load."""
    workdir = tempfile.mkdtemp(prefix="raft-bench-c%d-" % concurrency, dir=base)
    ports = {i: free_port() for i in (1, 2, 3)}
    peers = ",".join("%d=127.0.0.1:%d" % (i, p) for i, p in ports.items())
    procs = {}
    try:
        for i in ports:
            cmd = [args.raft_node, "--id", str(i), "--peers", peers,
                   "--dir", os.path.join(workdir, "node%d" % i),
                   "--tick-ms", str(args.tick_ms), "--load", str(records),
                   "--concurrency", str(concurrency), "--value-bytes", str(args.value_bytes)]
            out = open(os.path.join(workdir, "node%d.out" % i), "wb")
            procs[i] = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                        stderr=subprocess.STDOUT)
            _processes.append(procs[i])
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            for i, p in procs.items():
                with open(os.path.join(workdir, "node%d.out" % i)) as f:
                    for line in f:
                        if line.startswith("{"):
                            report = json.loads(line)
                            report["leader"] = i
                            return report
                if p.poll() not in (None, 0):
                    raise RuntimeError("node %d exited with %s" % (i, p.returncode))
            time.sleep(0.05)
        raise RuntimeError("no load report within %d s (concurrency %d)"
                           % (args.timeout, concurrency))
    finally:
        for p in procs.values():
            stop_process(p, "raft_node")
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--raft-node", default=os.environ.get("RAFT_NODE", DEFAULT_PROGRAM))
    ap.add_argument("--concurrency", default="1,8,64,256")
    ap.add_argument("--records", type=int, default=100000,
                    help="record batches per level (at most; see --records-per-slot)")
    ap.add_argument("--records-per-slot", type=int, default=1000,
                    help="a level runs this x its concurrency (at least 2000, at most --records)")
    ap.add_argument("--value-bytes", type=int, default=100)
    ap.add_argument("--tick-ms", type=int, default=10)
    ap.add_argument("--fsync-seconds", type=float, default=2.0)
    ap.add_argument("--timeout", type=int, default=180, help="per level")
    ap.add_argument("--dir", default=tempfile.gettempdir(),
                    help="where the data directories go (the disk measured)")
    ap.add_argument("--keep", action="store_true", help="keep the data directories")
    args = ap.parse_args()
    args.raft_node = os.path.abspath(args.raft_node)
    if not os.access(args.raft_node, os.X_OK):
        sys.exit("no raft_node at %s (build the raft_node target)" % args.raft_node)
    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, lambda n, _f: sys.exit(128 + n))

    base = tempfile.mkdtemp(prefix="raft-bench-", dir=args.dir)
    sizes = (4096, args.value_bytes + 70)
    probes = {size: [] for size in sizes}

    def probe():
        for size in sizes:
            probes[size].append(raw_fsync_rate(base, args.fsync_seconds, size))
            log("  %d-byte append + fdatasync: %.0f/s" % (size, probes[size][-1]))

    try:
        log("raw fdatasync rate in %s ..." % base)
        probe()
        rows = []
        for c in (int(x) for x in args.concurrency.split(",")):
            records = min(args.records, max(2000, args.records_per_slot * c))
            log("concurrency %d: %d record batches ..." % (c, records))
            r = run_level(args, base, c, records)
            log("  " + json.dumps(r))
            rows.append((c, records, r))
        log("raw fdatasync rate again ...")
        probe()
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    fsyncs = max(max(v) for v in probes.values())

    print("3 raft_node processes on loopback, %d-byte records, one record batch per entry, "
          "tick %d ms, data in %s" % (args.value_bytes, args.tick_ms, args.dir))
    print("raw append + fdatasync per second, before / after: %s; raw rate = the fastest"
          % ", ".join("%d B: %.0f / %.0f" % (size, v[0], v[1]) for size, v in probes.items()))
    print()
    print("| concurrency | entries | commits/s | p50 ms | p99 ms | commits per leader fsync "
          "| raw fsyncs/s | commits/s ÷ fsyncs/s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for c, records, r in rows:
        per_sync = r["commits"] / r["syncs"] if r["syncs"] else float("nan")
        print("| %d | %d | %.0f | %.2f | %.2f | %.1f | %.0f | %.2f |"
              % (c, records, r["commits_per_s"], r["p50_ms"], r["p99_ms"], per_sync, fsyncs,
                 r["commits_per_s"] / fsyncs))


if __name__ == "__main__":
    main()
