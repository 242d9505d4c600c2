"""A real Herald cluster for integration tests: brokers (`herald broker
--cluster`) and gateways (`herald gateway --cluster`) as processes of the
test, and the few questions tests ask it (docs/cluster.md).

Each broker's ZeroMQ endpoints are ipc:// paths in a private directory, so
no concurrent test can take one between the cluster file being written and
a broker (or its restart) binding it; each broker's --http and each
gateway's port is bound at port 0 and read from its `ready` line. Every
process is stopped at test cleanup, checked for exit status 0 and for no
sanitizer report (harness.Herald.stop). Wait with deadlines, never sleep.
"""
import json
import os
import shutil
import tempfile
import time

import zmq

import harness as H


class Broker(H.Herald):
    """herald broker without the endpoint options: the file gives them."""
    DEFAULTS = dict(H.Herald.DEFAULTS, broker=[])


class Cluster:
    """n brokers (b1..bn, in file order) and m gateways, started and ready.

    brokers[i] and gateways[j] are harness.Herald processes (0-based);
    endpoints[i] is broker i's {"id", "publish", "router", "stream", "peer"}.
    broker_args and gateway_args are added to every broker's (gateway's)
    command line."""

    def __init__(self, test, brokers=3, gateways=2, broker_args=(), gateway_args=(),
                 ready_timeout=30.0):
        self.test = test
        self.dir = tempfile.mkdtemp(prefix="herald-cluster-")
        test.addCleanup(shutil.rmtree, self.dir, True)
        self.ids = ["b%d" % (i + 1) for i in range(brokers)]
        self.endpoints = [dict({k: "ipc://%s/%s-%s" % (self.dir, b, k)
                                for k in ("publish", "router", "stream", "peer")}, id=b)
                          for b in self.ids]
        self.file = os.path.join(self.dir, "cluster.json")
        with open(self.file, "w") as f:
            json.dump({"brokers": self.endpoints}, f)
        self.broker_args, self.gateway_args = list(broker_args), list(gateway_args)
        # A broker heard too late for the first view joins it as a member
        # and owns after --hold-down: short here, so that every test gets
        # every broker an owner soon (wait_settled) unless it sets its own
        if "--hold-down" not in self.broker_args:
            self.broker_args += ["--hold-down", "2s"]
        self.brokers = [self.start_broker(i) for i in range(brokers)]
        self.gateways = [self.start_gateway() for _ in range(gateways)]
        self.wait_ready(ready_timeout)

    def start_broker(self, i):
        """Starts broker i (again, after a kill: its state dir is kept)."""
        state = os.path.join(self.dir, "state-" + self.ids[i])
        os.makedirs(state, exist_ok=True)
        broker = Broker("broker", ["--cluster", self.file, "--id", self.ids[i],
                                   "--state-dir", state, "--http", "127.0.0.1:0"]
                        + self.broker_args)
        self._own(broker)
        return broker

    def start_gateway(self):
        gateway = H.Herald("gateway", ["--cluster", self.file] + self.gateway_args)
        self._own(gateway)
        return gateway

    def _own(self, process):
        self.test.addCleanup(process.kill)      # runs last: never outlives the test
        self.test.addCleanup(lambda: process.running() and process.stop())

    def wait_ready(self, timeout=30.0):
        """Every running broker (a member holding its lease) and gateway (a
        majority reached, a view heard) answers /readyz 200."""
        def ready():
            return all(H.http("GET", p.http + "/readyz").status == 200
                       for p in self.brokers + self.gateways if p.running())
        H.wait_until(ready, timeout, "every broker and gateway ready (/readyz)", interval=0.05)

    def wait_settled(self, timeout=30.0):
        """Until every running broker has installed the same view, with
        every running broker an owner in it: channels published before that
        could move again when a late broker joins (or its hold-down ends)."""
        running = [b for b in self.brokers if b.running()]

        def settled():
            views = [H.http("GET", b.http + "/v1/cluster").json["view"] for b in running]
            return all(v["number"] == views[0]["number"] and len(v["owners"]) == len(running)
                       for v in views)
        H.wait_until(settled, timeout, "one view with every running broker an owner, on each",
                     interval=0.05)

    def owner(self, channel, via=0):
        """The channel's owner in broker `via`'s installed view: its index."""
        return self.ids.index(self.cluster_json(via, channel)["channel"]["owner"])

    def channel_owned_by(self, i, prefix="c"):
        """A channel name broker i owns (asked of broker i)."""
        return next(ch for ch in ("%s%d" % (prefix, n) for n in range(1000))
                    if self.owner(ch, i) == i)

    def acked(self, i, channel, data, key=None, timeout=10.0):
        """Publishes through broker i's ROUTER until acknowledged: a new view
        answers `unavailable` until its lease and fence allow sequencing; the
        retry carries the same idempotency key. Returns the ack."""
        dealer = H.Zmq(zmq.DEALER, self.endpoints[i]["router"], linger=0)
        rid = [0]
        frame = {"ch": channel, "data": data, "id": key or "acked-%s" % os.urandom(8).hex()}

        def ack():
            rid[0] += 1
            reply = dealer.request(dict(frame, rid=rid[0]))
            assert reply.get("rid") == rid[0], reply
            assert reply.get("error") in (None, "unavailable"), reply
            return reply if reply.get("error") is None else None
        try:
            return H.wait_until(ack, timeout, "an ack through %s" % self.ids[i], interval=0.05)
        finally:
            dealer.close()

    def wait_sequencing(self, timeout=10.0):
        """Until every owner sequences: a new view's owners wait out the
        lease before their first event (the fence, per broker, not per
        channel), so one acknowledged publish to a channel of each owner
        shows that all of its channels may be published to. The channels
        used are named warm-*. First every running broker an owner
        (wait_settled): one late for the first view owns only later."""
        self.wait_settled()
        for i in range(len(self.brokers)):
            if self.brokers[i].running():
                self.acked(i, self.channel_owned_by(i, "warm-"), "warm", timeout=timeout)

    def cluster_json(self, i, channel=None):
        """Broker i's GET /v1/cluster (?channel=), parsed."""
        r = H.http("GET", self.brokers[i].http + "/v1/cluster"
                   + ("?channel=" + channel if channel else ""))
        assert r.status == 200, r
        return r.json

    def publish_endpoints(self):
        return [e["publish"] for e in self.endpoints]

    def router_endpoints(self):
        return [e["router"] for e in self.endpoints]

    def stop(self):
        """Gateways, then brokers: SIGTERM, exit 0, no sanitizer report."""
        for p in self.gateways + self.brokers:
            if p.running():
                p.stop()


class AckedPublisher:
    """Acknowledged, idempotent publishes through the ROUTERs of the brokers
    `via` (indexes), taking turns: one answered `unavailable`, or not
    answered within `patience` s, is sent again with the same key (the
    owner's idempotency keys make that safe; a late answer to an earlier
    try is told apart by its rid). One thread only: ZeroMQ sockets are not
    thread-safe. `unavailable` and `silent` list what was retried, as
    (time.monotonic() when sent, when answered or given up, channel, the
    broker's index) each."""

    def __init__(self, test, cluster, via, patience=2.0):
        self.via = list(via)
        self.dealers = [H.dealer(test, cluster.endpoints[i]["router"]) for i in via]
        self.patience, self.rid = patience, 0
        self.unavailable, self.silent = [], []

    def publish(self, channel, data, key, deadline, halt=None):
        """Returns the ack ({seq, epoch, dup, rid}); fails at the deadline
        (time.monotonic()). None once the Event `halt` is set."""
        while time.monotonic() < deadline:
            if halt is not None and halt.is_set():
                return None
            self.rid += 1
            k = self.rid % len(self.dealers)
            dealer = self.dealers[k]
            dealer.send({"ch": channel, "data": data, "id": key, "rid": self.rid})
            sent = time.monotonic()
            reply, until = None, sent + self.patience
            while reply is None and time.monotonic() < until:
                try:
                    r = dealer.recv(max(until - time.monotonic(), 0.01))[0]
                except AssertionError:      # no answer: retry with the key
                    break
                if r.get("rid") == self.rid:    # not a late answer to an earlier try
                    reply = r
            if reply is None:
                self.silent.append((sent, time.monotonic(), channel, self.via[k]))
                continue
            if reply.get("error") == "unavailable":
                self.unavailable.append((sent, time.monotonic(), channel, self.via[k]))
                time.sleep(0.02)            # pacing the retry, not synchronising
                continue
            assert reply.get("error") is None, reply
            return reply
        raise AssertionError("no ack for %s %s" % (channel, key))
