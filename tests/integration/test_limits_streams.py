"""Limits and CORS on the connections that leave libmicrohttpd (SSE streams
and WebSockets take their socket over): they count against
--max-connections-per-ip while open and give it back when they close, an
SSE head carries the CORS credentials header, a WebSocket pub counts
against --publish-rate (err rate_limited with retry_after). The HTTP side
is test_limits_security.py."""
import http.client
import unittest

import harness as H
import wsclient as W
from test_limits_security import host_port, post


class ConnectionsPerAddress(unittest.TestCase):
    def setUp(self):
        self.h = H.start(self, "run", "--max-connections-per-ip", "3")
        self.url = self.h.http

    def check_refused(self, r):
        self.assertEqual(r.status, 429, r)
        self.assertEqual(r.json["error"], "too_many_connections", r)

    def test_sse_streams_count_while_open(self):
        streams = [H.subscribed(self, self.url, ["per-ip"]) for _ in range(3)]
        over = H.sse(self, self.url, ["per-ip"])
        self.check_refused(H.Response(over.status, over.headers, over.body))
        # Any request: the streams hold the address
        host, port = host_port(self.url)
        conn = http.client.HTTPConnection(host, port, timeout=10)
        conn.request("GET", "/healthz")
        self.assertEqual(conn.getresponse().status, 429)
        conn.close()
        streams[0].close()

        def served():
            c = H.SSEClient(self.url, ["per-ip"])
            self.addCleanup(c.close)
            return c.status == 200
        H.wait_until(served, 5.0, "a stream once one of three closed")

    def test_websockets_count_while_open(self):
        streams = [H.subscribed(self, self.url, ["per-ip"]) for _ in range(2)]
        ws = W.WS(self.url, [W.JSON])
        self.addCleanup(ws.close)
        ws.welcome()
        over = W.handshake(self.url, protocols=[W.JSON])
        self.assertEqual(over.status, 429, over)
        self.assertEqual(over.json["error"], "too_many_connections")
        ws.close()

        def served():
            c = W.RawWS(self.url, protocols=[W.JSON])
            self.addCleanup(c.close)
            return c.status == 101
        H.wait_until(served, 5.0, "a WebSocket once the other one closed")


class PublishRate(unittest.TestCase):
    def test_websocket_pub_over_the_rate_gets_err_with_retry_after(self):
        h = H.start(self, "run", "--publish-rate", "3")
        ws = W.WS(h.http, [W.JSON])
        self.addCleanup(ws.close)
        ws.welcome()
        replies = [ws.request({"t": "pub", "ch": "rate", "data": i}) for i in range(10)]
        self.assertEqual([r["t"] for r in replies[:3]], ["ok"] * 3, replies)
        limited = [r for r in replies if r["t"] == "err"]
        self.assertGreaterEqual(len(limited), 5, replies)
        for r in limited:
            self.assertEqual(r["code"], "rate_limited", r)
            self.assertIs(r["retry"], True, r)
            self.assertTrue(isinstance(r["retry_after"], int) and 1 <= r["retry_after"] <= 1000, r)
        # The connection stays, and HTTP from the same address shares the bucket
        self.assertEqual(post(h.http, {"channel": "rate", "data": "http"}).status, 429)
        H.wait_until(lambda: ws.request({"t": "pub", "ch": "rate", "data": "later"})["t"] == "ok",
                     3.0, "a pub after retry_after")


class Cors(unittest.TestCase):
    ALLOWED = "https://app.example.com"

    def test_an_sse_stream_carries_the_same_headers(self):
        h = H.start(self, "run", "--cors-origins", self.ALLOWED)
        c = H.subscribed(self, h.http, ["cors"], headers={"Origin": self.ALLOWED})
        self.assertEqual(c.headers["access-control-allow-origin"], self.ALLOWED)
        self.assertEqual(c.headers["access-control-allow-credentials"], "true")
        self.assertIn("Origin", c.headers["vary"])
        c = H.subscribed(self, h.http, ["cors"], headers={"Origin": "https://evil.example"})
        self.assertNotIn("access-control-allow-origin", c.headers)
        self.assertNotIn("access-control-allow-credentials", c.headers)


if __name__ == "__main__":
    unittest.main()
