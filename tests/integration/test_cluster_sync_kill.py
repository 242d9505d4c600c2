"""Zero-reset failover, the owner SIGKILLed (docs/cluster.md, "Zero-reset
failover", row "owner SIGKILLed, backup in sync": clients see a pause of at
most --failover-timeout + 1 s, no reset, no gap, no duplicate; every
acknowledged publish is delivered exactly once, unacknowledged ones retried
with their key are deduplicated).

3 brokers with --replication sync, 2 gateways (tests/integration/cluster.py);
on each gateway SSE and WebSocket clients (JSON, MessagePack) of four busy
channels b1 owns and two it does not. Each channel is published to at a
steady rate by an acknowledged DEALER publisher and an HTTP publisher
(POST /v1/publish through the gateways), both with idempotency keys and
retrying with them, and by PUSH, all through b2 and b3. b1 is SIGKILLed:
every client gets every acknowledged event exactly once at the (epoch, seq)
its ack named, in one epoch per channel, with contiguous seqs, no reset, no
payload twice; the first publish to each moved channel sent after the kill
is acknowledged within --failover-timeout + 1 s. HERALD_TEST_REPLICATION=
async runs it against the asynchronous cluster: it fails (one reset per
client of each moved channel). Labels: integration, cluster."""
import time
import unittest

import cluster
import failover as F
import harness as H

TIMEOUT = 1.0           # --failover-timeout
SLACK = 0.5             # a loaded machine (the bound itself is the table's)


class SyncKill(unittest.TestCase):
    def setUp(self):
        self.c = cluster.Cluster(self, brokers=3, gateways=2, broker_args=F.broker_args())
        self.c.wait_settled()
        self.c.wait_sequencing()

    def test_owner_killed_clients_see_no_reset_and_every_ack_once(self):
        c = self.c
        order = {ch: H.rendezvous_order(c.ids, ch) for ch in ("k%d" % n for n in range(400))}
        moved = [ch for ch in order if order[ch][0] == "b1"][:4]
        kept = [ch for ch in order if order[ch][0] != "b1"][:2]
        self.assertEqual(c.ids[c.owner(moved[0], 1)], "b1")
        chans = moved + kept
        received = F.clients(self, c, chans)
        traffic = F.Traffic(self, c, chans, via=(1, 2)).start()
        traffic.wait_acked(chans, 20, 0, what="before the kill")
        c.brokers[0].kill()
        killed = time.monotonic()
        traffic.wait_acked(chans, 20, killed, timeout=30, what="after the kill")
        resumed = traffic.resumed(moved, killed)
        print("\nsync kill: first ack of a publish sent after the kill, per moved channel: %s; "
              "unavailable answers %d" % ({ch: round(s, 2) for ch, s in resumed.items()},
                                           len(traffic.refused(moved))))
        problems = F.check(traffic, received)
        print("delivered %d events to %d clients" % (
            sum(1 for r in received for i in r.items if i[0] == "event"), len(received)))
        F.assert_none(self, problems, self.c.brokers, self.c.ids)
        for ch, s in resumed.items():
            self.assertLessEqual(s, TIMEOUT + 1.0 + SLACK, ch)
        # One epoch per channel, the one it had before the kill
        for ch in chans:
            self.assertEqual(len({a[3] for a in traffic.acks(ch)}), 1, ch)


if __name__ == "__main__":
    unittest.main()
