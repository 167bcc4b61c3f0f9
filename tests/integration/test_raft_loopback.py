#!/usr/bin/python3
"""Three raft_node processes (src/raft/tools/raft_node.cc) on loopback, each
with its own data directory, real sockets and fsync: they elect a leader and
commit a load; the leader is killed with SIGKILL, the other two elect a new
one and commit a second load; the killed node restarts on its directory and
catches up as a follower of the new leader.

    test_raft_loopback.py --raft-node PATH [--keep]

Every node is stopped by PID (SIGTERM, then SIGKILL after a bound) and dies
with the test (parent-death signal); every wait is bounded.
"""

import atexit
import json
import os
import signal
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

DEFAULT_PROGRAM = os.path.join(harness.REPO, "build", "release", "src", "raft", "raft_node")

LOAD = 300
CONCURRENCY = 16
STOP_TIMEOUT_S = 10
LOG_TAIL_LINES = 40

_all_nodes = []


class RaftNode:
    """One raft_node process on a data directory that survives restarts."""

    def __init__(self, program, node_id, peers, root):
        self.program = program
        self.id = node_id
        self.peers = peers
        self.dir = os.path.join(root, "node%d" % node_id)
        self.status_path = os.path.join(root, "status%d" % node_id)
        self.log_path = os.path.join(root, "node%d.log" % node_id)
        self.proc = None
        self.log_from = 0
        _all_nodes.append(self)

    def start(self, load=0):
        assert not self.alive(), "node %d is already running" % self.id
        cmd = [self.program, "--id", str(self.id), "--peers", self.peers, "--dir", self.dir,
               "--status-file", self.status_path, "--tick-ms", "10", "--election-ticks", "10"]
        if load:
            cmd += ["--load", str(load), "--concurrency", str(CONCURRENCY), "--value-bytes",
                    "200", "--stay"]
        if os.path.exists(self.status_path):
            os.remove(self.status_path)  # a status from this run only
        with open(self.log_path, "ab") as log:
            log.write(("\n===== %s\n" % " ".join(cmd)).encode())
            self.log_from = log.tell()
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT,
                                         preexec_fn=harness._die_with_parent)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=STOP_TIMEOUT_S)

    def stop(self):
        """SIGTERM; returns the exit status (SIGKILL after a bound)."""
        if not self.alive():
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return "killed after %d s" % STOP_TIMEOUT_S

    def status(self):
        """The status line as a dict of ints (role a string); {} before the first."""
        try:
            with open(self.status_path) as f:
                line = f.read().strip()
        except FileNotFoundError:
            return {}
        fields = dict(item.split("=", 1) for item in line.split())
        return {k: (v if k == "role" else int(v)) for k, v in fields.items()}

    def output(self):
        """This run's output."""
        with open(self.log_path, "rb") as f:
            f.seek(self.log_from)
            return f.read().decode("utf-8", "replace")

    def load_report(self):
        for line in self.output().splitlines():
            if line.startswith("{"):
                return json.loads(line)
        return None

    def log_tail(self):
        with open(self.log_path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
        return "\n".join(lines[-LOG_TAIL_LINES:])


def _stop_all():
    for n in _all_nodes:
        if n.alive():
            n.proc.kill()
            n.proc.wait()


atexit.register(_stop_all)


class RaftLoopbackTest(unittest.TestCase):

    def setUp(self):
        self.program = os.path.abspath(harness.CONFIG["raft_node"])
        if not os.access(self.program, os.X_OK):
            raise AssertionError("no raft_node at %s (build the raft_node target)" % self.program)
        root = harness.make_temp_dir(prefix="sluice-raft-")
        ports = {i: harness.free_port() for i in (1, 2, 3)}
        peers = ",".join("%d=127.0.0.1:%d" % (i, p) for i, p in ports.items())
        self.nodes = {i: RaftNode(self.program, i, peers, root) for i in ports}

    def tearDown(self):
        exits = {i: n.stop() for i, n in self.nodes.items() if n.alive()}
        for i, code in exits.items():
            self.assertEqual(code, 0, "node %d did not exit cleanly on SIGTERM\n%s"
                             % (i, self.nodes[i].log_tail()))

    def describe_nodes(self):
        return "".join("\n--- node %d: %s\n%s\n" % (i, n.status(), n.log_tail())
                       for i, n in self.nodes.items())

    def wait(self, predicate, timeout, what):
        """harness.wait_until, failing at once when a node dies, and with
        every node's status and output in the failure."""
        def checked():
            for i, n in self.nodes.items():
                if n.proc is not None and not n.alive() and n.proc.returncode != -signal.SIGKILL:
                    raise AssertionError("node %d exited with %s" % (i, n.proc.returncode))
            return predicate()
        try:
            return harness.wait_until(checked, timeout, interval=0.05, what=what)
        except AssertionError as e:
            raise AssertionError("%s%s" % (e, self.describe_nodes())) from None

    def agreed_leader(self, ids):
        """The leader every node in `ids` names, when they agree and it says so."""
        statuses = [self.nodes[i].status() for i in ids]
        leaders = {s.get("leader") for s in statuses}
        if len(leaders) != 1:
            return None
        leader = leaders.pop()
        if leader not in ids or self.nodes[leader].status().get("role") != "leader":
            return None
        return leader

    def caught_up(self, ids):
        """All of `ids` hold, have committed and applied the same log."""
        statuses = [self.nodes[i].status() for i in ids]
        if not all(statuses):
            return None
        positions = {(s["last"], s["commit"], s["applied"], s["durable"]) for s in statuses}
        if len(positions) != 1:
            return None
        last, commit, applied, durable = positions.pop()
        return commit if last == commit else None

    def test_elect_commit_kill_leader_recover(self):
        started = time.monotonic()
        for n in self.nodes.values():
            n.start(load=LOAD)
        all_ids = [1, 2, 3]
        first = self.wait(lambda: self.agreed_leader(all_ids), 15, "a leader of three")
        report = self.wait(lambda: self.nodes[first].load_report(), 30,
                           "node %d to commit its load" % first)
        self.assertEqual(report["commits"], LOAD)
        self.assertEqual(report["lost"], 0)
        commit1 = self.wait(lambda: self.caught_up(all_ids), 15, "three equal logs")
        # The load plus the leader's own entries (its no-op, and a previous
        # leader's if there was an election before).
        self.assertGreaterEqual(commit1, LOAD + 1)
        term1 = self.nodes[first].status()["term"]

        self.nodes[first].kill9()
        rest = [i for i in all_ids if i != first]
        second = self.wait(lambda: self.agreed_leader(rest), 15, "a new leader of two")
        self.assertNotEqual(second, first)
        self.assertGreater(self.nodes[second].status()["term"], term1)
        report = self.wait(lambda: self.nodes[second].load_report(), 30,
                           "node %d to commit its load" % second)
        self.assertEqual(report["commits"], LOAD)
        commit2 = self.wait(lambda: self.caught_up(rest), 15, "two equal logs")
        self.assertGreaterEqual(commit2, commit1 + LOAD + 1)

        self.nodes[first].start()  # on its old directory, no load
        self.wait(lambda: self.caught_up(all_ids) == commit2, 20,
                  "node %d to catch up to index %d" % (first, commit2))
        status = self.nodes[first].status()
        self.assertEqual(status["role"], "follower")
        self.assertEqual(status["leader"], second)
        self.assertEqual(self.agreed_leader(all_ids), second)
        self.assertLess(time.monotonic() - started, 90)


if __name__ == "__main__":
    harness.main(extra_args=[("--raft-node", os.environ.get("RAFT_NODE", DEFAULT_PROGRAM))])
