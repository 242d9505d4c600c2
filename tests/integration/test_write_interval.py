"""--write-interval: a subscription group is written at most once per
interval. A busy stream's events are held and then arrive together, in
order; a quiet stream on the same worker is written at once."""
import unittest

import harness as h


class WriteInterval(unittest.TestCase):
    def test_busy_stream_is_coalesced_and_a_quiet_one_is_not_held(self):
        herald = h.start(self, "run", "--workers", "1", "--write-interval", "1s")
        push = h.pusher(self, herald.pull)
        hot = h.subscribed(self, herald.http, ["hot"])
        quiet = h.subscribed(self, herald.http, ["quiet"])
        push.send({"ch": "hot", "data": 1})
        first = hot.wait_events(1)[0]                   # written: the interval starts
        for i in (2, 3, 4):
            push.send({"ch": "hot", "data": i})
        push.send({"ch": "quiet", "data": "now"})
        quiet_event = quiet.wait_events(1)[0]
        held = hot.wait_events(4, timeout=10)[1:]
        self.assertEqual([e.json["data"] for e in held], [2, 3, 4])
        self.assertLess(quiet_event.t, held[0].t, "the quiet stream waited for the busy one")
        self.assertGreater(held[0].t - first.t, 0.5, "the busy stream was not held")


if __name__ == "__main__":
    unittest.main()
