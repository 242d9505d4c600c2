"""Operations endpoints: /healthz, /metrics, CORS and the demo page
(docs/protocol.md §8)."""
import re
import unittest

import harness as H

SAMPLE = re.compile(r'^[a-z_][a-z0-9_]*(\{[a-z_]+="[^"]*"\})? -?\d+$')
FAMILIES = ["herald_connections", "herald_subscriptions", "herald_events_received_total",
            "herald_events_delivered_total", "herald_http_requests_total",
            "herald_broker_events_total", "herald_ingest_errors_total", "herald_errors_total"]


class Health(unittest.TestCase):
    def setUp(self):
        self.h = H.start(self, "run")

    def test_healthz_is_200_status_ok(self):
        r = H.http("GET", self.h.http + "/healthz")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers["Content-Type"].startswith("application/json"))
        self.assertEqual(r.json, {"status": "ok"})

    def test_readyz_is_200_in_run(self):
        # One process: the workers reach the broker over inproc://, which
        # has no connection events (it answered 503 forever)
        r = H.wait_until(lambda: (lambda r: r.status == 200 and r)(
            H.http("GET", self.h.http + "/readyz")), 5, "/readyz to answer 200")
        self.assertEqual(r.json, {"status": "ready"})

    def test_log_lines_dropped_by_the_rate_limit_are_counted(self):
        self.assertIn("herald_log_suppressed_total", H.metrics(self.h.http))
        # Each 404 logs a rate-limited line: bursts of 40 exceed its 10 a
        # second per thread (burst after burst on a slow machine)
        def burst_then_count():
            for _ in range(40):
                self.assertEqual(H.http("GET", self.h.http + "/nope").status, 404)
            return H.metric(self.h.http, "herald_log_suppressed_total") >= 1
        H.wait_until(burst_then_count, 20, "herald_log_suppressed_total to count dropped lines")

    def test_metrics_is_prometheus_text(self):
        r = H.http("GET", self.h.http + "/metrics")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8")
        text = r.body.decode()
        self.assertTrue(text.endswith("\n"))
        typed = {}
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(" ")
                self.assertIn(kind, ("counter", "gauge"))
                self.assertNotIn(name, typed, "TYPE given twice for " + name)
                typed[name] = kind
            elif not line.startswith("# HELP "):
                self.assertRegex(line, SAMPLE)
                self.assertIn(line.split("{")[0].split(" ")[0], typed, "sample before TYPE")
        for family in FAMILIES:
            self.assertIn(family, typed)
        self.assertEqual(typed["herald_connections"], "gauge")
        self.assertEqual(typed["herald_events_delivered_total"], "counter")
        m = H.metrics(self.h.http)
        self.assertIn('herald_ingest_errors_total{code="bad_msgpack"}', m)
        self.assertIn('herald_errors_total{code="not_found"}', m)

    def test_connection_and_subscription_gauges_follow_sse_clients(self):
        url = H.start(self, "run", "--heartbeat", "200ms").http   # writes reveal closes
        self.assertEqual(H.metric(url, "herald_connections"), 0)
        clients = [H.subscribed(self, url, chans) for chans in (["g1"], ["g1", "g2", "g3"], ["g2"])]
        m = H.metrics(url)
        self.assertEqual((m["herald_connections"], m["herald_subscriptions"]), (3, 5))
        clients[1].close()
        H.wait_until(lambda: H.metric(url, "herald_connections") == 2, 5, "2 connections")
        self.assertEqual(H.metric(url, "herald_subscriptions"), 2)
        for client in clients:
            client.close()
        H.wait_until(lambda: H.metric(url, "herald_connections") == 0, 5, "0 connections")
        self.assertEqual(H.metric(url, "herald_subscriptions"), 0)

    def test_event_counters_move_with_traffic(self):
        url = self.h.http
        before = H.metrics(url)
        clients = [H.subscribed(self, url, ["count"]) for _ in range(3)]
        push = H.pusher(self, self.h.pull)
        for i in range(5):
            push.send({"ch": "count", "data": i})
        self.assertEqual(H.publish(url, {"channel": "count", "data": 5}).status, 200)
        for client in clients:
            client.wait_events(6)
        m = H.metrics(url)
        delta = lambda k: m[k] - before.get(k, 0)
        self.assertEqual(delta("herald_broker_events_total"), 6)
        self.assertEqual(delta("herald_events_delivered_total"), 18)     # 6 events x 3
        self.assertGreaterEqual(delta("herald_events_received_total"), 6)
        self.assertLessEqual(delta("herald_events_received_total"), 12)  # at most per worker
        self.assertGreaterEqual(delta("herald_http_requests_total"), 5)
        H.wait_until(lambda: H.metric(url, "herald_broker_channels") == 1, 5,   # 250 ms tick
                     "herald_broker_channels to be 1")

    def test_demo_page_is_served_at_root_in_run(self):
        r = H.http("GET", self.h.http + "/")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers["Content-Type"].startswith("text/html"), r.headers)
        self.assertRegex(r.body.decode("utf-8").lower(), r"<html|<!doctype html")
        # the page is a client of the JS client the gateway serves beside it
        self.assertIn('from "/herald.js"', r.body.decode("utf-8"))
        js = H.http("GET", self.h.http + "/herald.js")
        self.assertEqual(js.status, 200)
        self.assertIn("export class Herald", js.body.decode("utf-8"))

    def test_gateway_serves_demo_page_only_with_demo_flag(self):
        broker = H.unused_endpoint() + "," + H.unused_endpoint()
        plain = H.start(self, "gateway", "--broker", broker)
        demo = H.start(self, "gateway", "--broker", broker, "--demo")
        self.assertEqual(H.http("GET", plain.http + "/").status, 404)
        r = H.http("GET", demo.http + "/")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers["Content-Type"].startswith("text/html"))
        self.assertEqual(H.http("GET", plain.http + "/healthz").json, {"status": "ok"})


class Cors(unittest.TestCase):
    ALLOWED = "https://a.example"

    def setUp(self):
        self.h = H.start(self, "run", "--cors-origins", "https://a.example,https://c.example")

    def get(self, path, origin=None):
        return H.http("GET", self.h.http + path, headers={"Origin": origin} if origin else {})

    def test_allowed_origin_gets_access_control_allow_origin(self):
        for path in ("/healthz", "/metrics", "/nope"):
            with self.subTest(path):
                r = self.get(path, self.ALLOWED)
                self.assertEqual(r.headers["Access-Control-Allow-Origin"], self.ALLOWED)
                self.assertIn("Origin", r.headers.get("Vary", ""))
        ok = H.publish(self.h.http, {"channel": "c", "data": 1}, headers={"Origin": self.ALLOWED})
        self.assertEqual(ok.headers["Access-Control-Allow-Origin"], self.ALLOWED)
        self.assertEqual(self.get("/healthz", "https://c.example")
                         .headers["Access-Control-Allow-Origin"], "https://c.example")

    def test_other_origin_or_no_origin_gets_no_cors_header(self):
        for origin in ("https://b.example", "https://a.example.evil", "null", None):
            with self.subTest(origin):
                r = self.get("/healthz", origin)
                self.assertEqual(r.status, 200)
                self.assertIsNone(r.headers.get("Access-Control-Allow-Origin"))

    def test_sse_response_carries_cors_for_allowed_origin(self):
        good = H.subscribed(self, self.h.http, ["c"], headers={"Origin": self.ALLOWED})
        self.assertEqual(good.headers.get("access-control-allow-origin"), self.ALLOWED)
        bad = H.subscribed(self, self.h.http, ["c"], headers={"Origin": "https://b.example"})
        self.assertNotIn("access-control-allow-origin", bad.headers)

    def test_options_preflight_is_204(self):
        r = H.http("OPTIONS", self.h.http + "/v1/publish", headers={
            "Origin": self.ALLOWED, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type"})
        self.assertEqual(r.status, 204)
        self.assertEqual(r.body, b"")
        self.assertEqual(r.headers["Access-Control-Allow-Origin"], self.ALLOWED)
        self.assertIn("POST", r.headers["Access-Control-Allow-Methods"])
        self.assertIn("content-type", r.headers["Access-Control-Allow-Headers"].lower())
        other = H.http("OPTIONS", self.h.http + "/v1/sse", headers={"Origin": "https://b.example"})
        self.assertEqual(other.status, 204)
        self.assertIsNone(other.headers.get("Access-Control-Allow-Origin"))

    def test_wildcard_allows_any_origin(self):
        h = H.start(self, "run", "--cors-origins", "*")
        r = H.http("GET", h.http + "/healthz", headers={"Origin": "https://anything.example"})
        self.assertIn(r.headers["Access-Control-Allow-Origin"], ("*", "https://anything.example"))


if __name__ == "__main__":
    unittest.main()
