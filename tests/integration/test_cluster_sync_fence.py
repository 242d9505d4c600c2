"""Zero-reset failover, the owner paused (docs/cluster.md, "Zero-reset
failover", row "owner SIGSTOPped past the timeout, then SIGCONT": no reset;
no (epoch, seq) with two payloads; its publishes while paused are answered
`unavailable` or served by the new owner).

3 brokers with --replication sync, 2 gateways, SSE and WebSocket clients
(failover.clients) of three busy channels b1 owns and one it does not,
every kind of publisher through b2, b3 and the gateways (failover.Traffic),
and one more acknowledged publisher per channel that sends to b1 alone
(retrying with its key when b1 is silent). b1 is SIGSTOPped until b2 and b3
have installed a view without it and acknowledged publishes of its
channels (its backup kept the epoch), then SIGCONTed: it is fenced (the
view moved on), so whatever it answers its own publisher as it wakes is
`unavailable` or an ack whose (epoch, seq) every client got with that
publisher's payload. After --hold-down it owns its channels again (a
handoff back, same epoch). Throughout: every client gets every acknowledged
publish exactly once at its ack's (epoch, seq), no reset, one epoch per
channel, and no (channel, epoch, seq) with two payloads across all clients
(each delivery's payload is compared). Labels: integration, cluster."""
import signal
import time
import unittest

import cluster
import failover as F
import harness as H


class SyncFence(unittest.TestCase):
    def setUp(self):
        self.c = cluster.Cluster(self, brokers=3, gateways=2, broker_args=F.broker_args())
        self.c.wait_settled()
        self.c.wait_sequencing()

    def test_owner_paused_then_woken_is_fenced_and_clients_see_no_reset(self):
        c = self.c
        order = {ch: H.rendezvous_order(c.ids, ch) for ch in ("z%d" % n for n in range(400))}
        moved = [ch for ch in order if order[ch][0] == "b1"][:3]
        kept = [ch for ch in order if order[ch][0] != "b1"][:1]
        chans = moved + kept
        received = F.clients(self, c, chans)
        traffic = F.Traffic(self, c, chans, via=(1, 2), rate=10.0, direct=(0,)).start()
        traffic.wait_acked(chans, 10, 0, what="before the pause",
                           kinds=("dealer", "http", "direct0"))
        c.brokers[0].send_signal(signal.SIGSTOP)
        try:
            H.wait_until(lambda: H.stopped(c.brokers[0].pid), 5, "b1 stopped")
            paused = time.monotonic()
            H.wait_until(lambda: all(c.owner(ch, i) != 0 for ch in moved for i in (1, 2)),
                         15, "a view without b1 on b2 and b3", interval=0.05)
            traffic.wait_acked(chans, 10, time.monotonic(), timeout=20, what="while b1 sleeps")
            resumed = traffic.resumed(moved, paused)
        finally:
            c.brokers[0].send_signal(signal.SIGCONT)
        woke = time.monotonic()
        print("\nsync fence: first ack after the pause, per moved channel: %s" % {
            ch: round(s, 2) for ch, s in resumed.items()})
        H.wait_until(lambda: all(c.owner(ch, i) == 0 for ch in moved for i in (0, 1, 2)),
                     20, "b1 owning its channels again", interval=0.1)
        traffic.wait_acked(chans, 10, time.monotonic(), timeout=20, what="after the return",
                           kinds=("dealer", "http", "direct0"))
        direct = [a for t in traffic.acked if t.kind == "direct0" for a in t.acks
                  if a[3] < woke < a[4]]
        print("publishes to b1 sent while it slept, acknowledged after it woke: %d; "
              "unavailable answers %d" % (len(direct), len(traffic.refused())))
        problems = F.check(traffic, received)
        F.assert_none(self, problems, self.c.brokers, self.c.ids)
        for ch in chans:
            self.assertEqual(len({a[3] for a in traffic.acks(ch)}), 1, ch)


if __name__ == "__main__":
    unittest.main()
