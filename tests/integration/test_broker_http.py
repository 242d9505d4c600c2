"""`herald broker --http HOST:PORT`: a split broker's /healthz, /readyz,
/metrics and /v1/cluster (docs/operations.md, docs/cluster.md "Seeing the
cluster"): its metrics move with traffic (events, CURVE refusals), errors
are the gateway's JSON bodies, and a non-loopback address is refused at
start unless --insecure. The gateway's /v1/cluster in the single form."""
import json
import re
import subprocess
import unittest

import zmq

import harness as H
from test_curve import Certs, envelope

SINGLE = {"cluster": False, "view": {"number": 0, "members": [], "owners": [], "handoff": []},
          "brokers": []}


def herald(*args, timeout=20):
    return subprocess.run([H.herald_binary()] + list(args), capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


class BrokerHttp(unittest.TestCase):
    def setUp(self):
        self.broker = H.start(self, "broker", "--http", "127.0.0.1:0")
        self.url = self.broker.http

    def test_ready_line_names_the_bound_address(self):
        self.assertRegex(self.url, r"^http://127\.0\.0\.1:\d+$")
        self.assertNotEqual(self.url, "http://127.0.0.1:0")
        for endpoint in (self.broker.pull, self.broker.router, self.broker.xpub):
            self.assertRegex(endpoint, r"^tcp://127\.0\.0\.1:\d+$")

    def test_healthz_and_readyz(self):
        r = H.http("GET", self.url + "/healthz")
        self.assertEqual((r.status, r.json), (200, {"status": "ok"}))
        self.assertTrue(r.headers["Content-Type"].startswith("application/json"))
        # Ready once the broker loop runs: its thread starts as "ready" is logged
        r = H.wait_until(lambda: (lambda r: r.status == 200 and r)(
            H.http("GET", self.url + "/readyz")), 5, "/readyz to answer 200")
        self.assertEqual(r.json, {"status": "ready"})

    def test_metrics_are_the_brokers_and_move_with_publishes(self):
        r = H.http("GET", self.url + "/metrics")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8")
        text = r.body.decode()
        for family in ("herald_broker_events_total", "herald_curve_refused_total",
                       "herald_ingest_errors_total", "herald_broker_http_requests_total",
                       "herald_broker_http_errors_total"):
            self.assertIn("# TYPE %s " % family, text)
        # Only the broker's: no gateway in this process
        self.assertNotIn("herald_connections ", text)
        before = H.metric(self.url, "herald_broker_events_total")
        push = H.pusher(self, self.broker.pull)
        for i in range(3):
            push.send({"ch": "m", "data": i})
        H.wait_until(lambda: H.metric(self.url, "herald_broker_events_total") >= before + 3,
                     10, "herald_broker_events_total to count 3 publishes")
        ack = H.dealer(self, self.broker.router).request({"ch": "m", "data": "x", "rid": 1})
        self.assertEqual(ack["seq"], 4)
        self.assertEqual(H.metric(self.url, "herald_broker_events_total"), before + 4)
        # A frame the broker rejects is counted by code
        push.send_raw(b"\xc1")
        H.wait_until(lambda: H.metric(self.url, 'herald_ingest_errors_total{code="bad_msgpack"}')
                     >= 1, 10, "the bad frame counted")

    def test_cluster_is_the_single_broker_form(self):
        r = H.http("GET", self.url + "/v1/cluster")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers["Content-Type"].startswith("application/json"))
        self.assertEqual(r.json, SINGLE)
        r = H.http("GET", self.url + "/v1/cluster?channel=orders.eu")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json, dict(SINGLE, channel={"name": "orders.eu", "owner": None,
                                                       "backup": None}))

    def test_errors_are_json_with_their_status(self):
        r = H.http("GET", self.url + "/nope")
        self.assertEqual((r.status, r.json["error"]), (404, "not_found"))
        self.assertEqual(set(r.json), {"error", "message"})
        r = H.http("GET", self.url + "/v1/sse?channel=x")   # a gateway route, not here
        self.assertEqual(r.status, 404)
        for method, path in (("POST", "/metrics"), ("DELETE", "/v1/cluster"),
                             ("PUT", "/readyz")):
            r = H.http(method, self.url + path, body=b"{}")
            self.assertEqual((r.status, r.json["error"]), (405, "method_not_allowed"), path)
            self.assertEqual(r.headers["Allow"], "GET")
        for channel in ("a%20b", "", "x" * 129, "ab%00c"):
            r = H.http("GET", self.url + "/v1/cluster?channel=" + channel)
            self.assertEqual((r.status, r.json["error"]), (400, "bad_channel"), channel)
        r = H.http("GET", self.url + "/v1/cluster?channel=a&channel=b")
        self.assertEqual((r.status, r.json["error"]), (400, "bad_request"))
        m = H.metrics(self.url)
        self.assertGreaterEqual(m['herald_broker_http_errors_total{code="not_found"}'], 2)
        self.assertGreaterEqual(m['herald_broker_http_errors_total{code="method_not_allowed"}'], 3)
        self.assertGreaterEqual(m['herald_broker_http_errors_total{code="bad_channel"}'], 4)
        # Still serving after all that
        self.assertEqual(H.http("GET", self.url + "/healthz").status, 200)


class BrokerHttpStart(unittest.TestCase):
    def test_non_loopback_is_refused_at_start_unless_insecure(self):
        for address in ("0.0.0.0:0", ":0"):
            r = herald("broker", "--pull", "tcp://127.0.0.1:*", "--router", "tcp://127.0.0.1:*",
                       "--xpub", "tcp://127.0.0.1:*", "--http", address)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("--http %s is not a loopback address" % address, r.stderr)
            self.assertIn("--insecure", r.stderr)
        r = herald("broker", "--http", "127.0.0.1")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--http must be HOST:PORT", r.stderr)
        # --insecure: served on every address, reachable on loopback too
        h = H.start(self, "broker", "--http", "0.0.0.0:0", "--insecure")
        port = re.match(r"^http://0\.0\.0\.0:(\d+)$", h.http).group(1)
        self.assertEqual(H.http("GET", "http://127.0.0.1:%s/healthz" % port).status, 200)

    def test_an_address_in_use_fails_the_start(self):
        first = H.start(self, "broker", "--http", "127.0.0.1:0")
        address = first.http[len("http://"):]
        r = herald("broker", "--pull", "tcp://127.0.0.1:*", "--router", "tcp://127.0.0.1:*",
                   "--xpub", "tcp://127.0.0.1:*", "--http", address, "--log-format", "json")
        self.assertEqual(r.returncode, 1, r.stderr)
        errors = [json.loads(line) for line in r.stderr.splitlines() if line.startswith("{")]
        reasons = [e.get("reason", "") for e in errors if e.get("msg") == "cannot start"]
        self.assertTrue(reasons and "--http: cannot listen on " + address in reasons[0],
                        r.stderr)


class BrokerHttpCurve(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.certs = Certs()

    @classmethod
    def tearDownClass(cls):
        cls.certs.remove()

    def test_curve_refusals_are_counted_on_a_split_broker(self):
        h = H.start(self, "broker", "--http", "127.0.0.1:0", *self.certs.broker_args())
        self.assertEqual(H.metric(h.http, "herald_curve_refused_total"), 0)
        # An unknown key, on PULL and on ROUTER: each handshake refused once
        self.certs.socket(self, zmq.PUSH, h.pull, "mallory").send(envelope("c", "m"))
        self.certs.socket(self, zmq.DEALER, h.router, "mallory").send(envelope("c", "m"))
        H.wait_until(lambda: H.metric(h.http, "herald_curve_refused_total") >= 2, 10,
                     "herald_curve_refused_total to count both refused handshakes")
        # An allowed client still publishes, and is counted as an event
        self.certs.socket(self, zmq.PUSH, h.pull, "alice").send(envelope("c", "a"))
        H.wait_until(lambda: H.metric(h.http, "herald_broker_events_total") == 1, 10,
                     "alice's event sequenced")


class GatewayCluster(unittest.TestCase):
    def test_gateway_answers_the_single_broker_form(self):
        _, gw = H.start_split(self)
        r = H.http("GET", gw.http + "/v1/cluster")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json, SINGLE)
        r = H.http("GET", gw.http + "/v1/cluster?channel=orders")
        self.assertEqual(r.json, dict(SINGLE, channel={"name": "orders", "owner": None,
                                                       "backup": None}))
        r = H.http("GET", gw.http + "/v1/cluster?channel=a%20b")
        self.assertEqual((r.status, r.json["error"]), (400, "bad_channel"))
        r = H.http("POST", gw.http + "/v1/cluster", body={})
        self.assertEqual(r.status, 405)


if __name__ == "__main__":
    unittest.main()
