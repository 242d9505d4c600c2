"""Limits per client and HTTP hardening (issue 9; docs/security.md "Limits",
docs/protocol.md §8-§9): --publish-rate (429 rate_limited with Retry-After,
per token or per address), --max-connections-per-ip (429
too_many_connections, for keep-alive connections and SSE streams, given
back on close), Content-Type on POST /v1/publish (415), CORS credentials,
and the --insecure rule for non-loopback HTTP addresses."""
import http.client
import json
import os
import socket
import subprocess
import unittest

import harness as H
import tokens as T


def host_port(base):
    host, port = base[len("http://"):].rsplit(":", 1)
    return host, int(port)


def post(base, body, content_type="application/json", source="127.0.0.1", headers=None):
    """One POST /v1/publish on a new connection from source; Response."""
    host, port = host_port(base)
    conn = http.client.HTTPConnection(host, port, timeout=10, source_address=(source, 0))
    try:
        hdrs = {"Content-Type": content_type} if content_type is not None else {}
        hdrs.update(headers or {})
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        conn.request("POST", "/v1/publish", body=data, headers=hdrs)
        r = conn.getresponse()
        return H.Response(r.status, r.headers, r.read())
    finally:
        conn.close()


class KeptConnection:
    """A keep-alive HTTP connection from source, opened with one request."""

    def __init__(self, base, source="127.0.0.1"):
        host, port = host_port(base)
        self.conn = http.client.HTTPConnection(host, port, timeout=10,
                                               source_address=(source, 0))
        self.first = self.get("/healthz")

    def get(self, path):
        self.conn.request("GET", path)
        r = self.conn.getresponse()
        return H.Response(r.status, r.headers, r.read())

    def close(self):
        self.conn.close()


class PublishRate(unittest.TestCase):
    def check_limited(self, r):
        self.assertEqual(r.status, 429, r)
        self.assertEqual(r.json["error"], "rate_limited", r)
        retry = r.headers["Retry-After"]
        self.assertTrue(retry.isdigit() and int(retry) >= 1, retry)

    def burst(self, send, count=20):
        return [send({"channel": "rate", "data": i}) for i in range(count)]

    def test_publishes_over_the_rate_get_429_with_retry_after(self):
        h = H.start(self, "run", "--publish-rate", "5")
        answers = self.burst(lambda event: post(h.http, event))
        statuses = [r.status for r in answers]
        self.assertEqual(statuses[:5], [200] * 5, statuses)     # the burst
        limited = [r for r in answers if r.status == 429]
        self.assertGreaterEqual(len(limited), 10, statuses)     # 20 in well under 2 s
        self.assertEqual(set(statuses), {200, 429}, statuses)
        for r in limited:
            self.check_limited(r)
        # Another address has a bucket of its own
        self.assertEqual(post(h.http, {"channel": "rate", "data": "b"},
                              source="127.0.0.2").status, 200)
        # Counted, and over once Retry-After has passed
        self.assertEqual(H.metric(h.http, 'herald_limited_total{limit="publish_rate"}'),
                         len(limited))
        self.assertEqual(H.metric(h.http, 'herald_errors_total{code="rate_limited"}'),
                         len(limited))
        H.wait_until(lambda: post(h.http, {"channel": "rate", "data": "later"}).status == 200,
                     3.0, "a publish after Retry-After")
        self.assertGreater(H.metric(h.http, "herald_limit_bytes"), 0)

    def test_each_token_has_its_own_bucket(self):
        key = T.HSKey()
        h = T.start_gateway(self, T.jwks_file([key]), "--publish-rate", "5")
        tokens = [T.mint(key, T.claims(sub="same-user", publish=["*"], jti=jti))
                  for jti in ("first", "second")]
        answers = self.burst(lambda event: post(h.http, event, headers=T.bearer(tokens[0])))
        self.assertIn(429, [r.status for r in answers])
        self.check_limited(answers[-1])
        # Same subject, same address: another jti is another token
        r = post(h.http, {"channel": "rate", "data": "x"}, headers=T.bearer(tokens[1]))
        self.assertEqual(r.status, 200, r)

    def test_no_limit_with_rate_zero(self):
        h = H.start(self, "run", "--publish-rate", "0")
        self.assertEqual({r.status for r in self.burst(lambda e: post(h.http, e), 30)}, {200})


class ConnectionsPerAddress(unittest.TestCase):
    def setUp(self):
        self.h = H.start(self, "run", "--max-connections-per-ip", "3")
        self.url = self.h.http

    def kept(self, source="127.0.0.1"):
        c = KeptConnection(self.url, source)
        self.addCleanup(c.close)
        return c

    def check_refused(self, r):
        self.assertEqual(r.status, 429, r)
        self.assertEqual(r.json["error"], "too_many_connections", r)

    def test_keep_alive_connections_are_counted_until_closed(self):
        held = [self.kept() for _ in range(3)]
        self.assertEqual([c.first.status for c in held], [200] * 3)
        over = KeptConnection(self.url)
        self.check_refused(over.first)
        self.assertEqual(over.first.headers.get("Connection"), "close")
        over.close()
        # The three still serve; another address is not affected
        self.assertEqual(held[0].get("/healthz").status, 200)
        self.assertEqual(self.kept("127.0.0.2").first.status, 200)
        metrics = held[0].get("/metrics").body.decode()
        self.assertIn('herald_limited_total{limit="connections_per_ip"} 1\n', metrics)
        # One closes: a new connection from the address is served again
        held.pop().close()

        def served():
            c = KeptConnection(self.url)
            ok = c.first.status == 200
            if ok:
                self.addCleanup(c.close)
            else:
                c.close()
            return ok
        H.wait_until(served, 5.0, "a connection once one of three closed")

class MediaType(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.h = H.Herald("run", ["--workers", "1"])
        cls.addClassCleanup(cls.h.kill)
        cls.addClassCleanup(cls.h.stop)

    def test_publish_needs_application_json(self):
        event = {"channel": "mt", "data": 1}
        for content_type in (None, "text/plain", "application/x-www-form-urlencoded",
                             "multipart/form-data; boundary=x", "application/jsonx",
                             "application/json-patch+json", ""):
            r = post(self.h.http, event, content_type)
            self.assertEqual(r.status, 415, (content_type, r))
            self.assertEqual(r.json["error"], "unsupported_media_type")
        for content_type in ("application/json", "Application/JSON",
                             "application/json; charset=utf-8", "application/json;charset=UTF-8"):
            self.assertEqual(post(self.h.http, event, content_type).status, 200, content_type)


class Cors(unittest.TestCase):
    ALLOWED = "https://app.example.com"

    def test_credentials_only_for_an_origin_listed_by_name(self):
        h = H.start(self, "run", "--cors-origins", self.ALLOWED + ",https://other.example")
        r = H.http("GET", h.http + "/healthz", headers={"Origin": self.ALLOWED})
        self.assertEqual(r.headers["Access-Control-Allow-Origin"], self.ALLOWED)
        self.assertEqual(r.headers["Access-Control-Allow-Credentials"], "true")
        self.assertIn("Origin", r.headers["Vary"])
        r = H.http("GET", h.http + "/healthz", headers={"Origin": "https://evil.example"})
        self.assertNotIn("Access-Control-Allow-Origin", r.headers)
        self.assertNotIn("Access-Control-Allow-Credentials", r.headers)
        self.assertIn("Origin", r.headers["Vary"])
        # The preflight lets a page send its token and cookies
        r = H.http("OPTIONS", h.http + "/v1/publish", headers={
            "Origin": self.ALLOWED, "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type"})
        self.assertEqual(r.status, 204)
        self.assertEqual(r.headers["Access-Control-Allow-Credentials"], "true")
        self.assertIn("Authorization", r.headers["Access-Control-Allow-Headers"])
        self.assertIn("Content-Type", r.headers["Access-Control-Allow-Headers"])

    def test_a_star_never_gives_credentials(self):
        h = H.start(self, "run", "--cors-origins", "*")
        r = H.http("GET", h.http + "/healthz", headers={"Origin": "https://any.example"})
        self.assertEqual(r.headers["Access-Control-Allow-Origin"], "https://any.example")
        self.assertNotIn("Access-Control-Allow-Credentials", r.headers)


class Insecure(unittest.TestCase):
    def run_refused(self, *args):
        p = subprocess.run([H.herald_binary()] + list(args), capture_output=True, text=True,
                           timeout=30, stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 2, p)
        self.assertIn("Give --token-keys FILE (see docs/security.md), or --insecure to run open",
                      p.stderr)
        return p

    def test_a_non_loopback_http_address_needs_keys_or_insecure(self):
        broker = "%s,%s" % (H.unused_endpoint(), H.unused_endpoint())
        for http_address in ("0.0.0.0:0", ":0", "[::]:0"):
            p = self.run_refused("gateway", "--http", http_address, "--broker", broker)
            self.assertIn(http_address, p.stderr)
        self.run_refused("run", "--http", "0.0.0.0:0", "--pull", H.unused_endpoint(),
                         "--router", H.unused_endpoint(), "--xpub", H.unused_endpoint())
        # --insecure starts it (0.0.0.0 only for this check: stopped at once)
        g = H.Herald("gateway", ["--http", "0.0.0.0:0", "--insecure", "--broker", broker])
        try:
            self.assertTrue(g.http.startswith("http://0.0.0.0:"), g.http)
            warning = [e for e in g.logs() if e.get("msg", "").startswith("security is off")]
            self.assertEqual(warning[0].get("exposure"), "NOT LOOPBACK (--insecure)", warning)
        finally:
            g.stop()

    def test_loopback_needs_neither_and_says_security_is_off(self):
        h = H.start(self, "run", "--http", "127.0.0.2:0")
        warning = [e for e in h.logs() if e.get("msg", "").startswith("security is off")]
        self.assertEqual(len(warning), 1, h.stderr())
        self.assertIn("no --token-keys", warning[0]["msg"])
        self.assertEqual(warning[0].get("exposure"), "loopback only")

    def test_with_keys_no_warning(self):
        h = T.start_gateway(self, T.jwks_file([T.HSKey()]))
        self.assertFalse([e for e in h.logs() if e.get("msg", "").startswith("security is off")])


if __name__ == "__main__":
    unittest.main()
