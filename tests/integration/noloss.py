"""The randomized no-loss workload shared by test_noloss*.py.

A publisher sends events over PUSH and acknowledged DEALER to random
channels while SSE clients with random channel sets disconnect at random
moments and reconnect with their last cursor. Afterwards every client's
whole history, across all its connections, must be each of its channels'
events exactly once, in order, except where a reset said otherwise, and
every reset must be justified. Seeded (HERALD_TEST_SEED) and bounded.
With transports, WebSocket clients (herald.v1 JSON or MessagePack) join:
they resume each channel with sub{e, s} and are checked the same way.
"""
import os
import random
import signal
import threading
import time

import msgpack
import zmq

import harness as h
import wsclient

SEED = int(os.environ.get("HERALD_TEST_SEED", "20261123"))


def _endpoints(value):
    """One endpoint, or a list of them (a cluster's brokers)."""
    return [value] if isinstance(value, str) else list(value)


class Publisher(threading.Thread):
    """Sends `total` events at about `rate`/s, alternating PUSH and DEALER.
    With lists of endpoints (a cluster's brokers, same order in both), each
    event goes through a broker drawn at random. keyed: every event over
    DEALER with an idempotency key, sent again every second until it is
    acknowledged (across broker restarts: a repeat is a dup, never a second
    event)."""

    def __init__(self, pull, router, channels, total, rate, seed, keyed=False):
        super().__init__(daemon=True)
        self.keyed = keyed
        self.pull, self.router, self.channels = _endpoints(pull), _endpoints(router), channels
        self.total, self.rate, self.rng = total, rate, random.Random(seed)
        self.sends = {c: [] for c in channels}     # monotonic time of each send
        self.acks = {c: [] for c in channels}      # seqs acknowledged, in order
        self.error = None
        self.waiting = None                        # (rid, since, sends) of the ack awaited

    def run(self):
        pushes = [h.ZMQ.socket(zmq.PUSH) for _ in self.pull]
        dealers = [h.ZMQ.socket(zmq.DEALER) for _ in self.router]
        try:
            for sock, endpoint in zip(pushes + dealers, self.pull + self.router):
                sock.setsockopt(zmq.LINGER, 2000)
                sock.connect(endpoint)
            start = time.monotonic()
            for i in range(self.total):
                due = start + i / self.rate
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)           # pacing the workload, not syncing
                channel = self.rng.choice(self.channels)
                via = self.rng.randrange(len(pushes)) if len(pushes) > 1 else 0
                frame = {"ch": channel, "data": {"i": i}}
                self.sends[channel].append(time.monotonic())
                if i % 2 and i + 1 < self.total and not self.keyed:   # the last one is acked
                    pushes[via].send(msgpack.packb(frame))
                    continue
                frame["rid"] = i
                if self.keyed:
                    frame["id"] = "noloss-%d" % i
                reply = self._acknowledged(dealers[via], frame)
                assert "seq" in reply, reply
                self.acks[channel].append(reply["seq"])
        except BaseException as error:          # reported by the test
            self.error = error
        finally:
            for sock in pushes + dealers:
                sock.close()

    def _acknowledged(self, dealer, frame):
        """The reply to frame; keyed, frame is sent again after each second
        without it, and replies to earlier publishes are skipped."""
        deadline = time.monotonic() + (60 if self.keyed else 10)
        dealer.send(msgpack.packb(frame))
        self.waiting = [frame["rid"], time.monotonic(), 1]
        while time.monotonic() < deadline:
            if dealer.poll(1000 if self.keyed else 10000):
                reply = msgpack.unpackb(dealer.recv())
                if reply.get("rid") == frame["rid"]:
                    self.waiting = None
                    return reply
                assert self.keyed, reply        # keyed: a late reply to a repeat
            elif self.keyed:
                dealer.send(msgpack.packb(frame))
                self.waiting[2] += 1
        raise AssertionError("no ack for publish %d" % frame["rid"])

    def sent(self):
        return sum(map(len, self.sends.values()))

    def wait_for(self, fraction, timeout=60):
        """Waits until fraction of the events are sent; fails at once with
        the publisher's own error if it stopped (else a timeout would hide
        it), and a timeout says what the publisher was waiting for."""
        def reached():
            if self.error is not None:
                raise AssertionError("the publisher failed after %d of %d events: %r"
                                     % (self.sent(), self.total, self.error))
            return self.sent() >= fraction * self.total
        try:
            h.wait_until(reached, timeout, "publishing progress")
        except AssertionError as error:
            waiting = self.waiting
            raise AssertionError("%s (%d of %d events sent; %s)" % (
                error, self.sent(), self.total,
                "waiting %.1fs for the ack of publish %d, sent %d times"
                % (time.monotonic() - waiting[1], waiting[0], waiting[2])
                if waiting else "no ack awaited")) from None

    def sent_before(self, channel, moment):
        return sum(1 for t in self.sends[channel] if t < moment)


class Client(threading.Thread):
    """Connects, reads for a random while, drops the connection, comes back
    with its last cursor; records every item of every connection."""

    def __init__(self, base, channels, seed, stop, long_absence):
        super().__init__(daemon=True)
        self.base, self.channels = base, sorted(channels)
        self.rng, self.stop, self.long_absence = random.Random(seed), stop, long_absence
        self.connections = []           # per connection: [(kind, payload, id, t)]
        self.last_id = None
        self.refused = 0
        self.error = None
        self.done = threading.Event()
        self.final_heads = None

    def base_url(self):
        return self.base() if callable(self.base) else self.base

    def _connect(self):
        while True:
            try:
                return h.SSEClient(self.base_url(), self.channels, last_event_id=self.last_id)
            except (ConnectionError, EOFError, OSError):
                self.refused += 1               # gateway restarting: try again
                if self.refused > 2000:
                    raise
                time.sleep(0.02)

    def _record(self, client):
        """Interleaves the client's lists back into stream order."""
        with client.cond:
            events, positions = list(client.events), list(client.positions)
            log = list(client.log)
        items = []
        for kind in log:
            if kind == "position":
                items.append(("position", None, positions.pop(0), None))
            elif kind == "event":
                e = events.pop(0)
                items.append((e.type, e.json, e.id, e.t))
        self.connections.append(items)
        if client.last_id:
            self.last_id = client.last_id

    def _session(self, until):
        client = self._connect()
        if client.status != 200:
            raise AssertionError("status %d: %r" % (client.status, client.body))
        try:
            until(client)
        finally:
            client.close()
            self._record(client)

    def run(self):
        try:
            while not self.stop.is_set():
                duration = self.rng.uniform(0.05, 0.6)
                self._session(lambda c: time.sleep(duration))     # online a while
                away = 2.5 if self.rng.random() < self.long_absence else self.rng.uniform(0, 0.3)
                time.sleep(away)                                  # then offline
            self.done.wait(60)
            self._session(lambda c: c.wait_for(self._caught_up, 60, "the final heads"))
        except BaseException as error:
            self.error = error

    def _caught_up(self, client):
        ids = [client.last_id] if client.last_id else []
        if not ids:
            return False
        positions = h.decode_cursor(ids[0])["positions"]
        return all(seq == self.final_heads[ch] for ch, (_, seq) in zip(self.channels, positions))


class WSClient(threading.Thread):
    """Client's WebSocket twin: each connection subscribes to every channel
    (one batch frame or one frame each, at random) with the last position
    it saw, {e, s}, or none the first time; then drops the connection, with
    a close frame or not. Records every message of every connection."""

    def __init__(self, base, channels, seed, stop, long_absence, protocol):
        super().__init__(daemon=True)
        self.base, self.channels, self.protocol = base, sorted(channels), protocol
        self.rng, self.stop, self.long_absence = random.Random(seed), stop, long_absence
        self.connections = []           # per connection: [(message, t)]
        self.positions = {}             # channel -> (e, s) after the last connection
        self.refused = 0
        self.error = None
        self.done = threading.Event()
        self.final_heads = None

    def base_url(self):
        return self.base() if callable(self.base) else self.base

    def _connect(self):
        while True:
            try:
                return wsclient.RawWS(self.base_url(), protocols=[self.protocol])
            except (ConnectionError, EOFError, OSError):
                self.refused += 1               # gateway restarting: try again
                if self.refused > 2000:
                    raise
                time.sleep(0.02)

    def _advance(self, messages):
        """Positions after these messages (verify_ws checks them)."""
        position = dict(self.positions)
        for m in messages:
            if m.get("t") in ("ev", "reset") or (m.get("t") == "ok" and "ch" in m
                                                 and m["ch"] not in position):
                position[m["ch"]] = (m["e"], m["s"])
        return position

    def _session(self, until):
        client = self._connect()
        if client.status != 101:
            raise AssertionError("status %d: %r" % (client.status, client.body))
        try:
            subs = [dict({"t": "sub", "id": i + 1, "ch": ch},
                         **({"e": self.positions[ch][0], "s": self.positions[ch][1]}
                            if ch in self.positions else {}))
                    for i, ch in enumerate(self.channels)]
            try:
                if self.rng.random() < 0.5:
                    client.send(subs)
                else:
                    for sub in subs:
                        client.send(sub)
            except OSError:
                pass            # the server went away (a restart): the next connection resumes
            until(client)
        finally:
            client.close(abrupt=self.rng.random() < 0.5)
            with client.cond:
                items = list(zip(client.messages, client.times))
            self.connections.append(items)
            self.positions = self._advance([m for m, _ in items])

    def run(self):
        try:
            while not self.stop.is_set():
                duration = self.rng.uniform(0.05, 0.6)
                self._session(lambda c: time.sleep(duration))     # online a while
                away = 2.5 if self.rng.random() < self.long_absence else self.rng.uniform(0, 0.3)
                time.sleep(away)                                  # then offline
            self.done.wait(60)
            self._session(lambda c: c.wait_for(self._caught_up, 60, "the final heads"))
        except BaseException as error:
            self.error = error

    def _caught_up(self, client):
        position = self._advance(client.messages)
        return all(position.get(ch, (None, -1))[1] == self.final_heads[ch]
                   for ch in self.channels)


def verify_ws(test, client, publisher, history_size):
    """verify() for a WSClient: per channel, ok before anything else, then
    events contiguous from the position the sub named (replay, then live),
    or one justified reset and events contiguous from its position."""
    position = {}                           # channel -> (epoch, seq)
    received = resets = 0
    for n, items in enumerate(client.connections):
        confirmed = set()
        for msg, moment in items:
            t, channel = msg.get("t"), msg.get("ch")
            if t in ("welcome", "ping", "bye"):    # bye: the server stopping (a restart)
                continue
            test.assertIn(t, ("ok", "ev", "reset"), "unexpected message %r" % msg)
            test.assertIn(channel, client.channels, "foreign channel: %r" % msg)
            if t == "ok":
                test.assertNotIn(channel, confirmed, "second ok: %r" % msg)
                confirmed.add(channel)
                if channel not in position:
                    position[channel] = (msg["e"], msg["s"])     # live from the head
                # else: a resume. Its ok is the position of the gateway
                # worker that serves it (protocol.md §11.6), which may be an
                # event behind the worker of the previous connection; what
                # follows must go on from the client's own position
                continue
            test.assertIn(channel, confirmed, "%s before its ok" % t)
            epoch, seq = position[channel]
            if t == "ev":
                test.assertEqual((msg["e"] if epoch is None else epoch, seq + 1),
                                 (msg["e"], msg["s"]),
                                 "channel %s: after %s came %r" % (channel, seq, msg))
                received += 1
            else:
                test.assertEqual(msg["why"], "expired", msg)
                sent = publisher.sent_before(channel, moment)
                test.assertGreater(sent, seq + history_size,
                                   "unjustified reset at %s/%d: %r" % (channel, seq, msg))
                test.assertGreaterEqual(msg["s"], seq)
                resets += 1
            position[channel] = (msg["e"], msg["s"])
    for channel in client.channels:
        test.assertEqual(position[channel][1], client.final_heads[channel],
                         "%s did not reach the end of %s" % (client.name, channel))
    return received, resets


def final_heads(router, channels, expected=None, timeout=10.0):
    """The broker's head of each channel. With expected ({channel: count}),
    asks again until they match or timeout passes: the workload ends with an
    acknowledged publish, but PUSHes travel on another connection and may
    still be on their way to the broker then. With a list of routers (a
    cluster), the highest head any broker answers: only a channel's owner
    knows it (the others answer head 0)."""
    dealers = []
    for endpoint in _endpoints(router):
        dealers.append(h.ZMQ.socket(zmq.DEALER))
        dealers[-1].setsockopt(zmq.LINGER, 0)
        dealers[-1].connect(endpoint)
    deadline = time.monotonic() + timeout

    def head(dealer, channel):
        dealer.send(msgpack.packb({"op": "history", "ch": channel, "limit": 0}))
        assert dealer.poll(10000), "no history reply"
        return msgpack.unpackb(dealer.recv_multipart()[0])["head"]

    def query():
        return {channel: max(head(d, channel) for d in dealers) for channel in channels}
    try:
        heads = query()
        while expected is not None and heads != expected and time.monotonic() < deadline:
            time.sleep(0.05)                    # polling the broker, with a deadline
            heads = query()
    finally:
        for dealer in dealers:
            dealer.close()
    return heads


def _normal(positions):
    """Seq 0 means "before the first event" whatever the epoch says."""
    return {ch: ("", 0) if seq == 0 else (epoch, seq) for ch, (epoch, seq) in positions}


def verify(test, client, publisher, history_size):
    """Checks one client's whole record; returns (events, resets)."""
    position = None                         # channel -> (epoch, seq)
    received = resets = 0
    for items in client.connections:
        for kind, payload, cursor, moment in items:
            decoded = _normal(zip(client.channels, h.decode_cursor(cursor)["positions"]))
            if kind == "position":
                if position is None:
                    position = decoded      # where the very first connection started
                test.assertEqual(decoded, position, "go-live cursor is not the client's position")
                continue
            channel = payload["channel"]
            test.assertIn(channel, client.channels, "foreign channel")
            epoch, seq = position[channel]
            if kind == "message":
                test.assertEqual((payload["epoch"], payload["seq"]),
                                 (payload["epoch"] if not epoch else epoch, seq + 1),
                                 "channel %s: after %s came %s" % (channel, seq, payload["seq"]))
                position[channel] = (payload["epoch"], payload["seq"])
                received += 1
            else:
                test.assertEqual(kind, "herald-reset")
                test.assertEqual(payload["reason"], "expired", payload)
                # Justified only if the broker had evicted seq + 1: more than
                # history_size events were sent after it before the reset came.
                sent = publisher.sent_before(channel, moment)
                test.assertGreater(sent, seq + history_size,
                                   "unjustified reset at %s/%d: %r" % (channel, seq, payload))
                test.assertGreaterEqual(payload["seq"], seq)
                position[channel] = (payload["epoch"] or "", payload["seq"])
                position = _normal(position.items())
                resets += 1
            test.assertEqual(decoded, position, "event id is not the position after it")
    for channel in client.channels:
        test.assertEqual(position[channel][1], client.final_heads[channel],
                         "%s did not reach the end of %s" % (client.name, channel))
    return received, resets


def _client(base, names, rng, seed, stop, transport):
    channels = rng.sample(names, rng.randint(1, 4))
    if transport == "sse":
        return Client(base, channels, seed, stop, 0.05)
    return WSClient(base, channels, seed, stop, 0.05, transport)


def run_workload(test, base, pull, router, events=10000, clients=50, channels=8,
                 rate=2500.0, history_size=400, during=None, seed=SEED, transports=("sse",),
                 keyed=False):
    """Runs the workload; `during(publisher)` runs alongside (e.g. restarts).
    base is the gateway's URL, or a callable giving the URL for each new
    connection (several gateways); pull and router an endpoint each, or
    lists of them (a cluster's brokers, see Publisher). Client i speaks transports[i % len]: "sse", or a WebSocket subprotocol
    (wsclient.JSON, wsclient.MSGPACK). keyed: see Publisher. Returns a
    summary dict for the test's output."""
    rng = random.Random(seed)
    names = ["noloss-%d" % i for i in range(channels)]
    stop = threading.Event()
    publisher = Publisher(pull, router, names, events, rate, seed, keyed)
    crowd = [_client(base, names, rng, seed + 1 + i, stop, transports[i % len(transports)])
             for i in range(clients)]
    for client in crowd:
        client.start()
    h.wait_until(lambda: all(c.connections or c.error for c in crowd), 30, "clients online")
    publisher.start()
    try:
        if during:
            during(publisher)
    except BaseException:
        stop.set()      # no more reconnecting clients' noise after the failure
        raise
    publisher.join(120)
    test.assertFalse(publisher.is_alive(), "publisher did not finish")
    test.assertIsNone(publisher.error)
    stop.set()
    heads = final_heads(router, names, {c: len(publisher.sends[c]) for c in names})
    for channel in names:
        test.assertEqual(heads[channel], len(publisher.sends[channel]), "broker lost events")
        acks = publisher.acks[channel]
        test.assertEqual(acks, sorted(set(acks)), "acks not increasing")
    for client in crowd:
        client.final_heads = heads
        client.done.set()
    for client in crowd:
        client.join(90)
        test.assertFalse(client.is_alive(), "client did not finish")
        test.assertIsNone(client.error, client.error)
    totals = {"events": events, "clients": clients, "connections": 0, "delivered": 0,
              "resets": 0}
    for client in crowd:
        ws = isinstance(client, WSClient)
        received, resets = (verify_ws if ws else verify)(test, client, publisher, history_size)
        if len(transports) > 1:
            kind = "delivered %s" % (client.protocol if ws else "sse")
            totals[kind] = totals.get(kind, 0) + received
        totals["connections"] += len(client.connections)
        totals["delivered"] += received
        totals["resets"] += resets
    return totals


def run_across_gateway_restarts(test, history_size, **workload):
    """The workload in split mode while the gateway is killed (SIGKILL) at
    30 % and 60 % of the publishing and restarted on the same port; returns
    (totals, restarts). Clients resume from the broker's history."""
    broker = h.start(test, "broker", "--history-size", str(history_size))
    broker_arg = ["--broker", "%s,%s" % (broker.xpub, broker.router)]
    # The first gateway binds port 0 (no race with concurrent tests);
    # its restarts take the port it got back
    gateways = [h.Herald("gateway", broker_arg)]
    test.addCleanup(lambda: [g.kill() for g in gateways])
    port = int(gateways[0].http.rsplit(":", 1)[1])
    args = ["--http", "127.0.0.1:%d" % port] + broker_arg
    restarts = []

    def crash_and_restart(publisher):
        for fraction in (0.3, 0.6):
            publisher.wait_for(fraction)
            gateways[-1].send_signal(signal.SIGKILL)
            gateways[-1].kill()
            gateways.append(h.Herald("gateway", args))
            restarts.append(fraction)

    totals = run_workload(test, "http://127.0.0.1:%d" % port, broker.pull, broker.router,
                          history_size=history_size, during=crash_and_restart, **workload)
    gateways[-1].stop()
    return totals, restarts


def run_across_broker_restarts(test, data_dir, signals, history_size, **workload):
    """The workload on `herald run --data-dir` while the process is stopped
    by each of signals in turn (SIGTERM: clean; SIGKILL: a crash) at even
    fractions of the publishing and started again on the same directory and
    ports. Publishes are keyed (sent again until acknowledged); clients
    reconnect with their cursors. Returns (totals, restarts)."""
    server = h.Restartable(test, "run", "--data-dir", data_dir,
                           "--history-size", str(history_size))
    restarts = []

    def restart(publisher):
        for n, signo in enumerate(signals, 1):
            fraction = n / (len(signals) + 1)
            publisher.wait_for(fraction)
            server.restart(signo)
            restarts.append(signal.Signals(signo).name)

    totals = run_workload(test, server.http, server.pull, server.router,
                          history_size=history_size, during=restart, keyed=True, **workload)
    return totals, restarts
