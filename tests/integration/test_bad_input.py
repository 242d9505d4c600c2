"""Hostile input is rejected with the documented code, counted in /metrics,
and affects no one else (docs/protocol.md §2.2, §3, §9; docs/architecture.md §10)."""
import random
import unittest

import msgpack

import harness as H

P = lambda obj: msgpack.packb(obj, use_bin_type=True)
OK = {"ch": "ok", "data": 1}


def nested(depth):
    value = 0
    for _ in range(depth):
        value = [value]
    return value


# (name, frame, code): every frame here must be rejected with that code
PULL_CASES = [
    ("not_msgpack", b"\xc1\x00\x01", "bad_msgpack"),
    ("array_not_map", P([1, 2, 3]), "bad_type"),
    ("string_not_map", P("hello"), "bad_type"),
    ("integer_key", P({1: "x", "ch": "ok", "data": 1}), "bad_type"),
    ("type_not_string", P({"ch": "ok", "data": 1, "type": 5}), "bad_type"),
    ("missing_data", P({"ch": "ok"}), "missing_field"),
    ("missing_ch", P({"data": 1}), "missing_field"),
    ("bad_channel_space", P({"ch": "bad channel", "data": 1}), "bad_channel"),
    ("bad_channel_pipe", P({"ch": "a|b", "data": 1}), "bad_channel"),
    ("empty_channel", P({"ch": "", "data": 1}), "bad_channel"),
    ("channel_129_bytes", P({"ch": "x" * 129, "data": 1}), "bad_channel"),
    ("unknown_key", P({"ch": "ok", "data": 1, "colour": "red"}), "bad_field"),
    ("bad_type_alphabet", P({"ch": "ok", "data": 1, "type": "a b"}), "bad_field"),
    ("type_65_bytes", P({"ch": "ok", "data": 1, "type": "t" * 65}), "bad_field"),
    ("id_129_bytes", P({"ch": "ok", "data": 1, "id": "i" * 129}), "bad_field"),
    ("id_with_space", P({"ch": "ok", "data": 1, "id": "a b"}), "bad_field"),
    ("huge_array_count", b"\x82" + P("ch") + P("ok") + P("data") + b"\xdd\xff\xff\xff\xff",
     "bad_length"),
    ("huge_map_count", b"\xdf\xff\xff\xff\xff", "bad_length"),
    ("huge_str_length", b"\x82" + P("ch") + P("ok") + P("data") + b"\xdb\xff\xff\xff\xf0ab",
     "bad_length"),
    ("truncated_uint32", P({"ch": "ok", "data": 1000000})[:-2], "truncated"),
    ("empty_frame", b"", "truncated"),
    ("duplicate_key", b"\x83" + P("ch") + P("ok") + P("data") + P(1) + P("ch") + P("ok"),
     "duplicate_field"),
    ("trailing_bytes", P(OK) + b"\x00", "trailing_bytes"),
    ("too_deep", P({"ch": "ok", "data": nested(40)}), "too_deep"),
    ("frame_too_large", P({"ch": "ok", "data": "x" * 3000}), "frame_too_large"),
]


class PullGarbage(unittest.TestCase):
    def setUp(self):
        self.h = H.start(self, "run", "--max-event", "2K")
        self.push = H.pusher(self, self.h.pull)
        self.client = H.subscribed(self, self.h.http, ["ok"])
        self.valid = 0

    def send_valid(self):
        """A valid event after the garbage: once it arrives, the garbage before
        it was handled (PUSH is ordered) and the stream still flows."""
        self.valid += 1
        self.push.send({"ch": "ok", "data": self.valid})
        got = self.client.wait_events(self.valid)
        self.assertEqual([e.json["seq"] for e in got], list(range(1, self.valid + 1)))

    def errors(self):
        return {k: v for k, v in H.metrics(self.h.http).items()
                if k.startswith("herald_ingest_errors_total")}

    def test_each_bad_frame_is_counted_under_its_documented_code(self):
        for name, frame, code in PULL_CASES:
            with self.subTest(name):
                before = self.errors()
                self.push.send_raw(frame)
                self.send_valid()
                after = self.errors()
                moved = {k: after[k] - before.get(k, 0) for k in after
                         if after[k] != before.get(k, 0)}
                self.assertEqual(moved, {'herald_ingest_errors_total{code="%s"}' % code: 1})
        self.assertEqual(H.metric(self.h.http, "herald_broker_events_total"), self.valid)
        self.assertTrue(self.h.running())

    def test_random_bytes_are_rejected_and_the_stream_keeps_flowing(self):
        rng = random.Random(1234)
        frames = [bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300)))
                  for _ in range(300)]
        for frame in frames:
            self.push.send_raw(frame)
        self.send_valid()
        total = sum(self.errors().values())
        self.assertEqual(total, len(frames))
        self.assertEqual(H.metric(self.h.http, "herald_broker_events_total"), 1)

    def test_multipart_message_on_pull_is_rejected(self):
        self.push.send_raw(P(OK), P(OK))
        self.send_valid()
        self.assertEqual(sum(self.errors().values()), 1)
        self.assertEqual(len(self.client.events), 1)


class RouterErrors(unittest.TestCase):
    def setUp(self):
        self.h = H.start(self, "run", "--max-event", "2K")
        self.dealer = H.dealer(self, self.h.router)

    def check_error(self, reply, code):
        self.assertEqual(reply["error"], code, reply)
        self.assertIsInstance(reply["message"], str)
        self.assertTrue(reply["message"])
        self.assertNotIn("seq", reply)

    def test_bad_requests_get_an_error_reply_with_the_code(self):
        for name, frame, code in PULL_CASES:
            with self.subTest(name):
                self.dealer.send_raw(frame)
                self.check_error(self.dealer.recv()[0], code)
        self.check_error(self.dealer.request({"op": "frobnicate", "ch": "ok"}), "bad_request")
        self.check_error(self.dealer.request({"op": "history"}), "missing_field")
        ack = self.dealer.request(dict(OK, rid=5))      # the socket still works
        self.assertEqual((ack["rid"], ack["seq"]), (5, 1))

    def test_error_reply_echoes_rid_when_it_was_read(self):
        reply = self.dealer.request({"rid": 9, "ch": "ok", "data": 1, "bogus": True})
        self.check_error(reply, "bad_field")
        self.assertEqual(reply["rid"], 9)

    def test_req_socket_gets_error_reply_and_can_continue(self):
        req = H.requester(self, self.h.router)
        self.check_error(req.request({"ch": "bad channel", "data": 1}), "bad_channel")
        self.assertEqual(req.request(OK)["seq"], 1)


class HttpErrors(unittest.TestCase):
    def setUp(self):
        self.h = H.start(self, "run", "--max-body", "4K", "--conn-timeout", "1s")
        self.url = self.h.http

    def check(self, r, status, code):
        self.assertEqual(r.status, status, r)
        self.assertTrue(r.headers["Content-Type"].startswith("application/json"), r.headers)
        body = r.json
        self.assertEqual(set(body), {"error", "message"}, body)
        self.assertEqual(body["error"], code)
        self.assertIsInstance(body["message"], str)
        self.assertTrue(body["message"])
        return r

    def test_publish_errors_have_codes_and_are_counted(self):
        post = lambda body: H.publish(self.url, body)
        self.check(post(b"{not json"), 400, "bad_json")
        self.check(post(b""), 400, "bad_json")
        self.check(post(b"42"), 400, "bad_json")
        self.check(post([]), 400, "bad_json")
        self.check(post(b"[" + b",".join([b'{"channel":"c","data":0}'] * 101) + b"]"), 400,
                   "bad_json")
        self.check(post({"data": 1}), 400, "bad_channel")
        self.check(post({"channel": "no spaces", "data": 1}), 400, "bad_channel")
        self.check(post({"channel": 5, "data": 1}), 400, "bad_channel")
        self.check(post({"channel": "c"}), 400, "bad_field")
        self.check(post({"channel": "c", "data": 1, "extra": 2}), 400, "bad_field")
        self.check(post({"channel": "c", "data": 1, "type": "a b"}), 400, "bad_field")
        self.check(post({"channel": "c", "data": 1, "id": ""}), 400, "bad_field")
        self.check(post({"channel": "c", "data": 1, "id": "i" * 129}), 400, "bad_field")
        self.check(post({"channel": "c", "data": 1, "type": "t" * 65}), 400, "bad_field")
        self.check(post({"channel": "c", "data": "x" * 5000}), 413, "body_too_large")
        m = H.metrics(self.url)
        self.assertEqual(m['herald_errors_total{code="bad_json"}'], 5)
        self.assertEqual(m['herald_errors_total{code="bad_channel"}'], 3)
        self.assertEqual(m['herald_errors_total{code="bad_field"}'], 6)
        self.assertEqual(m['herald_errors_total{code="body_too_large"}'], 1)
        self.assertEqual(m["herald_broker_events_total"], 0)

    def test_oversize_chunked_body_without_length_is_refused(self):
        import http.client
        conn = http.client.HTTPConnection(self.url[len("http://"):], timeout=10)
        self.addCleanup(conn.close)
        body = iter([b'{"channel":"c","data":"', b"y" * 6000, b'"}'])
        conn.request("POST", "/v1/publish", body=body, encode_chunked=True,
                     headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        self.check(H.Response(r.status, r.headers, r.read()), 413, "body_too_large")

    def test_routes_and_methods(self):
        self.check(H.http("GET", self.url + "/nope"), 404, "not_found")
        self.check(H.http("GET", self.url + "/v1/ssex?channel=a"), 404, "not_found")
        for method, path, allow in [("GET", "/v1/publish", "POST, OPTIONS"),
                                    ("POST", "/v1/sse?channel=a", "GET, OPTIONS"),
                                    ("DELETE", "/healthz", "GET"),
                                    ("PUT", "/metrics", "GET")]:
            with self.subTest(method + " " + path):
                r = self.check(H.http(method, self.url + path, body=b"{}"), 405,
                               "method_not_allowed")
                self.assertEqual(r.headers["Allow"], allow)
        m = H.metrics(self.url)
        self.assertEqual(m['herald_errors_total{code="not_found"}'], 2)
        self.assertEqual(m['herald_errors_total{code="method_not_allowed"}'], 4)

    def sse_error(self, channels, status, code, **kw):
        client = H.sse(self, self.url, channels, **kw)
        self.check(H.Response(client.status, {"Content-Type": client.headers.get(
            "content-type", "")}, client.body), status, code)

    def test_sse_errors(self):
        self.sse_error([], 400, "bad_channel")
        self.sse_error([""], 400, "bad_channel")
        self.sse_error(["bad channel"], 400, "bad_channel")
        self.sse_error(["ok", "x" * 129], 400, "bad_channel")
        self.sse_error(["c%d" % i for i in range(65)], 400, "too_many_channels")
        self.sse_error(["a"], 400, "bad_cursor", last_event_id="garbage!!")
        self.sse_error(["a"], 400, "bad_cursor", query={"lastEventId": "AAAA"})
        wide = H.subscribed(self, self.url, ["c%d" % i for i in range(64)])   # 64 is fine
        # a real cursor, but for another channel set: not an error, the
        # stream starts with cursor-mismatch resets (test_sse_ergonomics.py)
        other = H.sse(self, self.url, ["a", "b"], last_event_id=wide.positions[0])
        self.assertEqual(other.status, 200)
        tampered = wide.positions[0][:-2] + ("AA" if wide.positions[0][-2:] != "AA" else "BB")
        self.sse_error(["c%d" % i for i in range(64)], 400, "bad_cursor",
                       last_event_id=tampered)
        m = H.metrics(self.url)
        # the header wins over the query parameter, both ways
        self.sse_error(["a"], 400, "bad_cursor", last_event_id="garbage",
                       query={"lastEventId": wide.positions[0]})
        H.subscribed(self, self.url, ["c%d" % i for i in range(64)],
                     last_event_id=wide.positions[0], query={"lastEventId": "garbage"})
        m = H.metrics(self.url)
        self.assertEqual(m['herald_errors_total{code="bad_channel"}'], 4)
        self.assertEqual(m['herald_errors_total{code="too_many_channels"}'], 1)
        self.assertEqual(m['herald_errors_total{code="bad_cursor"}'], 4)
        self.assertEqual(m["herald_connections"], 3)

    def test_garbage_http_connections_do_not_disturb_a_live_stream(self):
        import socket
        client = H.subscribed(self, self.url, ["live"])
        host, port = self.url[len("http://"):].split(":")
        payloads = [b"\x00\xff" * 100 + b"\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n",
                    b"GET /healthz HTTP/1.1\r\nX: " + b"a" * 40000 + b"\r\n\r\n",
                    b"POST /v1/publish HTTP/1.1\r\nContent-Length: -5\r\n\r\n"]
        for payload in payloads:
            with socket.create_connection((host, int(port)), timeout=5) as s:   # > 1s
                try:
                    s.sendall(payload)
                    s.shutdown(socket.SHUT_WR)
                    while s.recv(4096):     # whatever it answers, it must end it
                        pass
                except OSError as e:        # reset or closed early is fine; a hang is not
                    self.assertNotIsInstance(e, TimeoutError)
        self.assertEqual(H.publish(self.url, {"channel": "live", "data": 1}).status, 200)
        self.assertEqual([e.json["data"] for e in client.wait_events(1)], [1])


class BrokerUnavailable(unittest.TestCase):
    def test_publish_without_a_broker_is_503(self):
        gw = H.start(self, "gateway", "--broker-timeout", "500ms", "--broker",
                     "%s,%s" % (H.unused_endpoint(), H.unused_endpoint()))
        r = H.publish(gw.http, {"channel": "c", "data": 1})
        self.assertEqual((r.status, r.json["error"]), (503, "broker_unavailable"), r)
        self.assertEqual(H.http("GET", gw.http + "/healthz").status, 200)

    def test_publish_after_the_broker_stopped_is_503(self):
        broker, gw = H.start_split(self, gateway_args=["--broker-timeout", "500ms"])
        self.assertEqual(H.publish(gw.http, {"channel": "c", "data": 1}).status, 200)
        broker.stop()
        r = H.publish(gw.http, {"channel": "c", "data": 2})
        self.assertEqual(r.status, 503, r)
        self.assertEqual(set(r.json), {"error", "message"})
        self.assertEqual(r.json["error"], "broker_unavailable")
        self.assertGreaterEqual(
            H.metric(gw.http, 'herald_errors_total{code="broker_unavailable"}'), 1)


if __name__ == "__main__":
    unittest.main()
