"""herald gateway --cluster FILE against three fake brokers (docs/cluster.md,
"Gateways in a cluster"): readiness needs a majority and a view; publishes
go to the channel's owner in the highest view heard (computed here with the
documented rendezvous function), or to another broker when the owner is
away; `unavailable` is a 503 the gateway never retries; SSE clients get
events from every broker's stream; /v1/cluster shows the view.

Each fake broker is a thread owning an XPUB and a ROUTER on ephemeral
loopback ports; it answers head markers only for the channels it owns (as
brokers in a cluster do) and announces its view on `|view`."""
import json
import os
import queue
import tempfile
import threading
import time
import unittest

import msgpack
import zmq

import harness as H
import wsclient as W

order = H.rendezvous_order      # the documented owner function


EPOCH = H.make_epoch(1, 1000)
HEAD = 5                    # every channel's head when a client subscribes


class FakeBroker:
    """One fake broker. Every socket call happens on its own thread; the test
    hands it work through do()."""

    def __init__(self, broker_id):
        self.id = broker_id
        self.router = H.ZMQ.socket(zmq.ROUTER)
        self.router.setsockopt(zmq.LINGER, 0)
        self.router_port = self.router.bind_to_random_port("tcp://127.0.0.1")
        self.xpub = H.ZMQ.socket(zmq.XPUB)
        self.xpub.setsockopt(zmq.LINGER, 0)
        self.xpub.setsockopt(zmq.XPUB_VERBOSE, 1)
        self.stream_port = self.xpub.bind_to_random_port("tcp://127.0.0.1")
        # publish and peer: held so no one else takes the ports; never read
        self.idle = [H.ZMQ.socket(zmq.PULL), H.ZMQ.socket(zmq.ROUTER)]
        self.idle_ports = [s.bind_to_random_port("tcp://127.0.0.1") for s in self.idle]
        self.lock = threading.Lock()
        self.requests = []          # decoded requests, in arrival order
        self.subscriptions = []     # channel names subscribed
        self.reply = "ack"          # or "unavailable"
        self.owns = lambda channel: False
        self.silent = set()         # channels it owns but sends no head marker for
        self.view = None            # announced every 50 ms when set
        self.announced = 0
        self.seq = {}
        self.work = queue.Queue()
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def node(self):
        return {"id": self.id, "publish": "tcp://127.0.0.1:%d" % self.idle_ports[0],
                "router": "tcp://127.0.0.1:%d" % self.router_port,
                "stream": "tcp://127.0.0.1:%d" % self.stream_port,
                "peer": "tcp://127.0.0.1:%d" % self.idle_ports[1]}

    def do(self, fn):
        """Runs fn on the broker's thread and returns its result."""
        done = queue.Queue()
        self.work.put(lambda: done.put(fn()))
        return done.get(timeout=10)

    # ---- on the broker's thread

    def _send_event(self, channel, data):
        seq = self.seq.get(channel, HEAD) + 1
        self.seq[channel] = seq
        self.xpub.send_multipart([(channel + "|").encode(), msgpack.packb(
            {"ch": channel, "seq": seq, "epoch": EPOCH, "ts": int(time.time() * 1000),
             "data": data})])
        return seq

    def _on_request(self, frames):
        req = msgpack.unpackb(frames[-1], raw=False)
        with self.lock:
            self.requests.append(req)
        if req.get("op", "publish") == "publish" and self.reply == "unavailable":
            reply = {"rid": req["rid"], "error": "unavailable",
                     "message": "no broker may sequence this channel now"}
        elif req.get("op", "publish") == "publish":
            seq = self._send_event(req["ch"], msgpack.unpackb(req["data"], raw=False)
                                   if isinstance(req["data"], bytes) else req["data"])
            reply = {"rid": req["rid"], "seq": seq, "epoch": EPOCH, "dup": False}
        elif req.get("op") == "history":
            head = self.seq.get(req["ch"], HEAD)
            reply = {"rid": req["rid"], "ch": req["ch"], "epoch": EPOCH, "first": head + 1,
                     "head": head, "count": 0}
        else:
            reply = {"rid": req["rid"], "error": "bad_request", "message": "not faked"}
        self.router.send_multipart([frames[0], msgpack.packb(reply)])

    def _on_subscription(self, frame):
        topic = frame[1:].decode()
        if frame[:1] != b"\x01" or not topic.endswith("|"):
            return
        channel = topic[:-1]
        with self.lock:
            self.subscriptions.append(channel)
        if self.owns(channel) and channel not in self.silent:
            self.xpub.send_multipart([topic.encode(), msgpack.packb(
                {"ch": channel, "epoch": EPOCH, "seq": self.seq.get(channel, HEAD),
                 "head": True})])

    def _run(self):
        next_view = 0
        while self.running:
            poller = zmq.Poller()
            for s in (self.router, self.xpub):
                if s is not None:
                    poller.register(s, zmq.POLLIN)
            for s, _ in poller.poll(10):
                if s is self.router:
                    self._on_request(self.router.recv_multipart())
                else:
                    self._on_subscription(self.xpub.recv())
            while not self.work.empty():
                self.work.get()()
            if self.view and time.monotonic() >= next_view:
                self.xpub.send_multipart([b"|view", msgpack.packb(self.view)])
                self.announced += 1
                next_view = time.monotonic() + 0.05
        for s in [self.router, self.xpub] + self.idle:
            if s is not None:
                s.close(0)

    # ---- from the test

    def announce(self, number, members, owners, lease=True):
        view = {"t": "view", "from": self.id, "n": number, "members": members,
                "owners": owners, "handoff": [], "lease": lease}
        self.do(lambda: setattr(self, "view", view))

    def silence(self):
        self.do(lambda: setattr(self, "view", None))

    def announcements(self):
        return self.do(lambda: self.announced)

    def close_router(self):
        def close():
            self.router.close(0)
            self.router = None
        self.do(close)

    def open_router(self):
        def bind():
            self.router = H.ZMQ.socket(zmq.ROUTER)
            self.router.setsockopt(zmq.LINGER, 0)
            self.router.bind("tcp://127.0.0.1:%d" % self.router_port)
        self.do(bind)

    def publish(self, channel, data):
        return self.do(lambda: self._send_event(channel, data))

    def history(self, channel):
        with self.lock:
            return [r for r in self.requests if r.get("op") == "history" and r["ch"] == channel]

    def published(self, channel=None):
        with self.lock:
            return [r for r in self.requests if r.get("op", "publish") == "publish"
                    and (channel is None or r["ch"] == channel)]

    def stop(self):
        self.running = False
        self.thread.join(10)


class ClusterGateway(unittest.TestCase):
    IDS = ["b1", "b2", "b3"]

    def setUp(self):
        self.brokers = [FakeBroker(i) for i in self.IDS]
        for b in self.brokers:
            self.addCleanup(b.stop)
        self.view = {"owners": list(self.IDS)}
        for b in self.brokers:
            b.owns = self._owner_test(b.id)
        fd, self.file = tempfile.mkstemp(prefix="herald-cluster-", suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump({"brokers": [b.node() for b in self.brokers]}, f)
        self.addCleanup(os.unlink, self.file)

    def _owner_test(self, broker_id):
        return lambda channel: self.owner(channel) == broker_id

    def owner(self, channel):
        return order(self.view["owners"], channel)[0]

    def broker(self, broker_id):
        return self.brokers[self.IDS.index(broker_id)]

    def gateway(self):
        return H.start(self, "gateway", "--cluster", self.file)

    def announce(self, number, owners=None, by=None):
        owners = owners or list(self.IDS)
        self.view = {"owners": owners}
        for b in by or self.brokers:
            b.announce(number, list(self.IDS), owners)

    def cluster(self, gw, channel=None):
        r = H.http("GET", gw.http + "/v1/cluster" + ("?channel=" + channel if channel else ""))
        self.assertEqual(r.status, 200, r)
        return r.json

    def wait_view(self, gw, number):
        H.wait_until(lambda: self.cluster(gw)["view"]["number"] == number, 10,
                     "the gateway to follow view %d" % number)

    def wait_ready(self, gw):
        H.wait_until(lambda: H.http("GET", gw.http + "/readyz").status == 200, 10,
                     "/readyz 200")

    def channels(self, count=12):
        return ["ch%d" % i for i in range(count)]

    def who_got(self, channel):
        return [b.id for b in self.brokers if b.published(channel)]

    # ------------------------------------------------------------------

    def test_ready_only_with_a_majority_and_a_view(self):
        self.broker("b2").close_router()
        self.broker("b3").close_router()
        gw = self.gateway()
        # One broker reachable: not ready, and the body says why
        msg = lambda: H.http("GET", gw.http + "/readyz").json.get("message", "")
        H.wait_until(lambda: "connected to 1 of 3 brokers" in msg(), 10, "b1 connected")
        r = H.http("GET", gw.http + "/readyz")
        self.assertEqual((r.status, r.json["error"]), (503, "broker_unavailable"), r)
        self.assertIn("no view", r.json["message"])
        # A view, still one broker: not ready
        self.announce(1, by=[self.broker("b1")])
        self.wait_view(gw, 1)
        r = H.http("GET", gw.http + "/readyz")
        self.assertEqual(r.status, 503, r)
        self.assertIn("a majority is 2", r.json["message"])
        self.assertNotIn("no view", r.json["message"])
        status = self.cluster(gw)
        self.assertEqual([b["up"] for b in status["brokers"]], [True, False, False])
        # A second broker: ready
        self.broker("b2").open_router()
        self.wait_ready(gw)
        # Two brokers but no view yet is not ready either (a fresh gateway)
        for b in self.brokers:
            b.silence()                 # returns once the broker has stopped announcing
        gw2 = self.gateway()
        H.wait_until(lambda: H.http("GET", gw2.http + "/readyz").json.get("message")
                     == "no view heard from any broker yet", 10, "gw2 connected, no view")
        self.announce(1, by=[self.broker("b2")])
        self.wait_ready(gw2)
        # The gauges are set by the first worker on its next turn (within 250 ms)
        H.wait_until(lambda: (H.metric(gw2.http, "herald_gateway_cluster_view"),
                              H.metric(gw2.http, "herald_gateway_brokers_connected")) == (1, 2),
                     5, "the cluster gauges")

    def test_publishes_go_to_the_owner_of_the_highest_view(self):
        gw = self.gateway()
        self.announce(1)
        self.wait_ready(gw)
        for ch in self.channels():
            r = H.publish(gw.http, {"channel": ch, "data": 1})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json["seq"], HEAD + 1)
            self.assertEqual(self.who_got(ch), [self.owner(ch)], ch)
        self.assertEqual(len({self.owner(ch) for ch in self.channels()}), 3)
        # View 2: b3 is a member but owns nothing (held down). b1 announces
        # it; b3 lags and keeps announcing view 1, which must not win
        self.announce(2, owners=["b1", "b2"], by=self.brokers[:2])
        self.wait_view(gw, 2)
        self.broker("b1").silence()
        self.broker("b2").silence()
        since = self.broker("b3").announcements()
        H.wait_until(lambda: self.broker("b3").announcements() >= since + 5, 10,
                     "b3 to announce view 1 five more times")
        self.assertEqual(self.cluster(gw)["view"]["number"], 2)
        moved = [ch for ch in self.channels() if order(self.IDS, ch)[0] == "b3"]
        self.assertTrue(moved)
        for ch in self.channels():
            before = {b.id: len(b.published(ch)) for b in self.brokers}
            self.assertEqual(H.publish(gw.http, {"channel": ch, "data": 2}).status, 200)
            got = [b.id for b in self.brokers if len(b.published(ch)) > before[b.id]]
            self.assertEqual(got, [self.owner(ch)], ch)
        # The owner's ROUTER goes away: its channels go to another broker
        self.broker("b2").close_router()
        H.wait_until(lambda: not self.cluster(gw)["brokers"][1]["up"], 10, "b2 down")
        for ch in [c for c in self.channels() if self.owner(c) == "b2"]:
            before = {b.id: len(b.published(ch)) for b in self.brokers}
            r = H.publish(gw.http, {"channel": ch, "data": 3})
            self.assertEqual(r.status, 200, r)
            got = [b.id for b in self.brokers if len(b.published(ch)) > before[b.id]]
            self.assertEqual(len(got), 1, ch)
            self.assertNotEqual(got[0], "b2")

    def test_unavailable_is_a_503_never_retried(self):
        gw = self.gateway()
        self.announce(1)
        self.wait_ready(gw)
        ch = self.channels()[0]
        owner = self.broker(self.owner(ch))
        owner.reply = "unavailable"
        r = H.publish(gw.http, {"channel": ch, "data": 1, "id": "k1"})
        self.assertEqual(r.status, 503, r)
        self.assertEqual(r.json["error"], "unavailable")
        # Sampling a count that must not change: the gateway sent it once
        time.sleep(0.3)
        self.assertEqual(len(owner.published(ch)), 1)
        self.assertEqual(sum(len(b.published(ch)) for b in self.brokers), 1)
        self.assertGreaterEqual(H.metric(gw.http, 'herald_errors_total{code="unavailable"}'), 1)
        # Over a WebSocket: err unavailable, retry true, sent once as well
        c = W.welcomed(self, gw.http)
        err = c.request({"t": "pub", "ch": ch, "data": 2, "key": "k2"})
        self.assertEqual((err["t"], err["code"], err["retry"]), ("err", "unavailable", True), err)
        self.assertEqual(len(owner.published(ch)), 2)

    def test_sse_receives_events_from_every_broker(self):
        gw = self.gateway()
        self.announce(1)
        self.wait_ready(gw)
        # One channel owned by each broker
        chans = {}
        for ch in self.channels(30):
            chans.setdefault(self.owner(ch), ch)
        self.assertEqual(len(chans), 3)
        client = H.subscribed(self, gw.http, sorted(chans.values()))
        for b in self.brokers:
            b.publish(chans[b.id], {"from": b.id})
        got = client.wait_events(3)
        self.assertEqual(sorted((e.json["channel"], e.json["seq"], e.json["data"]["from"])
                                for e in got),
                         sorted((chans[i], HEAD + 1, i) for i in self.IDS))
        # An event of b1's channel on b2's stream (a broker replicating, or
        # a new owner) is delivered too, once
        b1_channel = chans["b1"]
        self.broker("b1").seq[b1_channel] = HEAD + 1
        self.broker("b2").seq[b1_channel] = HEAD + 1
        self.broker("b2").publish(b1_channel, {"from": "b2"})
        got = client.wait_events(4)
        self.assertEqual((got[3].json["channel"], got[3].json["seq"]), (b1_channel, HEAD + 2))

    def test_a_channels_own_queries_go_to_its_owner(self):
        gw = self.gateway()
        self.announce(1)
        self.wait_ready(gw)
        ch = next(c for c in self.channels(30) if self.owner(c) != "b1")
        owner = self.broker(self.owner(ch))
        owner.silent.add(ch)
        # No head marker: the gateway asks the owner for the head (after 1 s)
        client = H.subscribed(self, gw.http, [ch])
        self.assertTrue(owner.history(ch))
        self.assertEqual([b.id for b in self.brokers if b.history(ch)], [owner.id])
        # A gap (seq HEAD + 1 never came): filled from the owner's history
        owner.seq[ch] = HEAD + 1
        owner.publish(ch, "after a gap")
        H.wait_until(lambda: len(owner.history(ch)) >= 2, 10, "the gap fill at the owner")
        self.assertEqual([b.id for b in self.brokers if b.history(ch)], [owner.id])
        self.assertTrue(client.status == 200)

    def test_cluster_status_shows_the_followed_view(self):
        gw = self.gateway()
        self.announce(7, owners=["b1", "b3"])
        self.wait_view(gw, 7)
        H.wait_until(lambda: all(b["up"] for b in self.cluster(gw)["brokers"]), 10, "all up")
        status = self.cluster(gw)
        self.assertEqual(status["cluster"], True)
        self.assertEqual(status["view"], {"number": 7, "members": self.IDS,
                                          "owners": ["b1", "b3"], "handoff": []})
        self.assertEqual([(b["id"], b["member"], b["owner"]) for b in status["brokers"]],
                         [("b1", True, True), ("b2", True, False), ("b3", True, True)])
        self.assertNotIn("self", status)
        ch = self.channels()[0]
        status = self.cluster(gw, ch)
        self.assertEqual(status["channel"], {"name": ch, "owner": order(["b1", "b3"], ch)[0],
                                             "backup": order(["b1", "b3"], ch)[1]})
        # Malformed announcements are counted and change nothing
        self.broker("b2").announce(9, ["b1", "b9"], ["b1"])
        H.wait_until(lambda: H.metric(gw.http, "herald_gateway_view_bad_total") > 0, 10,
                     "a bad view counted")
        self.assertEqual(self.cluster(gw)["view"]["number"], 7)

    def test_a_bad_cluster_file_stops_the_start(self):
        with open(self.file, "w") as f:
            json.dump({"brokers": [{"id": "b1"}]}, f)
        proc = H.subprocess.run([H.herald_binary(), "gateway", "--http", "127.0.0.1:0",
                                 "--cluster", self.file], capture_output=True, text=True,
                                timeout=30)
        self.assertEqual(proc.returncode, 2, proc)
        self.assertIn(self.file, proc.stderr)



class SingleBrokerGateway(unittest.TestCase):
    def test_cluster_status_without_a_cluster_file(self):
        gw = H.start(self, "gateway", "--broker", "%s,%s" % (H.unused_endpoint(),
                                                             H.unused_endpoint()))
        r = H.http("GET", gw.http + "/v1/cluster?channel=orders")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json, {"cluster": False, "view": {"number": 0, "members": [],
                                                            "owners": [], "handoff": []},
                                  "brokers": [], "channel": {"name": "orders", "owner": None,
                                                             "backup": None}})
        self.assertEqual(H.http("GET", gw.http + "/v1/cluster?channel=a%20b").status, 400)
        # Not ready without its broker, as before
        self.assertEqual(H.http("GET", gw.http + "/readyz").json["message"],
                         "not connected to the broker yet")


if __name__ == "__main__":
    unittest.main()
