"""A partition on real processes and a real network (docs/cluster.md,
"Partitions: what clients and publishers see"), with --replication async
(test_cluster_sync_partition cuts an owner from its backup with sync).
Needs root, `ip netns` and `nft`; skipped otherwise. Labels: integration,
cluster.

Three brokers: b1 and b2 on the host side of a veth pair, b3 alone in a
network namespace on the other side (tcp on a private /29 chosen at random,
so concurrent tests and runs do not clash), one gateway with SSE clients on
the host side. An nftables table of the test's own cuts b3 off:

1. both directions: every packet between b3's address and the host side's;
2. one direction: every packet of the connections the host side opened to
   b3 (b1's and b2's peer DEALERs, the gateway's SUB and DEALER), so b3 can
   still send to b1 and b2 on the connections it opened, but hears nothing.

The rules are stateless (addresses and b3's listening ports), so they cut
established connections too. An observer address on the host side (the
third of the /29) is never cut: through it the test plays a client that
still reaches b3, and reads b3's /v1/cluster.

During each cut: b3 answers publishes of its channels `unavailable` within
about a second, and never acknowledges one sent after its lease ran out
(--lease after the cut; b3's clock is the host's monotonic clock); b1 and
b2 install a view without b3, go on acknowledging their channels without a
pause, and acknowledge b3's former channels in a new epoch. A publish of
b1's channel sent to b3 as the cut begins is forwarded, and answered
`unavailable` after a second (no answer comes back); cut one way, it
reached b1 and was sequenced all the same: its retry with the same id is a
duplicate. After healing,
the three converge on one view with every broker a member and (after
--hold-down) an owner. Throughout, across every SSE client: no (channel,
epoch, seq) with two payloads, events of one epoch in order, every
acknowledged publish delivered (but the few b3 acknowledged before its lease
ran out, which the cut kept from the gateway: the asynchronous design's
loss, covered by a reset), and no more resets than the channel had new
epochs (none for channels that never moved, but after a view numbered more
than one above the one before: docs/cluster.md, "Refused campaigns burn
view numbers"; counted and printed).

Mutants: tests/mutation/partition_*.patch. About 12 s under ASan.
"""
import http.client
import ipaddress
import json
import os
import random
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

import zmq

import cluster
import harness as H

TIMEOUT, LEASE, HOLD_DOWN = 1.0, 0.5, 2.0       # --failover-timeout, --lease, --hold-down
IDS = ["b1", "b2", "b3"]
PORTS = (21001, 21011, 21021)   # b_i: publish, router, stream, peer, http from its base
KINDS = ("publish", "router", "stream", "peer")


def _tool(name):
    return shutil.which(name) or next((p for p in ("/usr/sbin/" + name, "/sbin/" + name)
                                       if os.access(p, os.X_OK)), None)


def _run(*argv, stdin=None):
    r = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=10)
    if r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(argv), r.returncode, r.stderr.strip()))
    return r.stdout


class Net:
    """A network namespace for b3, a veth pair to it with a private /29
    (host side: .1 for b1, b2 and the gateway, .3 for the observer; .2 in
    the namespace for b3) and an nftables table (input and output hooks of
    the host) that cuts b3 off. close() removes all of it, even half made."""

    def __init__(self):
        pid = os.getpid()
        self.ns, self.table = "herald-pt-%d" % pid, "herald_pt_%d" % pid
        self.veth = "hpt%dh" % pid          # interface names: 15 characters at most
        self.peer_veth = "hpt%dn" % pid
        self.ip, self.nft = _tool("ip"), _tool("nft")
        net = self._pick()
        self.host, self.b3, self.observer = (str(net[i]) for i in (1, 2, 3))
        try:
            _run(self.ip, "netns", "add", self.ns)
            _run(self.ip, "link", "add", self.veth, "type", "veth", "peer", "name",
                 self.peer_veth, "netns", self.ns)
            for a in (self.host, self.observer):
                _run(self.ip, "addr", "add", "%s/29" % a, "dev", self.veth)
            _run(self.ip, "link", "set", self.veth, "up")
            _run(self.ip, "-n", self.ns, "addr", "add", "%s/29" % self.b3, "dev", self.peer_veth)
            _run(self.ip, "-n", self.ns, "link", "set", self.peer_veth, "up")
            _run(self.ip, "-n", self.ns, "link", "set", "lo", "up")
            _run(*self.wrap(), "true")      # exec in it works (it mounts /sys)
            _run(self.nft, "-f", "-", stdin="table inet %s {\n"
                 " chain input { type filter hook input priority 0; policy accept; }\n"
                 " chain output { type filter hook output priority 0; policy accept; }\n"
                 "}\n" % self.table)
        except BaseException:
            self.close()
            raise

    def _pick(self):
        """A random /29 in 10.200.0.0/13 that no address or route here overlaps."""
        taken = []
        for line in (_run(self.ip, "-4", "-o", "addr") + _run(self.ip, "-4", "route")).splitlines():
            for word in line.split():
                try:
                    taken.append(ipaddress.ip_network(word, strict=False))
                except ValueError:
                    pass
        rnd = random.Random(os.getpid() ^ time.time_ns())
        for _ in range(100):
            net = ipaddress.ip_network("10.%d.%d.%d/29" % (rnd.randrange(200, 208),
                                                           rnd.randrange(256),
                                                           rnd.randrange(32) * 8))
            if not any(net.overlaps(t) for t in taken if t.prefixlen > 0):
                return net
        raise RuntimeError("no free /29 in 10.200.0.0/13")

    def wrap(self):
        """The command prefix that runs a process in b3's namespace."""
        return [self.ip, "netns", "exec", self.ns]

    def cut(self, b3_ports, other_ports, one_way):
        """Both directions: every packet between .1 and .2. One way: only
        the connections .1 opened to b3 (packets to b3's listening ports
        and from them); the packets b3 sends on its own connections to the
        others' ports are counted ("sent"), not dropped."""
        h, n, t = self.host, self.b3, self.table
        if not one_way:
            match_out, match_in = "", ""
        else:
            match_out = match_in = "{ %s }" % ", ".join(str(p) for p in b3_ports)
            match_out, match_in = "tcp dport " + match_out, "tcp sport " + match_in
        rules = ["add rule inet %s output ip saddr %s ip daddr %s %s counter drop comment \"out\""
                 % (t, h, n, match_out),
                 "add rule inet %s input ip saddr %s ip daddr %s %s counter drop comment \"in\""
                 % (t, n, h, match_in),
                 "add rule inet %s input ip saddr %s ip daddr %s tcp dport { %s } counter "
                 "comment \"sent\"" % (t, n, h, ", ".join(str(p) for p in other_ports))]
        _run(self.nft, "-f", "-", stdin="\n".join(rules) + "\n")

    def counters(self):
        """Packets each rule of the cut matched: {"out", "in", "sent"}."""
        table = json.loads(_run(self.nft, "-j", "list", "table", "inet", self.table))
        counts = {}
        for item in table["nftables"]:
            rule = item.get("rule")
            for e in (rule or {}).get("expr", ()):
                if "counter" in e:
                    counts[rule.get("comment")] = e["counter"]["packets"]
        return counts

    def heal(self):
        _run(self.nft, "-f", "-", stdin="flush chain inet %s input\nflush chain inet %s output\n"
             % (self.table, self.table))

    def close(self):
        for argv in ((self.nft, "delete", "table", "inet", self.table),
                     (self.ip, "link", "del", self.veth),
                     (self.ip, "netns", "del", self.ns)):
            subprocess.run(argv, capture_output=True, timeout=10)


def _skip_reason():
    if os.geteuid() != 0:
        return "needs root (network namespaces and nftables)"
    for tool in ("ip", "nft"):
        if not _tool(tool):
            package = {"ip": "iproute2"}.get(tool, "nftables")
            return "needs `%s` (apt-get install %s)" % (tool, package)
    return None


class Publisher(threading.Thread):
    """Acknowledged, idempotent publishes to `channels` in turn, through the
    ROUTERs given in turn, each retried with its key on `unavailable` or
    silence until acknowledged. pause() waits until none is in flight.
    acks: (time acknowledged, channel, data, epoch, seq)."""

    def __init__(self, name, routers, channels, deadline):
        super().__init__(daemon=True, name=name)
        self.routers, self.channels, self.deadline = routers, channels, deadline
        self.acks, self.error, self.n = [], None, 0
        self.lock = threading.Lock()
        self.hold, self.idle, self.done = threading.Event(), threading.Event(), threading.Event()

    def run(self):
        dealers = [H.Zmq(zmq.DEALER, r, linger=0) for r in self.routers]
        rid = 0
        try:
            while not self.done.is_set():
                if self.hold.is_set():
                    self.idle.set()
                    time.sleep(0.01)
                    continue
                self.idle.clear()
                ch = self.channels[self.n % len(self.channels)]
                data = "%s:%s:%d" % (self.name, ch, self.n)
                key = "%s-%d-%d" % (self.name, os.getpid(), self.n)
                self.n += 1
                while True:
                    if time.monotonic() > self.deadline:
                        raise AssertionError("no ack for %s before the test's deadline" % key)
                    rid += 1
                    d = dealers[rid % len(dealers)]
                    d.send({"ch": ch, "data": data, "id": key, "rid": rid})
                    reply = self._reply(d, rid)
                    if reply is None or reply.get("error") == "unavailable":
                        time.sleep(0.02)        # pacing the retry
                        continue
                    assert reply.get("error") is None, reply
                    with self.lock:
                        self.acks.append((time.monotonic(), ch, data, reply["epoch"], reply["seq"]))
                    break
                time.sleep(0.005)               # pacing: about 100 publishes/s
        except BaseException as e:              # reported by the test
            self.error = e
        finally:
            self.idle.set()
            for d in dealers:
                d.close()

    @staticmethod
    def _reply(dealer, rid):
        until = time.monotonic() + 2.0          # a forward waits 1 s at most
        while time.monotonic() < until:
            try:
                r = dealer.recv(max(until - time.monotonic(), 0.01))[0]
            except AssertionError:
                return None
            if r.get("rid") == rid:             # not a late answer to an earlier try
                return r
        return None

    def pause(self, timeout=10.0):
        self.hold.set()
        H.wait_until(lambda: self.idle.is_set() or self.error, timeout, "%s to pause" % self.name)
        self.check()

    def resume(self):
        self.idle.clear()
        self.hold.clear()

    def check(self):
        if self.error:
            raise AssertionError("%s: %r" % (self.name, self.error))

    def snapshot(self):
        with self.lock:
            return list(self.acks)


class Partition(unittest.TestCase):
    def setUp(self):
        reason = _skip_reason()
        if reason:
            self.skipTest(reason)
        try:
            self.net = Net()
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            self.skipTest("cannot make a network namespace here: %s" % e)
        self.addCleanup(self.net.close)         # runs after every process is stopped
        self.deadline = time.monotonic() + 90
        self.dir = tempfile.mkdtemp(prefix="herald-partition-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        hosts = [self.net.host, self.net.host, self.net.b3]
        self.nodes = []
        for b, host, base in zip(IDS, hosts, PORTS):
            node = {k: "tcp://%s:%d" % (host, base + i) for i, k in enumerate(KINDS)}
            node.update(id=b, http="%s:%d" % (host, base + 4))
            self.nodes.append(node)
        self.b3_ports = [PORTS[2] + i for i in range(5)]
        self.other_ports = [base + i for base in PORTS[:2] for i in range(5)]
        self.file = os.path.join(self.dir, "cluster.json")
        with open(self.file, "w") as f:
            json.dump({"brokers": self.nodes}, f)
        self.brokers = []
        for i, b in enumerate(IDS):
            state = os.path.join(self.dir, "state-" + b)
            os.makedirs(state)
            broker = cluster.Broker("broker", ["--cluster", self.file, "--id", b, "--state-dir",
                                               state, "--insecure", "--replication", "async",
                                               "--failover-timeout", "1s",
                                               "--lease", "500ms", "--hold-down", "2s"],
                                    wrap=self.net.wrap() if b == "b3" else ())
            self._own(broker)
            self.brokers.append(broker)
        self.gateway = H.Herald("gateway", ["--cluster", self.file])
        self._own(self.gateway)
        # The observer's way to b3: from the host side's uncut address
        self.b3_router = "tcp://%s:0;%s:%d" % (self.net.observer, self.net.b3, PORTS[2] + 1)
        H.wait_until(lambda: all(self.get(i, "/readyz")[0] == 200 for i in range(3))
                     and H.http("GET", self.gateway.http + "/readyz").status == 200,
                     30, "every broker and the gateway ready", interval=0.05)
        self.wait_whole("start-up", 30)
        self.start_view = self.views()[0]["view"]["number"]
        self.addCleanup(lambda: print("views installed (- without b3 as an owner):",
                                      self.installs()))

    def installs(self):
        """Each broker's installed views from its log, for the report:
        "b1 1 2 3+ 4..." (a number missing: installed from a later view's
        heartbeat, skipping it)."""
        out = []
        for b, broker in zip(IDS, self.brokers):
            views = [e for e in broker.logs() if e.get("msg") == "view installed"]
            out.append("%s: %s" % (b, " ".join("%s%s" % (e["number"], "" if "b3" in e["owners"]
                                                           else "-") for e in views)))
        return "; ".join(out)

    def gaps(self, i):
        """How often broker i installed a view numbered more than one above
        the one before, since start-up: each such view gives every channel
        a new epoch (docs/cluster.md, "A known limit")."""
        numbers = [int(e["number"]) for e in self.brokers[i].logs()
                   if e.get("msg") == "view installed" and int(e["number"]) >= self.start_view]
        return sum(b > a + 1 for a, b in zip(numbers, numbers[1:]))

    def _own(self, process):
        self.addCleanup(process.kill)
        self.addCleanup(lambda: process.running() and process.stop())

    def get(self, i, path):
        """GET on broker i's --http; b3's from the observer's address.
        Returns (status, parsed JSON or None)."""
        host, port = self.nodes[i]["http"].rsplit(":", 1)
        source = (self.net.observer, 0) if i == 2 else None
        conn = http.client.HTTPConnection(host, int(port), timeout=3, source_address=source)
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            body = r.read()
            try:
                return r.status, json.loads(body)
            except ValueError:
                return r.status, None
        finally:
            conn.close()

    def views(self):
        return [self.get(i, "/v1/cluster")[1] for i in range(3)]

    def wait_whole(self, what, timeout):
        """Until b1, b2 and b3 have installed one view, every broker a
        member and an owner, each holding its lease. Returns the seconds."""
        started = time.monotonic()

        def whole():
            vs = self.views()
            return all(v["view"]["number"] == vs[0]["view"]["number"] and v["lease"]
                       and v["view"]["members"] == IDS and v["view"]["owners"] == IDS
                       for v in vs)
        H.wait_until(whole, timeout, "one view of b1, b2, b3, all owners, on each (%s)" % what,
                     interval=0.05)
        return time.monotonic() - started

    # ------------------------------------------------------------ the workload

    def probe(self, channel):
        """One publish of `channel` to b3's ROUTER from the observer's
        address, a fresh key each: (sent, answered, reply, channel)."""
        self.n += 1
        sent = time.monotonic()
        self.observer.send({"ch": channel, "data": "probe:%d" % self.n, "rid": self.n,
                            "id": "probe-%d-%d" % (os.getpid(), self.n)})
        while True:
            r = self.observer.recv(3.0)[0]
            if r.get("rid") == self.n:
                return sent, time.monotonic(), r, channel

    def probe_ack(self, answer):
        _, _, r, ch = answer
        self.probe_acks.append((ch, "probe:%d" % r["rid"], r["epoch"], r["seq"]))

    def probe_until_acked(self, ch, timeout=10.0):
        """b3 sequences ch (past its fence, holding its lease)."""
        def once():
            answer = self.probe(ch)
            assert answer[2].get("error") in (None, "unavailable"), answer
            if answer[2].get("error") is None:
                self.probe_ack(answer)
                return True
            return False
        H.wait_until(once, timeout, "an ack of %s through b3" % ch, interval=0.02)

    def acks(self):
        """Every acknowledged publish: (channel, data, epoch, seq)."""
        out = list(self.probe_acks)
        for p in self.pubs:
            out += [(ch, data, e, s) for _, ch, data, e, s in p.snapshot()]
        return out

    def published(self, what):
        """Until every channel of the publishers is acknowledged from now."""
        since = time.monotonic()

        def each():
            for p in self.pubs:
                p.check()
            return all(any(a[0] > since and a[1] == ch for a in p.snapshot())
                       for p in self.pubs for ch in p.channels)
        H.wait_until(each, 15, "an ack of every channel (%s)" % what, interval=0.02)

    def quiesce(self, what):
        """Publishers paused; every client has every acknowledged event
        (but those exempt: b3's in its last lease)."""
        for p in self.pubs:
            p.pause()
        acks = [a for a in self.acks() if (a[0], a[2], a[3]) not in self.exempt]

        def delivered():
            for ch, c in self.clients:
                got = self.delivered(c)
                if any((a[0], a[2], a[3]) not in got for a in acks if ch in (None, a[0])):
                    return False
            return True
        H.wait_until(delivered, 15, "every client to get every ack (%s)" % what, interval=0.05)

    @staticmethod
    def delivered(client):
        with client.cond:
            return {(e.json["channel"], e.json["epoch"], e.json["seq"])
                    for e in client.events if e.type == "message"}

    # ------------------------------------------------------------ the test

    def test_cut_off_both_ways_then_one_way(self):
        order = lambda ch: H.rendezvous_order(IDS, ch)[0]
        names = ["pt%d" % n for n in range(200)]
        self.kept = [ch for ch in names if order(ch) == "b1"][:2] + \
            [ch for ch in names if order(ch) == "b2"][:2]
        self.moved = [ch for ch in names if order(ch) == "b3"][:3]
        self.probes = [ch for ch in ("probe%d" % n for n in range(100)) if order(ch) == "b3"][:2]
        every = self.kept + self.moved + self.probes
        # One SSE client per channel, one for all of them
        self.clients = [(ch, H.subscribed(self, self.gateway.http, [ch])) for ch in every]
        self.clients.append((None, H.subscribed(self, self.gateway.http, every)))
        self.observer = H.Zmq(zmq.DEALER, self.b3_router, linger=0)
        self.addCleanup(self.observer.close)
        self.n, self.probe_acks, self.exempt = 0, [], set()
        for ch in self.probes:
            self.probe_until_acked(ch)
        routers = [self.nodes[i]["router"] for i in (0, 1)]
        self.pubs = [Publisher("kept", routers, self.kept, self.deadline),
                     Publisher("moved", routers, self.moved, self.deadline)]
        for p in self.pubs:
            p.start()
            self.addCleanup(p.done.set)

        for phase in ("both ways", "one way"):
            self.published("before the cut %s" % phase)
            self.quiesce("before the cut %s" % phase)
            self.cut_off(phase)
            for ch in self.probes:          # b3 sequences again
                self.probe_until_acked(ch)

        self.published("after healing")     # b3 owns its channels again
        self.quiesce("the end")
        for p in self.pubs:
            p.done.set()
            p.join(10)
            p.check()
        self.check_clients(order)

    def cut_off(self, phase):
        """Cuts b3 off (publishers paused, every ack delivered), checks what
        b3 and the majority do, heals, and waits for one whole view."""
        before = {}         # moved channel -> its newest epoch before the cut
        for ch, _, e, _ in self.acks():
            if ch in self.moved and H.epoch_generation(e) > H.epoch_generation(before.get(ch)):
                before[ch] = e
        kept_from = len(self.pubs[0].snapshot())
        view = self.views()[0]["view"]["number"]
        # A client on b3's side publishes b1's channel through b3, which
        # forwards it and waits a second for the answer
        forwarded = H.Zmq(zmq.DEALER, self.b3_router, linger=0)
        self.addCleanup(forwarded.close)
        key = "fwd-%d-%s" % (os.getpid(), phase.replace(" ", "-"))
        self.net.cut(self.b3_ports, self.other_ports, phase == "one way")
        cut = time.monotonic()
        forwarded.send({"ch": self.kept[0], "data": key, "id": key, "rid": 1})
        for p in self.pubs:
            p.resume()
        answers = []        # b3's answers to the observer's publishes
        new_epoch_at = {}   # moved channel -> its first ack in a newer epoch, after the cut
        why = [None]

        def settled():
            for p in self.pubs:
                p.check()
            for t, ch, _, e, _ in self.pubs[1].snapshot():
                newer = H.epoch_generation(e) > H.epoch_generation(before[ch])
                if ch not in new_epoch_at and newer:
                    new_epoch_at[ch] = t - cut
            answers.append(self.probe(self.probes[self.n % len(self.probes)]))
            sent, _, r, _ = answers[-1]
            # Sent once b3's lease ran out (the last ack it got was for a
            # heartbeat stamped before the cut; its clock is ours): it must
            # not be sequenced
            self.assertFalse(r.get("error") is None and sent >= cut + LEASE + 0.01,
                             "b3 acknowledged a publish sent %.2f s after the cut, past its "
                             "lease: %r" % (sent - cut, r))
            last_ack = max((a[1] for a in answers if a[2].get("error") is None), default=cut)
            refused = [a for a in answers if a[2].get("error") == "unavailable"]
            if not refused or time.monotonic() - max(last_ack, refused[0][1]) < 1.0:
                why[0] = "b3 has not refused its channels' publishes for a second"
                return False
            majority = [self.get(i, "/v1/cluster")[1] for i in (0, 1)]
            if not all(v["view"]["members"] == ["b1", "b2"] for v in majority):
                why[0] = "b1 and b2 have not installed a view without b3: %s" % (
                    [v["view"] for v in majority],)
                return False
            if len(new_epoch_at) < len(self.moved):
                why[0] = "b3's channels acknowledged in a new epoch: only %s" % new_epoch_at
                return False
            b3 = self.get(2, "/v1/cluster")[1]
            if b3["lease"] or any(b["up"] for b in b3["brokers"][:2]):
                why[0] = "b3 still holds its lease or hears b1 or b2: %s" % b3
                return False
            return majority
        try:
            majority = H.wait_until(settled, 10, "the cut", interval=0.02)
        except AssertionError:
            self.fail("the cut %s, 10 s on: %s" % (phase, why[0]))
        took = time.monotonic() - cut
        counters = self.net.counters()

        # b3: acknowledged only within its lease, then refused within about
        # a second of the cut, and never acknowledged again
        acked = [a for a in answers if a[2].get("error") is None]
        for a in acked:
            self.probe_ack(a)
            self.exempt.add((a[3], a[2]["epoch"], a[2]["seq"]))
        first_refusal = next(a for a in answers if a[2].get("error") == "unavailable")[1] - cut
        self.assertLess(first_refusal, LEASE + 1.0)
        self.assertFalse([a for a in acked if a[0] > cut + first_refusal], "an ack after a refusal")
        # The forward: unavailable (no answer came back), yet sequenced by
        # b1 when it got there (one way); the retry with its key says so
        r = forwarded.recv(3.0)[0]
        self.assertEqual(r.get("error"), "unavailable", r)
        retry = H.Zmq(zmq.DEALER, self.nodes[0]["router"], linger=0)
        self.addCleanup(retry.close)
        rid = [1]

        def retried():
            rid[0] += 1
            reply = retry.request({"ch": self.kept[0], "data": key, "id": key, "rid": rid[0]},
                                  timeout=3.0)
            self.assertIn(reply.get("error"), (None, "unavailable"), reply)
            return reply if reply.get("error") is None else None
        r = H.wait_until(retried, 5, "the forwarded publish's retry acknowledged", interval=0.02)
        self.assertEqual(r["dup"], phase == "one way", r)
        self.probe_acks.append((self.kept[0], key, r["epoch"], r["seq"]))
        # The majority: a view without b3, b3's channels in new epochs,
        # their own channels without a pause
        self.assertGreater(majority[0]["view"]["number"], view)
        self.assertLess(max(new_epoch_at.values()), TIMEOUT + 2.5, new_epoch_at)
        kept_times = [cut] + [a[0] for a in self.pubs[0].snapshot()[kept_from:]]
        gap = max(b - a for a, b in zip(kept_times, kept_times[1:]))
        self.assertLess(gap, 1.5, "the majority's own channels paused")
        # The cut took effect: packets dropped both ways; one way, b3 still
        # sent to the others on its own connections (heard, not alive)
        self.assertTrue(counters["out"] and counters["in"], counters)
        self.assertEqual(bool(counters["sent"]), phase == "one way", counters)

        self.net.heal()
        whole = self.wait_whole("healed after the cut %s" % phase, 30)
        print("cut %s: b3 refused %.2f s after the cut (%d acks before, %d refusals); "
              "b3's channels acknowledged in new epochs after %s s; majority's own channels' "
              "longest gap %.2f s; settled %.2f s; one whole view %.2f s after healing "
              "(packets matched: %s)"
              % (phase, first_refusal, len(acked), len(answers) - len(acked),
                 sorted("%.2f" % t for t in new_epoch_at.values()), gap, took, whole, counters))

    def check_clients(self, order):
        """Across every client: one payload per (channel, epoch, seq), each
        epoch in order, no more resets than new epochs (none for channels
        that never moved, but for gaps in view numbers)."""
        acks = self.acks()
        payload = {}
        for ch, data, e, s in acks:
            self.assertEqual(payload.setdefault((ch, e, s), data), data,
                             "two acks for %r" % ((ch, e, s),))
        epochs = {ch: {a[2] for a in acks if a[0] == ch}
                  for ch in self.kept + self.moved + self.probes}
        resets_of = {}
        for sub, c in self.clients:
            with c.cond:
                events = list(c.events)
            for ch in ([sub] if sub else epochs):
                msgs = [e.json for e in events if e.type == "message" and e.json["channel"] == ch]
                resets = [e.json for e in events if e.type == "herald-reset"
                          and e.json["channel"] == ch]
                resets_of.setdefault(ch, len(resets))
                last = {}
                for m in msgs:
                    k = (ch, m["epoch"], m["seq"])
                    self.assertEqual(payload.setdefault(k, m["data"]), m["data"],
                                     "two payloads for %r" % (k,))
                    self.assertGreater(m["seq"], last.get(m["epoch"], 0), "out of order: %r" % m)
                    last[m["epoch"]] = m["seq"]
                self.assertLessEqual(len(resets), len(epochs[ch]) - 1,
                                     "%s: %d resets, %d epochs: %s" % (ch, len(resets),
                                                                       len(epochs[ch]), resets))
                if ch in self.kept:     # none, but for the known limit
                    self.assertLessEqual(len(resets), self.gaps(IDS.index(order(ch))),
                                         "%s: %s" % (ch, resets))
        print("views installed more than one above the one before (every channel reset): %s"
              % [self.gaps(i) for i in range(3)])
        print("acks %d (kept %d, moved %d, probes %d); b3's acks in its last lease %d, %d of them "
              "delivered; epochs per moved channel %s, resets %s"
              % (len(acks), len(self.pubs[0].acks), len(self.pubs[1].acks), len(self.probe_acks),
                 len(self.exempt), len(self.exempt & self.delivered(self.clients[-1][1])),
                 [len(epochs[ch]) for ch in self.moved], [resets_of[ch] for ch in self.moved]))


if __name__ == "__main__":
    unittest.main()
