"""Zero-reset failover, a one-way cut between an owner and its backup
(docs/cluster.md, "Zero-reset failover", row "one-way partition owner ->
backup": no reset while the view holds, never a silent gap; with
--min-replicas 1 a pause of at most the validity bound, --failover-timeout
+ --lease + 2 s, then publishing goes on). Needs root, `ip netns` and
`nft`; skipped otherwise (the network namespace and nftables table of
test_cluster_partition.Net). Labels: integration, cluster.

3 brokers with --replication sync: b1 and b2 on the host side, b3 in the
namespace (tcp on a private /29); one gateway on the host side with SSE and
WebSocket clients; every kind of publisher through b2 and the gateway
(failover.Traffic; not through b1: its forwards to b3 are answered on the
connection cut, so they would time out whatever replication does). The channels b3 owns with b1 as their backup are the
cut ones: an nftables rule drops every packet of the connections b3 opens
to b1's peer endpoint, which carry everything b3 sends b1 (replication
frames, heartbeats); b1 still sends b3 everything (acks included) on its
own connection, and b3 still talks to b2, the gateway to b3. After the
cut, publishing to the cut channels pauses at most the validity bound
(with --min-replicas 1 b3 then goes on without b1). Then either
- the cut is healed, b1 is brought in sync again, and b3 is SIGKILLed: no
  client gets a gap, every ack is delivered once at its (epoch, seq), and
  no reset, one epoch per channel, unless the view without b3 skipped a
  number on the broker that installed it (b3's campaigns, refused during
  the cut, spend numbers; such a view gives its broker's channels new
  epochs, docs/cluster.md): then resets to epochs of that view only,
  printed; or
- b3 is SIGKILLed during the cut, after it went on alone: b1 must not
  continue the cut channels' epoch (it misses what b3 published alone):
  exactly one reset per client there, never a silent gap, none elsewhere
  (b2 held b3's other channel in sync).
With --min-replicas 2 the cut channels are answered `unavailable` past the
validity bound, nothing sent to them after the cut is acknowledged until
it is healed, and the other channels go on.
Everywhere: no (epoch, seq) with two payloads."""
import json
import os
import shutil
import subprocess
import tempfile
import time
import types
import unittest

import cluster
import failover as F
import harness as H
from test_cluster_partition import KINDS, Net, _run, _skip_reason

IDS = ["b1", "b2", "b3"]
PORTS = (23001, 23011, 23021)   # b_i: publish, router, stream, peer, http from its base
VALIDITY = 1.0 + 0.5 + 2.0
SLACK = 0.5


class SyncPartition(unittest.TestCase):
    def start(self, min_replicas=1):
        reason = _skip_reason()
        if reason:
            self.skipTest(reason)
        try:
            self.net = Net()
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            self.skipTest("cannot make a network namespace here: %s" % e)
        self.addCleanup(self.net.close)         # runs after every process is stopped
        self.dir = tempfile.mkdtemp(prefix="herald-sync-partition-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        hosts = [self.net.host, self.net.host, self.net.b3]
        nodes = []
        for b, host, base in zip(IDS, hosts, PORTS):
            node = {k: "tcp://%s:%d" % (host, base + i) for i, k in enumerate(KINDS)}
            node.update(id=b, http="%s:%d" % (host, base + 4))
            nodes.append(node)
        path = os.path.join(self.dir, "cluster.json")
        with open(path, "w") as f:
            json.dump({"brokers": nodes}, f)
        self.brokers = []
        for b in IDS:
            state = os.path.join(self.dir, "state-" + b)
            os.makedirs(state)
            broker = cluster.Broker("broker", ["--cluster", path, "--id", b, "--state-dir", state,
                                               "--insecure"]
                                    + F.broker_args(min_replicas=min_replicas),
                                    wrap=self.net.wrap() if b == "b3" else ())
            self._own(broker)
            self.brokers.append(broker)
        gateway = H.Herald("gateway", ["--cluster", path])
        self._own(gateway)
        # What failover.Traffic and failover.clients use of a cluster.Cluster
        self.c = types.SimpleNamespace(endpoints=nodes, gateways=[gateway])
        H.wait_until(lambda: all(H.http("GET", "http://%s/readyz" % n["http"]).status == 200
                                 for n in nodes)
                     and H.http("GET", gateway.http + "/readyz").status == 200,
                     30, "every broker and the gateway ready", interval=0.05)
        H.wait_until(self.whole, 30, "one view of b1, b2, b3, all owners, on each",
                     interval=0.05)

    def _own(self, process):
        self.addCleanup(process.kill)
        self.addCleanup(lambda: process.running() and process.stop())

    def view(self, i):
        return H.http("GET", "http://%s/v1/cluster" % self.c.endpoints[i]["http"]).json

    def whole(self):
        views = [self.view(i) for i in range(3)]
        return all(v["view"] == views[0]["view"] and v["view"]["owners"] == IDS
                   for v in views)

    def cut(self):
        """Every packet of the connections b3 opened to b1's peer endpoint."""
        peer = PORTS[0] + KINDS.index("peer")
        n, t = self.net, self.net.table
        _run(n.nft, "-f", "-", stdin=(
            "add rule inet %s input ip saddr %s ip daddr %s tcp dport %d drop\n"
            "add rule inet %s output ip saddr %s ip daddr %s tcp sport %d drop\n"
            % (t, n.b3, n.host, peer, t, n.host, n.b3, peer)))

    def channels(self):
        """The cut channels (b3 owns them, b1 backs them), and others: b3
        owns one with b2 as its backup, b1 and b2 the rest, none backed by
        b3 if b1 owns it (b3's acks to b1 go on the cut connection too)."""
        order = {ch: H.rendezvous_order(IDS, ch) for ch in ("w%d" % n for n in range(400))}
        cut = [ch for ch in order if order[ch][:2] == ["b3", "b1"]][:2]
        b2 = [ch for ch in order if order[ch][:2] == ["b3", "b2"]][:1]
        other = [ch for ch in order if order[ch][0] != "b3" and order[ch][:2] != ["b1", "b3"]][:2]
        return cut, b2, other

    def cut_until_published(self, traffic, chans):
        """Cuts, then waits until every channel was acknowledged again;
        returns the seconds from the cut to each channel's first ack."""
        self.cut()
        started = time.monotonic()
        traffic.wait_acked(chans, 10, started, timeout=30, what="during the cut")
        resumed = traffic.resumed(chans, started)
        views = [self.view(i)["view"] for i in range(3)]
        print("\nsync partition: first ack after the cut %s; views during it %s; "
              "unavailable %d" % ({ch: round(s, 2) for ch, s in resumed.items()},
                                  [(v["number"], v["owners"]) for v in views],
                                  len(traffic.refused())))
        return resumed

    def test_one_way_cut_owner_to_backup_no_reset_and_a_bounded_pause(self):
        self.start()
        cut, b2, other = self.channels()
        chans = cut + b2 + other
        received = F.clients(self, self.c, chans)
        traffic = F.Traffic(self, self.c, chans, via=(1,), rate=10.0).start()
        traffic.wait_acked(chans, 10, 0, what="before the cut")
        resumed = self.cut_until_published(traffic, chans)
        self.net.heal()
        healed = time.monotonic()
        H.wait_until(self.whole, 30, "one view of all three again", interval=0.05)
        traffic.wait_acked(chans, 10, healed, timeout=30, what="after healing")
        # b1 back in sync with b3's channels: b3's crash now costs nothing
        b3 = "http://%s" % self.c.endpoints[2]["http"]
        H.wait_until(lambda: H.metric(b3, 'herald_sync_channels{backup="unsynced"}') == 0,
                     20, "every channel of b3 in sync with its backup", interval=0.05)
        self.brokers[2].kill()
        traffic.wait_acked(chans, 10, time.monotonic(), timeout=30, what="after b3's kill")
        # b3's campaigns refused during the cut spent view numbers: a view
        # that skips them gives its broker's channels new epochs (the table)
        skips = F.skipped(self.brokers)
        print("views that skipped a number: %d %s" % (len(skips), skips))
        problems = F.check(traffic, received, resets={ch: F.made_in(skips) for ch in chans})
        F.assert_none(self, problems, self.brokers, IDS)
        for ch in cut:
            self.assertLessEqual(resumed[ch], VALIDITY + SLACK, ch)
        for ch in chans:        # later epochs only where a reset was allowed
            epochs = sorted({a[3] for a in traffic.acks(ch)}, key=F.epoch_view)
            self.assertEqual([e for e in epochs[1:] if not F.made_in(skips)(e)], [], ch)

    def test_owner_gone_on_alone_then_killed_one_reset_never_a_gap(self):
        self.start()
        cut, b2, other = self.channels()
        chans = cut + b2 + other
        received = F.clients(self, self.c, chans)
        traffic = F.Traffic(self, self.c, chans, via=(1,), rate=10.0).start()
        traffic.wait_acked(chans, 10, 0, what="before the cut")
        self.cut_until_published(traffic, chans)
        # b3 published the cut channels without b1 (its validity ran out):
        # b1, taking them over, must not continue their epoch
        self.brokers[2].kill()
        traffic.wait_acked(chans, 10, time.monotonic(), timeout=30, what="after b3's kill")
        problems = F.check(traffic, received, resets={ch: 1 for ch in cut})
        F.assert_none(self, problems, self.brokers, IDS)
        for ch in b2 + other:
            self.assertEqual(len({a[3] for a in traffic.acks(ch)}), 1, ch)

    def test_one_way_cut_with_min_replicas_2_unavailable_until_healed(self):
        self.start(min_replicas=2)
        cut, b2, other = self.channels()
        chans = cut + b2 + other
        received = F.clients(self, self.c, chans)
        traffic = F.Traffic(self, self.c, chans, via=(1,), rate=10.0).start()
        traffic.wait_acked(chans, 10, 0, what="before the cut")
        traffic.tolerate(cut, 240)  # no ack for them until healed, by design
        self.cut()
        started = time.monotonic()
        # Still refused past the validity bound, where min 1 would go on
        try:
            H.wait_until(lambda: traffic.check_alive() or any(
                r > started + VALIDITY + SLACK for r in traffic.refused(cut)), 30,
                "`unavailable` for a cut channel past the validity bound", interval=0.05)
        except AssertionError as e:
            raise AssertionError("%s: %d unavailable, %d unanswered tries, %d acks since the cut"
                                 % (e, len(traffic.refused(cut)),
                                    len(traffic.refused(cut, silent=True)),
                                    len([a for ch in cut for a in traffic.acks(ch)
                                         if a[4] > started])))
        traffic.wait_acked(b2 + other, 10, started, timeout=30, what="the others, during the cut")
        self.net.heal()
        healed = time.monotonic()
        early = [a for ch in cut for a in traffic.acks(ch) if started + 0.2 < a[4] and
                 a[5] < healed]
        traffic.wait_acked(chans, 10, healed, timeout=30, what="after healing")
        print("\nsync partition min 2: %d unavailable answers for the cut channels; "
              "first ack after healing %s" % (len(traffic.refused(cut)), {
                  ch: round(s, 2) for ch, s in traffic.resumed(cut, healed).items()}))
        problems = F.check(traffic, received)
        F.assert_none(self, problems, self.brokers, IDS)
        self.assertEqual(early, [], "cut channels acknowledged with no backup in sync")
        for ch in chans:
            self.assertEqual(len({a[3] for a in traffic.acks(ch)}), 1, ch)


if __name__ == "__main__":
    unittest.main()
