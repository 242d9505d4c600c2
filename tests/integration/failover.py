"""The fault workload of the zero-reset failover tests (test_cluster_sync_*.py;
docs/cluster.md, "Zero-reset failover"), on a cluster.Cluster.

Traffic publishes to a set of channels, at a steady rate, over every way a
backend publishes: acknowledged DEALER publishes with idempotency keys
(cluster.AckedPublisher: retried with the key on `unavailable` or silence),
HTTP POST /v1/publish through the gateways with an `id` (retried with it on
503 or no answer), and fire-and-forget PUSH. Each channel has one thread
per acknowledged kind, so a channel that pauses holds up no other. Clients
(SSE and WebSocket on every gateway) are recorded by Received. check()
then compares what every client got with what was acknowledged and
returns the problems found, as sentences; a test states which resets it
allows (per channel) and asserts the list empty.
"""
import collections
import os
import socket
import threading
import time
import urllib.error


import cluster
import harness as H
import wsclient

# The replication the sync tests ask for: HERALD_TEST_REPLICATION=async runs
# them against the asynchronous cluster, where they must fail (resets);
# "none" passes neither --replication nor --min-replicas
REPLICATION = os.environ.get("HERALD_TEST_REPLICATION", "sync")


def broker_args(timeout="1s", lease="500ms", hold_down="2s", min_replicas=1, extra=()):
    """A sync test's broker options: validity = timeout + lease + 2 s."""
    replication = ([] if REPLICATION == "none" else
                   ["--replication", REPLICATION, "--min-replicas", str(min_replicas)])
    return (replication + ["--failover-timeout", timeout, "--lease", lease,
                           "--hold-down", hold_down] + list(extra))


class Received:
    """One client's deliveries (an SSE or a WebSocket client), parsed as
    they come: items [(kind, channel, epoch, seq, data)], kind "event" or
    "reset" (data is then the reason); heads {channel: (epoch, seq)}."""

    def __init__(self, name, client, channels):
        self.name, self.client, self.channels = name, client, channels
        self.sse = isinstance(client, H.SSEClient)
        self.seen, self.items, self.heads = 0, [], {}

    def update(self):
        with self.client.cond:
            new = (self.client.events if self.sse else self.client.messages)[self.seen:]
        self.seen += len(new)
        for x in new:
            item = self._parse(x)
            if item:
                self.items.append(item)
                if item[0] == "event":
                    self.heads[item[1]] = item[2:4]
        return self

    def _parse(self, x):
        if self.sse:
            if x.type == "message":
                j = x.json
                return ("event", j["channel"], j["epoch"], j["seq"], j.get("data"))
            if x.type == "herald-reset":
                j = x.json
                return ("reset", j["channel"], j.get("epoch"), j.get("seq"), j.get("reason"))
            return None
        if x.get("t") == "ev":
            return ("event", x["ch"], x["e"], x["s"], x.get("data"))
        if x.get("t") == "reset":
            return ("reset", x["ch"], x.get("e"), x.get("s"), x.get("why"))
        return None


def difference(got, want):
    """Where a channel's deliveries [(data, seq, epoch)] differ from its
    acks: the first difference, what is missing and what came twice."""
    first = next((i for i, (g, w) in enumerate(zip(got, want)) if g != w), min(len(got), len(want)))
    datas = [g[0] for g in got]
    delivered = set(datas)
    missing = [w for w in want if w[0] not in delivered]
    twice = sorted(d for d, k in collections.Counter(datas).items() if k > 1)
    return ("%d delivered, %d acked; first difference at #%d: got %s, acked %s; "
            "missing %d %s; twice %d %s"
            % (len(got), len(want), first, got[first:first + 2], want[first:first + 2],
               len(missing), missing[:3], len(twice), twice[:3]))


def clients(test, c, chans):
    """On each gateway an SSE client of every channel, one of half of them,
    and a WebSocket client of every channel (JSON on the first gateway,
    MessagePack on the second), all subscribed before any publish."""
    received = []
    for g, gateway in enumerate(c.gateways):
        proto = (wsclient.JSON, wsclient.MSGPACK)[g % 2]
        for k, part in enumerate((chans, chans[0::2])):
            received.append(Received("g%d-sse%d" % (g + 1, k),
                                     H.subscribed(test, gateway.http, part), part))
        ws = wsclient.welcomed(test, gateway.http, [proto])
        for ch in chans:
            ws.subscribe(ch)
        received.append(Received("g%d-ws" % (g + 1), ws, chans))
    return received


class _Halted(Exception):
    """A publisher stopped while a publish was still unacknowledged."""


class _Acked(threading.Thread):
    """Acknowledged publishes of one channel, one at a time, each with its
    own key, retried with it until acknowledged; `rate` a second, until
    stopped. acks: [(data, seq, epoch, sent, acked, dup)]; refused: times
    an attempt was answered `unavailable` (or 503); silent: times an
    attempt got no answer in time. deadline: the seconds one publish may
    take before the thread fails (a test may lengthen it for a channel it
    expects to be unavailable for longer)."""

    def __init__(self, kind, channel, rate, stamp):
        super().__init__(daemon=True, name="%s-%s" % (kind, channel))
        self.kind, self.channel, self.period, self.stamp = kind, channel, 1.0 / rate, stamp
        self.acks, self.refused, self.silent = [], [], []
        self.halt, self.error, self.n, self.deadline = threading.Event(), None, 0, 30.0

    def run(self):
        try:
            while not self.halt.is_set():
                due = time.monotonic() + self.period
                self.once(self.halt)
                self.halt.wait(max(due - time.monotonic(), 0))     # pacing, not syncing
        except _Halted:
            pass
        except BaseException as error:          # reported by check()
            self.error = error

    def once(self, halt=None):
        """One publish until acknowledged (within self.deadline s), or
        until the Event `halt` is set (_Halted)."""
        data = "%s:%s:%d" % (self.kind, self.channel, self.n)
        key = "%s-%s" % (data, self.stamp)
        self.n += 1
        sent = time.monotonic()
        seq, epoch, dup = self.publish(data, key, sent + self.deadline, halt)
        self.acks.append((data, seq, epoch, sent, time.monotonic(), dup))

    def stop(self):
        self.halt.set()
        self.join(60)


class DealerAcked(_Acked):
    def __init__(self, test, c, channel, via, rate, stamp, patience=2.0, kind="dealer"):
        super().__init__(kind, channel, rate, stamp)
        self.publisher = cluster.AckedPublisher(test, c, via, patience)

    def publish(self, data, key, deadline, halt):
        before = len(self.publisher.unavailable), len(self.publisher.silent)
        try:
            reply = self.publisher.publish(self.channel, data, key, deadline, halt)
        finally:
            self.refused += [u[0] for u in self.publisher.unavailable[before[0]:]]
            self.silent += [u[0] for u in self.publisher.silent[before[1]:]]
        if reply is None:
            raise _Halted()
        return reply["seq"], reply["epoch"], bool(reply.get("dup"))


class HttpAcked(_Acked):
    """POST /v1/publish through the gateways in turn, with an `id`."""

    def __init__(self, gateways, channel, rate, stamp):
        super().__init__("http", channel, rate, stamp)
        self.gateways, self.turn = gateways, 0

    def publish(self, data, key, deadline, halt):
        while time.monotonic() < deadline:
            if halt is not None and halt.is_set():
                raise _Halted()
            self.turn += 1
            base = self.gateways[self.turn % len(self.gateways)].http
            try:
                r = H.publish(base, {"channel": self.channel, "data": data, "id": key},
                              timeout=3.0)
            except (urllib.error.URLError, socket.timeout, ConnectionError, OSError):
                self.silent.append(time.monotonic())
                time.sleep(0.02)                # no answer: again, with the key
                continue
            if r.status == 503:
                self.refused.append(time.monotonic())
                time.sleep(0.02)                # pacing the retry
                continue
            assert r.status == 200, r
            return r.json["seq"], r.json["epoch"], bool(r.json["duplicate"])
        raise AssertionError("no HTTP ack for %s %s" % (self.channel, key))


class Pusher(threading.Thread):
    """Fire-and-forget publishes to each channel in turn through the PULLs
    of the brokers `via` in turn. sent: {channel: [data]} in send order."""

    def __init__(self, test, c, channels, via, rate, stamp):
        super().__init__(daemon=True, name="push")
        self.socks = [H.pusher(test, c.endpoints[i]["publish"]) for i in via]
        self.channels, self.period, self.stamp = channels, 1.0 / rate, stamp
        self.sent = {ch: [] for ch in channels}
        self.halt, self.error = threading.Event(), None

    def run(self):
        try:
            n = 0
            while not self.halt.is_set():
                due = time.monotonic() + self.period
                ch = self.channels[n % len(self.channels)]
                data = "push:%s:%d" % (ch, n)
                self.socks[n % len(self.socks)].send({"ch": ch, "data": data})
                self.sent[ch].append(data)
                n += 1
                self.halt.wait(max(due - time.monotonic(), 0))     # pacing, not syncing
        except BaseException as error:
            self.error = error

    def stop(self):
        self.halt.set()
        self.join(60)


class Traffic:
    """Every kind of publisher on `channels`: a DEALER and an HTTP thread
    per channel (`rate` each a second), and one PUSH thread over all of
    them (`rate` a second per channel). DEALER and PUSH go through the
    brokers `via`, HTTP through every gateway. direct: brokers that get
    one more DEALER publisher per channel, sending to them alone (to the
    broker that fails, for instance)."""

    def __init__(self, test, c, channels, via, rate=15.0, http=True, push=True, direct=()):
        self.c, self.channels = c, list(channels)
        stamp = "%d-%s" % (os.getpid(), os.urandom(3).hex())
        self.acked = [DealerAcked(test, c, ch, via, rate, stamp) for ch in channels]
        self.acked += [DealerAcked(test, c, ch, (i,), rate, stamp, kind="direct%d" % i)
                       for i in direct for ch in channels]
        if http:
            self.acked += [HttpAcked(c.gateways, ch, rate, stamp) for ch in channels]
        self.pusher = Pusher(test, c, channels, via, rate * len(channels), stamp) if push else None
        self.threads = self.acked + ([self.pusher] if push else [])
        self.finals, self.stopped = {}, False
        test.addCleanup(self.halt)

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def tolerate(self, channels, seconds):
        """Lets each publish to `channels` take up to `seconds` (a cut that
        leaves them unavailable until healed)."""
        for t in self.acked:
            if t.channel in channels:
                t.deadline = seconds

    def check_alive(self):
        for t in self.threads:
            if t.error:
                raise AssertionError("%s failed: %r" % (t.name, t.error))

    def acks(self, channel=None):
        """Every ack, of one channel or all: [(channel, data, seq, epoch,
        sent, acked, dup)], in no particular order."""
        return [(t.channel,) + a for t in self.acked for a in list(t.acks)
                if channel in (None, t.channel)]

    def wait_acked(self, channels, n, since, timeout=20.0, what="", kinds=("dealer", "http")):
        """Until each of `channels` has n acks of each of `kinds` (of the
        acknowledged publishers) sent after `since`."""
        def done():
            self.check_alive()
            return all(sum(1 for a in list(t.acks) if a[3] > since) >= n
                       for t in self.acked if t.channel in channels and t.kind in kinds)
        H.wait_until(done, timeout, "%d acks of each channel %s" % (n, what), interval=0.05)

    def resumed(self, channels, moment):
        """Per channel, the seconds from `moment` to the first ack of a
        publish sent after it, or None."""
        out = {}
        for ch in channels:
            after = [a[5] for a in self.acks(ch) if a[4] >= moment]
            out[ch] = min(after) - moment if after else None
        return out

    def refused(self, channels=None, silent=False):
        """When attempts were answered `unavailable` (with silent: when
        they got no answer), sorted."""
        return sorted(r for t in self.acked if channels is None or t.channel in channels
                      for r in (t.silent if silent else t.refused))

    def halt(self):
        self.stopped = True
        for t in self.threads:
            t.halt.set()
        for t in self.threads:
            if t.is_alive():
                t.join(60)

    def stop(self):
        """Stops every publisher, then publishes one last acknowledged event
        per channel (DEALER): its (epoch, seq) is the channel's final head."""
        if self.stopped:
            return
        self.halt()
        self.check_alive()
        for t in self.acked:
            if t.kind == "dealer":
                t.once()
                self.finals[t.channel] = t.acks[-1][2:0:-1]     # (epoch, seq)


def installed(broker):
    """The views a broker (one process) installed, from its log, in order:
    [[number, kept]], kept: it took channels over with their epochs after
    that view."""
    views = []
    for e in broker.logs():
        if e.get("msg") == "view installed":
            views.append([int(e["number"]), False])
        elif e.get("msg") == "took over channels with their epochs" and views:
            views[-1][1] = True
    return views


def skipped(brokers):
    """The views that did not follow the one before on the broker (process)
    that installed them: [(number, the broker's next install or number)].
    Such a view costs every channel of its broker a new epoch, made in it or
    in the broker's next view (docs/cluster.md, Views that skip numbers);
    a process's first view follows nothing and is not counted."""
    out = []
    for broker in brokers:
        numbers = [n for n, _ in installed(broker)]
        for k in range(1, len(numbers)):
            if numbers[k] != numbers[k - 1] + 1:
                out.append((numbers[k], numbers[k + 1] if k + 1 < len(numbers) else numbers[k]))
    return out


def epoch_view(epoch):
    """The view an epoch was made in (its generation's top 24 bits,
    docs/protocol.md, Epochs)."""
    return int(epoch[:6], 16)


def made_in(spans):
    """For check()'s resets: whether an epoch was made in a view of one of
    the spans [(first, last)]."""
    return lambda epoch: epoch is not None and any(lo <= epoch_view(epoch) <= hi
                                                   for lo, hi in spans)


def installs(brokers, ids):
    """Each broker's installed views from its log: "b1: 1 2 4+ 5" (a
    number missing: skipped, installed from a later view; + marks a view
    after which the broker took channels over with their epochs). A view
    that does not follow the one before costs every channel of the broker
    that installs it a new epoch (docs/cluster.md, Views that skip
    numbers): the first thing to look at when a reset came."""
    return "; ".join("%s: %s" % (b, " ".join("%d%s" % (n, "+" if kept else "")
                                             for n, kept in installed(broker)))
                     for b, broker in zip(ids, brokers))


def assert_none(test, problems, brokers, ids):
    """No problem, or a failure listing them and the views installed."""
    test.assertEqual(problems, [], "\n".join(problems[:30]) + "\nviews installed: "
                     + installs(brokers, ids))


def check(traffic, received, resets=None, timeout=30.0, fresh=True):
    """What every client got against what was published; a list of
    problems (empty: all is as the table says). resets {channel: n}: the
    resets each client must get on that channel (absent: none); or
    {channel: allowed}, allowed(epoch) saying whether a reset to that epoch
    may come (any number of them). On a channel
    with a reset, acknowledged events the client had not received before it
    may be missing (the reset announces them); everywhere else every
    acknowledged publish is delivered exactly once, at the (epoch, seq) its
    ack named. Everywhere: seqs contiguous within an epoch (no silent gap),
    no payload twice, no (channel, epoch, seq) with two payloads, PUSHed
    events at most once (the table promises nothing more for them: what is
    pushed to a dead owner is lost), every client at the final head.
    fresh: every client subscribed before its channels' first event (it
    must start at seq 1)."""
    resets = resets or {}
    problems = []
    traffic.stop()
    finals = traffic.finals
    try:
        H.wait_until(lambda: all(r.update().heads.get(ch) == finals[ch]
                                 for r in received for ch in r.channels if ch in finals),
                     timeout, "every client at every channel's last ack", interval=0.1)
    except AssertionError as e:
        problems.append("%s: %s" % (e, {r.name: {ch: r.heads.get(ch) for ch in r.channels
                                                  if r.heads.get(ch) != finals.get(ch)}
                                         for r in received}))
    acked = collections.defaultdict(dict)       # channel -> data -> (epoch, seq)
    for ch, data, seq, epoch, _, _, dup in traffic.acks():
        if acked[ch].setdefault(data, (epoch, seq)) != (epoch, seq):
            problems.append("%s: %r acknowledged twice, differently" % (ch, data))
    payloads = {}
    for r in received:
        for ch in r.channels:
            items = [i for i in r.items if i[1] == ch]
            problems += _check_channel(r.name, ch, items, acked[ch], resets.get(ch, 0),
                                       payloads, fresh)
    return problems


def _check_channel(name, ch, items, acked, want_resets, payloads, fresh):
    problems = []
    where = "%s %s" % (name, ch)
    got_resets = [i for i in items if i[0] == "reset"]
    if callable(want_resets):
        bad = [i for i in got_resets if not want_resets(i[2])]
        if bad:
            problems.append("%s: %d resets not allowed: %s" % (where, len(bad), bad[:3]))
        want_resets = len(got_resets)
    elif len(got_resets) != want_resets:
        problems.append("%s: %d resets, expected %d: %s" % (where, len(got_resets), want_resets,
                                                            got_resets[:3]))
    position, reset_at, seen = None, None, collections.Counter()
    for n, (kind, _, epoch, seq, data) in enumerate(items):
        if kind == "reset":     # the position the stream continues from
            position, reset_at = (epoch, seq) if epoch is not None else None, n
            continue
        if position is not None and (epoch, seq) != (position[0], position[1] + 1):
            problems.append("%s: after %s came %s (a silent gap)" % (where, position, (epoch, seq)))
        elif position is None and reset_at is None and fresh and seq != 1:
            problems.append("%s: first event at seq %d" % (where, seq))
        position = (epoch, seq)
        seen[data] += 1
        if payloads.setdefault((ch, epoch, seq), data) != data:
            problems.append("%s: (%s, %d) with two payloads: %r and %r"
                            % (where, epoch, seq, payloads[(ch, epoch, seq)], data))
        if data in acked and acked[data] != (epoch, seq):
            problems.append("%s: %r acked at %s, delivered at %s" % (where, data, acked[data],
                                                                     (epoch, seq)))
    twice = [d for d, k in seen.items() if k > 1]
    if twice:
        problems.append("%s: %d payloads delivered twice: %s" % (where, len(twice), twice[:3]))
    covered = set()
    if got_resets and want_resets:  # acked in an epoch a reset left: announced lost
        covered = {d for d, (e, _) in acked.items() if e != got_resets[-1][2]}
    missing = [d for d in acked if not seen[d] and d not in covered]
    if missing:
        problems.append("%s: %d acknowledged publishes never delivered: %s (of %d)"
                        % (where, len(missing), sorted(missing)[:3], len(acked)))
    return problems
