"""Zero-reset failover, a broker flapping (docs/cluster.md, "Zero-reset
failover", row "a broker flapping every few seconds": never a silent gap;
resets only when owner and backup of a channel were both lost).

3 brokers with --replication sync and --min-replicas 2 (no event is
published before a backup holds it, whatever the timing of the kills),
2 gateways, SSE and WebSocket clients (failover.clients) of channels b2
owns, channels it backs, and others; every kind of publisher through b1,
b3 and the gateways (failover.Traffic). b2 is SIGKILLed and restarted
with its --id and --state-dir four times, every few seconds: twice after
it acknowledged publishes as an owner with every channel in sync with its
backup (its /metrics: herald_sync_channels{backup="unsynced"} and
herald_sync_waiting_events 0), twice as soon as it is an owner again (the
handoff of its channels back to it under way). Only b2 is ever lost, so
every client gets every acknowledged publish once at its ack's (epoch,
seq), seqs contiguous, every reset announced, and a reset only where the
table allows one (row "a channel has no backup in sync"):
- to a channel b2 owned, at a kill made as soon as b2 was an owner again
  (its channels may have no backup in sync yet: the handoff back under
  way), to an epoch made in a view after that kill;
- after a view that did not follow the one before on the broker that
  installed it (refused campaigns spend numbers when a broker flaps), to
  an epoch made in it or in that broker's next view.
The kills made after b2 acknowledged publishes in sync allow none: zero
resets there unless a skipped view explains them. Labels: integration,
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
        pauses, lost, processes, states = [], [], [], []
        for cycle in range(CYCLES):
            strict = cycle % 2 == 0         # b2 acknowledged publishes since its restart
            if strict:
                H.wait_until(lambda: self.in_sync(1), 20, "b2 in sync (cycle %d)" % cycle,
                             interval=0.02)
            else:
                states.append(self.in_sync(1))
            before = c.cluster_json(0)["view"]["number"]
            processes.append(c.brokers[1])
            c.brokers[1].kill()
            killed = time.monotonic()
            traffic.wait_acked(chans, 5, killed, timeout=30, what="after kill %d" % cycle)
            pauses.append(max(s for s in traffic.resumed(chans, killed).values()))
            if not strict:      # b2's channels may start new epochs in these views
                lost.append((before + 1, max(c.cluster_json(i)["view"]["number"]
                                             for i in (0, 2))))
            c.brokers[1] = c.start_broker(1)
            H.wait_until(lambda: all(c.owner(ch, i) == 1 for ch in owned for i in (0, 2)),
                         20, "b2 an owner again (cycle %d)" % cycle, interval=0.02)
            if cycle % 2:
                traffic.wait_acked(chans, 5, time.monotonic(), timeout=30,
                                   what="with b2 back (cycle %d)" % cycle)
        c.wait_settled()
        traffic.wait_acked(chans, 10, time.monotonic(), timeout=30, what="at the end")
        skips = F.skipped(processes + c.brokers)
        print("\nsync flap: %d kills in %.1f s; longest wait for an ack after each: %s; "
              "unavailable %d; kills as b2 became an owner again: b2 in sync %s, resets "
              "allowed to its channels in views %s; views that skipped a number: %d %s" % (
                  CYCLES, time.monotonic() - started, [round(p, 2) for p in pauses],
                  len(traffic.refused()), states, lost, len(skips), skips))

        def allowed(ch):
            return F.made_in(skips + (lost if ch in owned else []))
        problems = F.check(traffic, received, resets={ch: allowed(ch) for ch in chans})
        F.assert_none(self, problems, processes + self.c.brokers,
                      ["b2'"] * len(processes) + self.c.ids)
        for ch in chans:        # every epoch after the first one made where allowed
            epochs = sorted({a[3] for a in traffic.acks(ch)}, key=F.epoch_view)
            self.assertEqual([e for e in epochs[1:] if not allowed(ch)(e)], [], ch)

    def in_sync(self, i):
        """Broker i's channels all in sync with their backups, none waiting."""
        m = H.metrics(self.c.brokers[i].http)
        return (m.get('herald_sync_channels{backup="unsynced"}', 0) == 0
                and m.get("herald_sync_waiting_events", 0) == 0)


if __name__ == "__main__":
    unittest.main()
