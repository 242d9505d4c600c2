"""Durable history (--data-dir): a clean restart (SIGTERM, then a start on
the same directory) keeps every channel's epoch, head and history, and the
idempotency keys of the dedupe window.

In run mode the restart takes the gateway with it: SSE and WebSocket
clients come back with their cursor (Last-Event-ID) or position (sub e/s)
and get what they missed, then live events, with no reset, no loss and no
duplicate. In split mode only the broker restarts: clients connected to the
gateway go on through it, again with no reset. Publishes go over PUSH,
DEALER (with keys) and HTTP (with ids), one channel each; a key repeated
after the restart is a dup of its first publish, and new publishes continue
at head + 1 in the same epoch."""
import shutil
import tempfile
import unittest

import harness as h
import wsclient as w

CHANNELS = ("by-push", "by-dealer", "by-http")


class Publishers:
    """One publisher per channel of CHANNELS; remembers every ack."""

    def __init__(self, test, server, http):
        self.test, self.http = test, http
        self.push = h.pusher(test, server.pull)
        self.dealer = h.dealer(test, server.router)
        self.acks = {}          # key -> (epoch, seq)
        self.sent = 0

    def batch(self, n):
        """n events on each channel; returns the acks of the keyed ones."""
        acks = []
        for _ in range(n):
            self.sent += 1
            i = self.sent
            self.push.send({"ch": "by-push", "data": {"i": i}})
            reply = self.dealer.request({"ch": "by-dealer", "data": {"i": i}, "id": "d%d" % i,
                                         "rid": i})
            self.test.assertEqual((reply["rid"], reply["dup"]), (i, False), reply)
            r = h.publish(self.http, {"channel": "by-http", "data": {"i": i}, "id": "h%d" % i})
            self.test.assertEqual((r.status, r.json["duplicate"]), (200, False), r)
            self.acks["d%d" % i] = (reply["epoch"], reply["seq"])
            self.acks["h%d" % i] = (r.json["epoch"], r.json["seq"])
            acks += [("by-dealer", reply["epoch"], reply["seq"]),
                     ("by-http", r.json["epoch"], r.json["seq"])]
        return acks

    def settled(self, base):
        """Waits until the PUSHes (unacknowledged) are sequenced too."""
        h.wait_until(lambda: h.http("GET", base + "/v1/history?channel=by-push&limit=0")
                     .json["head"] == self.sent, 10, "every PUSH sequenced")


def history(base):
    return {ch: h.history_all(base, ch) for ch in CHANNELS}


def sse_messages(client, n, timeout=10.0):
    """The first n items of an SSE client, which must all be events."""
    items = client.wait_events(n, timeout)
    kinds = [e.type for e in items]
    assert kinds == ["message"] * n, "not only events: %s" % items
    return [e.json for e in items]


def per_channel(envelopes):
    out = {ch: [] for ch in CHANNELS}
    for e in envelopes:
        out[e["channel"]].append(e)
    return out


def ws_events(client, n, timeout=10.0):
    """The first n ev of a WebSocket client, as SSE envelopes (no reset may
    come among them)."""
    client.wait_for(lambda c: len(c.events()) + len(c.of_type("reset")) >= n, timeout,
                    "%d events" % n)
    assert not client.of_type("reset"), client.of_type("reset")
    return [{"channel": m["ch"], "epoch": m["e"], "seq": m["s"], "data": m["data"]}
            for m in client.events()[:n]]


def ws_position(client):
    return {m["ch"]: (m["e"], m["s"]) for m in client.events()}


def strip(envelopes):
    """What a WebSocket ev says of an envelope."""
    return [{k: e[k] for k in ("channel", "epoch", "seq", "data")} for e in envelopes]


class DurableRestart(unittest.TestCase):
    def setUp(self):
        self.data = tempfile.mkdtemp(prefix="herald-durable-")
        self.addCleanup(shutil.rmtree, self.data, True)

    def subscribe_ws(self, base, positions=None):
        c = w.welcomed(self, base, [w.JSON])
        for ch in CHANNELS:
            at = (positions or {}).get(ch)
            c.subscribe(ch, **({"e": at[0], "s": at[1]} if at else {}))
        return c

    def check_kept(self, before, after, acks):
        """After the restart: the same history, the same epochs; keys dup."""
        self.assertEqual(after, before, "history changed across the restart")
        for ch, (page, events) in after.items():
            self.assertEqual({e["epoch"] for e in events}, {page["epoch"]}, ch)

    def check_keys(self, server, http, publishers):
        dealer = h.dealer(self, server.router)
        for key, (epoch, seq) in publishers.acks.items():
            if key.startswith("d"):
                reply = dealer.request({"ch": "by-dealer", "data": "again", "id": key, "rid": 7})
                self.assertEqual((reply["rid"], reply["dup"], reply["epoch"], reply["seq"]),
                                 (7, True, epoch, seq), key)
            else:
                r = h.publish(http, {"channel": "by-http", "data": "again", "id": key})
                self.assertEqual((r.status, r.json["duplicate"], r.json["epoch"],
                                  r.json["seq"]), (200, True, epoch, seq), (key, r))

    def test_run_mode_clients_resume_with_no_reset_no_loss_no_duplicate(self):
        server = h.Restartable(self, "run", "--data-dir", self.data)
        h.wait_until(lambda: any(self.data in line for line in server.proc.stdout_lines), 5,
                     "the banner to say where data lives")
        pub = Publishers(self, server, server.http)
        live = h.subscribed(self, server.http, list(CHANNELS))
        ws_live = self.subscribe_ws(server.http)
        pub.batch(4)
        pub.settled(server.http)
        sse_messages(live, 12)
        ws_events(ws_live, 12)
        mid_cursor, mid_ws = live.last_id, ws_position(ws_live)
        pub.batch(4)
        pub.settled(server.http)
        first_two = per_channel(sse_messages(live, 24))
        self.assertEqual(per_channel(ws_events(ws_live, 24)),
                         {ch: strip(e) for ch, e in first_two.items()})
        before = history(server.http)
        self.assertEqual({ch: events for ch, (_, events) in before.items()}, first_two)

        server.restart()
        live.wait_end()
        ws_live.wait_end()
        after = history(server.http)
        self.check_kept(before, after, pub.acks)
        self.check_keys(server, server.http, pub)
        # Clients come back: the one at the end, the one from the middle
        resumed = h.subscribed(self, server.http, list(CHANNELS), last_event_id=live.last_id)
        middle = h.subscribed(self, server.http, list(CHANNELS), last_event_id=mid_cursor)
        ws_resumed = self.subscribe_ws(server.http, ws_position(ws_live))
        ws_middle = self.subscribe_ws(server.http, mid_ws)
        for ch, epoch, seq in pub.batch(2):
            self.assertEqual(epoch, after[ch][0]["epoch"], "a new epoch after a clean restart")
            self.assertGreater(seq, after[ch][0]["head"])
        pub.settled(server.http)
        final = {ch: events for ch, (_, events) in history(server.http).items()}
        for ch, (page, events) in after.items():
            self.assertEqual(final[ch][:len(events)], events, ch)
            self.assertEqual([e["seq"] for e in final[ch]], list(range(1, 11)),
                             "%s does not continue at head + 1" % ch)
        self.assertEqual(per_channel(sse_messages(resumed, 6)),
                         {ch: e[8:] for ch, e in final.items()})
        self.assertEqual(per_channel(sse_messages(middle, 18)),
                         {ch: e[4:] for ch, e in final.items()})
        self.assertEqual(per_channel(ws_events(ws_resumed, 6)),
                         {ch: strip(e[8:]) for ch, e in final.items()})
        self.assertEqual(per_channel(ws_events(ws_middle, 18)),
                         {ch: strip(e[4:]) for ch, e in final.items()})
        self.assertEqual(h.metric(server.http, 'herald_resets_total{reason="epoch-changed"}'), 0)

    def test_split_mode_broker_restart_is_seamless_for_gateway_clients(self):
        broker = h.Restartable(self, "broker", "--data-dir", self.data)
        gateway = h.start(self, "gateway", "--broker", "%s,%s" % (broker.xpub, broker.router))
        h.wait_broker_linked(gateway)
        pub = Publishers(self, broker, gateway.http)
        live = h.subscribed(self, gateway.http, list(CHANNELS))
        ws_live = self.subscribe_ws(gateway.http)
        pub.batch(3)
        pub.settled(gateway.http)
        sse_messages(live, 9)
        ws_events(ws_live, 9)
        before = history(gateway.http)

        broker.restart()
        h.wait_broker_linked(gateway)
        self.check_kept(before, history(gateway.http), pub.acks)
        self.check_keys(broker, gateway.http, pub)
        pub.batch(3)
        pub.settled(gateway.http)
        final = {ch: events for ch, (_, events) in history(gateway.http).items()}
        for ch, events in final.items():
            self.assertEqual([e["seq"] for e in events], list(range(1, 7)), ch)
            self.assertEqual(len({e["epoch"] for e in events}), 1, "%s: a new epoch" % ch)
        self.assertEqual(per_channel(sse_messages(live, 18)), final)
        self.assertEqual(per_channel(ws_events(ws_live, 18)),
                         {ch: strip(e) for ch, e in final.items()})
        self.assertFalse(live.ended or ws_live.ended)
        self.assertEqual(h.metric(gateway.http, 'herald_resets_total{reason="epoch-changed"}'), 0)


if __name__ == "__main__":
    unittest.main()
