"""Ordered epochs at the edge (docs/protocol.md §1.1): a gateway ignores
events and head markers of an epoch older than the channel's (a deposed
owner, a broker that lags), so its clients see no reset and nothing twice;
a cursor of a newer epoch than the gateway has heard is resumed after the
gateway asks the broker, not reset backwards; old 16-digit cursors and
older ones get `epoch-changed`.

FakeBroker is one thread owning an XPUB and a ROUTER on ephemeral loopback
ports, playing a broker whose stream the test scripts event by event."""
import queue
import threading
import time
import unittest

import msgpack
import zmq

import harness as h
import wsclient as w
from test_resets import encode_cursor

EA = h.make_epoch(0, 1000, "aaaaaaaaaaaaaaaa")      # older
EB = h.make_epoch(0, 2000, "bbbbbbbbbbbbbbbb")
EC = h.make_epoch(1, 3000, "cccccccccccccccc")      # a new owner, a later view


class FakeBroker:
    """Per channel a current (epoch, events); answers subscriptions with a
    head marker and history queries from its events. Every socket call is
    on its own thread; the test hands it work through do()."""

    def __init__(self):
        self.router = h.ZMQ.socket(zmq.ROUTER)
        self.router.setsockopt(zmq.LINGER, 0)
        self.router_port = self.router.bind_to_random_port("tcp://127.0.0.1")
        self.xpub = h.ZMQ.socket(zmq.XPUB)
        self.xpub.setsockopt(zmq.LINGER, 0)
        self.xpub.setsockopt(zmq.XPUB_VERBOSE, 1)
        self.xpub_port = self.xpub.bind_to_random_port("tcp://127.0.0.1")
        self.channels = {}          # name -> [epoch, [seq, ...]]
        self.lock = threading.Lock()
        self.heads_asked = 0        # history queries with limit 0
        self.asked = []             # (epoch, since) of every history query
        self.work = queue.Queue()
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def endpoints(self):
        return "tcp://127.0.0.1:%d,tcp://127.0.0.1:%d" % (self.xpub_port, self.router_port)

    def do(self, fn):
        done = queue.Queue()
        self.work.put(lambda: done.put(fn()))
        return done.get(timeout=10)

    # ---- on the broker's thread

    @staticmethod
    def _envelope(channel, epoch, seq):
        return msgpack.packb({"ch": channel, "seq": seq, "epoch": epoch,
                              "ts": int(time.time() * 1000), "data": {"seq": seq}})

    def _head(self, channel):
        epoch, seqs = self.channels.get(channel, [None, []])
        return epoch, (seqs[-1] if seqs else 0)

    def _on_request(self, frames):
        req = msgpack.unpackb(frames[-1], raw=False)
        channel = req["ch"]
        epoch, head = self._head(channel)
        reply = {"rid": req["rid"], "ch": channel, "epoch": epoch, "head": head,
                 "first": 1, "count": 0}
        events = []
        with self.lock:
            self.asked.append((req.get("epoch"), req.get("since", 0)))
        if req.get("limit", 100) == 0:
            with self.lock:
                self.heads_asked += 1
        elif req.get("epoch") not in (None, epoch):
            reply["reset"] = "epoch-changed"
        else:
            since = req.get("since", 0)
            events = [self._envelope(channel, epoch, s) for s in range(since + 1, head + 1)]
            events = events[:req.get("limit", 100)]
            reply["count"] = len(events)
        self.router.send_multipart([frames[0], msgpack.packb(reply)] + events)

    def _on_subscription(self, frame):
        topic = frame[1:].decode()
        if frame[:1] == b"\x01" and topic.endswith("|"):
            epoch, head = self._head(topic[:-1])
            self.xpub.send_multipart([topic.encode(), msgpack.packb(
                {"ch": topic[:-1], "epoch": epoch, "seq": head, "head": True})])

    def _run(self):
        poller = zmq.Poller()
        poller.register(self.router, zmq.POLLIN)
        poller.register(self.xpub, zmq.POLLIN)
        while self.running:
            for s, _ in poller.poll(10):
                if s is self.router:
                    self._on_request(self.router.recv_multipart())
                else:
                    self._on_subscription(self.xpub.recv())
            while not self.work.empty():
                self.work.get()()
        self.router.close(0)
        self.xpub.close(0)

    # ---- from the test

    def history(self, channel, epoch, head):
        """The channel's current history: epoch, seqs 1..head (nothing sent)."""
        self.do(lambda: self.channels.__setitem__(channel, [epoch, list(range(1, head + 1))]))

    def event(self, channel, epoch, seq):
        """Sends an event on the stream; one of the current epoch is kept."""
        def send():
            current = self.channels.setdefault(channel, [epoch, []])
            if current[0] == epoch:
                current[1].append(seq)
            self.xpub.send_multipart([(channel + "|").encode(),
                                      self._envelope(channel, epoch, seq)])
        self.do(send)

    def marker(self, channel, epoch, head):
        self.do(lambda: self.xpub.send_multipart([(channel + "|").encode(), msgpack.packb(
            {"ch": channel, "epoch": epoch, "seq": head, "head": True})]))

    def stop(self):
        self.running = False
        self.thread.join(10)


class GatewayOnAFakeBroker(unittest.TestCase):
    def setUp(self):
        self.broker = FakeBroker()
        self.addCleanup(self.broker.stop)
        #  One worker: every client of a test shares the worker's channel
        self.gateway = h.start(self, "gateway", "--broker", self.broker.endpoints(),
                               "--workers", "1")
        h.wait_broker_linked(self.gateway)

    def stale(self):
        return h.metric(self.gateway.http, "herald_stale_epoch_total") or 0

    def test_older_marker_and_events_after_newer_ones_are_ignored(self):
        self.broker.history("orders", EB, 0)
        c = h.subscribed(self, self.gateway.http, ["orders"])
        self.broker.event("orders", EB, 1)
        self.broker.event("orders", EB, 2)
        c.wait_events(2)
        #  A deposed owner's marker and event, and an old 16-digit epoch
        self.broker.marker("orders", EA, 50)
        self.broker.event("orders", EA, 3)
        self.broker.event("orders", "9f1c2ab03e4d5f60", 3)
        h.wait_until(lambda: self.stale() >= 3, 5, "three stale items counted")
        self.broker.event("orders", EB, 3)
        self.broker.event("orders", EB, 4)
        #  Frames arrive in order: a wrong reset or repeat would come before 4
        c.wait_for(lambda c: any(e.type == "message" and e.json["seq"] == 4 for e in c.events))
        self.assertEqual([(e.type, e.json["epoch"], e.json["seq"]) for e in c.events],
                         [("message", EB, s) for s in (1, 2, 3, 4)])
        self.assertEqual(self.stale(), 3)
        self.assertEqual(h.metric(self.gateway.http,
                                  'herald_resets_total{reason="epoch-changed"}') or 0, 0)

    def test_a_newer_epoch_still_resets_to_it(self):
        self.broker.history("orders", EB, 2)
        c = h.subscribed(self, self.gateway.http, ["orders"])
        self.broker.history("orders", EC, 0)
        self.broker.event("orders", EC, 1)
        reset = c.wait_events(1, type="herald-reset")[0].json
        self.assertEqual(reset, {"channel": "orders", "reason": "epoch-changed",
                                 "epoch": EC, "seq": 0})
        self.assertEqual(c.wait_events(1, type="message")[0].json["epoch"], EC)

    def test_a_cursor_of_a_newer_epoch_is_resumed_after_asking_the_broker(self):
        self.broker.history("orders", EB, 2)
        first = h.subscribed(self, self.gateway.http, ["orders"])
        #  The new owner's history, not yet heard on this gateway's stream:
        #  a client that read EC 1 elsewhere comes here
        self.broker.history("orders", EC, 3)
        c = h.sse(self, self.gateway.http, ["orders"],
                  last_event_id=encode_cursor(["orders"], [(EC, 1)]))
        got = c.wait_events(2)
        self.assertEqual([(e.type, e.json["epoch"], e.json["seq"]) for e in got],
                         [("message", EC, 2), ("message", EC, 3)])
        self.assertGreaterEqual(self.broker.do(lambda: self.broker.heads_asked), 1)
        #  The client already at the gateway moves to EC: that is news to it
        reset = first.wait_events(1, type="herald-reset")[0].json
        self.assertEqual((reset["reason"], reset["epoch"], reset["seq"]),
                         ("epoch-changed", EC, 3))
        self.broker.event("orders", EC, 4)
        self.assertEqual(c.wait_events(3)[2].json["seq"], 4)
        self.assertFalse([e for e in c.events if e.type == "herald-reset"])

    def test_a_websocket_position_of_a_newer_epoch_is_resumed_after_asking(self):
        self.broker.history("orders", EB, 2)
        h.subscribed(self, self.gateway.http, ["orders"])       # the channel at EB
        self.broker.history("orders", EC, 3)
        ws = w.welcomed(self, self.gateway.http)
        ws.subscribe("orders", e=EC, s=1)
        self.assertEqual([(m["e"], m["s"]) for m in ws.wait_events("orders", 2)],
                         [(EC, 2), (EC, 3)])
        self.broker.event("orders", EC, 4)
        self.assertEqual(ws.wait_events("orders", 3)[2]["s"], 4)
        self.assertEqual(ws.of_type("reset"), [])

    def test_a_cursor_of_a_newer_epoch_the_broker_denies_is_reset(self):
        self.broker.history("orders", EB, 2)
        c = h.sse(self, self.gateway.http, ["orders"],
                  last_event_id=encode_cursor(["orders"], [(EC, 1)]))
        reset = c.wait_events(1, type="herald-reset")[0].json
        self.assertEqual(reset, {"channel": "orders", "reason": "epoch-changed",
                                 "epoch": EB, "seq": 2})
        self.assertGreaterEqual(self.broker.do(lambda: self.broker.heads_asked), 1)

    def test_history_asked_for_an_epoch_newer_than_the_brokers_is_unavailable(self):
        #  The broker answers from its older epoch: it lags, the gateway asks
        #  again (3 times), then says 503, never epoch-changed
        self.broker.history("orders", EB, 2)
        r = h.http("GET", self.gateway.http + "/v1/history?channel=orders&epoch=%s&since=1" % EC)
        self.assertEqual(r.status, 503, r)
        self.assertEqual(r.json["error"], "broker_unavailable")
        self.assertEqual(self.broker.do(lambda: list(self.broker.asked)), [(EC, 1)] * 4)
        self.assertEqual(self.stale(), 4)
        #  Of the broker's own epoch: answered
        r = h.http("GET", self.gateway.http + "/v1/history?channel=orders&epoch=%s&since=1" % EB)
        self.assertEqual((r.status, [e["seq"] for e in r.json["events"]]), (200, [2]))


class OldCursors(unittest.TestCase):
    """Against a real herald: cursors of an epoch older than the channel's."""

    def setUp(self):
        self.herald = h.start(self, "run")
        self.push = h.pusher(self, self.herald.pull)

    def epoch_after(self, channel, count):
        for i in range(count):
            self.push.send({"ch": channel, "data": i})
        h.wait_until(lambda: h.metric(self.herald.http, "herald_broker_events_total") >= count,
                     5, "%d events sequenced" % count)
        r = h.http("GET", self.herald.http + "/v1/history?channel=%s&limit=0" % channel)
        return r.json["epoch"]

    def test_a_hand_made_16_digit_cursor_resets_epoch_changed(self):
        epoch = self.epoch_after("orders", 3)
        self.assertRegex(epoch, h.EPOCH_RE)
        #  What a client of Herald before ordered epochs holds: 16 digits
        for old in (epoch[16:], epoch[:16]):
            c = h.sse(self, self.herald.http, ["orders"],
                      last_event_id=encode_cursor(["orders"], [(old, 2)]))
            reset = c.wait_events(1, type="herald-reset")[0].json
            self.assertEqual(reset, {"channel": "orders", "reason": "epoch-changed",
                                     "epoch": epoch, "seq": 3})
            c.close()

    def test_a_16_digit_websocket_position_resets_epoch_changed(self):
        epoch = self.epoch_after("ws", 2)
        ws = w.welcomed(self, self.herald.http)
        ok = ws.subscribe("ws", e=epoch[16:], s=1)
        self.assertEqual((ok["e"], ok["s"]), (epoch, 2))
        reset = ws.wait_message(lambda m: m.get("t") == "reset")
        self.assertEqual((reset["ch"], reset["e"], reset["s"], reset["why"]),
                         ("ws", epoch, 2, "epoch-changed"))

    def test_an_older_ordered_cursor_resets_epoch_changed(self):
        epoch = self.epoch_after("older", 2)
        generation = h.epoch_generation(epoch)
        older = "%016x%s" % (generation - 1, epoch[16:])
        c = h.sse(self, self.herald.http, ["older"],
                  last_event_id=encode_cursor(["older"], [(older, 1)]))
        reset = c.wait_events(1, type="herald-reset")[0].json
        self.assertEqual(reset, {"channel": "older", "reason": "epoch-changed",
                                 "epoch": epoch, "seq": 2})


if __name__ == "__main__":
    unittest.main()
