"""Gap repair: with tiny ZeroMQ high-water marks between broker and gateway,
the broker drops stream messages under a burst. The gateway notices each seq
jump, fills it from the broker's history before delivering later events, and
clients still receive every event once, in order, without a reset."""
import unittest

import harness as h

EVENTS = 3000


class GapRepair(unittest.TestCase):
    def test_dropped_stream_messages_are_filled_from_history(self):
        herald = h.start(self, "run", "--xpub-hwm", "1", "--sub-hwm", "1",
                         "--history-size", str(EVENTS), "--recent-events", "0")
        clients = [h.subscribed(self, herald.http, ["gap-a", "gap-b"]) for _ in range(3)]
        push = h.pusher(self, herald.pull)
        for i in range(EVENTS):
            push.send({"ch": "gap-a" if i % 3 else "gap-b", "data": {"i": i}})
        counts = {"gap-a": EVENTS - EVENTS // 3, "gap-b": EVENTS // 3}
        for client in clients:
            client.wait_for(lambda c: len(c.events) >= EVENTS, 60, "all events")
            self.assertEqual({e.type for e in client.events}, {"message"})
            for channel, count in counts.items():
                seqs = [e["seq"] for e in client.envelopes() if e["channel"] == channel]
                self.assertEqual(seqs, list(range(1, count + 1)), channel)
        m = h.metrics(herald.http)
        print("\ngap fills %d for %d events" % (m["herald_gap_fills_total"], EVENTS))
        self.assertGreater(m["herald_gap_fills_total"], 0, "no drop happened: test is void")

    def test_tail_loss_is_found_by_the_brokers_markers(self):
        """The last events of a burst dropped and the channel then quiet:
        the broker's periodic head marker reveals the gap."""
        herald = h.start(self, "run", "--xpub-hwm", "1", "--sub-hwm", "1",
                         "--recent-events", "0")
        client = h.subscribed(self, herald.http, ["tail"])
        push = h.pusher(self, herald.pull)
        for i in range(500):
            push.send({"ch": "tail", "data": i})
        client.wait_for(lambda c: len(c.events) >= 500, 15, "every event, the tail included")
        self.assertEqual([e["seq"] for e in client.envelopes()], list(range(1, 501)))


if __name__ == "__main__":
    unittest.main()
