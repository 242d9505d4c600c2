"""Zero-reset failover, the backup lost (docs/cluster.md, "Zero-reset
failover", row "backup killed (also during a state transfer)": no reset;
with --min-replicas 1 publishing goes on; with 2 it is `unavailable` until
a backup is in sync).

- min 1, 3 brokers: b2, the backup of busy channels b1 and b3 own, is
  SIGKILLed under load (failover.Traffic through b1 and b3 and the
  gateways): no reset, every ack delivered once, and the first publish
  sent after the kill is acknowledged within the validity bound
  (--failover-timeout + --lease + 2 s).
- min 2, 5 brokers: b2, the backup of a channel with a big history (4,000
  events of 4 KiB: its state transfer takes a while) and of busy ones, is
  SIGKILLed; no publish sent after the kill is acknowledged until the
  next backup, b3, holds the channels in sync (b1's /metrics
  herald_sync_channels{backup="unsynced"}, polled; fresh publishes are
  sent straight to b1 from its install of the view without b2). Whether
  some are answered `unavailable` meanwhile is timing (only until b1 sends
  b3 the snapshot; then they wait for it): printed, not asserted. At the
  first ack after b1 installed the view without b2, b1 is SIGKILLed too:
  that ack needed b3 in sync, so b3 takes over keeping the epoch, and
  clients see no reset (with --min-replicas 1 the same ack could be
  published alone, and the kill cost a reset).
- min 2, 5 brokers: b2 is SIGKILLed, and b3, the new backup, as soon as b1
  installed the view without b2 (its state transfer under way); b4 becomes
  the backup. b2 and b3 are restarted and get the channels back as backups
  (another transfer), then b1 is SIGKILLed: no reset anywhere, every ack
  once, so every transfer, the interrupted one included, left a backup
  holding the whole state.
In the min 2 cases a view that did not follow the one before on the broker
that installed it gives that broker's channels new epochs (the table's last
row): resets to epochs made in it are allowed there, and printed.
Labels: integration, cluster."""
import os
import threading
import time
import unittest

import cluster
import failover as F
import harness as H

VALIDITY = 1.0 + 0.5 + 2.0      # --failover-timeout 1s, --lease 500ms
SLACK = 0.5
FILL, SIZE = 4000, 4096         # the big channel's history


class SyncBackup(unittest.TestCase):
    def start(self, brokers, min_replicas):
        self.c = cluster.Cluster(self, brokers=brokers, gateways=2, broker_args=F.broker_args(
            min_replicas=min_replicas, extra=["--history-size", str(FILL + 1000)]))
        self.c.wait_settled()
        self.c.wait_sequencing()
        return self.c

    def channels(self, prefix, first, n):
        """n channels whose rendezvous order starts with `first`."""
        ids = self.c.ids
        return [ch for ch in ("%s%d" % (prefix, k) for k in range(2000))
                if H.rendezvous_order(ids, ch)[:len(first)] == list(first)][:n]

    def fill(self, i, ch):
        """At least FILL events of SIZE bytes in ch, pushed to broker i (its
        owner), then an acknowledged publish after them. PUSH publishes are
        fire-and-forget: a view change under the flood (a heartbeat starved
        on a loaded machine) may answer some `unavailable` and drop them, so
        the head the ack gives is how many landed, and the rest is pushed
        again (a few more than FILL at most)."""
        push = H.pusher(self, self.c.endpoints[i]["publish"])
        head, n, deadline = 0, 0, time.monotonic() + 90
        while head <= FILL:
            self.assertLess(time.monotonic(), deadline, "%s filled: head %d" % (ch, head))
            for _ in range(FILL - head):
                push.send({"ch": ch, "data": "fill:%d:%s" % (n, "x" * SIZE)})
                n += 1
            head = self.c.acked(i, ch, "filled", timeout=30)["seq"]

    def probe(self, i, ch, timeout=30.0):
        """Publishes to ch through broker i every 10 ms, each with a new key,
        never waiting for an answer (a held publish holds up no other),
        until one is acknowledged. Returns [(time answered, reply)] up to
        that ack. The probes' events are checked like pushed ones (at most
        once, no gap)."""
        dealer = H.dealer(self, self.c.endpoints[i]["router"])
        answers, n, deadline = [], 0, time.monotonic() + timeout
        while time.monotonic() < deadline:
            n += 1
            dealer.send({"ch": ch, "data": "probe:%d" % n, "rid": n,
                         "id": "probe-%d-%d" % (os.getpid(), n)})
            try:
                reply = dealer.recv(0.01)[0]
            except AssertionError:      # nothing yet: the next probe
                continue
            answers.append((time.monotonic(), reply))
            if reply.get("error") is None:
                return answers
        raise AssertionError("no probe of %s acknowledged: %s" % (ch, answers[-3:]))

    def unsynced(self, i):
        """Polls broker i's herald_sync_channels{backup="unsynced"} every
        10 ms until the returned Event is set. The list it returns fills
        with (time asked, count) for each answer."""
        seen, done = [], threading.Event()

        def poll():
            while not done.is_set():
                asked = time.monotonic()
                try:
                    n = H.metric(self.c.brokers[i].http, 'herald_sync_channels{backup="unsynced"}')
                except (AssertionError, OSError):   # killed meanwhile
                    return
                seen.append((asked, n))
                done.wait(0.01)                     # pacing, not syncing
        t = threading.Thread(target=poll, daemon=True, name="unsynced")
        t.start()
        self.addCleanup(t.join, 10)
        self.addCleanup(done.set)
        return seen, done

    def check(self, traffic, received, chans):
        """No reset, one epoch per channel, except after a view that did not
        follow the one before on the broker that installed it: it gives
        that broker's channels new epochs (the table's last row), so resets
        to epochs made then are allowed, and printed."""
        skips = F.skipped(self.c.brokers)
        print("views that skipped a number: %d %s" % (len(skips), skips))
        problems = F.check(traffic, received, resets={ch: F.made_in(skips) for ch in chans},
                           fresh=False)
        F.assert_none(self, problems, self.c.brokers, self.c.ids)
        for ch in chans:        # later epochs only where a reset was allowed
            epochs = sorted({a[3] for a in traffic.acks(ch)}, key=F.epoch_view)
            self.assertEqual([e for e in epochs[1:] if not F.made_in(skips)(e)], [], ch)

    def installed_without(self, i, b):
        return b not in self.c.cluster_json(i)["view"]["owners"]

    def test_backup_killed_min1_no_reset_and_publishing_goes_on(self):
        c = self.start(3, 1)
        chans = self.channels("m", ["b1", "b2"], 3) + self.channels("m", ["b3", "b2"], 1)
        received = F.clients(self, c, chans)
        traffic = F.Traffic(self, c, chans, via=(0, 2)).start()
        traffic.wait_acked(chans, 15, 0, what="before the kill")
        c.brokers[1].kill()
        killed = time.monotonic()
        traffic.wait_acked(chans, 15, killed, timeout=30, what="after the kill")
        resumed = traffic.resumed(chans, killed)
        print("\nsync backup min 1: first ack after the kill: %s; unavailable %d" % (
            {ch: round(s, 2) for ch, s in resumed.items()}, len(traffic.refused())))
        problems = F.check(traffic, received)
        F.assert_none(self, problems, self.c.brokers, self.c.ids)
        for ch, s in resumed.items():
            self.assertLessEqual(s, VALIDITY + SLACK, ch)

    def test_backup_killed_min2_unavailable_until_the_next_backup_is_in_sync(self):
        c = self.start(5, 2)
        big = self.channels("big", ["b1", "b2", "b3"], 1)
        chans = big + self.channels("n", ["b1", "b2", "b3"], 2)
        self.fill(0, big[0])
        received = F.clients(self, c, chans)
        traffic = F.Traffic(self, c, chans, via=(2, 3, 4), rate=10.0).start()
        traffic.wait_acked(chans, 10, 0, what="before the kill")
        c.brokers[1].kill()
        killed = time.monotonic()
        seen, done = self.unsynced(0)
        asked = []      # b1 installed the view without b2 after the last but one
        H.wait_until(lambda: asked.append(time.monotonic()) or self.installed_without(0, "b2"),
                     10, "b1 without b2", interval=0.01)
        installed = time.monotonic()
        answers = self.probe(0, big[0])     # fresh publishes, every 10 ms, until one is acked
        c.brokers[0].kill()
        done.set()
        first = min([a[5] for a in traffic.acks(big[0]) if a[5] > installed],
                    default=float("nan"))      # none yet: b1 acked the probes first
        refused = [t for t, r in answers if r.get("error") == "unavailable"]
        # No channel of b1 (it owns only chans) in sync with b3 yet, at some
        # moment after b1 was last asked and said so; before its install
        # b2, dead, was still the backup
        unsynced = max([t for t, n in seen if n >= len(chans)] + asked[-2:-1] + [killed])
        early = sorted(round(a[5] - killed, 3) for a in traffic.acks()
                       if a[4] > killed and a[5] < unsynced)
        early += [round(t - killed, 3) for t, r in answers
                  if r.get("error") is None and t < unsynced]
        print("\nsync backup min 2: b1 installed the view without b2 %.2f s after the kill, "
              "b3 in sync with none of its channels until at least %.2f s after the install "
              "(%d polls); first ack of the big channel %.2f s after the install; probes "
              "straight to b1: %d unavailable, then acked %.2f s after the install"
              % (installed - killed, unsynced - installed, len(seen), first - installed,
                 len(refused), answers[-1][0] - installed))
        traffic.wait_acked(chans, 10, time.monotonic(), timeout=30, what="after b1's kill")
        self.check(traffic, received, chans)
        self.assertEqual(early, [], "acknowledged (s after the kill) before b3 was in sync")

    def test_backup_killed_during_a_state_transfer(self):
        c = self.start(5, 2)
        big = self.channels("big", ["b1", "b2", "b3", "b4"], 1)
        chans = big + self.channels("t", ["b1", "b2", "b3"], 2)
        self.fill(0, big[0])
        received = F.clients(self, c, chans)
        traffic = F.Traffic(self, c, chans, via=(3, 4), rate=10.0).start()
        traffic.wait_acked(chans, 10, 0, what="before the kills")
        c.brokers[1].kill()
        H.wait_until(lambda: self.installed_without(0, "b2"), 10, "b1 without b2",
                     interval=0.005)
        c.brokers[2].kill()             # b3, receiving the big channel's state
        transfer = time.monotonic()
        traffic.wait_acked(chans, 10, transfer, timeout=30, what="with b4 the backup")
        c.brokers[1] = c.start_broker(1)
        c.brokers[2] = c.start_broker(2)
        c.wait_settled()                # b2 the backup again: one more transfer
        settled = time.monotonic()
        traffic.wait_acked(chans, 10, settled, timeout=30, what="with b2 the backup again")
        c.brokers[0].kill()
        traffic.wait_acked(chans, 10, time.monotonic(), timeout=30, what="after b1's kill")
        self.check(traffic, received, chans)


if __name__ == "__main__":
    unittest.main()
