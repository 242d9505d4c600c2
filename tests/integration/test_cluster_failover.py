"""Failover on real processes (tests/integration/cluster.py: 3 brokers, 1
gateway --cluster; docs/cluster.md, "Failover, handoff and rejoin"), with
--replication async: what a failover costs without a synchronous backup
(test_cluster_sync_* test the default, sync).

The owner of some channels is SIGKILLed while acknowledged, idempotent
publishes go on through the two other brokers (retried with their key on
`unavailable` or silence): publishing to the moved channels works again
within --failover-timeout + 1 s; each SSE client of a moved channel gets
exactly one reset (the new owner's new epoch), then every later event once,
in order; clients of the other channels see no reset and no gap; no
(epoch, seq) ever comes with two payloads. An owner SIGSTOPped past the
timeout, then SIGCONTed, never sequences under its old view: publishes
sent straight to it as it wakes are forwarded to the new owner or answered
`unavailable`, and its clients get nothing past the old head in the old
epoch; after --hold-down the channels return to it in a third epoch (its
old streams are not continued), one more reset. Labels: integration, cluster."""
import os
import signal
import time
import unittest

import zmq

import cluster
import harness as H

TIMEOUT = 1.0       # --failover-timeout


class Failover(unittest.TestCase):
    def setUp(self):
        self.c = cluster.Cluster(self, brokers=3, gateways=1,
                                 broker_args=["--replication", "async",
                                              "--failover-timeout", "1s", "--lease", "500ms",
                                              "--hold-down", "2s"])
        # One view with every broker an owner, on every broker, before any
        # publish: a first view without a late broker would move channels
        # again when it joins
        self.c.wait_settled()
        self.c.wait_sequencing()
        self.publisher = cluster.AckedPublisher(self, self.c, (1, 2))     # the survivors
        self.publish = self.publisher.publish

    def test_owner_killed_moved_channels_reset_once_others_untouched(self):
        c = self.c
        names = ["f%d" % n for n in range(400)]
        owners = {ch: c.owner(ch, 1) for ch in names}
        moved = [ch for ch in names if owners[ch] == 0][:3]
        kept = [ch for ch in names if owners[ch] != 0][:3]
        self.assertEqual((len(moved), len(kept)), (3, 3))
        clients = {ch: [H.subscribed(self, c.gateways[0].http, [ch]) for _ in range(2)]
                   for ch in moved + kept}
        acks = {ch: [] for ch in moved + kept}      # (data, seq, epoch) in publish order
        deadline = time.monotonic() + 60
        killed = first_moved = None
        for r in range(16):
            if r == 6:
                c.brokers[0].kill()
                killed = time.monotonic()
            for ch in moved + kept:
                data = "%s:%d" % (ch, r)
                reply = self.publish(ch, data, "k-%s-%d-%s" % (ch, r, os.getpid()), deadline)
                acks[ch].append((data, reply["seq"], reply["epoch"]))
                if killed and ch in moved and first_moved is None:
                    first_moved = time.monotonic() - killed
        print("failover: first acked publish to a moved channel %.2f s after the kill"
              % first_moved)
        self.assertLess(first_moved, TIMEOUT + 1.0 + 0.5)   # + slack for a loaded machine

        payload = {}                                        # (ch, epoch, seq) -> data
        for ch, cs in clients.items():
            last = acks[ch][-1]
            for cl in cs:
                cl.wait_for(lambda s: any(e.type == "message" and e.json["seq"] == last[1]
                                          and e.json["epoch"] == last[2] for e in s.events),
                            15, "%s's last event" % ch)
                with cl.cond:
                    events = list(cl.events)
                resets = [i for i, e in enumerate(events) if e.type == "herald-reset"]
                msgs = [(i, e.json) for i, e in enumerate(events) if e.type == "message"]
                for _, m in msgs:
                    k = (ch, m["epoch"], m["seq"])
                    self.assertEqual(payload.setdefault(k, m["data"]), m["data"],
                                     "two payloads for %r" % (k,))
                if ch in kept:
                    self.assertEqual(resets, [], ch)
                    self.assertEqual([m["data"] for _, m in msgs], [a[0] for a in acks[ch]])
                    continue
                self.assertEqual(len(resets), 1, "%s: %s" % (ch, [e.type for e in events]))
                after = [m for i, m in msgs if i > resets[0]]
                new_epoch = last[2]
                self.assertTrue(all(m["epoch"] == new_epoch for m in after), after)
                seqs = [m["seq"] for m in after]
                self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))), ch)
                expected = [a[0] for a in acks[ch] if a[2] == new_epoch]
                self.assertEqual([m["data"] for m in after][-len(expected):], expected)
                self.assertEqual(len(set(m["data"] for m in after)), len(after))

    def test_owner_paused_past_the_timeout_never_sequences_under_its_old_view(self):
        c = self.c
        names = ["p%d" % n for n in range(400)]
        moved = [ch for ch in names if c.owner(ch, 1) == 0][:2]
        clients = {ch: H.subscribed(self, c.gateways[0].http, [ch]) for ch in moved}
        deadline = time.monotonic() + 60
        old = {}
        for r in range(3):
            for ch in moved:
                reply = self.publish(ch, "%s:%d" % (ch, r), "s-%s-%d" % (ch, r), deadline)
                old[ch] = (reply["epoch"], reply["seq"])
        c.brokers[0].send_signal(signal.SIGSTOP)
        try:
            #  Until every thread has stopped, the owner may still sequence
            #  (legitimately, in its old epoch: it holds its lease)
            H.wait_until(lambda: H.stopped(c.brokers[0].pid), 5, "broker 1 stopped")
            new = {}
            for ch in moved:    # through the others, until the new owner acknowledges
                reply = self.publish(ch, "%s:new" % ch, "s-%s-new" % ch, deadline)
                self.assertNotEqual(reply["epoch"], old[ch][0])
                new[ch] = reply["epoch"]
        finally:
            c.brokers[0].send_signal(signal.SIGCONT)
        # Straight to the paused broker as it wakes: never acknowledged in
        # its old epoch (forwarded to the new owner, or unavailable)
        direct = H.Zmq(zmq.DEALER, c.endpoints[0]["router"], linger=0)
        self.addCleanup(direct.close)
        for n in range(20):
            for ch in moved:
                direct.send({"ch": ch, "data": "%s:wake%d" % (ch, n), "rid": n,
                             "id": "w-%s-%d" % (ch, n)})
        replies = []
        until = time.monotonic() + 10
        while len(replies) < 40 and time.monotonic() < until:
            try:
                replies.append(direct.recv(max(until - time.monotonic(), 0.01))[0])
            except AssertionError:
                break
        self.assertEqual(len(replies), 40)
        for reply in replies:
            self.assertIn(reply.get("error"), (None, "unavailable"), reply)
            if reply.get("error") is None:
                self.assertNotIn(reply["epoch"], [o[0] for o in old.values()], reply)
        # Back as a member, after --hold-down an owner again: its channels
        # come back to it by handoff from the interim owner, whose epoch
        # goes on (never its own old one)
        H.wait_until(lambda: all(c.owner(ch, i) == 0 for ch in moved for i in (0, 1, 2)),
                     20, "the paused broker owning its channels again", interval=0.1)
        for ch in moved:
            last = self.publish(ch, "%s:end" % ch, "s-%s-end" % ch, deadline)
            self.assertEqual(last["epoch"], new[ch])
            self.assertGreater(last["seq"], 1)
            cl = clients[ch]
            cl.wait_for(lambda s: any(e.type == "message" and e.json["seq"] == last["seq"]
                                      and e.json["epoch"] == last["epoch"] for e in s.events),
                        15, "%s's last event" % ch)
            with cl.cond:
                msgs = [e.json for e in cl.events if e.type == "message"]
            seen = {}
            for m in msgs:
                k = (m["epoch"], m["seq"])
                self.assertEqual(seen.setdefault(k, m["data"]), m["data"], "two payloads %r" % (k,))
            # Nothing past the old head in the old epoch
            self.assertEqual(sorted(m["seq"] for m in msgs if m["epoch"] == old[ch][0]),
                             list(range(1, old[ch][1] + 1)))
            # One reset at the failover (a new epoch); none at the handback
            self.assertEqual(len([e for e in cl.events if e.type == "herald-reset"]), 1)


if __name__ == "__main__":
    unittest.main()
