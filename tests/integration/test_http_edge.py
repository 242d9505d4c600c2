"""HTTP edge hygiene (issue 7 §4, §4b), over raw sockets: what reaches a
response head, what the query may carry, ambiguous framing, requests
libmicrohttpd refuses itself, keep-alive, the largest documented SSE
request, and one connection limit (docs/protocol.md §8-§10)."""
import http.client
import json
import socket
import time
import unittest

import harness as H
from test_resets import encode_cursor


def host_port(base):
    host, port = base[len("http://"):].split(":")
    return host, int(port)


def exchange(base, data, timeout=5.0, head_only=False):
    """Sends raw bytes, reads until the server closes, the body is complete
    (Content-Length) or, with head_only, the head is; returns (status,
    headers {lower: value}, body bytes, raw head bytes)."""
    with socket.create_connection(host_port(base), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
                if b"\r\n\r\n" in out:
                    if head_only:
                        break
                    head, _, body = out.partition(b"\r\n\r\n")
                    length = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
                    if length and len(body) >= int(length[0].split(b":")[1]):
                        break
        except ConnectionResetError:
            pass
    return parse(out)


def parse(out):
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1]) if lines and lines[0].startswith(b"HTTP/") else None
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        headers[k.strip().lower().decode("latin-1")] = v.strip().decode("latin-1")
    return status, headers, body, head


def request(method, target, headers=(), body=b""):
    lines = ["%s %s HTTP/1.1" % (method, target), "Host: x"] + list(headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Edge(unittest.TestCase):
    def setUp(self):
        self.h = H.start(self, "run", "--cors-origins", "*", "--workers", "1")
        self.url = self.h.http

    def check_json_error(self, status, headers, body, want_status, code):
        self.assertEqual(status, want_status, body)
        self.assertTrue(headers.get("content-type", "").startswith("application/json"), headers)
        doc = json.loads(body)
        self.assertEqual(set(doc), {"error", "message"}, doc)
        self.assertEqual(doc["error"], code)

    def errors(self, code):
        return H.metric(self.url, 'herald_errors_total{code="%s"}' % code)

    # ------------------------------------------------------------ CORS

    def test_only_a_well_formed_origin_is_reflected(self):
        good = ["https://app.example.com", "http://localhost:8080", "http://[::1]:3000",
                "https://xn--bcher-kva.example"]
        bad = ["http://a\rX-Injected: y", "http://a b", "null", "http://", "https://a.example/path",
               "http://a:99999", "http://a:", "ftp//x", "http://" + "a" * 300,
               "http://a\x01b", "http://a\x7fb", "http://é.example"]
        for origin in good:
            with self.subTest(origin=origin):
                status, headers, _, head = exchange(self.url, request(
                    "GET", "/v1/sse?channel=c", ["Origin: " + origin]), head_only=True)
                self.assertEqual(status, 200)
                self.assertEqual(headers.get("access-control-allow-origin"), origin)
                self.assertEqual(headers.get("vary"), "Origin")
        for origin in bad:
            for target in ("/v1/sse?channel=c", "/healthz"):
                with self.subTest(origin=origin, target=target):
                    status, headers, _, head = exchange(self.url, request(
                        "GET", target, ["Origin: " + origin]), head_only=True)
                    self.assertEqual(status, 200)
                    self.assertNotIn("access-control-allow-origin", headers)
                    # Not allowed is an answer that depends on Origin too
                    self.assertEqual(headers.get("vary"), "Origin")
                    self.assertNotIn(b"X-Injected", head)
                    self.assertNotIn(b"\r", head.replace(b"\r\n", b""))

    # ------------------------------------------------------------ NUL in arguments

    def test_nul_or_foreign_byte_in_a_channel_is_400_on_every_route(self):
        for target in ("/v1/sse?channel=abc%00x", "/v1/sse?channel=ok&channel=abc%00",
                       "/v1/history?channel=abc%00x", "/v1/history?channel=%00",
                       "/v1/sse?channel=abc%0D%0Ax", "/v1/history?channel=ab%FFc",
                       "/healthz?channel=abc%00x"):
            with self.subTest(target=target):
                self.check_json_error(*exchange(self.url, request("GET", target))[:3],
                                      400, "bad_channel")
        self.assertEqual(self.errors("bad_channel"), 7)

    def test_nul_in_any_other_argument_is_400(self):
        for target in ("/v1/history?channel=c&epoch=ab%00cd", "/v1/history?channel=c&since=1%00",
                       "/v1/sse?channel=c&lastEventId=%00"):
            with self.subTest(target=target):
                self.check_json_error(*exchange(self.url, request("GET", target))[:3],
                                      400, "bad_request")

    # ------------------------------------------------------------ framing

    def test_ambiguous_framing_is_400_and_closes(self):
        event = b'{"channel":"frame","data":1}'
        cases = [["Content-Length: 5", "Content-Length: %d" % len(event)],
                 ["Content-Length: %d" % len(event)] * 2,
                 ["Content-Length: %d" % len(event), "Transfer-Encoding: chunked"]]
        for headers in cases:
            with self.subTest(headers=headers):
                # a second request pipelined after the body must not be served
                data = request("POST", "/v1/publish", headers + ["Content-Type: application/json"],
                               event) + request("GET", "/healthz")
                status, hdrs, body, _ = exchange(self.url, data)
                self.check_json_error(status, hdrs, body, 400, "bad_request")
                self.assertIn("framing", json.loads(body)["message"])
                self.assertEqual(hdrs.get("connection", "").lower(), "close")
        self.assertEqual(H.http("GET", self.url + "/v1/history?channel=frame").json["head"], 0)
        self.assertEqual(self.errors("bad_request"), 3)

    # ------------------------------------------------------------ keep-alive

    def test_non_streaming_requests_keep_the_connection(self):
        H.publish(self.url, {"channel": "ka", "data": 1})
        conn = http.client.HTTPConnection(*host_port(self.url), timeout=10)
        self.addCleanup(conn.close)
        seen = []
        for target in ("/healthz", "/metrics", "/v1/history?channel=ka",
                       "/v1/history?channel=ka&since=1", "/nope"):
            conn.request("GET", target)
            r = conn.getresponse()
            r.read()
            seen.append((target, r.status, r.getheader("Connection")))
            if target == "/healthz":
                sock = conn.sock
            self.assertIs(conn.sock, sock, "the same connection serves %s" % target)
        self.assertEqual([s[1] for s in seen], [200, 200, 200, 200, 404], seen)
        self.assertEqual([s[2] for s in seen[:-1]], [None] * 4, seen)
        # the idle connection is held, and counted (so is the one asking)
        self.assertEqual(H.metric(self.url, "herald_http_connections"), 2)
        conn.close()
        H.wait_until(lambda: H.metric(self.url, "herald_http_connections") == 1, 5,
                     "the closed keep-alive connection to be released")

    # ------------------------------------------------------------ HTTP/1.0

    def test_http_1_0_stream_is_unchunked_and_ends_with_the_connection(self):
        with socket.create_connection(host_port(self.url), timeout=10) as s:
            s.sendall(b"GET /v1/sse?channel=old HTTP/1.0\r\n\r\n")
            out = b""
            while b"\nid: " not in out:            # the subscription is in place
                chunk = s.recv(65536)
                self.assertTrue(chunk, out)
                out += chunk
            status, headers, body, head = parse(out)
            self.assertTrue(head.startswith(b"HTTP/1.0 200 "), head)
            self.assertNotIn("transfer-encoding", headers)
            self.assertEqual(headers.get("connection", "").lower(), "close")
            self.assertTrue(body.startswith(b"retry: 2000\n\n"), body)   # no chunk sizes
            H.publish(self.url, {"channel": "old", "data": "plain"})
            while b'"data":"plain"}\n\n' not in out:
                chunk = s.recv(65536)
                self.assertTrue(chunk, out)
                out += chunk

    # ------------------------------------------------------------ head size

    def largest_documented_request(self):
        """docs/protocol.md §10: 64 channels of 128-byte names and the longest
        cursor (3,683 characters), with the headers a browser adds."""
        channels = sorted("c%03d-" % i + "x" * 123 for i in range(64))
        cursor = encode_cursor(channels, [("e" * 32, 2 ** 63 + i) for i in range(64)])
        self.assertEqual(len(cursor), 3683)
        target = "/v1/sse?" + "&".join("channel=" + c for c in channels)
        headers = ["Accept: text/event-stream", "Cache-Control: no-cache",
                   "Last-Event-ID: " + cursor, "Origin: https://app.example.com",
                   "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like "
                   "Gecko) Chrome/131.0.0.0 Safari/537.36",
                   "Accept-Language: en-GB,en;q=0.9,fr;q=0.8", "Accept-Encoding: gzip, deflate, br",
                   "Referer: https://app.example.com/" + "p" * 1000,
                   "Cookie: " + "; ".join("k%d=%s" % (i, "v" * 90) for i in range(40))]
        return channels, request("GET", target, headers)

    def test_largest_documented_request_is_served_and_streams(self):
        channels, data = self.largest_documented_request()
        self.assertGreater(len(data), 17000)
        with socket.create_connection(host_port(self.url), timeout=10) as s:
            s.sendall(data)
            out = b""
            while out.count(b"herald-reset") < 64:
                chunk = s.recv(65536)
                self.assertTrue(chunk, "stream ended: %r" % out[:300])
                out += chunk
            status, headers, _, _ = parse(out)
            self.assertEqual(status, 200, out[:300])
            self.assertEqual(headers["content-type"], "text/event-stream")
            H.publish(self.url, {"channel": channels[5], "data": "after"})
            while b'"data":"after"' not in out:
                chunk = s.recv(65536)
                self.assertTrue(chunk, "stream ended")
                out += chunk

    def test_head_over_the_bound_is_431_json_and_counted(self):
        # 3/4 of --conn-memory (32K): 24K of head is the documented bound
        status, headers, body, _ = exchange(self.url, request(
            "GET", "/healthz", ["X-Big: " + "a" * 26000]))
        self.check_json_error(status, headers, body, 431, "headers_too_large")
        self.assertEqual(self.errors("headers_too_large"), 1)

    def test_libmicrohttpd_own_refusals_are_counted(self):
        # too large for libmicrohttpd to hold at all: its own 431 page
        status, _, _, _ = exchange(self.url, request("GET", "/healthz", ["X-Big: " + "a" * 100000]))
        self.assertIn(status, (431, None))      # None: reset while we were still sending
        H.wait_until(lambda: self.errors("headers_too_large") == 1, 5, "the 431 to be counted")
        # a header line without a colon, a Content-Length that is no number,
        # an unknown HTTP version, a Content-Length beyond any integer
        for data, want in ((b"GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", 400),
                           (b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400),
                           (b"GET /healthz HTTP/2.5\r\nHost: x\r\n\r\n", 505),
                           (b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 9" + b"9" * 30
                            + b"\r\n\r\n", 413)):
            status, _, _, _ = exchange(self.url, data)
            self.assertEqual(status, want, data)
        H.wait_until(lambda: self.errors("bad_request") == 3, 5, "the 400s and 505 to be counted")
        self.assertEqual(self.errors("body_too_large"), 1)


class ConnectionLimit(unittest.TestCase):
    def test_max_connections_bounds_streams_and_requests_together(self):
        h = H.start(self, "run", "--workers", "1", "--max-connections", "4")
        streams = [H.subscribed(self, h.http, ["lim"]) for _ in range(2)]
        idle = [socket.create_connection(host_port(h.http), timeout=5) for _ in range(2)]
        for s in idle:
            self.addCleanup(s.close)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")   # a request not finished
        # a fifth connection is closed at once, whatever it asks
        with socket.create_connection(host_port(h.http), timeout=5) as s:
            try:
                s.sendall(request("GET", "/healthz"))
                self.assertEqual(s.recv(4096), b"")
            except ConnectionResetError:
                pass
        idle.pop().close()

        def served():
            try:
                return H.http("GET", h.http + "/healthz").status == 200
            except OSError:             # closed at accept until the slot is free
                return False
        H.wait_until(served, 5, "a slot to free up")
        self.assertGreaterEqual(H.metric(h.http, 'herald_errors_total{code="overloaded"}'), 1)
        self.assertEqual(len(streams), H.metric(h.http, "herald_connections"))


if __name__ == "__main__":
    unittest.main()
