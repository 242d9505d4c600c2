"""Subscriptions are never lost silently (docs/protocol.md §7, "Subscription
confirmation"): every channel a gateway serves is confirmed by the broker,
after a burst of new channels and after a broker restart. Each channel then
delivers its next event, or its clients get a herald-reset."""
import signal
import socket
import time
import unittest
import urllib.parse

import harness as H

PER_CONN = 64           # channels per SSE connection (the documented maximum)


def names(prefix, conns, total):
    """`total` channel names split into sets of at most PER_CONN."""
    out, n = [], 0
    for c in range(conns):
        take = min(PER_CONN, total - n)
        out.append(["%s%d-%d" % (prefix, c, i) for i in range(take)])
        n += take
    return [s for s in out if s]


class _AlreadySent:
    """A connected socket whose request went out already: sendall is a no-op."""

    def __init__(self, sock):
        self._sock = sock

    def sendall(self, data):
        pass

    def __getattr__(self, name):
        return getattr(self._sock, name)


def open_all(test, base, sets, timeout=60.0):
    """Opens one SSE client per channel set in one burst: every connection
    is established first, then every request is written back to back, so
    the gateway takes them (and subscribes to every channel) in one go, as
    when many clients arrive at once. Waits until each is subscribed."""
    u = urllib.parse.urlsplit(base)
    socks = [socket.create_connection((u.hostname, u.port), timeout=timeout) for _ in sets]
    for sock, channels in zip(socks, sets):
        path = "/v1/sse?" + urllib.parse.urlencode([("channel", c) for c in channels])
        sock.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n"
                      % (path, u.netloc)).encode())
    clients = []
    real = H.socket.create_connection
    try:
        for sock, channels in zip(socks, sets):
            H.socket.create_connection = lambda *a, _s=sock, **k: _AlreadySent(_s)
            clients.append(H.SSEClient(base, channels, timeout=timeout))
            test.addCleanup(clients[-1].close)
    finally:
        H.socket.create_connection = real
    for c in clients:
        test.assertEqual(c.status, 200, c.body)
    for c in clients:
        c.wait_subscribed(timeout)
    return clients


def publish_one_each(router, sets, timeout=30.0, window=500):
    """Publishes one event per channel through the broker's ROUTER and waits
    for every acknowledgement, at most `window` unacknowledged at a time
    (a ROUTER drops replies over its high-water mark)."""
    dealer = H.Zmq(H.zmq.DEALER, router, linger=0)
    try:
        channels = [ch for s in sets for ch in s]
        deadline = time.monotonic() + timeout
        sent = acked = 0
        while acked < len(channels):
            while sent < len(channels) and sent - acked < window:
                dealer.send({"op": "publish", "rid": sent + 1, "ch": channels[sent],
                             "data": channels[sent]})
                sent += 1
            reply = dealer.recv(max(0.1, deadline - time.monotonic()))[0]
            assert "seq" in reply, reply
            acked += 1
    finally:
        dealer.close()


def covered(client, want_reset):
    """Channels that got an event (or, when allowed, a reset)."""
    with client.cond:
        out = set()
        for e in client.events:
            if e.type == "message" or (want_reset and e.type == "herald-reset"):
                out.add(e.json["channel"])
        return out


def wait_covered(clients, sets, timeout, allow_reset):
    """Waits until every channel of every client is covered; returns the
    number of channels missing at the deadline (0 on success)."""
    deadline = time.monotonic() + timeout
    while True:
        missing = sum(len(set(s) - covered(c, allow_reset)) for c, s in zip(clients, sets))
        if missing == 0 or time.monotonic() >= deadline:
            return missing
        time.sleep(0.05)


def gateway_figures(gw):
    """The gateway's subscription and repair metrics, for failure messages."""
    m = H.metrics(gw.http)
    return {k: v for k, v in m.items() if "subscription" in k or "unconfirmed" in k
            or "gap_fills" in k or "resets_total" in k or "received" in k}


class BurstOfNewChannels(unittest.TestCase):
    ROUNDS = 2

    def test_100_clients_opening_64_new_channels_each_all_deliver(self):
        run = H.start(self, "run", "--workers", "1")
        for r in range(self.ROUNDS):
            sets = names("burst%d-" % r, 100, 100 * PER_CONN)
            clients = open_all(self, run.http, sets)
            publish_one_each(run.router, sets)
            missing = wait_covered(clients, sets, 20, allow_reset=False)
            self.assertEqual(missing, 0, "round %d: %d of %d channels delivered nothing; %s"
                             % (r, missing, 100 * PER_CONN, gateway_figures(run)))
            for c in clients:
                c.close()
        m = H.metrics(run.http)
        self.assertEqual(m.get("herald_gateway_channels_unconfirmed", 0), 0)
        self.assertEqual(m.get("herald_subscription_timeouts_total", 0), 0)


class BrokerRestart(unittest.TestCase):
    CHANNELS = 5000

    def test_5000_channels_each_get_their_next_event_or_a_reset(self):
        brokers = [H.Herald("broker")]      # ports chosen by the system, reused below
        self.addCleanup(lambda: [b.kill() for b in brokers])
        xpub, router = brokers[0].xpub, brokers[0].router
        args = ["--pull", brokers[0].pull, "--router", router, "--xpub", xpub]
        gw = H.start(self, "gateway", "--broker", "%s,%s" % (xpub, router))
        H.wait_broker_linked(gw)
        sets = names("rs", (self.CHANNELS + PER_CONN - 1) // PER_CONN, self.CHANNELS)
        clients = open_all(self, gw.http, sets)
        H.wait_until(lambda: H.metric(gw.http, "herald_gateway_channels") == self.CHANNELS, 20,
                     "the gateway to hold every channel")

        brokers[0].send_signal(signal.SIGKILL)
        brokers[0].kill()
        H.wait_until(lambda: H.http("GET", gw.http + "/readyz").status == 503, 10,
                     "the gateway to notice the broker is gone")
        brokers.append(H.Herald("broker", args))
        H.wait_broker_linked(gw, 20)
        publish_one_each(router, sets)
        missing = wait_covered(clients, sets, 15, allow_reset=True)
        self.assertEqual(missing, 0, "%d of %d channels got neither their event nor a reset; %s"
                         % (missing, self.CHANNELS, gateway_figures(gw)))
        H.wait_until(lambda: H.metric(gw.http, "herald_gateway_channels_unconfirmed") == 0, 15,
                     "every channel to be confirmed again")
        # Each worker saw its SUB reconnect and made its channels confirm again
        confirming = [e for e in gw.logs()
                      if e.get("msg") == "connected to the broker stream: confirming every channel"]
        self.assertEqual(sum(int(e["channels"]) for e in confirming[-2:]), self.CHANNELS,
                         confirming)
        # ZeroMQ's own re-send on reconnect lost none: few needed sending again
        # (a SUB with the default send hwm drops 1,500 of each worker's 2,500)
        figures = gateway_figures(gw)
        self.assertLess(figures["herald_subscription_retries_total"], self.CHANNELS / 4, figures)
        print("\nafter the broker restart: %s" % figures)
        for c in clients:
            self.assertFalse(c.ended, "a stream ended")
        brokers[-1].stop()


if __name__ == "__main__":
    unittest.main()
