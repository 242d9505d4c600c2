"""A WebSocket client that stops reading is closed with 4001 once its
queued bytes pass --slow-consumer-bytes (bye first, delivered when it reads
again within the server's linger); clients that read keep receiving every
event, in order, with bounded latency; the slow one resumes with e/s and
loses nothing. A resume whose client takes nothing is closed 4001 after
--conn-timeout; many resumes under a small --catchup-memory wait their
turn and all complete (docs/protocol.md, WebSocket)."""
import time
import unittest

import harness as h
import wsclient as w

PAD = "x" * 4000


class SlowConsumer(unittest.TestCase):
    def test_a_client_that_stops_reading_is_closed_4001_and_others_keep_up(self):
        herald = h.start(self, "run", "--slow-consumer-bytes", "64K", "--workers", "1",
                         "--history-size", "100000")
        base = herald.http
        readers = [w.welcomed(self, base), w.welcomed(self, base, [w.MSGPACK])]
        for c in readers:
            c.subscribe("firehose")
        slow = w.raw(self, base, rcvbuf=4096)
        slow.welcome()
        slow.subscribe("firehose")
        slow.stall()
        push = h.pusher(self, herald.pull)
        sent_at = [None]

        def cut_off():
            """Publishes while the readers keep up (at most 300 behind), until
            the server gives up on the stalled client."""
            if h.metric(base, "herald_slow_consumers_total") >= 1:
                return True
            behind = min(len(c.events("firehose")) for c in readers)
            for _ in range(max(0, min(50, behind + 300 - (len(sent_at) - 1)))):
                n = len(sent_at)
                sent_at.append(time.monotonic())
                push.send({"ch": "firehose", "data": {"n": n, "pad": PAD}})
            self.assertLess(len(sent_at), 40000, "never cut off")
            return False
        # the kernel's socket buffers fill first
        h.wait_until(cut_off, 60, "the stalled client to be cut off")
        sent = len(sent_at) - 1
        # read what the kernel kept, and the last words the server holds for
        # a while (protocol.md §11.10: bye when the socket takes it, then 4001)
        slow.resume()
        self.assertEqual(slow.wait_end(30), 4001, "close frames: %s" % slow.control[-2:])
        for c in readers:
            evs = c.wait_events("firehose", sent, 30)
            self.assertEqual([e["data"]["n"] for e in evs], list(range(1, sent + 1)))
            self.assertEqual([e["s"] for e in evs], list(range(1, sent + 1)))
            index = {id(m): i for i, m in enumerate(c.messages)}
            lag = sorted(c.times[index[id(e)]] - sent_at[e["data"]["n"]] for e in evs)
            print("\n%s: %d events, latency p50 %.1f ms, p99 %.1f ms, max %.1f ms" % (
                c.subprotocol or "json", sent, 1000 * lag[len(lag) // 2],
                1000 * lag[int(len(lag) * 0.99)], 1000 * lag[-1]))
            self.assertLess(lag[int(len(lag) * 0.99)], 1.0)
            self.assertLess(lag[-1], 3.0)
            self.assertFalse(c.ended)
        self.assertEqual(h.metric(base, "herald_slow_consumers_total"), 1)

        got = slow.events("firehose")
        self.assertLess(len(got), sent, "the stalled client was not behind")
        self.assertEqual([e["s"] for e in got], list(range(1, len(got) + 1)))
        bye = slow.bye()
        print("stalled client: %d of %d events, then %s and close 4001"
              % (len(got), sent, "bye" if bye else "no bye"))
        # the client read within the server's linger: its bye went out too
        self.assertIsNotNone(bye, "no bye before close 4001")
        self.assertEqual(bye["code"], 4001)
        self.assertIs(slow.messages[-1], bye)
        self.assertEqual(h.metric(base, 'herald_ws_closed_total{code="4001"}'), 1)
        again = w.welcomed(self, base)
        last = got[-1] if got else {"e": None, "s": 0}
        again.subscribe("firehose", e=last["e"], s=last["s"])
        rest = again.wait_events("firehose", sent - len(got), 30)
        self.assertEqual([e["s"] for e in got + rest], list(range(1, sent + 1)))
        self.assertEqual(again.of_type("reset"), [])
        for c in readers:
            self.assertEqual(c.request({"t": "ping"})["t"], "pong")


    def test_a_resume_whose_client_takes_nothing_is_closed_4001_after_conn_timeout(self):
        herald = h.start(self, "run", "--conn-timeout", "1s", "--slow-consumer-bytes", "64K",
                         "--history-size", "100000", "--recent-events", "0")
        base = herald.http
        push = h.pusher(self, herald.pull)
        total = 3000                    # 12 MB: more than the kernel's buffers hold
        for i in range(total):
            push.send({"ch": "backlog", "data": {"n": i + 1, "pad": PAD}})
        h.wait_until(lambda: h.metric(base, "herald_broker_events_total") >= total, 20,
                     "the backlog sequenced")
        stalled = w.raw(self, base, rcvbuf=4096, read=False)
        stalled.send({"t": "sub", "id": 1, "ch": "backlog", "e": None, "s": 0})
        closed = 'herald_ws_closed_total{code="4001"}'
        started = time.monotonic()
        h.wait_until(lambda: h.metric(base, closed) >= 1, 10, "the stalled resume to be closed")
        self.assertGreaterEqual(time.monotonic() - started, 0.9, "closed before --conn-timeout")
        stalled.resume()
        self.assertEqual(stalled.wait_end(10), 4001)
        self.assertEqual(stalled.bye()["code"], 4001)
        self.assertEqual(h.metric(base, "herald_slow_consumers_total"), 1)
        got = stalled.events("backlog")
        self.assertLess(len(got), total)
        self.assertEqual([e["s"] for e in got], list(range(1, len(got) + 1)))
        # and it resumes from there, losing nothing
        again = w.welcomed(self, base)
        last = got[-1] if got else {"e": None, "s": 0}
        again.subscribe("backlog", e=last["e"], s=last["s"])
        rest = again.wait_events("backlog", total - len(got), 30)
        self.assertEqual([e["s"] for e in got + rest], list(range(1, total + 1)))


    def test_many_resumes_under_a_small_catchup_memory_all_complete_in_order(self):
        herald = h.start(self, "run", "--catchup-memory", "64K", "--recent-events", "0",
                         "--history-size", "100000", "--workers", "1")
        base = herald.http
        push = h.pusher(self, herald.pull)
        n = 500                                     # 1 KB each: 1 MB over two channels
        for ch in ("c1", "c2"):
            for i in range(n):
                push.send({"ch": ch, "data": {"n": i + 1, "pad": PAD[:1000]}})
        h.wait_until(lambda: h.metric(base, "herald_broker_events_total") >= 2 * n, 20,
                     "the backlog sequenced")
        epoch = w.welcomed(self, base).subscribe("c1")["e"]
        clients = []
        for i in range(12):
            c = w.welcomed(self, base, [w.MSGPACK] if i % 2 else None)
            c.send([{"t": "sub", "id": 1, "ch": "c1", "e": epoch, "s": i * 10},
                    {"t": "sub", "id": 2, "ch": "c2", "e": None, "s": 0}])
            clients.append(c)
        for i, c in enumerate(clients):
            c.wait_for(lambda cl: len(cl.events("c1")) >= n - i * 10
                       and len(cl.events("c2")) >= n, 60, "client %d's replay" % i)
            self.assertEqual([e["s"] for e in c.events("c1")], list(range(i * 10 + 1, n + 1)))
            self.assertEqual([e["s"] for e in c.events("c2")], list(range(1, n + 1)))
            self.assertEqual(c.of_type("reset"), [])
        h.wait_until(lambda: h.metric(base, "herald_catchup_bytes") == 0, 5,
                     "the catch-up memory given back")


if __name__ == "__main__":
    unittest.main()
