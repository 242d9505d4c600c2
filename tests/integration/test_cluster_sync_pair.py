"""Zero-reset failover, owner and backup SIGKILLed together (docs/cluster.md,
"Zero-reset failover", row "owner and backup SIGKILLed together": exactly
one reset per client of those channels, none elsewhere; unacknowledged
publishes of those channels may be lost, never acknowledged).

Five brokers with --replication sync, so that losing two keeps a majority
(three of five: with three brokers the two survivors of a pair would be
one, and no view could be installed). b1 and b2 are SIGKILLed at once
while every kind of publisher (failover.Traffic) goes on through b3, b4,
b5 and the gateways. The channels, by their rendezvous order:
  - pair: owner and backup are b1 and b2 (either way round): every client
    gets exactly one reset, then the new epoch's events without a gap;
  - owned by b1 or b2 with a surviving backup: the backup keeps the epoch,
    no reset;
  - owned by a survivor whose backup was b1 or b2: a new backup, no reset;
  - untouched (neither owner nor backup killed): no reset.
Everywhere: every acknowledged publish delivered once at its ack's (epoch,
seq), but those of a pair channel's old epoch the reset announces; no
(epoch, seq) with two payloads. The survivors may split their votes: a
view that then skips a number without following the one before costs the
channels of the brokers that install it a reset (docs/cluster.md, Views
that skip numbers), which the test allows and prints. Labels: integration,
cluster."""
import time
import unittest

import cluster
import failover as F
import harness as H


class SyncPair(unittest.TestCase):
    def setUp(self):
        self.c = cluster.Cluster(self, brokers=5, gateways=2, broker_args=F.broker_args())
        self.c.wait_settled()
        self.c.wait_sequencing()

    def test_owner_and_backup_killed_one_reset_there_none_elsewhere(self):
        c = self.c
        order = {ch: H.rendezvous_order(c.ids, ch)[:2] for ch in ("q%d" % n for n in range(600))}
        lost = {"b1", "b2"}
        kinds = {
            "pair": lambda o: set(o) == lost,
            "owner": lambda o: o[0] in lost and o[1] not in lost,
            "backup": lambda o: o[0] not in lost and o[1] in lost,
            "untouched": lambda o: not set(o) & lost,
        }
        chans = {k: [ch for ch in order if f(order[ch])][:2] for k, f in kinds.items()}
        for k, chs in chans.items():
            self.assertEqual(len(chs), 2, k)
            self.assertEqual(c.ids[c.owner(chs[0], 2)], order[chs[0]][0], chs[0])
        every = sum(chans.values(), [])
        received = F.clients(self, c, every)
        traffic = F.Traffic(self, c, every, via=(2, 3, 4), rate=10.0).start()
        traffic.wait_acked(every, 15, 0, what="before the kill")
        c.brokers[0].kill()
        c.brokers[1].kill()
        killed = time.monotonic()
        traffic.wait_acked(every, 15, killed, timeout=40, what="after the kill")
        resumed = traffic.resumed(every, killed)
        print("\nsync pair: first ack after the kill, per channel: %s" % {
            k: [round(resumed[ch], 2) for ch in chs] for k, chs in chans.items()})
        # Two survivors campaigning at once split the votes; a view that
        # then does not follow the one before gives every channel of a
        # broker that installs it a new epoch (docs/cluster.md, Views that
        # skip numbers): resets to epochs made then are allowed, and printed
        skips = F.skipped(c.brokers)
        print("views that skipped a number: %d %s" % (len(skips), skips))
        if skips:
            resets = {ch: (lambda e: True) if ch in chans["pair"] else F.made_in(skips)
                      for ch in every}
        else:
            resets = {ch: 1 for ch in chans["pair"]}
        problems = F.check(traffic, received, resets=resets)
        F.assert_none(self, problems, self.c.brokers, self.c.ids)
        epochs = {ch: sorted({a[3] for a in traffic.acks(ch)}, key=F.epoch_view) for ch in every}
        for ch in chans["pair"]:                            # the new owner's new epoch
            self.assertEqual(len(epochs[ch]) if not skips else min(len(epochs[ch]), 2), 2, ch)
        for ch in every:
            if ch not in chans["pair"]:
                self.assertEqual([e for e in epochs[ch][1:] if not F.made_in(skips)(e)], [], ch)


if __name__ == "__main__":
    unittest.main()
