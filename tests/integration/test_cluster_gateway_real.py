"""herald gateway --cluster against real brokers (tests/integration/
cluster.py: 3 brokers, 1 gateway): the gateway sends each publish to its
channel's owner, so no broker has to forward one; it follows the view the
brokers install; when an owner is killed its channels answer `unavailable`
(503, never retried by the gateway) until the new view, then publish again,
and the gateway stays ready on the two brokers left (docs/cluster.md,
"Gateways in a cluster"). Labels: integration, cluster."""
import signal
import time
import unittest

import cluster
import harness as H


class GatewayOnRealBrokers(unittest.TestCase):
    def setUp(self):
        self.cluster = cluster.Cluster(self, brokers=3, gateways=1,
                                       broker_args=["--failover-timeout", "1500ms",
                                                    "--lease", "1s"])
        self.gw = self.cluster.gateways[0]

    def forwarded(self):
        return sum(H.metric(b.http, "herald_broker_forwarded_total")
                   for b in self.cluster.brokers if b.running())

    def publish(self, channel, data, key, timeout=10.0):
        """Publishes at the gateway until 200: `unavailable` (503) while a
        view's owner waits out its fence or a failover; retried with the
        same key. Returns (response, how many 503s came first)."""
        refused = [0]

        def once():
            r = H.publish(self.gw.http, {"channel": channel, "data": data, "id": key})
            if r.status == 503:
                self.assertEqual(r.json["error"], "unavailable", r)
                refused[0] += 1
                return None
            self.assertEqual(r.status, 200, r)
            return r
        return H.wait_until(once, timeout, "a publish of %s" % channel, interval=0.05), refused[0]

    def test_publishes_reach_their_owner_directly(self):
        c = self.cluster
        view = H.http("GET", c.brokers[0].http + "/v1/cluster").json["view"]
        H.wait_until(lambda: H.http("GET", self.gw.http + "/v1/cluster").json["view"] == view,
                     10, "the gateway to follow the brokers' view")
        before = self.forwarded()
        owners = set()
        for n in range(12):
            channel = "direct-%d" % n
            owners.add(c.owner(channel))
            r, _ = self.publish(channel, n, "direct-%d" % n)
            self.assertEqual(r.json["seq"], 1)
        # Every owner of the view (a broker that started late may be held
        # down: a member that owns nothing yet)
        self.assertEqual(len(owners), len(view["owners"]))
        self.assertGreaterEqual(len(owners), 2)
        # Each went to its owner: not one was forwarded between brokers
        self.assertEqual(self.forwarded(), before)

    def test_an_owner_killed_its_channels_answer_unavailable_then_publish_again(self):
        c = self.cluster
        channel = "moved"
        victim = c.owner(channel)
        first, _ = self.publish(channel, "before", "moved-1")
        c.brokers[victim].send_signal(signal.SIGKILL)
        c.brokers[victim].kill()
        killed = time.monotonic()
        H.wait_until(lambda: not H.http("GET", self.gw.http + "/v1/cluster")
                     .json["brokers"][victim]["up"], 10, "the gateway to see the owner gone")
        # Two of three brokers: still ready
        self.assertEqual(H.http("GET", self.gw.http + "/readyz").status, 200)
        r, refused = self.publish(channel, "after", "moved-2", timeout=15)
        elapsed = time.monotonic() - killed
        self.assertNotEqual(r.json["epoch"], first.json["epoch"])
        self.assertEqual(r.json["seq"], 1)
        # The failover timeout, the election delay (under the timeout), the
        # new owner's fence (the lease), and two seconds to spare
        self.assertLess(elapsed, 1.5 + 1.5 + 1 + 2)
        status = H.http("GET", self.gw.http + "/v1/cluster?channel=" + channel).json
        self.assertNotIn(c.ids[victim], status["view"]["members"])
        self.assertNotEqual(status["channel"]["owner"], c.ids[victim])
        print("publishing again %.2f s after the kill, %d publishes refused before"
              % (elapsed, refused))


if __name__ == "__main__":
    unittest.main()
