"""SIGTERM/SIGINT: herald exits 0 within a few seconds, with no sanitizer
report, closing its clients' connections (cli, gateway/hrg_worker.c)."""
import signal
import socket
import threading
import unittest

import zmq

import harness as H


class Shutdown(unittest.TestCase):
    def assert_quick_clean_exit(self, h, signo=signal.SIGTERM, within=5.0):
        self.assertEqual(h.stop(timeout=within + 5, signo=signo), 0)
        self.assertLess(h.elapsed, within, "exit took %.2fs" % h.elapsed)
        msgs = [entry.get("msg") for entry in h.logs()]
        self.assertIn("stopping", msgs)

    def test_sigterm_with_live_sse_clients_exits_0_and_ends_their_streams(self):
        h = H.start(self, "run")
        clients = [H.subscribed(self, h.http, ["s%d" % (i % 3), "all"]) for i in range(8)]
        self.assertEqual(H.publish(h.http, {"channel": "all", "data": 1}).status, 200)
        for c in clients:
            c.wait_events(1)
        self.assertEqual(H.metric(h.http, "herald_connections"), 8)
        self.assert_quick_clean_exit(h)
        for c in clients:
            c.wait_end(5)
        self.assertIn("stopped", [entry.get("msg") for entry in h.logs()])

    def test_sigint_exits_0_like_sigterm(self):
        h = H.start(self, "run")
        client = H.subscribed(self, h.http, ["int"])
        self.assert_quick_clean_exit(h, signal.SIGINT)
        client.wait_end(5)
        self.assertIn("SIGINT", h.stderr())

    def test_sigterm_during_a_publish_burst_exits_cleanly(self):
        h = H.start(self, "run")
        client = H.subscribed(self, h.http, ["burst"])
        push = H.pusher(self, h.pull)
        for i in range(3000):
            push.send({"ch": "burst", "data": {"i": i, "pad": "x" * 200}})
        client.wait_events(1)           # the burst is being delivered
        self.assert_quick_clean_exit(h)
        client.wait_end(5)
        seqs = [e.json["seq"] for e in client.events]
        self.assertEqual(seqs, list(range(1, len(seqs) + 1)))   # a prefix, in order

    def silent_broker_and_gateway(self, *args):
        """A fake broker that takes requests and never answers (its ROUTER,
        to see them arrive), and a gateway of args on it."""
        router = H.ZMQ.socket(zmq.ROUTER)
        xpub = H.ZMQ.socket(zmq.XPUB)
        for sock in (router, xpub):
            sock.setsockopt(zmq.LINGER, 0)
            self.addCleanup(sock.close)
        router_port = router.bind_to_random_port("tcp://127.0.0.1")
        xpub_port = xpub.bind_to_random_port("tcp://127.0.0.1")
        gw = H.start(self, "gateway", *args, "--broker-timeout", "60s", "--broker",
                     "tcp://127.0.0.1:%d,tcp://127.0.0.1:%d" % (xpub_port, router_port))
        return router, gw

    def test_sigterm_with_a_publish_waiting_on_the_broker_answers_503_and_exits(self):
        router, gw = self.silent_broker_and_gateway()
        result, threads = {}, []

        def post():
            try:
                result["r"] = H.publish(gw.http, {"channel": "c", "data": 1}, timeout=20)
            except Exception as e:       # connection closed without an answer
                result["e"] = e

        def held():
            """Posts until one reaches the fake broker (the gateway answers 503 at
            once while its DEALER is not connected yet)."""
            if router.poll(0):
                return True
            if not threads or not threads[-1].is_alive():
                result.clear()
                threads.append(threading.Thread(target=post, daemon=True))
                threads[-1].start()
            return False
        H.wait_until(held, 10, "a publish to reach the fake broker", interval=0.05)
        router.recv_multipart()         # in flight now: the broker holds it
        self.assert_quick_clean_exit(gw)
        threads[-1].join(10)
        self.assertFalse(threads[-1].is_alive())
        self.assertIn("r", result, "no HTTP answer: %r" % result.get("e"))
        self.assertEqual(result["r"].status, 503, result["r"])
        self.assertEqual(result["r"].json["error"], "broker_unavailable")

    def test_sigterm_with_streams_asked_behind_held_publishes_leaks_nothing(self):
        """Shutdown closes every stream, then answers the requests the
        broker held (503); a stream request pipelined behind one is read
        then and opens its stream after the others closed: it must end too
        (before the fix it leaked, a LeakSanitizer report at exit)."""
        router, gw = self.silent_broker_and_gateway("--workers", "1")
        H.wait_until(lambda: "connected to the broker" in gw.stderr(), 10, "the broker link")
        host, port = gw.http[len("http://"):].split(":")
        body = b'{"channel":"c","data":1}'
        publish = (b"POST /v1/publish HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
                   b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        streams = {"sse": b"GET /v1/sse?channel=c HTTP/1.1\r\nHost: h\r\n\r\n",
                   "ws": b"GET /v1/ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                         b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                         b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"}
        socks = {}
        for kind, ask in streams.items():
            socks[kind] = socket.create_connection((host, int(port)), timeout=10)
            self.addCleanup(socks[kind].close)
            socks[kind].sendall(publish + ask)
        for _ in streams:                       # both publishes held by the broker
            self.assertTrue(router.poll(10000), "a publish did not reach the broker")
            router.recv_multipart()
        self.assert_quick_clean_exit(gw)
        for kind, sock in socks.items():
            got = b""
            while True:                         # to the end: the stream closed too
                chunk = sock.recv(65536)
                if not chunk:
                    break
                got += chunk
            self.assertTrue(got.startswith(b"HTTP/1.1 503"), "%s: %r" % (kind, got[:300]))
            if kind == "ws":                    # its stream was opened, and said bye
                self.assertIn(b'"code":1001', got, got[:600])

    def test_sigterm_with_half_sent_requests_exits_promptly(self):
        h = H.start(self, "run")
        host, port = h.http[len("http://"):].split(":")
        socks = []
        for partial in (b"GET /v1/sse?chan", b"POST /v1/publish HTTP/1.1\r\nContent-Length: 100"
                        b"\r\n\r\n{\"channel\":", b""):
            s = socket.create_connection((host, int(port)), timeout=5)
            self.addCleanup(s.close)
            s.sendall(partial)
            socks.append(s)
        self.assertEqual(H.http("GET", h.http + "/healthz").status, 200)
        self.assert_quick_clean_exit(h)

    def test_split_broker_and_gateway_each_exit_cleanly(self):
        broker, gw = H.start_split(self)
        client = H.subscribed(self, gw.http, ["sp"])
        self.assertEqual(H.publish(gw.http, {"channel": "sp", "data": 1}).status, 200)
        client.wait_events(1)
        self.assert_quick_clean_exit(broker)     # the gateway outlives its broker
        self.assertEqual(H.http("GET", gw.http + "/healthz").status, 200)
        self.assert_quick_clean_exit(gw)
        client.wait_end(5)


if __name__ == "__main__":
    unittest.main()
