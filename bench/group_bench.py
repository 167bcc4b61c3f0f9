#!/usr/bin/python3
"""Consumer-group benchmark: Sluice's group coordinator against librdkafka's
mock cluster, the same confluent-kafka clients driving both in one run.

  rebalance   M consumers (default 10) subscribe at once to a topic of P
              partitions (default 100): seconds from the first subscribe
              until every partition is assigned to exactly one member; then
              one more member joins: seconds until the assignment settles
              again over M+1 members.
  commit      one consumer commits one offset synchronously, N times
              (default 5,000): commits/s and the latency p50/p99 of a commit.

Sluice runs with group.initial.rebalance.delay.ms=0 (the mock has no such
delay), so the rebalance figures are the protocol's own work: joins, the
leader's assignment, syncs. Every run is repeated --repeat times (median).

  /usr/bin/python3 bench/group_bench.py [--build build/release] [--members 10]
      [--partitions 100] [--commits 5000] [--repeat 3] [--out FILE]

Every process it starts is stopped by PID at the end, whatever happens.
"""

import argparse
import os
import statistics
import sys
import tempfile
import shutil
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import confluent_kafka  # noqa: E402  (Debian's python3-confluent-kafka)
import confluent_kafka.admin  # noqa: E402
from broker_bench import Mock, Sluice, log  # noqa: E402

SETTLE_TIMEOUT_S = 120


class Member:
    """A consumer polling on its own thread, so that all take part at once."""

    def __init__(self, bootstrap, group, topic):
        self.consumer = confluent_kafka.Consumer({
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "session.timeout.ms": 10000,
            "heartbeat.interval.ms": 500,
            "partition.assignment.strategy": "range",
        })
        self.topic = topic
        self.assigned = set()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _on_assign(self, consumer, partitions):
        with self.lock:
            self.assigned = {p.partition for p in partitions}

    def _on_revoke(self, consumer, partitions):
        with self.lock:
            self.assigned = set()

    def start(self):
        self.consumer.subscribe([self.topic], on_assign=self._on_assign,
                                on_revoke=self._on_revoke)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            self.consumer.poll(0.05)

    def partitions(self):
        with self.lock:
            return set(self.assigned)

    def close(self):
        self.stop.set()
        self.thread.join(timeout=30)
        self.consumer.close()


def settled(members, partitions):
    """Every partition assigned exactly once, and every member has some."""
    seen = []
    for m in members:
        mine = m.partitions()
        if not mine:
            return False
        seen.extend(mine)
    return sorted(seen) == list(range(partitions))


def wait_settled(members, partitions, started):
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    while time.monotonic() < deadline:
        if settled(members, partitions):
            return time.monotonic() - started
        time.sleep(0.002)
    raise RuntimeError(f"the group did not settle in {SETTLE_TIMEOUT_S} s")


def rebalance_run(broker, args, run):
    topic = f"rebalance-{run}"
    group = f"bench-group-{run}"
    if broker.create_topic(topic, args.partitions):
        admin = confluent_kafka.admin.AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.create_topics([confluent_kafka.admin.NewTopic(topic, args.partitions, 1)])[
            topic].result(30)
    members = [Member(broker.bootstrap, group, topic) for _ in range(args.members)]
    extra = None
    try:
        started = time.monotonic()
        for m in members:
            m.start()
        cold = wait_settled(members, args.partitions, started)
        extra = Member(broker.bootstrap, group, topic)
        started = time.monotonic()
        extra.start()
        grow = wait_settled(members + [extra], args.partitions, started)
        return cold, grow
    finally:
        for m in members + ([extra] if extra else []):
            m.close()


def commit_run(broker, args, run):
    topic = f"commit-{run}"
    if broker.create_topic(topic, 1):
        admin = confluent_kafka.admin.AdminClient({"bootstrap.servers": broker.bootstrap})
        admin.create_topics([confluent_kafka.admin.NewTopic(topic, 1, 1)])[topic].result(30)
    consumer = confluent_kafka.Consumer({
        "bootstrap.servers": broker.bootstrap,
        "group.id": f"bench-commit-{run}",
        "enable.auto.commit": False,
    })
    try:
        tp = confluent_kafka.TopicPartition(topic, 0, 0)
        consumer.assign([tp])
        # The first commit finds the coordinator; not timed.
        consumer.commit(offsets=[tp], asynchronous=False)
        latencies = []
        started = time.monotonic()
        for i in range(1, args.commits + 1):
            t0 = time.monotonic()
            consumer.commit(offsets=[confluent_kafka.TopicPartition(topic, 0, i)],
                            asynchronous=False)
            latencies.append(time.monotonic() - t0)
        elapsed = time.monotonic() - started
        latencies.sort()
        committed = consumer.committed([confluent_kafka.TopicPartition(topic, 0)], timeout=10)
        if committed[0].offset != args.commits:
            raise RuntimeError(f"committed {committed[0].offset}, expected {args.commits}")
        return (args.commits / elapsed, latencies[len(latencies) // 2],
                latencies[int(len(latencies) * 0.99)])
    finally:
        consumer.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(os.path.dirname(HERE), "build", "release"))
    ap.add_argument("--members", type=int, default=10)
    ap.add_argument("--partitions", type=int, default=100)
    ap.add_argument("--commits", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", help="also write the markdown table here")
    args = ap.parse_args()

    sluice_binary = os.path.join(args.build, "src", "app", "sluice")
    mock_binary = os.path.join(args.build, "bench", "mock_cluster")
    for b in (sluice_binary, mock_binary):
        if not os.access(b, os.X_OK):
            sys.exit(f"missing {b}: build it first (make bench-groups)")
    workdir = tempfile.mkdtemp(prefix="sluice-group-bench-")
    brokers = []
    results = {}
    try:
        brokers.append(Sluice(sluice_binary, 1, workdir,
                              settings=["group.initial.rebalance.delay.ms=0"]))
        # Commits wait for their fsync like acks=all writes; this one does not.
        relaxed = Sluice(sluice_binary, 1, workdir,
                         settings=["group.initial.rebalance.delay.ms=0",
                                   "log.flush.on.acks.all=false"])
        relaxed.name = "sluice-no-fsync"
        brokers.append(relaxed)
        brokers.append(Mock(mock_binary, workdir))
        for run in range(args.repeat):
            for broker in brokers:
                cold, grow = rebalance_run(broker, args, run)
                rate, p50, p99 = commit_run(broker, args, run)
                log(f"{broker.name} run {run + 1}: rebalance {cold:.3f} s, +1 member "
                    f"{grow:.3f} s, commits {rate:,.0f}/s p50 {p50 * 1e3:.2f} ms "
                    f"p99 {p99 * 1e3:.2f} ms")
                results.setdefault(broker.name, []).append((cold, grow, rate, p50, p99))
    finally:
        for broker in brokers:
            broker.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    def med(name, i):
        return statistics.median(r[i] for r in results[name])

    s, r, m = (b.name for b in brokers)
    rows = [
        ("rebalance, %d members / %d partitions (s)" % (args.members, args.partitions), 0, "%.3f"),
        ("one more member joins (s)", 1, "%.3f"),
        ("sync commits of one consumer (/s)", 2, "%.0f"),
        ("commit latency p50 (ms)", 3, "%.2f"),
        ("commit latency p99 (ms)", 4, "%.2f"),
    ]
    lines = ["| measure | Sluice | Sluice, no fsync | mock | Sluice / mock | no fsync / mock |",
             "|---|---|---|---|---|---|"]
    for label, i, fmt in rows:
        a, b, c = med(s, i), med(r, i), med(m, i)
        scale = 1e3 if i >= 3 else 1
        lines.append(f"| {label} | {fmt % (a * scale)} | {fmt % (b * scale)} | "
                     f"{fmt % (c * scale)} | {a / c:.2f} | {b / c:.2f} |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        with open(args.out, "w") as f:
            f.write(table + "\n")


if __name__ == "__main__":
    main()
