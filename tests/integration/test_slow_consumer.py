"""A client that stops reading is disconnected once its queued bytes pass
--slow-consumer-bytes; a fast client on the same channel keeps receiving;
the slow one reconnects with its last cursor and loses nothing."""
import threading
import unittest

import harness as h


class StalledClient(h.SSEClient):
    """An SSE client whose reader can be stopped: its socket then fills up."""

    def __init__(self, *args, **kw):
        self.gate = threading.Event()
        self.gate.set()
        super().__init__(*args, **kw)

    def _fill(self):
        self.gate.wait()
        super()._fill()

    def stall(self):
        self.gate.clear()


class SlowConsumer(unittest.TestCase):
    def test_slow_client_is_cut_off_and_resumes_without_loss(self):
        herald = h.start(self, "run", "--slow-consumer-bytes", "64K", "--workers", "1")
        fast = h.subscribed(self, herald.http, ["firehose"])
        slow = StalledClient(herald.http, ["firehose"])
        self.addCleanup(slow.close)
        slow.wait_subscribed()
        slow.stall()
        push = h.pusher(self, herald.pull)
        payload = "x" * 4000
        sent = 0

        def cut_off():
            nonlocal sent
            for _ in range(50):
                sent += 1
                push.send({"ch": "firehose", "data": {"n": sent, "pad": payload}})
            return h.metric(herald.http, "herald_slow_consumers_total") >= 1 or sent >= 40000
        # The kernel's socket buffers (megabytes on loopback) fill first
        h.wait_until(cut_off, 60, "the slow consumer to be disconnected")
        self.assertGreaterEqual(h.metric(herald.http, "herald_slow_consumers_total"), 1)
        fast.wait_for(lambda c: len(c.events) >= sent, 30, "the fast client's events")
        self.assertEqual([e["data"]["n"] for e in fast.envelopes()], list(range(1, sent + 1)))
        self.assertEqual(h.metric(herald.http, "herald_connections"), 1)

        slow.gate.set()                             # read what the kernel kept
        slow.wait_end(30)
        got = [e["data"]["n"] for e in slow.envelopes()]
        self.assertLess(len(got), sent, "the slow client was not behind")
        again = h.sse(self, herald.http, ["firehose"], last_event_id=slow.last_id)
        again.wait_for(lambda c: len(c.events) >= sent - len(got), 30, "the missed events")
        got += [e["data"]["n"] for e in again.envelopes()]
        self.assertEqual(got, list(range(1, sent + 1)))


if __name__ == "__main__":
    unittest.main()
