"""WebSocket limits and lifecycle: subscriptions per connection (err
limit), inbound messages per second (bye, close 4004), message size counted
on the reassembled message (close 1009), heartbeat ping and close 4002 for
a client that sends nothing, SIGTERM (bye 1001 with retry_after, close
1001). Every other client keeps going (docs/protocol.md, WebSocket)."""
import threading
import time
import unittest

import harness as h
import wsclient as w


class Limits(unittest.TestCase):
    def watcher(self, herald):
        """A client on channel "watch" that must be untouched by the others' fate."""
        c = w.welcomed(self, herald.http)
        c.subscribe("watch")
        return c

    def assert_untouched(self, herald, watch):
        push = h.pusher(self, herald.pull)
        n = len(watch.events("watch")) + 1
        push.send({"ch": "watch", "data": n})
        self.assertEqual([e["s"] for e in watch.wait_events("watch", n)], list(range(1, n + 1)))
        self.assertEqual(watch.request({"t": "ping"})["t"], "pong")

    def assert_bye_then_close(self, c, code, timeout=5.0):
        self.assertEqual(c.wait_end(timeout), code, c.messages[-3:])
        bye = c.bye()
        self.assertIsNotNone(bye, "no bye before close %d" % code)
        self.assertEqual(bye["code"], code, bye)
        self.assertIsInstance(bye["why"], str)
        self.assertEqual(c.close_reason, bye["why"])
        self.assertNotIn("retry_after", bye)             # only on 1001
        self.assertIs(c.messages[-1], bye, "messages after the bye")

    def test_subscriptions_over_the_limit_are_err_limit(self):
        herald = h.start(self, "run", "--ws-max-subscriptions", "3")
        push = h.pusher(self, herald.pull)
        c = w.welcomed(self, herald.http)
        for ch in ("s1", "s2", "s3"):
            c.subscribe(ch)
        rid = c.new_id()
        err = c.request({"t": "sub", "id": rid, "ch": "s4"})
        self.assertEqual((err["t"], err["id"], err["code"], err["retry"]),
                         ("err", rid, "limit", False), err)
        self.assertEqual(c.request({"t": "unsub", "ch": "s1"})["t"], "ok")
        c.subscribe("s4")
        push.send({"ch": "s4", "data": 1})
        push.send({"ch": "s1", "data": 1})
        push.send({"ch": "s2", "data": 1})
        c.wait_events("s2", 1)
        c.wait_events("s4", 1)
        self.assertEqual(c.events("s1"), [])
        # the budget is per connection
        other = w.welcomed(self, herald.http, [w.MSGPACK])
        for ch in ("s1", "s2", "s3"):
            other.subscribe(ch)
        self.assertEqual(other.request({"t": "sub", "ch": "s5"})["code"], "limit")
        self.assertFalse(c.ended or other.ended)

    def test_messages_over_the_rate_are_bye_then_close_4004(self):
        herald = h.start(self, "run", "--ws-max-rate", "20")
        watch = self.watcher(herald)
        calm = w.welcomed(self, herald.http)
        calm.send([{"t": "ping", "id": i} for i in range(1, 11)])    # 10 of 20: fine
        calm.reply(10)
        # every message of a batch counts
        batched = w.welcomed(self, herald.http)
        batched.send([{"t": "ping", "id": i} for i in range(1, 61)])    # at most 64 a batch
        self.assert_bye_then_close(batched, 4004)
        self.assertLessEqual(len(batched.of_type("pong")), 20)
        # and so do separate frames
        framed = w.welcomed(self, herald.http, [w.MSGPACK])
        try:
            for i in range(1, 101):
                framed.send({"t": "ping", "id": i})
        except Exception:          # the server may close before the last ones
            pass
        self.assert_bye_then_close(framed, 4004)
        self.assertEqual(calm.request({"t": "ping"})["t"], "pong")
        self.assert_untouched(herald, watch)

    def test_bye_and_close_reach_a_client_still_sending_and_not_reading_yet(self):
        """The server's last words sit in its socket buffer while the client
        is busy; the client's frames that arrive after the server's decision
        must not turn the close into a reset that discards them (RFC 6455
        §7.1.1: the server closes, and lingers for the client's end)."""
        herald = h.start(self, "run", "--ws-max-rate", "20")
        watch = self.watcher(herald)
        c = w.raw(self, herald.http, rcvbuf=4096, read=False)
        c.send({"t": "sub", "id": 1, "ch": "watch"})
        push = h.pusher(self, herald.pull)
        h.wait_until(lambda: h.metric(herald.http, "herald_subscriptions") >= 2, 5,
                     "both subscriptions")
        for i in range(20):                         # more than the client's window
            push.send({"ch": "watch", "data": "x" * 2000})
        watch.wait_events("watch", 20)
        closed = 'herald_ws_closed_total{code="4004"}'
        c.send([{"t": "ping", "id": i} for i in range(30)])
        h.wait_until(lambda: h.metric(herald.http, closed) >= 1, 5, "the 4004 decision")
        for i in range(20):                         # the client has not noticed yet
            c.send_frame(w.TEXT, '{"t":"ping"}', quiet=True)
        c.resume()
        self.assertEqual(c.wait_end(10), 4004, "no close frame after %s" % [
            (m.get("t"), m.get("s")) for m in c.messages])
        self.assertEqual([e["s"] for e in c.events("watch")], list(range(1, 21)))
        self.assertEqual(c.bye()["code"], 4004)
        self.assert_untouched(herald, watch)

    def test_message_over_the_limit_closes_1009_counting_the_reassembled_message(self):
        herald = h.start(self, "run", "--ws-max-message", "1024")
        watch = self.watcher(herald)
        c = w.welcomed(self, herald.http)
        self.assertEqual(c.welcome()["max"], 1024)
        exact = '{"t":"ping","id":1}'
        c.send_raw(exact + " " * (1024 - len(exact)))             # at the limit: fine
        self.assertEqual(c.reply(1), {"t": "pong", "id": 1})
        c.send_raw(exact + " " * (1025 - len(exact)))
        self.assert_bye_then_close(c, 1009)
        # fragments each under the limit, together over it
        f = w.welcomed(self, herald.http)
        f.send_raw(['{"t":"ping","id":2}' + " " * 300, " " * 400, " " * 400])
        self.assert_bye_then_close(f, 1009)
        self.assertEqual(f.of_type("pong"), [])
        m = w.welcomed(self, herald.http, [w.MSGPACK])
        m.send({"t": "pub", "id": 3, "ch": "watch", "data": "x" * 1100})
        self.assert_bye_then_close(m, 1009)
        self.assertEqual(m.of_type("ok"), [])
        self.assert_untouched(herald, watch)
        self.assertEqual([e["data"] for e in watch.events("watch")], [1])

    def test_websockets_count_against_max_connections(self):
        herald = h.start(self, "run", "--max-connections", "2", "--workers", "1")
        first, second = (w.raw(self, herald.http) for _ in range(2))
        for c in (first, second):
            c.welcome()

        def refused():
            try:
                c = w.RawWS(herald.http)
            except (OSError, EOFError):
                return True                         # closed at accept
            c.close()
            return c.status == 503
        self.assertTrue(refused(), "a third connection was let in")
        first.close()

        def admitted():
            try:
                c = w.raw(self, herald.http)
            except (OSError, EOFError):
                return None
            return c if c.status == 101 else None
        third = h.wait_until(admitted, 5, "the freed place")
        third.subscribe("room")
        self.assertEqual(second.request({"t": "ping"})["t"], "pong")

    def test_ping_frames_count_against_the_rate(self):
        """Each ping frame costs the server a pong: a flood of them is
        closed 4004 like a flood of messages."""
        herald = h.start(self, "run", "--ws-max-rate", "50")
        watch = self.watcher(herald)
        flood = w.raw(self, herald.http)
        flood.welcome()
        flood.sock.sendall((bytes([0x89, 0x80]) + b"mask") * 60)
        self.assertEqual(flood.wait_end(10), 4004)
        self.assert_untouched(herald, watch)

    def test_a_client_flooding_frames_does_not_starve_its_worker(self):
        """A client can send frames faster than a worker reads (here ping
        frames under a rate limit set out of the way): the worker must
        still serve its other connections (it reads a bounded amount per
        client per turn), and stop on SIGTERM."""
        herald = h.start(self, "run", "--workers", "1", "--ws-max-rate", "1000000")
        watch = self.watcher(herald)
        flood = w.raw(self, herald.http)
        flood.welcome()
        blob = (bytes([0x89, 0x80]) + b"mask") * 20000          # empty masked pings
        stop, sent = threading.Event(), [0]
        self.addCleanup(stop.set)

        def send():
            while not stop.is_set():
                try:
                    flood.sock.sendall(blob)
                except OSError:
                    return
                sent[0] += 1
        threading.Thread(target=send, daemon=True).start()
        h.wait_until(lambda: sent[0] >= 10, 10, "the flood under way (1.2 MB of pings)")
        push = h.pusher(self, herald.pull)
        for n in range(1, 4):
            started = time.monotonic()
            self.assertEqual(watch.request({"t": "ping", "id": 100 + n}, timeout=5)["t"], "pong")
            push.send({"ch": "watch", "data": n})
            watch.wait_events("watch", n, timeout=5)
            # Generous (ASan, a loaded machine): starved, it took over 10 s
            self.assertLess(time.monotonic() - started, 5.0, "starved by the flood")
        self.assertEqual(herald.stop(timeout=10), 0)        # while the flood goes on
        self.assertEqual(watch.wait_end(5), 1001)

    def test_pub_over_max_event_is_err_too_big_and_the_connection_stays(self):
        herald = h.start(self, "run", "--max-event", "1K")
        c = w.welcomed(self, herald.http)
        c.subscribe("big")
        err = c.request({"t": "pub", "ch": "big", "data": "x" * 2000})
        self.assertEqual((err["t"], err["code"], err["retry"]), ("err", "too_big", False), err)
        ok = c.request({"t": "pub", "ch": "big", "data": "x" * 500})
        self.assertEqual((ok["t"], ok["s"]), ("ok", 1))
        self.assertEqual([e["s"] for e in c.wait_events("big", 1)], [1])

    def test_heartbeat_pings_and_a_client_that_sends_nothing_is_closed_4002(self):
        herald = h.start(self, "run", "--ws-heartbeat", "100ms")
        opened = time.monotonic()
        silent = w.welcomed(self, herald.http)
        answering = w.welcomed(self, herald.http, [w.MSGPACK])
        stop = threading.Event()
        self.addCleanup(stop.set)

        def answer():
            """Answers each server ping with a pong until stopped."""
            answered = 0
            while not stop.is_set() and not answering.ended:
                try:
                    answering.wait_for(lambda c: len(c.of_type("ping")) > answered
                                       or stop.is_set(), 1.0, "a ping")
                except AssertionError:
                    continue
                for _ in range(len(answering.of_type("ping")) - answered):
                    answering.send({"t": "pong"})
                    answered += 1
        pinger = w.raw(self, herald.http)           # protocol-level pings count too

        def ping_frames():
            while not stop.wait(0.5) and not pinger.ended:
                pinger.send_frame(w.PING, b"alive", quiet=True)
        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        threading.Thread(target=ping_frames, daemon=True).start()
        silent.wait_for(lambda c: len(c.of_type("ping")) >= 3, 3.0, "3 server pings")
        self.assertEqual(silent.of_type("ping")[0], {"t": "ping"})
        silent.wait_for(lambda c: len(c.of_type("ping")) >= 6, 3.0, "6 server pings")
        mean = (silent.times[6] - silent.times[1]) / 5      # pings 1 to 6
        self.assertTrue(0.05 <= mean <= 1.0, mean)          # 100 ms, allowing for a sweep
        self.assertEqual(silent.wait_end(16.0), 4002)
        elapsed = time.monotonic() - opened
        self.assertGreaterEqual(elapsed, 9.9, "closed before heartbeat + 10 s")
        self.assertIsNotNone(silent.bye())
        self.assertEqual(silent.bye()["code"], 4002)
        self.assertEqual(silent.close_reason, silent.bye()["why"])
        # the one that answers stays
        seen = len(answering.of_type("ping"))
        answering.wait_for(lambda c: len(c.of_type("ping")) >= seen + 2, 3.0, "more pings")
        self.assertFalse(answering.ended)
        self.assertEqual(answering.request({"t": "ping", "id": 99}), {"t": "pong", "id": 99})
        self.assertFalse(pinger.ended, "closed %s though it sent ping frames" % pinger.close_code)
        self.assertGreaterEqual(len([1 for op, p, _ in pinger.control
                                     if op == w.PONG and p == b"alive"]), 15)
        stop.set()
        thread.join(5)

    def test_sigterm_sends_bye_1001_with_retry_after_then_closes_1001(self):
        herald = h.start(self, "run")
        push = h.pusher(self, herald.pull)
        clients = [w.welcomed(self, herald.http, [w.MSGPACK] if i % 2 else None)
                   for i in range(8)]
        clients.append(w.raw(self, herald.http))
        for c in clients:
            c.subscribe("all")
        push.send({"ch": "all", "data": 1})
        for c in clients:
            c.wait_events("all", 1)
        self.assertEqual(herald.stop(), 0)
        retry = []
        for c in clients:
            self.assertEqual(c.wait_end(5), 1001)
            bye = c.bye()
            self.assertIsNotNone(bye, "no bye before close 1001")
            self.assertIs(c.messages[-1], bye)
            self.assertEqual(bye["code"], 1001)
            self.assertEqual(c.close_reason, bye["why"])
            self.assertIsInstance(bye["retry_after"], int)
            self.assertTrue(1000 <= bye["retry_after"] <= 5000, bye)
            retry.append(bye["retry_after"])
        self.assertGreater(len(set(retry)), 1, "retry_after not spread: %s" % retry)


if __name__ == "__main__":
    unittest.main()
