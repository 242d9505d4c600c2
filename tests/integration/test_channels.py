"""Channel routing: each SSE connection receives exactly the channels it
asked for (docs/protocol.md §1, §4, §5)."""
import unittest

import harness as H


class Channels(unittest.TestCase):
    def setUp(self):
        self.h = H.start(self, "run")
        self.push = H.pusher(self, self.h.pull)

    def send(self, ch, data):
        self.push.send({"ch": ch, "data": data})

    def test_clients_on_different_channels_receive_only_their_own(self):
        red = H.subscribed(self, self.h.http, ["red"])
        blue = H.subscribed(self, self.h.http, ["blue"])
        for i in range(3):
            self.send("red", "r%d" % i)
            self.send("blue", "b%d" % i)
        self.send("red", "end")
        self.send("blue", "end")
        red_got = [e.json for e in red.wait_events(4)]
        blue_got = [e.json for e in blue.wait_events(4)]
        self.assertEqual([e["data"] for e in red_got], ["r0", "r1", "r2", "end"])
        self.assertEqual([e["data"] for e in blue_got], ["b0", "b1", "b2", "end"])
        self.assertEqual({e["channel"] for e in red_got}, {"red"})
        self.assertEqual({e["channel"] for e in blue_got}, {"blue"})
        self.assertEqual([e["seq"] for e in red_got], [1, 2, 3, 4])
        self.assertEqual(len(red.events), 4)
        self.assertEqual(len(blue.events), 4)

    def test_one_client_on_two_channels_receives_both_in_publish_order(self):
        both = H.subscribed(self, self.h.http, ["alpha", "beta"])
        order = [("alpha", 1), ("beta", 1), ("beta", 2), ("alpha", 2), ("gamma", 1),
                 ("beta", 3)]
        for ch, n in order:
            self.send(ch, n)
        got = [(e.json["channel"], e.json["seq"]) for e in both.wait_events(5)]
        self.assertEqual(got, [o for o in order if o[0] != "gamma"])
        # the cursor names both channels, in sorted order, at their last seq
        last = both.events[-1]
        cursor = H.decode_cursor(last.id)
        self.assertEqual(cursor["channel_hash"], H.channel_set_hash(["alpha", "beta"]))
        epochs = {e.json["channel"]: e.json["epoch"] for e in both.events}
        self.assertEqual(cursor["positions"], [(epochs["alpha"], 2), (epochs["beta"], 3)])

    def test_seller_1_subscriber_never_sees_seller_12_events(self):
        one = H.subscribed(self, self.h.http, ["seller:1"])
        twelve = H.subscribed(self, self.h.http, ["seller:12"])
        prefix = H.subscribed(self, self.h.http, ["seller:"])
        for i in range(3):
            self.send("seller:12", i)
            self.send("seller:1x", i)
        self.send("seller:1", "mine")
        # the stream is ordered: a leak would arrive before "mine"
        self.assertEqual([e.json["data"] for e in one.wait_events(1)], ["mine"])
        self.assertEqual([e.json["channel"] for e in one.events], ["seller:1"])
        self.assertEqual([e.json["data"] for e in twelve.wait_events(3)], [0, 1, 2])
        self.send("seller:", "prefix")
        self.assertEqual([e.json["data"] for e in prefix.wait_events(1)], ["prefix"])
        self.assertEqual(len(prefix.events), 1)
        self.assertEqual(len(one.events), 1)

    def test_duplicate_channel_parameters_deliver_each_event_once(self):
        client = H.subscribed(self, self.h.http, ["dup", "dup", "dup"])
        self.assertEqual(H.decode_cursor(client.positions[0])["channel_hash"],
                         H.channel_set_hash(["dup"]))
        self.send("dup", 1)
        self.send("dup", 2)
        self.assertEqual([e.json["seq"] for e in client.wait_events(2)], [1, 2])
        self.send("other", 0)
        self.send("dup", 3)
        client.wait_events(3)
        self.assertEqual([e.json["seq"] for e in client.events], [1, 2, 3])

    def test_every_allowed_character_and_128_byte_names_work(self):
        names = ["Org_1.team:a@b/c-d", "x" * 128, "Z"]
        client = H.subscribed(self, self.h.http, names)
        for name in names:
            self.send(name, name)
        got = [e.json for e in client.wait_events(3)]
        self.assertEqual([e["channel"] for e in got], names)
        self.assertEqual([e["data"] for e in got], names)

    def test_channel_names_are_case_sensitive(self):
        lower = H.subscribed(self, self.h.http, ["case"])
        upper = H.subscribed(self, self.h.http, ["CASE"])
        self.send("CASE", "upper")
        self.send("case", "lower")
        self.assertEqual([e.json["data"] for e in lower.wait_events(1)], ["lower"])
        self.assertEqual([e.json["data"] for e in upper.wait_events(1)], ["upper"])
        self.assertEqual(len(lower.events), 1)

    def test_closed_client_is_dropped_and_another_on_its_channel_is_undisturbed(self):
        h = H.start(self, "run", "--heartbeat", "200ms")     # writes reveal the close
        push = H.pusher(self, h.pull)
        stays = H.subscribed(self, h.http, ["shared"])
        leaves = H.subscribed(self, h.http, ["shared"])
        push.send({"ch": "shared", "data": 1})
        leaves.wait_events(1)
        self.assertEqual(H.metric(h.http, "herald_connections"), 2)
        leaves.close()
        push.send({"ch": "shared", "data": 2})
        self.assertEqual([e.json["seq"] for e in stays.wait_events(2)], [1, 2])
        H.wait_until(lambda: H.metric(h.http, "herald_connections") == 1, 5,
                     "the closed connection to be dropped")
        push.send({"ch": "shared", "data": 3})
        self.assertEqual([e.json["seq"] for e in stays.wait_events(3)], [1, 2, 3])

if __name__ == "__main__":
    unittest.main()
