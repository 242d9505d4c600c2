"""deploy/local-cluster.sh (docs/cluster.md, "A cluster on one machine"):
start 3 brokers and 2 gateways with this build's binary, check cluster.env
and that each PID is that herald process, publish through brokers and read
at gateways, `status`, a second `start` refused while it runs, `stop` leaves
no process, a second `stop` is fine. Labels: integration, cluster.

The script picks free tcp ports itself (the cluster file it writes names
them), so unlike the other cluster tests this one uses tcp://, as a user
would."""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import unittest

import zmq

import harness as H

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy",
                      "local-cluster.sh")
BROKER_KEYS = ("PUBLISH", "ROUTER", "STREAM", "PEER", "HTTP", "PID")
GATEWAY_KEYS = ("HTTP", "PID")


def alive(pid):
    """The process exists and is no zombie (a stopped cluster's processes
    may wait a moment for their new parent to reap them)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def command_line(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        return [a.decode() for a in f.read().split(b"\0")[:-1]]


class LocalCluster(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="herald-local-cluster-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.addCleanup(self.kill_leftovers)
        self.addCleanup(self.script, "stop", check=False)

    def script(self, command, *args, check=True, timeout=90):
        p = subprocess.run([SCRIPT, command, "--dir", self.dir] + list(args),
                           capture_output=True, text=True, timeout=timeout)
        if check:
            self.assertEqual(p.returncode, 0, "%s: %s%s" % (command, p.stdout, p.stderr))
        return p

    def kill_leftovers(self):
        """Last resort if stop failed: the PIDs the script recorded, only
        while they still run this cluster's file."""
        try:
            with open(os.path.join(self.dir, "pids")) as f:
                pids = [int(line.split()[1]) for line in f if line.strip()]
        except OSError:
            return
        for pid in pids:
            if alive(pid) and os.path.join(self.dir, "cluster.json") in command_line(pid):
                os.kill(pid, signal.SIGKILL)

    def env(self):
        with open(os.path.join(self.dir, "cluster.env")) as f:
            lines = [line.rstrip("\n") for line in f if line.strip()]
        pairs = [line.split("=", 1) for line in lines]
        self.assertTrue(all(len(p) == 2 for p in pairs), lines)
        return dict(pairs)

    def test_start_publish_status_stop(self):
        herald = H.herald_binary()
        started = self.script("start", "--brokers", "3", "--gateways", "2", "--herald", herald)
        env = self.env()
        expected = {"HERALD_CLUSTER_FILE"}
        expected |= {"HERALD_BROKER_%d_%s" % (i, k) for i in (1, 2, 3) for k in BROKER_KEYS}
        expected |= {"HERALD_GATEWAY_%d_%s" % (j, k) for j in (1, 2) for k in GATEWAY_KEYS}
        self.assertEqual(set(env), expected)
        for i in (1, 2, 3):
            for k in ("PUBLISH", "ROUTER", "STREAM", "PEER"):
                self.assertRegex(env["HERALD_BROKER_%d_%s" % (i, k)], r"^tcp://127\.0\.0\.1:\d+$")
            self.assertRegex(env["HERALD_BROKER_%d_HTTP" % i], r"^http://127\.0\.0\.1:\d+$")
        for j in (1, 2):
            self.assertRegex(env["HERALD_GATEWAY_%d_HTTP" % j], r"^http://127\.0\.0\.1:\d+$")
        # The addresses printed are those of cluster.env
        for key in ("HERALD_BROKER_1_PUBLISH", "HERALD_GATEWAY_2_HTTP", "HERALD_CLUSTER_FILE"):
            self.assertIn(env[key], started.stdout)
        # Each PID is the herald binary itself, running its part of this cluster
        pids = {}
        for kind, n, role in [("BROKER", i, "broker") for i in (1, 2, 3)] + \
                             [("GATEWAY", j, "gateway") for j in (1, 2)]:
            pid = int(env["HERALD_%s_%d_PID" % (kind, n)])
            self.assertTrue(alive(pid), "%s %d pid %d" % (role, n, pid))
            self.assertEqual(os.path.realpath("/proc/%d/exe" % pid), os.path.realpath(herald))
            argv = command_line(pid)
            self.assertEqual(argv[1], role, argv)
            self.assertIn(env["HERALD_CLUSTER_FILE"], argv)
            if role == "broker":
                self.assertEqual(argv[argv.index("--id") + 1], "b%d" % n, argv)
            pids["%s-%d" % (role, n)] = pid
        # Ready means ready: every gateway and every broker answers /readyz 200
        for key in ("HERALD_GATEWAY_1_HTTP", "HERALD_GATEWAY_2_HTTP",
                    "HERALD_BROKER_1_HTTP", "HERALD_BROKER_2_HTTP", "HERALD_BROKER_3_HTTP"):
            self.assertEqual(H.http("GET", env[key] + "/readyz").status, 200, key)
        g1, g2 = env["HERALD_GATEWAY_1_HTTP"], env["HERALD_GATEWAY_2_HTTP"]
        at_g1 = H.subscribed(self, g1, ["local"])
        at_g2 = H.subscribed(self, g2, ["local"])
        # An acknowledged publish through broker 3's ROUTER reaches gateway 1
        # (retried with its key while the first view waits out its fence)
        dealer = H.dealer(self, env["HERALD_BROKER_3_ROUTER"])
        rid = [0]

        def acked():
            rid[0] += 1
            r = dealer.request({"ch": "local", "data": "acked", "rid": rid[0], "id": "k1"})
            self.assertIn(r.get("error"), (None, "unavailable"), r)
            return r if "seq" in r else None
        ack = H.wait_until(acked, 10, "an ack through broker 3", interval=0.05)
        self.assertEqual(ack["seq"], 1, ack)
        first = at_g1.wait_events(1)[0].json
        self.assertEqual((first["seq"], first["epoch"], first["data"]),
                         (1, ack["epoch"], "acked"))
        # A PUSH to broker 1's PUBLISH endpoint reaches a client at gateway 2
        H.pusher(self, env["HERALD_BROKER_1_PUBLISH"]).send({"ch": "local", "data": "pushed"})
        got = [e.json for e in at_g2.wait_events(2)]
        self.assertEqual([(e["seq"], e["data"]) for e in got], [(1, "acked"), (2, "pushed")])
        # status: each process up
        status = self.script("status")
        for name, pid in pids.items():
            self.assertIn("%s pid %d up" % (name, pid), status.stdout)
        self.assertEqual(len(status.stdout.strip().splitlines()), 5, status.stdout)
        # A second start while it runs is refused, and changes nothing
        again = self.script("start", "--herald", herald, check=False)
        self.assertEqual(again.returncode, 1, again.stdout + again.stderr)
        self.assertIn("already running", again.stderr)
        self.assertEqual(self.env(), env)
        self.assertTrue(all(alive(pid) for pid in pids.values()))
        # stop: every process gone, each exited on SIGTERM (no sanitizer report)
        self.script("stop")
        self.assertEqual([n for n, pid in pids.items() if alive(pid)], [])
        for name in pids:
            with open(os.path.join(self.dir, name + ".log")) as f:
                log = f.read()
            self.assertIsNone(next((m for m in H.SANITIZER_MARKERS if m in log), None), log)
            self.assertIn("stopping", log)
        status = self.script("status", check=False)
        self.assertEqual(status.returncode, 1)
        for name, pid in pids.items():
            self.assertIn("%s pid %d down" % (name, pid), status.stdout)
        self.script("stop")                     # nothing left to stop: still 0

    def test_bad_arguments(self):
        for args, why in ((["--brokers", "x"], "--brokers must be a number"),
                          (["--brokers", "0"], "--brokers must be 1 to 16"),
                          (["--herald", os.path.join(self.dir, "none")], "not an executable"),
                          (["--frobnicate"], "unknown argument")):
            p = self.script("start", *args, check=False)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn(why, p.stderr)
        p = self.script("status", check=False)
        self.assertEqual((p.returncode, p.stdout.strip()), (1, "no cluster in %s" % self.dir))
        self.assertFalse(re.search(r"pid \d+", p.stdout))


if __name__ == "__main__":
    unittest.main()
