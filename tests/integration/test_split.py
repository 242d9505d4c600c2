"""Split deployment: `herald broker` + `herald gateway --broker XPUB,ROUTER`
over tcp:// behave like `herald run` (docs/architecture.md §1)."""
import unittest

import harness as H


class Split(unittest.TestCase):
    def setUp(self):
        self.broker, self.gw = H.start_split(self)

    def test_ready_lines_name_tcp_endpoints_and_the_gateway_url(self):
        for endpoint in (self.broker.pull, self.broker.router, self.broker.xpub):
            self.assertRegex(endpoint, r"^tcp://127\.0\.0\.1:\d+$")
        self.assertRegex(self.gw.http, r"^http://127\.0\.0\.1:\d+$")
        self.assertEqual(self.gw.ready["broker"], "%s,%s" % (self.broker.xpub, self.broker.router))
        self.assertIsNone(self.broker.ready.get("http"))

    def test_push_to_broker_reaches_sse_client_of_gateway(self):
        client = H.subscribed(self, self.gw.http, ["split"])
        push = H.pusher(self, self.broker.pull)
        for i in range(5):
            push.send({"ch": "split", "data": {"i": i, "s": "ünï"}, "type": "tick"})
        got = [e.json for e in client.wait_events(5)]
        self.assertEqual([e["seq"] for e in got], [1, 2, 3, 4, 5])
        self.assertEqual([e["data"] for e in got], [{"i": i, "s": "ünï"} for i in range(5)])
        self.assertEqual({e["type"] for e in got}, {"tick"})
        self.assertEqual(H.decode_cursor(client.events[-1].id)["positions"],
                         [(got[0]["epoch"], 5)])

    def test_http_publish_on_gateway_is_sequenced_by_broker(self):
        client = H.subscribed(self, self.gw.http, ["hp"])
        r = H.publish(self.gw.http, {"channel": "hp", "data": [1, 2], "id": "once"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["seq"], r.json["duplicate"]), (1, False))
        again = H.publish(self.gw.http, {"channel": "hp", "data": [1, 2], "id": "once"})
        self.assertEqual((again.status, again.json["seq"], again.json["duplicate"]),
                         (200, 1, True))
        arr = H.publish(self.gw.http, [{"channel": "hp", "data": "x"}, {"channel": "hp", "data": "y"}])
        self.assertEqual([x["seq"] for x in arr.json], [2, 3])
        dealer = H.dealer(self, self.broker.router)
        ack = dealer.request({"ch": "hp", "data": "z", "rid": 1})
        self.assertEqual((ack["seq"], ack["epoch"]), (4, r.json["epoch"]))
        got = [e.json for e in client.wait_events(4)]
        self.assertEqual([(e["seq"], e["data"]) for e in got],
                         [(1, [1, 2]), (2, "x"), (3, "y"), (4, "z")])
        self.assertEqual(len(client.events), 4)

    def test_two_gateways_on_one_broker_both_deliver(self):
        gw2 = H.start(self, "gateway", "--broker", "%s,%s" % (self.broker.xpub, self.broker.router))
        H.wait_broker_linked(gw2)
        a = H.subscribed(self, self.gw.http, ["both"])
        b = H.subscribed(self, gw2.http, ["both"])
        self.assertEqual(H.publish(gw2.http, {"channel": "both", "data": 1}).status, 200)
        self.assertEqual(H.publish(self.gw.http, {"channel": "both", "data": 2}).status, 200)
        for client in (a, b):
            self.assertEqual([e.json["data"] for e in client.wait_events(2)], [1, 2])

    def test_readyz_follows_the_broker_connection(self):
        xpub, router, pull = (H.unused_endpoint() for _ in range(3))
        gw = H.start(self, "gateway", "--broker", "%s,%s" % (xpub, router))
        r = H.http("GET", gw.http + "/readyz")
        self.assertEqual((r.status, r.json["error"]), (503, "broker_unavailable"))
        self.assertEqual(H.http("GET", gw.http + "/healthz").status, 200)
        broker = H.start(self, "broker", "--xpub", xpub, "--router", router, "--pull", pull)
        H.wait_broker_linked(gw)
        self.assertEqual(H.http("GET", gw.http + "/readyz").json, {"status": "ready"})
        broker.stop()
        H.wait_until(lambda: H.http("GET", gw.http + "/readyz").status == 503, 10,
                     "readyz to notice the broker is gone")

    def test_gateway_metrics_count_events_from_the_broker(self):
        client = H.subscribed(self, self.gw.http, ["m"])
        push = H.pusher(self, self.broker.pull)
        for i in range(3):
            push.send({"ch": "m", "data": i})
        client.wait_events(3)
        m = H.metrics(self.gw.http)
        self.assertGreaterEqual(m["herald_events_received_total"], 3)
        self.assertEqual(m["herald_events_delivered_total"], 3)
        self.assertEqual(m["herald_connections"], 1)

    def test_gateway_does_not_serve_the_demo_page_by_default(self):
        self.assertEqual(H.http("GET", self.gw.http + "/").status, 404)
        self.assertEqual(H.http("GET", self.gw.http + "/healthz").status, 200)


class GatewayFirst(unittest.TestCase):
    def test_gateway_started_before_broker_delivers_once_broker_is_up(self):
        pull, router, xpub = (H.unused_endpoint() for _ in range(3))
        gw = H.start(self, "gateway", "--broker", "%s,%s" % (xpub, router))
        client = H.sse(self, gw.http, ["early"])
        self.assertEqual(client.status, 200)
        broker = H.start(self, "broker", "--pull", pull, "--router", router, "--xpub", xpub)
        client.wait_subscribed(10)
        r = H.wait_until(lambda: (lambda r: r.status == 200 and r)(
            H.publish(gw.http, {"channel": "early", "data": 1})), 10, "publish to succeed")
        self.assertEqual(r.json["seq"], 1)
        self.assertEqual([e.json["seq"] for e in client.wait_events(1)], [1])
        self.assertTrue(broker.running())


if __name__ == "__main__":
    unittest.main()
