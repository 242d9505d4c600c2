"""Graceful handoff on real processes (tests/integration/cluster.py: 3
brokers, 2 gateways; docs/cluster.md, "Failover, handoff and rejoin").

A broker SIGTERMed under load hands each channel it owns to its successor
(epoch, head, history, idempotency keys) and exits 0 within 10 s, while
acknowledged, idempotent publishes go on through the two other brokers:
SSE and WebSocket clients on both gateways get no reset, every acknowledged
event exactly once and in order, and each channel keeps its one epoch.
Restarted with the same --id and --state-dir, the broker is a member at
once, an owner only after --hold-down, and takes its channels back by the
same handoff: again no reset, no loss, no duplicate, the same epochs,
and no publish answered `unavailable` at any moment (a view change defers
publishes, a new owner holds them: docs/cluster.md).
Each handoff carries history and idempotency keys: the receiver answers a
channel's history from seq 1, and a publish sent again with an earlier
key is a duplicate. A publish that arrives while its channel is in transit
is held by the successor and sequenced right after the handed-over head
(seq head + 1, same epoch), acknowledged (each sent once, never retried)
or pushed. Until handoff is built, each moved channel costs every client
one reset at the leave and one at the rejoin. Labels: integration, cluster."""
import collections
import os
import threading
import time
import unittest

import msgpack
import zmq

import cluster
import harness as H
from failover import Received, difference
import wsclient

HOLD_DOWN = 3.0
BROKER_ARGS = ["--failover-timeout", "1s", "--lease", "500ms", "--hold-down", "3s"]
LEAVE_LIMIT = 10.0      # issue 10: the leaver exits within 10 s


class Load(threading.Thread):
    """Acknowledged, idempotent publishes to each of `channels` in turn,
    through the brokers `via`, about `rounds` rounds a second, until
    stopped (at the end of a round). acks[channel]: [(data, seq, epoch,
    time of the ack)] in publish order."""

    def __init__(self, test, c, channels, via, rounds=25.0):
        super().__init__(daemon=True)
        self.publisher = cluster.AckedPublisher(test, c, via)
        self.channels, self.period = channels, 1.0 / rounds
        self.acks = {ch: [] for ch in channels}
        self.halt, self.error = threading.Event(), None

    def run(self):
        try:
            n = 0
            while not self.halt.is_set():
                due = time.monotonic() + self.period
                for ch in self.channels:
                    data = "%s:%d" % (ch, n)
                    reply = self.publisher.publish(ch, data, self.key(data), time.monotonic() + 30)
                    self.acks[ch].append((data, reply["seq"], reply["epoch"], time.monotonic()))
                n += 1
                self.halt.wait(max(due - time.monotonic(), 0))     # pacing, not syncing
        except BaseException as error:          # reported by the test
            self.error = error

    @staticmethod
    def key(data):
        return "k-%s-%d" % (data, os.getpid())

    def stop(self):
        self.halt.set()
        self.join(60)


class Handoff(unittest.TestCase):
    def setUp(self):
        self.c = cluster.Cluster(self, brokers=3, gateways=2, broker_args=BROKER_ARGS)
        self.c.wait_settled()
        self.c.wait_sequencing()

    def channels(self, prefix, moved, kept):
        """`moved` channels b1 owns and `kept` channels it does not, by the
        rendezvous order (docs/cluster.md, Ownership), checked against a
        broker's answer; with every broker an owner."""
        order = {ch: H.rendezvous_order(self.c.ids, ch) for ch in
                 ("%s%d" % (prefix, n) for n in range(400))}
        ours = [ch for ch in order if order[ch][0] == "b1"][:moved]
        others = [ch for ch in order if order[ch][0] != "b1"][:kept]
        for ch in ours[:2] + others[:2]:
            self.assertEqual(self.c.ids[self.c.owner(ch, 1)], order[ch][0], ch)
        return ours, others, order

    def clients(self, chans):
        """On each gateway two SSE clients (half of the channels each) and
        a WebSocket client (every channel; JSON on one, MessagePack on the
        other), all subscribed before any publish to these channels."""
        received = []
        for g, (gateway, proto) in enumerate(zip(self.c.gateways,
                                                 (wsclient.JSON, wsclient.MSGPACK))):
            for k, half in enumerate((chans[0::2], chans[1::2])):
                received.append(Received("g%d-sse%d" % (g + 1, k), H.subscribed(
                    self, gateway.http, half), half))
            ws = wsclient.welcomed(self, gateway.http, [proto])
            for ch in chans:
                ws.subscribe(ch)
            received.append(Received("g%d-ws" % (g + 1), ws, chans))
        return received

    def wait_acked(self, loads, chans, since, n, timeout=20.0, what=""):
        """Until each channel has n acks later than `since`."""
        def done():
            for load in loads:
                if load.error:
                    raise AssertionError("publisher failed: %r" % load.error)
            return all(sum(1 for a in load.acks[ch] if a[3] > since) >= n
                       for load in loads for ch in chans if ch in load.acks)
        H.wait_until(done, timeout, "%d acks of each channel %s" % (n, what), interval=0.05)

    def check(self, received, acks, problems, timeout=20.0):
        """Appends to `problems` every client's resets, and every channel
        whose deliveries are not its acks exactly (once each, in order, one
        epoch); (channel, epoch, seq) with two payloads anywhere."""
        for ch, a in acks.items():
            seqs, epochs = [x[1] for x in a], [x[2] for x in a]
            if seqs != list(range(1, len(a) + 1)) or len(set(epochs)) != 1:
                at = next((i for i in range(1, len(a)) if a[i][1:3] != (a[i - 1][1] + 1,
                                                                       a[i - 1][2])), 0)
                problems.append("%s: acks not one epoch from seq 1: %s then %s"
                                % (ch, a[at - 1][:3] if at else None, a[at][:3]))
        last = {ch: a[-1][2:0:-1] for ch, a in acks.items() if a}     # (epoch, seq)
        try:
            H.wait_until(lambda: all(r.update().heads.get(ch) == last[ch]
                                     for r in received for ch in r.channels if ch in last),
                         timeout, "every client at every channel's last ack", interval=0.1)
        except AssertionError as e:
            problems.append(str(e))
        payloads = {}
        for r in received:
            r.update()
            resets = [i for i in r.items if i[0] == "reset"]
            if resets:
                problems.append("%s: %d resets, on %d channels, first %s" % (
                    r.name, len(resets), len({i[1] for i in resets}), resets[:3]))
            for ch in r.channels:
                got = [(i[4], i[3], i[2]) for i in r.items if i[0] == "event" and i[1] == ch]
                for data, seq, epoch in got:
                    if payloads.setdefault((ch, epoch, seq), data) != data:
                        problems.append("%s: (%s, %s, %d) with two payloads: %r and %r" % (
                            r.name, ch, epoch, seq, payloads[(ch, epoch, seq)], data))
                want = [a[:3] for a in acks.get(ch, [])]
                if got != want:
                    problems.append("%s %s: %s" % (r.name, ch, difference(got, want)))

    def check_kept(self, i, acks, channels, problems):
        """Broker i has what the handoffs brought it, for each channel:
        its history from seq 1 in its one epoch (ROUTER op history), and
        its idempotency keys: the channel's first publish sent again with
        its key is answered dup with its first (seq, epoch), and adds
        nothing (or, when it does, the new event joins `acks`)."""
        for ch in channels:
            a = acks[ch]
            epoch, first, head, events = self.history(i, ch)
            if (epoch, first, head) != (a[-1][2], 1, a[-1][1]) or events != [x[:3] for x in a]:
                problems.append("%s: history on %s: epoch %s, first %s, head %s, %d events "
                                "(%s...), acked %d up to %s" % (
                                    ch, self.c.ids[i], epoch, first, head, len(events),
                                    events[:2], len(a), a[-1][:3]))
        republish = cluster.AckedPublisher(self, self.c, [j for j in range(3) if j != i])
        for ch in channels:
            data, seq, epoch = acks[ch][0][:3]
            reply = republish.publish(ch, data, Load.key(data), time.monotonic() + 10)
            if (reply.get("dup"), reply["seq"], reply["epoch"]) != (True, seq, epoch):
                problems.append("%s: its first publish again with its key: %r, expected dup "
                                "of seq %d in %s" % (ch, reply, seq, epoch))
                if not reply.get("dup"):
                    acks[ch].append((data, reply["seq"], reply["epoch"], time.monotonic()))

    def history(self, i, ch):
        """Broker i's history of ch from seq 1, page by page: (epoch, first,
        head, [(data, seq, epoch)])."""
        dealer = H.Zmq(zmq.DEALER, self.c.endpoints[i]["router"], linger=0)
        try:
            events, header = [], {"head": 1}
            while not events or events[-1][1] < header["head"]:
                dealer.send({"op": "history", "ch": ch, "since": events[-1][1] if events else 0,
                             "limit": 1000})
                frames = dealer.recv(10.0)
                header = frames[0]
                if not header.get("count"):
                    break
                events += [(e.get("data"), e["seq"], e["epoch"]) for e in frames[1:]]
            return header.get("epoch"), header.get("first"), header.get("head"), events
        finally:
            dealer.close()

    def metric(self, i, name):
        return H.metric(self.c.brokers[i].http, name)

    def test_sigterm_hands_over_and_the_rejoin_takes_back_without_a_reset(self):
        c = self.c
        moved, kept, order = self.channels("h", 10, 14)
        self.assertEqual({order[ch][1] for ch in moved}, {"b2", "b3"})  # both successors
        chans = moved + kept
        received = self.clients(chans)
        loads = [Load(self, c, chans[k::2], (1, 2)) for k in (0, 1)]
        for load in loads:
            load.start()
            self.addCleanup(load.stop)
        acks = lambda: {ch: list(a) for load in loads for ch, a in load.acks.items()}
        self.wait_acked(loads, chans, 0, 5, what="before the SIGTERM")
        problems = []

        # The leave: exit 0 within 10 s, having handed its channels over
        leaver = c.brokers[0]
        sigterm = time.monotonic()
        leaver.stop(timeout=LEAVE_LIMIT)            # exit 0, no sanitizer report
        gone = time.monotonic()
        self.wait_acked(loads, moved, gone, 5, what="moved, after the leaver's exit")
        logs = [entry.get("msg") for entry in leaver.logs()]
        if "left the cluster" not in logs:
            problems.append("the leaver did not log 'left the cluster'")
        successors = sorted({c.ids.index(order[ch][1]) for ch in moved})
        installed = {c.ids[i]: self.metric(i, "herald_cluster_handoff_received_total")
                     for i in successors}
        if not all(installed.values()):
            problems.append("herald_cluster_handoff_received_total after the leave: %s"
                            % installed)

        # The rejoin: a member first, an owner after the hold-down, by handoff
        restart = time.monotonic()
        c.brokers[0] = c.start_broker(0)
        H.wait_until(lambda: "b1" in c.cluster_json(1)["view"]["members"], 15,
                     "b1 a member again", interval=0.05)
        if "b1" in c.cluster_json(1)["view"]["owners"] and time.monotonic() - restart < HOLD_DOWN:
            problems.append("b1 an owner again before its hold-down")
        H.wait_until(lambda: all("b1" in c.cluster_json(i)["view"]["owners"] for i in range(3)),
                     HOLD_DOWN + 15, "b1 an owner again on every broker", interval=0.05)
        owner_again = time.monotonic()
        self.assertGreaterEqual(owner_again - restart, HOLD_DOWN)
        for ch in moved:
            self.assertEqual(c.owner(ch, 2), 0, ch)
        self.wait_acked(loads, moved, owner_again, 5, what="moved, after the rejoin")
        try:
            H.wait_until(lambda: self.metric(0, "herald_cluster_handoff_received_total") > 0,
                         5, "b1's herald_cluster_handoff_received_total > 0")
        except AssertionError as e:
            problems.append(str(e))
        for load in loads:
            load.stop()
            self.assertIsNone(load.error)
        takeovers = {b: self.metric(i, "herald_cluster_takeovers_total")
                     for i, b in enumerate(c.ids)}
        if any(takeovers.values()):
            problems.append("takeovers (a handoff never came): %s" % takeovers)

        # No publish refused at any time: a view change defers them, a new
        # owner holds them (docs/cluster.md, "Publishing in a cluster"). Each
        # refusal with the times it was sent and answered, from the SIGTERM
        # (leave: sent before the restart) or from the restart (rejoin)
        for phase, start, end in (("leave", sigterm, restart), ("rejoin", restart, 1e12)):
            refused = sorted((sent, at, kind, ch, i) for load in loads
                             for kind in ("unavailable", "silent")
                             for sent, at, ch, i in getattr(load.publisher, kind)
                             if start <= sent < end)
            if refused:
                problems.append("%d publishes answered `unavailable` or not within 2 s (then "
                                "retried) at the %s, on %s; sent from %+.3f to %+.3f s after "
                                "the %s; first %s" % (
                                    len(refused), phase,
                                    sorted({"%s (%s's)" % (r[3], order[r[3]][0])
                                            for r in refused}),
                                    refused[0][0] - start, refused[-1][0] - start,
                                    "SIGTERM" if phase == "leave" else "restart",
                                    ["%s %s through b%d, sent %+.3f s, answered %+.3f s" % (
                                        kind, ch, i + 1, sent - start, at - start)
                                     for sent, at, kind, ch, i in refused[:3]]))
        final = acks()
        self.check(received, final, problems)
        self.check_kept(0, final, moved, problems)      # brought back to b1 by handoff
        retried = lambda kind: len([r for load in loads for r in getattr(load.publisher, kind)])
        print("\nhandoff: leaver exited %.2f s after SIGTERM; b1 owner again %.2f s after its "
              "restart; %d acked events on %d channels (%d on the moved); retried after "
              "`unavailable`: %d; after no answer: %d" % (
                  gone - sigterm, owner_again - restart, sum(map(len, final.values())),
                  len(final), sum(len(final[ch]) for ch in moved),
                  retried("unavailable"), retried("silent")))
        self.assertEqual(problems, [], "\n" + "\n".join(problems))

    def test_publishes_in_flight_during_the_handoff_are_held_not_lost(self):
        c = self.c
        moved, _, order = self.channels("t", 13, 0)
        acked, pushed = moved[:12], moved[12]
        received = self.clients(moved)
        # Some history first: each channel's head before the leave
        history = Load(self, c, moved, (1, 2))
        history.start()
        self.wait_acked([history], moved, 0, 5, what="as history")
        history.stop()
        self.assertIsNone(history.error)
        before = {ch: history.acks[ch][-1][2:0:-1] for ch in moved}     # (epoch, seq)
        # Then, through a staying broker (the successor for some channels,
        # the other one for the rest), a publish in flight on every channel
        # at every moment, each sent once: no retry hides an `unavailable`
        streams = Streams(self, c, acked, (1, 2))
        other = 1 if order[pushed][1] == "b3" else 2         # not the successor: forwarded
        pusher = Pusher(c, pushed, other)
        for t in (streams, pusher):
            t.start()
            self.addCleanup(t.stop)
        H.wait_until(lambda: all(n is None or n >= 5 for n in streams.acked_after(0).values())
                     and pusher.sent >= 5, 10, "publishing under way")
        sigterm = time.monotonic()
        c.brokers[0].stop(timeout=LEAVE_LIMIT)
        gone = time.monotonic()
        H.wait_until(lambda: all(n is None or n >= 5 for n in streams.acked_after(gone).values()),
                     20, "5 acks per channel after the leaver's exit (or a channel's failure)")
        for t in (streams, pusher):
            t.stop()
            self.assertIsNone(t.error)

        problems = []
        acks = {ch: list(history.acks[ch]) for ch in moved}
        for ch in acked:
            head = before[ch]
            for n, (sent, at, reply) in enumerate(streams.replies[ch]):
                want = (head[0], head[1] + 1 + n)
                if reply is None or reply.get("error") or (reply["epoch"], reply["seq"]) != want:
                    problems.append("%s: publish #%d sent %+.3f s from the SIGTERM, answered "
                                    "%s: %r, expected (epoch, seq) %s" % (
                                        ch, n, sent - sigterm,
                                        "never" if at is None else "%+.3f s" % (at - sigterm),
                                        reply, want))
                    break
                acks[ch].append((Streams.data(ch, n), reply["seq"], reply["epoch"], at))
        # The pushed channel: every push once, right after its history. Pushes
        # through a non-owner may be sequenced out of push order across a
        # handoff (docs/cluster.md, "Graceful handoff", Limits): the order is
        # the one the first of its clients got, and every client must agree
        pushes = ["%s:p%d" % (pushed, n) for n in range(pusher.sent)]
        ref = next(r for r in received if pushed in r.channels)
        epoch, head = before[pushed]
        try:
            H.wait_until(lambda: ref.update().heads.get(pushed) == (epoch, head + len(pushes)),
                         20, "%s at the last push (%s)" % (ref.name, pushed), interval=0.1)
        except AssertionError as e:
            problems.append(str(e))
        got = [i[4] for i in ref.items if i[0] == "event" and i[1] == pushed and i[3] > head]
        if sorted(got) != sorted(pushes):
            problems.append("%s %s: pushes lost %s, extra or twice %s" % (
                ref.name, pushed, sorted(set(pushes) - set(got))[:5],
                [d for d, k in collections.Counter(got).items() if k > 1 or d not in pushes][:5]))
            got = pushes
        reordered = sum(1 for a, b in zip(got, pushes) if a != b)
        acks[pushed] += [(d, head + 1 + n, epoch, None) for n, d in enumerate(got)]
        self.check(received, acks, problems)
        for ch in moved:
            self.check_kept(c.ids.index(order[ch][1]), acks, [ch], problems)
        spans = [at - sent for r in streams.replies.values() for sent, at, _ in r
                 if at and sent < gone]
        print("\nhandoff in flight: leaver exited %.2f s after SIGTERM; slowest ack of a "
              "publish sent before its exit %.3f s; %d pushes, %d out of push order"
              % (gone - sigterm, max(spans), pusher.sent, reordered))
        self.assertEqual(problems, [], "\n" + "\n".join(problems))


class Streams(threading.Thread):
    """Acknowledged publishes to every channel of `channels` at once, at
    most one in flight per channel (so a channel's acks come in its publish
    order), channel k through broker via[k % len(via)]: every moment of a
    handoff finds publishes in flight. Each publish is sent once and awaited
    up to 10 s; a channel whose publish is refused or unanswered stops
    there. replies[channel]: [(sent, answered or None, reply or None)]."""

    def __init__(self, test, c, channels, via):
        super().__init__(daemon=True)
        dealers = [H.dealer(test, c.endpoints[i]["router"]) for i in via]
        self.route = {ch: dealers[k % len(dealers)] for k, ch in enumerate(channels)}
        self.replies = {ch: [] for ch in channels}
        self.halt, self.error = threading.Event(), None

    @staticmethod
    def data(channel, n):
        return "%s:s%d" % (channel, n)

    def run(self):
        pending, rid = {}, 0            # rid -> (channel, sent)
        poller = zmq.Poller()
        for dealer in set(self.route.values()):
            poller.register(dealer.sock, zmq.POLLIN)

        def send(ch):
            nonlocal rid
            rid += 1
            data = self.data(ch, len(self.replies[ch]))
            self.route[ch].send({"ch": ch, "data": data, "rid": rid,
                                 "id": "s-%s-%d" % (data, os.getpid())})
            pending[rid] = (ch, time.monotonic())
        try:
            for ch in self.replies:
                send(ch)
            while pending:
                ready = dict(poller.poll(20))
                now = time.monotonic()
                for dealer in set(self.route.values()):
                    while dealer.sock in ready and dealer.sock.poll(0, zmq.POLLIN):
                        reply = msgpack.unpackb(dealer.sock.recv_multipart()[0])
                        if reply.get("rid") not in pending:     # late: given up already
                            continue
                        ch, sent = pending.pop(reply["rid"])
                        self.replies[ch].append((sent, now, reply))
                        if not reply.get("error") and not self.halt.is_set():
                            send(ch)
                for r, (ch, sent) in list(pending.items()):
                    if now - sent > 10.0:
                        del pending[r]
                        self.replies[ch].append((sent, None, None))
        except BaseException as error:
            self.error = error

    def acked_after(self, moment):
        """Per channel, acks that came after `moment`; None for a channel
        that stopped."""
        out = {}
        for ch, replies in self.replies.items():
            replies = list(replies)
            stopped = replies and (replies[-1][2] is None or replies[-1][2].get("error"))
            out[ch] = None if stopped else sum(1 for r in replies if r[1] > moment)
        return out

    def stop(self):
        self.halt.set()
        self.join(30)


class Pusher(threading.Thread):
    """PUSH publishes to one channel through one broker, about 200 a
    second, until stopped; `sent` counts them (data CHANNEL:pN)."""

    def __init__(self, c, channel, via):
        super().__init__(daemon=True)
        self.endpoint, self.channel, self.sent = c.endpoints[via]["publish"], channel, 0
        self.halt, self.error = threading.Event(), None

    def run(self):
        push = H.Zmq(zmq.PUSH, self.endpoint, linger=5000)
        try:
            while not self.halt.is_set():
                push.send({"ch": self.channel, "data": "%s:p%d" % (self.channel, self.sent)})
                self.sent += 1
                self.halt.wait(0.005)           # pacing, not syncing
        except BaseException as error:
            self.error = error
        finally:
            push.close()

    def stop(self):
        self.halt.set()
        self.join(30)


if __name__ == "__main__":
    unittest.main()
