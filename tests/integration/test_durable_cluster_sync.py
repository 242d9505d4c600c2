"""Durable history in a cluster with --replication sync: the batch an owner
has sequenced but not yet committed (its outbox) meets a view change or a
full --sync-memory (docs/cluster.md, "Durable history in a cluster").

- A channel's backup SIGKILLed, started again and SIGKILLed again while
  its owner is flooded: the views without it, with it and without it are
  installed while the owner's batch (its outbox) may hold events of the
  channels whose backup they change (a review finding: the owner
  aborted). The owner stays up, each view is installed, publishes to
  those channels are acknowledged again after each, every acknowledgement
  sent after the flood is in the owner's and the backup's history at its
  (epoch, seq) and is a dup when sent again, and no (epoch, seq) carries
  two payloads.
- A backup stopped (SIGSTOP) with --min-replicas 2 and a small
  --sync-memory, while one client alternates new publishes with retries of
  a key still waiting for the backup: the owner answers `overloaded`
  instead of dying; after SIGCONT every publish is answered, every
  acknowledged one is in history once, at its (epoch, seq), and every
  retry of the waiting key names that key's event.

Labels: integration, cluster."""
import collections
import signal
import subprocess
import sys
import time
import unittest

import zmq

import failover as F
import harness as H
from test_durable_cluster import IDS, DurableCluster

# Sends pre-packed PUSH publishes as fast as the brokers take them (PUSH
# blocks at its high-water mark) until killed: a load Python threads in the
# test process cannot reach.
FLOOD = r"""
import sys, msgpack, zmq
endpoints, channels = sys.argv[1].split(","), sys.argv[2].split(",")
ctx = zmq.Context()
socks = []
for e in endpoints:
    s = ctx.socket(zmq.PUSH)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(e)
    socks.append(s)
frames = [msgpack.packb({"ch": ch, "data": "flood-%d" % n}, use_bin_type=True)
          for n, ch in enumerate(channels * 20)]
n = 0
while True:
    socks[n % len(socks)].send(frames[n % len(frames)])
    n += 1
"""


def owned_backed(owner, backup, n, prefix):
    """n channel names owned by `owner` and backed by `backup` while all
    three brokers own."""
    names = ("%s%d" % (prefix, k) for k in range(100000))
    return [ch for ch in names
            if H.rendezvous_order(list(IDS), ch)[:2] == [owner, backup]][:n]


class DurableClusterSyncTest(unittest.TestCase):
    def alive(self, c, i):
        """Fails, with how it ended, when broker i exited."""
        p = c.brokers[i]
        if p.proc.poll() is not None:
            tail = [l for l in p.stderr_lines() if "ssert" in l or "ERROR" in l] \
                   or p.stderr_lines()[-5:]
            p.returncode = p.proc.returncode
            self.fail("%s exited %s: %s" % (c.ids[i], p.proc.returncode, "\n".join(tail[-5:])))
        return True

    def flood(self, endpoints, channels):
        proc = subprocess.Popen([sys.executable, "-c", FLOOD, ",".join(endpoints),
                                 ",".join(channels)], stdout=subprocess.DEVNULL)

        def stop():
            if proc.poll() is None:
                proc.kill()         # ours, by PID
            proc.wait(10)
        self.addCleanup(stop)
        return stop

    @staticmethod
    def head(c, i, ch):
        """Broker i's history head of ch (its store as owner)."""
        reply = H.Zmq(zmq.DEALER, c.endpoints[i]["router"], linger=0)
        try:
            reply.send({"op": "history", "ch": ch, "limit": 1, "since": 0, "rid": 1})
            header = reply.recv(10)[0]
        finally:
            reply.close()
        return header.get("head", 0) if "error" not in header else 0

    def tail(self, c, i, ch, since):
        """Broker i's history of ch after seq `since`: {(epoch, seq): data}."""
        dealer = H.Zmq(zmq.DEALER, c.endpoints[i]["router"], linger=0)
        events, header = [], None
        try:
            while header is None or (events and events[-1]["seq"] < header["head"]):
                dealer.send({"op": "history", "ch": ch, "limit": 1000, "rid": 7,
                             "since": events[-1]["seq"] if events else since})
                frames = dealer.recv(10)
                header = frames[0]
                self.assertNotIn("error", header, "%s history of %s" % (c.ids[i], ch))
                if len(frames) == 1:
                    break
                events += frames[1:]
        finally:
            dealer.close()
        return events

    @staticmethod
    def story(c):
        """Views, votes and warnings each broker logged (without the
        flood's late forwards): for failure messages."""
        lines = []
        for b, p in zip(c.ids, c.brokers):
            lines += ["%s: %s" % (b, {k: v for k, v in e.items() if k != "ts"})
                      for e in p.logs()
                      if "late" not in e.get("msg", "") and "rate limit" not in e.get("msg", "")
                      and (e.get("msg", "").startswith(("view", "history", "cluster", "took"))
                           or e.get("level") in ("warn", "error"))][-15:]
        return "\n".join(lines)

    def installed_then_acked(self, c, traffic, chans, owners):
        """Until b1 and b2 install a view newer than the one they have, of
        these owners, and then every channel is acknowledged again (b1 up
        all along)."""
        def last(i):
            views = [e for e in c.brokers[i].logs() if e.get("msg") == "view installed"]
            return int(views[-1]["number"]), views[-1]["owners"]
        before = [last(i)[0] for i in (0, 1)]
        moment = time.monotonic()

        def acked():
            traffic.check_alive()
            return all(sum(1 for a in list(t.acks) if a[3] > moment) >= 3
                       for t in traffic.acked)
        try:
            H.wait_until(lambda: self.alive(c, 0) and all(
                last(i)[0] > before[i] and last(i)[1] == owners for i in (0, 1)), 20,
                         "a view of owners %s at b1 and b2" % owners, interval=0.05)
            H.wait_until(lambda: self.alive(c, 0) and acked(), 30,
                         "3 acks of every channel after it", interval=0.05)
        except AssertionError as e:
            self.alive(c, 0)
            self.fail("%s\n%s" % (e, self.story(c)))

    # ------------------------------------------------------------ review #1

    def test_backup_killed_while_the_owner_is_flooded(self):
        c = DurableCluster(self, brokers=3, gateways=0, broker_args=[
            "--replication", "sync", "--failover-timeout", "1s", "--lease", "500ms",
            "--fsync", "off"])
        c.wait_sequencing()
        # Owned by b1, backed by b3: view {b1, b2} gives them b2 as backup
        chans = owned_backed("b1", "b3", 12, "x")
        traffic = F.Traffic(self, c, chans, via=(1,), rate=30, http=False, push=False,
                            direct=(0,)).start()
        traffic.tolerate(chans, 30)
        traffic.wait_acked(chans, 3, 0, what="before the flood")
        # Straight to b1's PULL (a flood through b2 too queues b2's view
        # messages behind its forwards for longer than a lease: no view)
        floods = [self.flood([c.endpoints[0]["publish"]], chans)]
        H.wait_until(lambda: self.alive(c, 0) and self.head(c, 0, chans[0]) > 2000, 30,
                     "the flood under way at b1", interval=0.05)
        # Each view below changes these channels' backup (b3 to b2, back,
        # and again) while b1 is flooded: each install is a chance for its
        # batch to hold their events
        c.halt(signal.SIGKILL, [2])
        self.installed_then_acked(c, traffic, chans, "[b1,b2]")
        c.restart([2])
        self.installed_then_acked(c, traffic, chans, "[b1,b2,b3]")
        c.halt(signal.SIGKILL, [2])
        self.installed_then_acked(c, traffic, chans, "[b1,b2]")
        for stop in floods:
            stop()
        calm = time.monotonic()
        traffic.wait_acked(chans, 3, calm, timeout=30, what="after the flood",
                           kinds=("dealer", "direct0"))
        self.alive(c, 0)
        traffic.stop()              # one last ack per channel
        self.alive(c, 0)
        acks = traffic.acks()
        seen = {}
        for ch, data, seq, epoch, _, _, _ in acks:
            self.assertEqual(seen.setdefault((ch, epoch, seq), data), data,
                             "%s (%s, %d) acknowledged with two payloads" % (ch, epoch, seq))
        # The acks sent after the flood are in history (older ones may have
        # left it: the flood passes --history-size) at b1, and at b2, its
        # backup now
        for ch in chans:
            mine = [a for a in acks if a[0] == ch and a[4] > calm]
            self.assertEqual(len({a[3] for a in mine}), 1, "%s: %s" % (ch, mine))
            since = min(a[2] for a in mine) - 1
            for i in (0, 1):
                missing = []

                def holds():
                    have = {(e["epoch"], e["seq"]): e["data"] for e in self.tail(c, i, ch, since)}
                    for (e, s), d in have.items():
                        self.assertEqual(seen.setdefault((ch, e, s), d), d,
                                         "%s (%s, %d): two payloads" % (ch, e, s))
                    missing[:] = [a[1:4] for a in mine if have.get((a[3], a[2])) != a[1]]
                    return not missing
                try:
                    H.wait_until(holds, 20, "", interval=0.1)
                except AssertionError:
                    self.fail("%s's history of %s lacks %d acks: %s"
                              % (c.ids[i], ch, len(missing), missing[:3]))
            # Sent again, a key is a dup of its first ack
            dealer = H.dealer(self, c.endpoints[1]["router"])
            for n, a in enumerate(mine[-3:]):
                key = "%s-%s" % (a[1], traffic.acked[0].stamp)
                reply = dealer.request({"ch": ch, "data": "again", "id": key, "rid": n + 1}, 10)
                self.assertEqual((reply.get("dup"), reply.get("seq"), reply.get("epoch")),
                                 (True, a[2], a[3]), "%s: %s" % (key, reply))
        self.alive(c, 0)

    # ------------------------------------------------------------ review #2

    def test_retries_of_a_waiting_key_leave_room_for_the_batch(self):
        c = DurableCluster(self, brokers=3, gateways=0, broker_args=[
            "--replication", "sync", "--min-replicas", "2", "--failover-timeout", "30s",
            "--lease", "2s", "--sync-memory", "1M", "--fsync", "off"])
        c.wait_sequencing()
        ch = owned_backed("b1", "b3", 1, "r")[0]
        dealer = H.dealer(self, c.endpoints[0]["router"])
        replies = {}

        def take(timeout):
            r = dealer.recv(timeout)[0]       # a history answer's events follow it
            replies[r["rid"]] = r
        first = c.acked(0, ch, "k0", key="k0")      # b3 holds ch in sync
        b3 = c.brokers[2]
        b3.send_signal(signal.SIGSTOP)
        self.addCleanup(lambda: b3.send_signal(signal.SIGCONT))
        waiting = "%s/metrics" % c.brokers[0].http
        dealer.send({"ch": ch, "data": "k1", "id": "k1", "rid": 1})
        H.wait_until(lambda: H.metric(c.brokers[0].http, "herald_sync_waiting_events") >= 1,
                     10, "k1 waiting for b3 (%s)" % waiting, interval=0.02)
        # Bursts of [a new 2 KB publish, a retry of k1]: each read in one
        # turn, so one batch; paced by a history ask answered after it
        sent, rid, pad = {1: ("k1", "k1")}, 1, "p" * 2000
        bursts_full = 0
        deadline = time.monotonic() + 20
        while bursts_full < 20 and time.monotonic() < deadline:
            for _ in range(50):
                rid += 1
                sent[rid] = ("n%d" % rid, pad + str(rid))
                dealer.send({"ch": ch, "data": pad + str(rid), "id": "n%d" % rid, "rid": rid})
                rid += 1
                sent[rid] = ("k1", "k1")
                dealer.send({"ch": ch, "data": "k1", "id": "k1", "rid": rid})
            rid += 1
            ping = rid
            dealer.send({"op": "history", "ch": ch, "limit": 1, "since": 0, "rid": ping})
            while ping not in replies:
                self.alive(c, 0)
                try:
                    take(1.0)
                except AssertionError:      # none yet: b1 alive? then again
                    pass
            if any(r.get("error") == "overloaded" for k, r in replies.items() if k > ping - 101):
                bursts_full += 1
        self.alive(c, 0)
        self.assertGreater(bursts_full, 0, "--sync-memory never filled")
        overloaded = sum(1 for r in replies.values() if r.get("error") == "overloaded")
        b3.send_signal(signal.SIGCONT)
        pings = {k for k in replies if k not in sent}

        def all_answered():
            self.alive(c, 0)
            try:
                take(0.5)
            except AssertionError:
                pass
            return all(k in replies for k in sent)
        H.wait_until(all_answered, 30, "every publish answered after SIGCONT", interval=0)
        self.alive(c, 0)
        errors = collections.Counter(r.get("error") for k, r in replies.items() if k not in pings)
        self.assertLessEqual(set(errors), {None, "overloaded"}, errors)
        # Every retry of k1 names k1's one event; every new publish acked
        # is in b1's history once, at its (epoch, seq)
        k1 = replies[1]
        self.assertIsNone(k1.get("error"), k1)
        self.assertEqual(k1["epoch"], first["epoch"])
        acked = {}
        for k, (key, data) in sent.items():
            r = replies[k]
            if r.get("error"):
                continue
            if key == "k1":
                self.assertEqual((r["seq"], r["epoch"]), (k1["seq"], k1["epoch"]), r)
            else:
                self.assertFalse(r.get("dup"), r)
                self.assertNotIn((r["epoch"], r["seq"]), acked, r)
                acked[(r["epoch"], r["seq"])] = data
        self.assertGreater(len(acked), 0)
        acked[(k1["epoch"], k1["seq"])] = "k1"
        events = self.tail(c, 0, ch, first["seq"])
        at = collections.Counter((e["epoch"], e["seq"]) for e in events)
        self.assertEqual([k for k, n in at.items() if n > 1], [])
        history = {(e["epoch"], e["seq"]): e["data"] for e in events}
        wrong = [(k, d[:8], history.get(k, "")[:8]) for k, d in acked.items()
                 if history.get(k) != d]
        self.assertEqual(wrong, [], "acks not in b1's history (of %d, %d overloaded)"
                         % (len(acked), overloaded))
        datas = collections.Counter(e["data"] for e in events)
        self.assertEqual([d[:8] for d, n in datas.items() if n > 1], [])


if __name__ == "__main__":
    unittest.main()
