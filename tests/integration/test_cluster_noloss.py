"""The randomized no-loss workload (noloss.py) on a real cluster, 3 brokers
and 2 gateways (cluster.py): events published through brokers drawn at
random (PUSH and acknowledged), SSE and WebSocket clients that drop their
connection at random and come back to either gateway with their cursor.
Every client ends with every event of its channels exactly once, in order,
and no reset (history is deep enough that none is justified). Then the same
while one gateway is SIGKILLed: its clients come back to the other one and
resume without loss. Labels: integration, cluster."""
import random
import signal
import unittest

import cluster
import harness as H
import noloss
import wsclient

HISTORY = 5000              # no absence outlives it: any reset is a failure
WORKLOAD = dict(events=3000, clients=30, channels=8, rate=600.0, history_size=HISTORY,
                transports=("sse", wsclient.JSON, "sse", wsclient.MSGPACK))


class ClusterNoLoss(unittest.TestCase):
    def setUp(self):
        self.cluster = cluster.Cluster(self, broker_args=["--history-size", str(HISTORY)])
        self.cluster.wait_sequencing()
        self.live = list(self.cluster.gateways)
        rng = random.Random(noloss.SEED)
        # Each new connection goes to a gateway drawn at random, among those up
        self.base = lambda: rng.choice(self.live).http

    def run_workload(self, during=None):
        c = self.cluster
        totals = noloss.run_workload(self, self.base, c.publish_endpoints(),
                                     c.router_endpoints(), during=during, **WORKLOAD)
        print("\ncluster no-loss (seed %d): %s" % (noloss.SEED, totals))
        self.assertEqual(totals["resets"], 0)
        self.assertGreater(totals["connections"], 3 * totals["clients"])
        return totals

    def resumes(self, gateway):
        return H.metric(gateway.http, "herald_resumes_total")

    def test_clients_move_between_gateways_and_lose_nothing(self):
        self.run_workload()
        # Both gateways served resumes; every non-owner forwarded publishes
        for g in self.cluster.gateways:
            self.assertGreater(self.resumes(g), 0)
        for b in self.cluster.brokers:
            self.assertGreater(H.metric(b.http, "herald_broker_forwarded_total"), 0)
        self.cluster.stop()

    def test_a_gateway_killed_its_clients_resume_at_the_other(self):
        c = self.cluster
        killed, other = c.gateways[1], c.gateways[0]
        seen = {}

        def kill_gateway(publisher):
            H.wait_until(lambda: sum(map(len, publisher.sends.values()))
                         >= 0.4 * publisher.total, 60, "publishing progress")
            m = H.metrics(killed.http)
            seen["connections"] = (m.get("herald_connections", 0)
                                   + m.get("herald_ws_connections", 0))
            seen["resumes before"] = self.resumes(other)
            self.live.remove(killed)            # new connections go to the other
            killed.send_signal(signal.SIGKILL)
            killed.kill()
        self.run_workload(during=kill_gateway)
        # Clients were connected to the gateway killed, and everyone ended
        # complete through the other (run_workload verified each client)
        self.assertGreater(seen["connections"], 0, seen)
        self.assertGreater(self.resumes(other), seen["resumes before"])
        c.stop()


if __name__ == "__main__":
    unittest.main()
