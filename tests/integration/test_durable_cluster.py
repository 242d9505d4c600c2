"""Durable history in a cluster (docs/cluster.md, "Durable history in a
cluster"): each broker with its own --data-dir and --state-dir.

- The whole cluster stopped at once (SIGINT) and started again, with
  --replication sync and async: every channel goes on in its epoch; an SSE
  client that stayed on the gateway and one resuming from a cursor taken
  before the stop get no reset, no gap, no duplicate; every broker's history
  holds every acknowledged publish at its (epoch, seq); keys are dups;
  publishing goes on at head + 1.
- The whole cluster SIGKILLed under load with --fsync always: the same, and
  no (channel, epoch, seq) ever carried two payloads, in what any client or
  any broker's history showed before and after.
- One broker SIGKILLed while the others go on: they take its channels over
  with their epochs; it comes back on its old directory, drops what it
  stored of them and gets them back by handoff: no reset, no (epoch, seq)
  twice, even for publishes sent straight to it as it comes back.
- One broker SIGKILLed and started again before --failover-timeout: the
  view stays, its channels go on in their epochs, keys are dups.
- A broker whose store is not in step with its saved view (a single
  broker's data directory) keeps nothing and logs so: no foreign epoch.

Labels: integration, cluster."""
import collections
import os
import shutil
import signal
import tempfile
import time
import unittest

import zmq

import cluster
import failover as F
import harness as H

IDS = ("b1", "b2", "b3")
NOT_IN_STEP = "history: the store is not in step with the saved view"
KEPT = "history: kept the channels owned in the saved view"


class DurableCluster(cluster.Cluster):
    """A cluster.Cluster whose broker i also gets --data-dir DIR/data-bI,
    kept across its restarts as its --state-dir is."""

    def data_dir(self, i):
        return os.path.join(self.dir, "data-" + self.ids[i])

    def start_broker(self, i):
        state = os.path.join(self.dir, "state-" + self.ids[i])
        os.makedirs(state, exist_ok=True)
        broker = cluster.Broker("broker", ["--cluster", self.file, "--id", self.ids[i],
                                           "--state-dir", state, "--http", "127.0.0.1:0",
                                           "--data-dir", self.data_dir(i)]
                                + self.broker_args)
        self._own(broker)
        return broker

    def halt(self, signo, which=None):
        """Signals the brokers `which` (indexes; all) at once, then waits for
        each to exit. SIGINT (stop at once, a clean store): exit 0 and no
        sanitizer report, checked."""
        which = range(len(self.brokers)) if which is None else which
        procs = [self.brokers[i] for i in which]
        for p in procs:
            p.send_signal(signo)
        for p in procs:
            if signo == signal.SIGKILL:
                p.kill()
                p.returncode = p.proc.returncode
            else:
                p.stop(timeout=15, signo=signo)     # already signalled: waits and checks

    def restart(self, which=None):
        """Starts the brokers `which` (all) again on their directories."""
        which = range(len(self.brokers)) if which is None else which
        for i in which:
            self.brokers[i] = self.start_broker(i)
        self.wait_ready()

    def wait_ready(self, timeout=30.0):
        """cluster.Cluster.wait_ready, failing at once, with what it
        logged, when a broker exited."""
        def ready():
            for b, p in zip(self.ids, self.brokers):
                if p.proc.poll() is not None:
                    raise AssertionError("%s exited %s:\n%s\n%s" % (
                        b, p.proc.returncode, "\n".join(p.stderr_lines()[-5:]), self.story()))
            return all(up(p) for p in self.brokers + self.gateways if p.running())

        def up(p):
            try:
                return H.http("GET", p.http + "/readyz").status == 200
            except OSError:         # it died since: the next round says how
                return False
        H.wait_until(ready, timeout, "every broker and gateway ready (/readyz)", interval=0.05)

    def history(self, i, channel):
        """Every event broker i answers for channel (ROUTER op history: its
        store as owner, its replica otherwise): (header, [event])."""
        dealer = H.Zmq(zmq.DEALER, self.endpoints[i]["router"], linger=0)
        events, header = [], None
        try:
            while True:
                dealer.send({"op": "history", "ch": channel, "limit": 1000, "rid": 7,
                             "since": events[-1]["seq"] if events else 0})
                frames = dealer.recv(10)
                header = frames[0]
                assert "error" not in header and header["rid"] == 7, header
                events += frames[1:]
                if len(frames) == 1 or events[-1]["seq"] >= header["head"]:
                    return header, events
        finally:
            dealer.close()

    def story(self):
        """What each broker's process logged of views and its store: for
        failure messages."""
        lines = []
        for b, p in zip(self.ids, self.brokers):
            for e in p.logs():
                m = e.get("msg", "")
                if m.startswith(("view", "history", "cluster", "took over", "hand")) \
                        or e.get("level") in ("warn", "error"):
                    lines.append("%s: %s" % (b, {k: v for k, v in e.items() if k != "ts"}))
            lines.append("%s: last: %s" % (b, p.stderr_lines()[-3:]))
        return "\n".join(lines[-60:])

    def log(self, i, msg):
        return [e for e in self.brokers[i].logs() if e.get("msg", "").startswith(msg)]


def owned_by(owner, n, prefix):
    """n channel names whose owner (all three brokers owners) is `owner`."""
    names = ("%s%d" % (prefix, k) for k in range(10000))
    return [ch for ch in names if H.rendezvous_order(list(IDS), ch)[0] == owner][:n]


def epochs(acks):
    """{channel: set of epochs} of acks [(channel, data, seq, epoch, ...)]."""
    out = collections.defaultdict(set)
    for a in acks:
        out[a[0]].add(a[3])
    return out


class DurableClusterTest(unittest.TestCase):
    def keys_are_dups(self, c, acks, via=(0, 1, 2)):
        """Every acknowledged key sent again is a dup with its first (seq,
        epoch); acks [(channel, data, seq, epoch, ..., key)]."""
        dealers = [H.dealer(self, c.endpoints[i]["router"]) for i in via]
        for n, a in enumerate(acks):
            ch, seq, epoch, key = a[0], a[2], a[3], a[-1]
            reply = dealers[n % len(dealers)].request({"ch": ch, "data": "again", "id": key,
                                                       "rid": n + 1}, timeout=10)
            self.assertEqual((reply.get("rid"), reply.get("dup"), reply.get("seq"),
                              reply.get("epoch")), (n + 1, True, seq, epoch),
                             "key %s of %s: %s" % (key, ch, reply))

    def traffic_kept_everything(self, c, traffic, received, seen=(), dups=True):
        """What every traffic test checks at its end: no reset, gap or
        duplicate at the clients, every ack delivered at its (epoch, seq);
        one epoch per channel; every ack in every broker's history; no
        (epoch, seq) with two payloads among clients, histories and `seen`;
        (dups) every key answered as a repeat. Returns the acks."""
        problems = F.check(traffic, received)
        F.assert_none(self, problems and problems + [c.story()], c.brokers, c.ids)
        acks = [a + ("%s-%s" % (a[1], stamp(traffic)),) for a in traffic.acks()]
        for ch, es in epochs(acks).items():
            self.assertEqual(len(es), 1, "%s in %d epochs" % (ch, len(es)))
        histories = self.history_holds(c, acks)
        self.no_two_payloads(list(seen) + [self.of_clients(received),
                                           self.of_histories(histories)])
        if dups:
            self.keys_are_dups(c, acks)
        return acks

    def history_holds(self, c, acks, which=(0, 1, 2), timeout=20.0):
        """Every broker's history (its replicas too, once caught up) holds
        every ack at its (epoch, seq) with its payload; returns the
        histories {(i, channel): events}."""
        want = collections.defaultdict(dict)
        for a in acks:
            want[a[0]][(a[3], a[2])] = a[1]
        got = {}

        def holds(i, ch):
            _, events = c.history(i, ch)
            got[(i, ch)] = events
            have = {(e["epoch"], e["seq"]): e["data"] for e in events}
            return all(have.get(k) == d for k, d in want[ch].items())
        for i in which:
            for ch in want:
                try:
                    H.wait_until(lambda: holds(i, ch), timeout, "b%d's history of %s" % (i + 1, ch),
                                 interval=0.1)
                except AssertionError:
                    have = {(e["epoch"], e["seq"]): e["data"] for e in got[(i, ch)]}
                    missing = [(k, d) for k, d in want[ch].items() if have.get(k) != d]
                    self.fail("b%d's history of %s lacks %d acks: %s (it has %d events)"
                              % (i + 1, ch, len(missing), missing[:3], len(have)))
        return got

    def no_two_payloads(self, sources):
        """sources: iterables of (channel, epoch, seq, data): no (channel,
        epoch, seq) with two payloads among all of them."""
        seen, problems = {}, []
        for source in sources:
            for ch, epoch, seq, data in source:
                if seen.setdefault((ch, epoch, seq), data) != data:
                    problems.append("%s (%s, %d): %r and %r" % (ch, epoch, seq,
                                                                seen[(ch, epoch, seq)], data))
        self.assertEqual(problems, [], "(epoch, seq) with two payloads")
        return seen

    @staticmethod
    def of_clients(received):
        return [(i[1], i[2], i[3], i[4]) for r in received for i in r.update().items
                if i[0] == "event"]

    @staticmethod
    def of_histories(histories):
        return [(ch, e["epoch"], e["seq"], e["data"])
                for (_, ch), events in histories.items() for e in events]

    def kept_logged(self, c, which=(0, 1, 2)):
        """Each broker of `which` logged that it kept its channels, dropping
        none (a whole cluster restart on the directories of the view)."""
        for i in which:
            kept = c.log(i, KEPT)
            self.assertEqual(len(kept), 1, "b%d: %s" % (i + 1, c.brokers[i].stderr()[-3000:]))
            self.assertEqual(kept[0].get("dropped"), "0", kept[0])
            self.assertEqual(c.log(i, NOT_IN_STEP), [])

    # ---------------------------------------------------------------- 1, 6

    def whole_cluster_stopped(self, replication):
        c = DurableCluster(self, brokers=3, gateways=1, broker_args=[
            "--replication", replication, "--failover-timeout", "1s", "--lease", "500ms"])
        c.wait_sequencing()
        for i in range(3):      # --data-dir with --cluster: taken, and said where
            self.assertTrue(any(e.get("kept", "").startswith(c.data_dir(i) + ":")
                                for e in c.log(i, "history")), c.story())
        chans = [ch for b in IDS for ch in owned_by(b, 2, "w")]
        gateway = c.gateways[0].http
        live = H.subscribed(self, gateway, chans)
        acks, n = [], [0]

        def publish_round():
            for ch in chans:
                n[0] += 1
                data, key = "d%d" % n[0], "k%d" % n[0]
                a = c.acked(n[0] % 3, ch, data, key=key)
                self.assertFalse(a.get("dup"), a)
                acks.append((ch, data, a["seq"], a["epoch"], key))
        publish_round()
        live.wait_events(len(acks), 10)
        mid = live.last_id
        publish_round()
        live.wait_events(len(acks), 10)
        before = {ch: c.history(0, ch) for ch in chans}

        c.halt(signal.SIGINT)
        c.restart()
        c.wait_sequencing(timeout=20)
        self.kept_logged(c)
        self.history_holds(c, acks)
        after = {ch: c.history(0, ch) for ch in chans}
        for ch in chans:
            self.assertEqual(after[ch][1], before[ch][1], ch)
            self.assertEqual((after[ch][0]["epoch"], after[ch][0]["head"]),
                             (before[ch][0]["epoch"], before[ch][0]["head"]), ch)
        self.keys_are_dups(c, acks)
        resumed = H.subscribed(self, gateway, chans, last_event_id=mid)
        old = len(acks)
        publish_round()
        for ch, _, seq, epoch, _ in acks[old:]:
            self.assertEqual((epoch, seq), (before[ch][0]["epoch"], before[ch][0]["head"] + 1),
                             "%s: not at head + 1 in its epoch" % ch)
        # The client that stayed on the gateway: every event once, in order
        total = len(acks)
        live.wait_events(total, 20)
        resumed.wait_events(total - len(chans), 20)
        for client, skip in ((live, 0), (resumed, 1)):
            got = collections.defaultdict(list)
            for e in client.events:
                self.assertEqual(e.type, "message", "not an event: %s" % e)
                got[e.json["channel"]].append((e.json["epoch"], e.json["seq"], e.json["data"]))
            for ch in chans:
                want = [(a[3], a[2], a[1]) for a in acks if a[0] == ch][skip:]
                self.assertEqual(got[ch], want, ch)
        self.assertEqual(H.metric(gateway, 'herald_resets_total{reason="epoch-changed"}'), 0)

    def test_whole_cluster_sigint_restart_keeps_epochs_sync(self):
        self.whole_cluster_stopped("sync")

    def test_whole_cluster_sigint_restart_keeps_epochs_async(self):
        self.whole_cluster_stopped("async")

    # ---------------------------------------------------------------- 2

    def whole_cluster_killed(self, replication):
        c = DurableCluster(self, brokers=3, gateways=1, broker_args=[
            "--replication", replication, "--failover-timeout", "1s", "--lease", "500ms",
            "--fsync", "always"])
        c.wait_sequencing()
        chans = [ch for b in IDS for ch in owned_by(b, 2, "load")]
        received = F.clients(self, c, chans)
        traffic = F.Traffic(self, c, chans, via=(0, 1, 2), rate=10).start()
        traffic.wait_acked(chans, 8, 0, what="before the kill")
        seen_before = self.of_clients(received)
        c.halt(signal.SIGKILL)
        killed = time.monotonic()
        c.restart()
        traffic.wait_acked(chans, 8, killed, timeout=40, what="after the restart")
        self.kept_logged(c)
        self.traffic_kept_everything(c, traffic, received, [seen_before])

    def test_whole_cluster_sigkill_under_load_fsync_always_sync(self):
        self.whole_cluster_killed("sync")

    def test_whole_cluster_sigkill_under_load_fsync_always_async(self):
        self.whole_cluster_killed("async")

    # ---------------------------------------------------------------- 3

    def test_one_broker_killed_comes_back_after_takeover(self):
        c = DurableCluster(self, brokers=3, gateways=1, broker_args=F.broker_args())
        c.wait_sequencing()
        moved, kept = owned_by("b1", 3, "m"), owned_by("b2", 1, "m") + owned_by("b3", 1, "m")
        chans = moved + kept
        received = F.clients(self, c, chans)
        # direct0 publishes to b1 alone: right at its return too
        traffic = F.Traffic(self, c, chans, via=(1, 2), rate=10, direct=(0,)).start()
        traffic.tolerate(chans, 60)
        traffic.wait_acked(chans, 8, 0, what="before the kill")
        view = c.cluster_json(1)["view"]["number"]
        c.halt(signal.SIGKILL, [0])
        killed = time.monotonic()
        traffic.wait_acked(chans, 8, killed, timeout=30, what="after the kill")
        self.assertNotEqual(c.owner(moved[0], 1), 0, "b2 has not taken b1's channels over")
        c.restart([0])
        back = time.monotonic()
        c.wait_settled(30)
        traffic.wait_acked(chans, 8, back, timeout=30, what="after b1's return",
                           kinds=("dealer", "http", "direct0"))
        # b1 took its channels back (by handoff), and kept none of its store's
        H.wait_until(lambda: all(c.owner(ch, 0) == 0 for ch in moved), 20, "b1 owner again")
        acks = self.traffic_kept_everything(c, traffic, received, dups=False)
        # b1 came back keeping what it stored (its mark was its saved view),
        # dropped it at the first view it installed, and got the channels
        # back, with what was published meanwhile, by handoff
        kept_log = c.log(0, KEPT)
        self.assertEqual(len(kept_log), 1, c.story())
        self.assertGreaterEqual(int(kept_log[0]["channels"]), len(moved), kept_log)
        handed = sum(int(e["channels"]) for i in (1, 2) for e in c.log(i, "handed over")
                     if e.get("to") == "b1")
        self.assertGreaterEqual(handed, len(moved), c.story())
        self.assertGreater(c.cluster_json(0)["view"]["number"], view)
        self.keys_are_dups(c, acks)

    # ---------------------------------------------------------------- 4

    def test_one_broker_killed_and_back_before_failover(self):
        c = DurableCluster(self, brokers=3, gateways=1,
                           broker_args=F.broker_args(timeout="3s"))
        c.wait_sequencing()
        mine, others = owned_by("b1", 3, "q"), owned_by("b2", 1, "q") + owned_by("b3", 1, "q")
        chans = mine + others
        received = F.clients(self, c, chans)
        traffic = F.Traffic(self, c, chans, via=(1, 2), rate=10).start()
        traffic.wait_acked(chans, 8, 0, what="before the kill")
        view = c.cluster_json(1)["view"]["number"]
        c.halt(signal.SIGKILL, [0])
        c.restart([0])
        back = time.monotonic()
        traffic.wait_acked(chans, 8, back, timeout=30, what="after b1's return")
        self.kept_logged(c, [0])
        # b1 asked for a newer view with the same owners (its sessions
        # with its backups start again there) and owns its channels in it
        for i in range(3):
            now = c.cluster_json(i)["view"]
            self.assertGreater(now["number"], view, F.installs(c.brokers, c.ids))
            self.assertEqual(sorted(now["owners"]), ["b1", "b2", "b3"],
                             "b%d: %s" % (i + 1, F.installs(c.brokers, c.ids)))
        self.traffic_kept_everything(c, traffic, received)

    # ---------------------------------------------------------------- 5

    def test_store_not_in_step_with_saved_view_keeps_nothing(self):
        # A single broker's store: channels b1 owns in the cluster, in its epochs
        single_dir = os.path.join(tempfile.mkdtemp(prefix="herald-single-"), "data")
        self.addCleanup(shutil.rmtree, os.path.dirname(single_dir), True)
        single = H.start(self, "broker", "--data-dir", single_dir)
        foreign = owned_by("b1", 3, "f")
        dealer = H.dealer(self, single.router)
        single_epochs = {}
        for n, ch in enumerate(foreign * 3):
            r = dealer.request({"ch": ch, "data": "single%d" % n, "id": "s%d" % n, "rid": n + 1})
            single_epochs[ch] = r["epoch"]
        single.stop()
        # A cluster that saved a view; b1's directory replaced by the single's
        c = DurableCluster(self, brokers=3, gateways=0,
                           broker_args=["--failover-timeout", "1s", "--lease", "500ms"])
        c.wait_sequencing()
        c.halt(signal.SIGINT)
        shutil.rmtree(c.data_dir(0))
        shutil.copytree(single_dir, c.data_dir(0))
        c.restart()
        c.wait_sequencing(timeout=20)
        warned = c.log(0, NOT_IN_STEP)
        self.assertEqual(len(warned), 1, c.brokers[0].stderr()[-3000:])
        self.assertEqual(warned[0].get("store_view"), "0", warned[0])
        self.assertEqual(warned[0].get("dropped"), str(len(foreign)), warned[0])
        self.assertEqual(c.log(0, KEPT), [])
        self.kept_logged(c, [1, 2])
        # b1 came back a member, an owner after --hold-down (views may move)
        H.wait_until(lambda: all(c.owner(ch, i) == 0 for ch in foreign for i in range(3)),
                     20, "b1 the owner of its channels again")
        for n, ch in enumerate(foreign):
            header, events = c.history(0, ch)
            self.assertEqual((header["head"], events), (0, []), "%s: the single's history" % ch)
            a = c.acked(0, ch, "cluster", key="s%d" % n)     # the single's key: not a dup
            self.assertFalse(a.get("dup"), a)
            self.assertEqual(a["seq"], 1, a)
            self.assertNotEqual(a["epoch"], single_epochs[ch], "%s: a foreign epoch" % ch)
        # Another broker's store, of the same view (the mark is right): b1
        # keeps none of its channels, b2 goes on with them in their epochs
        theirs = owned_by("b2", 2, "f")
        acks = [(ch, "b2-%d" % n, a["seq"], a["epoch"], "t%d" % n) for n, ch in enumerate(theirs)
                for a in [c.acked(1, ch, "b2-%d" % n, key="t%d" % n)]]
        c.halt(signal.SIGINT)
        shutil.rmtree(c.data_dir(0))
        shutil.copytree(c.data_dir(1), c.data_dir(0))
        c.restart()
        c.wait_sequencing(timeout=20)
        kept = c.log(0, KEPT)
        self.assertEqual(len(kept), 1, c.story())
        self.assertEqual(kept[0]["channels"], "0", kept[0])
        self.assertGreaterEqual(int(kept[0]["dropped"]), len(theirs), kept[0])
        self.keys_are_dups(c, acks)
        self.history_holds(c, acks)


def stamp(traffic):
    """The key suffix of a Traffic's publishers (key = data-stamp)."""
    return traffic.acked[0].stamp


if __name__ == "__main__":
    unittest.main()
