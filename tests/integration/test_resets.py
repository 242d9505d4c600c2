"""Resume that cannot be served becomes an explicit reset, one per channel,
with the documented reason, and the stream goes on live from the position
the reset names (docs/protocol.md §7). Garbled cursors are refused."""
import base64
import unittest

import harness as h


def encode_cursor(channels, positions):
    """docs/protocol.md §6, for forging cursors with a valid checksum."""
    def varint(n):
        out = bytearray()
        while n >= 0x80:
            out.append((n & 0x7F) | 0x80)
            n >>= 7
        out.append(n)
        return bytes(out)
    raw = bytearray([1]) + h.channel_set_hash(channels).to_bytes(4, "little")
    raw += varint(len(positions))
    for epoch, seq in positions:
        raw += bytes([len(epoch)]) + epoch.encode() + varint(seq)
    raw += h.fnv1a(raw).to_bytes(4, "little")
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


def free_endpoints(count):
    return [h.unused_endpoint() for _ in range(count)]


class Resets(unittest.TestCase):
    def setUp(self):
        self.herald = h.start(self, "run", "--history-size", "10", "--recent-events", "0")
        self.push = h.pusher(self, self.herald.pull)

    def publish(self, channel, count):
        for i in range(count):
            self.push.send({"ch": channel, "data": {"i": i}})

    def cursor_after(self, channel, seq):
        """Connects, waits for event seq, returns its cursor, disconnects."""
        c = h.subscribed(self, self.herald.http, [channel])
        self.publish(channel, seq)
        events = c.wait_events(seq)
        c.close()
        return events[-1].id, events[-1].json["epoch"]

    def test_history_expired_by_count_resets_then_goes_live(self):
        cursor, epoch = self.cursor_after("count", 2)
        self.publish("count", 30)                  # seqs 3..32; only 23..32 kept
        h.wait_until(lambda: h.metric(self.herald.http, "herald_broker_events_total") >= 32)
        c = h.sse(self, self.herald.http, ["count"], last_event_id=cursor)
        reset = c.wait_events(1, type="herald-reset")[0].json
        self.assertEqual(reset, {"channel": "count", "reason": "expired", "epoch": epoch, "seq": 32})
        self.publish("count", 1)
        live = c.wait_events(1, type="message")[0].json
        self.assertEqual(live["seq"], 33)
        self.assertEqual([e.type for e in c.events], ["herald-reset", "message"])
        self.assertEqual(h.decode_cursor(c.last_id)["positions"], [(epoch, 33)])

    def test_history_expired_by_age_resets(self):
        herald = h.start(self, "run", "--history-age", "1s", "--recent-events", "0")
        push = h.pusher(self, herald.pull)
        c = h.subscribed(self, herald.http, ["aged"])
        for i in range(3):
            push.send({"ch": "aged", "data": i})
        cursor = c.wait_events(1)[0].id                  # position 1
        c.close()
        # Keep the channel busy (an idle one is dropped) until 1-3 age out
        sent = [3]

        def aged_out():
            push.send({"ch": "aged", "data": sent[0]})
            sent[0] += 1
            return h.metric(herald.http, 'herald_history_evicted_total{reason="age"}') >= 3
        h.wait_until(aged_out, 10, "age eviction", interval=0.2)
        c = h.sse(self, herald.http, ["aged"], last_event_id=cursor)
        reset = c.wait_events(1, type="herald-reset")[0].json
        self.assertEqual(reset["reason"], "expired")
        self.assertGreaterEqual(reset["seq"], 4)

    def test_missed_range_within_history_is_replayed_without_reset(self):
        cursor, _ = self.cursor_after("within", 2)
        self.publish("within", 5)
        h.wait_until(lambda: h.metric(self.herald.http, "herald_broker_events_total") >= 7)
        c = h.sse(self, self.herald.http, ["within"], last_event_id=cursor)
        self.assertEqual([e["seq"] for e in
                          [ev.json for ev in c.wait_events(5)]], [3, 4, 5, 6, 7])
        self.assertFalse([e for e in c.events if e.type == "herald-reset"])

    def test_resume_from_the_lasteventid_query_parameter(self):
        cursor, _ = self.cursor_after("query", 1)
        self.publish("query", 2)
        h.wait_until(lambda: h.metric(self.herald.http, "herald_broker_events_total") >= 3)
        c = h.sse(self, self.herald.http, ["query"], query={"lastEventId": cursor})
        self.assertEqual([e.json["seq"] for e in c.wait_events(2)], [2, 3])

    def test_unknown_channel_cursor_resets(self):
        forged = encode_cursor(["ghost"], [("0123456789abcdef", 5)])
        c = h.sse(self, self.herald.http, ["ghost"], last_event_id=forged)
        self.assertEqual(c.status, 200)
        reset = c.wait_events(1, type="herald-reset")[0].json
        self.assertEqual(reset, {"channel": "ghost", "reason": "unknown-channel",
                                 "epoch": None, "seq": 0})
        self.publish("ghost", 1)
        self.assertEqual(c.wait_events(1, type="message")[0].json["seq"], 1)

    def test_other_epoch_resets_epoch_changed(self):
        _, epoch = self.cursor_after("epochs", 3)
        forged = encode_cursor(["epochs"], [("feedfacefeedface", 2)])
        c = h.sse(self, self.herald.http, ["epochs"], last_event_id=forged)
        reset = c.wait_events(1, type="herald-reset")[0].json
        self.assertEqual(reset, {"channel": "epochs", "reason": "epoch-changed",
                                 "epoch": epoch, "seq": 3})

    def test_cursor_ahead_of_the_broker_resets(self):
        _, epoch = self.cursor_after("ahead", 3)
        forged = encode_cursor(["ahead"], [(epoch, 1000)])
        c = h.sse(self, self.herald.http, ["ahead"], last_event_id=forged)
        reset = c.wait_events(1, type="herald-reset")[0].json
        self.assertEqual(reset, {"channel": "ahead", "reason": "cursor-ahead",
                                 "epoch": epoch, "seq": 3})

    def test_only_the_broken_channel_resets(self):
        c = h.subscribed(self, self.herald.http, ["keep", "lose"])
        self.publish("keep", 1)
        self.publish("lose", 1)
        c.wait_events(2)
        cursor = c.last_id
        c.close()
        self.publish("keep", 3)                    # 2..4: kept
        self.publish("lose", 20)                   # 2..21: 2..11 evicted
        h.wait_until(lambda: h.metric(self.herald.http, "herald_broker_events_total") >= 25)
        c = h.sse(self, self.herald.http, ["keep", "lose"], last_event_id=cursor)
        c.wait_for(lambda cl: len(cl.events) >= 4, message="replay and reset")
        kinds = sorted((e.type, e.json["channel"], e.json.get("seq")) for e in c.events)
        self.assertEqual(kinds, [("herald-reset", "lose", 21), ("message", "keep", 2),
                                 ("message", "keep", 3), ("message", "keep", 4)])

    def test_garbled_cursors_are_refused(self):
        # (a well-formed cursor of another channel set is not refused:
        # test_sse_ergonomics.py)
        good = encode_cursor(["a", "b"], [("", 0), ("", 0)])
        flipped = good[:6] + ("A" if good[6] != "A" else "B") + good[7:]
        for bad in (flipped, good[:-2], good + "A", good + "=", "not a cursor!",
                    "x" * 5000):
            c = h.sse(self, self.herald.http, ["a", "b"], last_event_id=bad)
            self.assertEqual(c.status, 400, bad)
            self.assertEqual(c.json["error"], "bad_cursor")
        ok = h.sse(self, self.herald.http, ["b", "a"], last_event_id=good)
        self.assertEqual(ok.status, 200)


class EpochChange(unittest.TestCase):
    def test_broker_restart_resets_live_and_resuming_clients(self):
        pull, router, xpub = free_endpoints(3)
        args = ["--pull", pull, "--router", router, "--xpub", xpub]
        broker = h.Herald("broker", args)
        self.addCleanup(broker.kill)
        gateway = h.start(self, "gateway", "--broker", "%s,%s" % (xpub, router))
        push = h.pusher(self, pull)
        live = h.subscribed(self, gateway.http, ["restart"])
        push.send({"ch": "restart", "data": 1})
        first = live.wait_events(1)[0].json
        broker.stop()
        broker = h.Herald("broker", args)          # history is gone: a new epoch
        self.addCleanup(broker.kill)
        self.addCleanup(broker.stop)
        push.send({"ch": "restart", "data": 2})
        # The gateway learns of the new history from the new broker's head
        # marker or its first event, whichever comes first; either way one
        # reset, then events continue from the position it names.
        reset = live.wait_events(1, type="herald-reset")[0].json
        self.assertEqual(reset["reason"], "epoch-changed")
        push.send({"ch": "restart", "data": 3})
        live.wait_for(lambda c: any(e.type == "message" and e.json["data"] == 3
                                    for e in c.events), message="the event after the reset")
        after = [e.json for e in live.events[2:]]
        self.assertTrue(after and all(e["epoch"] != first["epoch"] for e in after), after)
        self.assertEqual([e["seq"] for e in after],
                         list(range(reset["seq"] + 1, reset["seq"] + 1 + len(after))))
        if reset["epoch"]:
            self.assertEqual({e["epoch"] for e in after}, {reset["epoch"]})
        event = after[-1]
        self.assertEqual([e.type for e in live.events][:2], ["message", "herald-reset"])
        self.assertEqual(len([e for e in live.events if e.type == "herald-reset"]), 1)
        stale = encode_cursor(["restart"], [(first["epoch"], 1)])
        resumed = h.sse(self, gateway.http, ["restart"], last_event_id=stale)
        reset = resumed.wait_events(1, type="herald-reset")[0].json
        self.assertEqual((reset["reason"], reset["epoch"], reset["seq"]),
                         ("epoch-changed", event["epoch"], event["seq"]))


if __name__ == "__main__":
    unittest.main()
