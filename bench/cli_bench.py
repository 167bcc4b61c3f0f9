#!/usr/bin/python3
"""`sluice bench produce` against the smallest librdkafka producer loop.

The CLI must not add overhead to the library it drives. This starts one
Sluice broker (fresh data directory under /tmp, a free port) and
librdkafka's mock cluster (bench/mock_cluster), and for each record size runs

  sluice bench produce T --records N --size S --no-create --format json -X ...
  rdkafka_produce_loop BOOTSTRAP T N S PARTITIONS key=value ...

--repeat times each, alternately and in turn first, each run on a topic of
its own created before and (on Sluice) deleted after it, with the same
librdkafka properties given explicitly to both. Prints a markdown table: the
median records/s of each, and the median of the ratios sluice bench / loop
of the runs paired in time (target: >= 0.9), and the CPU time each process
spent per record over its timed span (getrusage, every thread of it).

  /usr/bin/python3 bench/cli_bench.py [--build build/release] [--repeat 5]
      [--records-100 1000000] [--records-1k 1000000] [--brokers sluice,mock]
      [--out FILE]

Runs shorter than a second measure scheduling noise more than the clients
(pairs of 300,000 x 1 KiB ranged from 0.65 to 1.55). Every process started
here is stopped by its PID at the end. About a minute on 2 cores.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from broker_bench import Mock, Sluice, log  # noqa: E402


# What both clients get, on top of bootstrap.servers: every producer setting
# that `sluice bench produce` chooses itself.
def client_properties(args):
    return {
        "acks": args.acks,
        "linger.ms": "5",
        "batch.size": "1000000",
        "batch.num.messages": "10000",
        "compression.codec": "none",
        "enable.idempotence": "false",
        "queue.buffering.max.messages": "2000000",
        "queue.buffering.max.kbytes": "2097151",
        "message.timeout.ms": "120000",
    }


def run_child(cmd, timeout):
    """Runs cmd; returns its last JSON line, or None if it failed."""
    try:
        out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             timeout=timeout)
    except subprocess.TimeoutExpired:
        log(f"  {os.path.basename(cmd[0])} ran past {timeout} s")
        return None
    lines = [l for l in out.stdout.splitlines() if l.startswith("{")]
    if out.returncode != 0 or not lines:
        errors = [l for l in out.stderr.splitlines() if not l.startswith("produce ")]
        log(f"  {os.path.basename(cmd[0])} failed ({out.returncode}): {' | '.join(errors[-3:])}")
        return None
    return json.loads(lines[-1])


def create_topic(args, broker, topic):
    if broker.create_topic(topic, args.partitions):
        subprocess.run([args.sluice, "topic", "create", topic, "--partitions",
                        str(args.partitions), "--brokers", broker.bootstrap, "--timeout", "20"],
                       stdout=subprocess.DEVNULL, check=True, timeout=60)


def run_pair(args, broker, size, records, rep):
    """One run of each tool, in turn first; returns {tool: (records/s, cpu ns/record)}."""
    props = client_properties(args)
    tools = ["sluice", "loop"] if rep % 2 == 0 else ["loop", "sluice"]
    out = {}
    for tool in tools:
        topic = f"cli{os.getpid()}-{broker.name}-s{size}-r{rep}-{tool}"
        create_topic(args, broker, topic)
        if tool == "sluice":
            cmd = [args.sluice, "bench", "produce", topic, "--records", str(records), "--size",
                   str(size), "--partitions", str(args.partitions), "--no-create",
                   "--brokers", broker.bootstrap, "--timeout", "120", "--format", "json"]
            for key, value in props.items():
                cmd += ["-X", f"{key}={value}"]
        else:
            cmd = [args.loop, broker.bootstrap, topic, str(records), str(size),
                   str(args.partitions)] + [f"{k}={v}" for k, v in props.items()]
        result = run_child(cmd, 300)
        broker.delete_topic(args, topic)
        if result is None or result["delivered"] != records:
            out[tool] = None
            continue
        out[tool] = (result["records_per_s"], result["client_cpu_ns_per_record"])
    log(f"  {broker.name} {size} B run {rep + 1}: " + ", ".join(
        f"{t} {out[t][0]:,.0f}/s" if out[t] else f"{t} failed" for t in tools))
    return out


def median_or_none(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def measure(args, broker, size, records):
    pairs = [run_pair(args, broker, size, records, rep) for rep in range(args.repeat)]
    complete = [p for p in pairs if p["sluice"] and p["loop"]]
    ratios = [p["sluice"][0] / p["loop"][0] for p in complete]
    return {
        "broker": broker.name, "size": size, "records": records,
        "sluice": median_or_none([p["sluice"][0] if p["sluice"] else None for p in pairs]),
        "loop": median_or_none([p["loop"][0] if p["loop"] else None for p in pairs]),
        "sluice_cpu": median_or_none([p["sluice"][1] if p["sluice"] else None for p in pairs]),
        "loop_cpu": median_or_none([p["loop"][1] if p["loop"] else None for p in pairs]),
        "ratio": median_or_none(ratios),
        "ratios": ratios,
        "failed": len(pairs) - len(complete),
    }


def report(args, rows, started, finished):
    lines = [f"Run {started:%Y-%m-%d %H:%M} – {finished:%H:%M} "
             f"({(finished - started).total_seconds() / 60:.1f} min), {os.cpu_count()} cores, "
             f"{platform.node()}; {args.partitions} partition(s), acks={args.acks}, "
             f"{args.repeat} runs of each, alternating.", "",
             "| broker | value | records | sluice bench | raw loop | sluice bench / loop "
             "(median of pairs) | pair ratios | client CPU ns/record (sluice bench / loop) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        def rate(v):
            return "failed" if v is None else f"{v / 1e3:,.0f} k/s"
        ratio = "—" if r["ratio"] is None else (
            f"**{r['ratio']:.2f}** " + ("✓" if r["ratio"] >= 0.9 else "✗"))
        cpu = ("—" if r["sluice_cpu"] is None or r["loop_cpu"] is None
               else f"{r['sluice_cpu']:,.0f} / {r['loop_cpu']:,.0f}")
        size = f"{r['size'] // 1024} KiB" if r["size"] % 1024 == 0 else f"{r['size']} B"
        lines.append(f"| {r['broker']} | {size} | {r['records']:,} | {rate(r['sluice'])} "
                     f"| {rate(r['loop'])} | {ratio} "
                     f"| {', '.join(f'{q:.2f}' for q in r['ratios'])} | {cpu} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(os.path.dirname(HERE), "build", "release"))
    ap.add_argument("--brokers", default="sluice,mock", help="sluice, mock or both (default)")
    ap.add_argument("--sizes", default="100,1024")
    ap.add_argument("--records-100", type=int, default=1_000_000,
                    help="records per run of values up to 100 B")
    ap.add_argument("--records-1k", type=int, default=1_000_000,
                    help="records per run of larger values")
    ap.add_argument("--partitions", type=int, default=1)
    ap.add_argument("--acks", default="1")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", help="also write the markdown table here")
    args = ap.parse_args()
    args.sluice = os.path.join(args.build, "src", "app", "sluice")
    args.loop = os.path.join(args.build, "bench", "rdkafka_produce_loop")
    mock_binary = os.path.join(args.build, "bench", "mock_cluster")
    for b in (args.sluice, args.loop, mock_binary):
        if not os.access(b, os.X_OK):
            sys.exit(f"cli_bench: {b} is missing: build it first (make bench-cli)")

    workdir = tempfile.mkdtemp(prefix="sluice-cli-bench-")
    brokers = []
    rows = []
    started = datetime.datetime.now()
    try:
        for name in args.brokers.split(","):
            brokers.append(Sluice(args.sluice, 1, workdir) if name == "sluice"
                           else Mock(mock_binary, workdir))
        for broker in brokers:
            log(f"{broker.name}: pid {broker.pid}, {broker.bootstrap}")
            for size in (int(s) for s in args.sizes.split(",")):
                records = args.records_100 if size <= 100 else args.records_1k
                rows.append(measure(args, broker, size, records))
    finally:
        for broker in brokers:
            broker.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    table = report(args, rows, started, datetime.datetime.now())
    print(table)
    if args.out:
        with open(args.out, "w") as f:
            f.write(table + "\n")
    if any(r["failed"] for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
