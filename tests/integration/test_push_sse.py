"""PUSH (MessagePack) in, Server-Sent Events out: order, envelope, cursor,
retry and heartbeats (docs/protocol.md §2, §5, §6)."""
import json
import threading
import time
import unittest

import msgpack

import harness as H

NESTED = {"order": {"id": 7, "lines": [{"sku": "A-1", "qty": 2, "price": 12.5},
                                       {"sku": "B", "qty": 1, "price": None}]},
          "ok": True, "tags": [], "meta": {},
          "text": "café 日本語 🎉 \"quoted\" back\\slash\nnew line\ttab \u0001 </script>"}


class PushToSse(unittest.TestCase):
    def setUp(self):
        self.h = H.start(self, "run", "--heartbeat", "200ms")
        self.push = H.pusher(self, self.h.pull)

    def test_events_arrive_in_order_with_seq_1_2_3_and_data_intact(self):
        client = H.subscribed(self, self.h.http, ["orders"])
        sent = [{"ch": "orders", "data": NESTED, "type": "created", "id": "order-7"},
                {"ch": "orders", "data": "just a string"},
                {"ch": "orders", "data": [1, -2, 3.25, None, False, 2 ** 40]},
                {"ch": "orders", "data": None, "type": "deleted"}]
        before = int(time.time() * 1000)
        for frame in sent:
            self.push.send(frame)
        got = [e.json for e in client.wait_events(len(sent))]
        after = int(time.time() * 1000)
        self.assertEqual([e["seq"] for e in got], [1, 2, 3, 4])
        self.assertEqual(len({e["epoch"] for e in got}), 1)
        self.assertRegex(got[0]["epoch"], H.EPOCH_RE)
        for frame, env in zip(sent, got):
            self.assertEqual(env["channel"], "orders")
            self.assertEqual(env["data"], frame["data"])
            self.assertEqual(env.get("type"), frame.get("type"))
            self.assertEqual(env.get("id"), frame.get("id"))
            self.assertTrue(before - 5 <= env["ts"] <= after + 5, (before, env["ts"], after))
        self.assertEqual([e["ts"] for e in got], sorted(e["ts"] for e in got))

    def test_data_line_is_the_compact_envelope_with_fields_in_order(self):
        client = H.subscribed(self, self.h.http, ["env"])
        self.push.send({"ch": "env", "data": NESTED, "type": "t1", "id": "k-1"})
        self.push.send({"ch": "env", "data": {"a": 1}})
        full, bare = client.wait_events(2)
        for ev in (full, bare):
            self.assertEqual(ev.type, "message")        # no event: line
            self.assertNotIn("\n", ev.data)             # one data: line
            self.assertTrue(H.is_compact_json(ev.data), ev.data)
        keys = lambda ev: [k for k, _ in json.loads(ev.data, object_pairs_hook=lambda p: p)]
        self.assertEqual(keys(full), ["channel", "seq", "epoch", "ts", "type", "data", "id"])
        self.assertEqual(keys(bare), ["channel", "seq", "epoch", "ts", "data"])
        # the raw stream carries the text exactly as one data: line per event
        self.assertIn("\ndata: " + full.data + "\n\n", client.raw)

    def test_stream_opens_with_retry_then_a_position_before_any_event(self):
        client = H.subscribed(self, self.h.http, ["open"])
        self.assertEqual(client.headers.get("content-type"), "text/event-stream")
        self.assertEqual(client.headers.get("cache-control"), "no-cache")
        self.assertEqual(client.headers.get("x-accel-buffering"), "no")
        self.assertTrue(client.chunked)
        self.assertTrue(client.raw.startswith("retry: 2000\n"), client.raw[:80])
        self.assertEqual(client.retries, [2000])
        self.assertEqual(client.log[:2], ["retry", "position"])
        cursor = H.decode_cursor(client.positions[0])
        self.assertEqual(cursor["channel_hash"], H.channel_set_hash(["open"]))
        self.assertEqual(cursor["positions"], [("", 0)])   # channel did not exist yet

    def test_retry_follows_sse_retry_flag(self):
        other = H.start(self, "run", "--sse-retry", "1500ms")
        client = H.subscribed(self, other.http, ["r"])
        self.assertEqual(client.retries, [1500])

    def test_every_event_has_a_cursor_id_naming_its_position(self):
        client = H.subscribed(self, self.h.http, ["cur"])
        for i in range(3):
            self.push.send({"ch": "cur", "data": i})
        events = client.wait_events(3)
        ids = [e.id for e in events]
        self.assertEqual(len(set(ids)), 3, ids)
        for ev in events:
            self.assertRegex(ev.id, r"^[A-Za-z0-9_-]+$")         # base64url, no padding
            cursor = H.decode_cursor(ev.id)
            env = ev.json
            self.assertEqual(cursor["channel_hash"], H.channel_set_hash(["cur"]))
            self.assertEqual(cursor["positions"], [(env["epoch"], env["seq"])])
        self.assertEqual(client.last_id, ids[-1])

    def test_subscriber_arriving_late_starts_at_the_live_position(self):
        early = H.subscribed(self, self.h.http, ["late"])
        self.push.send({"ch": "late", "data": 1})
        self.push.send({"ch": "late", "data": 2})
        early.wait_events(2)
        late = H.subscribed(self, self.h.http, ["late"])
        epoch = early.events[0].json["epoch"]
        self.assertEqual(H.decode_cursor(late.positions[0])["positions"], [(epoch, 2)])
        self.push.send({"ch": "late", "data": 3})
        self.assertEqual([e.json["seq"] for e in late.wait_events(1)], [3])
        self.assertEqual([e.json["seq"] for e in early.wait_events(3)], [1, 2, 3])

    def test_many_subscribers_over_both_workers_receive_the_same_stream(self):
        clients = [H.subscribed(self, self.h.http, ["fan"]) for _ in range(6)]
        for i in range(20):
            self.push.send({"ch": "fan", "data": {"i": i}})
        for client in clients:
            got = [e.json for e in client.wait_events(20)]
            self.assertEqual([e["seq"] for e in got], list(range(1, 21)))
            self.assertEqual([e["data"]["i"] for e in got], list(range(20)))

    def test_heartbeat_comment_arrives_while_idle(self):
        client = H.subscribed(self, self.h.http, ["idle"])
        client.wait_for(lambda c: len(c.comments) >= 3, 3.0, "3 heartbeat comments")
        times = [t for t, _ in client.comments[:3]]
        gaps = [b - a for a, b in zip(times, times[1:])]
        for gap in gaps:        # 200 ms, checked by a 250 ms sweep
            self.assertTrue(0.1 <= gap <= 0.8, gaps)
        self.assertEqual(client.events, [])

    def test_heartbeat_keeps_coming_after_events(self):
        client = H.subscribed(self, self.h.http, ["busy"])
        self.push.send({"ch": "busy", "data": 1})
        client.wait_events(1)
        seen = len(client.comments)
        client.wait_for(lambda c: len(c.comments) >= seen + 2, 3.0, "heartbeats after an event")


    def test_msgpack_values_render_as_the_documented_json(self):
        client = H.subscribed(self, self.h.http, ["types"])
        head = b"\x82" + msgpack.packb("ch") + msgpack.packb("types") + msgpack.packb("data")
        cases = [  # (data as MessagePack bytes, expected JSON value)
            (msgpack.packb(b"\x00\x01\xffbin", use_bin_type=True), "AAH/Ymlu"),  # base64
            (msgpack.packb(msgpack.ExtType(5, b"abc")), "YWJj"),
            (msgpack.packb({1: "i", 2.5: "f", None: "n", (1, 2): "a"}),
             {"1": "i", "2.5": "f", "null": "n", "[1,2]": "a"}),
            (msgpack.packb(float("nan")), None), (msgpack.packb(float("inf")), None),
            (msgpack.packb(float("-inf")), None),
            (msgpack.packb(2 ** 64 - 1), 2 ** 64 - 1), (msgpack.packb(-2 ** 63), -2 ** 63),
            (msgpack.packb(0.1), 0.1), (msgpack.packb(1.5e300), 1.5e300),
            (b"\xca\x3f\xc0\x00\x00", 1.5),                     # float32
            (b"\xa4a\xff\xfeb", "a\ufffd\ufffdb"),              # invalid UTF-8
            (msgpack.packb(""), ""), (msgpack.packb({}), {}), (msgpack.packb([]), []),
        ]
        for data, _ in cases:
            self.push.send_raw(head + data)
        events = client.wait_events(len(cases))
        for (data, expected), ev in zip(cases, events):
            with self.subTest(data=data):
                self.assertEqual(ev.json["data"], expected)

    def test_concurrent_publishers_get_contiguous_seq_without_loss(self):
        client = H.subscribed(self, self.h.http, ["race"])
        pushers = [H.pusher(self, self.h.pull) for _ in range(4)]

        def run(n, sock):
            for i in range(250):
                sock.send({"ch": "race", "data": [n, i]})
        threads = [threading.Thread(target=run, args=(n, s)) for n, s in enumerate(pushers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        got = [e.json for e in client.wait_events(1000, timeout=20)]
        self.assertEqual([e["seq"] for e in got], list(range(1, 1001)))
        for n in range(4):      # each publisher's events keep their order
            self.assertEqual([e["data"][1] for e in got if e["data"][0] == n], list(range(250)))

    def test_event_near_the_size_limit_is_delivered_intact(self):
        client = H.subscribed(self, self.h.http, ["big"])
        text = "".join(chr(0x41 + i % 26) for i in range(60000)) + "é" * 2000
        self.push.send({"ch": "big", "data": text})
        self.push.send({"ch": "big", "data": "after"})
        big, after = client.wait_events(2)
        self.assertEqual(big.json["data"], text)
        self.assertEqual(after.json["seq"], 2)


if __name__ == "__main__":
    unittest.main()
