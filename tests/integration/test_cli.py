#!/usr/bin/python3
"""The `sluice` command line against a real broker, as a user drives it.

Every client-side command runs as its own process (the real binary), with
HOME pointed at a temporary directory so no profile of the person running the
tests leaks in. The flow of issue 6: create -> describe -> produce -> consume
-> a group commits -> `group describe` shows lag 0 -> produce more -> lag
shows the right number -> reset-offsets -> delete; every command that prints
data is run in both formats and the JSON carries the same numbers as the
table. Records written by `sluice produce` are read back with confluent_kafka
(another client) and records written by confluent_kafka with `sluice
consume`, so the CLI is checked against a second implementation, not itself.
Errors: unknown topic, unreachable broker (fails at once), invalid config
name, bad arguments (exit 2). Also: profiles, bash completion (sourced into a
real bash and asked to complete), --help with examples everywhere, and
dump-log on the broker's own partition directory.
"""

import json
import os
import signal
import subprocess
import time
import unittest

import harness

# Every command is bounded; a hang is a failure, not a stuck CI.
COMMAND_TIMEOUT_S = 60


class Cli:
    """Runs `sluice` client commands against one broker."""

    def __init__(self, bootstrap, home):
        self.bootstrap = bootstrap
        self.env = dict(os.environ, HOME=home)
        for name in ("SLUICE_BROKERS", "SLUICE_PROFILE", "SLUICE_PROFILES", "XDG_CONFIG_HOME"):
            self.env.pop(name, None)

    def run(self, *args, stdin=None, brokers=True, env=None, timeout=COMMAND_TIMEOUT_S):
        cmd = [harness.CONFIG["sluice"]] + list(args)
        if brokers:
            cmd += ["--brokers", self.bootstrap]
        proc = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout,
                              env=dict(self.env, **(env or {})))
        return proc

    def ok(self, *args, **kwargs):
        proc = self.run(*args, **kwargs)
        if proc.returncode != 0:
            raise AssertionError("sluice %s failed (%d): %s%s" % (
                " ".join(args), proc.returncode, proc.stderr.decode(errors="replace"),
                proc.stdout.decode(errors="replace")[-2000:]))
        return proc.stdout.decode()

    def json(self, *args, **kwargs):
        return json.loads(self.ok(*(list(args) + ["--format", "json"]), **kwargs))

    def fails(self, *args, **kwargs):
        proc = self.run(*args, **kwargs)
        if proc.returncode == 0:
            raise AssertionError("sluice %s succeeded, expected a failure: %s" % (
                " ".join(args), proc.stdout.decode(errors="replace")[-2000:]))
        return proc.returncode, proc.stderr.decode(errors="replace")


class CliTestCase(harness.BrokerTestCase):
    BROKER_NAME = "cli"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.home = harness.make_temp_dir("sluice-cli-home-")
        cls.cli = Cli(cls.bootstrap, cls.home)


class HelpAndCompletionTest(CliTestCase):
    COMMANDS = [
        ["topic", "create"], ["topic", "list"], ["topic", "describe"], ["topic", "delete"],
        ["topic", "alter-config"], ["topic", "add-partitions"], ["topic", "trim"],
        ["produce"], ["consume"],
        ["group", "list"], ["group", "describe"], ["group", "reset-offsets"],
        ["group", "delete"], ["group", "delete-offsets"],
        ["cluster", "info"], ["cluster", "health"], ["cluster", "config", "get"],
        ["cluster", "config", "set"],
        ["bench", "produce"], ["bench", "consume"], ["bench", "latency"],
        ["dump-log"], ["profile", "list"], ["completion"],
    ]

    def test_every_command_has_help_with_examples(self):
        top = self.cli.ok("--help", brokers=False)
        for family in ("topic", "produce", "consume", "group", "cluster", "bench", "dump-log"):
            self.assertIn(family, top)
        for command in self.COMMANDS:
            text = self.cli.ok(*(command + ["--help"]), brokers=False)
            self.assertIn("Usage:", text, command)
            if command[0] != "profile":
                self.assertIn("Examples:", text, command)

    def test_bash_completion_completes_commands_and_options(self):
        script = self.cli.ok("completion", "bash", brokers=False)
        path = os.path.join(self.home, "sluice.bash")
        with open(path, "w") as f:
            f.write(script)

        def complete(*words):
            line = ("source %s; COMP_WORDS=(%s); COMP_CWORD=%d; _sluice; "
                    "echo \"${COMPREPLY[*]}\"") % (
                path, " ".join("'%s'" % w for w in words), len(words) - 1)
            out = subprocess.run(["bash", "-c", line], capture_output=True, timeout=30)
            self.assertEqual(out.returncode, 0, out.stderr)
            return out.stdout.decode().split()

        self.assertEqual(complete("sluice", "top"), ["topic"])
        self.assertIn("reset-offsets", complete("sluice", "group", ""))
        self.assertIn("--partitions", complete("sluice", "topic", "create", "--part"))
        # Global options complete after a subcommand too.
        self.assertIn("--brokers", complete("sluice", "topic", "list", "--bro"))

    def test_bad_arguments_exit_2_with_a_message(self):
        proc = self.cli.run("topic", "frobnicate", brokers=False)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        proc = self.cli.run("topic", "create", "x", "--partitions", "many", brokers=False)
        self.assertEqual(proc.returncode, 2)
        self.assertIn(b"partitions", proc.stderr)
        proc = self.cli.run("--format", "xml", "topic", "list")
        self.assertEqual(proc.returncode, 2)


class ConnectionTest(CliTestCase):
    def test_unreachable_broker_fails_fast_with_a_clear_message(self):
        port = harness.free_port()
        for command in (["topic", "list"], ["cluster", "info"], ["group", "list"],
                        ["consume", "t", "-c", "1"], ["produce", "t"]):
            started = time.monotonic()
            proc = self.cli.run(*command, "--brokers", "127.0.0.1:%d" % port, brokers=False,
                                stdin=b"")
            elapsed = time.monotonic() - started
            self.assertEqual(proc.returncode, 1, (command, proc.stderr))
            message = proc.stderr.decode()
            self.assertIn("cannot reach", message, command)
            self.assertIn("--brokers", message, command)
            self.assertEqual(message.count("\n"), 1, message)
            # Not a timing assertion on performance: a hang would take the
            # whole request timeout (10 s) or forever.
            self.assertLess(elapsed, 8, command)

    def test_profiles_pick_brokers_and_settings(self):
        config = os.path.join(self.home, ".config", "sluice")
        os.makedirs(config, exist_ok=True)
        with open(os.path.join(config, "profiles"), "w") as f:
            f.write("default = nowhere\n[nowhere]\nbrokers = 127.0.0.1:%d\n"
                    "[it]\nbrokers = %s\nclient.id = cli-it\n" % (harness.free_port(),
                                                                  self.bootstrap))
        try:
            # The default profile points nowhere...
            code, message = self.cli.fails("topic", "list", brokers=False)
            self.assertIn("cannot reach", message)
            # ...$SLUICE_BROKERS beats it, --profile beats the environment.
            self.cli.ok("topic", "list", brokers=False, env={"SLUICE_BROKERS": self.bootstrap})
            self.cli.ok("--profile", "it", "topic", "list", brokers=False,
                        env={"SLUICE_BROKERS": "127.0.0.1:1"})
            shown = self.cli.json("profile", "show", "--profile", "it", brokers=False)
            self.assertEqual(shown["brokers"], self.bootstrap)
            self.assertEqual(shown["client_properties"], {"client.id": "cli-it"})
            listed = self.cli.json("profile", "list", brokers=False)
            self.assertEqual([(p["name"], p["default"]) for p in listed["profiles"]],
                             [("nowhere", True), ("it", False)])
            code, message = self.cli.fails("--profile", "nope", "topic", "list", brokers=False)
            self.assertIn('unknown profile "nope"', message)
        finally:
            os.remove(os.path.join(config, "profiles"))


def table_column(table, key_column, value_column):
    """{key: value} of two columns of a table `sluice` printed for people."""
    lines = [line for line in table.splitlines() if line.strip()]
    for i, line in enumerate(lines):
        headers = line.split()
        if key_column in headers and value_column in headers:
            k, v = headers.index(key_column), headers.index(value_column)
            rows = [row.split() for row in lines[i + 1:]]
            return {row[k]: row[v] for row in rows if len(row) == len(headers)}
    raise AssertionError("no %s/%s columns in:\n%s" % (key_column, value_column, table))


def ck_produce(bootstrap, topic, records):
    """Produces (key, value) pairs with confluent_kafka, the reference client."""
    from confluent_kafka import Producer
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all",
                         "partitioner": "murmur2_random"})
    for key, value in records:
        producer.produce(topic, key=key, value=value)
    remaining = producer.flush(30)
    if remaining:
        raise AssertionError("%d records not delivered" % remaining)


class TopicFlowTest(CliTestCase):
    """create -> describe -> produce -> consume -> group -> lag -> reset -> delete."""

    def test_the_whole_flow(self):
        cli = self.cli
        created = cli.json("topic", "create", "orders", "-p", "3", "-c", "retention.ms=3600000")
        self.assertEqual(created["topics"][0]["name"], "orders")
        self.assertEqual(created["topics"][0]["partitions"], 3)
        self.assertIn("orders", cli.ok("topic", "list"))
        self.assertIn("orders", [t["name"] for t in cli.json("topic", "list")["topics"]])

        # Keyed text records, key separator ':', one static header.
        lines = "".join("k%d:v%d\n" % (i % 10, i) for i in range(300))
        cli.ok("produce", "orders", "-K", ":", "-H", "source=cli", stdin=lines.encode())
        described = cli.json("topic", "describe", "orders")["topics"][0]
        self.assertEqual(described["partition_count"], 3)
        ends = {p["partition"]: p["end_offset"] for p in described["partitions"]}
        self.assertEqual(sum(ends.values()), 300)
        self.assertTrue(all(p["size_bytes"] > 0 for p in described["partitions"] if ends[p["partition"]]))
        retention = [c for c in described["configs"] if c["name"] == "retention.ms"][0]
        self.assertEqual((retention["value"], retention["source"]),
                         ("3600000", "DYNAMIC_TOPIC_CONFIG"))
        # The table shows the same end offsets.
        table = cli.ok("topic", "describe", "orders")
        for partition, end in ends.items():
            self.assertRegex(table, r"(?m)^\s*%d\s+.*\b%d\b" % (partition, end))

        # Another client reads what `sluice produce` wrote: keys, values,
        # header, and the partition the Java client's murmur2 picks.
        got = harness.ck_read_all(self.bootstrap, "orders")
        self.assertEqual(len(got), 300)
        by_key = {}
        for m in got:
            self.assertEqual(m.headers(), [("source", b"cli")])
            by_key.setdefault(m.key(), set()).add(m.partition())
        self.assertTrue(all(len(parts) == 1 for parts in by_key.values()), by_key)
        values = sorted(int(m.value()[1:]) for m in got)
        self.assertEqual(values, list(range(300)))

        # sluice consume: JSON lines, a template, from an offset, relative, count.
        out = cli.ok("consume", "orders", "-o", "beginning", "-e", "--format", "json")
        records = [json.loads(line) for line in out.splitlines()]
        self.assertEqual(len(records), 300)
        self.assertEqual({r["topic"] for r in records}, {"orders"})
        self.assertEqual(records[0]["headers"], {"source": "cli"})
        out = cli.ok("consume", "orders", "-p", "0", "-o", "-5", "-e", "-f", "%p/%o %k=%v\n")
        self.assertEqual(len(out.splitlines()), min(5, ends[0]))
        self.assertTrue(all(line.startswith("0/") for line in out.splitlines()))
        out = cli.ok("consume", "orders", "-o", "beginning", "-c", "7", "-f", "%v\n")
        self.assertEqual(len(out.splitlines()), 7)

        # A consuming group commits exactly what it printed: 100, then the
        # other 200 (lag 0); 20 more records then show up as lag 20.
        out = cli.ok("consume", "orders", "-g", "billing", "-o", "beginning", "-c", "100",
                     "-f", "%v\n")
        self.assertEqual(len(out.splitlines()), 100)
        offsets = cli.json("group", "describe", "billing")["groups"][0]["offsets"]
        self.assertEqual(sum(o["committed_offset"] for o in offsets), 100)
        out = cli.ok("consume", "orders", "-g", "billing", "-c", "200", "-f", "%v\n")
        self.assertEqual(len(out.splitlines()), 200)
        group = cli.json("group", "describe", "billing")["groups"][0]
        self.assertEqual(group["total_lag"], 0)
        self.assertEqual(sum(o["committed_offset"] for o in group["offsets"]), 300)
        cli.ok("produce", "orders", "-p", "1", stdin=b"".join(b"x%d\n" % i for i in range(20)))
        group = cli.json("group", "describe", "billing")["groups"][0]
        self.assertEqual(group["total_lag"], 20)
        lag = {o["partition"]: o["lag"] for o in group["offsets"]}
        self.assertEqual(lag, {0: 0, 1: 20, 2: 0})
        # The table carries the same lag, in its LAG column.
        self.assertEqual(table_column(cli.ok("group", "describe", "billing"), "PARTITION", "LAG"),
                         {str(p): str(v) for p, v in lag.items()})
        self.assertIn("billing", [g["group"] for g in cli.json("group", "list")["groups"]])

        # reset-offsets: a dry run changes nothing, --execute does.
        plan = cli.json("group", "reset-offsets", "billing", "--topic", "orders", "--to-earliest")
        self.assertFalse(plan["executed"])
        self.assertEqual({p["new_offset"] for p in plan["partitions"]}, {0})
        self.assertEqual(table_column(cli.ok("group", "reset-offsets", "billing", "--topic",
                                             "orders", "--to-earliest"),
                                      "PARTITION", "NEW-OFFSET"),
                         {"0": "0", "1": "0", "2": "0"})
        self.assertEqual(cli.json("group", "describe", "billing")["groups"][0]["total_lag"], 20)
        cli.ok("group", "reset-offsets", "billing", "--topic", "orders", "--to-earliest",
               "--execute")
        self.assertEqual(cli.json("group", "describe", "billing")["groups"][0]["total_lag"], 320)
        cli.ok("group", "reset-offsets", "billing", "--topic", "orders:1", "--shift-by", "5",
               "--execute")
        self.assertEqual(cli.json("group", "describe", "billing")["groups"][0]["total_lag"], 315)
        # The group resumes where the reset put it.
        out = cli.ok("consume", "orders", "-g", "billing", "-c", "315", "-f", "%p %o\n")
        read = [tuple(map(int, line.split())) for line in out.splitlines()]
        self.assertEqual(len(read), 315)
        self.assertEqual(min(o for p, o in read if p == 1), 5)
        self.assertEqual(cli.json("group", "describe", "billing")["groups"][0]["total_lag"], 0)

        cli.ok("group", "delete", "billing")
        self.assertNotIn("billing", [g["group"] for g in cli.json("group", "list")["groups"]])
        cli.ok("topic", "delete", "orders")
        self.assertNotIn("orders", [t["name"] for t in cli.json("topic", "list")["topics"]])

    def test_consume_reads_what_another_client_wrote(self):
        cli = self.cli
        cli.ok("topic", "create", "from-ck", "-p", "2")
        records = [(b"key-%d" % i, b"value \x01 %d" % i) for i in range(50)]
        ck_produce(self.bootstrap, "from-ck", records)
        out = cli.ok("consume", "from-ck", "-o", "beginning", "-e", "--format", "json")
        got = sorted((r["key"], r["value"]) for r in map(json.loads, out.splitlines()))
        self.assertEqual(got, sorted((k.decode(), v.decode()) for k, v in records))
        # From a timestamp: everything is older than now + 1 h, nothing newer.
        late = int(time.time() * 1000) + 3600 * 1000
        out = cli.ok("consume", "from-ck", "-o", "@%d" % late, "-e")
        self.assertEqual(out, "")

    def test_json_input(self):
        cli = self.cli
        cli.ok("topic", "create", "json-in", "-p", "1")
        lines = [json.dumps({"key": "a", "value": "one", "headers": {"h": "1"}}),
                 json.dumps({"key": None, "value": {"nested": [1, 2]}})]
        cli.ok("produce", "json-in", "--format", "json", stdin=("\n".join(lines) + "\n").encode())
        out = cli.ok("consume", "json-in", "-o", "beginning", "-e", "--format", "json")
        records = [json.loads(line) for line in out.splitlines()]
        self.assertEqual([(r["key"], r["value"]) for r in records],
                         [("a", "one"), (None, '{"nested":[1,2]}')])
        self.assertEqual(records[0]["headers"], {"h": "1"})
        code, message = cli.fails("produce", "json-in", "--format", "json", stdin=b"{nope\n")
        self.assertIn("line 1", message)

    def test_consume_stops_cleanly_on_ctrl_c_and_commits_what_it_printed(self):
        self.cli.ok("topic", "create", "idle", "-p", "1")
        self.cli.ok("produce", "idle", stdin=b"first\n")
        proc = subprocess.Popen([harness.CONFIG["sluice"], "consume", "idle", "-g", "ctrl-c",
                                 "--brokers", self.bootstrap], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=self.cli.env)
        try:
            # Once the record is printed the consumer is running; then Ctrl-C.
            self.assertEqual(proc.stdout.readline(), b"first\n")
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
            self.assertEqual(proc.returncode, 0, proc.stderr.read())
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        offsets = self.cli.json("group", "describe", "ctrl-c")["groups"][0]["offsets"]
        self.assertEqual([(o["partition"], o["committed_offset"]) for o in offsets], [(0, 1)])

    def test_admin_commands(self):
        cli = self.cli
        cli.ok("topic", "create", "admin-t", "-p", "2")
        cli.ok("topic", "alter-config", "admin-t", "--set", "retention.bytes=1048576")
        configs = cli.json("topic", "describe", "admin-t", "--non-default")["topics"][0]["configs"]
        self.assertIn(("retention.bytes", "1048576"), [(c["name"], c["value"]) for c in configs])
        cli.ok("topic", "alter-config", "admin-t", "--delete", "retention.bytes")
        configs = cli.json("topic", "describe", "admin-t", "--non-default")["topics"][0]["configs"]
        self.assertNotIn("retention.bytes", [c["name"] for c in configs])

        grown = cli.json("topic", "add-partitions", "admin-t", "--total", "4")
        self.assertEqual((grown["partitions_before"], grown["partitions_after"]), (2, 4))
        self.assertEqual(cli.json("topic", "describe", "admin-t")["topics"][0]["partition_count"], 4)

        cli.ok("produce", "admin-t", "-p", "0", stdin=b"".join(b"r%d\n" % i for i in range(10)))
        trimmed = cli.json("topic", "trim", "admin-t", "-p", "0", "--offset", "4")
        self.assertEqual(trimmed["partitions"], [{"partition": 0, "start_offset": 4}])
        parts = cli.json("topic", "describe", "admin-t")["topics"][0]["partitions"]
        self.assertEqual((parts[0]["start_offset"], parts[0]["end_offset"]), (4, 10))

        info = cli.json("cluster", "info", "--versions")
        self.assertEqual(len(info["brokers"]), 1)
        self.assertEqual(info["brokers"][0]["port"], self.broker.port)
        self.assertIn("Produce", {v["api"] for v in info["api_versions"]})
        health = cli.json("cluster", "health")
        self.assertTrue(health["healthy"])
        self.assertEqual(health["offline_partitions"], [])
        cli.ok("cluster", "config", "set", "log.retention.ms=7200000")
        got = cli.json("cluster", "config", "get", "log.retention.ms")["configs"]
        self.assertEqual(got[0]["value"], "7200000")

    def test_errors_say_what_went_wrong(self):
        cli = self.cli
        code, message = cli.fails("topic", "describe", "no-such-topic")
        self.assertEqual(code, 1)
        self.assertIn('"no-such-topic" does not exist', message)
        # Asking about it did not create it.
        self.assertNotIn("no-such-topic", [t["name"] for t in cli.json("topic", "list")["topics"]])
        code, message = cli.fails("consume", "no-such-topic", "-e")
        self.assertIn("no-such-topic", message)
        code, message = cli.fails("produce", "no-such-topic", stdin=b"x\n")
        self.assertIn("no-such-topic", message)
        code, message = cli.fails("topic", "create", "bad-config", "-c", "nope.nope=1")
        self.assertIn("nope.nope", message)
        code, message = cli.fails("topic", "create", "bad/name")
        self.assertIn("bad/name", message)
        code, message = cli.fails("group", "describe", "no-such-group")
        self.assertIn("no-such-group", message)
        cli.ok("topic", "create", "err-t", "-p", "1")
        code, message = cli.fails("topic", "alter-config", "err-t", "--set", "nope.nope=1")
        self.assertIn("nope.nope", message)
        code, message = cli.fails("cluster", "config", "set", "nope.nope=1")
        self.assertIn("nope.nope", message)

    def test_every_error_is_one_line_with_status_1(self):
        cli = self.cli
        for command in (["topic", "describe", "no-such-topic"],
                        ["consume", "no-such-topic", "-e"],
                        ["topic", "create", "bad-config2", "-c", "nope.nope=1"],
                        ["group", "describe", "no-such-group"],
                        ["topic", "trim", "no-such-topic", "--offset", "1"],
                        ["dump-log", "/nonexistent/x.log"]):
            code, message = cli.fails(*command, stdin=b"")
            self.assertEqual(code, 1, command)
            self.assertTrue(message.startswith("sluice: "), (command, message))
            self.assertEqual(message.count("\n"), 1, (command, message))


class StalledBrokerTest(CliTestCase):
    """A consumer whose coordinator stops answering (SIGSTOP) still ends on
    Ctrl-C, within its --timeout, instead of waiting forever to commit."""

    def test_consume_with_a_group_ends_when_the_broker_stalls(self):
        self.cli.ok("topic", "create", "stall", "-p", "1")
        self.cli.ok("produce", "stall", stdin=b"one\n")
        proc = subprocess.Popen([harness.CONFIG["sluice"], "consume", "stall", "-g", "stall",
                                 "--timeout", "3", "--brokers", self.bootstrap],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.cli.env)
        try:
            self.assertEqual(proc.stdout.readline(), b"one\n")
            os.kill(self.broker.pid, signal.SIGSTOP)
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)
            # The commit could not be confirmed: a failure, said so.
            self.assertEqual(proc.returncode, 1)
            self.assertIn(b"in time", proc.stderr.read())
        finally:
            os.kill(self.broker.pid, signal.SIGCONT)
            if proc.poll() is None:
                proc.kill()
                proc.wait()


class DumpLogTest(CliTestCase):
    def test_dump_log_reads_the_brokers_partition_directory(self):
        cli = self.cli
        cli.ok("topic", "create", "dumped", "-p", "1")
        cli.ok("produce", "dumped", "-z", "gzip",
               stdin=b"".join(b"%s\n" % (b"compressible " * 40) for _ in range(30)))
        directory = os.path.join(self.broker.data_dir, "dumped-0")
        dump = cli.json("dump-log", directory, "--records", brokers=False)
        log = [f for f in dump["files"] if f["type"] == "log"][0]
        self.assertIsNone(log["error"])
        self.assertTrue(all(b["crc_valid"] for b in log["batches"]))
        self.assertEqual(sum(b["count"] for b in log["batches"]), 30)
        self.assertIn("gzip", {b["compression"] for b in log["batches"]})
        cli.ok("dump-log", directory, "--verify", brokers=False)
        code, message = cli.fails("dump-log", os.path.join(directory, "nope.log"), brokers=False)
        self.assertIn("nope.log", message)


class BenchTest(CliTestCase):
    def test_bench_modes_report_summaries(self):
        cli = self.cli
        produced = cli.json("bench", "produce", "bench-t", "--records", "20000", "--size", "100",
                            "--partitions", "2")
        self.assertEqual((produced["delivered"], produced["failed"]), (20000, 0))
        self.assertGreater(produced["records_per_s"], 0)
        self.assertLessEqual(produced["p50_ms"], produced["p99_ms"])
        self.assertLessEqual(produced["p99_ms"], produced["max_ms"])
        consumed = cli.json("bench", "consume", "bench-t", "--records", "20000")
        self.assertEqual(consumed["consumed"], 20000)
        latency = cli.json("bench", "latency", "bench-lat", "--rate", "2000", "--duration", "2",
                           "--warmup", "0.5")
        self.assertGreater(latency["measured"], 0)
        self.assertEqual(latency["failed"], 0)
        # People get a table and per-second progress lines on stderr.
        proc = cli.run("bench", "produce", "bench-t", "--duration", "2.5", "--rate", "2000")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn(b"records/s", proc.stdout + proc.stderr)


if __name__ == "__main__":
    harness.main()
