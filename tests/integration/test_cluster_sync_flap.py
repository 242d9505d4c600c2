"""Zero-reset failover, a broker flapping (docs/cluster.md, "Zero-reset
failover", row "a broker flapping every few seconds": never a silent gap;
resets only when owner and backup of a channel were both lost).

3 brokers with --replication sync and --min-replicas 2 (no event is
published before a backup holds it, whatever the timing of the kills),
2 gateways, SSE and WebSocket clients (failover.clients) of channels b2
owns, channels it backs, and others; every kind of publisher through b1,
b3 and the gateways (failover.Traffic). b2 is SIGKILLed and restarted
with its --id and --state-dir four times, every few seconds: twice as soon
as it is an owner again (the handoff of its channels back to it under
way), twice after it acknowledged publishes as an owner. Only b2 is ever
lost, so no channel ever loses its owner and its backup together: every
client gets every acknowledged publish once at its ack's (epoch, seq), no
reset, one epoch per channel, seqs contiguous. Labels: integration,
cluster."""
import time
import unittest

import cluster
import failover as F
import harness as H

CYCLES = 4


class SyncFlap(unittest.TestCase):
    def setUp(self):
        self.c = cluster.Cluster(self, brokers=3, gateways=2,
                                 broker_args=F.broker_args(min_replicas=2))
        self.c.wait_settled()
        self.c.wait_sequencing()

    def test_a_flapping_broker_costs_no_reset(self):
        c = self.c
        order = {ch: H.rendezvous_order(c.ids, ch) for ch in ("f%d" % n for n in range(400))}
        owned = [ch for ch in order if order[ch][0] == "b2"][:2]
        backed = [ch for ch in order if order[ch][1] == "b2"][:2]
        other = [ch for ch in order if order[ch][2] == "b2"][:1]
        chans = owned + backed + other
        received = F.clients(self, c, chans)
        traffic = F.Traffic(self, c, chans, via=(0, 2), rate=10.0).start()
        traffic.wait_acked(chans, 10, 0, what="before the first kill")
        started = time.monotonic()
        pauses = []
        for cycle in range(CYCLES):
            c.brokers[1].kill()
            killed = time.monotonic()
            traffic.wait_acked(chans, 5, killed, timeout=30, what="after kill %d" % cycle)
            pauses.append(max(s for s in traffic.resumed(chans, killed).values()))
            c.brokers[1] = c.start_broker(1)
            H.wait_until(lambda: all(c.owner(ch, i) == 1 for ch in owned for i in (0, 2)),
                         20, "b2 an owner again (cycle %d)" % cycle, interval=0.02)
            if cycle % 2:
                traffic.wait_acked(chans, 5, time.monotonic(), timeout=30,
                                   what="with b2 back (cycle %d)" % cycle)
        c.wait_settled()
        traffic.wait_acked(chans, 10, time.monotonic(), timeout=30, what="at the end")
        print("\nsync flap: %d kills in %.1f s; longest wait for an ack after each: %s; "
              "unavailable %d" % (CYCLES, time.monotonic() - started,
                                  [round(p, 2) for p in pauses], len(traffic.refused())))
        problems = F.check(traffic, received)
        F.assert_none(self, problems, self.c.brokers, self.c.ids)
        for ch in chans:
            self.assertEqual(len({a[3] for a in traffic.acks(ch)}), 1, ch)


if __name__ == "__main__":
    unittest.main()
