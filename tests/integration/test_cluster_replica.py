"""Replicas (docs/cluster.md, "Replicas"): in a cluster of three brokers,
the two that do not own a channel answer its history from their replicas
with the owner's epoch, head and events; a replica that missed events (its
broker SIGSTOPped while the owner published more than the stream's
high-water mark holds) repairs the gap from the owner and reaches the same
head. Labels: integration, cluster."""
import os
import signal
import unittest

import zmq

import cluster
import harness as H

CHANNELS = 3
FIRST = 30              # acknowledged events per channel at first
PAUSED = 1500           # pushed per channel while b2 is stopped
PAYLOAD = "x" * 2000    # PAUSED * PAYLOAD overflows b2's --xpub-hwm and socket buffers


class Replicas(unittest.TestCase):
    def setUp(self):
        # Asynchronous replication: what is tested is the replica fed by the
        # owners' streams alone and its gap repairs (with sync, a backup's
        # replica also gets the events and snapshots from its owner, which
        # would hide a repair that never happens)
        self.cluster = cluster.Cluster(self, brokers=3, gateways=0,
                                       broker_args=["--xpub-hwm", "100",
                                                    "--replication", "async"])
        self.cluster.wait_sequencing()
        self.channels = []
        n = 0
        while len(self.channels) < CHANNELS:
            n += 1
            if self.cluster.owner("rep%d" % n) == 0:
                self.channels.append("rep%d" % n)

    def history(self, i, channel, since=0):
        """Broker i's history answer: (header, events), each decoded."""
        dealer = H.Zmq(zmq.DEALER, self.cluster.endpoints[i]["router"], linger=0)
        try:
            dealer.send({"op": "history", "ch": channel, "since": since, "limit": 1000,
                         "rid": 7})
            frames = dealer.recv(10)
        finally:
            dealer.close()
        self.assertNotIn("error", frames[0])
        self.assertEqual(frames[0]["rid"], 7)
        return frames[0], frames[1:]

    def same_as_owner(self, i, channel):
        """Broker i answers channel's history as its owner b1 does: epoch,
        first, head, and the last events (up to 1,000) themselves."""
        head, _ = self.history(0, channel)
        since = max(head["head"] - 1000, head["first"] - 1)
        want = self.history(0, channel, since)
        got = self.history(i, channel, since)
        keys = ("epoch", "first", "head", "count")
        return ({k: got[0].get(k) for k in keys} == {k: want[0].get(k) for k in keys}
                and got[1] == want[1])

    def publish_acked(self, per_channel, data):
        dealer = H.Zmq(zmq.DEALER, self.cluster.endpoints[0]["router"], linger=0)
        try:
            rid = 0
            for ch in self.channels:
                for n in range(per_channel):
                    rid += 1
                    dealer.send({"ch": ch, "data": "%s-%d" % (data, n), "rid": rid})
            for _ in range(rid):
                reply = dealer.recv(10)[0]
                self.assertIn("seq", reply, reply)
        finally:
            dealer.close()

    def wait_replicas(self, brokers, timeout=30.0):
        for i in brokers:
            for ch in self.channels:
                H.wait_until(lambda: self.same_as_owner(i, ch), timeout,
                             "b%d's replica of %s as b1's history" % (i + 1, ch), interval=0.1)

    def test_every_broker_answers_history_of_channels_it_does_not_own(self):
        self.publish_acked(FIRST, "first")
        self.wait_replicas([1, 2])
        for i in (1, 2):
            for ch in self.channels:
                header, events = self.history(i, ch)
                self.assertEqual(header["head"], FIRST)
                self.assertEqual([e["seq"] for e in events], list(range(1, FIRST + 1)))
                self.assertEqual(events[-1]["data"], "first-%d" % (FIRST - 1))
            base = self.cluster.brokers[i].http      # gauges set every 250 ms
            H.wait_until(lambda: H.metric(base, "herald_broker_replicated_channels") >= CHANNELS
                         and H.metric(base, "herald_replica_events_total") >= CHANNELS * FIRST
                         and H.metric(base, "herald_replica_history_events") >= CHANNELS * FIRST,
                         5, "b%d's replica metrics" % (i + 1))
            # A channel no replica holds: today's answer (no such channel)
            header, events = self.history(i, "never-published")
            self.assertIsNone(header["epoch"])
            self.assertEqual((header["head"], events), (0, []))

    def test_a_replica_that_missed_events_repairs_them_from_the_owner(self):
        c = self.cluster
        self.publish_acked(FIRST, "first")
        self.wait_replicas([1])
        b2 = c.brokers[1]
        repairs = H.metric(b2.http, "herald_replica_repairs_total")
        os.kill(b2.pid, signal.SIGSTOP)
        try:
            H.wait_until(lambda: H.stopped(b2.pid), 5, "b2 stopped")
            pusher = H.pusher(self, c.endpoints[0]["publish"])
            for n in range(PAUSED):
                for ch in self.channels:
                    pusher.send({"ch": ch, "data": "%s-%d" % (PAYLOAD, n)})
            # Until b1 has sequenced them all (its own history says so)
            H.wait_until(lambda: all(self.history(0, ch)[0]["head"] >= FIRST + PAUSED
                                     for ch in self.channels), 20, "b1 sequenced the pushes")
        finally:
            os.kill(b2.pid, signal.SIGCONT)
        self.publish_acked(5, "after")
        self.wait_replicas([1, 2])
        for ch in self.channels:
            self.assertEqual(self.history(1, ch)[0]["head"], FIRST + PAUSED + 5)
        # b2 lost events on the way (more than its stream's high-water mark
        # and socket buffers hold) and asked b1 for them
        H.wait_until(lambda: H.metric(b2.http, "herald_replica_repairs_total") > repairs, 5,
                     "b2's repairs counted")


if __name__ == "__main__":
    unittest.main()
