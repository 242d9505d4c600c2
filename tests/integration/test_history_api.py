"""GET /v1/history, the polling fallback, with the reset semantics of
resume, and the cost of a resume (time to replay 1,000 events)."""
import time
import unittest

import harness as h


class HistoryApi(unittest.TestCase):
    def setUp(self):
        self.herald = h.start(self, "run", "--history-size", "50")
        self.push = h.pusher(self, self.herald.pull)

    def history(self, **params):
        query = "&".join("%s=%s" % kv for kv in params.items())
        return h.http("GET", self.herald.http + "/v1/history?" + query)

    def fill(self, channel, count):
        for i in range(count):
            self.push.send({"ch": channel, "type": "t", "data": {"i": i}})
        h.wait_until(lambda: self.history(channel=channel).json["head"] >= count)

    def test_range_after_since_with_limit(self):
        self.fill("h", 20)
        r = self.history(channel="h", since=5, limit=3)
        self.assertEqual(r.status, 200)
        body = r.json
        self.assertEqual((body["first"], body["head"], body["reset"]), (1, 20, None))
        self.assertEqual([e["seq"] for e in body["events"]], [6, 7, 8])
        self.assertEqual(body["events"][0]["data"], {"i": 5})
        self.assertEqual(body["events"][0]["type"], "t")
        everything = self.history(channel="h", epoch=body["epoch"]).json
        self.assertEqual([e["seq"] for e in everything["events"]], list(range(1, 21)))

    def test_resets(self):
        self.fill("r", 60)                          # 1..10 evicted
        epoch = self.history(channel="r").json["epoch"]
        cases = {
            "expired": dict(channel="r", since=5, epoch=epoch),
            "epoch-changed": dict(channel="r", since=5, epoch="0000000000000000"),
            "cursor-ahead": dict(channel="r", since=61, epoch=epoch),
            "unknown-channel": dict(channel="nothing-here", since=3, epoch=epoch),
        }
        for reason, params in cases.items():
            body = self.history(**params).json
            self.assertEqual((body["reset"], body["events"]), (reason, []), reason)
        self.assertEqual(self.history(channel="nothing-here").json,
                         {"channel": "nothing-here", "epoch": None, "first": 1, "head": 0,
                          "events": [], "reset": None})

    def test_bad_parameters(self):
        for query, code in (("channel=a%7Cb", "bad_channel"), ("", "bad_channel"),
                            ("channel=a&since=-1", "bad_request"),
                            ("channel=a&since=x", "bad_request"),
                            ("channel=a&limit=1e3", "bad_request"),
                            ("channel=a&epoch=%20", "bad_request")):
            r = h.http("GET", self.herald.http + "/v1/history?" + query)
            self.assertEqual((r.status, r.json["error"]), (400, code), query)


class ResumeCost(unittest.TestCase):
    def test_replaying_1000_events_to_one_client(self):
        """Reports the time from connect to the 1,000th replayed event; the
        recent-events ring is off, so it measures the broker path."""
        herald = h.start(self, "run", "--recent-events", "0")
        push = h.pusher(self, herald.pull)
        first = h.subscribed(self, herald.http, ["cost"])
        cursor = first.last_id
        first.close()
        for i in range(1000):
            push.send({"ch": "cost", "data": {"i": i, "pad": "x" * 80}})
        h.wait_until(lambda: h.metric(herald.http, "herald_broker_events_total") >= 1000)
        started = time.monotonic()
        c = h.sse(self, herald.http, ["cost"], last_event_id=cursor)
        events = c.wait_events(1000, timeout=30)
        elapsed = time.monotonic() - started
        self.assertEqual([e.json["seq"] for e in events], list(range(1, 1001)))
        print("\nresume: 1,000 events replayed in %.1f ms" % (elapsed * 1000))


class RecentRingBound(unittest.TestCase):
    def test_resume_works_when_the_gateways_recent_events_are_capped(self):
        """--recent-memory far below the missed range: the gateway keeps few
        events and the rest comes from the broker, in order."""
        herald = h.start(self, "run", "--recent-memory", "2K", "--workers", "1")
        push = h.pusher(self, herald.pull)
        keeper = h.subscribed(self, herald.http, ["ring"])      # keeps the channel alive
        first = h.subscribed(self, herald.http, ["ring"])
        cursor = first.last_id
        first.close()
        for i in range(300):
            push.send({"ch": "ring", "data": {"i": i, "pad": "x" * 100}})
        keeper.wait_events(300)
        c = h.sse(self, herald.http, ["ring"], last_event_id=cursor)
        self.assertEqual([e.json["seq"] for e in c.wait_events(300)], list(range(1, 301)))


if __name__ == "__main__":
    unittest.main()
