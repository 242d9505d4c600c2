"""A handoff chunk that comes after its channel was taken over must not
rewind the channel (docs/cluster.md, "Graceful handoff": a source silent
past --handoff-timeout is taken over with a new epoch). Real processes
(tests/integration/cluster.py), 3 brokers, no gateway.

b3 rejoins; while it waits out its --hold-down, b2 (owner of channel ch
meanwhile, epoch E) is paused, so the view that promotes b3 is installed
by b1 and b3 alone and b2's handoff of ch cannot come. Past
--handoff-timeout, b3 takes ch over with a new epoch E' and acknowledges
a publish in it. Then b2 resumes, installs that view and hands ch over
(E, its head). b3 must refuse that chunk: installing it would put the
stream back to epoch E, older than E' already acknowledged, and the next
publish would be acknowledged in E (gateways ignore an older epoch: lost
to every subscriber; E's history replaced E'). Labels: integration,
cluster."""
import signal
import time
import unittest

import cluster
import harness as H

# Asynchronous replication: with sync, b3's first event of its new epoch
# waits for its backup, the paused b2, until the view drops b2, and then b2
# is no handoff source any more: no late chunk would ever come to refuse
ARGS = ["--failover-timeout", "8s", "--lease", "2s", "--hold-down", "2s",
        "--handoff-timeout", "300ms", "--replication", "async"]


class LateChunk(unittest.TestCase):
    def test_a_chunk_past_the_takeover_does_not_rewind_the_channel(self):
        c = cluster.Cluster(self, brokers=3, gateways=0, broker_args=ARGS)
        c.wait_settled()
        # ch: b3's with all three owners, b2's without b3
        ch = next(name for name in ("late%d" % n for n in range(2000))
                  if c.cluster_json(0, name)["channel"]["owner"] == "b3"
                  and c.cluster_json(0, name)["channel"].get("backup") == "b2")
        c.brokers[2].stop()
        H.wait_until(lambda: all(c.cluster_json(i)["view"]["owners"] == ["b1", "b2"]
                                 for i in (0, 1)), 15, "a view of b1 and b2", interval=0.05)
        self.assertEqual(c.owner(ch, 1), 1)
        old = [c.acked(1, ch, "old-%d" % n) for n in range(2)]
        c.brokers[2] = c.start_broker(2)
        H.wait_until(lambda: "b3" in c.cluster_json(0)["view"]["members"], 15,
                     "b3 a member again", interval=0.05)
        b2 = c.brokers[1]
        b2.send_signal(signal.SIGSTOP)
        try:
            H.wait_until(lambda: "b3" in c.cluster_json(2)["view"]["owners"], 6,
                         "b3 an owner (b2 paused)", interval=0.05)
            H.wait_until(lambda: H.metric(c.brokers[2].http,
                                          "herald_cluster_takeovers_total") > 0,
                         5, "b3 takes over b2's channels", interval=0.05)
            new = c.acked(2, ch, "new-1")
        finally:
            b2.send_signal(signal.SIGCONT)
        self.assertNotEqual(new["epoch"], old[-1]["epoch"], (old, new))
        # b2 resumes: it installs the promoting view and sends ch (E, head 2)
        H.wait_until(lambda: c.cluster_json(1)["view"]["number"]
                     == c.cluster_json(2)["view"]["number"], 10, "b2 in b3's view",
                     interval=0.05)
        # Until b2 has had time to hand ch over (it sends at once, again
        # every 500 ms until confirmed) or has dropped it (confirmed)
        H.wait_until(lambda: H.metric(b2.http, "herald_broker_channels") == 0
                     or H.metric(c.brokers[2].http, "herald_cluster_handoff_received_total"),
                     5, "b2's handoff of ch sent and answered", interval=0.05)
        time.sleep(0.3)     # not synchronisation: a late chunk gets its chance
        after = c.acked(2, ch, "new-2")
        self.assertEqual((after["epoch"], after["seq"]), (new["epoch"], new["seq"] + 1),
                         "ch went back from %s to %s after b2's late handoff"
                         % ((new["epoch"], new["seq"]), (after["epoch"], after["seq"])))
        c.stop()

    def test_a_member_waiting_out_its_hold_down_takes_nothing_over(self):
        # A rejoined broker is a member, not an owner, until --hold-down:
        # no channel comes to it, so no handoff can time out there
        c = cluster.Cluster(self, brokers=3, gateways=0,
                            broker_args=["--hold-down", "3s", "--handoff-timeout", "100ms"])
        c.wait_settled()
        c.brokers[2].stop()
        c.brokers[2] = c.start_broker(2)
        H.wait_until(lambda: "b3" in c.cluster_json(2)["view"]["members"], 15,
                     "b3 a member again", interval=0.05)
        H.wait_until(lambda: "b3" in c.cluster_json(2)["view"]["owners"], 15,
                     "b3 an owner after its hold-down", interval=0.05)
        logs = [e.get("msg") for e in c.brokers[2].logs()]
        self.assertEqual(H.metric(c.brokers[2].http, "herald_cluster_takeovers_total"), 0,
                         [m for m in logs if "timed out" in (m or "")])
        c.stop()


if __name__ == "__main__":
    unittest.main()
