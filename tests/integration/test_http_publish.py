"""HTTP POST /v1/publish and acknowledged publishing over ROUTER
(docs/protocol.md §3.1, §8)."""
import http.client
import json
import subprocess
import time
import unittest

import msgpack
import zmq

import harness as H


class HttpPublish(unittest.TestCase):
    def setUp(self):
        self.h = H.start(self, "run")

    def post(self, body):
        r = H.publish(self.h.http, body)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers["Content-Type"].startswith("application/json"), r.headers)
        return r.json

    def test_one_event_returns_channel_seq_epoch_duplicate(self):
        first = self.post({"channel": "orders", "data": {"id": 1}})
        self.assertEqual(set(first), {"channel", "seq", "epoch", "duplicate"})
        self.assertEqual(first["channel"], "orders")
        self.assertEqual(first["seq"], 1)
        self.assertIs(first["duplicate"], False)
        self.assertRegex(first["epoch"], H.EPOCH_RE)
        #  A single broker's generation: view 0 and its clock's ms (§4.1)
        generation = H.epoch_generation(first["epoch"])
        self.assertEqual(generation >> 40, 0)
        ms = generation & ((1 << 40) - 1)
        self.assertLess(abs(ms + H.EPOCH_CLOCK_BASE_MS - time.time() * 1000), 60000)
        second = self.post({"channel": "orders", "data": {"id": 2}, "type": "created"})
        self.assertEqual((second["seq"], second["epoch"]), (2, first["epoch"]))
        other = self.post({"channel": "other", "data": 0})
        self.assertEqual(other["seq"], 1)
        self.assertNotEqual(other["epoch"], first["epoch"])
        #  Made later by the same broker: a newer generation
        self.assertGreater(H.epoch_generation(other["epoch"]), generation)

    def test_array_returns_array_in_request_order(self):
        self.post({"channel": "b", "data": 0})
        results = self.post([{"channel": "a", "data": 1}, {"channel": "b", "data": 2},
                             {"channel": "a", "data": 3, "type": "t", "id": "x"}])
        self.assertIsInstance(results, list)
        self.assertEqual([(r["channel"], r["seq"], r["duplicate"]) for r in results],
                         [("a", 1, False), ("b", 2, False), ("a", 2, False)])
        self.assertEqual(len(self.post([{"channel": "one", "data": None}])), 1)

    def test_published_events_reach_sse_clients_intact(self):
        client = H.subscribed(self, self.h.http, ["web"])
        data = {"nested": {"list": [1, 2.5, "三", None, True]}, "emoji": "🚀"}
        ack = self.post({"channel": "web", "data": data, "type": "created", "id": "w-1"})
        self.post([{"channel": "web", "data": "second"}, {"channel": "web", "data": 3}])
        got = [e.json for e in client.wait_events(3)]
        self.assertEqual(got[0]["data"], data)
        self.assertEqual((got[0]["type"], got[0]["id"]), ("created", "w-1"))
        self.assertEqual((got[0]["seq"], got[0]["epoch"]), (ack["seq"], ack["epoch"]))
        self.assertEqual([e["data"] for e in got[1:]], ["second", 3])
        self.assertEqual([e["seq"] for e in got], [1, 2, 3])

    def test_repeated_id_returns_the_original_and_is_delivered_once(self):
        client = H.subscribed(self, self.h.http, ["idem"])
        event = {"channel": "idem", "data": {"n": 1}, "id": "order-9"}
        first = self.post(event)
        again = self.post(dict(event, data={"n": "changed"}))
        self.assertIs(first["duplicate"], False)
        self.assertIs(again["duplicate"], True)
        self.assertEqual((again["seq"], again["epoch"]), (first["seq"], first["epoch"]))
        other_channel = self.post({"channel": "idem2", "data": 0, "id": "order-9"})
        self.assertIs(other_channel["duplicate"], False)    # the key is (channel, id)
        self.assertEqual(self.post({"channel": "idem", "data": "next"})["seq"], 2)
        got = [e.json for e in client.wait_events(2)]
        self.assertEqual([(e["seq"], e["data"]) for e in got], [(1, {"n": 1}), (2, "next")])
        self.assertEqual(len(client.events), 2)
        self.assertEqual(H.metric(self.h.http, "herald_broker_duplicates_total"), 1)

    def test_repeated_id_over_push_is_dropped(self):
        client = H.subscribed(self, self.h.http, ["pushdup"])
        push = H.pusher(self, self.h.pull)
        for data in ("a", "b"):
            push.send({"ch": "pushdup", "data": data, "id": "same"})
        push.send({"ch": "pushdup", "data": "c"})
        got = [e.json for e in client.wait_events(2)]
        self.assertEqual([(e["seq"], e["data"]) for e in got], [(1, "a"), (2, "c")])
        self.assertEqual(len(client.events), 2)

    def test_dealer_publish_is_acknowledged_with_seq_epoch_and_rid(self):
        client = H.subscribed(self, self.h.http, ["ack"])
        dealer = H.dealer(self, self.h.router)
        reply = dealer.request({"ch": "ack", "data": {"x": 1}, "rid": 41})
        self.assertEqual(set(reply), {"rid", "seq", "epoch", "dup"})
        self.assertEqual((reply["rid"], reply["seq"], reply["dup"]), (41, 1, False))
        self.assertRegex(reply["epoch"], H.EPOCH_RE)
        reply = dealer.request({"op": "publish", "ch": "ack", "data": 2, "id": "k"})
        self.assertNotIn("rid", reply)
        self.assertEqual(reply["seq"], 2)
        dup = dealer.request({"ch": "ack", "data": 3, "id": "k", "rid": 2 ** 63})
        self.assertEqual((dup["rid"], dup["seq"], dup["epoch"], dup["dup"]),
                         (2 ** 63, 2, reply["epoch"], True))
        http = self.post({"channel": "ack", "data": 4})     # one sequence for all paths
        self.assertEqual(http["seq"], 3)
        got = [e.json for e in client.wait_events(3)]
        self.assertEqual([e["data"] for e in got], [{"x": 1}, 2, 4])

    def test_pipelined_dealer_requests_are_answered_in_order(self):
        dealer = H.dealer(self, self.h.router)
        for rid in range(1, 51):
            dealer.send({"ch": "pipe", "data": rid, "rid": rid})
        replies = [dealer.recv()[0] for _ in range(50)]
        self.assertEqual([r["rid"] for r in replies], list(range(1, 51)))
        self.assertEqual([r["seq"] for r in replies], list(range(1, 51)))

    def test_req_socket_publish_is_acknowledged(self):
        req = H.requester(self, self.h.router)
        first = req.request({"ch": "req", "data": "one", "rid": 7})
        self.assertEqual((first["rid"], first["seq"], first["dup"]), (7, 1, False))
        second = req.request({"ch": "req", "data": "two"})
        self.assertEqual((second["seq"], second["epoch"]), (2, first["epoch"]))

    def test_req_and_dealer_clients_share_the_router_without_mixing_replies(self):
        req = H.requester(self, self.h.router)
        dealer = H.dealer(self, self.h.router)
        dealer.send({"ch": "mix", "data": 0, "rid": 100})
        self.assertEqual(req.request({"ch": "mix", "data": 1, "rid": 200})["rid"], 200)
        self.assertEqual(dealer.recv()[0]["rid"], 100)

    def test_invalid_event_in_array_rejects_the_whole_request(self):
        r = H.publish(self.h.http, [{"channel": "whole", "data": 1},
                                    {"channel": "bad channel", "data": 2}])
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json["error"], "bad_channel")
        self.assertEqual(self.post({"channel": "whole", "data": 3})["seq"], 1)


    def test_keep_alive_connection_serves_several_requests(self):
        conn = http.client.HTTPConnection(self.h.http[len("http://"):], timeout=10)
        self.addCleanup(conn.close)
        answers = []
        for body in ({"channel": "ka", "data": 1}, "{bad", {"channel": "ka", "data": 2}):
            conn.request("POST", "/v1/publish", body=body if isinstance(body, str)
                         else json.dumps(body), headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            answers.append((r.status, json.loads(r.read()).get("seq")))
        conn.request("GET", "/healthz")
        answers.append((conn.getresponse().status, None))
        self.assertEqual(answers, [(200, 1), (400, None), (200, 2), (200, None)])

    def test_id_is_accepted_again_after_the_dedupe_window(self):
        h = H.start(self, "run", "--dedupe-window", "1s")
        event = {"channel": "win", "data": 1, "id": "again"}
        first = H.publish(h.http, event).json
        fresh = H.wait_until(lambda: (lambda j: not j["duplicate"] and j)(
            H.publish(h.http, event).json), 5, "the id to expire", interval=0.05)
        self.assertEqual((first["seq"], fresh["seq"]), (1, 2))

    def test_valid_json_edge_values_are_accepted_and_round_trip(self):
        client = H.subscribed(self, self.h.http, ["edge"])
        values = [-2 ** 63, 2 ** 63 - 1, "nul \u0000 inside", "😀 \u00e9",
                  1e300, -0.5, 0.1, {"": [[], {}]}, [True, False, None]]
        accepted = []
        for value in values:
            with self.subTest(value=value):
                r = H.publish(self.h.http, {"channel": "edge", "data": value})
                self.assertEqual(r.status, 200, r)     # RFC 8259 JSON, so not bad_json
                accepted.append(value)
        got = [e.json["data"] for e in client.wait_events(len(accepted))]
        self.assertEqual(got, accepted)
        self.assertIn('"data":0.1}', client.events[values.index(0.1)].data, "shortest float")

    def test_integers_beyond_int64_are_refused_with_the_documented_reason(self):
        # docs/protocol.md §8: JSON integers must fit in 64-bit signed
        r = H.publish(self.h.http, {"channel": "edge", "data": 2 ** 64 - 1})
        self.assertEqual((r.status, r.json["error"]), (400, "bad_json"))
        self.assertIn("too big integer", r.json["message"])



def nested(depth):
    """A JSON value nesting depth arrays: nested(1) == [0]."""
    value = 0
    for _ in range(depth):
        value = [value]
    return value


class HttpPublishTruth(unittest.TestCase):
    """issue 7 §2: every refusal is decided before anything is sent, with the
    exact code; an array the broker fails in part says what was published."""

    def head(self, base, channel):
        r = H.http("GET", base + "/v1/history?channel=" + channel)
        self.assertEqual(r.status, 200, r)
        return r.json["head"]

    def check_error(self, r, status, code):
        self.assertEqual((r.status, r.json.get("error")), (status, code), r)
        self.assertEqual(set(r.json), {"error", "message"}, r.json)

    def test_event_over_max_event_is_413_at_once(self):
        h = H.start(self, "run", "--max-event", "1K", "--broker-timeout", "10s")
        started = time.monotonic()
        r = H.publish(h.http, {"channel": "big", "data": "x" * 1100})
        self.check_error(r, 413, "frame_too_large")
        self.assertLess(time.monotonic() - started, 2.0, "answered by the gateway, not a timeout")
        # the precheck counts the frame as sent: just under the limit passes
        self.assertEqual(H.publish(h.http, {"channel": "big", "data": "x" * 900}).status, 200)
        self.assertEqual(self.head(h.http, "big"), 1)
        self.assertEqual(H.metric(h.http, 'herald_errors_total{code="frame_too_large"}'), 1)

    def test_gateway_max_event_flag_refuses_in_split_mode(self):
        _, gw = H.start_split(self, ("--max-event", "1K"),
                              ("--max-event", "1K", "--broker-timeout", "10s"))
        self.check_error(H.publish(gw.http, {"channel": "big", "data": "x" * 1100}),
                         413, "frame_too_large")

    def test_data_deeper_than_32_is_400_too_deep(self):
        h = H.start(self, "run")
        self.assertEqual(H.publish(h.http, {"channel": "deep", "data": nested(32)}).status, 200)
        self.check_error(H.publish(h.http, {"channel": "deep", "data": nested(33)}),
                         400, "too_deep")
        self.check_error(H.publish(h.http, {"channel": "deep", "data": {"a": nested(40)}}),
                         400, "too_deep")
        self.assertEqual(self.head(h.http, "deep"), 1)
        self.assertEqual(H.metric(h.http, 'herald_errors_total{code="too_deep"}'), 2)

    def test_array_is_all_or_nothing_before_sending(self):
        h = H.start(self, "run", "--max-event", "1K")
        ok = {"channel": "aon", "data": 1}
        for bad, status, code in (({"channel": "aon", "data": "x" * 1100}, 413, "frame_too_large"),
                                  ({"channel": "aon", "data": nested(33)}, 400, "too_deep"),
                                  ({"channel": "a\u0000b", "data": 1}, 400, "bad_channel"),
                                  ({"channel": "aon", "data": 1, "type": ""}, 400, "bad_field")):
            with self.subTest(code=code):
                r = H.publish(h.http, [ok, ok, bad])
                self.check_error(r, status, code)
                self.assertIn("event 2", r.json["message"])
        self.assertEqual(self.head(h.http, "aon"), 0, "nothing was published")

    def test_array_failed_in_part_by_the_broker_is_207_per_event(self):
        # a gateway that believes in a larger --max-event than its broker's:
        # the broker refuses the middle event after the others were sent
        _, gw = H.start_split(self, ("--max-event", "1K"),
                              ("--max-event", "64K", "--broker-timeout", "2s"))
        r = H.publish(gw.http, [{"channel": "part", "data": 1},
                                {"channel": "part", "data": "x" * 2000},
                                {"channel": "part", "data": 3}])
        self.assertEqual(r.status, 207, r)
        first, middle, last = r.json
        self.assertEqual(set(first), {"channel", "seq", "epoch", "duplicate"})
        self.assertEqual((first["channel"], first["seq"], last["seq"]), ("part", 1, 2))
        self.assertEqual(first["epoch"], last["epoch"])
        self.assertEqual(set(middle), {"channel", "error", "message"})
        self.assertEqual((middle["channel"], middle["error"]), ("part", "frame_too_large"))
        self.assertEqual(self.head(gw.http, "part"), 2)
        # one event is never 207: its own error
        r = H.publish(gw.http, {"channel": "part", "data": "x" * 2000})
        self.check_error(r, 413, "frame_too_large")
        r = H.publish(gw.http, [{"channel": "part", "data": 4}])
        self.assertEqual((r.status, r.json[0]["seq"]), (200, 3))

    def test_channel_limit_refusal_carries_the_brokers_reason(self):
        # `overloaded` alone reads as the gateway's connection limit (§9): the
        # client must hear that it is the broker's --max-channels
        h = H.start(self, "run", "--max-channels", "1")
        self.assertEqual(H.publish(h.http, {"channel": "kept", "data": 1}).status, 200)
        r = H.publish(h.http, {"channel": "new", "data": 2})
        self.check_error(r, 503, "overloaded")
        self.assertIn("--max-channels", r.json["message"])
        r = H.publish(h.http, [{"channel": "kept", "data": 3}, {"channel": "new", "data": 4}])
        self.assertEqual(r.status, 207, r)
        self.assertEqual(r.json[1]["error"], "overloaded")
        self.assertIn("--max-channels", r.json[1]["message"])


class CliPublish(unittest.TestCase):
    """`herald pub`: the depth bound, and an idempotency key by default."""

    def pub(self, *args):
        return subprocess.run([H.herald_binary(), "pub"] + list(args), capture_output=True,
                              text=True, timeout=20, stdin=subprocess.DEVNULL)

    def test_too_deep_data_is_refused_before_sending(self):
        h = H.start(self, "run")
        r = self.pub("deep", json.dumps(nested(33)), "--ack", "--router", h.router)
        self.assertEqual(r.returncode, 2, r)
        self.assertIn("deeper than 32", r.stderr)
        self.assertEqual(self.pub("deep", json.dumps(nested(32)), "--ack", "--router",
                                  h.router).returncode, 0)
        self.assertEqual(H.http("GET", h.http + "/v1/history?channel=deep").json["head"], 1)

    def test_every_event_carries_an_idempotency_key(self):
        h = H.start(self, "run")
        client = H.subscribed(self, h.http, ["keyed"])
        self.assertEqual(self.pub("keyed", "1", "--pull", h.pull).returncode, 0)
        self.assertEqual(self.pub("keyed", "2", "--ack", "--router", h.router).returncode, 0)
        ids = [e.json.get("id", "") for e in client.wait_events(2)]
        self.assertRegex(ids[0], r"^pub-[0-9a-f]{16}$")
        self.assertRegex(ids[1], r"^pub-[0-9a-f]{16}$")
        self.assertNotEqual(ids[0], ids[1])

    def test_ack_timeout_names_the_key_to_retry_with(self):
        router = H.ZMQ.socket(zmq.ROUTER)         # takes the publish, never answers
        self.addCleanup(router.close, 0)
        port = router.bind_to_random_port("tcp://127.0.0.1")
        r = self.pub("slow", "1", "--ack", "--timeout", "300ms",
                     "--router", "tcp://127.0.0.1:%d" % port)
        self.assertEqual(r.returncode, 1, r)
        self.assertTrue(router.poll(5000), "the publish reached the broker")
        sent = msgpack.unpackb(router.recv_multipart()[-1], raw=False)
        self.assertRegex(sent["id"], r"^pub-[0-9a-f]{16}$")
        self.assertIn("may still be published", r.stderr)
        self.assertIn("--id " + sent["id"], r.stderr)


if __name__ == "__main__":
    unittest.main()
