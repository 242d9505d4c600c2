"""`herald broker --bind-host` (docs/cluster.md, "Running a cluster"): a
cluster file that names brokers by DNS names, as containers and Kubernetes
do (ZeroMQ cannot bind a name), runs with each broker binding its file
ports on --bind-host; without it such a broker cannot start; the flag needs
--cluster; and the exposure check judges the address actually bound."""
import json
import os
import random
import shutil
import socket
import subprocess
import tempfile
import unittest

import harness as H
from cluster import Broker

IDS = ("b1", "b2", "b3")
KINDS = ("publish", "router", "stream", "peer")


def free_ports(n):
    """n loopback ports below the kernel's ephemeral range that nobody
    listens on now (a broker binds them a moment later)."""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low = int(f.read().split()[0])
    ports = set()
    while len(ports) < n:
        p = random.randrange(10000, max(low, 10000 + 1000))
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", p)) != 0:
                ports.add(p)
    return sorted(ports)


class BindHost(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="herald-bind-host-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        ports = iter(free_ports(len(IDS) * len(KINDS)))
        # "localhost": a name, resolved by those who connect; not bindable
        self.nodes = [dict({k: "tcp://localhost:%d" % next(ports) for k in KINDS}, id=b)
                      for b in IDS]
        self.file = os.path.join(self.dir, "cluster.json")
        with open(self.file, "w") as f:
            json.dump({"brokers": self.nodes}, f)

    def broker_argv(self, i, *extra):
        state = os.path.join(self.dir, "state-" + IDS[i])
        os.makedirs(state, exist_ok=True)
        return ["--cluster", self.file, "--id", IDS[i], "--state-dir", state,
                "--http", "127.0.0.1:0", "--hold-down", "2s"] + list(extra)

    def run_broker(self, *args):
        """herald broker that is expected not to start: (status, stderr)."""
        p = subprocess.run([H.herald_binary(), "broker"] + list(args),
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
        return p.returncode, p.stderr.decode("utf-8", "replace")

    def test_names_bound_on_bind_host(self):
        brokers = []
        for i in range(len(IDS)):
            # without the endpoint options: the file gives them
            b = Broker("broker", self.broker_argv(i, "--bind-host", "127.0.0.1"))
            self.addCleanup(b.kill)
            self.addCleanup(b.stop)
            brokers.append(b)
        for i, b in enumerate(brokers):
            port = self.nodes[i]["publish"].rsplit(":", 1)[1]
            self.assertEqual(b.ready["pull"], "tcp://127.0.0.1:" + port)
        gateways = [H.start(self, "gateway", "--cluster", self.file) for _ in range(2)]
        H.wait_until(lambda: all(H.http("GET", p.http + "/readyz").status == 200
                                 for p in brokers + gateways),
                     30, "every broker and gateway ready", interval=0.05)
        view = H.http("GET", brokers[0].http + "/v1/cluster").json["view"]
        self.assertEqual(sorted(view["members"]), list(IDS))
        client = H.subscribed(self, gateways[1].http, ["bound"])

        def published():       # a new view's owner may wait out its lease first
            r = H.publish(gateways[0].http, {"channel": "bound", "data": {"n": 1},
                                             "id": "bound-1"})
            self.assertIn(r.status, (200, 503), r)
            return r.status == 200
        H.wait_until(published, 10, "the publish accepted", interval=0.05)
        client.wait_events(1, timeout=10)
        self.assertEqual(client.envelopes()[0]["data"], {"n": 1})

    def test_name_without_bind_host_refused(self):
        status, err = self.run_broker(*self.broker_argv(0))
        self.assertEqual(status, 1, err)
        self.assertIn("cannot bind", err)
        self.assertIn("tcp://localhost:", err)

    def test_bind_host_needs_cluster(self):
        status, err = self.run_broker("--bind-host", "127.0.0.1")
        self.assertEqual(status, 2, err)
        self.assertIn("--bind-host needs --cluster", err)

    def test_exposure_judged_on_bind_host(self):
        # The file's localhost is loopback, the address bound is not
        status, err = self.run_broker(*self.broker_argv(0, "--bind-host", "0.0.0.0"))
        self.assertEqual(status, 2, err)
        self.assertIn("tcp://0.0.0.0:", err)
        self.assertIn("--insecure", err)


if __name__ == "__main__":
    unittest.main()
