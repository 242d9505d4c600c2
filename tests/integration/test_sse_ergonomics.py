"""SSE ergonomics (docs/protocol.md §5, §7, §8): typed=1 event lines, a
cursor of another channel set answered with cursor-mismatch resets instead
of 400, and polling GET /v1/history with the SSE cursor of a channel set."""
import os
import signal
import unittest
import urllib.parse

import harness as h


class Ergonomics(unittest.TestCase):
    def setUp(self):
        # one worker: streams of one channel set then share a subscription
        # group (and its rendered frames) unless their transports differ
        self.herald = h.start(self, "run", "--history-size", "50", "--workers", "1")
        self.push = h.pusher(self, self.herald.pull)

    def fill(self, channel, count, type="t"):
        before = self.poll([channel]).json["head"]      # one channel, no cursor: the old form
        for i in range(count):
            ev = {"ch": channel, "data": {"i": i}}
            if type:
                ev["type"] = type
            self.push.send(ev)
        h.wait_until(lambda: self.poll([channel]).json["head"] >= before + count)

    def poll(self, channels, **params):
        query = [("channel", c) for c in channels] + list(params.items())
        return h.http("GET", self.herald.http + "/v1/history?" + urllib.parse.urlencode(query))

    # ------------------------------------------------------------ typed=1

    def test_typed_adds_event_lines_and_default_stays_message(self):
        typed = h.subscribed(self, self.herald.http, ["orders"], query={"typed": "1"})
        plain = h.subscribed(self, self.herald.http, ["orders"])
        self.push.send({"ch": "orders", "type": "reservation-created", "data": {"id": 1}})
        self.push.send({"ch": "orders", "data": {"id": 2}})                  # no type
        self.push.send({"ch": "orders", "type": "herald-reset", "data": {"id": 3}})
        got = typed.wait_events(3)
        self.assertEqual([e.type for e in got], ["reservation-created", "message", "message"])
        self.assertEqual([e.json["data"]["id"] for e in got], [1, 2, 3])
        # the envelope is the same JSON either way, with its type
        self.assertEqual(got[0].json["type"], "reservation-created")
        self.assertEqual([e.type for e in plain.wait_events(3)], ["message"] * 3)
        # a typed stream resumes like any other: its ids are cursors
        again = h.sse(self, self.herald.http, ["orders"], query={"typed": "1"},
                      last_event_id=got[0].id)
        self.assertEqual([(e.type, e.json["seq"]) for e in again.wait_events(2)],
                         [("message", 2), ("message", 3)])

    # ------------------------------------------- cursor of another channel set

    def test_cursor_of_another_set_resets_each_channel_and_streams_on(self):
        self.fill("a", 3)
        old = h.subscribed(self, self.herald.http, ["x", "y"])
        c = h.sse(self, self.herald.http, ["a", "b"], last_event_id=old.positions[0])
        self.assertEqual(c.status, 200, c.body)
        resets = c.wait_events(2, type="herald-reset")
        by_channel = {e.json["channel"]: e.json for e in resets}
        self.assertEqual(by_channel["a"]["reason"], "cursor-mismatch")
        self.assertEqual(by_channel["a"]["seq"], 3)
        self.assertRegex(by_channel["a"]["epoch"], h.EPOCH_RE)
        self.assertEqual(by_channel["b"], {"channel": "b", "reason": "cursor-mismatch",
                                           "epoch": None, "seq": 0})
        # ... then live events, and the last id resumes the new set exactly
        self.push.send({"ch": "a", "data": {"i": 99}})
        live = c.wait_events(1, type="message")[0]
        self.assertEqual(live.json["seq"], 4)
        m = h.metrics(self.herald.http)
        self.assertEqual(m['herald_resets_total{reason="cursor-mismatch"}'], 2)
        self.assertEqual(m.get('herald_errors_total{code="bad_cursor"}', 0), 0)
        c.close()
        self.push.send({"ch": "a", "data": {"i": 100}})
        resumed = h.sse(self, self.herald.http, ["a", "b"], last_event_id=live.id)
        self.assertEqual([e.json["seq"] for e in resumed.wait_events(1)], [5])
        self.assertEqual([e for e in resumed.events if e.type == "herald-reset"], [])

    # ------------------------------------------------- polling with a cursor

    def test_poll_from_an_sse_cursor_returns_every_channel_after_it(self):
        stream = h.subscribed(self, self.herald.http, ["p", "q"])
        start = stream.positions[0]
        for i in range(3):
            self.push.send({"ch": "p", "type": "t", "data": {"i": i}})
        self.push.send({"ch": "q", "type": "t", "data": {"i": 10}})
        stream.wait_events(4)
        r = self.poll(["q", "p"], cursor=start)
        self.assertEqual(r.status, 200, r.body)
        body = r.json
        self.assertEqual(sorted((e["channel"], e["seq"]) for e in body["events"]),
                         [("p", 1), ("p", 2), ("p", 3), ("q", 1)])
        self.assertEqual((body["resets"], body["unavailable"], body["more"]), ([], [], False))
        # the poll's cursor is the stream's cursor at the same place
        self.assertEqual(body["cursor"], stream.events[-1].id)
        # nothing new: the same cursor back, no events
        again = self.poll(["p", "q"], cursor=body["cursor"]).json
        self.assertEqual((again["events"], again["cursor"]), ([], body["cursor"]))
        # and the poll's cursor resumes an SSE stream exactly
        self.push.send({"ch": "q", "type": "t", "data": {"i": 11}})
        resumed = h.sse(self, self.herald.http, ["p", "q"], last_event_id=body["cursor"])
        self.assertEqual([(e.json["channel"], e.json["seq"]) for e in resumed.wait_events(1)],
                         [("q", 2)])

    def test_limit_pages_through_the_channels_with_more(self):
        self.fill("m1", 5)
        self.fill("m2", 4)
        seen, cursor, rounds = [], "", 0
        body = self.poll(["m1", "m2"], cursor=cursor, limit=3).json   # empty cursor: from now
        self.assertEqual((body["events"], body["more"]), ([], False))
        body = self.poll(["m1", "m2"], limit=3).json                  # no cursor: from the start
        while True:
            rounds += 1
            self.assertLessEqual(len(body["events"]), 3)
            seen += [(e["channel"], e["seq"]) for e in body["events"]]
            if not body["more"]:
                break
            body = self.poll(["m1", "m2"], cursor=body["cursor"], limit=3).json
        # every event once, each channel in order (channels share each poll)
        self.assertEqual(sorted(seen), [("m1", s) for s in range(1, 6)] + [("m2", s) for s in range(1, 5)])
        self.assertEqual([x for x in seen if x[0] == "m1"], [("m1", s) for s in range(1, 6)])
        self.assertEqual([x for x in seen if x[0] == "m2"], [("m2", s) for s in range(1, 5)])
        self.assertEqual(rounds, 3)             # 3 + 3 + 3 events, the last with more: false

    def test_a_busy_channel_does_not_starve_the_others(self):
        self.fill("busy", 40)
        self.fill("calm", 2)
        start = self.poll(["busy", "calm", "zzz"], cursor="now").json["cursor"]
        for i in range(30):
            self.push.send({"ch": "busy", "type": "t", "data": {"i": i}})
        self.push.send({"ch": "calm", "type": "t", "data": {"i": 99}})
        h.wait_until(lambda: self.poll(["calm"]).json["head"] == 3)
        h.wait_until(lambda: self.poll(["busy"]).json["head"] == 70)
        # limit 10 over 3 channels: each gets up to 3 first, busy the rest
        body = self.poll(["busy", "calm", "zzz"], cursor=start, limit=10).json
        got = [(e["channel"], e["seq"]) for e in body["events"]]
        self.assertIn(("calm", 3), got)
        self.assertEqual([x for x in got if x[0] == "busy"], [("busy", s) for s in range(41, 50)])
        self.assertTrue(body["more"])

    def test_no_cursor_reads_what_is_kept_whatever_the_limit(self):
        # every channel from its oldest kept event, also those the limit
        # kept the first poll from reaching (not an expired reset later)
        self.fill("ka", 55)                     # 1..5 evicted (--history-size 50)
        self.fill("kb", 53)                     # 1..3 evicted
        self.fill("kc", 0)
        seen, resets, body = [], [], self.poll(["ka", "kb", "kc"], limit=30).json
        while True:
            seen += [(e["channel"], e["seq"]) for e in body["events"]]
            resets += body["resets"]
            if not body["more"]:
                break
            self.assertLess(len(seen), 200)
            body = self.poll(["ka", "kb", "kc"], cursor=body["cursor"], limit=30).json
        self.assertEqual(resets, [])
        for channel, first, last in (("ka", 6, 55), ("kb", 4, 53)):
            self.assertEqual([x for x in seen if x[0] == channel],
                             [(channel, s) for s in range(first, last + 1)])
        self.assertEqual(len(seen), 100)

    def test_now_gives_the_heads_and_a_poll_after_it_only_new_events(self):
        self.fill("n", 4)
        body = self.poll(["n"], cursor="now").json
        self.assertEqual((body["events"], body["more"]), ([], False))
        self.push.send({"ch": "n", "type": "t", "data": {"i": 50}})
        h.wait_until(lambda: self.poll(["n"], cursor=body["cursor"]).json["events"])
        after = self.poll(["n"], cursor=body["cursor"]).json
        self.assertEqual([e["seq"] for e in after["events"]], [5])

    def test_poll_resets(self):
        self.fill("old", 60)                    # 1..10 evicted (--history-size 50)
        at_head = self.poll(["old"], cursor="now").json["cursor"]
        forged = self.poll(["old", "other"], cursor="now").json["cursor"]
        # no cursor: from what each channel keeps (not an expired reset)
        body = self.poll(["old", "other"]).json
        self.assertEqual(([e["seq"] for e in body["events"]], body["resets"]),
                         (list(range(11, 61)), []))
        self.assertEqual(h.decode_cursor(body["cursor"])["positions"][0][1], 60)
        # a cursor of another set: a cursor-mismatch per channel, at its head
        body = self.poll(["old"], cursor=forged).json
        self.assertEqual([(r["channel"], r["reason"], r["seq"]) for r in body["resets"]],
                         [("old", "cursor-mismatch", 60)])
        self.assertEqual(body["events"], [])
        self.assertEqual(body["cursor"], at_head)
        # a position whose events expired: expired, and the cursor moves to the head
        from test_resets import encode_cursor
        head = self.poll(["old"]).json           # one channel without cursor: the old form
        stale = encode_cursor(["old"], [(head["epoch"], 5)])
        body = self.poll(["old"], cursor=stale).json
        self.assertEqual([(r["reason"], r["epoch"], r["seq"]) for r in body["resets"]],
                         [("expired", head["epoch"], 60)])
        self.assertEqual(body["cursor"], at_head)
        ahead = encode_cursor(["old"], [(head["epoch"], 70)])
        self.assertEqual(self.poll(["old"], cursor=ahead).json["resets"][0]["reason"],
                         "cursor-ahead")

    def test_each_channel_is_read_from_its_own_history(self):
        # A channel whose first page ends it (a reset, cursor=now, another
        # set's cursor) must not hand that page to the next channel
        from test_resets import encode_cursor
        self.fill("ha", 60)                     # 1..10 evicted (--history-size 50)
        self.fill("hb", 2)
        epoch, epoch_b = self.poll(["ha"]).json["epoch"], self.poll(["hb"]).json["epoch"]
        now = self.poll(["ha", "hb"], cursor="now").json
        self.assertEqual(h.decode_cursor(now["cursor"])["positions"],
                         [(epoch, 60), (epoch_b, 2)])
        other = self.poll(["x", "y"], cursor="now").json["cursor"]
        mismatch = self.poll(["ha", "hb"], cursor=other).json
        self.assertEqual([(r["channel"], r["seq"]) for r in mismatch["resets"]],
                         [("ha", 60), ("hb", 2)])
        self.assertEqual(mismatch["cursor"], now["cursor"])
        # ha's position expired: its reset, then hb's own events
        body = self.poll(["ha", "hb"], cursor=encode_cursor(["ha", "hb"],
                                                             [(epoch, 5), ("", 0)])).json
        self.assertEqual([(r["channel"], r["reason"], r["seq"]) for r in body["resets"]],
                         [("ha", "expired", 60)])
        self.assertEqual([(e["channel"], e["seq"]) for e in body["events"]],
                         [("hb", 1), ("hb", 2)])
        self.assertEqual(body["cursor"], now["cursor"])
        # from now, hb's next event: nothing skipped
        self.fill("hb", 1)
        body = self.poll(["ha", "hb"], cursor=now["cursor"]).json
        self.assertEqual(([(e["channel"], e["seq"]) for e in body["events"]], body["resets"]),
                         ([("hb", 3)], []))

    def test_now_and_mismatch_with_a_silent_broker(self):
        # A channel whose broker does not answer has no known head: it is
        # listed as unavailable (not passed off as a channel that does not
        # exist), and the next poll resets it at its head instead of
        # reading it from its start (events from before `now`).
        broker, gw = h.start_split(self, gateway_args=("--broker-timeout", "1s",
                                                       "--workers", "1"))
        push = h.pusher(self, broker.pull)

        def poll(channels, **params):
            query = [("channel", c) for c in channels] + list(params.items())
            r = h.http("GET", gw.http + "/v1/history?" + urllib.parse.urlencode(query))
            self.assertEqual(r.status, 200, r.body)
            return r.json
        for i in range(3):
            push.send({"ch": "u", "type": "t", "data": {"i": i}})
        h.wait_until(lambda: poll(["u"]).get("head") == 3)
        other = poll(["x", "y"], cursor="now")["cursor"]
        os.kill(broker.pid, signal.SIGSTOP)
        try:
            now = poll(["u", "v"], cursor="now")
            mismatch = poll(["u", "v"], cursor=other)
        finally:
            os.kill(broker.pid, signal.SIGCONT)
        for body in (now, mismatch):
            self.assertEqual((body["events"], body["resets"], body["unavailable"]),
                             ([], [], ["u", "v"]), body)
        h.wait_until(lambda: poll(["u"]).get("head") == 3)
        # as a Last-Event-ID too: u is reset at its head, nothing replayed
        stream = h.sse(self, gw.http, ["u", "v"], last_event_id=now["cursor"])
        resets = {e.json["channel"]: e.json["seq"]
                  for e in stream.wait_events(2, type="herald-reset")}
        self.assertEqual(resets, {"u": 3, "v": 0})
        self.assertEqual([e for e in stream.events if e.type == "message"], [])
        stream.close()
        for body in (now, mismatch):
            after = poll(["u", "v"], cursor=body["cursor"])
            self.assertEqual(after["events"], [], after)        # none of 1..3
            resets = {r["channel"]: (r["epoch"] is not None, r["seq"])
                      for r in after["resets"]}
            self.assertEqual(resets, {"u": (True, 3), "v": (False, 0)}, after)
            body["next"] = after["cursor"]
        push.send({"ch": "u", "type": "t", "data": {"i": 3}})
        for body in (now, mismatch):
            h.wait_until(lambda: poll(["u", "v"], cursor=body["next"])["events"])
            after = poll(["u", "v"], cursor=body["next"])
            self.assertEqual([(e["channel"], e["seq"]) for e in after["events"]], [("u", 4)])
            self.assertEqual(after["resets"], [])

    def test_bad_polls(self):
        cases = [
            (dict(cursor="not a cursor!"), 400, "bad_cursor"),
            (dict(cursor="now", since="3"), 400, "bad_request"),
            (dict(cursor="now", epoch="abc"), 400, "bad_request"),
            (dict(cursor="now", limit="0"), 400, "bad_request"),
            (dict(cursor="now", limit="-1"), 400, "bad_request"),
        ]
        for params, status, code in cases:
            r = self.poll(["a", "b"], **params)
            self.assertEqual((r.status, r.json["error"]), (status, code), params)
        r = h.http("GET", self.herald.http + "/v1/history?cursor=now")
        self.assertEqual((r.status, r.json["error"]), (400, "bad_channel"))
        # two cursors: which one is meant? (the first one silently won: with
        # cursor=now first, the other's unread events were skipped)
        for query in ("cursor=now&cursor=AAAA", "cursor=&cursor=now", "cursor&cursor=now"):
            r = h.http("GET", self.herald.http + "/v1/history?channel=a&channel=b&" + query)
            self.assertEqual((r.status, r.json["error"]), (400, "bad_request"), query)
            self.assertIn("once", r.json["message"])
        r = self.poll(["c%d" % i for i in range(65)])
        self.assertEqual((r.status, r.json["error"]), (400, "too_many_channels"))


if __name__ == "__main__":
    unittest.main()
