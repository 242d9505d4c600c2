"""WebSocket herald.v1 (GET /v1/ws): handshake and subprotocols, welcome,
sub/unsub, events from PUSH, DEALER and HTTP, pub with its idempotency key,
MessagePack data passed through byte for byte, ping/pong, batches, resume
with e/s, resets, and the errors that keep the connection
(docs/protocol.md, WebSocket)."""
import base64
import threading
import time
import unittest

import msgpack

import harness as h
import wsclient as w

EPOCH = h.EPOCH_RE
EV_KEYS = {"t", "ch", "e", "s", "ts", "data"}


def wait_sequenced(herald, n):
    h.wait_until(lambda: h.metric(herald.http, "herald_broker_events_total") >= n, 10,
                 "%d events sequenced" % n)


class Handshake(unittest.TestCase):
    def setUp(self):
        self.herald = h.start(self, "run")
        self.base = self.herald.http

    def test_upgrade_is_101_with_the_accept_key_and_json_by_default(self):
        c = w.raw(self, self.base)
        self.assertEqual(c.status, 101, c.answer)
        self.assertEqual(c.headers.get("upgrade", "").lower(), "websocket")
        self.assertIn("upgrade", c.headers.get("connection", "").lower())
        self.assertEqual(c.headers.get("sec-websocket-accept"), w.accept_key(c.key))
        self.assertNotIn("sec-websocket-protocol", c.headers)    # none offered: none named
        welcome = c.welcome()
        payload, _ = c.frames[0]
        self.assertIsInstance(payload, str)                      # a text frame: JSON
        self.assertEqual(welcome["t"], "welcome")
        self.assertFalse(c.server_masked)

    def test_each_subprotocol_is_chosen_when_offered(self):
        for offered, chosen in (([w.JSON], w.JSON), ([w.MSGPACK], w.MSGPACK),
                                (["chat.example", w.MSGPACK], w.MSGPACK),
                                (["chat.example", w.JSON], w.JSON)):
            with self.subTest(offered=offered):
                c = w.raw(self, self.base, protocols=offered)
                self.assertEqual(c.status, 101, c.answer)
                self.assertEqual(c.subprotocol, chosen)
                self.assertEqual(c.headers.get("sec-websocket-accept"), w.accept_key(c.key))
                self.assertEqual(c.welcome()["v"], 1)
                payload, _ = c.frames[0]
                self.assertIsInstance(payload, bytes if chosen == w.MSGPACK else str)
        # an independent implementation agrees
        self.assertEqual(w.welcomed(self, self.base, [w.MSGPACK]).subprotocol, w.MSGPACK)
        self.assertEqual(w.welcomed(self, self.base, [w.JSON]).subprotocol, w.JSON)
        self.assertIsNone(w.welcomed(self, self.base).subprotocol)

    def assert_refused(self, answer, status, code):
        self.assertEqual(answer.status, status, answer)
        self.assertIn("application/json", answer.headers.get("content-type", ""))
        self.assertEqual(answer.json["error"], code, answer)
        self.assertIsInstance(answer.json["message"], str)
        self.assertNotIn("sec-websocket-accept", answer.headers)

    def test_only_unknown_subprotocols_is_400_with_a_json_body(self):
        a = w.handshake(self.base, protocols=["chat.example", "herald.v2.json"])
        self.assert_refused(a, 400, "bad_request")

    def test_missing_or_malformed_key_is_400_json(self):
        for key in (None, "", "c2hvcnQ=", base64.b64encode(b"x" * 15).decode(),
                    base64.b64encode(b"x" * 17).decode(), "not base64 at all!!!!!=="):
            with self.subTest(key=key):
                self.assert_refused(w.handshake(self.base, key=key), 400, "bad_request")

    def test_version_8_is_426_naming_version_13(self):
        a = w.handshake(self.base, version="8")
        self.assert_refused(a, 426, "upgrade_required")
        self.assertEqual(a.headers.get("sec-websocket-version"), "13")
        self.assert_refused(w.handshake(self.base, version=None), 400, "bad_request")

    def test_a_plain_get_or_another_method_is_refused(self):
        self.assert_refused(w.handshake(self.base, upgrade=False, key=None, version=None),
                            400, "bad_request")
        self.assert_refused(w.handshake(self.base, upgrade=False), 400, "bad_request")
        self.assert_refused(w.handshake(self.base, upgrade=False, headers={
            "Upgrade": "websocket", "Connection": "keep-alive"}), 400, "bad_request")
        self.assert_refused(w.handshake(self.base, method="POST",
                                        headers={"Content-Length": "0"}),
                            405, "method_not_allowed")

    def test_the_query_string_is_ignored_and_header_tokens_are_case_blind(self):
        c = w.raw(self, self.base, path="/v1/ws?channel=x&lastEventId=y")
        self.assertEqual(c.status, 101, c.answer)
        c.welcome()
        c = w.raw(self, self.base, upgrade=False, headers={
            "Upgrade": "WebSocket", "Connection": "keep-alive, UPGRADE"})
        self.assertEqual(c.status, 101, c.answer)
        c.welcome()

    def test_origin_default_allows_no_origin_and_the_gateways_own(self):
        own = "http://" + w.host_of(self.base)
        port = int(self.base.rsplit(":", 1)[1])
        for origin, status in ((None, 101), (own, 101),
                               ("http://127.0.0.1:%d" % (port + 1 if port < 65535 else 1), 403),
                               ("https://evil.example", 403), ("null", 403)):
            with self.subTest(origin=origin):
                a = w.handshake(self.base, origin=origin)
                if status == 403:
                    self.assert_refused(a, 403, "forbidden")
                self.assertEqual(a.status, status, a)
        # the browser-like client too
        self.assertEqual(w.welcomed(self, self.base, origin=own).welcome()["t"], "welcome")

    def test_ws_origins_list_and_star(self):
        listed = h.start(self, "run", "--ws-origins", "https://app.example,http://b.example:8080")
        own = "http://" + w.host_of(listed.http)
        for origin, status in (("https://app.example", 101), ("http://b.example:8080", 101),
                               (own, 101), (None, 101), ("https://evil.example", 403),
                               ("https://app.example.evil", 403), ("http://b.example", 403),
                               ("http://b.example:8081", 403)):
            with self.subTest(origin=origin):
                self.assertEqual(w.handshake(listed.http, origin=origin).status, status)
        star = h.start(self, "run", "--ws-origins", "*")
        self.assertEqual(w.handshake(star.http, origin="https://anything.example").status, 101)


class Session(unittest.TestCase):
    def setUp(self):
        self.herald = h.start(self, "run")
        self.base = self.herald.http
        self.push = h.pusher(self, self.herald.pull)

    def assert_ev(self, ev, ch, s, epoch=None):
        self.assertEqual(set(ev) - {"type"}, EV_KEYS, ev)
        self.assertEqual((ev["t"], ev["ch"], ev["s"]), ("ev", ch, s), ev)
        self.assertRegex(ev["e"], EPOCH)
        if epoch:
            self.assertEqual(ev["e"], epoch)

    # ---- welcome

    def test_welcome_is_first_with_its_fields(self):
        other = h.start(self, "run", "--ws-heartbeat", "2s", "--ws-max-message", "1000")
        sids = set()
        for protocols in (None, [w.MSGPACK]):
            for base, hb, top in ((self.base, 25, 65536), (other.http, 2, 1000)):
                c = w.connect(self, base, protocols)
                welcome = c.welcome()
                self.assertIs(c.messages[0], welcome)
                self.assertEqual(set(welcome), {"t", "v", "sid", "hb", "max", "auth"}, welcome)
                self.assertEqual((welcome["v"], welcome["hb"], welcome["max"], welcome["auth"]),
                                 (1, hb, top, "none"))
                self.assertIsInstance(welcome["sid"], str)
                self.assertTrue(welcome["sid"])
                sids.add(welcome["sid"])
        self.assertEqual(len(sids), 4, "sid is not unique per connection")

    # ---- sub, events, unsub

    def test_sub_is_answered_ok_then_live_events_have_contiguous_s(self):
        c = w.welcomed(self, self.base)
        ok = c.subscribe("orders")
        self.assertEqual(ok, {"t": "ok", "id": ok["id"], "ch": "orders", "e": None, "s": 0})
        sent = [{"ch": "orders", "data": {"n": 1, "nested": {"a": [1, 2.5, None]}},
                 "type": "created"},
                {"ch": "orders", "data": "text é 日本"}, {"ch": "orders", "data": None},
                {"ch": "orders", "data": [1, -2, 2 ** 40, True], "type": "x"}]
        before = int(time.time() * 1000)
        for frame in sent:
            self.push.send(frame)
        evs = c.wait_events("orders", 4)
        after = int(time.time() * 1000)
        epoch = evs[0]["e"]
        for i, (frame, ev) in enumerate(zip(sent, evs)):
            self.assert_ev(ev, "orders", i + 1, epoch)
            self.assertEqual(ev["data"], frame["data"])
            self.assertEqual(ev.get("type"), frame.get("type"))
            self.assertTrue(before - 5 <= ev["ts"] <= after + 5, (before, ev["ts"], after))
        self.assertLess(c.index_of(ok), c.index_of(evs[0]))

    def test_sub_to_a_channel_with_history_is_ok_at_its_head_then_live(self):
        first = w.welcomed(self, self.base)
        first.subscribe("hist")
        for i in range(3):
            self.push.send({"ch": "hist", "data": i})
        epoch = first.wait_events("hist", 3)[0]["e"]
        c = w.welcomed(self, self.base)
        ok = c.subscribe("hist")
        self.assertEqual((ok["e"], ok["s"]), (epoch, 3))
        self.push.send({"ch": "hist", "data": 3})
        self.assertEqual([e["s"] for e in c.wait_events("hist", 1)], [4])
        first.wait_events("hist", 4)
        self.assertEqual([e["s"] for e in c.events("hist")], [4])

    def test_push_dealer_and_http_publishes_all_arrive_as_ev(self):
        c = w.welcomed(self, self.base)
        c.subscribe("mixed")
        self.push.send({"ch": "mixed", "data": "push", "type": "p"})
        c.wait_events("mixed", 1)
        dealer = h.dealer(self, self.herald.router)
        reply = dealer.request({"ch": "mixed", "data": "dealer", "rid": 1})
        self.assertEqual(reply["seq"], 2)
        c.wait_events("mixed", 2)
        r = h.publish(self.base, {"channel": "mixed", "data": {"via": "http"}, "type": "h"})
        self.assertEqual(r.status, 200, r)
        evs = c.wait_events("mixed", 3)
        self.assertEqual([(e["s"], e["data"], e.get("type")) for e in evs],
                         [(1, "push", "p"), (2, "dealer", None), (3, {"via": "http"}, "h")])
        self.assertEqual(evs[2]["e"], r.json["epoch"])

    def test_unsub_is_ok_and_stops_that_channel_only(self):
        c = w.welcomed(self, self.base)
        c.subscribe("gone")
        c.subscribe("kept")
        self.push.send({"ch": "gone", "data": 1})
        c.wait_events("gone", 1)
        rid = c.new_id()
        ok = c.request({"t": "unsub", "id": rid, "ch": "gone"})
        self.assertEqual(ok, {"t": "ok", "id": rid})
        after = c.index_of(ok)
        self.push.send({"ch": "gone", "data": 2})
        self.push.send({"ch": "kept", "data": 1})
        c.wait_events("kept", 1)
        self.assertEqual(c.find(lambda m: m.get("t") == "ev" and m["ch"] == "gone", after), None)
        again = c.subscribe("gone")                 # live again from the head
        self.assertEqual(again["s"], 2)
        self.push.send({"ch": "gone", "data": 3})
        self.assertEqual([e["s"] for e in c.wait_events("gone", 2)], [1, 3])

    def test_sub_twice_changes_nothing_and_unsub_of_an_unknown_channel_is_ok(self):
        c = w.welcomed(self, self.base)
        c.subscribe("twice")
        self.push.send({"ch": "twice", "data": 1})
        c.wait_events("twice", 1)
        again = c.subscribe("twice")
        self.assertEqual(again["s"], 1)
        self.push.send({"ch": "twice", "data": 2})
        self.push.send({"ch": "marker", "data": 0})
        c.subscribe("marker")
        self.push.send({"ch": "marker", "data": 1})
        c.wait_events("marker", 1)
        self.assertEqual([e["s"] for e in c.wait_events("twice", 2)], [1, 2])
        self.assertEqual(len(c.events("twice")), 2)
        rid = c.new_id()
        self.assertEqual(c.request({"t": "unsub", "id": rid, "ch": "never"}),
                         {"t": "ok", "id": rid})

    def test_json_and_msgpack_clients_receive_the_same_events(self):
        j = w.welcomed(self, self.base, [w.JSON])
        m = w.welcomed(self, self.base, [w.MSGPACK])
        j.subscribe("both")
        m.subscribe("both")
        data = {"a": [1, 2.5, "x", None, False], "b": {"c": -7}}
        for i in range(5):
            self.push.send({"ch": "both", "data": dict(data, i=i), "type": "t%d" % i})
        je, me = j.wait_events("both", 5), m.wait_events("both", 5)
        self.assertEqual(je, me)
        for payload, _ in m.frames:
            self.assertIsInstance(payload, bytes)
        for payload, _ in j.frames:
            self.assertIsInstance(payload, str)

    # ---- pub

    def test_pub_is_acknowledged_idempotent_with_key_and_delivered_to_its_sender(self):
        c = w.welcomed(self, self.base)
        c.subscribe("p")
        rid = c.new_id()
        ok = c.request({"t": "pub", "id": rid, "ch": "p", "data": {"x": 1}, "type": "made",
                        "key": "k-1"})
        self.assertEqual(set(ok), {"t", "id", "e", "s", "dup"}, ok)
        self.assertEqual((ok["t"], ok["id"], ok["s"], ok["dup"]), ("ok", rid, 1, False))
        self.assertRegex(ok["e"], EPOCH)
        again = c.request({"t": "pub", "ch": "p", "data": {"x": 1}, "type": "made",
                           "key": "k-1"})
        self.assertEqual((again["t"], again["e"], again["s"], again["dup"]),
                         ("ok", ok["e"], 1, True))
        plain = c.request({"t": "pub", "ch": "p", "data": [2]})
        self.assertEqual((plain["s"], plain["dup"]), (2, False))
        evs = c.wait_events("p", 2)
        self.assertEqual([(e["s"], e["data"], e.get("type")) for e in evs],
                         [(1, {"x": 1}, "made"), (2, [2], None)])
        self.assertEqual(len(c.events("p")), 2)
        # a second connection's publish reaches the first, acknowledged alike
        other = w.welcomed(self, self.base, [w.MSGPACK])
        third = other.request({"t": "pub", "ch": "p", "data": {"n": [1, -2, 2 ** 40, 1.5]}})
        self.assertEqual((third["t"], third["s"], third["dup"]), ("ok", 3, False))
        self.assertEqual(c.wait_events("p", 3)[2]["data"], {"n": [1, -2, 2 ** 40, 1.5]})
        self.assertEqual(h.metric(self.base, "herald_broker_events_total"), 3)

    def test_pub_to_a_bad_channel_is_err_and_the_connection_stays(self):
        c = w.welcomed(self, self.base)
        for ch in ("bad channel", "", "a|b", "x" * 129):
            with self.subTest(ch=ch):
                err = c.request({"t": "pub", "ch": ch, "data": 1})
                self.assertEqual((err["t"], err["code"], err["retry"]),
                                 ("err", "bad_request", False), err)
                self.assertIsInstance(err["msg"], str)
        self.assertEqual(c.request({"t": "ping"})["t"], "pong")

    def test_pub_data_nests_at_most_32_levels(self):
        for protocols in (None, [w.MSGPACK]):
            c = w.welcomed(self, self.base, protocols)
            for depth, ok in ((32, True), (33, False)):
                data = 1
                for _ in range(depth):
                    data = [data] if depth % 2 else {"k": data}
                reply = c.request({"t": "pub", "ch": "deep", "data": data})
                self.assertEqual(reply["t"], "ok" if ok else "err", reply)
                if not ok:
                    self.assertEqual((reply["code"], reply["retry"]), ("bad_request", False))

    # ---- MessagePack

    def test_msgpack_ev_data_is_the_publishers_bytes(self):
        m = w.welcomed(self, self.base, [w.MSGPACK])
        j = w.welcomed(self, self.base, [w.JSON])
        m.subscribe("raw")
        j.subscribe("raw")
        # non-minimal ints, a float32 and nesting: re-encoding would change them
        data = (b"\x86" + msgpack.packb("i8") + b"\xd0\x05" + msgpack.packb("u16") +
                b"\xcd\x00\x07" + msgpack.packb("f32") + b"\xca\x3f\xc0\x00\x00" +
                msgpack.packb("f64") + msgpack.packb(0.1) + msgpack.packb("neg") +
                b"\xd3" + (-3).to_bytes(8, "big", signed=True) + msgpack.packb("nested") +
                msgpack.packb({"list": [1, 2.5, None, True, "é"], "big": 2 ** 64 - 1}))
        binary = msgpack.packb([b"\x00\xffbin", msgpack.ExtType(5, b"abc")], use_bin_type=True)
        head = b"\x83" + msgpack.packb("ch") + msgpack.packb("raw") + \
            msgpack.packb("type") + msgpack.packb("typed") + msgpack.packb("data")
        self.push.send_raw(head + data)
        self.push.send_raw(head + binary)
        m.wait_events("raw", 2)             # before the HTTP one, which takes another path
        r = h.publish(self.base, {"channel": "raw", "data": {"a": [1, -2.5, "x", None]}})
        self.assertEqual(r.status, 200, r)
        m.wait_events("raw", 3)
        frames = m.frames_of("ev")[:2]
        self.assertEqual([w.msgpack_field(f, "data") for f in frames], [data, binary])
        self.assertEqual(w.msgpack_field(frames[0], "t"), msgpack.packb("ev"))
        first = m.events("raw")[0]
        self.assertEqual(first["type"], "typed")
        # over HTTP: the MessagePack the gateway made of the JSON
        self.assertEqual(m.events("raw")[2]["data"], {"a": [1, -2.5, "x", None]})
        # the JSON encoding renders bin and ext as base64 (protocol.md §5)
        self.assertEqual(j.wait_events("raw", 2)[1]["data"],
                         [base64.b64encode(b"\x00\xffbin").decode(), "YWJj"])
        self.assertEqual(j.wait_events("raw", 1)[0]["data"],
                         {"i8": 5, "u16": 7, "f32": 1.5, "f64": 0.1, "neg": -3,
                          "nested": {"list": [1, 2.5, None, True, "é"], "big": 2 ** 64 - 1}})

    def test_msgpack_pub_data_is_passed_through_unchanged(self):
        m = w.welcomed(self, self.base, [w.MSGPACK])
        m.subscribe("mpub")
        data = b"\x82" + msgpack.packb("a") + b"\xcd\x00\x01" + msgpack.packb("f") + \
            b"\xca\x40\x20\x00\x00"
        frame = b"\x84" + msgpack.packb("t") + msgpack.packb("pub") + msgpack.packb("id") + \
            msgpack.packb(77) + msgpack.packb("ch") + msgpack.packb("mpub") + \
            msgpack.packb("data") + data
        m.send_raw(frame)
        ok = m.reply(77)
        self.assertEqual((ok["t"], ok["s"], ok["dup"]), ("ok", 1, False))
        m.wait_events("mpub", 1)
        ev_frame = m.frames_of("ev")[0]
        self.assertEqual(w.msgpack_field(ev_frame, "data"), data)

    # ---- ping / pong

    def test_ping_is_answered_pong_with_and_without_id_and_pong_gets_nothing(self):
        for protocols in (None, [w.MSGPACK]):
            c = w.welcomed(self, self.base, protocols)
            self.assertEqual(c.request({"t": "ping", "id": 7}), {"t": "pong", "id": 7})
            start = len(c.messages)
            c.send({"t": "ping"})
            self.assertEqual(c.wait_message(lambda m: m.get("t") == "pong", start=start),
                             {"t": "pong"})
            start = len(c.messages)
            c.send({"t": "pong"})
            c.send({"t": "pong", "id": 3})
            c.request({"t": "ping", "id": 8})
            self.assertEqual(c.messages[start:], [{"t": "pong", "id": 8}])
            c.ping_frame(b"protocol-level")         # a pong frame comes back
            c.ping_frame(b"")
            self.assertFalse(c.ended)

    # ---- batches

    def test_a_batch_is_answered_in_order(self):
        for protocols in (None, [w.MSGPACK]):
            c = w.welcomed(self, self.base, protocols)
            suffix = "-m" if protocols else "-j"
            batch = [{"t": "sub", "id": 1, "ch": "b1" + suffix},
                     {"t": "sub", "id": 2, "ch": "b2" + suffix},
                     {"t": "ping", "id": 3}, {"t": "bogus", "id": 4},
                     {"t": "pub", "id": 5, "ch": "b1" + suffix, "data": "one"},
                     {"t": "pub", "id": 6, "ch": "b1" + suffix, "data": "two"},
                     {"t": "unsub", "id": 7, "ch": "b2" + suffix}]
            start = len(c.messages)
            c.send(batch)
            c.wait_for(lambda cl: cl.find(lambda m: m.get("id") == 7, start) is not None,
                       5, "the batch's replies")
            replies = [m for m in c.messages[start:] if m.get("t") in ("ok", "err", "pong")]
            self.assertEqual([(m["id"], m["t"]) for m in replies],
                             [(1, "ok"), (2, "ok"), (3, "pong"), (4, "err"), (5, "ok"),
                              (6, "ok"), (7, "ok")])
            self.assertEqual((replies[4]["s"], replies[5]["s"]), (1, 2))
            evs = c.wait_events("b1" + suffix, 2)
            self.assertEqual([e["data"] for e in evs], ["one", "two"])

    def test_replies_keep_request_order_when_the_first_waits_on_the_broker(self):
        first = self.first_session("backlog", 30)
        for protocols in (None, [w.MSGPACK]):
            c = w.welcomed(self, self.base, protocols)
            start = len(c.messages)
            c.send([{"t": "pub", "id": 1, "ch": "order", "data": 1},
                    {"t": "ping", "id": 2},
                    {"t": "sub", "id": 3, "ch": "backlog", "e": first, "s": 0},
                    {"t": "pub", "id": 4, "ch": "order", "data": 2, "key": "k"},
                    {"t": "unsub", "id": 5, "ch": "backlog"},
                    {"t": "ping", "id": 6}])
            c.reply(6, start=start)
            replies = [m for m in c.messages[start:] if m.get("t") in ("ok", "err", "pong")]
            self.assertEqual([(m["id"], m["t"]) for m in replies],
                             [(1, "ok"), (2, "pong"), (3, "ok"), (4, "ok"), (5, "ok"),
                              (6, "pong")])
            # the replay follows its ok, and nothing of the channel follows the unsub
            evs = [i for i in range(start, len(c.messages)) if c.messages[i].get("t") == "ev"
                   and c.messages[i]["ch"] == "backlog"]
            sub_ok, unsub_ok = c.index_of(replies[2]), c.index_of(replies[4])
            self.assertTrue(all(sub_ok < i < unsub_ok for i in evs), (sub_ok, evs, unsub_ok))
            self.assertEqual([c.messages[i]["s"] for i in evs], list(range(1, len(evs) + 1)))
            c.request({"t": "ping"})
            self.push.send({"ch": "backlog", "data": "later"})
            self.push.send({"ch": "order", "data": "marker"})
            c.subscribe("order")
            self.push.send({"ch": "order", "data": "after"})
            c.wait_message(lambda m: m.get("t") == "ev" and m["data"] == "after",
                           message="the marker event")
            self.assertEqual(c.find(lambda m: m.get("t") == "ev" and m["ch"] == "backlog",
                                    unsub_ok + 1), None)

    def test_an_empty_batch_is_bad_request_and_over_64_is_limit_with_none_handled(self):
        herald = h.start(self, "run", "--ws-max-rate", "1000")    # 130 messages a second
        for protocols in (None, [w.MSGPACK]):
            c = w.welcomed(self, herald.http, protocols)
            start = len(c.messages)
            c.send([])
            err = c.wait_message(lambda m: m.get("t") == "err", start=start)
            self.assertEqual((err["code"], err["retry"]), ("bad_request", False))
            start = len(c.messages)
            c.send([{"t": "pub", "id": i, "ch": "over", "data": i} for i in range(65)])
            err = c.wait_message(lambda m: m.get("t") == "err", start=start)
            self.assertEqual((err["code"], err["retry"]), ("limit", False))
            self.assertNotIn("id", err)
            c.send([{"t": "ping", "id": i} for i in range(64)])       # 64 is fine
            c.reply(63)
            self.assertEqual(c.of_type("ok"), [])
            self.assertFalse(c.ended)
        self.assertEqual(h.metric(herald.http, "herald_broker_events_total"), 0)

    # ---- resume

    def first_session(self, ch, n):
        """Subscribes, receives n events, disconnects; returns the epoch."""
        c = w.welcomed(self, self.base)
        c.subscribe(ch)
        for i in range(n):
            self.push.send({"ch": ch, "data": i})
        epoch = c.wait_events(ch, n)[0]["e"]
        c.close()
        return epoch

    def test_resume_replays_exactly_the_missed_events_then_live(self):
        epoch = self.first_session("r", 3)
        for i in range(3, 8):
            self.push.send({"ch": "r", "data": i})
        wait_sequenced(self.herald, 8)
        for protocols in (None, [w.MSGPACK]):
            c = w.welcomed(self, self.base, protocols)
            ok = c.subscribe("r", e=epoch, s=3)
            self.assertEqual((ok["ch"], ok["e"], ok["s"]), ("r", epoch, 8))
            evs = c.wait_events("r", 5)
            self.assertEqual([(e["s"], e["data"]) for e in evs], [(s, s - 1) for s in range(4, 9)])
            self.assertLess(c.index_of(ok), c.index_of(evs[0]))
            self.assertEqual(c.of_type("reset"), [])
        self.push.send({"ch": "r", "data": 8})
        self.assertEqual([e["s"] for e in c.wait_events("r", 6)], list(range(4, 10)))

    def test_resume_at_the_head_replays_nothing(self):
        epoch = self.first_session("at-head", 2)
        c = w.welcomed(self, self.base)
        self.assertEqual(c.subscribe("at-head", e=epoch, s=2)["s"], 2)
        self.push.send({"ch": "at-head", "data": "live"})
        self.assertEqual([e["s"] for e in c.wait_events("at-head", 1)], [3])
        self.assertEqual(c.of_type("reset"), [])

    def test_resume_from_an_empty_channels_position_gets_everything(self):
        c = w.welcomed(self, self.base)
        ok = c.subscribe("empty")
        self.assertEqual((ok["e"], ok["s"]), (None, 0))
        c.close()
        for i in range(3):
            self.push.send({"ch": "empty", "data": i})
        wait_sequenced(self.herald, 3)
        again = w.welcomed(self, self.base)
        again.subscribe("empty", e=ok["e"], s=ok["s"])      # what the server said
        self.assertEqual([e["s"] for e in again.wait_events("empty", 3)], [1, 2, 3])
        self.assertEqual(again.of_type("reset"), [])

    def test_resume_during_a_burst_loses_and_repeats_nothing(self):
        total = 400
        c = w.welcomed(self, self.base)
        c.subscribe("burst")
        done = threading.Event()

        def publish():
            for i in range(total):
                self.push.send({"ch": "burst", "data": i})
                if i % 20 == 19:
                    h.wait_until(lambda: h.metric(self.base, "herald_broker_events_total")
                                 >= i - 40, 10, "the broker to keep up")
            done.set()
        thread = threading.Thread(target=publish, daemon=True)
        thread.start()
        seen = []
        for round in range(4):
            c.wait_for(lambda cl: len(cl.events("burst")) >= 20 or done.is_set(), 20,
                       "events of the burst")
            c.close()
            seen += c.events("burst")
            last = seen[-1] if seen else None
            c = w.welcomed(self, self.base)
            if last:
                c.subscribe("burst", e=last["e"], s=last["s"])
            else:
                c.subscribe("burst", e=None, s=0)
        thread.join(30)
        self.assertTrue(done.is_set())
        c.wait_for(lambda cl: (cl.events("burst") or seen)[-1]["s"] == total, 30,
                   "the end of the burst")
        seen += c.events("burst")
        self.assertEqual([e["s"] for e in seen], list(range(1, total + 1)))
        self.assertEqual([e["data"] for e in seen], list(range(total)))

    def test_resume_of_several_channels_in_one_batch(self):
        epochs = {ch: self.first_session(ch, 2) for ch in ("m1", "m2")}
        for ch in ("m1", "m2"):
            self.push.send({"ch": ch, "data": "missed"})
        wait_sequenced(self.herald, 6)
        c = w.welcomed(self, self.base, [w.MSGPACK])
        c.send([{"t": "sub", "id": 1, "ch": "m1", "e": epochs["m1"], "s": 1},
                {"t": "sub", "id": 2, "ch": "m2", "e": epochs["m2"], "s": 2}])
        self.assertEqual(c.reply(1)["s"], 3)
        self.assertEqual(c.reply(2)["s"], 3)
        self.assertEqual([e["s"] for e in c.wait_events("m1", 2)], [2, 3])
        self.assertEqual([e["s"] for e in c.wait_events("m2", 1)], [3])

    # ---- resets

    def assert_reset_then_live(self, c, ok, ch, e, s, why):
        self.assertEqual((ok["e"], ok["s"]), (e, s))
        reset = c.wait_message(lambda m: m.get("t") == "reset" and m["ch"] == ch,
                               message="the reset")
        self.assertEqual(reset, {"t": "reset", "ch": ch, "e": e, "s": s, "why": why})
        self.assertLess(c.index_of(ok), c.index_of(reset))
        self.push.send({"ch": ch, "data": "live"})
        ev = c.wait_events(ch, 1)[0]
        self.assertEqual(ev["s"], s + 1)
        self.assertLess(c.index_of(reset), c.index_of(ev))
        self.assertEqual(len(c.of_type("reset", ch)), 1)

    def test_unknown_epoch_is_ok_then_reset_then_live(self):
        epoch = self.first_session("ep", 3)
        c = w.welcomed(self, self.base)
        ok = c.subscribe("ep", e="feedfacefeedface", s=2)
        self.assert_reset_then_live(c, ok, "ep", epoch, 3, "epoch-changed")

    def test_epoch_for_a_channel_without_history_resets_unknown_channel(self):
        c = w.welcomed(self, self.base)
        ok = c.subscribe("ghost", e="0123456789abcdef", s=5)
        self.assert_reset_then_live(c, ok, "ghost", None, 0, "unknown-channel")

    def test_position_ahead_of_the_broker_resets(self):
        epoch = self.first_session("ahead", 3)
        c = w.welcomed(self, self.base, [w.MSGPACK])
        ok = c.subscribe("ahead", e=epoch, s=1000)
        self.assert_reset_then_live(c, ok, "ahead", epoch, 3, "cursor-ahead")

    def test_expired_history_resets(self):
        self.herald = h.start(self, "run", "--history-size", "10", "--recent-events", "0")
        self.base = self.herald.http
        self.push = h.pusher(self, self.herald.pull)
        epoch = self.first_session("count", 2)
        for i in range(30):                        # seqs 3..32; only 23..32 kept
            self.push.send({"ch": "count", "data": i})
        wait_sequenced(self.herald, 32)
        c = w.welcomed(self, self.base)
        ok = c.subscribe("count", e=epoch, s=2)
        self.assert_reset_then_live(c, ok, "count", epoch, 32, "expired")
        self.assertEqual([e["s"] for e in c.events("count")], [33])

    # ---- errors that keep the connection

    def test_auth_and_refresh_are_bad_request_while_tokens_do_not_exist(self):
        c = w.welcomed(self, self.base)
        for t in ("auth", "refresh"):
            rid = c.new_id()
            err = c.request({"t": t, "id": rid, "token": "eyJhbGciOiJIUzI1NiJ9.e30.x"})
            self.assertEqual((err["t"], err["id"], err["code"], err["retry"]),
                             ("err", rid, "bad_request", False), err)
            self.assertLessEqual(set(err), {"t", "id", "code", "msg", "retry"})
        self.assertEqual(c.request({"t": "ping"})["t"], "pong")

    def test_unknown_or_malformed_messages_are_err_and_the_connection_stays(self):
        for protocols in (None, [w.MSGPACK]):
            c = w.welcomed(self, self.base, protocols)
            for msg in ({"t": "nope", "id": 9}, {"id": 10}, {"t": 5, "id": 11},
                        {"t": "sub", "id": 12}, {"t": "sub", "id": 13, "ch": "bad name!"},
                        {"t": "sub", "id": 14, "ch": "ok", "s": "x"},
                        {"t": "sub", "id": 15, "ch": "ok", "e": "feedfacefeedface"},
                        {"t": "sub", "id": 16, "ch": "ok", "s": 3},
                        {"t": "sub", "id": 17, "ch": "ok", "e": "", "s": 3},
                        {"t": "sub", "id": 18, "ch": "ok", "e": "x" * 33, "s": 3},
                        {"t": "sub", "id": 19, "ch": "ok", "e": "feedfacefeedface", "s": -1},
                        {"t": "sub", "id": 25, "ch": "ok", "e": None, "s": 10},   # no epoch, seq 10?
                        {"t": "unsub", "id": 20}, {"t": "pub", "id": 21, "ch": "ok"},
                        {"t": "pub", "id": 22, "ch": "ok", "data": 1, "type": ""},
                        {"t": "pub", "id": 23, "ch": "ok", "data": 1, "key": ""},
                        {"t": "pub", "id": 24, "ch": "ok", "data": 1, "key": "k" * 129},
                        {"t": "sub", "ch": "no-id"}, {"t": "sub", "id": -1, "ch": "ok"},
                        {"t": "sub", "id": 2 ** 32, "ch": "ok"}, {"t": "sub", "id": "1", "ch": "ok"},
                        42, "just a string", None, [5]):
                with self.subTest(protocols=protocols, msg=msg):
                    start = len(c.messages)
                    c.send(msg)
                    err = c.wait_message(lambda m: m.get("t") in ("ok", "err", "pong"),
                                         start=start, message="the err")
                    self.assertEqual(err["t"], "err", err)
                    self.assertEqual((err["t"], err["code"], err["retry"]),
                                     ("err", "bad_request", False), err)
                    valid_id = isinstance(msg, dict) and type(msg.get("id")) is int \
                        and 0 <= msg["id"] < 2 ** 32
                    if valid_id:
                        self.assertEqual(err["id"], msg["id"])
                    elif not isinstance(msg, list):
                        self.assertNotIn("id", err)
            c.subscribe("after-errors")
            self.push.send({"ch": "after-errors", "data": 1})
            c.wait_events("after-errors", 1)
            self.assertFalse(c.ended)


class SplitMode(unittest.TestCase):
    def test_a_broker_restart_resets_a_live_subscription_before_the_new_epoch(self):
        pull, router, xpub = (h.unused_endpoint() for _ in range(3))
        args = ["--pull", pull, "--router", router, "--xpub", xpub]
        broker = h.Herald("broker", args)
        self.addCleanup(broker.kill)
        gateway = h.start(self, "gateway", "--broker", "%s,%s" % (xpub, router))
        h.wait_broker_linked(gateway)
        push = h.pusher(self, pull)
        live = w.welcomed(self, gateway.http, [w.MSGPACK])
        live.subscribe("restart")
        push.send({"ch": "restart", "data": 1})
        first = live.wait_events("restart", 1)[0]
        broker.stop()
        broker = h.Herald("broker", args)          # history is gone: a new epoch
        self.addCleanup(broker.kill)
        self.addCleanup(broker.stop)
        push.send({"ch": "restart", "data": 2})
        reset = live.wait_message(lambda m: m.get("t") == "reset", 10, message="the reset")
        self.assertEqual((reset["ch"], reset["why"]), ("restart", "epoch-changed"))
        push.send({"ch": "restart", "data": 3})
        live.wait_for(lambda c: any(e["data"] == 3 for e in c.events("restart")), 10,
                      "the event after the reset")
        after = live.events("restart")[1:]
        self.assertLess(live.index_of(reset), live.index_of(after[0]))
        self.assertEqual([e["s"] for e in after],
                         list(range(reset["s"] + 1, reset["s"] + 1 + len(after))))
        self.assertTrue(all(e["e"] != first["e"] for e in after), after)
        if reset["e"]:
            self.assertEqual({e["e"] for e in after}, {reset["e"]})
        self.assertEqual(len(live.of_type("reset")), 1)
        # a client resuming from the old epoch is told so
        c = w.welcomed(self, gateway.http)
        ok = c.subscribe("restart", e=first["e"], s=1)
        reset = c.wait_message(lambda m: m.get("t") == "reset", message="the resume's reset")
        self.assertEqual((reset["why"], reset["e"], reset["s"]),
                         ("epoch-changed", after[-1]["e"], after[-1]["s"]))
        self.assertEqual((ok["e"], ok["s"]), (after[-1]["e"], after[-1]["s"]))


    def test_pub_without_a_broker_is_err_unavailable_with_retry(self):
        pull, router, xpub = (h.unused_endpoint() for _ in range(3))
        broker = h.start(self, "broker", "--pull", pull, "--router", router, "--xpub", xpub)
        gateway = h.start(self, "gateway", "--broker", "%s,%s" % (xpub, router),
                          "--broker-timeout", "500ms")
        h.wait_broker_linked(gateway)
        c = w.welcomed(self, gateway.http)
        self.assertEqual(c.request({"t": "pub", "ch": "u", "data": 1, "key": "k"})["s"], 1)
        broker.stop()
        err = c.request({"t": "pub", "ch": "u", "data": 2, "key": "k2"}, timeout=10)
        self.assertEqual((err["t"], err["code"], err["retry"]), ("err", "unavailable", True), err)
        self.assertFalse(c.ended)
        self.assertEqual(c.request({"t": "ping"})["t"], "pong")


if __name__ == "__main__":
    unittest.main()
